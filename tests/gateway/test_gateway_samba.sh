#!/usr/bin/env bash
# End to end through real Samba: the gateway in front of smbd carries an SMB2 NEGOTIATE
# (quic_probe), and the smbquic CLI over QUIC: info (transport quic, the connection id the
# gateway's audit log shows), put and get of a 16 MiB file with identical SHA-256, and the
# client-certificate cases: none when required, denied by SHA-256, allowed by issuer but
# denied by SHA-256, allowed -- each in smbquic's exit status and message and in the audit
# log; smbquic check shows a refused certificate at its certificate stage, with a hint about
# our certificate. Needs root and Samba (skips with 77 otherwise).
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
if ! reason=$(samba_check_usable); then
    skip "$reason"
fi
gateway_require

samba_start default || die "samba_start"
gateway_start --backend-port "$SAMBA_PORT" || die "gateway_start"

probe --smb-negotiate
expect_rc 0 "SMB2 NEGOTIATE through the gateway"
expect_line "smb negotiate: status=0x00000000 dialect=0x0311" "Samba answers with SMB 3.1.1"
close=$(audit_line "$(probe_conn)" close)
expect_true "audit counts the NEGOTIATE request bytes" grep -q " client_to_backend=154 " <<<"$close"

if [ -z "$SMBQUIC" ] || [ ! -x "$SMBQUIC" ] || ! "$SMBQUIC" --help 2>&1 | grep -q 'transport=quic'; then
    echo "# smbquic with QUIC not built: the end-to-end part is not run"
    test_done
fi

# qopts [EXTRA]: smbquic's -o for QUIC through the gateway.
qopts() {
    local o="transport=quic,port=$GATEWAY_PORT,cafile=$CERT_CA,servername=smb.test,username=$SAMBA_USER"
    [ -n "${1:-}" ] && o="$o,$1"
    printf '%s' "$o"
}

smbq info "$UNC" -o "$(qopts)"
expect_ok "info over QUIC"
expect_line "transport: quic" "info: transport quic"
conn=$(field connection_id)
expect_true "info: a connection id ($conn)" grep -Eq '^[0-9a-f]{16,40}$' <<<"$conn"
expect_true "the gateway's audit log has the same connection id" test -n "$(audit_line "$conn" open)"

make_random "$TEST_TMP/up.bin" 16M
smbq put "$TEST_TMP/up.bin" "$UNC/up.bin" -o "$(qopts)"
expect_ok "put 16 MiB over QUIC"
smbq get "$UNC/up.bin" "$TEST_TMP/down.bin" -o "$(qopts)"
expect_ok "get 16 MiB over QUIC"
expect_eq "$(sha256 "$TEST_TMP/down.bin")" "$(sha256 "$TEST_TMP/up.bin")" "get returns the bytes put (SHA-256)"
expect_eq "$(sha256 "$SAMBA_SHARE_DIR/up.bin")" "$(sha256 "$TEST_TMP/up.bin")" "the file on the server has the same SHA-256"
big=$(awk '/event=close/ { for (i = 1; i <= NF; i++) if ($i ~ /^client_to_backend=/) { split($i, a, "="); if (a[2] > 16777216) n++ } } END { print n + 0 }' "$GATEWAY_AUDIT")
expect_eq "$big" 1 "audit: one connection carried the 16 MiB put"
gateway_stop

cat >"$TEST_TMP/access" <<RULES
require
allow issuer $CERT_CA
deny sha256 $SHA256_CLIENT2
deny sha256 $SHA256_CLIENT_CA2
RULES
gateway_start --backend-port "$SAMBA_PORT" --access "$TEST_TMP/access" || die "gateway_start"

# cert_case DESC NAME|none WANT RULE
cert_case() {
    local desc=$1 name=$2 want=$3 rule=$4 extra="" shown
    if [ "$name" != none ]; then
        local cv=CERT_$name kv=KEY_$name
        extra="cert=${!cv},key=${!kv}"
    fi
    local before
    before=$(wc -l <"$GATEWAY_AUDIT")
    smbq info "$UNC" -o "$(qopts "$extra")"
    local line
    line=$(tail -n +"$((before + 1))" "$GATEWAY_AUDIT" | grep ' event=open ' | head -n 1)
    shown=$rule
    [[ $rule == *" "* ]] && shown="\"$rule\""
    if [ "$want" = allowed ]; then
        expect_ok "$desc: smbquic info succeeds"
        expect_true "$desc: audit says allowed by $shown" grep -qF " result=allowed rule=$shown " <<<"$line"
        expect_true "$desc: audit has the client's connection id" grep -qF " conn=$(field connection_id) " <<<"$line"
    else
        expect_failure_match 7 "^smbquic: client certificate failed: access denied by the server's client-certificate policy" "$desc: smbquic reports the refusal"
        expect_true "$desc: audit says denied by $shown" grep -qF " result=denied rule=$shown " <<<"$line"
    fi
}
cert_case "no certificate when required" none denied "1:require"
cert_case "denied by SHA-256" CLIENT_CA2 denied "4:deny sha256"
cert_case "allowed by issuer but denied by SHA-256" CLIENT2 denied "3:deny sha256"
cert_case "allowed by issuer" CLIENT1 allowed "2:allow issuer"

# smbquic check waits for the server to confirm the handshake, so a refused certificate shows
# at its certificate stage (a plain command learns it one step later, from NEGOTIATE).
smbq check "$UNC" -o "$(qopts)"
echo "$OUT" | sed 's/^/# check: /'
expect_true "check, no certificate when required: fails" test "$RC" -ne 0
expect_line_match "certificate.*access denied by the server's client-certificate policy" \
    "check, no certificate when required: its certificate stage names the refusal"
expect_line "  hint: the server wants a client certificate it accepts: give it with cert= and key=" \
    "check, no certificate when required: the hint is about our certificate"

smbq put "$TEST_TMP/up.bin" "$UNC/up2.bin" -o "$(qopts "cert=$CERT_CLIENT1,key=$KEY_CLIENT1")"
expect_ok "an allowed client certificate: put works"

test_done
