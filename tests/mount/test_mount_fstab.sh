#!/usr/bin/env bash
# Mounting for real: an fstab line (credentials=, _netdev, nofail, x-systemd.automount) mounted
# with `mount -a -T FILE` and with `mount DIR`, `mount -t smbquic`, the helper itself, and -F
# (foreground); `ls` and file round trips through the mount; umount and SIGTERM end the helper;
# password= never in any /proc/*/cmdline while mounted; ro, noexec, uid/gid/file_mode/dir_mode.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share
creds=$TEST_TMP/creds
(umask 077 && printf 'username=%s\npassword=%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$creds")
fstab=$TEST_TMP/fstab
printf '# smbquic test fstab\n%s %s smbquic %s 0 0\n' "$UNC" "$M" \
    "$(copts "credentials=$creds,_netdev,nofail,x-systemd.automount")" >"$fstab"

make_random "$SAMBA_SHARE_DIR/from-server.bin" 3M
printf 'hello from the server\n' >"$SAMBA_SHARE_DIR/hello.txt"
mkdir "$SAMBA_SHARE_DIR/dir"
as_share_owner "$SAMBA_SHARE_DIR"

# check_mounted DESC: the mount on $M is ours, and usable.
check_mounted() {
    local desc=$1 line pid
    expect_eq "$(mount_count "$M")" 1 "$desc: one mount on $M"
    line=$(mount_line "$M")
    expect_true "$desc: /proc/self/mountinfo shows '$UNC fuse.smbquic' ($line)" \
        grep -q "^$UNC fuse\.smbquic " <<<"$line"
    pid=$(daemon_pid "$M")
    expect_true "$desc: a mount.smbquic process serves it (pid '$pid')" test -n "$pid"
    run ls "$M"
    expect_ok "$desc: ls"
    expect_eq "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ')" \
        "$(find "$SAMBA_SHARE_DIR" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tr '\n' ' ')" \
        "$desc: ls lists what the share holds"
}

# round_trip DESC: a file written through the mount lands on the server intact and reads back.
round_trip() {
    local desc=$1 name=rt-$RANDOM.bin
    make_random "$TEST_TMP/$name" 5M
    run cp "$TEST_TMP/$name" "$M/$name"
    expect_ok "$desc: cp into the mount"
    expect_eq "$(sha256 "$SAMBA_SHARE_DIR/$name" 2>/dev/null)" "$(sha256 "$TEST_TMP/$name")" \
        "$desc: the server holds the same bytes"
    expect_eq "$(sha256 "$M/$name")" "$(sha256 "$TEST_TMP/$name")" "$desc: read back the same"
    expect_eq "$(sha256 "$M/from-server.bin")" "$(sha256 "$SAMBA_SHARE_DIR/from-server.bin")" \
        "$desc: a file the server holds reads the same"
    expect_eq "$(cat "$M/hello.txt")" "hello from the server" "$desc: cat a small file"
    run rm "$M/$name"
    expect_ok "$desc: rm"
    expect_true "$desc: gone on the server" test ! -e "$SAMBA_SHARE_DIR/$name"
}

# unmount_and_check DESC [CMD...]: unmount (umount DIR by default); the helper exits.
unmount_and_check() {
    local desc=$1 pid
    shift
    pid=$(daemon_pid "$M")
    if [ $# -eq 0 ]; then
        set -- umount "$M"
    fi
    run "$@"
    expect_ok "$desc: $*"
    expect_true "$desc: the helper (pid '$pid') exits after the unmount" wait_daemon_gone "$pid"
    expect_no_mount "$M" "$desc: after the unmount"
}

# ---- mount -a -T FILE ----------------------------------------------------------------------
run env -u PASSWD mount -a -T "$fstab"
expect_ok "mount -a -T FSTAB (credentials=, _netdev, nofail, x-systemd.automount)"
check_mounted "mount -a"
round_trip "mount -a"
run env -u PASSWD mount -a -T "$fstab"
expect_ok "mount -a again"
expect_eq "$(mount_count "$M")" 1 "mount -a again does not mount twice"
unmount_and_check "mount -a"

# ---- mount DIR (with that fstab as /etc/fstab, in this mount namespace only) ---------------
if mount --bind "$fstab" /etc/fstab; then
    run env -u PASSWD mount "$M"
    expect_ok "mount DIR (fstab line)"
    check_mounted "mount DIR"
    round_trip "mount DIR"
    unmount_and_check "mount DIR"
    umount /etc/fstab
else
    _fail "bind-mount a test fstab over /etc/fstab in the private namespace"
fi

# ---- mount -t smbquic with password=: never in any /proc/*/cmdline -------------------------
pwfile=$TEST_TMP/pw-pattern
printf '%s\n' "$SAMBA_PASSWORD" >"$pwfile"
run env -u PASSWD mount -t smbquic "$UNC" "$M" -o "$(opts "password=$SAMBA_PASSWORD")"
expect_ok "mount -t smbquic -o password=..."
check_mounted "mount -t smbquic"
pid=$(daemon_pid "$M")
if cmdline_has "$pwfile"; then
    _fail "the password is in no /proc/*/cmdline while mounted" \
        "$(grep -lFf "$pwfile" /proc/[0-9]*/cmdline 2>/dev/null)"
else
    _pass "the password is in no /proc/*/cmdline while mounted"
fi
if [ -n "$pid" ]; then
    expect_true "the helper's command line keeps the other options" \
        grep -q "username=$SAMBA_USER" <(tr '\0' ' ' <"/proc/$pid/cmdline")
fi
unmount_and_check "mount -t smbquic"

# The helper run directly, password in PASSWD: not in its environment either; SIGTERM ends it.
mq "$UNC" "$M" -o "$(opts)"
expect_ok "mount.smbquic SPEC DIR -o OPTIONS (PASSWD)"
check_mounted "mount.smbquic"
pid=$(daemon_pid "$M")
if [ -n "$pid" ]; then
    if grep -qFf "$pwfile" "/proc/$pid/environ"; then
        _fail "PASSWD is not in the helper's /proc/$pid/environ"
    else
        _pass "PASSWD is not in the helper's /proc/$pid/environ"
    fi
    expect_true "the helper runs in a session of its own" \
        test "$(awk '{ print $6 }' "/proc/$pid/stat")" = "$pid"
    kill -TERM "$pid"
    expect_true "SIGTERM: the helper exits" wait_daemon_gone "$pid"
    expect_no_mount "$M" "SIGTERM unmounts"
fi

# ---- -F: foreground, logs to stderr, returns when unmounted --------------------------------
env -u SAMBA_PASSWORD PASSWD="$SAMBA_PASSWORD" "$MOUNT_SMBQUIC" "$UNC" "$M" -F -o "$(opts)" </dev/null \
    >"$TEST_TMP/fg.out" 2>"$TEST_TMP/fg.err" &
fg=$!
rig_cleanup_add "kill $fg 2>/dev/null || true"
wait_mounted "$M" "$fg"
check_mounted "-F (foreground)"
expect_eq "$(daemon_pid "$M")" "$fg" "-F: the process started serves the mount (no fork)"
run umount "$M"
expect_ok "-F: umount"
wait "$fg"
expect_eq "$?" 0 "-F: exits 0 once unmounted"
expect_true "-F: logged the connection on stderr" \
    grep -qE "^mount\.smbquic: connected to $UNC at .+ over $TRANSPORT_NAME: SMB 3\.1\.1, cipher " \
    "$TEST_TMP/fg.err"
expect_no_mount "$M" "-F after umount"
sed 's/^/# -F stderr: /' "$TEST_TMP/fg.err"

# ---- ro, noexec, uid/gid/file_mode/dir_mode ------------------------------------------------
mq "$UNC" "$M" -o "$(opts "ro,uid=1234,gid=2345,file_mode=0640,dir_mode=0750")"
expect_ok "mount with ro,uid=,gid=,file_mode=,dir_mode="
line=$(mount_line "$M")
expect_true "ro is a mount flag ($line)" grep -qE ' ro,' <<<"$line"
run touch "$M/new-file"
expect_true "ro: creating a file fails (exit $RC: $ERR)" grep -q "Read-only file system" <<<"$ERR"
expect_eq "$(stat -c '%u %g %a' "$M/hello.txt")" "1234 2345 640" "uid, gid and file_mode"
expect_eq "$(stat -c '%u %g %a' "$M/dir")" "1234 2345 750" "uid, gid and dir_mode"
unmount_and_check "ro"

printf '#!/bin/sh\necho ran\n' >"$SAMBA_SHARE_DIR/script.sh"
as_share_owner "$SAMBA_SHARE_DIR/script.sh"
mq "$UNC" "$M" -o "$(opts "file_mode=0755")"
expect_ok "mount with file_mode=0755"
run "$M/script.sh"
expect_eq "$RC:$OUT" "0:ran" "without noexec a script on the share runs"
unmount_and_check "exec"
# What mount(8) passes for a `user` fstab line: noexec,nosuid,nodev ... user.
mq "$UNC" "$M" -o "$(opts "rw,noexec,nosuid,nodev,file_mode=0755,user")"
expect_ok "mount with noexec (as for a 'user' fstab line)"
line=$(mount_line "$M")
expect_true "noexec is a mount flag ($line)" grep -qE ' rw,(.*,)?noexec' <<<"$line"
run "$M/script.sh"
expect_true "noexec: the script does not run (exit $RC: $ERR)" grep -q "Permission denied" <<<"$ERR"
unmount_and_check "noexec"

test_done
