# shellcheck shell=bash
# Helpers for the integration tests (tests/integration/test_*.sh). Source it first thing:
#   . "$(dirname "$0")/../rig/testlib.sh"
#   rig_require            skip (exit 77, with the reason) unless root, smbd and $SMBQUIC exist
#   samba_start VARIANT    (tests/rig/samba.sh)
#   smbq ARGS...           run $SMBQUIC with PASSWD set; sets RC, OUT, ERR (stdout/stderr text)
#   expect_* ...           strict checks; a failed check is reported and counted, the test
#                          goes on, and test_done exits 1 if any check failed
#   test_done              print the tally and exit 0 or 1
#
# Environment: SMBQUIC (path of the smbquic executable, set by meson), SMBQUIC_SRCDIR.
#
# Transport: SMBQUIC_TEST_TRANSPORT=tcp (the default) or quic. With quic, rig_require also needs
# smbquic-gateway ($SMBQUIC_GATEWAY) and certtool and makes the test certificates once
# (certs_make $TEST_TMP/certs, tests/rig/certs.sh); every samba_start then also starts the
# gateway in front of smbd (samba_stop stops it), and opts/copts give QUIC options. So the same
# test script runs over either transport; meson registers each one twice (quic-NAME).
#   quic_mode              true when the tests run over QUIC
#   copts [EXTRA]          -o options that reach the current server, without username=:
#                          tcp:  port=SAMBA_PORT,transport=tcp
#                          quic: port=QGW_PORT,transport=quic,servername=smb.test,cafile=CA
#   opts [EXTRA]           copts plus username=SAMBA_USER
#   TRANSPORT_NAME         what `smbquic info` prints as transport: (tcp or quic)
#   qgw_start BACKEND_PORT [GATEWAY ARGS...]   a gateway on QGW_LISTEN (an address as
#                          --listen takes it, [IPv6] in brackets; 127.0.0.1 unless set), a
#                          kernel-chosen UDP port, with
#                          CERT_SERVER/KEY_SERVER (override them for the call to
#                          serve another certificate); exports QGW_PORT, QGW_PID, QGW_AUDIT (its
#                          audit log), QGW_LOG (its stderr); one at a time
#   qgw_stop               stop it by PID (safe to call twice); QGW_EXIT is its exit status
#   qgw_restart BACKEND_PORT [ARGS...]   stop, then start with another backend
#   qgw_conns EVENT        the connection ids of the audit log's EVENT (open/close) lines
#   free_udp_port          a UDP port nothing is bound to

set -u
set -o pipefail

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=samba.sh
. "$RIG_DIR/samba.sh"
# shellcheck source=certs.sh
. "$RIG_DIR/certs.sh"

TEST_TRANSPORT=${SMBQUIC_TEST_TRANSPORT:-tcp}
case "$TEST_TRANSPORT" in
tcp | quic) ;;
*)
    echo "ERROR: SMBQUIC_TEST_TRANSPORT must be tcp or quic, not '$TEST_TRANSPORT'" >&2
    exit 1
    ;;
esac
# shellcheck disable=SC2034 # used by the tests that source this file
TRANSPORT_NAME=$TEST_TRANSPORT
SMBQUIC_GATEWAY=${SMBQUIC_GATEWAY:-}
QGW_PID=
QGW_PORT=

SMBQUIC_SRCDIR=${SMBQUIC_SRCDIR:-$(cd "$RIG_DIR/../.." && pwd)}
SMBQUIC=${SMBQUIC:-}
# shellcheck disable=SC2034 # used by the tests that source this file
UNC=//127.0.0.1/share

_checks=0
_failures=0

skip() {
    echo "SKIP: $*"
    exit 77
}

# Hard failure of the test's setup (not a check): report and stop.
die() {
    echo "ERROR: $*" >&2
    exit 1
}

rig_require() {
    local reason
    if ! reason=$(samba_check_usable); then
        skip "$reason"
    fi
    if [ -z "$SMBQUIC" ]; then
        skip "smbquic CLI not built (SMBQUIC is empty: src/cli defines no smbquic_exe yet)"
    fi
    if [ ! -x "$SMBQUIC" ]; then
        skip "smbquic CLI not found at $SMBQUIC"
    fi
    if quic_mode; then
        qgw_require
    fi
    TEST_TMP=$(mktemp -d /tmp/smbquic-test.XXXXXX) || die "mktemp failed"
    export TEST_TMP
    # shellcheck disable=SC2016 # expanded when the cleanup runs
    rig_cleanup_add 'rm -rf "$TEST_TMP"'
    if quic_mode; then
        certs_make "$TEST_TMP/certs" >/dev/null || die "certs_make failed"
        echo "# transport quic: smbquic-gateway in front of each smbd"
    fi
}

quic_mode() {
    [ "$TEST_TRANSPORT" = quic ]
}

# qgw_require: skip (77) unless smbquic-gateway and certtool are there.
qgw_require() {
    if [ -z "$SMBQUIC_GATEWAY" ] || [ ! -x "$SMBQUIC_GATEWAY" ]; then
        skip "smbquic-gateway not built (SMBQUIC_GATEWAY='$SMBQUIC_GATEWAY')"
    fi
    command -v certtool >/dev/null 2>&1 || skip "certtool not installed (package gnutls-bin)"
}

# copts [EXTRA]: options that reach the current server (no username=), plus EXTRA.
copts() {
    local o
    if quic_mode; then
        o="port=$QGW_PORT,transport=quic,servername=$CERTS_SERVER_NAME,cafile=$CERT_CA"
    else
        o="port=$SAMBA_PORT,transport=tcp"
    fi
    printf '%s%s' "$o" "${1:+,$1}"
}

# opts [EXTRA]: the -o argument every call needs, plus EXTRA options (comma separated).
opts() {
    printf '%s%s' "$(copts "username=$SAMBA_USER")" "${1:+,$1}"
}

# qgw_start BACKEND_PORT [ARGS...]
qgw_start() {
    local backend=$1 i port=""
    shift
    if [ -n "$QGW_PID" ]; then
        rig_log "qgw_start: a gateway is already running (pid $QGW_PID)"
        return 1
    fi
    if [ -z "${_qgw_cleanup_added:-}" ]; then
        _qgw_cleanup_added=1
        rig_cleanup_add qgw_stop
    fi
    _qgw_runs=$((${_qgw_runs:-0} + 1))
    local dir=$TEST_TMP/gateway.$_qgw_runs
    mkdir -p "$dir" || return 1
    QGW_AUDIT=$dir/audit.log
    QGW_LOG=$dir/gateway.log
    export QGW_AUDIT QGW_LOG
    local listen=${QGW_LISTEN:-127.0.0.1} listen_re
    listen_re=$(regex_escape "$listen")
    "$SMBQUIC_GATEWAY" --listen "$listen:0" --cert "$CERT_SERVER" --key "$KEY_SERVER" \
        --backend "127.0.0.1:$backend" --audit "$QGW_AUDIT" "$@" </dev/null >"$QGW_LOG" 2>&1 &
    QGW_PID=$!
    export QGW_PID
    for ((i = 0; i < 200; i++)); do
        port=$(sed -n "s/.*listening on $listen_re:\\([0-9]*\\) (UDP).*/\\1/p" "$QGW_LOG" 2>/dev/null)
        [ -n "$port" ] && break
        kill -0 "$QGW_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        rig_log "smbquic-gateway did not start; its log:"
        cat "$QGW_LOG" >&2
        qgw_stop
        return 1
    fi
    QGW_PORT=$port
    export QGW_PORT
    return 0
}

qgw_stop() {
    local pid=$QGW_PID i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        rig_log "smbquic-gateway $pid ignored SIGTERM for 5 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null
    QGW_EXIT=$?
    export QGW_EXIT
    QGW_PID=
    QGW_PORT=
    return 0
}

qgw_restart() {
    qgw_stop
    qgw_start "$@"
}

# free_udp_port: a UDP port on which nothing is bound now (a send there gets ICMP unreachable).
free_udp_port() {
    local port
    while :; do
        port=$((20000 + (SRANDOM % 40000)))
        if ! ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
}

# qgw_conns EVENT: connection ids of the audit log's EVENT lines, one per line, in order.
qgw_conns() {
    sed -n "s/.* event=$1 conn=\([^ ]*\) .*/\1/p" "$QGW_AUDIT" 2>/dev/null
}

# The QUIC runs put a gateway in front of every smbd (samba.sh's hooks).
if quic_mode; then
    samba_after_start() {
        qgw_start "$SAMBA_PORT"
    }
    samba_before_stop() {
        qgw_stop
    }
fi

# smbq ARGS...: run the CLI with the instance's password in PASSWD. Sets RC, OUT, ERR.
# PASSWD_OVERRIDE (if set, even empty) replaces the password; NO_PASSWD=1 unsets PASSWD.
smbq() {
    local pw=$SAMBA_PASSWORD
    if [ -n "${PASSWD_OVERRIDE+x}" ]; then
        pw=$PASSWD_OVERRIDE
    fi
    echo "+ smbquic $*" >&2
    if [ "${NO_PASSWD:-0}" = 1 ]; then
        env -u PASSWD "$SMBQUIC" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
    else
        PASSWD=$pw "$SMBQUIC" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
    fi
    RC=$?
    OUT=$(cat "$TEST_TMP/out")
    ERR=$(cat "$TEST_TMP/err")
    return 0
}

_pass() {
    _checks=$((_checks + 1))
    echo "ok - $1"
}

_fail() {
    _checks=$((_checks + 1))
    _failures=$((_failures + 1))
    echo "not ok - $1"
    shift
    local line
    for line in "$@"; do
        printf '    %s\n' "$line"
    done
}

_show_run() {
    printf 'exit status: %s\nstdout:\n%s\nstderr:\n%s\n' "$RC" "$(head -c 2000 <<<"$OUT")" "$(head -c 2000 <<<"$ERR")"
    server_logs
}

# server_logs: the last lines of the running smbd's log and, over QUIC, of the gateway's, for a
# failure's report (a failure seen once in CI must be explainable from its output).
server_logs() {
    if [ -n "${SAMBA_LOG:-}" ] && [ -s "$SAMBA_LOG" ]; then
        printf 'smbd log (last 15 lines):\n'
        tail -n 15 "$SAMBA_LOG" | cut -c 1-300
    fi
    local log
    for log in "${QGW_LOG:-}" "${QGW_AUDIT:-}"; do
        if [ -n "${QGW_PID:-}" ] && [ -s "$log" ]; then
            printf '%s (last 15 lines):\n' "$log"
            tail -n 15 "$log" | cut -c 1-300
        fi
    done
}

# expect_rc WANT DESC: the last smbq call exited with WANT.
expect_rc() {
    if [ "$RC" = "$1" ]; then
        _pass "$2 (exit $1)"
    else
        _fail "$2: exit status $RC, want $1" "$(_show_run)"
    fi
}

# expect_ok DESC: the last call succeeded and wrote nothing on stderr.
expect_ok() {
    if [ "$RC" = 0 ] && [ -z "$ERR" ]; then
        _pass "$1"
    else
        _fail "$1: want exit 0 and empty stderr" "$(_show_run)"
    fi
}

# expect_failure RC LINE DESC: exit status RC and stderr exactly LINE (one line), empty stdout.
expect_failure() {
    local want_rc=$1 want_line=$2 desc=$3
    if [ "$RC" = "$want_rc" ] && [ "$ERR" = "$want_line" ] && [ -z "$OUT" ]; then
        _pass "$desc (exit $want_rc, '$want_line')"
    else
        _fail "$desc: want exit $want_rc, empty stdout and stderr '$want_line'" "$(_show_run)"
    fi
}

# expect_failure_match RC ERE DESC: exit status RC, stderr one line matching ERE.
expect_failure_match() {
    local want_rc=$1 re=$2 desc=$3 lines
    lines=$(printf '%s' "$ERR" | grep -c '')
    if [ "$RC" = "$want_rc" ] && [ "$lines" = 1 ] && grep -Eq -- "$re" <<<"$ERR"; then
        _pass "$desc (exit $want_rc, '$ERR')"
    else
        _fail "$desc: want exit $want_rc and one stderr line matching /$re/" "$(_show_run)"
    fi
}

# expect_eq GOT WANT DESC
expect_eq() {
    if [ "$1" = "$2" ]; then
        _pass "$3"
    else
        _fail "$3" "got:  $(head -c 2000 <<<"$1")" "want: $(head -c 2000 <<<"$2")"
    fi
}

# expect_true DESC CMD...: CMD succeeds.
expect_true() {
    local desc=$1
    shift
    if "$@"; then
        _pass "$desc"
    else
        _fail "$desc" "command failed: $*"
    fi
}

# expect_line LINE DESC: stdout of the last call has LINE as one of its lines.
expect_line() {
    if grep -Fxq -- "$1" <<<"$OUT"; then
        _pass "$2 ('$1')"
    else
        _fail "$2: no line '$1' in stdout" "$(_show_run)"
    fi
}

# expect_line_match ERE DESC: some line of stdout matches ERE (anchor it yourself).
expect_line_match() {
    if grep -Eq -- "$1" <<<"$OUT"; then
        _pass "$2"
    else
        _fail "$2: no stdout line matches /$1/" "$(_show_run)"
    fi
}

# field KEY: value of the 'KEY: value' line in the last call's stdout (first one).
field() {
    sed -n "s/^$1: //p" <<<"$OUT" | head -n 1
}

sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# regex_escape TEXT: TEXT as a basic or extended regular expression that matches it literally
# (an address: dots, and the brackets of [IPv6]).
regex_escape() {
    sed -e 's/[][]/\\&/g' -e 's/\./\\./g' <<<"$1"
}

# wait_for_file FILE [SECONDS]: waits up to SECONDS (default 10: a loaded sanitizer run
# starts helpers slowly) for FILE to exist and be non-empty (a helper's ready or port file);
# returns 1 if it never does.
wait_for_file() {
    local i
    for ((i = 0; i < ${2:-10} * 50; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.02
    done
    return 1
}

# make_random FILE SIZE (head -c syntax, e.g. 64M)
make_random() {
    head -c "$2" /dev/urandom >"$1" || die "cannot write $1"
}

# as_share_owner: chown files created directly in the share to the Samba user.
as_share_owner() {
    chown -R "$SAMBA_USER:" "$@"
}

test_done() {
    echo "# $_checks checks, $_failures failed"
    if [ "$_failures" -ne 0 ]; then
        exit 1
    fi
    if [ "$_checks" -eq 0 ]; then
        echo "no checks ran" >&2
        exit 1
    fi
    exit 0
}
