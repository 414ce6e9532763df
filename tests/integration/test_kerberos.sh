#!/usr/bin/env bash
# Kerberos against a real KDC: an MIT krb5kdc serving a realm of the test's own
# (tests/rig/kdc.sh), and smbd accepting tickets for cifs/127.0.0.1 and cifs/smb.test from its
# keytab. Without a ticket the session fails and says so (no fallback, no guest); with one,
# the CLI authenticates by Kerberos with no password, by default and with sec=krb5, and files
# go both ways; sec=ntlmssp still uses the password; a client keytab (as a system mount would
# have) stands in for kinit. Then the realm is reached only through a
# KDC proxy (MS-KKDCP over HTTPS, python3-kdcproxy): kinit and the service ticket for the
# SMB server both go through it.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/kdc.sh
. "$(dirname "$0")/../rig/kdc.sh"
rig_require
kdc_require

kdc_start "$SAMBA_RIG_USER" || die "kdc_start"
samba_start kerberos || die "samba_start kerberos"
principal=$SAMBA_USER@$KDC_REALM

NO_PASSWD=1 smbq ls "$UNC" -o "$(opts sec=krb5)"
expect_failure_match 5 '^smbquic: session setup failed: no Kerberos ticket for .+$' \
    "sec=krb5 without a ticket fails, naming what is missing"

kinit -k -t "$KDC_USER_KEYTAB" "$principal" >"$TEST_TMP/kinit.out" 2>&1 ||
    die "kinit: $(cat "$TEST_TMP/kinit.out")"
NO_PASSWD=1 smbq info "$UNC" -o "$(opts sec=krb5)"
expect_ok "sec=krb5 with a ticket and no password"
expect_line "auth: kerberos" "info says Kerberos"
expect_true "the KDC issued a ticket for the SMB server" \
    grep -q "cifs/127.0.0.1@$KDC_REALM" <(klist 2>/dev/null)

# Without sec=: the ticket is found and used, nothing asks for a password.
NO_PASSWD=1 smbq info "$UNC" -o "$(opts)"
expect_ok "a ticket and no sec=: no password needed"
expect_line "auth: kerberos" "... Kerberos chosen"

head -c 3000000 /dev/urandom >"$TEST_TMP/up.bin"
NO_PASSWD=1 smbq put "$TEST_TMP/up.bin" "$UNC/up.bin" -o "$(opts sec=krb5)"
expect_ok "put over a Kerberos session"
expect_true "... arrives intact" cmp -s "$TEST_TMP/up.bin" "$SAMBA_SHARE_DIR/up.bin"
NO_PASSWD=1 smbq get "$UNC/up.bin" "$TEST_TMP/down.bin" -o "$(opts sec=krb5)"
expect_ok "get over a Kerberos session"
expect_true "... arrives intact" cmp -s "$TEST_TMP/up.bin" "$TEST_TMP/down.bin"

smbq info "$UNC" -o "$(opts sec=ntlmssp)"
expect_ok "sec=ntlmssp with the password, a ticket notwithstanding"
expect_line "auth: ntlmssp" "... NTLM chosen"

# A ticket for another principal than username= names: refused before anything is sent as
# someone else.
NO_PASSWD=1 smbq ls "$UNC" -o "$(copts username=somebody-else,sec=krb5)"
expect_failure_match 5 '^smbquic: session setup failed: .+$' \
    "a ticket of another principal is not used"

kdestroy >/dev/null 2>&1
NO_PASSWD=1 smbq ls "$UNC" -o "$(opts sec=krb5)"
expect_failure_match 5 '^smbquic: session setup failed: no Kerberos ticket for .+$' \
    "after kdestroy: no ticket again"

# A system mount's way: no ticket yet, a client keytab (krb5 gets the ticket itself).
KRB5_CLIENT_KTNAME=$KDC_USER_KEYTAB NO_PASSWD=1 smbq info "$UNC" -o "$(opts sec=krb5)"
expect_ok "no ticket but a client keytab (KRB5_CLIENT_KTNAME)"
expect_line "auth: kerberos" "... Kerberos"
kdestroy >/dev/null 2>&1

# ---- through a KDC proxy (MS-KKDCP): the realm's only KDC is an HTTPS URL ----
[ -n "${CERT_CA:-}" ] || certs_make "$TEST_TMP/certs" || die "certs_make"
_certs_leaf kdcproxy ca 127.0.0.1 'ip_address = "127.0.0.1"' tls_www_server ||
    die "no certificate for the KDC proxy"
kdc_proxy_start "$CERTS_DIR/kdcproxy.pem" "$CERTS_DIR/kdcproxy.key" || die "kdc_proxy_start"
KRB5_CONFIG=$KRB5_PROXY_CONFIG kinit -k -t "$KDC_USER_KEYTAB" "$principal" \
    >"$TEST_TMP/kinit.out" 2>&1
expect_eq "$?" 0 "kinit through the KDC proxy ($(cat "$TEST_TMP/kinit.out"))"
KRB5_CONFIG=$KRB5_PROXY_CONFIG NO_PASSWD=1 smbq info "$UNC" -o "$(opts sec=krb5)"
expect_ok "the service ticket through the KDC proxy"
expect_line "auth: kerberos" "... and the session authenticated by Kerberos"
posts=$(grep -c '"POST ' "$KDC_PROXY_LOG")
expect_true "the proxy carried both exchanges (AS and TGS: $posts requests)" test "$posts" -ge 2

samba_stop
test_done
