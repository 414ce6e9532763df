#!/usr/bin/env bash
# The gateway over a bad path (tests/tools/udp-impair between quic_probe and the gateway,
# 50 ms round trip): 16 MiB echoed intact each way, on one connection each, with 1% loss,
# burst loss, jitter and reordering, duplication and corruption, the client's source port
# rebound every 250 ms (NAT rebinding), and a 3 s blackout.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
gateway_require
if [ -z "${UDP_IMPAIR:-}" ] || [ ! -x "$UDP_IMPAIR" ]; then
    skip "udp-impair not built (UDP_IMPAIR='${UDP_IMPAIR:-}')"
fi

backend_start echo || die "backend_start"
gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
mib=$((1024 * 1024))

# through DESC IMPAIRMENTS...: a 16 MiB echo through the relay.
through() {
    local desc=$1 relay
    shift
    rm -f "$TEST_TMP/relay.port"
    "$UDP_IMPAIR" --listen 127.0.0.1:0 --target "127.0.0.1:$GATEWAY_PORT" --delay 25 --seed 7 \
        "$@" --ready-file "$TEST_TMP/relay.port" --stats-file "$TEST_TMP/relay.stats" \
        2>"$TEST_TMP/relay.err" &
    relay=$!
    wait_for_file "$TEST_TMP/relay.port" || die "udp-impair did not start: $(cat "$TEST_TMP/relay.err")"
    local start=$SECONDS
    "$QUIC_PROBE" --connect "127.0.0.1:$(cat "$TEST_TMP/relay.port")" --servername smb.test \
        --cafile "$CERT_CA" --echo $((16 * mib)) --timeout 120 >"$TEST_TMP/probe.out" \
        2>"$TEST_TMP/probe.err"
    RC=$?
    kill "$relay" 2>/dev/null
    wait "$relay" 2>/dev/null
    OUT=$(cat "$TEST_TMP/probe.out")
    ERR=$(cat "$TEST_TMP/probe.err")
    expect_rc 0 "$desc: 16 MiB echo ($((SECONDS - start)) s)"
    expect_line_match "^echo: ok $((16 * mib)) bytes" "$desc: intact"
    local conn
    conn=$(probe_conn)
    expect_eq "$(grep -c "event=open conn=$conn " "$GATEWAY_AUDIT")" 1 "$desc: one connection"
}

through "1% loss" --loss 0.01
through "burst loss" --burst-loss 0.005:8
through "jitter and reordering" --jitter 10 --reorder 0.05
through "duplication and corruption" --duplicate 0.05 --corrupt 0.005
# The rebinding starts after the handshake: a server must not follow a client to a new
# address before the handshake is confirmed (RFC 9000 9), and a sanitized build's handshake
# can outlast 250 ms. The rate keeps the transfer going long enough to be rebound often.
through "source port rebound every 250 ms" --rebind-every 0.25 --rebind-start 1 --rate 40
rebinds=$(sed -n 's/^dir=up .* rebinds=\([0-9]*\).*/\1/p' "$TEST_TMP/relay.stats")
expect_true "the relay rebound ${rebinds:-0} times during the transfer" test "${rebinds:-0}" -ge 2
through "3 s blackout" --blackout 1:3
expect_true "the gateway is still running" kill -0 "$GATEWAY_PID"
gateway_stop
expect_eq "$GATEWAY_EXIT" 0 "exit status"

test_done
