#!/usr/bin/env bash
# `smbquic info` reports what was negotiated: transport, dialect, cipher, signing, auth and the
# server GUID; `seal` turns encryption on when the server only offers it; server-desired
# encryption is honoured; vers=3.0.2 and vers=3.0 work over TCP against a server that allows them.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ciphers_re='^(AES-128-GCM|AES-128-CCM|AES-256-GCM|AES-256-CCM)$'

# Signing only: Samba offers encryption but does not ask for it.
samba_start signing-mandatory || die "samba_start signing-mandatory"
smbq info "$UNC" -o "$(opts)"
expect_ok "info"
expect_line "transport: tcp" "info transport"
expect_line "dialect: 3.1.1" "info dialect"
expect_line "cipher: none" "info cipher (not encrypted unless asked)"
expect_line_match '^signing: (AES-GMAC|AES-CMAC|HMAC-SHA256)$' "info signing"
expect_line "auth: ntlmssp" "info auth"
guid=$(field server_guid)
expect_true "server_guid is a lower-case UUID ($guid)" grep -Eq "$uuid_re" <<<"$guid"
expect_true "server_guid is not all zeros" test "$guid" != 00000000-0000-0000-0000-000000000000
for key in transport dialect cipher signing auth server_guid; do
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
samba_stop

# Older dialects only with vers=, only over TCP.
samba_start smb3-min || die "samba_start smb3-min"
smbq info "$UNC" -o "$(opts)"
expect_ok "info against a server that allows SMB 3.0"
expect_line "dialect: 3.1.1" "3.1.1 is preferred when vers= is not given"

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
