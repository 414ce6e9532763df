#!/usr/bin/env bash
# Memory stays bounded (VmRSS/VmHWM from /proc), by back-pressure rather than buffering:
#   - a backend that never reads: the client can push only what the flow-control window
#     grants (32 MiB) plus what the backend's TCP buffers take; the gateway holds <= 32 MiB
#     (the window grows towards 64 MiB only while credit flows fast: never behind a stall);
#   - a backend that sends forever to a client that never reads: the gateway reads from the
#     backend only up to its unacknowledged-data cap, 32 MiB on loopback (twice BBR's
#     window, at least 32 and at most 64 MiB: gateway.h);
#   - an idle connection costs < 150 KiB;
#   - 50 concurrent clients echoing 4 MiB each all succeed within the stated bound
#     baseline + 50 x (150 KiB + 2 x 4 MiB): a connection can hold at most what its client
#     sent, in each direction (measured: about 1.5 MiB per connection);
#   - 10 clients pushing 64 MiB each into a stalled backend: <= 10 x (32 MiB + 150 KiB);
#   - after the connections end, RSS is at most the chunk pool (32 MiB) above the baseline, and
#     back near it once the gateway has had no connection for 10 s (checked within 30 s).
# Under ASan/UBSan (GATEWAY_SANITIZED=1) the flow-control checks run but RSS limits are not
# checked: the sanitizer's shadow memory and quarantine dominate.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
gateway_require

kib=1024
mib=$((1024 * 1024))
window_kib=$((32 * 1024)) # GW_RX_WINDOW and GW_TX_CAP_MIN, gateway.h
pool_kib=$((32 * 1024))   # GW_CHUNK_POOL_MAX chunks of GW_CHUNK_SIZE: freed chunks kept for reuse
idle_kib=150
sanitized=${GATEWAY_SANITIZED:-0}

# expect_kib_le GOT_KIB LIMIT_KIB DESC
expect_kib_le() {
    if [ "$sanitized" = 1 ]; then
        echo "# $3: ${1} KiB (limit ${2} KiB not checked under sanitizers)"
        return
    fi
    expect_true "$3: ${1} KiB <= ${2} KiB" test "$1" -le "$2"
}

# run_clients N ARGS...: N concurrent quic_probe runs; sets FAILS.
run_clients() {
    local n=$1 i pids=()
    shift
    for ((i = 0; i < n; i++)); do
        "$QUIC_PROBE" --connect "127.0.0.1:$GATEWAY_PORT" --servername smb.test \
            --cafile "$CERT_CA" "$@" >"$TEST_TMP/client$i.out" 2>&1 &
        pids+=($!)
    done
    FAILS=0
    for i in "${pids[@]}"; do
        wait "$i" || FAILS=$((FAILS + 1))
    done
}

backend_start stall || die "backend_start stall"
stall_port=$BACKEND_PORT
backend_start source || die "backend_start source"
source_port=$BACKEND_PORT
backend_start echo || die "backend_start echo"
echo_port=$BACKEND_PORT

# 1. A backend that never reads.
gateway_start --backend-port "$stall_port" || die "gateway_start"
base=$(gateway_rss_kb)
probe --push $((128 * mib)) --no-read --hold 3
expect_rc 0 "push into a stalled backend"
accepted=$(sed -n 's/^push: accepted \([0-9]*\) .*/\1/p' <<<"$OUT")
expect_true "flow control stops the client: accepted $accepted of $((128 * mib)) bytes" \
    test "${accepted:-0}" -ge $((32 * mib)) -a "${accepted:-0}" -le $((48 * mib))
expect_kib_le $(($(gateway_hwm_kb) - base)) $((window_kib + 2 * 1024)) "stalled backend: peak growth"
gateway_stop

# 2. A backend that sends forever; the client reads 1 MiB (its window) and no more.
gateway_start --backend-port "$source_port" || die "gateway_start"
base=$(gateway_rss_kb)
probe --push 1 --no-read --window $mib --hold 4
expect_rc 0 "a client that stops reading"
expect_line_match "received $mib\$" "the client got exactly its window"
expect_kib_le $(($(gateway_hwm_kb) - base)) $((window_kib + 64 + 2 * 1024)) "endless backend: peak growth"
gateway_stop

# 3. Idle connections, then 50 concurrent echo clients.
gateway_start --backend-port "$echo_port" || die "gateway_start"
base=$(gateway_rss_kb)
run_clients 50 --echo 100 --hold 5 &
runner=$!
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c 'event=open' "$GATEWAY_AUDIT")" -ge 50 ] && break
    sleep 0.1
done
sleep 1
idle=$(($(gateway_rss_kb) - base))
wait "$runner"
expect_kib_le $((idle / 50)) $idle_kib "one idle connection"
base=$(gateway_rss_kb)
run_clients 50 --echo $((4 * mib)) --timeout 180
expect_eq "$FAILS" 0 "50 concurrent clients echo 4 MiB each intact"
expect_eq "$(grep -c "^echo: ok $((4 * mib)) " "$TEST_TMP"/client*.out | awk -F: '{s += $2} END {print s}')" 50 "50 intact transfers"
peak=$(($(gateway_hwm_kb) - base))
echo "# 50 clients: peak growth $peak KiB, $((peak / 50)) KiB per connection"
expect_kib_le "$peak" $((50 * (idle_kib + 2 * 4 * 1024))) "50 clients: peak growth"
sleep 2 # the gateway trims its heap a second after connections end
expect_kib_le $(($(gateway_rss_kb) - base)) $((pool_kib + 8 * 1024)) \
    "after the 50 clients: at most the chunk pool above the baseline"
# The pool goes GW_POOL_IDLE_RELEASE (10 s) after the last connection is gone: the clients'
# connections drain first (three PTOs, longer on a loaded machine), so allow up to 30 s.
for ((i = 0; i < 60; i++)); do
    [ "$sanitized" = 1 ] || [ $(($(gateway_rss_kb) - base)) -le $((8 * 1024)) ] && break
    sleep 0.5
done
expect_kib_le $(($(gateway_rss_kb) - base)) $((8 * 1024)) \
    "without connections: back near the baseline (after $((i / 2)) more seconds)"
gateway_stop

# 4. Ten clients pushing 128 MiB each into a stalled backend: each connection holds at most
#    the window.
gateway_start --backend-port "$stall_port" || die "gateway_start"
base=$(gateway_rss_kb)
run_clients 10 --push $((128 * mib)) --no-read --hold 5
expect_eq "$FAILS" 0 "10 stalled pushers"
peak=$(($(gateway_hwm_kb) - base))
echo "# 10 stalled pushers: peak growth $peak KiB"
expect_kib_le "$peak" $((10 * (window_kib + idle_kib) + 4 * 1024)) "10 stalled pushers: peak growth"
gateway_stop
expect_eq "$GATEWAY_EXIT" 0 "gateway exit status"

test_done
