#!/usr/bin/env bash
# The system policy (/etc/smbquic/policy.conf, smbquic-policy(5)): rules that every mount and
# every CLI call obey whatever their options say. The test's private mount namespace lays a
# directory over /etc (an overlay) so that /etc/smbquic/policy.conf is the test's file there and
# nothing changes on the host. Each rule is checked through `smbquic info` and the mount:
# - RequireQuic refuses transport=tcp before connecting, naming the rule (over QUIC it connects);
# - RequirePrivacy turns SMB encryption on against a server that does not ask for it;
# - MinimumDialect refuses vers=3.0; RequireClientCertificate refuses a call without cert=;
# - RequireMutualAuthentication refuses sec=ntlmssp and otherwise allows Kerberos only, so
#   against this NTLM-only server the session setup fails, and the message names the rule;
#   against a server taking tickets of the test's own KDC (tests/rig/kdc.sh), with a ticket,
#   the call and the mount connect by Kerberos;
# - a rule for another server or share changes nothing;
# - a policy that does not parse, or that others than root could write, refuses every call.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs
# shellcheck source=../rig/kdc.sh
. "$(dirname "$0")/../rig/kdc.sh"
kdc_require

samba_start signing-mandatory || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share
POLICY=/etc/smbquic/policy.conf

# The overlay: the test's etc/smbquic over /etc, then its policy.conf bound over the file there
# so the test can rewrite it between checks.
etc_top=$TEST_TMP/etc-overlay
mkdir -p "$etc_top/smbquic" || die "mkdir"
: >"$etc_top/smbquic/policy.conf"
if ! mount -t overlay overlay -o "lowerdir=$etc_top:/etc" /etc 2>"$TEST_TMP/overlay.err"; then
    skip "cannot overlay /etc in a private mount namespace: $(cat "$TEST_TMP/overlay.err")"
fi
rig_cleanup_add "umount -l /etc 2>/dev/null || true"
policy_file=$TEST_TMP/policy.conf
: >"$policy_file"
chmod 0644 "$policy_file"
mount --bind "$policy_file" "$POLICY" || die "cannot bind the test's policy over $POLICY"
rig_cleanup_add "umount -l '$POLICY' 2>/dev/null || true"

# policy TEXT: the policy file's contents from now on.
policy() {
    printf '%s\n' "$1" >"$policy_file"
    echo "# policy: $1" >&2
}
# info [EXTRA]: `smbquic info` of the share with the test's options plus EXTRA.
info() {
    run env PASSWD="$SAMBA_PASSWORD" "$SMBQUIC" info "$UNC" -o "$(opts "${1:-}")"
}

# ---- RequireQuic ----
policy "//127.0.0.1/share RequireQuic=1"
info transport=tcp
expect_eq "$RC" 2 "RequireQuic: transport=tcp is refused (exit 2)"
expect_true "RequireQuic: the message names the rule ($ERR)" grep -qF \
    "system policy failed: transport=tcp is refused: QUIC only (RequireQuic of //127.0.0.1/share, line 1 of $POLICY)" \
    <<<"$ERR"
run env PASSWD="$SAMBA_PASSWORD" mount -t smbquic "$UNC" "$M" -o "$(opts transport=tcp)"
expect_true "RequireQuic: the mount over TCP fails ($RC)" test "$RC" -ne 0
expect_true "RequireQuic: the mount names the rule" grep -q "RequireQuic of //127.0.0.1/share" <<<"$ERR"
expect_eq "$(mount_count "$M")" 0 "RequireQuic: nothing is mounted"
if quic_mode; then
    info
    expect_eq "$RC" 0 "RequireQuic: over QUIC the call connects ($ERR)"
fi

# ---- a rule for another server or share ----
policy "//fs.example.org/share RequireQuic=1
//*/other RequireQuic=1"
info
expect_eq "$RC" 0 "rules for other servers and shares change nothing ($ERR)"

# ---- RequirePrivacy ----
policy "# comment
//*/share RequirePrivacy=1"
info
expect_eq "$RC" 0 "RequirePrivacy: the call connects ($ERR)"
expect_true "RequirePrivacy: requests are encrypted (cipher: $(field cipher))" \
    test "$(field cipher)" != none
mq "$UNC" "$M" -o "$(opts)"
expect_ok "RequirePrivacy: the mount connects"
run "$SMBQUIC" status "$M"
expect_true "RequirePrivacy: the mount encrypts ($(field cipher))" test "$(field cipher)" != none
run umount "$M"
expect_ok "umount"
policy ""
info
expect_eq "$RC:$(field cipher)" 0:none "without the policy this server's share is not encrypted"

# ---- MinimumDialect, RequireClientCertificate ----
policy "//*/* MinimumDialect=3.1.1"
run env PASSWD="$SAMBA_PASSWORD" "$SMBQUIC" info "$UNC" \
    -o "port=$SAMBA_PORT,transport=tcp,username=$SAMBA_USER,vers=3.0"
expect_eq "$RC" 2 "MinimumDialect: vers=3.0 is refused"
expect_true "MinimumDialect: the message says why ($ERR)" \
    grep -q "vers=3.0 is refused: SMB 3.1.1 at least (MinimumDialect of //\*/\*, line 1" <<<"$ERR"
policy "//*/* RequireClientCertificate=1"
info
expect_eq "$RC" 2 "RequireClientCertificate: a call without cert= is refused"
expect_true "RequireClientCertificate: the message says so ($ERR)" \
    grep -q "a client certificate (cert=, key=) is required (RequireClientCertificate" <<<"$ERR"

# ---- RequireMutualAuthentication ----
policy "//127.0.0.1/* RequireMutualAuthentication=1"
info sec=ntlmssp
expect_eq "$RC" 2 "RequireMutualAuthentication: sec=ntlmssp is refused"
expect_true "RequireMutualAuthentication: the message says why ($ERR)" \
    grep -q "sec=ntlmssp is refused: Kerberos only" <<<"$ERR"
info
expect_eq "$RC" 5 "RequireMutualAuthentication: no NTLM fallback, so no session (exit 5)"
expect_true "RequireMutualAuthentication: the failure names the rule ($ERR)" \
    grep -q "system policy $POLICY: RequireMutualAuthentication (//127.0.0.1/\*, line 1)" <<<"$ERR"
# A server that takes Kerberos, and a ticket: the rule is met.
samba_stop
kdc_start "$SAMBA_RIG_USER" || die "kdc_start"
samba_start kerberos || die "samba_start kerberos"
kinit -k -t "$KDC_USER_KEYTAB" "$SAMBA_USER@$KDC_REALM" >"$TEST_TMP/kinit.out" 2>&1 ||
    die "kinit: $(cat "$TEST_TMP/kinit.out")"
info
expect_eq "$RC:$(field auth)" 0:kerberos "RequireMutualAuthentication: met by Kerberos ($ERR)"
mq "$UNC" "$M" -o "$(opts)"
expect_ok "RequireMutualAuthentication: the mount connects by Kerberos"
run "$SMBQUIC" status "$M"
expect_eq "$(field auth)" kerberos "RequireMutualAuthentication: the mount's session is Kerberos"
run umount "$M"
expect_ok "umount"
kdestroy >/dev/null 2>&1

# ---- a policy that cannot be trusted refuses everything ----
policy "//*/* RequireEverything=1"
info
expect_eq "$RC" 2 "a policy that does not parse refuses the call"
expect_true "its message names the line ($ERR)" \
    grep -qF "system policy failed: $POLICY: line 1: unknown setting 'RequireEverything'" <<<"$ERR"
policy ""
chmod 0666 "$policy_file"
info
expect_eq "$RC" 2 "a policy others could write refuses the call"
expect_true "its message says so ($ERR)" grep -q "may be written by others than root" <<<"$ERR"
chmod 0644 "$policy_file"
info
expect_eq "$RC" 0 "an empty policy lets the call through ($ERR)"
test_done
