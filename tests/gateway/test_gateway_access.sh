#!/usr/bin/env bash
# Client-certificate access control through the QUIC handshake: none when required, denied by
# SHA-256, allowed by issuer but denied by SHA-256, allowed by issuer, allowed by SHA-256,
# certificates without clientAuth or out of validity; each checked in the client's result
# (CONNECTION_CLOSE with CRYPTO_ERROR 0x131, TLS alert access_denied) and in the audit log
# (result, rule, subject, issuer, serial, SHA-256). Also ALPN: a client offering "h3", or no
# ALPN at all, fails the handshake with no_application_protocol (0x178).
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
gateway_require

denied_line="closed by server: transport error 0x131 (TLS alert 49) reason: access denied by the client-certificate policy"

# check_case DESC NAME|none WANT(allowed|denied) RULE
check_case() {
    local desc=$1 name=$2 want=$3 rule=$4 args=() conn open sha subject
    if [ "$name" != none ]; then
        local cert_var=CERT_$name key_var=KEY_$name sha_var=SHA256_$name
        args=(--cert "${!cert_var}" --key "${!key_var}")
        sha=${!sha_var}
    fi
    probe --handshake "${args[@]}"
    conn=$(probe_conn)
    if [ "$want" = allowed ]; then
        expect_rc 0 "$desc: handshake succeeds"
    else
        expect_rc 1 "$desc: handshake refused"
        expect_eq "$ERR" "$denied_line" "$desc: the client sees access_denied"
    fi
    open=$(audit_line "$conn" open)
    expect_true "$desc: audit says $want" grep -q " result=$want " <<<"$open"
    local shown=$rule
    [[ $rule == *" "* ]] && shown="\"$rule\"" # values with spaces are quoted
    expect_true "$desc: audit names the rule $shown" grep -qF " rule=$shown " <<<"$open"
    if [ "$name" = none ]; then
        expect_true "$desc: audit has no certificate" grep -q ' subject=- issuer=- serial=- sha256=-$' <<<"$open"
    else
        subject=$(certtool -i --infile "${!cert_var}" | sed -n 's/^\tSubject: //p')
        expect_true "$desc: audit has the SHA-256" grep -q " sha256=$sha\$" <<<"$open"
        expect_true "$desc: audit has the subject" grep -qF "subject=$subject " <<<"$open"
        expect_true "$desc: audit has the issuer and serial" grep -Eq ' issuer="CN=smbquic test CA( 2)?" serial=[0-9a-f]+ ' <<<"$open"
    fi
    if [ "$want" = denied ]; then
        expect_true "$desc: audit close line says access denied" grep -qF "reason=\"access denied (rule $rule)\"" <<<"$(audit_line "$conn" close)"
    fi
}

backend_start echo || die "backend_start"

# 1. `require` alone: a certificate is mandatory.
printf '# certificates are mandatory\nrequire\n' >"$TEST_TMP/require.access"
gateway_start --backend-port "$BACKEND_PORT" --access "$TEST_TMP/require.access" || die "gateway_start"
check_case "require, no certificate" none denied "2:require"
check_case "require, certificate from CA" CLIENT1 allowed default
check_case "require, certificate from CA2" CLIENT_CA2 allowed default
check_case "require, no clientAuth EKU" CLIENT_NOAUTH denied cert:no-clientAuth-EKU
check_case "require, expired" CLIENT_EXPIRED denied cert:expired
gateway_stop

# 2. Allowed by issuer but denied by SHA-256; another issuer allowed by SHA-256 only.
cat >"$TEST_TMP/rules.access" <<RULES
allow issuer $CERT_CA     # everyone from the test CA...
deny sha256 $SHA256_CLIENT2   # ...except client2
allow sha256 $SHA256_CLIENT_CA2
RULES
gateway_start --backend-port "$BACKEND_PORT" --access "$TEST_TMP/rules.access" || die "gateway_start"
check_case "allow list, no certificate" none denied default
check_case "allowed by issuer" CLIENT1 allowed "1:allow issuer"
check_case "allowed by issuer but denied by SHA-256" CLIENT2 denied "2:deny sha256"
check_case "allowed by SHA-256" CLIENT_CA2 allowed "3:allow sha256"

# An allowed client really gets through to the backend.
probe --echo 100000 --cert "$CERT_CLIENT1" --key "$KEY_CLIENT1"
expect_rc 0 "allowed client: data flows to the backend and back"

# 3. ALPN: only "smb".
probe --handshake --alpn h3
expect_rc 1 "ALPN h3 refused"
expect_eq "$ERR" "closed by server: transport error 0x178 (TLS alert 120) reason: " "ALPN h3: no_application_protocol"
conn=$(probe_conn)
expect_true "ALPN h3: audit failure line" grep -q 'event=failed .*reason="TLS handshake failed: alert 120' <<<"$(grep -F "conn=$conn " "$GATEWAY_AUDIT")"
probe --handshake --alpn none
expect_rc 1 "no ALPN refused"
expect_eq "$ERR" "closed by server: transport error 0x178 (TLS alert 120) reason: " "no ALPN: no_application_protocol"
probe --handshake --alpn smb2
expect_rc 1 "ALPN smb2 refused"
gateway_stop

# 4. Deny by issuer; no access file at all allows everyone.
printf 'deny issuer %s\n' "$CERT_CA2" >"$TEST_TMP/deny-ca2.access"
gateway_start --backend-port "$BACKEND_PORT" --access "$TEST_TMP/deny-ca2.access" || die "gateway_start"
check_case "deny issuer" CLIENT_CA2 denied "1:deny issuer"
check_case "deny issuer, other CA" CLIENT1 allowed default
check_case "deny-only rules, no certificate" none allowed default
gateway_stop
gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
check_case "no access file, no certificate" none allowed default
check_case "no access file, expired certificate is only logged" CLIENT_EXPIRED allowed default

# 5. The server certificate is verified by the client (quic_probe uses GnuTLS's checks).
gateway_stop
CERT_SERVER=$CERT_SERVER_WRONGNAME KEY_SERVER=$KEY_SERVER_WRONGNAME \
    gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
probe --handshake
expect_rc 1 "a client refuses a server certificate for another name"

test_done
