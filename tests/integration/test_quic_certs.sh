#!/usr/bin/env bash
# Server certificates over QUIC, against smbquic-gateway in front of Samba, with the test
# certificates of tests/rig/certs.sh: each bad server certificate (expired, not yet valid, wrong
# name, no serverAuth EKU, unknown CA) is refused with its own message and exit 7 and no SMB
# byte reaches the server; the good one works with cafile=; pin=sha256: works without cafile=
# (and reaches a server no CA vouches for), a wrong pin fails; an address without servername=
# fails with its message; `smbquic check` prints its stage lines. Peers that are not SMB over
# QUIC are refused cleanly: nothing listening (exit 3, "udp"), a UDP peer answering garbage, and
# a QUIC server with another ALPN (tests/integration/quic_alpn_server.c, with and without
# GnuTLS's mandatory ALPN). transport=auto falls back to TCP 445 when QUIC does not answer
# (and says so with -v), never on a certificate failure: the test re-runs itself in a network
# namespace of its own so that port 445 can be redirected to the test smbd there.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"

if [ -z "${SMBQUIC_IN_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    exec unshare -n env SMBQUIC_IN_NETNS=1 bash "$0" "$@"
fi

rig_require
qgw_require
if [ -z "${QUIC_ALPN_SERVER:-}" ] || [ ! -x "$QUIC_ALPN_SERVER" ]; then
    skip "quic_alpn_server not built (QUIC_ALPN_SERVER='${QUIC_ALPN_SERVER:-}')"
fi
command -v python3 >/dev/null || skip "python3 not installed"
if [ -n "${SMBQUIC_IN_NETNS:-}" ]; then
    ip link set lo up || die "cannot bring up lo in the test's network namespace"
    echo "# in a network namespace of its own"
fi

certs_make "$TEST_TMP/certs" >/dev/null || die "certs_make failed"
samba_start signing-mandatory || die "samba_start"

# serve NAME: the gateway in front of smbd with certificate NAME (SERVER, SERVER_EXPIRED, ...).
serve() {
    local cert=CERT_$1 key=KEY_$1
    CERT_SERVER=${!cert} KEY_SERVER=${!key} qgw_restart "$SAMBA_PORT" || die "gateway with $1"
}
# q [EXTRA]: QUIC options to the gateway, without trust options.
q() {
    printf 'port=%s,transport=quic,username=%s%s' "$QGW_PORT" "$SAMBA_USER" "${1:+,$1}"
}
trust="servername=$CERTS_SERVER_NAME,cafile=$CERT_CA"

# expect_stage NAME STATUS_ERE DESC: `check` printed "NAME: STATUS..." (ERE after the colon).
expect_stage() {
    expect_line_match "^$1: $2\$" "$3"
}

# ---- the good certificate ----
serve SERVER
smbq ls "$UNC" -o "$(q "$trust")"
expect_ok "good certificate, trusted with cafile="
expect_eq "$(qgw_conns open | wc -l) $(qgw_conns close | wc -l)" "1 1" \
    "the gateway logged the connection (open and close)"

smbq check "$UNC" -o "$(q "$trust")"
expect_rc 0 "check with the good certificate"
expect_stage "name resolution" 'OK \(127\.0\.0\.1\)' "check: name resolution OK"
expect_stage "udp reachability" 'OK \(.+\)' "check: udp reachability OK"
expect_stage "quic handshake" 'OK \(TLS 1\.3, ALPN smb, connection [0-9a-f]+\)' "check: quic handshake OK"
expect_stage "certificate" "OK \\(CN=smb\\.test, issuer CN=smbquic test CA, sha256 $SHA256_SERVER\\)" \
    "check: certificate OK with subject, issuer and SHA-256"
expect_stage "negotiate" 'OK \(SMB 3\.1\.1, .+\)' "check: negotiate OK"
expect_stage "authentication" 'OK \(ntlmssp as smbqtest, .+\)' "check: authentication OK"
expect_stage "tree connect" 'OK \(.+share\)' "check: tree connect OK"
expect_line "all stages OK" "check: summary"

# The test CA is in no system trust store: without cafile= the good certificate is refused.
smbq ls "$UNC" -o "$(q "servername=$CERTS_SERVER_NAME")"
expect_failure 7 "smbquic: certificate failed: the server certificate is not from a trusted issuer (CN=smbquic test CA); add its CA with cafile= or pin it with pin=sha256:$SHA256_SERVER" \
    "without cafile= the test CA is not trusted"

# By address without servername=: refused before anything is sent.
before=$(qgw_conns open | wc -l)
smbq ls "$UNC" -o "$(q "cafile=$CERT_CA")"
expect_failure 7 "smbquic: certificate failed: connecting to the address 127.0.0.1: give the name its certificate must carry with servername=NAME" \
    "an address without servername= is refused"
expect_eq "$(qgw_conns open | wc -l)" "$before" "no connection reached the gateway without servername="

# ---- pinning ----
smbq info "$UNC" -o "$(q "pin=sha256:$SHA256_SERVER")"
expect_ok "pin=sha256:<right> without cafile= and without servername="
expect_line "server_cert_sha256: $SHA256_SERVER" "info shows the pinned certificate's SHA-256"
colons=$(sed 's/../&:/g; s/:$//' <<<"${SHA256_SERVER^^}")
smbq ls "$UNC" -o "$(q "pin=sha256:$colons")"
expect_ok "pin in upper case with colons"
smbq ls "$UNC" -o "$(q "pin=sha256:$SHA256_CA")"
expect_failure 7 "smbquic: certificate failed: the server certificate (sha256:$SHA256_SERVER) does not match the pin" \
    "a wrong pin fails"
smbq ls "$UNC" -o "$(q "$trust,pin=sha256:$SHA256_CA")"
expect_failure 7 "smbquic: certificate failed: the server certificate (sha256:$SHA256_SERVER) does not match the pin" \
    "a wrong pin fails even when cafile= would trust the certificate"
# The public key's pin (SubjectPublicKeyInfo, as certtool --pubkey-info --outder hashes it).
smbq info "$UNC" -o "$(q "pin=spki-sha256:$SPKI_SERVER")"
expect_ok "pin=spki-sha256:<right> without cafile= and without servername="
expect_line "server_spki_sha256: $SPKI_SERVER" "info shows the server's public key's SHA-256"
smbq ls "$UNC" -o "$(q "pin=spki-sha256:$SHA256_SERVER")"
expect_failure 7 "smbquic: certificate failed: the server's public key (spki-sha256:$SPKI_SERVER) does not match the pin" \
    "a wrong public-key pin fails"
# A renewal that keeps the key: the certificate's pin breaks, the public key's holds.
serve SERVER_RENEWED
smbq ls "$UNC" -o "$(q "pin=sha256:$SHA256_SERVER")"
expect_failure 7 "smbquic: certificate failed: the server certificate (sha256:$SHA256_SERVER_RENEWED) does not match the pin" \
    "after a renewal the certificate's pin fails"
smbq ls "$UNC" -o "$(q "pin=spki-sha256:$SPKI_SERVER")"
expect_ok "after a renewal that kept the key, the public key's pin still works"
smbq ls "$UNC" -o "$(q "$trust")"
expect_ok "and the renewed certificate from the same CA just works with cafile="
serve SERVER

# ---- each bad certificate: its own message, exit 7, no SMB to the server ----
declare -A want=(
    [SERVER_EXPIRED]="the server certificate has expired"
    [SERVER_NOTYET]="the server certificate is not yet valid"
    [SERVER_WRONGNAME]="the server certificate is not valid for the name 'smb.test' (subject CN=other.test)"
    [SERVER_NOSERVERAUTH]="the server certificate is not allowed for TLS servers (no serverAuth extended key usage)"
    [SERVER_UNKNOWNCA]="the server certificate is not from a trusted issuer (CN=smbquic rogue CA); add its CA with cafile= or pin it with pin=sha256:$SHA256_SERVER_UNKNOWNCA"
)
for name in SERVER_EXPIRED SERVER_NOTYET SERVER_WRONGNAME SERVER_NOSERVERAUTH SERVER_UNKNOWNCA; do
    serve "$name"
    smbq ls "$UNC" -o "$(q "$trust")"
    expect_failure 7 "smbquic: certificate failed: ${want[$name]}" "$name is refused"
    smbq check "$UNC" -o "$(q "$trust")"
    expect_rc 7 "$name: check"
    expect_stage "udp reachability" 'OK \(.+\)' "$name: check: udp reachability OK"
    expect_line "certificate: FAILED: ${want[$name]}" "$name: check: the certificate stage failed"
    expect_line_match '^  hint: .+' "$name: check: a hint follows"
    expect_line "negotiate: skipped" "$name: check: later stages skipped"
    expect_eq "$(qgw_conns open | wc -l)" 0 "$name: no connection was passed to the server"
done
expect_eq "$(printf '%s\n' "${want[@]}" | sort -u | wc -l)" 5 "five different messages"

# An explicit pin reaches a server no trusted CA vouches for (as a self-signed one).
smbq ls "$UNC" -o "$(q "pin=sha256:$SHA256_SERVER_UNKNOWNCA")"
expect_ok "pin=sha256: of a certificate from an unknown CA"

# ---- peers that are not SMB over QUIC ----
closed=$(free_udp_port)
smbq ls "$UNC" -o "port=$closed,transport=quic,$trust,username=$SAMBA_USER"
expect_failure 3 "smbquic: udp failed: 127.0.0.1 port $closed/udp is unreachable (nothing listens there)" \
    "nothing listens on the UDP port"
smbq check "$UNC" -o "port=$closed,transport=quic,$trust,username=$SAMBA_USER"
expect_rc 3 "check: nothing listens"
expect_line "udp reachability: FAILED: 127.0.0.1 port $closed/udp is unreachable (nothing listens there)" \
    "check: udp reachability FAILED"
expect_line_match '^  hint: .+' "check: a hint follows the udp failure"
expect_line "quic handshake: skipped" "check: the handshake is skipped"

HELPER_PID=
start_helper() { # PORTFILE CMD...: run a helper in the background until stop_helper
    local portfile=$1
    shift
    rm -f "$portfile"
    "$@" 2>"$TEST_TMP/helper.err" &
    HELPER_PID=$!
    wait_for_file "$portfile" || die "helper did not start: $* ($(cat "$TEST_TMP/helper.err"))"
    HELPER_PORT=$(cat "$portfile")
}
stop_helper() {
    if [ -n "$HELPER_PID" ]; then
        kill "$HELPER_PID" 2>/dev/null
        wait "$HELPER_PID" 2>/dev/null
        HELPER_PID=
    fi
}
rig_cleanup_add stop_helper

start_helper "$TEST_TMP/junk.port" python3 "$(dirname "$0")/udp_junk.py" garbage "$TEST_TMP/junk.port"
start=$EPOCHREALTIME
smbq ls "$UNC" -o "port=$HELPER_PORT,transport=quic,$trust,username=$SAMBA_USER"
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
expect_failure 3 "smbquic: quic handshake failed: no QUIC answer from 127.0.0.1:$HELPER_PORT (is UDP $HELPER_PORT open?)" \
    "a UDP peer that answers garbage is refused (after ${secs}s)"
expect_true "refused within the 10 s connect timeout and a little (${secs}s)" \
    awk -v s="$secs" 'BEGIN { exit !(s < 13) }'
stop_helper
expect_true "the garbage peer did get the client's packets ($(cat "$TEST_TMP/helper.err"))" \
    grep -Eq '^received [1-9]' "$TEST_TMP/helper.err"

for mode in "" --mandatory; do
    start_helper "$TEST_TMP/alpn.port" "$QUIC_ALPN_SERVER" --cert "$CERT_SERVER" --key "$KEY_SERVER" \
        --alpn h3 $mode --ready-file "$TEST_TMP/alpn.port"
    smbq ls "$UNC" -o "port=$HELPER_PORT,transport=quic,$trust,username=$SAMBA_USER"
    if [ -z "$mode" ]; then
        expect_failure 3 'smbquic: quic handshake failed: the server did not select ALPN "smb": not an SMB over QUIC server' \
            "a QUIC server offering only h3 (handshake completes without ALPN) is refused"
    else
        expect_failure 3 'smbquic: quic handshake failed: the server does not speak SMB over QUIC (ALPN "smb")' \
            "a QUIC server requiring h3 (alert no_application_protocol) is refused"
    fi
    smbq check "$UNC" -o "port=$HELPER_PORT,transport=quic,$trust,username=$SAMBA_USER"
    expect_rc 3 "check against the h3 server${mode:+ ($mode)}"
    expect_line_match '^quic handshake: FAILED: .*ALPN.*smb.*$' "check: quic handshake FAILED names the ALPN${mode:+ ($mode)}"
    if [ -z "$mode" ]; then
        expect_line "certificate: OK (verified during the handshake)" \
            "check: the certificate passed before the ALPN was found wrong"
    else
        expect_line "certificate: skipped" "check: no certificate verdict when the handshake failed"
    fi
    stop_helper
    if [ -z "$mode" ]; then
        expect_true "the h3 server did complete a handshake (only ALPN was wrong)" \
            grep -q 'handshake completed, no ALPN selected' "$TEST_TMP/helper.err"
    else
        expect_true "the h3 server refused with alert 120" grep -q 'TLS alert 120' "$TEST_TMP/helper.err"
    fi
done

# ---- transport=auto ----
if [ -z "${SMBQUIC_IN_NETNS:-}" ]; then
    echo "# transport=auto cases skipped: no network namespace (unshare -n failed), so TCP 445 cannot be redirected"
    test_done
fi
command -v iptables >/dev/null || skip "iptables not installed (transport=auto cases)"
iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 445 -j REDIRECT --to-ports "$SAMBA_PORT" ||
    die "iptables REDIRECT of port 445 failed"
# tcp445: how many TCP connections went to port 445 (the nat table sees each one's first packet).
tcp445() {
    iptables -t nat -L OUTPUT -n -v -x | awk '/dpt:445 / { print $1 }'
}

closed=$(free_udp_port)
before=$(tcp445)
smbq info "$UNC" -o "port=$closed,transport=auto,$trust,username=$SAMBA_USER" -v
expect_rc 0 "auto, nothing on UDP: falls back to TCP"
expect_line "transport: tcp" "auto, nothing on UDP: info says tcp"
expect_true "auto: -v says QUIC failed and TCP 445 is tried" \
    grep -Eq '^smbquic: QUIC failed \(.+\); trying TCP port 445$' <<<"$ERR"
expect_eq "$(tcp445)" "$((before + 1))" "auto: one TCP connection to port 445"

start_helper "$TEST_TMP/silent.port" python3 "$(dirname "$0")/udp_junk.py" silent "$TEST_TMP/silent.port"
start=$EPOCHREALTIME
smbq info "$UNC" -o "port=$HELPER_PORT,transport=auto,$trust,username=$SAMBA_USER" -v
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
stop_helper
expect_rc 0 "auto, UDP swallowed: falls back to TCP"
expect_line "transport: tcp" "auto, UDP swallowed: info says tcp"
expect_true "auto, UDP swallowed: -v says so" grep -q 'trying TCP port 445' <<<"$ERR"
expect_true "auto waited a short bounded time for QUIC (${secs}s; 3 s documented, 10 s is the full connect timeout)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 2.5 && s < 8) }'

serve SERVER
before=$(tcp445)
smbq info "$UNC" -o "port=$QGW_PORT,transport=auto,$trust,username=$SAMBA_USER"
expect_ok "auto with the gateway up"
expect_line "transport: quic" "auto prefers QUIC"
expect_eq "$(tcp445)" "$before" "auto with QUIC up: no TCP connection"

for name in SERVER_EXPIRED SERVER_UNKNOWNCA; do
    serve "$name"
    before=$(tcp445)
    smbq ls "$UNC" -o "port=$QGW_PORT,transport=auto,$trust,username=$SAMBA_USER" -v
    expect_rc 7 "auto, $name: certificate failure is final"
    expect_true "auto, $name: the certificate message is there" \
        grep -Fxq "smbquic: certificate failed: ${want[$name]}" <<<"$ERR"
    expect_eq "$(grep -c 'trying TCP' <<<"$ERR")" 0 "auto, $name: no fallback announced"
    expect_eq "$(tcp445)" "$before" "auto, $name: no TCP connection to port 445"
done

test_done
