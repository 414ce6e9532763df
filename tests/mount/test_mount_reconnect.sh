#!/usr/bin/env bash
# A mount survives losing its connection: the server side of the connection is killed (the
# smbd process serving it; over QUIC the gateway then closes the QUIC connection too) while
# new connections are refused (TCP) or dropped (QUIC) for 3 s, so the reconnect has to wait
# and retry. A stat issued during the outage must wait for the new connection and then
# succeed (not fail with EIO); a file open for reading reads on to its end and one open for
# writing is finished, through the same descriptors; a descriptor whose file was deleted, or
# replaced by another file of the same name, during the outage fails with EBADF; the mount
# logs the loss and "reconnected", and `smbquic status` says "reconnecting", then counts one
# reconnect. Then a longer outage with a soft mount (EIO after 30 s) and a hard one (waits),
# a silent one (every packet dropped) that echo_interval= must notice, and (over TCP) one
# that ends with a new address, which must bring the next attempt forward. The test runs in a
# network namespace of its own, so its iptables rules and addresses touch nothing else.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
own_netns "$@"
mount_require fs

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share

head -c $((32 * 1048576)) /dev/urandom >"$TEST_TMP/src.bin"
cp "$TEST_TMP/src.bin" "$SAMBA_SHARE_DIR/ref.bin"
printf 'small\n' >"$SAMBA_SHARE_DIR/small.txt"
# Each wait below stats a name not looked up before: the kernel may answer a name it knows
# from its attribute cache (actimeo) without asking the mount.
for name in outage soft hard; do
    printf 'small\n' >"$SAMBA_SHARE_DIR/$name.txt"
done
printf 'doomed\n' >"$SAMBA_SHARE_DIR/gone.txt"
printf 'old\n' >"$SAMBA_SHARE_DIR/swapped.txt"
as_share_owner "$SAMBA_SHARE_DIR"
want=$(sha256 "$TEST_TMP/src.bin")
head -c $((16 * 1048576)) "$TEST_TMP/src.bin" >"$TEST_TMP/half1.bin"
tail -c +$((16 * 1048576 + 1)) "$TEST_TMP/src.bin" >"$TEST_TMP/half2.bin"

mount_fg "$M" "$TEST_TMP/mount.log"
mount_pid=$MOUNT_PID

# One process (tests/mount/holder.py) holds the open files across the loss. It does the
# first halves, says "first.ready", waits for "first.go", finishes, and writes what each step
# gave.
python3 - "$M" "$TEST_TMP" "$MOUNT_LIB_DIR" <<'PY' &
import os, sys
m, t = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from holder import copy_part, step, wait_go, write_file
src = os.open(os.path.join(m, "ref.bin"), os.O_RDONLY)
dst = os.open(os.path.join(m, "written.bin"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
gone = os.open(os.path.join(m, "gone.txt"), os.O_RDONLY)
swapped = os.open(os.path.join(m, "swapped.txt"), os.O_RDONLY)
step(t, "half1", lambda: (copy_part(src, os.path.join(t, "read1.bin"), 16 << 20),
                          write_file(dst, os.path.join(t, "half1.bin"))))
wait_go(t, "first")
step(t, "read2", lambda: copy_part(src, os.path.join(t, "read2.bin"), 1 << 40))
step(t, "write2", lambda: write_file(dst, os.path.join(t, "half2.bin")))
step(t, "gone", lambda: os.read(gone, 100))
step(t, "swapped", lambda: os.read(swapped, 100))
for fd in (src, dst, gone, swapped):
    os.close(fd)
open(os.path.join(t, "holder.done"), "w").write("done\n")
PY
holder_pid=$!
rig_cleanup_add "kill $holder_pid 2>/dev/null || true"
wait_for_file "$TEST_TMP/first.ready" || die "the first halves did not finish"
expect_eq "$(cat "$TEST_TMP/holder.half1")" ok "first halves read, written and synced"

# outage_begin: kills the smbd processes holding the server side of the mounts' connections
# (over QUIC: the gateway's backend connections), and refuses (TCP) or drops (QUIC) new
# connections until outage_end.
if quic_mode; then
    outage=(INPUT -p udp --dport "$QGW_PORT" -j DROP)
else
    outage=(INPUT -p tcp --dport "$SAMBA_PORT" --syn -j REJECT --reject-with tcp-reset)
fi
outage_begin() {
    local victims
    victims=$(ss -Htnp state established "( sport = :$SAMBA_PORT )" |
        sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u)
    [ -n "$victims" ] || die "no smbd process serves the mounts' connections"
    iptables -I "${outage[@]}" || die "iptables"
    # shellcheck disable=SC2086 # one PID per word
    kill -KILL $victims
    echo "# killed smbd $(echo $victims) (the mounts' connections); new connections refused" >&2
}
outage_end() {
    iptables -D "${outage[@]}" || die "iptables -D"
}
# outage_end_stat_ok PID NAME DESC: ends the outage; the stat PID (output in NAME.out and
# NAME.err) must then succeed and print 6.
outage_end_stat_ok() {
    local pid=$1 name=$2 rc
    outage_end
    wait "$pid"
    rc=$?
    expect_eq "$rc:$(cat "$TEST_TMP/$name.out")" "0:6" "$3 ($(cat "$TEST_TMP/$name.err"))"
}
outage_begin
rm -f "$SAMBA_SHARE_DIR/gone.txt"
# Another file under the same name (made first, so it cannot get the old inode number).
printf 'new\n' >"$SAMBA_SHARE_DIR/swapped.tmp"
mv "$SAMBA_SHARE_DIR/swapped.tmp" "$SAMBA_SHARE_DIR/swapped.txt"
wait_log "$TEST_TMP/mount.log" "connection to the server lost" 1 10
expect_true "the mount logs the loss" grep -q "connection to the server lost: .*; reconnecting" \
    "$TEST_TMP/mount.log"
# Answered at once, also while an attempt waits (over QUIC, for a handshake that cannot
# succeed yet): attempts run on a thread of their own.
run "$SMBQUIC" status "$M"
expect_eq "$(field state)" reconnecting "status while the server is away"

stat -c %s "$M/outage.txt" >"$TEST_TMP/stat.out" 2>"$TEST_TMP/stat.err" &
stat_pid=$!
sleep 3
expect_true "a stat during the outage waits for the connection (no EIO)" kill -0 "$stat_pid"
outage_end_stat_ok "$stat_pid" stat "that stat succeeds once the server is back"
wait_log "$TEST_TMP/mount.log" "reconnected to $UNC over $TRANSPORT_NAME"
reconnected=$(grep -E "reconnected to $UNC over $TRANSPORT_NAME" "$TEST_TMP/mount.log")
echo "# ${reconnected:-no reconnect logged}" >&2
expect_true "the mount logs that it reconnected" test -n "$reconnected"

run cat "$M/small.txt"
expect_eq "$RC:$OUT" "0:small" "a new open after the reconnect"
echo go >"$TEST_TMP/first.go"
wait_for_file "$TEST_TMP/holder.done" || die "the second halves did not finish"
wait "$holder_pid"
expect_eq "$(cat "$TEST_TMP/holder.read2")" ok "the file open for reading reads on to its end"
expect_eq "$(cat "$TEST_TMP/read1.bin" "$TEST_TMP/read2.bin" | sha256sum | cut -d' ' -f1)" "$want" \
    "what it read, before and after the reconnect, has the file's SHA-256"
expect_eq "$(cat "$TEST_TMP/holder.write2")" ok "the file open for writing writes and syncs without an error"
expect_eq "$(sha256 "$SAMBA_SHARE_DIR/written.bin" 2>/dev/null)" "$want" \
    "what it wrote, before and after the reconnect, is on the server intact"
expect_eq "$(cat "$TEST_TMP/holder.gone")" EBADF \
    "a descriptor whose file was deleted during the outage fails with EBADF"
expect_true "the mount says it could not open that file again" \
    grep -q "cannot open gone.txt again" "$TEST_TMP/mount.log"
expect_eq "$(cat "$TEST_TMP/holder.swapped")" EBADF \
    "a descriptor whose file was replaced by another of the same name fails with EBADF"
expect_true "the mount says another file has that name now" \
    grep -q "cannot open swapped.txt again: another file has its name now" "$TEST_TMP/mount.log"

run "$SMBQUIC" status "$M"
expect_eq "$(field state)" connected "status after the reconnect"
expect_eq "$(field reconnects)" 1 "status counts one reconnect"
if quic_mode; then
    expect_eq "$(grep -c 'event=open' "$QGW_AUDIT")" 2 "over QUIC: a second connection (the gateway's audit log)"
fi

# ---- soft and hard: a longer outage ----
# The soft mount (the default) fails requests with EIO 30 s after the loss; the hard one
# holds them until the connection is back.
new_mount_dir
H=$MNT
mount_fg "$H" "$TEST_TMP/hard.log" hard
hard_pid=$MOUNT_PID
outage_begin
start=$SECONDS
stat -c %s "$M/soft.txt" >"$TEST_TMP/soft.out" 2>"$TEST_TMP/soft.err" &
soft_stat=$!
stat -c %s "$H/hard.txt" >"$TEST_TMP/hard.out" 2>"$TEST_TMP/hard.err" &
hard_stat=$!
wait "$soft_stat"
soft_rc=$?
soft_secs=$((SECONDS - start))
expect_true "soft: a stat during a long outage fails ($soft_rc after ${soft_secs}s)" \
    test "$soft_rc" != 0
expect_true "soft: with EIO ($(cat "$TEST_TMP/soft.err"))" \
    grep -q "Input/output error" "$TEST_TMP/soft.err"
expect_true "soft: after about 30 s, not before (${soft_secs}s)" \
    test "$soft_secs" -ge 28 -a "$soft_secs" -le 40
expect_true "hard: the stat on the hard mount still waits" kill -0 "$hard_stat"
outage_end_stat_ok "$hard_stat" hard "hard: that stat succeeds once the server is back"
wait_log "$TEST_TMP/hard.log" "reconnected to" 1 20
wait_log "$TEST_TMP/mount.log" "reconnected to" 2 20
run stat -c %s "$M/small.txt"
expect_eq "$RC:$OUT" "0:6" "soft: the mount works again once reconnected"

for dir in "$M" "$H"; do
    umount "$dir" || die "umount $dir"
done
wait "$mount_pid"
expect_eq "$?" 0 "the helper exits 0 after the unmount"
wait "$hard_pid"
expect_eq "$?" 0 "the hard mount's helper exits 0 after the unmount"

# ---- a silent outage: echo_interval= ----
# Every packet between the mount and the server is dropped, so nothing says the connection
# died: with echo_interval=1 the mount sends an ECHO after 1 s of silence and gives the
# connection up 1 s later, then reconnects once the path is back.
new_mount_dir
E=$MNT
mount_fg "$E" "$TEST_TMP/echo.log" echo_interval=1
echo_pid=$MOUNT_PID
if quic_mode; then
    silence=(-p udp --dport "$QGW_PORT" -j DROP)
    silence_back=(-p udp --sport "$QGW_PORT" -j DROP)
else
    silence=(-p tcp --dport "$SAMBA_PORT" -j DROP)
    silence_back=(-p tcp --sport "$SAMBA_PORT" -j DROP)
fi
iptables -I INPUT "${silence[@]}" && iptables -I INPUT "${silence_back[@]}" || die "iptables"
start=$SECONDS
wait_log "$TEST_TMP/echo.log" "connection to the server lost" 1 10
expect_true "echo: the silent server is noticed ($(grep -m1 'sent nothing' "$TEST_TMP/echo.log"))" \
    grep -q "the server has sent nothing for [0-9]* s, an echo included" "$TEST_TMP/echo.log"
expect_true "echo: the connection is given up within 5 s ($((SECONDS - start))s)" \
    test "$((SECONDS - start))" -le 5
iptables -D INPUT "${silence[@]}" && iptables -D INPUT "${silence_back[@]}" || die "iptables -D"
wait_log "$TEST_TMP/echo.log" "reconnected to" 1 30
run stat -c %s "$E/small.txt"
expect_eq "$RC:$OUT" "0:6" "echo: the mount works again once the path is back"
umount "$E" || die "umount $E"
wait "$echo_pid"
expect_eq "$?" 0 "echo: the helper exits 0 after the unmount"

# ---- a network change: the next attempt comes at once ----
# After five failed attempts (0, 1, 3, 7 and 15 s into the outage) the next is 10 s away.
# When the path comes back together with a new address (as when Wi-Fi returns), the mount
# tries at once instead. Over TCP only: a refused connection fails an attempt at once, so the
# attempts keep to that schedule (a dropped QUIC handshake takes its own time to fail).
if ! quic_mode; then
    new_mount_dir
    N=$MNT
    mount_fg "$N" "$TEST_TMP/net.log"
    net_pid=$MOUNT_PID
    outage_begin
    wait_log "$TEST_TMP/net.log" "reconnect attempt 5 failed: .*; next in 10 s" 1 30 ||
        die "no fifth failed attempt: $(cat "$TEST_TMP/net.log")"
    outage_end
    ip addr add 127.0.0.2/8 dev lo || die "ip addr add"
    start=$SECONDS
    wait_log "$TEST_TMP/net.log" "reconnected to" 1 12
    expect_true "network change: noticed ($(grep -m1 'network changed' "$TEST_TMP/net.log"))" \
        grep -q "the network changed: trying to reconnect now" "$TEST_TMP/net.log"
    expect_true "network change: reconnected within 4 s, not at the next attempt 10 s on ($((SECONDS - start))s)" \
        test "$((SECONDS - start))" -le 4
    run stat -c %s "$N/small.txt"
    expect_eq "$RC:$OUT" "0:6" "network change: the mount works again"
    umount "$N" || die "umount $N"
    wait "$net_pid"
    expect_eq "$?" 0 "network change: the helper exits 0 after the unmount"
fi
test_done
