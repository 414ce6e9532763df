# shellcheck shell=bash
# Throwaway Samba server for smbquic's tests, benchmark and demo.
#
# Source this file from bash, then:
#   samba_start VARIANT   start smbd (as root) in a fresh temp dir on a random loopback port
#   samba_stop            stop it (by PID) and remove the temp dir; safe to call twice
#
# samba_start exports:
#   SAMBA_PORT        TCP port on 127.0.0.1
#   SAMBA_DIR         the temp dir holding everything (config, state, logs, share)
#   SAMBA_CONF        the smb.conf in use
#   SAMBA_SHARE_DIR   directory exported as //127.0.0.1/share, owned by SAMBA_USER
#   SAMBA_PID         PID of the smbd parent process
#   SAMBA_USER        smbqtest (a local unix user, created with useradd if missing)
#   SAMBA_PASSWORD    random password set for SAMBA_USER in this instance's passdb
#   SAMBA_CREDS       a mount.cifs/smbclient -A style credentials file (mode 0600)
#   SAMBA_LOG         smbd's debug output (shown when startup fails)
#   SAMBA_VARIANT     the variant that was started
#
# VARIANTS (server min protocol is SMB3_11 and server signing is mandatory unless noted):
#   default              server smb encrypt = desired: capable clients are asked to encrypt
#   signing-mandatory    encryption only negotiable (Samba default), so sessions are signed only
#   encrypt-aes-128-gcm  server smb encrypt = required, only that cipher offered
#   encrypt-aes-128-ccm  "
#   encrypt-aes-256-gcm  "
#   encrypt-aes-256-ccm  "
#   sign-aes-gmac        only that signing algorithm offered, encryption not turned on
#   sign-aes-cmac        "
#   sign-hmac-sha256     "
#   encrypt-off          server smb encrypt = off (encryption cannot be negotiated)
#   smb3-min             server min protocol = SMB3_00 (for vers= tests), otherwise as
#                        signing-mandatory
#
# SAMBA_PRELOAD, when set, is a shared object smbd is started with (LD_PRELOAD): a fault the
# test injects into a real server (tests/rig/smbd_close_fails.c).
#
# Hooks: a script that defines samba_after_start has it run once smbd accepts connections (all
# the variables above are set; if it fails, samba_start stops smbd and fails), and one that
# defines samba_before_stop has it run first thing in samba_stop whenever an instance is up
# (testlib.sh uses them to put smbquic-gateway in front of smbd for the QUIC runs).
#
# At most one instance per shell. samba_start installs an EXIT trap that runs rig_cleanup:
# the commands registered with rig_cleanup_add (last first), then samba_stop. Scripts that
# want their own EXIT trap must call rig_cleanup from it.
#
# Never kills by name: smbd is stopped by its PID, and leftovers (smbd's forked children,
# helpers it started) are found by the path of this instance's temp dir in their command line.

SAMBA_RIG_USER=${SAMBA_RIG_USER:-smbqtest}
SAMBA_START_TIMEOUT=${SAMBA_START_TIMEOUT:-20}

_rig_cleanups=()

rig_log() {
    printf 'rig: %s\n' "$*" >&2
}

# rig_cleanup_add CMD...: run CMD (one eval'd string) when the script exits.
rig_cleanup_add() {
    _rig_cleanups+=("$*")
    _rig_install_trap
}

rig_cleanup() {
    local i
    # A second signal must not cut the cleanup short.
    trap '' INT TERM HUP
    for ((i = ${#_rig_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_rig_cleanups[$i]}" || true
    done
    _rig_cleanups=()
    samba_stop || true
}

_rig_install_trap() {
    if [ -z "${_rig_trap_installed:-}" ]; then
        _rig_trap_installed=1
        trap 'rig_cleanup' EXIT
        # Turn signals into a normal exit so the EXIT trap runs.
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
    fi
}

# samba_check_usable: prints a reason and returns 1 when this machine cannot run the rig.
samba_check_usable() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "needs root (starts smbd and creates the unix user $SAMBA_RIG_USER)"
        return 1
    fi
    local tool
    for tool in smbd pdbedit testparm; do
        if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
            echo "$tool not installed (run contrib/install-deps)"
            return 1
        fi
    done
    return 0
}

_rig_path() {
    PATH="$PATH:/usr/sbin:/sbin"
    export PATH
}

_rig_ensure_user() {
    if id -u "$SAMBA_RIG_USER" >/dev/null 2>&1; then
        return 0
    fi
    # Tests run in parallel: serialise useradd (it takes its own lock and fails if busy).
    (
        flock -w 30 9 || exit 1
        id -u "$SAMBA_RIG_USER" >/dev/null 2>&1 ||
            useradd -M -d /nonexistent -s /usr/sbin/nologin "$SAMBA_RIG_USER"
    ) 9>/run/lock/smbquic-rig-useradd.lock
}

_rig_random_port() {
    local port
    while :; do
        port=$((20000 + (SRANDOM % 40000)))
        if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
}

_rig_variant_options() {
    local v=$1
    case "$v" in
    default)
        echo "server smb encrypt = desired"
        ;;
    signing-mandatory)
        ;;
    encrypt-aes-128-gcm | encrypt-aes-128-ccm | encrypt-aes-256-gcm | encrypt-aes-256-ccm)
        local alg=${v#encrypt-}
        echo "server smb encrypt = required"
        echo "server smb3 encryption algorithms = ${alg^^}"
        ;;
    sign-aes-gmac)
        echo "server smb3 signing algorithms = AES-128-GMAC"
        ;;
    sign-aes-cmac)
        echo "server smb3 signing algorithms = AES-128-CMAC"
        ;;
    sign-hmac-sha256)
        echo "server smb3 signing algorithms = HMAC-SHA256"
        ;;
    encrypt-off)
        echo "server smb encrypt = off"
        ;;
    smb3-min)
        ;;
    kerberos)
        # Kerberos from an MIT KDC (tests/rig/kdc.sh): a standalone server accepts tickets for
        # the service principals in its own keytab; a ticket of the realm maps to the local
        # user of its name.
        [ -n "${KDC_REALM:-}" ] && [ -n "${KDC_SERVICE_KEYTAB:-}" ] || return 1
        echo "realm = $KDC_REALM"
        echo "kerberos method = dedicated keytab"
        echo "dedicated keytab file = FILE:$KDC_SERVICE_KEYTAB"
        ;;
    *)
        return 1
        ;;
    esac
}

# True when user xattrs work in DIR (Samba stores DOS attributes in user.DOSATTRIB).
_rig_xattrs_work() {
    local probe=$1/.xattr-probe
    : >"$probe" || return 1
    python3 - "$probe" <<'PY' 2>/dev/null
import os, sys
os.setxattr(sys.argv[1], "user.smbquic-probe", b"1")
sys.exit(0 if os.getxattr(sys.argv[1], "user.smbquic-probe") == b"1" else 1)
PY
    local rc=$?
    rm -f "$probe"
    return $rc
}

_rig_write_conf() {
    local dir=$1 port=$2 variant=$3 min_protocol=SMB3_11 extra
    extra=$(_rig_variant_options "$variant")
    [ "$variant" = smb3-min ] && min_protocol=SMB3_00
    local share_opts
    if _rig_xattrs_work "$dir/share"; then
        share_opts="    store dos attributes = yes"
    else
        share_opts="    vfs objects = xattr_tdb
    xattr_tdb:file = $dir/state/xattr.tdb
    store dos attributes = yes"
    fi
    cat >"$dir/smb.conf" <<CONF
# smbquic test rig, variant $variant
[global]
    server role = standalone server
    workgroup = SMBQ
    netbios name = SMBQRIG
    security = user
    passdb backend = tdbsam
    map to guest = never
    restrict anonymous = 2
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = $port
    disable netbios = yes
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    server min protocol = $min_protocol
    server signing = mandatory
    private dir = $dir/private
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    pid directory = $dir/pid
    ncalrpc dir = $dir/ncalrpc
    binddns dir = $dir/binddns
    usershare path = $dir/usershares
    log file = $dir/log/log.%m
    log level = 1
    max log size = 0
$(printf '%s\n' "$extra" | sed '/^$/d; s/^/    /')

[share]
    path = $dir/share
    read only = no
    browseable = yes
    valid users = $SAMBA_RIG_USER
    kernel oplocks = no
    kernel share modes = no
    posix locking = no
    ea support = yes
$share_opts
CONF
}

# Kills (by PID) every process whose command line mentions this instance's temp dir.
_rig_kill_leftovers() {
    local dir=$1 sig=$2 p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        case "$cmd" in
        *"$dir/smb.conf"*) kill "-$sig" "$p" 2>/dev/null || true ;;
        esac
    done
}

_rig_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# samba_start VARIANT
samba_start() {
    local variant=${1:-default}
    _rig_path
    local reason
    if ! reason=$(samba_check_usable); then
        rig_log "cannot start samba: $reason"
        return 1
    fi
    if [ -n "${SAMBA_PID:-}" ]; then
        rig_log "samba_start: an instance is already running (pid $SAMBA_PID)"
        return 1
    fi
    if ! _rig_variant_options "$variant" >/dev/null; then
        rig_log "samba_start: unknown variant '$variant'"
        return 1
    fi
    _rig_ensure_user || { rig_log "could not create user $SAMBA_RIG_USER"; return 1; }
    _rig_install_trap

    local dir
    dir=$(mktemp -d /tmp/smbquic-samba.XXXXXX) || return 1
    SAMBA_DIR=$dir
    export SAMBA_DIR
    chmod 0755 "$dir"
    mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc,binddns,usershares,log,share}
    chmod 0700 "$dir/private"
    chmod 1770 "$dir/usershares"
    chown "$SAMBA_RIG_USER:" "$dir/share"
    chmod 0755 "$dir/share"

    local password
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
    local attempt port pid ok=0 waited
    for attempt in 1 2 3 4 5; do
        port=$(_rig_random_port)
        _rig_write_conf "$dir" "$port" "$variant"
        if [ "$attempt" -eq 1 ]; then
            if ! testparm -s "$dir/smb.conf" >"$dir/testparm.out" 2>&1; then
                rig_log "testparm rejected the config:"
                cat "$dir/testparm.out" >&2
                samba_stop
                return 1
            fi
            if ! printf '%s\n%s\n' "$password" "$password" |
                pdbedit -s "$dir/smb.conf" -a -t -u "$SAMBA_RIG_USER" >"$dir/pdbedit.out" 2>&1; then
                rig_log "pdbedit failed:"
                cat "$dir/pdbedit.out" >&2
                samba_stop
                return 1
            fi
        fi
        SAMBA_LOG=$dir/log/smbd.stdout
        # smbd signals its whole process group when it exits: give it a session of its own
        # (env and setsid exec in place, so $! is smbd's PID).
        env ${SAMBA_PRELOAD:+LD_PRELOAD="$SAMBA_PRELOAD"} \
            setsid smbd --foreground --no-process-group --debug-stdout -s "$dir/smb.conf" \
            </dev/null >"$SAMBA_LOG" 2>&1 &
        pid=$!
        # Not a job of this shell: no "Terminated" notice when samba_stop kills it.
        disown "$pid" 2>/dev/null || true
        SAMBA_PID=$pid
        export SAMBA_PID SAMBA_LOG
        waited=0
        while [ "$waited" -lt $((SAMBA_START_TIMEOUT * 10)) ]; do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if _rig_port_open "$port"; then
                ok=1
                break
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
        [ "$ok" -eq 1 ] && break
        if kill -0 "$pid" 2>/dev/null; then
            rig_log "smbd did not accept connections on port $port within ${SAMBA_START_TIMEOUT}s; its log:"
            cat "$SAMBA_LOG" >&2
            samba_stop
            return 1
        fi
        SAMBA_PID=
        if grep -qiE 'address already in use|Failed to bind|open_sockets_smbd: No sockets available' "$SAMBA_LOG"; then
            rig_log "port $port busy, retrying"
            continue
        fi
        rig_log "smbd exited during startup; its log:"
        cat "$SAMBA_LOG" >&2
        samba_stop
        return 1
    done
    if [ "$ok" -ne 1 ]; then
        rig_log "could not find a free port for smbd"
        samba_stop
        return 1
    fi

    SAMBA_PORT=$port
    SAMBA_CONF=$dir/smb.conf
    SAMBA_SHARE_DIR=$dir/share
    SAMBA_USER=$SAMBA_RIG_USER
    SAMBA_PASSWORD=$password
    SAMBA_VARIANT=$variant
    SAMBA_CREDS=$dir/credentials
    (umask 077 && printf 'username=%s\npassword=%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$SAMBA_CREDS")
    export SAMBA_PORT SAMBA_CONF SAMBA_SHARE_DIR SAMBA_USER SAMBA_PASSWORD SAMBA_VARIANT SAMBA_CREDS
    if declare -F samba_after_start >/dev/null && ! samba_after_start; then
        rig_log "samba_start: samba_after_start failed"
        samba_stop
        return 1
    fi
    return 0
}

# samba_stop: stop smbd by PID, wait for it, remove the temp dir. Idempotent.
samba_stop() {
    local pid=${SAMBA_PID:-} dir=${SAMBA_DIR:-} i
    if [ -n "$pid$dir" ] && declare -F samba_before_stop >/dev/null; then
        samba_before_stop || true
    fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            rig_log "smbd $pid ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    if [ -n "$dir" ] && [ -d "$dir" ]; then
        # smbd's per-connection children exit with their parent; make sure, by PID.
        for ((i = 0; i < 50; i++)); do
            _rig_kill_leftovers "$dir" TERM
            if ! _rig_has_leftovers "$dir"; then
                break
            fi
            sleep 0.1
        done
        _rig_kill_leftovers "$dir" KILL
        case "$dir" in
        /tmp/smbquic-samba.*) rm -rf "$dir" ;;
        esac
    fi
    SAMBA_PID=
    SAMBA_DIR=
    SAMBA_PORT=
    return 0
}

_rig_has_leftovers() {
    local dir=$1 p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        case "$cmd" in
        *"$dir/smb.conf"*) return 0 ;;
        esac
    done
    return 1
}

# samba_log_requests: every connection made from now on has its smbd log each SMB2 request it
# dispatches, with the compound it came in, to $SAMBA_LOG (Samba's smb2 debug class at level
# 10; each connection's smbd reads smb.conf when it starts). See samba_requests_since.
samba_log_requests() {
    sed -i 's/^\(\s*log level = \)1$/\11 smb2:10/' "$SAMBA_DIR/smb.conf"
    grep -q 'log level = 1 smb2:10$' "$SAMBA_DIR/smb.conf"
}

# samba_requests_since LINE: the requests smbd logged after line LINE of $SAMBA_LOG (take
# `wc -l <"$SAMBA_LOG"` before the client runs) as one line of words: "[N]" starts a message
# of N requests (a compound when N > 1), then each request's command (SMB2_OP_ name without the
# prefix), each followed by "=STATUS" (NT_STATUS_ name without the prefix) when smbd logs its
# answer there: successes, and errors a handler returns as a normal answer (END_OF_FILE,
# MORE_PROCESSING_REQUIRED); other errors Samba logs elsewhere.
samba_requests_since() {
    tail -n "+$(($1 + 1))" "$SAMBA_LOG" | sed -n -E \
        -e 's/^smbd_smb2_request idx\[1\] of ([0-9]+) vectors.*/V\1/p' \
        -e 's/^smbd_smb2_request_dispatch: opcode\[SMB2_OP_([A-Z_]+)\].*/\1/p' \
        -e 's/^smbd_smb2_request_done_ex: .* status\[NT_STATUS_([A-Z_]+)\].*/=\1/p' |
        awk '/^V/ { printf "%s[%d]", sep, (substr($0, 2) - 1) / 4; sep = " "; next }
             { printf "%s%s", sep, $0; sep = " " } END { print "" }'
}

# samba_smbclient [SMBCLIENT ARGS...]: Samba's own client against //127.0.0.1/share as SAMBA_USER.
samba_smbclient() {
    smbclient "//127.0.0.1/share" -p "$SAMBA_PORT" -A "$SAMBA_CREDS" -m SMB3_11 "$@"
}
