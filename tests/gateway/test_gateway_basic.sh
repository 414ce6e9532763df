#!/usr/bin/env bash
# smbquic-gateway: refuses bad command lines and files with one clear message, starts, answers
# a QUIC handshake with ALPN "smb", writes its audit lines (reopened on SIGHUP for log
# rotation), and on SIGTERM closes its open
# connections with CONNECTION_CLOSE (application error 0, "server shutting down") and exits 0.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
gateway_require
GW=$(gateway_binary)

# gw ARGS...: run the gateway in the foreground (for the ones that must fail at once).
gw() {
    echo "+ smbquic-gateway $*" >&2
    timeout 10 "$GW" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$TEST_TMP/out")
    ERR=$(cat "$TEST_TMP/err")
}
good=(--cert "$CERT_SERVER" --key "$KEY_SERVER")

gw
expect_rc 2 "no arguments"
expect_true "no arguments: says what is required" grep -q -- "--listen, --cert, --key and --backend are required" <<<"$ERR"
gw --listen 127.0.0.1 "${good[@]}" --backend 127.0.0.1:445
expect_rc 2 "--listen without a port"
expect_true "bad --listen is named" grep -qF "'127.0.0.1' is not HOST:PORT" <<<"$ERR"
gw --listen localhost:4433 "${good[@]}" --backend 127.0.0.1:445
expect_rc 2 "--listen with a name"
expect_true "--listen must be numeric" grep -qF "not a numeric address" <<<"$ERR"
gw --listen ::1:4433 "${good[@]}" --backend 127.0.0.1:445
expect_rc 2 "IPv6 --listen without brackets"
gw --listen 127.0.0.1:0 "${good[@]}" --backend 127.0.0.1:445 --max-connections 0
expect_rc 2 "--max-connections 0"
gw --listen 127.0.0.1:0 "${good[@]}" --backend 127.0.0.1:445 extra
expect_rc 2 "a stray argument"
gw --listen 127.0.0.1:0 --cert /nonexistent.pem --key "$KEY_SERVER" --backend 127.0.0.1:445
expect_rc 1 "missing certificate file"
expect_true "missing certificate is named" grep -qF "cannot load --cert /nonexistent.pem" <<<"$ERR"
gw --listen 127.0.0.1:0 --cert "$CERT_SERVER" --key "$KEY_CLIENT1" --backend 127.0.0.1:445
expect_rc 1 "key that does not match the certificate"
printf 'require\nallow sha256 1234\n' >"$TEST_TMP/bad.access"
gw --listen 127.0.0.1:0 "${good[@]}" --backend 127.0.0.1:445 --access "$TEST_TMP/bad.access"
expect_rc 1 "bad access file"
expect_eq "$ERR" "smbquic-gateway: --access $TEST_TMP/bad.access:2: '1234' is not a SHA-256 (64 hex digits)" "bad access file: file, line and reason"
gw --listen 127.0.0.1:0 "${good[@]}" --backend 127.0.0.1:445 --audit /nonexistent/dir/audit
expect_rc 1 "audit file in a missing directory"
gw --version
expect_rc 0 "--version"
expect_true "--version names ngtcp2 and GnuTLS" grep -Eq '^smbquic-gateway [0-9.]+ \(ngtcp2 [0-9.]+, GnuTLS [0-9.]+\)$' <<<"$OUT"
gw --help
expect_rc 0 "--help"
expect_true "--help lists --access" grep -q -- "--access FILE" <<<"$OUT"

# A server certificate without serverAuth starts, with a warning.
backend_start echo || die "backend_start"
timeout --preserve-status 1 "$GW" --listen 127.0.0.1:0 --cert "$CERT_SERVER_NOSERVERAUTH" \
    --key "$KEY_SERVER_NOSERVERAUTH" --backend "127.0.0.1:$BACKEND_PORT" \
    >/dev/null 2>"$TEST_TMP/warn.err" </dev/null
expect_eq "$?" 0 "SIGTERM (from timeout) with no connection: exit 0"
expect_true "a certificate without serverAuth is warned about" grep -q "no EKU serverAuth" "$TEST_TMP/warn.err"

gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
expect_true "the gateway logs where it listens" grep -q "listening on 127.0.0.1:$GATEWAY_PORT (UDP)" "$GATEWAY_LOG"

probe --handshake
expect_rc 0 "handshake"
expect_line "handshake: ok alpn=smb" "ALPN smb negotiated"
conn=$(probe_conn)
sleep 0.2
open=$(audit_line "$conn" open)
expect_true "audit open line for $conn" test -n "$open"
expect_true "audit open line format" grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z event=open conn=$conn peer=127\.0\.0\.1:[0-9]+ result=allowed rule=default subject=- issuer=- serial=- sha256=-$" <<<"$open"
close=$(audit_line "$conn" close)
expect_true "audit close line format" grep -Eq "^[0-9T:.Z-]+ event=close conn=$conn peer=127\.0\.0\.1:[0-9]+ client_to_backend=0 backend_to_client=0 duration=[0-9]+\.[0-9]{3} reason=\"client closed: application error 0x0\"$" <<<"$close"

probe --limits
expect_line "limits: bidi_left=1 uni_left=0" "one bidirectional stream, no unidirectional ones"

# Log rotation: the file is moved away, a new one created (as logrotate's "create" does, for
# the gateway's user), SIGHUP makes the gateway write to the new one.
mv "$GATEWAY_AUDIT" "$GATEWAY_AUDIT.1"
install -m 0640 /dev/null "$GATEWAY_AUDIT"
[ "$(id -u)" -eq 0 ] && chown nobody "$GATEWAY_AUDIT"
kill -HUP "$GATEWAY_PID"
sleep 0.2
expect_true "SIGHUP does not stop the gateway" kill -0 "$GATEWAY_PID"
probe --handshake
expect_rc 0 "handshake after SIGHUP"
expect_true "after SIGHUP the audit lines go to the new file" test -n "$(audit_line "$(probe_conn)" open)"
expect_true "... and not to the old one" test -z "$(grep -F "conn=$(probe_conn) " "$GATEWAY_AUDIT.1")"

# SIGTERM with a connection open: it is closed properly and the gateway exits 0.
"$QUIC_PROBE" --connect "127.0.0.1:$GATEWAY_PORT" --servername smb.test --cafile "$CERT_CA" \
    --echo 1000 --hold 30 >"$TEST_TMP/held.out" 2>"$TEST_TMP/held.err" &
held=$!
held_conn=""
for ((i = 0; i < 100; i++)); do
    held_conn=$(sed -n 's/^conn: //p' "$TEST_TMP/held.out")
    [ -n "$held_conn" ] && [ -n "$(audit_line "$held_conn" open)" ] && break
    sleep 0.1
done
expect_true "the held connection is open" test -n "$(audit_line "$held_conn" open)"
start=$(date +%s%N)
gateway_stop
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$GATEWAY_EXIT" 0 "SIGTERM: exit status 0"
expect_true "SIGTERM: exits within 2 s (${elapsed_ms} ms)" test "$elapsed_ms" -lt 2000
wait "$held"
held_rc=$?
expect_eq "$held_rc" 1 "the held client is disconnected"
expect_eq "$(cat "$TEST_TMP/held.err")" "closed by server: application error 0x0 reason: server shutting down" "the held client gets CONNECTION_CLOSE with application error 0"
expect_true "audit: the held connection closed on shutdown" grep -q 'reason="gateway shutting down"$' <<<"$(audit_line "$held_conn" close)"
expect_true "the gateway says it stopped" grep -q "smbquic-gateway: stopped" "$GATEWAY_LOG"

test_done
