#!/usr/bin/env bash
# The gateway pipes the QUIC stream to the backend verbatim: a 64 MiB echo arrives intact
# both ways; the client's source port can change mid-transfer (NAT rebinding) and the client
# can migrate actively, on the same connection; the backend closing or being unreachable
# closes the QUIC connection with the documented application error; --max-connections
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
gateway_start --backend-port "$echo_port" -v || die "gateway_start"

mib=$((1024 * 1024))
start=$(date +%s%N)
probe --echo $((64 * mib)) --timeout 120
ms=$((($(date +%s%N) - start) / 1000000))
expect_rc 0 "64 MiB echo"
expect_line_match "^echo: ok $((64 * mib)) bytes sha256=[0-9a-f]{64}$" "64 MiB echoed intact (${ms} ms)"
conn=$(probe_conn)
close=$(audit_line "$conn" close)
expect_true "audit counts 64 MiB each way" grep -q " client_to_backend=$((64 * mib)) backend_to_client=$((64 * mib)) " <<<"$close"

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
gateway_stop
expect_eq "$GATEWAY_EXIT" 0 "gateway exit status"

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
