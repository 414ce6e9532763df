#!/usr/bin/env bash
# flock(2) between machines: two mounts of one share (two SMB clients, as two laptops would
# be) exclude each other as flock does on one machine. An exclusive lock held through one
# mount makes LOCK_NB attempts through the other (and through another descriptor of the same
# mount) fail with EWOULDBLOCK, shared and exclusive; it does not block anyone's reads or
# writes (flock is advisory); a blocking flock waits on the server and gets the lock as soon
# as the holder closes; a blocking flock interrupted by a signal is cancelled on the server
# (the lock is not granted later to a descriptor nobody waits on); shared locks coexist;
# SH->EX->SH conversions; closing the descriptor (a file opened for reading, whose handle
# the mount would otherwise keep open under its lease) releases the lock at once; and a lock
# held across a silent outage of its mount's connection (iptables DROP of that connection only,
# in the test's own network namespace) is still held after the reconnect reclaimed the durable
# handle.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
own_netns "$@"
mount_require fs
command -v flock >/dev/null || skip "flock(1) not installed (util-linux)"

samba_start default || die "samba_start"
UNC=//127.0.0.1/share
printf 'shared data\n' >"$SAMBA_SHARE_DIR/f"
as_share_owner "$SAMBA_SHARE_DIR"
new_mount_dir
M1=$MNT
new_mount_dir
M2=$MNT
# echo_interval=1: the outage at the end is noticed within two seconds.
mq "$UNC" "$M1" -o "$(opts echo_interval=1)"
expect_ok "first mount"
mq "$UNC" "$M2" -o "$(opts)"
expect_ok "second mount (another client)"

# hold NAME PATH MODE: a process that opens PATH read-only, takes the flock MODE (ex or sh),
# says T/NAME.locked, and closes when T/NAME.release appears.
hold() {
    python3 - "$TEST_TMP" "$1" "$2" "$3" <<'PY' &
import fcntl, os, sys, time
t, name, path, mode = sys.argv[1:]
fd = os.open(path, os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX if mode == "ex" else fcntl.LOCK_SH)
open(os.path.join(t, name + ".locked"), "w").write("locked\n")
while not os.path.exists(os.path.join(t, name + ".release")):
    time.sleep(0.02)
os.close(fd)
PY
    HOLD_PID=$!
    rig_cleanup_add "kill $HOLD_PID 2>/dev/null || true"
    wait_for_file "$TEST_TMP/$1.locked" || die "$1: the lock was not taken"
}
release() {
    : >"$TEST_TMP/$1.release"
    wait "$2" || true
}
# expect_flock MODE PATH WANT DESC: flock(1) MODE -n on PATH exits WANT (0 locked, 1 not).
expect_flock() {
    run flock "$1" -n "$2" true
    expect_eq "$RC" "$3" "$4"
}

expect_flock -x "$M1/f" 0 "a free file: LOCK_EX|LOCK_NB succeeds"

hold a "$M1/f" ex
a=$HOLD_PID
expect_flock -x "$M2/f" 1 "exclusive lock held through the other mount: LOCK_EX|LOCK_NB fails"
expect_flock -s "$M2/f" 1 "... and LOCK_SH|LOCK_NB fails"
expect_flock -x "$M1/f" 1 "... and through another descriptor of the same mount too"
expect_eq "$(cat "$M2/f")" "shared data" "the locked file reads through the other mount (advisory)"
expect_true "... and takes writes" sh -c "printf 'more\n' >>'$M2/f'"

# A blocking flock waits, and gets the lock when the holder closes.
python3 - "$M2/f" "$TEST_TMP/waiter.out" <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
start = time.monotonic()
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").write("%.1f\n" % (time.monotonic() - start))
os.close(fd)
PY
waiter=$!
rig_cleanup_add "kill $waiter 2>/dev/null || true"
sleep 1.5
expect_true "a blocking flock through the other mount waits" kill -0 "$waiter"
release a "$a"
for ((i = 0; i < 100; i++)); do
    [ -s "$TEST_TMP/waiter.out" ] && break
    sleep 0.05
done
wait "$waiter"
waiter_rc=$?
waited=$(cat "$TEST_TMP/waiter.out" 2>/dev/null)
expect_eq "$waiter_rc" 0 "... and gets the lock once the holder closed (after $waited s)"
expect_flock -x "$M1/f" 0 "the waiter closed: the file is free again"

# A blocking flock interrupted by a signal: EINTR, and the LOCK is cancelled on the server,
# so when the holder goes the descriptor that gave up does not hold the lock.
hold b "$M1/f" ex
b=$HOLD_PID
python3 - "$M2/f" "$TEST_TMP" <<'PY' &
import errno, fcntl, os, signal, sys, time
path, t = sys.argv[1:]
class Alarm(Exception):
    pass
def on_alarm(sig, frame):
    raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
fd = os.open(path, os.O_RDONLY)
signal.alarm(1)
try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    outcome = "locked"
except Alarm:
    outcome = "interrupted"
open(os.path.join(t, "intr.out"), "w").write(outcome + "\n")
# Keep the descriptor open: a lock granted to it now would show.
while not os.path.exists(os.path.join(t, "intr.release")):
    time.sleep(0.02)
os.close(fd)
PY
intr=$!
rig_cleanup_add "kill $intr 2>/dev/null || true"
wait_for_file "$TEST_TMP/intr.out" || die "the interrupted flock did not return"
expect_eq "$(cat "$TEST_TMP/intr.out")" interrupted "a signal ends a blocking flock"
release b "$b"
sleep 0.5
expect_flock -x "$M1/f" 0 \
    "the interrupted LOCK was cancelled: nobody holds the file after the holder left"
release intr "$intr"

# Shared locks coexist; an exclusive one waits for them.
hold c "$M1/f" sh
c=$HOLD_PID
expect_flock -s "$M2/f" 0 "shared lock beside a shared lock of the other mount"
expect_flock -x "$M2/f" 1 "exclusive lock refused while a shared one is held"
release c "$c"

# Conversions through one descriptor: SH -> EX -> SH.
python3 - "$M1/f" "$TEST_TMP" <<'PY' &
import fcntl, os, sys, time
path, t = sys.argv[1:]
def step(name, op):
    fcntl.flock(fd, op)
    open(os.path.join(t, name + ".done"), "w").write("done\n")
    while not os.path.exists(os.path.join(t, name + ".go")):
        time.sleep(0.02)
fd = os.open(path, os.O_RDONLY)
step("sh1", fcntl.LOCK_SH)
step("ex", fcntl.LOCK_EX | fcntl.LOCK_NB)
step("sh2", fcntl.LOCK_SH)
os.close(fd)
PY
conv=$!
rig_cleanup_add "kill $conv 2>/dev/null || true"
wait_for_file "$TEST_TMP/sh1.done" || die "conversion: no shared lock"
expect_flock -s "$M2/f" 0 "conversion: shared at first"
: >"$TEST_TMP/sh1.go"
wait_for_file "$TEST_TMP/ex.done" || die "conversion: no upgrade"
expect_flock -s "$M2/f" 1 "conversion: upgraded to exclusive"
: >"$TEST_TMP/ex.go"
wait_for_file "$TEST_TMP/sh2.done" || die "conversion: no downgrade"
expect_flock -s "$M2/f" 0 "conversion: shared again"
: >"$TEST_TMP/sh2.go"
wait "$conv"
expect_eq "$?" 0 "conversion: every step succeeded"

run "$SMBQUIC" status "$M1"
expect_true "the mount counts its LOCK requests ($(field requests_lock))" \
    test "$(field requests_lock)" -gt 0

# ---- a lock across a lost connection: the durable handle keeps it ----
hold d "$M1/f" ex
d=$HOLD_PID
# The first mount's own connection: its local port (QUIC: status says it; TCP: ss, by the
# helper's PID).
if quic_mode; then
    run "$SMBQUIC" status "$M1"
    lport=$(field local_address)
    lport=${lport##*:}
    proto=udp
else
    lport=$(ss -Htnp state established "( dport = :$SAMBA_PORT )" |
        grep "pid=$(daemon_pid "$M1")," | awk '{print $3}' | sed 's/.*://')
    proto=tcp
fi
[ -n "$lport" ] || die "cannot find the first mount's local port"
iptables -I INPUT -p "$proto" --dport "$lport" -j DROP &&
    iptables -I INPUT -p "$proto" --sport "$lport" -j DROP || die "iptables"
reconnects() {
    "$SMBQUIC" status "$M1" 2>/dev/null | sed -n 's/^reconnects: //p'
}
for ((i = 0; i < 100; i++)); do
    [ "$(reconnects)" = 0 ] || break
    "$SMBQUIC" status "$M1" 2>/dev/null | grep -q '^state: reconnecting' && break
    sleep 0.1
done
iptables -D INPUT -p "$proto" --dport "$lport" -j DROP &&
    iptables -D INPUT -p "$proto" --sport "$lport" -j DROP || die "iptables -D"
for ((i = 0; i < 300; i++)); do
    [ "$(reconnects)" = 1 ] && break
    sleep 0.1
done
run "$SMBQUIC" status "$M1"
expect_eq "$(field reconnects):$(field durable_reclaims):$(field reopens_by_name)" 1:1:0 \
    "the first mount reconnected and reclaimed the locked file's durable handle"
expect_flock -x "$M2/f" 1 "the lock is still held after the reconnect"
release d "$d"
expect_flock -x "$M2/f" 0 "... until its holder closes"
for m in "$M1" "$M2"; do
    expect_true "umount $m" umount "$m"
done
test_done
