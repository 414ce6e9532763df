#!/usr/bin/env bash
# The gateway pipes the QUIC stream to the backend verbatim: a 64 MiB echo arrives intact
# both ways; the client's source port can change mid-transfer (NAT rebinding) and the client
# can migrate actively, on the same connection; the backend closing or being unreachable
# closes the QUIC connection with the documented application error, and a silent client is
# dropped after the idle timeout with its backend connection; IPv6 and dual stack work;
# --max-connections
# refuses the connection beyond the limit with CONNECTION_REFUSED.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
gateway_require

backend_start echo || die "backend_start echo"
echo_port=$BACKEND_PORT
gateway_start --backend-port "$echo_port" -vv || die "gateway_start"

mib=$((1024 * 1024))
start=$(date +%s%N)
probe --echo $((64 * mib)) --timeout 120
ms=$((($(date +%s%N) - start) / 1000000))
expect_rc 0 "64 MiB echo"
expect_line_match "^echo: ok $((64 * mib)) bytes sha256=[0-9a-f]{64}$" "64 MiB echoed intact (${ms} ms)"
conn=$(probe_conn)
close=$(audit_line "$conn" close)
expect_true "audit counts 64 MiB each way" grep -q " client_to_backend=$((64 * mib)) backend_to_client=$((64 * mib)) " <<<"$close"
# -vv: the connection's QUIC statistics at its close (written just after the audit line).
stats_re="conn $conn: srtt [0-9.]+ ms, min rtt [0-9.]+ ms, cwnd [1-9][0-9]*, packet [0-9]+ bytes, stalls: flow control [0-9]+, congestion [0-9]+, send quantum [0-9]+, socket full [0-9]+$"
for ((i = 0; i < 50; i++)); do
    grep -Eq "$stats_re" "$GATEWAY_LOG" && break
    sleep 0.02
done
expect_true "-vv: QUIC statistics at the close" grep -Eq "$stats_re" "$GATEWAY_LOG"

probe --echo $((32 * mib)) --rebind-after $((4 * mib)) --timeout 120
expect_rc 0 "NAT rebinding mid-transfer"
expect_line "rebound: new source port" "the client's port changed"
expect_line_match "^echo: ok $((32 * mib)) bytes" "32 MiB intact across the rebinding"
conn=$(probe_conn)
expect_eq "$(grep -c "event=open conn=$conn " "$GATEWAY_AUDIT")" 1 "rebinding: one connection in the audit log"
expect_true "the gateway validated the new path" grep -q "conn $conn: path to 127.0.0.1:[0-9]* validated" "$GATEWAY_LOG"

probe --echo $((32 * mib)) --migrate-after $((4 * mib)) --timeout 120
expect_rc 0 "active migration mid-transfer"
expect_line "migrated: new local address" "the client migrated"
expect_line_match "^echo: ok $((32 * mib)) bytes" "32 MiB intact across the migration"
conn=$(probe_conn)
expect_eq "$(grep -c "event=open conn=$conn " "$GATEWAY_AUDIT")" 1 "migration: one connection in the audit log"

# A client that goes silent is dropped after the idle timeout (the lower of the two sides'
# max_idle_timeout: 2 s here), and its backend connection is closed.
backend_conns() {
    ss -Htn state established "( dport = :$echo_port )" | grep -c .
}
probe --echo 100 --idle 2 --hold 6
conn=$(probe_conn)
expect_true "idle: the client's own stack saw the idle timeout" grep -q "idle timeout" <<<"$ERR"
expect_true "idle: audit close reason" grep -q 'reason="idle timeout"$' <<<"$(audit_line "$conn" close)"
expect_eq "$(backend_conns)" 0 "idle: no backend connection left"
gateway_stop

# IPv6, and a dual-stack wildcard that answers IPv4 clients from the address they used.
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
    for listen in "[::1]" "[::]"; do
        "$SMBQUIC_GATEWAY" --listen "$listen:0" --cert "$CERT_SERVER" --key "$KEY_SERVER" \
            --backend "127.0.0.1:$echo_port" >"$TEST_TMP/v6.log" 2>&1 &
        v6pid=$!
        v6port=""
        for ((i = 0; i < 100; i++)); do
            v6port=$(sed -n 's/.*listening on \[::1\{0,1\}\]:\([0-9]*\) .*/\1/p' "$TEST_TMP/v6.log" 2>/dev/null)
            [ -n "$v6port" ] && break
            sleep 0.05
        done
        targets=("[::1]:$v6port")
        [ "$listen" = "[::]" ] && targets+=("127.0.0.1:$v6port")
        for target in "${targets[@]}"; do
            "$QUIC_PROBE" --connect "$target" --servername smb.test --cafile "$CERT_CA" \
                --echo $((2 * mib)) >"$TEST_TMP/v6.out" 2>&1
            expect_eq "$?" 0 "listen $listen, client to $target: 2 MiB echo"
        done
        kill -TERM "$v6pid"
        wait "$v6pid"
        expect_eq "$?" 0 "listen $listen: exit status"
    done
else
    echo "# no IPv6 loopback: IPv6 not checked"
fi

# The backend closes at once: the client gets application error 0x1.
backend_start close || die "backend_start close"
gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
probe --echo 1000
expect_rc 1 "backend closes"
expect_eq "$ERR" "closed by server: application error 0x1 reason: SMB server closed the connection" "backend closes: application error 0x1"
# (closed or reset: the backend closes with the client's bytes unread)
expect_true "audit: backend closed" grep -Eq 'reason="backend (closed the connection|connection lost: .*|write: .*)"$' <<<"$(audit_line "$(probe_conn)" close)"
gateway_stop

# Nothing listens on the backend port: application error 0x2.
dead_port=$BACKEND_PORT
kill "$BACKEND_PID"
wait "$BACKEND_PID" 2>/dev/null
gateway_start --backend-port "$dead_port" || die "gateway_start"
probe --echo 1000
expect_rc 1 "backend unreachable"
expect_eq "$ERR" "closed by server: application error 0x2 reason: SMB server unreachable" "backend unreachable: application error 0x2"
expect_true "audit: backend unreachable" grep -q 'reason="backend unreachable: Connection refused"$' <<<"$(audit_line "$(probe_conn)" close)"
gateway_stop

# --max-connections 2: the third concurrent client is refused.
gateway_start --backend-port "$echo_port" --max-connections 2 || die "gateway_start"
pids=()
for i in 1 2; do
    "$QUIC_PROBE" --connect "127.0.0.1:$GATEWAY_PORT" --servername smb.test --cafile "$CERT_CA" \
        --echo 1000 --hold 5 >"$TEST_TMP/hold$i.out" 2>&1 &
    pids+=($!)
done
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c 'event=open' "$GATEWAY_AUDIT")" -ge 2 ] && break
    sleep 0.05
done
probe --handshake
expect_rc 1 "a third connection is refused"
expect_eq "$ERR" "closed by server: transport error 0x2 reason: " "refused with CONNECTION_REFUSED"
for pid in "${pids[@]}"; do
    wait "$pid"
    expect_eq "$?" 0 "the two admitted clients finish"
done
probe --handshake
expect_rc 0 "a connection is accepted again once the others are gone"

test_done
