#!/usr/bin/env bash
# A man in the middle (tests/rig/tamper_proxy.py) changes one server response: flips a byte of
# signed or encrypted READ data, flips or strips the signature of a SESSION_SETUP, TREE_CONNECT,
# CREATE or WRITE response, or changes the NEGOTIATE response (caught by pre-auth integrity). Every signed response must be verified and every encrypted one
# authenticated: the command must fail (one 'smbquic:' line, not a usage error) and never report
# success. A relay that changes nothing must stay transparent.
# Over QUIC (SMBQUIC_TEST_TRANSPORT=quic) the relay sits between smbquic-gateway and Samba, the
# only place an SMB-level man in the middle remains: SMB signing and encryption are end to end,
# so the client must catch the same changes through the gateway.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require
command -v python3 >/dev/null || skip "python3 not installed"

PROXY_PID=
start_proxy() { # MODE
    stop_proxy
    rm -f "$TEST_TMP/proxy.port" "$TEST_TMP/proxy.log"
    : >"$TEST_TMP/proxy.log"
    python3 "$RIG_DIR/tamper_proxy.py" "$TEST_TMP/proxy.port" "$SAMBA_PORT" "$1" \
        "$TEST_TMP/proxy.log" 2>>"$TEST_TMP/proxy.err" &
    PROXY_PID=$!
    wait_for_file "$TEST_TMP/proxy.port" || die "tamper proxy did not start"
    PROXY_PORT=$(cat "$TEST_TMP/proxy.port")
    if quic_mode; then
        qgw_restart "$PROXY_PORT" || die "gateway in front of the proxy did not start"
    fi
}
stop_proxy() {
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
        PROXY_PID=
    fi
}
rig_cleanup_add stop_proxy

popts() { # like opts, through the proxy
    if quic_mode; then
        opts # the gateway's backend is the proxy
    else
        printf 'port=%s,transport=tcp,username=%s' "$PROXY_PORT" "$SAMBA_USER"
    fi
}

# expect_rejected DESC: the call failed as a connection/security failure, the proxy did tamper.
expect_rejected() {
    local lines
    lines=$(printf '%s' "$ERR" | grep -c '')
    if [ "$RC" != 0 ] && [ "$RC" != 2 ] && [ "$lines" = 1 ] && grep -q '^smbquic: .* failed' <<<"$ERR"; then
        _pass "$1 (exit $RC, '$ERR')"
    else
        _fail "$1: want a non-zero exit (not 2) and one 'smbquic: ... failed' line" "$(_show_run)"
    fi
    if grep -q '^tampered:' "$TEST_TMP/proxy.log"; then
        _pass "$1: the proxy did tamper ($(head -n 1 "$TEST_TMP/proxy.log"))"
    else
        _fail "$1: the proxy found nothing to tamper with" "$(cat "$TEST_TMP/proxy.err" 2>/dev/null)"
    fi
}

for variant in signing-mandatory encrypt-aes-128-gcm; do
    samba_start "$variant" || die "samba_start $variant"
    make_random "$SAMBA_SHARE_DIR/data.bin" 8M
    as_share_owner "$SAMBA_SHARE_DIR/data.bin"

    start_proxy none
    rm -f "$TEST_TMP/data.back"
    smbq get "$UNC/data.bin" "$TEST_TMP/data.back" -o "$(popts)"
    expect_ok "$variant: get through a relay that changes nothing"
    expect_true "$variant: same data through the relay" cmp -s "$SAMBA_SHARE_DIR/data.bin" "$TEST_TMP/data.back"

    start_proxy flip-data
    rm -f "$TEST_TMP/data.back"
    smbq get "$UNC/data.bin" "$TEST_TMP/data.back" -o "$(popts)"
    expect_rejected "$variant: get with one flipped byte in READ data"
    samba_stop
done

samba_start signing-mandatory || die "samba_start signing-mandatory"
printf 'payload\n' >"$TEST_TMP/small.txt"
printf 'x\n' >"$SAMBA_SHARE_DIR/x.txt"
as_share_owner "$SAMBA_SHARE_DIR/x.txt"

start_proxy strip-signature-1
smbq ls "$UNC" -o "$(popts)"
expect_rejected "final SESSION_SETUP response with its signature stripped"

start_proxy flip-signature-1
smbq ls "$UNC" -o "$(popts)"
expect_rejected "final SESSION_SETUP response with a bad signature"

start_proxy strip-signature-3
smbq ls "$UNC" -o "$(popts)"
expect_rejected "TREE_CONNECT response with its signature stripped"

start_proxy flip-signature-3
smbq ls "$UNC" -o "$(popts)"
expect_rejected "TREE_CONNECT response with a bad signature"

start_proxy flip-signature-5
smbq stat "$UNC/x.txt" -o "$(popts)"
expect_rejected "CREATE response with a bad signature"

start_proxy flip-negotiate-guid
smbq ls "$UNC" -o "$(popts)"
expect_rejected "NEGOTIATE response changed in flight (3.1.1 pre-authentication integrity)"

start_proxy strip-signature-9
smbq put "$TEST_TMP/small.txt" "$UNC/small.txt" -o "$(popts)"
expect_rejected "WRITE response with its signature stripped"
stop_proxy

test_done
