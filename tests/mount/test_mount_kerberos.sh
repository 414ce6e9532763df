#!/usr/bin/env bash
# A Kerberos mount: against the test's own MIT KDC (tests/rig/kdc.sh) and an smbd accepting its
# tickets, mount.smbquic with sec=krb5 and no password anywhere fails without a ticket (exit 32,
# saying so, nothing mounted) and mounts with one; files go both ways through it, `smbquic
# status` says Kerberos, and when the server side of the connection dies the mount reconnects
# with the ticket (the reconnect asks for no password either) and the open file reads on.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs
# shellcheck source=../rig/kdc.sh
. "$(dirname "$0")/../rig/kdc.sh"
kdc_require

kdc_start "$SAMBA_RIG_USER" || die "kdc_start"
samba_start kerberos || die "samba_start kerberos"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share
head -c $((4 * 1048576)) /dev/urandom >"$SAMBA_SHARE_DIR/ref.bin"
as_share_owner "$SAMBA_SHARE_DIR"

NO_PASSWD=1 mq "$UNC" "$M" -o "$(opts sec=krb5)"
expect_failure_match 32 '^mount\.smbquic: session setup failed: no Kerberos ticket for .+$' \
    "no ticket, no password: the mount fails and says why"
expect_no_mount "$M" "nothing mounted without a ticket"

kinit -k -t "$KDC_USER_KEYTAB" "$SAMBA_USER@$KDC_REALM" >"$TEST_TMP/kinit.out" 2>&1 ||
    die "kinit: $(cat "$TEST_TMP/kinit.out")"
NO_PASSWD=1 mq "$UNC" "$M" -o "$(opts sec=krb5)"
expect_ok "mount with a ticket and no password"
run "$SMBQUIC" status "$M"
expect_eq "$(field auth)" kerberos "status: auth kerberos"

head -c 1000000 /dev/urandom >"$TEST_TMP/up.bin"
expect_true "a file written through the mount" cp "$TEST_TMP/up.bin" "$M/up.bin"
expect_true "... is on the server intact" cmp -s "$TEST_TMP/up.bin" "$SAMBA_SHARE_DIR/up.bin"
expect_true "a file read through the mount is intact" cmp -s "$SAMBA_SHARE_DIR/ref.bin" "$M/ref.bin"

# The server side of the connection dies while a file is open: the mount reconnects by
# Kerberos (it holds no password) and the descriptor reads on.
exec {held}<"$M/ref.bin"
head -c 1048576 <&"$held" >"$TEST_TMP/part1.bin"
victims=$(ss -Htnp state established "( sport = :$SAMBA_PORT )" |
    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u)
[ -n "$victims" ] || die "no smbd process serves the mount's connection"
# shellcheck disable=SC2086 # one PID per word
kill -KILL $victims
for ((i = 0; i < 150; i++)); do
    [ "$("$SMBQUIC" status "$M" 2>/dev/null | sed -n 's/^reconnects: //p')" = 1 ] && break
    sleep 0.1
done
run "$SMBQUIC" status "$M"
expect_eq "$(field reconnects):$(field state):$(field auth)" 1:connected:kerberos \
    "reconnected by Kerberos"
cat <&"$held" >"$TEST_TMP/part2.bin"
exec {held}<&-
expect_eq "$(cat "$TEST_TMP/part1.bin" "$TEST_TMP/part2.bin" | sha256sum | cut -d' ' -f1)" \
    "$(sha256 "$SAMBA_SHARE_DIR/ref.bin")" "the open file read on across the reconnect"

expect_true "umount" umount "$M"
test_done
