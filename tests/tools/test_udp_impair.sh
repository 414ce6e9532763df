#!/usr/bin/env bash
# Tests of the UDP impairment relay (tests/tools/udp-impair.c) on 127.0.0.1, with the echo
# server and senders of tests/tools/udp_peer.py. Needs no root; skips (77) without python3.
# Python runs with -S (no site packages: only the standard library, and 0.2 s less per start).
# Environment (set by meson): UDP_IMPAIR (the relay), UDP_FLOOD (udp-flood), UDP_PEER
# (udp_peer.py).
set -u
set -o pipefail

UDP_IMPAIR=${UDP_IMPAIR:?UDP_IMPAIR must name the udp-impair executable}
UDP_PEER=${UDP_PEER:-$(dirname "$0")/udp_peer.py}
UDP_FLOOD=${UDP_FLOOD:?UDP_FLOOD must name the udp-flood executable}

if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found (the test's UDP peers are written in it)"
    exit 77
fi

TMP=$(mktemp -d /tmp/udp-impair-test.XXXXXX) || exit 1
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

checks=0
failures=0

pass() {
    checks=$((checks + 1))
    echo "ok - $1"
}

fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "not ok - $1"
}

die() {
    echo "ERROR: $*" >&2
    exit 1
}

# check DESC EXPR: EXPR is an awk condition (floating point works), e.g. "3 >= 2".
check() {
    if awk "BEGIN { exit !($2) }" </dev/null; then
        pass "$1"
    else
        fail "$1 (false: $2)"
    fi
}

forget_pid() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do
        [ "$pid" = "$1" ] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
}

# terminate PID: SIGTERM, then wait up to 5 s for it to exit; SIGKILL after that. Returns
# its exit status, or 254 if it had to be killed.
terminate() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        forget_pid "$1"
        return 254
    fi
    wait "$1"
    local rc=$?
    forget_pid "$1"
    return "$rc"
}

# wait_file FILE: wait up to 10 s for FILE to exist.
wait_file() {
    for _ in $(seq 200); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# start_echo NAME: echo server; sets ECHO_PID, ECHO_PORT.
start_echo() {
    python3 -S "$UDP_PEER" echo --ready-file "$TMP/$1.echo-port" --sources-file "$TMP/$1.sources" &
    ECHO_PID=$!
    PIDS+=("$ECHO_PID")
    wait_file "$TMP/$1.echo-port" || die "echo server did not start"
    ECHO_PORT=$(cat "$TMP/$1.echo-port")
}

stop_echo() {
    terminate "$ECHO_PID" || die "the echo server did not exit cleanly"
}

# echo_stat NAME KEY: from the sources file an echo server writes when stopped.
echo_stat() {
    sed -n "s/.*\<$2=\([0-9,]*\).*/\1/p" "$TMP/$1.sources"
}

# start_relay NAME ARGS...: relay from a free port to the echo server; sets RELAY_PID,
# RELAY_PORT, RELAY_T0 (its start on CLOCK_MONOTONIC). Log in $TMP/NAME.log.
start_relay() {
    local name=$1
    shift
    "$UDP_IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$ECHO_PORT" \
        --ready-file "$TMP/$name.port" --stats-file "$TMP/$name.stats" "$@" \
        2>"$TMP/$name.log" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    if ! wait_file "$TMP/$name.port"; then
        cat "$TMP/$name.log" >&2
        die "relay '$name' did not start"
    fi
    RELAY_PORT=$(cat "$TMP/$name.port")
    RELAY_T0=$(sed -n 's/.*start_monotonic=\([0-9.]*\).*/\1/p' "$TMP/$name.log")
}

# stop_relay NAME [PID]: SIGTERM (to PID, default RELAY_PID); the relay must exit 0 within
# 5 s and have written its counters.
stop_relay() {
    local rc=0
    terminate "${2:-$RELAY_PID}" || rc=$?
    if [ "$rc" = 0 ] && [ -s "$TMP/$1.stats" ] && grep -q '^dir=down ' "$TMP/$1.log"; then
        pass "$1: relay exits 0 on SIGTERM and reports its counters"
    else
        fail "$1: relay exit status $rc, counters missing"
        cat "$TMP/$1.log"
    fi
    sed 's/^/    /' "$TMP/$1.stats"
    # Every datagram is accounted for exactly once.
    if awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
              out = v["forwarded"] + v["send_errors"] + v["discarded_at_exit"]
              for (k in v) if (k ~ /^dropped_/) out += v[k]
              if (v["received"] + v["duplicated"] != out) bad = 1 }
              END { exit bad }' "$TMP/$1.stats"; then
        pass "$1: counters add up (received + duplicated = forwarded + dropped + ...)"
    else
        fail "$1: counters add up (received + duplicated = forwarded + dropped + ...)"
    fi
}

# stat NAME DIR KEY: a counter from the relay's stats file.
stat() {
    awk -v dir="dir=$2" -v key="$3" '$1 == dir {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' \
        "$TMP/$1.stats"
}

# peer MODE ARGS...: run udp_peer.py against the relay; its key=value output in $TMP/out.
peer() {
    python3 -S "$UDP_PEER" "$@" --port "$RELAY_PORT" >"$TMP/out" || die "udp_peer.py $1 failed"
    sed 's/^/    /' "$TMP/out" | paste -sd' '
}

# val KEY [FILE]: a value from the last peer run (or from FILE).
val() {
    sed -n "s/^$1=//p" "${2:-$TMP/out}"
}

start_echo main

# ---- command line ----
if "$UDP_IMPAIR" --help | grep -q -- '--burst-loss P:LEN'; then
    pass "--help describes the options"
else
    fail "--help describes the options"
fi
"$UDP_IMPAIR" --listen 127.0.0.1:0 --target 127.0.0.1:9 --loss 1.5 2>/dev/null
check "--loss 1.5 is refused (exit 2)" "$? == 2"
"$UDP_IMPAIR" --listen 127.0.0.1:0 --up-burst-loss 0.1 --target 127.0.0.1:9 2>/dev/null
check "--up-burst-loss without :LEN is refused (exit 2)" "$? == 2"
"$UDP_IMPAIR" --listen 127.0.0.1:0 2>/dev/null
check "a missing --target is refused (exit 2)" "$? == 2"

# ---- no impairment: everything through, intact, in order ----
start_relay plain
if grep -q 'seed=1 ' "$TMP/plain.log"; then
    pass "plain: the default seed (1) is printed at start"
else
    fail "plain: the default seed (1) is printed at start"
fi
peer flood --count 10000 --window 32
check "plain: 10000 datagrams echoed" "$(val echoes) == 10000 && $(val unique) == 10000"
check "plain: all intact" "$(val intact) == 10000 && $(val damaged) == 0"
check "plain: in order" "$(val in_order) == 1"
stop_relay plain
for d in up down; do
    check "plain: $d received = forwarded = 10000" \
        "$(stat plain $d received) == 10000 && $(stat plain $d forwarded) == 10000"
done

# ---- independent loss, reproducible with a seed ----
for run in loss_a loss_b loss_c; do
    seed=42
    [ "$run" = loss_c ] && seed=43
    start_relay "$run" --loss 0.1 --seed "$seed"
    peer flood --count 5000 --window 32 --expire-ms 30
    cp "$TMP/out" "$TMP/$run.out"
    stop_relay "$run"
done
if grep -q 'seed=42 ' "$TMP/loss_a.log"; then
    pass "loss: the seed is printed"
else
    fail "loss: the seed is printed"
fi
for d in up down; do
    check "loss: $d drops about 10% ($(stat loss_a $d dropped_loss) of $(stat loss_a $d received))" \
        "$(stat loss_a $d dropped_loss) / $(stat loss_a $d received) > 0.08 && $(stat loss_a $d dropped_loss) / $(stat loss_a $d received) < 0.12"
done
check "loss: up received all 5000" "$(stat loss_a up received) == 5000"
check "loss: round trip about 81% ($(sed -n 's/^echoes=//p' "$TMP/loss_a.out"))" \
    "$(sed -n 's/^echoes=//p' "$TMP/loss_a.out") > 0.77 * 5000 && $(sed -n 's/^echoes=//p' "$TMP/loss_a.out") < 0.85 * 5000"
if cmp -s "$TMP/loss_a.stats" "$TMP/loss_b.stats"; then
    pass "loss: identical counters in two runs with the same seed"
else
    fail "loss: identical counters in two runs with the same seed"
fi
if cmp -s "$TMP/loss_a.stats" "$TMP/loss_c.stats"; then
    fail "loss: another seed gives other counters"
else
    pass "loss: another seed gives other counters"
fi

# ---- burst loss, client to server only ----
start_relay burst --up-burst-loss 0.02:5 --seed 3
peer flood --count 5000 --window 32 --expire-ms 30
stop_relay burst
check "burst: up drops about 9% in bursts ($(stat burst up dropped_burst))" \
    "$(stat burst up dropped_burst) > 0.06 * 5000 && $(stat burst up dropped_burst) < 0.13 * 5000"
check "burst: down untouched" "$(stat burst down dropped_burst) == 0 && $(stat burst down forwarded) == $(stat burst down received)"
check "burst: the missing datagrams come in runs of a multiple of 5 ($(val missing_runs) runs, gcd $(val missing_run_gcd))" \
    "$(val missing_runs) > 10 && $(val missing_run_gcd) % 5 == 0"

# ---- delay: both ways, and one way only ----
start_relay delay --delay 50
peer pingpong --count 5
check "delay 50: RTT >= 100 ms ($(val rtt_min_ms)..$(val rtt_max_ms) ms)" \
    "$(val echoes) == 5 && $(val rtt_min_ms) >= 100 && $(val rtt_max_ms) < 1000"
stop_relay delay
start_relay updelay --up-delay 60
peer pingpong --count 5
check "up-delay 60: 60 ms <= RTT < 120 ms ($(val rtt_min_ms)..$(val rtt_max_ms) ms)" \
    "$(val echoes) == 5 && $(val rtt_min_ms) >= 60 && $(val rtt_min_ms) < 120"
stop_relay updelay

# ---- jitter ----
start_relay jitter --delay 20 --jitter 40
peer pingpong --count 10
check "jitter: 40 ms <= RTT, spread over several values ($(val rtt_min_ms)..$(val rtt_max_ms) ms, $(val rtt_distinct_ms) distinct)" \
    "$(val echoes) == 10 && $(val rtt_min_ms) >= 40 && $(val rtt_max_ms) < 1000 && $(val rtt_distinct_ms) >= 3"
stop_relay jitter

# ---- reordering ----
start_relay reorder --up-reorder 0.2 --up-reorder-delay 5 --seed 9
peer flood --count 3000 --window 32 --expire-ms 1000
check "reorder: all 3000 echoed intact" "$(val intact) == 3000 && $(val unique) == 3000"
check "reorder: arrive out of order ($(val inversions) inversions)" "$(val in_order) == 0 && $(val inversions) > 50"
stop_relay reorder
check "reorder: about 20% held back ($(stat reorder up reordered))" \
    "$(stat reorder up reordered) > 0.15 * 3000 && $(stat reorder up reordered) < 0.25 * 3000 && $(stat reorder down reordered) == 0"

# ---- duplication ----
start_relay duplicate --duplicate 1.0
peer flood --count 1000 --window 16 --expire-ms 1000
check "duplicate 1.0: each datagram echoed exactly 4 times (2 each way)" \
    "$(val min_copies) == 4 && $(val max_copies) == 4 && $(val intact) == 4000"
stop_relay duplicate
check "duplicate 1.0: up forwards twice what it receives" \
    "$(stat duplicate up duplicated) == 1000 && $(stat duplicate up forwarded) == 2000"
check "duplicate 1.0: down forwards twice what it receives" \
    "$(stat duplicate down received) == 2000 && $(stat duplicate down forwarded) == 4000"

# ---- corruption: the echo server checks each payload's CRC-32 on the way up ----
stop_echo
start_echo corrupt
start_relay corrupt --corrupt 1.0 --seed 5
peer pingpong --count 500 --size 200
stop_relay corrupt
stop_echo
check "corrupt 1.0: every payload reached the server changed ($(echo_stat corrupt damaged) of 500)" \
    "$(echo_stat corrupt damaged) == 500"
# Flipped again on the way back: 2 bits from the original, or 0 when the same bit was hit.
check "corrupt 1.0: every echo changed again ($(val changed) of $(val echoes) differ, $(val bits_min)..$(val bits_max) bits)" \
    "$(val echoes) == 500 && $(val changed) >= 490 && $(val bits_max) == 2"
check "corrupt 1.0: counted both ways" \
    "$(stat corrupt up corrupted) == 500 && $(stat corrupt down corrupted) == 500"
for d in up down; do
    start_echo "${d}corrupt"
    start_relay "${d}corrupt" "--$d-corrupt" 1.0
    peer pingpong --count 300 --size 200
    stop_relay "${d}corrupt"
    stop_echo
    want=0
    [ "$d" = up ] && want=300
    check "$d-corrupt 1.0: exactly one bit flipped in each payload" \
        "$(val echoes) == 300 && $(val changed) == 300 && $(val bits_min) == 1 && $(val bits_max) == 1"
    check "$d-corrupt 1.0: the server saw $want damaged ($(echo_stat "${d}corrupt" damaged))" \
        "$(echo_stat "${d}corrupt" damaged) == $want"
done
start_echo main2

# ---- rate limit and its queue ----
start_relay rate --up-rate 8
peer flood --count 1000 --size 1000 --window 32 --expire-ms 2000
check "rate 8 Mbit/s: 1 MB takes about 1 s ($(val seconds) s)" \
    "$(val intact) == 1000 && $(val seconds) >= 0.9 && $(val seconds) < 5"
stop_relay rate
start_relay queue --up-rate 1 --up-queue 10
peer flood --count 60 --size 1000 --window 60 --expire-ms 500
stop_relay queue
check "queue 10 KB at 1 Mbit/s: a burst of 60 is tail-dropped to about 11 ($(stat queue up forwarded) forwarded)" \
    "$(stat queue up dropped_queue) >= 40 && $(stat queue up forwarded) <= 15 && $(stat queue up forwarded) + $(stat queue up dropped_queue) == $(stat queue up received)"

# ---- under a flood: forwards at speed, and still stops at once on SIGTERM ----
"$UDP_FLOOD" sink --ready-file "$TMP/sink.port" >"$TMP/sink.out" &
sink_pid=$!
PIDS+=("$sink_pid")
wait_file "$TMP/sink.port" || die "udp-flood sink did not start"
main_echo_port=$ECHO_PORT
ECHO_PORT=$(cat "$TMP/sink.port")
start_relay flood
ECHO_PORT=$main_echo_port
"$UDP_FLOOD" send --target "127.0.0.1:$RELAY_PORT" --size 1200 --seconds 3 >"$TMP/send.out" &
send_pid=$!
PIDS+=("$send_pid")
sleep 0.5
t0=$EPOCHREALTIME
stop_relay flood
check "flood: the relay stopped within 1 s of SIGTERM under load" "$EPOCHREALTIME - $t0 < 1"
terminate "$send_pid"
terminate "$sink_pid"
check "flood: more than 10000 datagrams forwarded in 0.5 s ($(stat flood up forwarded))" \
    "$(stat flood up forwarded) > 10000"

# ---- blackout windows and NAT rebinding, side by side (3.2 s each) ----
main_echo_pid=$ECHO_PID
main_echo_port=$ECHO_PORT
start_echo rebind
start_relay rebind --rebind-every 1
rebind_pid=$RELAY_PID
rebind_port=$RELAY_PORT
rebind_t0=$RELAY_T0
ECHO_PORT=$main_echo_port
start_relay blackout --blackout 1:1 --blackout 2.5:0.3
blackout_t0=$RELAY_T0
first_port=$(sed -n 's/.* source_port=\([0-9]*\).*/\1/p' "$TMP/rebind.log")
python3 -S "$UDP_PEER" timed --port "$rebind_port" --t0 "$rebind_t0" --until 3.2 \
    --interval-ms 20 >"$TMP/rebind.out" &
rebind_peer=$!
PIDS+=("$rebind_peer")
peer timed --t0 "$blackout_t0" --until 3.2 --interval-ms 10 \
    --ok 0:0.9,2.1:2.4,2.9:3.5 --lost 1.1:1.9,2.55:2.75
wait "$rebind_peer" || die "udp_peer.py timed (rebind) failed"
forget_pid "$rebind_peer"
sed 's/^/    /' "$TMP/rebind.out" | paste -sd' '

check "blackout: nothing through inside the windows ($(val lost_echoed) of $(val lost_sent))" \
    "$(val lost_sent) >= 80 && $(val lost_echoed) == 0"
check "blackout: everything through outside them ($(val ok_echoed) of $(val ok_sent))" \
    "$(val ok_sent) >= 60 && $(val ok_echoed) == $(val ok_sent)"
stop_relay blackout
check "blackout: counted" "$(stat blackout up dropped_blackout) >= 80"

stop_relay rebind "$rebind_pid"
stop_echo
ECHO_PID=$main_echo_pid
stop_echo
ports=$(echo_stat rebind ports)
nports=$(tr ',' '\n' <<<"$ports" | grep -c .)
check "rebind every 1 s: the server saw >= 3 source ports in 3.2 s ($ports)" "$nports >= 3"
# The relay logs its source port at start and at each rebind; the server must have seen only
# those. (Whether a datagram went out before the first rebind depends on how fast the peer
# started, so the start port alone is not required.)
logged_ports=$( (echo "$first_port"; sed -n 's/.*rebind [0-9]*: source port \([0-9]*\).*/\1/p' "$TMP/rebind.log") |
    paste -sd,)
unlogged=$(tr ',' '\n' <<<"$ports" | grep -vxF -f <(tr ',' '\n' <<<"$logged_ports") | paste -sd,)
if [ -n "$first_port" ] && [ -z "$unlogged" ]; then
    pass "rebind: every source port the server saw is one the relay logged ($logged_ports)"
else
    fail "rebind: every source port the server saw is one the relay logged ($logged_ports; not: ${unlogged:-none})"
fi
check "rebind: counted ($(stat rebind up rebinds))" "$(stat rebind up rebinds) >= $nports - 1"
check "rebind: echoes keep flowing ($(val echoes "$TMP/rebind.out") of $(val sent "$TMP/rebind.out"))" \
    "$(val echoes "$TMP/rebind.out") >= 0.95 * $(val sent "$TMP/rebind.out")"

echo "$checks checks, $failures failed"
[ "$failures" = 0 ]
