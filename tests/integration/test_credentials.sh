#!/usr/bin/env bash
# credentials=FILE (mount.cifs format): refused when group or others can read it, used when 0600;
# the password comes from the file without PASSWD; a wrong password in it fails authentication.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

samba_start signing-mandatory || die "samba_start"
creds=$TEST_TMP/creds
printf 'username=%s\npassword=%s\ndomain=SMBQ\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$creds"

chmod 0644 "$creds"
NO_PASSWD=1 smbq ls "$UNC" -o "$(copts "credentials=$creds")"
expect_failure_match 2 '^smbquic: .+$' "credentials file readable by others (0644) is refused"

chmod 0640 "$creds"
NO_PASSWD=1 smbq ls "$UNC" -o "$(copts "credentials=$creds")"
expect_failure_match 2 '^smbquic: .+$' "credentials file readable by the group (0640) is refused"

chmod 0600 "$creds"
NO_PASSWD=1 smbq info "$UNC" -o "$(copts "credentials=$creds")"
expect_ok "credentials file with mode 0600 works"
expect_line "auth: ntlmssp" "authenticated with the file's user and password"

# Without a domain= line.
printf 'username=%s\npassword=%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$creds"
NO_PASSWD=1 smbq ls "$UNC" -o "$(copts "credentials=$creds")"
expect_ok "credentials file without domain="

printf 'username=%s\npassword=not-the-password\n' "$SAMBA_USER" >"$creds"
NO_PASSWD=1 smbq ls "$UNC" -o "$(copts "credentials=$creds")"
expect_failure 5 "smbquic: session setup failed: STATUS_LOGON_FAILURE (wrong user name or password)" \
    "wrong password in the credentials file"

NO_PASSWD=1 smbq ls "$UNC" -o "$(copts "credentials=$TEST_TMP/no-such-file")"
expect_true "missing credentials file: exit 2 (got $RC)" test "$RC" = 2

test_done
