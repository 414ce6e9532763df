#!/usr/bin/env bash
# `smbquic info` reports what was negotiated: transport, dialect, cipher, signing, auth and the
# server GUID; `seal` turns encryption on when the server only offers it; server-desired
# encryption is honoured; vers=3.0.2 and vers=3.0 work over TCP against a server that allows them.
# Over QUIC (SMBQUIC_TEST_TRANSPORT=quic): the QUIC keys (connection id as the gateway logs it,
# the server certificate) and vers= below 3.1.1 refused before anything is sent.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ciphers_re='^(AES-128-GCM|AES-128-CCM|AES-256-GCM|AES-256-CCM)$'

# Signing only: Samba offers encryption but does not ask for it.
samba_start signing-mandatory || die "samba_start signing-mandatory"
smbq info "$UNC" -o "$(opts)"
expect_ok "info"
expect_line "transport: $TRANSPORT_NAME" "info transport"
expect_line "dialect: 3.1.1" "info dialect"
expect_line "cipher: none" "info cipher (not encrypted unless asked)"
expect_line_match '^signing: (AES-GMAC|AES-CMAC|HMAC-SHA256)$' "info signing"
expect_line "auth: ntlmssp" "info auth"
guid=$(field server_guid)
expect_true "server_guid is a lower-case UUID ($guid)" grep -Eq "$uuid_re" <<<"$guid"
expect_true "server_guid is not all zeros" test "$guid" != 00000000-0000-0000-0000-000000000000
keys="server share transport peer dialect cipher signing auth server_guid"
if quic_mode; then
    keys="$keys connection_id server_cert_subject server_cert_issuer server_cert_sha256"
    keys="$keys transport_security_only"
    expect_line "peer: 127.0.0.1:$QGW_PORT" "info peer is the gateway's UDP address"
    conn=$(field connection_id)
    expect_true "connection_id is hex ($conn)" grep -Eq '^[0-9a-f]{16,40}$' <<<"$conn"
    expect_eq "$(qgw_conns open)" "$conn" "the gateway logged exactly this one connection"
    expect_line "server_cert_subject: CN=smb.test" "info server certificate subject"
    expect_line "server_cert_issuer: CN=smbquic test CA" "info server certificate issuer"
    expect_line "server_cert_sha256: $SHA256_SERVER" "info server certificate SHA-256"
    expect_line "transport_security_only: no" "SMB protection stays on by default over QUIC"
else
    expect_line "peer: 127.0.0.1:$SAMBA_PORT" "info peer is smbd's TCP address"
    expect_eq "$(grep -c '^connection_id: ' <<<"$OUT")" 0 "no connection_id over TCP"
fi
for key in $keys; do
    expect_eq "$(grep -c "^$key: " <<<"$OUT")" 1 "info prints '$key:' exactly once"
done
expect_eq "$(grep -cv '^[a-z0-9_]\+: .\+$' <<<"$OUT")" 0 "every info line is 'key: value'"

smbq info "$UNC" -o "$(opts)"
expect_eq "$(field server_guid)" "$guid" "server_guid is the same on a second connection"

smbq info "$UNC" -o "$(opts seal)"
expect_ok "info with seal against a server that offers encryption"
expect_line_match "^cipher: ${ciphers_re:1}" "seal turns encryption on"
samba_stop

# default variant: server smb encrypt = desired; the client must encrypt when asked to.
samba_start default || die "samba_start default"
smbq info "$UNC" -o "$(opts)"
expect_ok "info against a server that desires encryption"
expect_line_match "^cipher: ${ciphers_re:1}" "server-desired encryption is honoured"
if quic_mode; then
    # quic_tls_only only offers SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY; Samba 4.17 does not know
    # SMB2_TRANSPORT_CAPABILITIES, so nothing is granted and SMB encryption stays on.
    smbq info "$UNC" -o "$(opts quic_tls_only)"
    expect_ok "info with quic_tls_only"
    expect_line "transport_security_only: no" "quic_tls_only not granted by this server"
    expect_line_match "^cipher: ${ciphers_re:1}" "quic_tls_only not granted: SMB encryption stays on"
fi
samba_stop

# Older dialects only with vers=, only over TCP.
samba_start smb3-min || die "samba_start smb3-min"
smbq info "$UNC" -o "$(opts)"
expect_ok "info against a server that allows SMB 3.0"
expect_line "dialect: 3.1.1" "3.1.1 is preferred when vers= is not given"

if quic_mode; then
    # QUIC always carries 3.1.1 (MS-SMB2 2.1): an older dialect is a usage error, refused
    # before any packet is sent (the gateway sees no new connection).
    before=$(qgw_conns open | wc -l)
    for vers in 3.0.2 3.0; do
        smbq info "$UNC" -o "$(opts vers=$vers)"
        expect_failure_match 2 '^smbquic: .*(3\.1\.1|transport=tcp).*$' "vers=$vers over QUIC is refused"
    done
    expect_eq "$(qgw_conns open | wc -l)" "$before" "vers=3.0.x over QUIC sent nothing to the server"
    smbq info "$UNC" -o "$(opts vers=3.1.1)"
    expect_ok "info with vers=3.1.1 over QUIC"
    expect_line "dialect: 3.1.1" "vers=3.1.1 negotiates 3.1.1 over QUIC"
    samba_stop
    test_done
fi

smbq info "$UNC" -o "$(opts vers=3.0.2)"
expect_ok "info with vers=3.0.2"
expect_line "dialect: 3.0.2" "vers=3.0.2 negotiates 3.0.2"

printf 'hello from 3.0.2\n' >"$TEST_TMP/small.txt"
smbq put "$TEST_TMP/small.txt" "$UNC/small.txt" -o "$(opts vers=3.0.2)"
expect_ok "put with vers=3.0.2"
rm -f "$TEST_TMP/small.back"
smbq get "$UNC/small.txt" "$TEST_TMP/small.back" -o "$(opts vers=3.0.2,sign)"
expect_ok "get with vers=3.0.2,sign"
expect_true "3.0.2 round trip has the same content" cmp -s "$TEST_TMP/small.txt" "$TEST_TMP/small.back"

smbq info "$UNC" -o "$(opts vers=3.0.2,seal)"
expect_ok "info with vers=3.0.2,seal"
expect_line "cipher: AES-128-CCM" "3.0.2 encrypts with AES-128-CCM"

smbq info "$UNC" -o "$(opts vers=3.0)"
expect_ok "info with vers=3.0"
expect_line_match '^dialect: 3\.0(\.0)?$' "vers=3.0 negotiates 3.0"

smbq info "$UNC" -o "$(opts vers=3.1.1)"
expect_ok "info with vers=3.1.1"
expect_line "dialect: 3.1.1" "vers=3.1.1 negotiates 3.1.1"
samba_stop

# A server that requires 3.1.1 refuses a client limited to 3.0.2: negotiate fails.
samba_start signing-mandatory || die "samba_start signing-mandatory"
smbq info "$UNC" -o "$(opts vers=3.0.2)"
expect_failure_match "$RC" '^smbquic: negotiate failed: .+$' "vers=3.0.2 against a 3.1.1-only server"
expect_true "vers=3.0.2 against a 3.1.1-only server exits 3 or 4 (got $RC)" \
    grep -Eq '^[34]$' <<<"$RC"

test_done
