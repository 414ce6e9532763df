#!/usr/bin/env bash
# Started as root, the gateway binds, reads its certificate, key and rules, then runs as
# nobody (or --user): all uids and gids switched, no supplementary groups, no capabilities,
# no_new_privs set; it still serves clients and writes its audit log. --user root and an
# unknown user are refused. Started unprivileged with CAP_NET_BIND_SERVICE as an ambient
# capability (what the systemd unit does), it binds a port below 1024 and then drops every
# capability; --user then needs root. Needs root (skips with 77 otherwise).
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
# shellcheck source=../rig/certs.sh
. "$(dirname "$0")/../rig/certs.sh"
# shellcheck source=../rig/gateway.sh
. "$(dirname "$0")/../rig/gateway.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (checks the switch from root to an unprivileged user)"
gateway_require
GW=$(gateway_binary)

status_field() {
    awk -v key="$1:" '$1 == key { $1 = ""; sub(/^ /, ""); print }' "/proc/$GATEWAY_PID/status"
}

# expect_dropped UID GID DESC
expect_dropped() {
    expect_eq "$(status_field Uid)" "$1 $1 $1 $1" "$3: real, effective, saved and fs uid are $1"
    expect_eq "$(status_field Gid)" "$2 $2 $2 $2" "$3: all gids are $2"
    expect_eq "$(status_field Groups)" "" "$3: no supplementary groups"
    expect_eq "$(status_field CapEff)" 0000000000000000 "$3: no effective capabilities"
    expect_eq "$(status_field CapPrm)" 0000000000000000 "$3: no permitted capabilities"
    expect_eq "$(status_field CapAmb)" 0000000000000000 "$3: no ambient capabilities"
    expect_eq "$(status_field NoNewPrivs)" 1 "$3: no_new_privs"
}

backend_start echo || die "backend_start"
nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)

chmod 0700 "$TEST_TMP"
gateway_start --backend-port "$BACKEND_PORT" || die "gateway_start"
expect_dropped "$nobody_uid" "$nobody_gid" "default user nobody"
expect_true "the startup line names the uid" grep -q "uid $nobody_uid\$" "$GATEWAY_LOG"
probe --echo 100000
expect_rc 0 "serves clients after dropping privileges"
expect_true "still writes its audit log" test -n "$(audit_line "$(probe_conn)" open)"
gateway_stop
expect_eq "$GATEWAY_EXIT" 0 "exit status"

gateway_start --backend-port "$BACKEND_PORT" --user daemon || die "gateway_start --user daemon"
expect_dropped "$(id -u daemon)" "$(id -g daemon)" "--user daemon"
gateway_stop

gw() {
    timeout 10 "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
    RC=$?
    ERR=$(cat "$TEST_TMP/err")
}
args=(--listen 127.0.0.1:0 --cert "$CERT_SERVER" --key "$KEY_SERVER" --backend "127.0.0.1:$BACKEND_PORT")
gw "$GW" "${args[@]}" --user root
expect_rc 1 "--user root"
expect_eq "$ERR" "smbquic-gateway: --user root is root: refusing to keep root privileges" "--user root is refused"
gw "$GW" "${args[@]}" --user no-such-user-smbquic
expect_rc 1 "--user with an unknown user"
expect_eq "$ERR" "smbquic-gateway: unknown user 'no-such-user-smbquic' for --user" "unknown user is refused"

# Unprivileged with CAP_NET_BIND_SERVICE, as the systemd unit runs it.
pub=$(mktemp -d /tmp/smbquic-gw-pub.XXXXXX)
rig_cleanup_add "rm -rf '$pub'"
chmod 0755 "$pub"
cp "$CERT_SERVER" "$KEY_SERVER" "$pub/"
chmod 0644 "$pub"/*
low_port=$((700 + RANDOM % 300))
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_bind_service \
    --ambient-caps=+net_bind_service \
    "$GW" --listen "127.0.0.1:$low_port" --cert "$pub/$(basename "$CERT_SERVER")" \
    --key "$pub/$(basename "$KEY_SERVER")" --backend "127.0.0.1:$BACKEND_PORT" \
    >"$TEST_TMP/capgw.log" 2>&1 &
GATEWAY_PID=$!
for ((i = 0; i < 100; i++)); do
    grep -q "listening on" "$TEST_TMP/capgw.log" 2>/dev/null && break
    kill -0 "$GATEWAY_PID" 2>/dev/null || break
    sleep 0.05
done
if grep -q "listening on 127.0.0.1:$low_port" "$TEST_TMP/capgw.log"; then
    expect_true "unprivileged with CAP_NET_BIND_SERVICE: binds port $low_port" true
    expect_dropped "$nobody_uid" "$nobody_gid" "after binding with an ambient capability"
    GATEWAY_PORT=$low_port
    probe --handshake
    expect_rc 0 "serves on the low port"
else
    # A busy port is not the gateway's fault; anything else is.
    if grep -q "Address already in use" "$TEST_TMP/capgw.log"; then
        echo "# port $low_port busy: capability check not run"
    else
        _fail "unprivileged start with CAP_NET_BIND_SERVICE" "$(cat "$TEST_TMP/capgw.log")"
    fi
fi
gateway_stop
expect_eq "$GATEWAY_EXIT" 0 "exit status"
gw setpriv --reuid=nobody --regid=nogroup --clear-groups "$GW" --listen 127.0.0.1:0 \
    --cert "$pub/$(basename "$CERT_SERVER")" --key "$pub/$(basename "$KEY_SERVER")" \
    --backend "127.0.0.1:$BACKEND_PORT" --user daemon
expect_rc 1 "--user when not started as root"
expect_eq "$ERR" "smbquic-gateway: --user daemon needs the gateway to start as root" "--user needs root"

test_done
