#!/usr/bin/env bash
# SMB 3.0 and 3.0.2 have no pre-authentication integrity: a client using them must validate the
# negotiation after TREE_CONNECT with FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.2.5.5, 3.2.4.20.11
# and 3.3.5.15.12), so a man in the middle who changed the NEGOTIATE response is caught. The relay
# (tests/rig/tamper_proxy.py) flips one byte of the ServerGuid in the NEGOTIATE response.
# Without tampering, vers=3.0.2 and vers=3.0 must still work through the relay.
# Over QUIC (SMBQUIC_TEST_TRANSPORT=quic) there is nothing to downgrade to: QUIC carries only
# SMB 3.1.1, so vers=3.0.2 and vers=3.0 are refused as usage errors before any packet is sent,
# and a server that would accept 3.0 still negotiates 3.1.1.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

if quic_mode; then
    samba_start smb3-min || die "samba_start smb3-min"
    for vers in 3.0.2 3.0; do
        smbq ls "$UNC" -o "$(opts vers=$vers)"
        expect_failure_match 2 '^smbquic: .+$' "vers=$vers over QUIC is refused"
    done
    expect_eq "$(qgw_conns open | wc -l)" 0 "no QUIC connection was opened for vers=3.0.x"
    smbq info "$UNC" -o "$(opts)"
    expect_ok "info over QUIC against a server that allows SMB 3.0"
    expect_line "dialect: 3.1.1" "over QUIC the dialect is 3.1.1"
    test_done
fi
command -v python3 >/dev/null || skip "python3 not installed"

PROXY_PID=
start_proxy() { # MODE
    stop_proxy
    rm -f "$TEST_TMP/proxy.port"
    : >"$TEST_TMP/proxy.log"
    python3 "$RIG_DIR/tamper_proxy.py" "$TEST_TMP/proxy.port" "$SAMBA_PORT" "$1" \
        "$TEST_TMP/proxy.log" 2>>"$TEST_TMP/proxy.err" &
    PROXY_PID=$!
    wait_for_file "$TEST_TMP/proxy.port" || die "tamper proxy did not start"
    PROXY_PORT=$(cat "$TEST_TMP/proxy.port")
}
stop_proxy() {
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
        PROXY_PID=
    fi
}
rig_cleanup_add stop_proxy

samba_start smb3-min || die "samba_start smb3-min"
for vers in 3.0.2 3.0; do
    start_proxy none
    smbq ls "$UNC" -o "port=$PROXY_PORT,transport=tcp,username=$SAMBA_USER,vers=$vers"
    expect_ok "vers=$vers through a relay that changes nothing"

    start_proxy flip-negotiate-guid
    smbq ls "$UNC" -o "port=$PROXY_PORT,transport=tcp,username=$SAMBA_USER,vers=$vers"
    expect_true "vers=$vers: the relay changed the NEGOTIATE response" grep -q '^tampered:' "$TEST_TMP/proxy.log"
    if [ "$RC" != 0 ] && [ "$RC" != 2 ] && [ "$(printf '%s' "$ERR" | grep -c '')" = 1 ] &&
        grep -q '^smbquic: .* failed' <<<"$ERR"; then
        _pass "vers=$vers: changed NEGOTIATE response detected (exit $RC, '$ERR')"
    else
        _fail "vers=$vers: changed NEGOTIATE response not detected (no VALIDATE_NEGOTIATE_INFO?)" "$(_show_run)"
    fi
done
stop_proxy

test_done
