#!/usr/bin/env bash
# Failures give the documented exit status and exactly one line naming the stage and status:
# wrong password, unknown user, unknown share, missing file, a full local disk, refused
# connection, usage errors, a server that refuses a put's CLOSE, and `seal` against a server
# with encryption turned off.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

# smbd with a fault: closing a written file named close-fails-* reports ENOSPC. meson passes
# the built object; by hand it is found beside the smbquic being tested (BUILD/src/cli).
: "${SMBD_CLOSE_FAILS:=$(dirname "$SMBQUIC")/../../tests/integration/smbd_close_fails.so}"
[ -f "$SMBD_CLOSE_FAILS" ] || die "no $SMBD_CLOSE_FAILS: build tests/rig/smbd_close_fails.c (ninja) or set SMBD_CLOSE_FAILS"
SAMBA_PRELOAD=$SMBD_CLOSE_FAILS samba_start default || die "samba_start default"

PASSWD_OVERRIDE=wrong-password smbq ls "$UNC" -o "$(opts)"
expect_failure 5 "smbquic: session setup failed: STATUS_LOGON_FAILURE (wrong user name or password)" \
    "wrong password"

smbq ls "$UNC" -o "$(copts username=nosuchuser)"
expect_failure 5 "smbquic: session setup failed: STATUS_LOGON_FAILURE (wrong user name or password)" \
    "unknown user is not let in as guest"

smbq ls //127.0.0.1/nosuchshare -o "$(opts)"
expect_failure 6 "smbquic: tree connect failed: STATUS_BAD_NETWORK_NAME (no such share)" \
    "unknown share"

smbq get "$UNC/missing.txt" "$TEST_TMP/missing.txt" -o "$(opts)"
expect_failure 1 "smbquic: open failed: STATUS_OBJECT_NAME_NOT_FOUND (no such file or directory)" \
    "get of a missing file"
expect_true "get of a missing file leaves no local file" test ! -e "$TEST_TMP/missing.txt"

# A local disk that fills up mid-download: the write's own error, not whatever errno the
# network calls after it (closing the remote file) left behind.
mkdir -p "$TEST_TMP/small"
mount -t tmpfs -o size=1m smbquic-test "$TEST_TMP/small" || die "cannot mount a 1 MiB tmpfs"
rig_cleanup_add "umount '$TEST_TMP/small' 2>/dev/null || true"
head -c $((4 * 1048576)) /dev/urandom >"$SAMBA_SHARE_DIR/four.bin"
smbq get "$UNC/four.bin" "$TEST_TMP/small/four.bin" -o "$(opts)"
expect_failure 1 "smbquic: get failed: cannot write $TEST_TMP/small/four.bin: No space left on device" \
    "get onto a full local disk"
umount "$TEST_TMP/small"

smbq stat "$UNC/missing.txt" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_NAME_NOT_FOUND \(.+\)$' \
    "stat of a missing file"

smbq rm "$UNC/missing.txt" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_NAME_NOT_FOUND \(.+\)$' \
    "rm of a missing file"

smbq ls "$UNC/no/such/dir" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_PATH_NOT_FOUND \(.+\)$' \
    "ls of a path whose parent is missing"

smbq put "$TEST_TMP/does-not-exist" "$UNC/x.txt" -o "$(opts)"
expect_true "put of a missing local file fails" test "$RC" -ne 0
expect_true "put of a missing local file creates nothing on the server" \
    test ! -e "$SAMBA_SHARE_DIR/x.txt"

# The server refuses the CLOSE (as a full quota can at close): the WRITEs all succeeded, but
# the put is done only when the server has committed the file, so it fails, naming the CLOSE.
head -c 3000000 /dev/urandom >"$TEST_TMP/close-fails.bin"
smbq put "$TEST_TMP/close-fails.bin" "$UNC/close-fails-put.bin" -o "$(opts)"
expect_failure 1 "smbquic: close failed: STATUS_DISK_FULL (disk full)" \
    "put whose CLOSE the server refuses"
smbq put "$TEST_TMP/close-fails.bin" "$UNC/close-ok-put.bin" -o "$(opts)"
expect_ok "the same put to another name succeeds (only that file's close fails)"
expect_true "... and arrives intact" cmp -s "$TEST_TMP/close-fails.bin" "$SAMBA_SHARE_DIR/close-ok-put.bin"

# Nothing listens on a closed port: could not connect (TCP refused; over QUIC the ICMP port
# unreachable of a closed UDP port).
if quic_mode; then
    closed=$(free_udp_port)
    smbq ls "$UNC" -o "port=$closed,transport=quic,servername=smb.test,cafile=$CERT_CA,username=$SAMBA_USER"
    expect_failure_match 3 '^smbquic: udp failed: .+$' "nothing listens on the UDP port"
    # A gateway whose SMB server is down: it ends the connection and names why; the message
    # gives its reason phrase and code, not a bare close.
    qgw_stop
    qgw_start "$(_rig_random_port)" || die "qgw_start"
    smbq ls "$UNC" -o "$(opts)"
    expect_failure_match 4 '^smbquic: negotiate failed: the server closed the connection: "SMB server unreachable" \(QUIC application error 0x2\)$' \
        "the gateway cannot reach its SMB server"
    qgw_stop
    qgw_start "$SAMBA_PORT" || die "qgw_start"
else
    closed=$(_rig_random_port)
    smbq ls "$UNC" -o "port=$closed,transport=tcp,username=$SAMBA_USER"
    expect_failure_match 3 '^smbquic: .+ failed: .+$' "connection refused"
fi

# Usage and option errors: exit 2, one line, nothing sent.
smbq
expect_true "no arguments: exit 2" test "$RC" = 2
smbq frobnicate "$UNC" -o "$(opts)"
expect_true "unknown command: exit 2" test "$RC" = 2
smbq ls -o "$(opts)"
expect_true "ls without a path: exit 2" test "$RC" = 2
smbq ls /not/a/unc -o "$(opts)"
expect_true "local path instead of //SERVER/SHARE: exit 2" test "$RC" = 2
smbq ls "$UNC" -o "port=notaport,transport=$TRANSPORT_NAME,username=$SAMBA_USER"
expect_true "port=notaport: exit 2" test "$RC" = 2
smbq ls "$UNC" -o "$(opts vers=2.0)"
expect_true "vers=2.0 (not supported): exit 2" test "$RC" = 2
smbq ls "$UNC" -o "$(opts transport=carrier-pigeon)"
expect_true "unknown transport: exit 2" test "$RC" = 2
smbq put "$TEST_TMP/a" -o "$(opts)"
expect_true "put with one argument: exit 2" test "$RC" = 2

# sign against a server that signs: fine (signing is mandatory on every variant).
smbq ls "$UNC" -o "$(opts sign)"
expect_ok "sign against the default server"

samba_stop

# seal against a server with encryption turned off: refused at negotiate, nothing sent in clear.
samba_start encrypt-off || die "samba_start encrypt-off"
smbq ls "$UNC" -o "$(opts seal)"
expect_failure_match 4 '^smbquic: negotiate failed: .*[Ee]ncryption.*$' \
    "seal against a server with encryption off"
smbq ls "$UNC" -o "$(opts)"
expect_ok "without seal the same server works"
smbq info "$UNC" -o "$(opts)"
expect_ok "info against encrypt-off"
expect_line "cipher: none" "encrypt-off: no cipher"

test_done
