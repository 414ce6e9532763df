# shellcheck shell=bash
# smbquic-gateway for tests, benchmarks and demos: SMB over QUIC in front of a TCP backend
# (Samba from samba.sh, or a stand-in from tests/gateway/tcp_backend.py).
#
# Source samba.sh (or testlib.sh, which sources it) and certs.sh first, then:
#   gateway_start --backend-port P [GATEWAY ARGS...]
#                       start the gateway on 127.0.0.1, a free UDP port chosen by the kernel,
#                       with CERT_SERVER/KEY_SERVER (made with certs_make in the gateway's
#                       temp dir when unset), --audit in its temp dir, and the extra
#                       arguments; wait until it listens
#   gateway_stop        SIGTERM by PID, wait (at most 10 s, then SIGKILL); sets GATEWAY_EXIT
#                       to its exit status; safe to call twice
#   gateway_rss_kb      the gateway's resident memory now (VmRSS, KiB)
#   gateway_hwm_kb      its peak resident memory (VmHWM, KiB)
#   backend_start MODE  a stand-in backend (echo, stall, close, source: see tcp_backend.py);
#                       exports BACKEND_PORT and BACKEND_PID (stopped at exit)
#
# gateway_start exports:
#   GATEWAY_PORT   UDP port on 127.0.0.1
#   GATEWAY_PID    the gateway's PID
#   GATEWAY_AUDIT  its audit log
#   GATEWAY_LOG    its stderr
#   GATEWAY_DIR    its temp dir
# One gateway per shell. Everything is stopped by PID from the rig's EXIT trap
# (rig_cleanup_add, samba.sh).
#
# Environment: SMBQUIC_GATEWAY, the gateway executable (default: the build tree's
# contrib/gateway/smbquic-gateway under SMBQUIC_BUILDDIR).

GATEWAY_START_TIMEOUT=${GATEWAY_START_TIMEOUT:-10}
_GATEWAY_RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

gateway_binary() {
    if [ -n "${SMBQUIC_GATEWAY:-}" ]; then
        printf '%s' "$SMBQUIC_GATEWAY"
    elif [ -n "${SMBQUIC_BUILDDIR:-}" ]; then
        printf '%s' "$SMBQUIC_BUILDDIR/contrib/gateway/smbquic-gateway"
    fi
}

# gateway_start --backend-port P [ARGS...]
gateway_start() {
    local backend_port="" bin
    if [ "${1:-}" = --backend-port ] && [ -n "${2:-}" ]; then
        backend_port=$2
        shift 2
    else
        rig_log "gateway_start: usage: gateway_start --backend-port P [ARGS...]"
        return 1
    fi
    bin=$(gateway_binary)
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        rig_log "gateway_start: smbquic-gateway not found (set SMBQUIC_GATEWAY)"
        return 1
    fi
    if [ -n "${GATEWAY_PID:-}" ]; then
        rig_log "gateway_start: a gateway is already running (pid $GATEWAY_PID)"
        return 1
    fi
    GATEWAY_DIR=$(mktemp -d /tmp/smbquic-gateway.XXXXXX) || return 1
    chmod 0755 "$GATEWAY_DIR"
    export GATEWAY_DIR
    # Cleanups run last first: stop the gateway, then remove its directory.
    rig_cleanup_add "rm -rf '$GATEWAY_DIR'"
    rig_cleanup_add gateway_stop
    if [ -z "${CERT_SERVER:-}" ]; then
        certs_make "$GATEWAY_DIR/certs" || return 1
    fi
    GATEWAY_AUDIT=$GATEWAY_DIR/audit.log
    GATEWAY_LOG=$GATEWAY_DIR/gateway.log
    export GATEWAY_AUDIT GATEWAY_LOG
    "$bin" --listen 127.0.0.1:0 --cert "$CERT_SERVER" --key "$KEY_SERVER" \
        --backend "127.0.0.1:$backend_port" --audit "$GATEWAY_AUDIT" "$@" \
        </dev/null >"$GATEWAY_LOG" 2>&1 &
    GATEWAY_PID=$!
    export GATEWAY_PID
    local i port=""
    for ((i = 0; i < GATEWAY_START_TIMEOUT * 20; i++)); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (UDP).*/\1/p' "$GATEWAY_LOG" 2>/dev/null)
        [ -n "$port" ] && break
        if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    if [ -z "$port" ]; then
        rig_log "smbquic-gateway did not start; its log:"
        cat "$GATEWAY_LOG" >&2
        gateway_stop
        return 1
    fi
    GATEWAY_PORT=$port
    export GATEWAY_PORT
    return 0
}

gateway_stop() {
    local pid=${GATEWAY_PID:-} i
    if [ -n "$pid" ]; then
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                rig_log "smbquic-gateway $pid ignored SIGTERM; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        wait "$pid" 2>/dev/null
        GATEWAY_EXIT=$?
        export GATEWAY_EXIT
    fi
    GATEWAY_PID=
    GATEWAY_PORT=
    return 0
}

_gateway_status_kb() {
    awk -v key="$1:" '$1 == key { print $2 }' "/proc/$GATEWAY_PID/status" 2>/dev/null
}

gateway_rss_kb() {
    _gateway_status_kb VmRSS
}

gateway_hwm_kb() {
    _gateway_status_kb VmHWM
}

# gateway_require: skip the test (exit 77, testlib.sh) unless the gateway, quic_probe
# (QUIC_PROBE), certtool and python3 are there; makes TEST_TMP and the certificates.
gateway_require() {
    local bin
    bin=$(gateway_binary)
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        skip "smbquic-gateway not built (SMBQUIC_GATEWAY='${SMBQUIC_GATEWAY:-}')"
    fi
    if [ -z "${QUIC_PROBE:-}" ] || [ ! -x "$QUIC_PROBE" ]; then
        skip "quic_probe not built (QUIC_PROBE='${QUIC_PROBE:-}')"
    fi
    command -v certtool >/dev/null 2>&1 || skip "certtool not installed (gnutls-bin)"
    command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
    TEST_TMP=$(mktemp -d /tmp/smbquic-test.XXXXXX) || die "mktemp failed"
    export TEST_TMP
    # shellcheck disable=SC2016 # expanded when the cleanup runs
    rig_cleanup_add 'rm -rf "$TEST_TMP"'
    certs_make "$TEST_TMP/certs" >/dev/null || die "certs_make failed"
}

# probe ARGS...: quic_probe against the gateway, trusting the test CA, name smb.test.
# Sets RC, OUT, ERR like testlib.sh's smbq.
probe() {
    echo "+ quic_probe $*" >&2
    "$QUIC_PROBE" --connect "127.0.0.1:$GATEWAY_PORT" --servername "$CERTS_SERVER_NAME" \
        --cafile "$CERT_CA" "$@" >"$TEST_TMP/probe.out" 2>"$TEST_TMP/probe.err" </dev/null
    RC=$?
    OUT=$(cat "$TEST_TMP/probe.out")
    ERR=$(cat "$TEST_TMP/probe.err")
    return 0
}

# probe_conn: the connection id quic_probe printed (hex of its original DCID).
probe_conn() {
    sed -n 's/^conn: //p' <<<"$OUT" | head -n 1
}

# audit_line CONN EVENT: that audit line of connection CONN ("" if none).
audit_line() {
    grep -F " event=$2 conn=$1 " "$GATEWAY_AUDIT" 2>/dev/null | head -n 1
}

# backend_start MODE: tests/gateway/tcp_backend.py on 127.0.0.1.
backend_start() {
    local mode=$1 dir i
    dir=$(mktemp -d /tmp/smbquic-backend.XXXXXX) || return 1
    rig_cleanup_add "rm -rf '$dir'"
    local out=$dir/port
    python3 "$_GATEWAY_RIG_DIR/../gateway/tcp_backend.py" "$mode" >"$out" 2>&1 &
    BACKEND_PID=$!
    export BACKEND_PID
    rig_cleanup_add "kill $BACKEND_PID 2>/dev/null; wait $BACKEND_PID 2>/dev/null"
    BACKEND_PORT=
    for ((i = 0; i < 100; i++)); do
        BACKEND_PORT=$(head -n 1 "$out" 2>/dev/null | grep -E '^[0-9]+$')
        [ -n "$BACKEND_PORT" ] && break
        sleep 0.05
    done
    if [ -z "$BACKEND_PORT" ]; then
        rig_log "backend_start $mode failed:"
        cat "$out" >&2
        return 1
    fi
    export BACKEND_PORT
}
