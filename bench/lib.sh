# shellcheck shell=bash
# What the benchmarks (bench/mount.sh, bench/quic.sh, bench/reopen.sh) share. Source it first
# thing, then:
#   bench_setup NAME WHY [mount] -- "$@"
#                      NAME is the script's name in messages. Exits unless root (WHY says
#                      what for); with "mount", also unless /dev/fuse exists, and re-runs the
#                      script in a private mount namespace (its mounts vanish with it,
#                      whatever happens to the script). Then goes to the source tree (srcdir),
#                      resolves SMBQUIC_BUILDDIR (default ./build, relative to the tree) into
#                      builddir, and configures it --buildtype=release and builds it when
#                      meson and ninja are there (a failed build leaves the binaries already
#                      built).
#   bench_need FILE... exits unless each FILE is an executable
#   bench_die MESSAGE  "NAME: MESSAGE" on stderr, exit 1
# After sourcing tests/rig/testlib.sh (or tests/mount/mountlib.sh) at the top level:
#   bench_workdir      a work directory in work (and TEST_TMP), removed at exit with what the
#                      rig started
#   bench_relay_start ONE_WAY_DELAY_MS
#                      udp-impair ($builddir/tests/tools/udp-impair) from an ephemeral port
#                      on 127.0.0.1 to the gateway (QGW_PORT) with that delay each way; sets
#                      RELAY_PORT and RELAY_PID (its statistics in $work/relay.stats)
#   bench_relay_stop   stops it (also registered as a cleanup)

bench_die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

bench_setup() {
    BENCH_NAME=$1
    local why=$2 mode=${3:-} script
    shift 3
    [ "${1:-}" = -- ] && shift
    [ "$(id -u)" -eq 0 ] || bench_die "run as root ($why)"
    script=$(realpath "$0")
    if [ "$mode" = mount ]; then
        [ -c /dev/fuse ] || bench_die "no /dev/fuse"
        if [ -z "${SMBQUIC_BENCH_NS:-}" ]; then
            SMBQUIC_BENCH_NS=1 exec unshare --mount --propagation private -- bash "$script" "$@"
        fi
    fi
    cd "$(dirname "$script")/.." || bench_die "cannot enter the source tree"
    srcdir=$(pwd)
    builddir=${SMBQUIC_BUILDDIR:-build}
    case "$builddir" in
    /*) ;;
    *) builddir=$srcdir/$builddir ;;
    esac
    if command -v meson >/dev/null && command -v ninja >/dev/null; then
        if [ ! -f "$builddir/build.ninja" ]; then
            meson setup "$builddir" --buildtype=release >&2
        fi
        ninja -C "$builddir" >&2 ||
            echo "$BENCH_NAME: the build failed; using the binaries already built" >&2
    fi
}

bench_need() {
    local bin
    for bin in "$@"; do
        [ -x "$bin" ] || bench_die "$bin not built"
    done
}

bench_workdir() {
    set -e
    _rig_path
    work=$(mktemp -d /tmp/smbquic-bench.XXXXXX)
    TEST_TMP=$work
    export TEST_TMP
    rig_cleanup_add "rm -rf '$work'"
    rig_cleanup_add bench_relay_stop
}

RELAY_PID=
bench_relay_start() {
    rm -f "$work/relay.port"
    "$builddir/tests/tools/udp-impair" --listen 127.0.0.1:0 --target "127.0.0.1:$QGW_PORT" \
        --delay "$1" --ready-file "$work/relay.port" --stats-file "$work/relay.stats" \
        </dev/null >/dev/null 2>"$work/relay.log" &
    RELAY_PID=$!
    wait_for_file "$work/relay.port" || bench_die "udp-impair did not start: $(cat "$work/relay.log")"
    # shellcheck disable=SC2034 # for the scripts
    RELAY_PORT=$(cat "$work/relay.port")
}

bench_relay_stop() {
    if [ -n "$RELAY_PID" ]; then
        kill -TERM "$RELAY_PID" 2>/dev/null || true
        wait "$RELAY_PID" 2>/dev/null || true
        RELAY_PID=
    fi
}
