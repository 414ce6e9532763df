#!/usr/bin/env bash
# mount.smbquic failures: a bad option, a wrong password, an unreachable server, a missing
# share, a missing mount point and a credentials file others can read each exit non-zero with
# one line naming the stage (mount(8)'s statuses: 1 usage or permissions, 32 mount failure),
# directly and through mount(8), and leave nothing mounted and no process behind. The password
# given as password= (or in PASSWD) is not in the helper's /proc/PID/cmdline or environ while
# it is connecting. None of this needs the filesystem: every failure happens before mounting.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share

# ---- incorrect invocation: exit 1 ----------------------------------------------------------

mq "$UNC" "$M" -o "$(opts "frobnicate=1")"
expect_failure 1 "mount.smbquic: options failed: unknown option 'frobnicate'" "unknown option"
expect_no_mount "$M" "unknown option"

run mount -t smbquic "$UNC" "$M" -o "$(opts "frobnicate")"
expect_failure 1 "mount.smbquic: options failed: unknown option 'frobnicate'" \
    "unknown option through mount -t smbquic (mount passes the helper's status on)"
expect_no_mount "$M" "unknown option through mount(8)"

mq "$UNC" "$M" -o "$(opts "cache=sometimes")"
expect_failure 1 "mount.smbquic: options failed: bad cache 'sometimes' (strict, loose or none)" \
    "bad option value"

mq "$UNC" "$M" -o "$(opts "sync")"
expect_failure 1 "mount.smbquic: options failed: option 'sync' is not supported (cache=none writes through)" \
    "sync is refused, not ignored"

mq "$UNC" "$M" -q
expect_failure 1 "mount.smbquic: unknown flag '-q'" "unknown flag"

mq "$UNC"
expect_failure 1 "mount.smbquic: usage: mount.smbquic //SERVER/SHARE DIR [-sfnvF] [-o OPTIONS]" \
    "no mount point"

mq //127.0.0.1 "$M" -o "$(opts)"
expect_failure 1 "mount.smbquic: options failed: no share name in '//127.0.0.1' (expected //SERVER/SHARE)" \
    "no share in SPEC"

mq "$UNC/sub/dir" "$M" -o "$(opts)"
expect_failure_match 1 "^mount\.smbquic: options failed: '$UNC/sub/dir': mounting a directory inside a share is not supported" \
    "path inside the share"

# -s (sloppy): unknown options are skipped with a warning; -f (fake): nothing is mounted.
mq "$UNC" "$M" -s -f -o "$(opts "frobnicate")"
expect_rc 0 "-s skips an unknown option, -f mounts nothing"
expect_eq "$ERR" "mount.smbquic: ignoring unknown option 'frobnicate' (-s)" "-s warns"
expect_no_mount "$M" "-f (fake)"
run mount -f -t smbquic "$UNC" "$M" -o "$(opts)"
expect_rc 0 "mount -f (fake) through mount(8)"
expect_no_mount "$M" "mount -f"

# ---- credentials file others can read: exit 1 (permissions) --------------------------------

creds=$TEST_TMP/creds
printf 'username=%s\npassword=%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$creds"
chmod 0644 "$creds"
NO_PASSWD=1 mq "$UNC" "$M" -o "$(copts "credentials=$creds")"
expect_failure 1 "mount.smbquic: options failed: credentials file $creds is readable or writable by group or others (mode 0644); chmod 600 it" \
    "credentials file with mode 0644"
expect_no_mount "$M" "credentials file with mode 0644"

chmod 0640 "$creds"
printf '%s %s smbquic %s 0 0\n' "$UNC" "$M" "$(copts "credentials=$creds,_netdev,nofail,x-systemd.automount")" \
    >"$TEST_TMP/fstab"
run env -u PASSWD mount -a -T "$TEST_TMP/fstab"
# mount -a: 32 when every mount failed (mount(8), RETURN CODES).
expect_rc 32 "mount -a with a credentials file of mode 0640"
expect_true "mount -a: the helper's message is shown" \
    grep -qF "mount.smbquic: options failed: credentials file $creds is readable or writable by group or others (mode 0640); chmod 600 it" \
    "$TEST_TMP/err"
expect_no_mount "$M" "mount -a with a credentials file of mode 0640"
chmod 0600 "$creds"

# ---- mount failures: exit 32 ---------------------------------------------------------------

PASSWD_OVERRIDE=not-the-password mq "$UNC" "$M" -o "$(opts)"
expect_failure 32 "mount.smbquic: session setup failed: STATUS_LOGON_FAILURE (wrong user name or password)" \
    "wrong password"
expect_no_mount "$M" "wrong password"

printf 'username=%s\npassword=wrong-%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$TEST_TMP/badcreds"
chmod 0600 "$TEST_TMP/badcreds"
NO_PASSWD=1 run mount -t smbquic "$UNC" "$M" -o "$(copts "credentials=$TEST_TMP/badcreds")"
expect_failure 32 "mount.smbquic: session setup failed: STATUS_LOGON_FAILURE (wrong user name or password)" \
    "wrong password in a credentials file, through mount(8)"
expect_no_mount "$M" "wrong password through mount(8)"

mq //127.0.0.1/no-such-share "$M" -o "$(opts)"
expect_failure 32 "mount.smbquic: tree connect failed: STATUS_BAD_NETWORK_NAME (no such share)" \
    "missing share"
expect_no_mount "$M" "missing share"

if quic_mode; then
    port=$(free_udp_port)
    mq "$UNC" "$M" -o "port=$port,transport=quic,servername=$CERTS_SERVER_NAME,cafile=$CERT_CA,username=$SAMBA_USER"
    expect_failure_match 32 '^mount\.smbquic: udp failed: .+$' "unreachable server (nothing on the UDP port)"
else
    port=$(_rig_random_port)
    mq "$UNC" "$M" -o "port=$port,transport=tcp,username=$SAMBA_USER"
    expect_failure_match 32 '^mount\.smbquic: connect failed: .+$' "unreachable server (connection refused)"
fi
expect_no_mount "$M" "unreachable server"

mq //no-such-host.invalid/share "$M" -o "$(opts)"
expect_failure_match 32 '^mount\.smbquic: name resolution failed: .+$' "unknown host name"

mq "$UNC" "$TEST_TMP/no-such-dir" -o "$(opts)"
expect_failure 32 "mount.smbquic: mount point failed: $TEST_TMP/no-such-dir: No such file or directory" \
    "missing mount point"

# ---- the password is not visible while the helper connects ---------------------------------
# A server that accepts the TCP connection and never answers keeps the helper in NEGOTIATE:
# meanwhile its command line and environment are read.

pwfile=$TEST_TMP/pw-pattern
secret="Sq$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf '%s\n' "$secret" >"$pwfile"
python3 - "$TEST_TMP/silent.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(8)
open(sys.argv[1], 'w').write(str(s.getsockname()[1]))
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)  # keep it open, answer nothing
PY
silent_pid=$!
rig_cleanup_add "kill $silent_pid 2>/dev/null || true"
wait_for_file "$TEST_TMP/silent.port" || die "the silent UDP server did not start"
silent_port=$(cat "$TEST_TMP/silent.port")

# password= in -o, also hidden from mount(8)'s way of calling the helper (separate -o).
env -u SAMBA_PASSWORD PASSWD="also-$secret" "$MOUNT_SMBQUIC" "$UNC" "$M" -o "rw,password=$secret,transport=tcp,port=$silent_port,username=$SAMBA_USER,uid=0" \
    </dev/null >"$TEST_TMP/hung.out" 2>&1 &
hung=$!
sleep 1
if [ -r "/proc/$hung/cmdline" ]; then
    cmdline=$(tr '\0' ' ' <"/proc/$hung/cmdline")
    expect_true "the helper is still connecting (pid $hung)" kill -0 "$hung"
    if grep -qFf "$pwfile" "/proc/$hung/cmdline"; then
        _fail "password= is not in /proc/$hung/cmdline" "cmdline: $cmdline"
    else
        _pass "password= is not in /proc/$hung/cmdline ($cmdline)"
    fi
    expect_true "the other options are still shown" grep -q "transport=tcp,port=$silent_port" <<<"$cmdline"
    if grep -qFf "$pwfile" "/proc/$hung/environ"; then
        _fail "PASSWD is not in /proc/$hung/environ"
    else
        _pass "PASSWD is not in /proc/$hung/environ"
    fi
    if cmdline_has "$pwfile"; then
        _fail "the password is in no /proc/*/cmdline"
    else
        _pass "the password is in no /proc/*/cmdline"
    fi
else
    _fail "the helper is still connecting after 1 s" "$(cat "$TEST_TMP/hung.out")"
fi
kill -TERM "$hung" 2>/dev/null # (background jobs of a script ignore SIGINT)
wait "$hung"
expect_eq "$?" 143 "SIGTERM while connecting ends the helper at once"
expect_no_mount "$M" "interrupted while connecting"

test_done
