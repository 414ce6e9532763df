#!/usr/bin/env bash
# `smbquic status MOUNTPOINT` against a real mount: what it reports (transport, dialect, cipher,
# connection id over QUIC, counters), that its counters measure operations (a stat of a new file
# is one CREATE+QUERY_INFO+CLOSE compound; `ls -l` of 5,000 entries takes at most 20 requests;
# `cat` of a small file), that asking sends nothing to the server, who may ask, and its errors;
# then the mount's readahead window: 8 MiB on loopback, 64 MiB through a 120 ms path (QUIC).
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share

mkdir "$SAMBA_SHARE_DIR/big"
for i in $(seq 1 5000); do
    : >"$SAMBA_SHARE_DIR/big/entry-with-a-reasonably-long-name-$i.txt"
done
printf 'small file\n' >"$SAMBA_SHARE_DIR/small.txt"
as_share_owner "$SAMBA_SHARE_DIR"

# actimeo=60: each count is of one operation alone. With the default 1 s a loaded machine can
# take longer than that between steps, and the kernel then revalidates the root first (one more
# CREATE+QUERY_INFO+CLOSE), which is the cache doing its job, not the operation's cost.
mq "$UNC" "$M" -o "$(opts),actimeo=60"
expect_ok "mount"

# requests: the total counter now.
requests() {
    "$SMBQUIC" status "$M" | sed -n 's/^requests: //p'
}
# counter NAME: one per-command counter now.
counter() {
    "$SMBQUIC" status "$M" | sed -n "s/^requests_$1: //p"
}

run "$SMBQUIC" status "$M"
expect_ok "status"
expect_eq "$(field mountpoint)" "$M" "mountpoint"
expect_eq "$(field server)" "$UNC" "server"
expect_eq "$(field state)" "connected" "state"
expect_eq "$(field transport)" "$TRANSPORT_NAME" "transport"
expect_eq "$(field dialect)" "3.1.1" "dialect"
expect_line_match '^cipher: (AES-(128|256)-(GCM|CCM)|none)$' "cipher line"
expect_line_match '^signing: (AES-GMAC|AES-CMAC|HMAC-SHA256)$' "signing line"
expect_line_match '^requests: [1-9][0-9]*$' "total requests"
for cmd in negotiate session_setup tree_connect create close read write query_directory \
    query_info set_info ioctl; do
    expect_line_match "^requests_$cmd: [0-9]+\$" "counter requests_$cmd"
done
expect_eq "$(field requests_negotiate)" 1 "one NEGOTIATE so far"
if quic_mode; then
    expect_line_match '^connection_id: [0-9a-f]{8,}$' "connection id over QUIC"
    expect_line_match '^server_cert_sha256: [0-9a-f]{64}$' "certificate fingerprint"
    expect_line_match '^local_address: 127\.0\.0\.1:[0-9]+$' "our local address"
    expect_line "migrations: 0" "no move to another address on loopback"
    expect_true "the gateway's audit log has that connection id" \
        grep -q "$(field connection_id)" "$QGW_AUDIT"
fi

# Asking sends nothing.
a=$(requests)
b=$(requests)
expect_eq "$b" "$a" "status itself sends no request"

# stat of a file nobody looked up yet: one compound of three.
printf 'new\n' >"$SAMBA_SHARE_DIR/new.txt"
as_share_owner "$SAMBA_SHARE_DIR/new.txt"
# The root's attributes first (the path walk needs them; `smbquic status` does not touch the
# mount, so nothing has asked for them yet).
stat "$M" >/dev/null
a=$(requests)
run stat "$M/new.txt"
expect_ok "stat of a new file"
expect_eq "$(($(requests) - a))" 3 "stat of a new file: CREATE+QUERY_INFO+CLOSE (one round trip)"

# ls -l of 5,000 entries, cold.
a=$(requests)
qd=$(counter query_directory)
run ls -l "$M/big"
expect_ok "ls -l of 5,000 entries"
expect_eq "$(grep -c 'entry-with' <<<"$OUT")" 5000 "ls -l shows 5,000 entries"
n=$(($(requests) - a))
echo "ls -l of 5,000 entries: $n requests ($(($(counter query_directory) - qd)) QUERY_DIRECTORY)"
expect_true "ls -l of 5,000 entries in at most 20 requests ($n)" test "$n" -le 20

# cat of a small file: lookup (3), open, read, close.
a=$(requests)
run cat "$M/small.txt"
expect_eq "$OUT" "small file" "cat of a small file"
n=$(($(requests) - a))
echo "cat of a small file: $n requests"
expect_true "cat of a small file in at most 6 requests ($n)" test "$n" -le 6

# Writes are counted as WRITEs.
w=$(counter write)
dd if=/dev/zero of="$M/three-mib" bs=1M count=3 status=none
expect_eq "$(($(counter write) - w))" 3 "3 MiB written as three 1 MiB WRITEs"

# Who may ask: another user is refused.
run setpriv --reuid=65534 --regid=65534 --clear-groups "$SMBQUIC" status "$M"
expect_rc 1 "status as another user"
expect_true "status as another user: permission denied ($ERR)" grep -qi "permission denied" <<<"$ERR"

# Errors: not an smbquic mount; no such path.
run "$SMBQUIC" status "$TEST_TMP"
expect_rc 2 "status of a directory that is not an smbquic mount"
expect_true "says so ($ERR)" grep -q "is not on an smbquic mount" <<<"$ERR"
run "$SMBQUIC" status "$TEST_TMP/does-not-exist"
expect_rc 1 "status of a missing path"
run "$SMBQUIC" status
expect_rc 2 "status without a mount point"

# A path inside the mount finds it too.
run "$SMBQUIC" status "$M/big"
expect_ok "status of a directory inside the mount"
expect_eq "$(field mountpoint)" "$M" "found from a path inside"

# The readahead window follows the round trip measured while mounting (fs.c,
# readahead_kb_for): 8 MiB on loopback (up to 16 MiB allowed: on a loaded machine a loopback
# round trip can take over 13 ms).
readahead_kb() { cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }
ra=$(readahead_kb "$M")
expect_true "readahead window on loopback: 8 MiB ($ra KiB)" test "$ra" -ge 8192 -a "$ra" -le 16384

run umount "$M"
expect_ok "umount"

# Through a 120 ms path (udp-impair, 60 ms each way) the window grows to its 64 MiB ceiling,
# and a sequential read through it arrives intact.
if quic_mode && [ -n "${UDP_IMPAIR:-}" ] && [ -x "$UDP_IMPAIR" ]; then
    "$UDP_IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$QGW_PORT" --delay 60 \
        --ready-file "$TEST_TMP/relay.port" 2>"$TEST_TMP/relay.log" &
    relay_pid=$!
    rig_cleanup_add "kill $relay_pid 2>/dev/null"
    wait_for_file "$TEST_TMP/relay.port" || die "udp-impair did not start: $(cat "$TEST_TMP/relay.log")"
    make_random "$SAMBA_SHARE_DIR/far.bin" 16M
    as_share_owner "$SAMBA_SHARE_DIR/far.bin"
    far_opts=$(opts | sed "s/port=$QGW_PORT/port=$(cat "$TEST_TMP/relay.port")/")
    mq "$UNC" "$M" -o "$far_opts"
    expect_ok "mount through a 120 ms path"
    expect_eq "$(readahead_kb "$M")" 65536 "readahead window through a 120 ms path: 64 MiB"
    expect_eq "$(sha256 "$M/far.bin")" "$(sha256 "$SAMBA_SHARE_DIR/far.bin")" \
        "a 16 MiB file read through it arrives intact"
    run umount "$M"
    expect_ok "umount"
    kill "$relay_pid" 2>/dev/null
    wait "$relay_pid" 2>/dev/null
fi
test_done
