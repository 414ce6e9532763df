#!/usr/bin/env bash
# A mount by a user other than root: mount.smbquic run by the rig's unix user on a directory it
# owns mounts through fusermount3, works for that user only, and `fusermount3 -u` unmounts it
# and ends the helper. What fusermount3 would refuse (allow_other without user_allow_other,
# noexec) and an unusable /dev/fuse are refused up front with one clear line.
# When /dev/fuse is not open to everyone (as in some containers), the namespace gets its own
# world-usable node for the same device, bound over /dev/fuse in this namespace only.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs
command -v setpriv >/dev/null 2>&1 || skip "setpriv not installed (util-linux)"
command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 not installed (package fuse3)"

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share
# The user must reach the mount point (and, over QUIC, the test CA).
chmod 0755 "$TEST_TMP"
[ -d "$TEST_TMP/certs" ] && chmod -R a+rX "$TEST_TMP/certs"
chown "$SAMBA_USER:" "$M"
printf 'from the server\n' >"$SAMBA_SHARE_DIR/hello.txt"
as_share_owner "$SAMBA_SHARE_DIR"
uid=$(id -u "$SAMBA_USER")

# as_user CMD...: run CMD as the rig's unix user, with its password in PASSWD (sets RC, OUT, ERR).
as_user() {
    PASSWD=$SAMBA_PASSWORD run setpriv --reuid="$SAMBA_USER" --regid="$SAMBA_USER" \
        --init-groups env USER="$SAMBA_USER" HOME=/ "$@"
}

if ! setpriv --reuid="$SAMBA_USER" --regid="$SAMBA_USER" --init-groups test -r /dev/fuse -a -w /dev/fuse; then
    as_user "$MOUNT_SMBQUIC" "$UNC" "$M" -o "$(opts)"
    expect_failure 32 "mount.smbquic: mount failed: cannot open /dev/fuse: Permission denied" \
        "/dev/fuse not usable by the user: refused before connecting"
    expect_no_mount "$M" "/dev/fuse not usable"
    if ! mkdir "$TEST_TMP/dev" || ! mount -t tmpfs -o mode=0755 tmpfs "$TEST_TMP/dev"; then
        die "tmpfs for a /dev/fuse node"
    fi
    rig_cleanup_add "umount -l '$TEST_TMP/dev' 2>/dev/null || true"
    mknod -m 0666 "$TEST_TMP/dev/fuse" c 10 229 || skip "cannot make a /dev/fuse node"
    mount --bind "$TEST_TMP/dev/fuse" /dev/fuse || die "bind /dev/fuse"
    rig_cleanup_add "umount /dev/fuse 2>/dev/null || true"
fi

as_user "$MOUNT_SMBQUIC" "$UNC" "$M" -o "$(opts)"
expect_ok "the user mounts on a directory it owns"
line=$(mount_line "$M")
expect_true "mounted through fusermount3: nosuid,nodev, user_id=$uid ($line)" \
    grep -qE "^$UNC fuse\.smbquic rw,nosuid,nodev,.*user_id=$uid," <<<"$line"
pid=$(daemon_pid "$M")
expect_true "the helper runs as the user (pid '$pid')" \
    test -n "$pid" -a "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$uid"
as_user cat "$M/hello.txt"
expect_eq "$RC:$OUT" "0:from the server" "the user reads a file"
as_user sh -c "printf 'from the user\n' >'$M/by-user.txt'"
expect_ok "the user writes a file"
expect_eq "$(cat "$SAMBA_SHARE_DIR/by-user.txt" 2>/dev/null)" "from the user" "the server has it"
run ls "$M"
expect_true "without allow_other even root cannot use the user's mount (exit $RC: $ERR)" \
    grep -q "Permission denied" <<<"$ERR"
as_user fusermount3 -u "$M"
expect_ok "fusermount3 -u by the user"
expect_true "the helper (pid '$pid') exits after the unmount" wait_daemon_gone "$pid"
expect_no_mount "$M" "after fusermount3 -u"

# A mount point the user may not write to: fusermount3 refuses, and its reason is in the line.
mkdir "$TEST_TMP/root-owned"
as_user "$MOUNT_SMBQUIC" "$UNC" "$TEST_TMP/root-owned" -o "$(opts)"
expect_failure_match 32 '^mount\.smbquic: mount failed: .*\(fusermount3: user has no write access to mountpoint .+\)$' \
    "a mount point the user cannot write to: fusermount3's reason is shown"
expect_no_mount "$TEST_TMP/root-owned" "fusermount3 refused"

if grep -qE '^[[:space:]]*user_allow_other' /etc/fuse.conf 2>/dev/null; then
    echo "# /etc/fuse.conf has user_allow_other: allow_other is allowed for users here"
else
    as_user "$MOUNT_SMBQUIC" "$UNC" "$M" -o "$(opts allow_other)"
    expect_failure 1 "mount.smbquic: options failed: allow_other needs 'user_allow_other' in /etc/fuse.conf when the mount is not made by root" \
        "allow_other without user_allow_other"
    expect_no_mount "$M" "allow_other refused"
fi

as_user "$MOUNT_SMBQUIC" "$UNC" "$M" -o "$(opts noexec)"
expect_failure 1 "mount.smbquic: options failed: noexec needs root (mounts by other users are made by fusermount3, which does not set it)" \
    "noexec by a user"
expect_no_mount "$M" "noexec refused"

test_done
