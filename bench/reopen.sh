#!/usr/bin/env bash
# Benchmark (not a test) of what leases save when a file is read again soon after: a program
# (a build, a script) that opens, reads and closes the same small file several times in a row.
# One throwaway local Samba (signing required), the mount over QUIC through smbquic-gateway,
# on loopback and through udp-impair at 20 ms and 100 ms round trip, everything inside a
# private mount namespace. For each path, a 64 KiB file is read BENCH_READS times (open,
# read to the end, close; python, so no fstat(2) adds its own requests) with the default
# closetimeo=1 (the handle is kept after each close and the next open takes it over, with the
# pages cached under the lease) and with closetimeo=0 (each open is a CREATE and a READ),
# each on a fresh mount after one untimed read. Prints a table: path | closetimeo | seconds
# for all the reads | SMB requests they sent (`smbquic status`).
#
# Usage (as root): bench/reopen.sh
# Environment: BENCH_READS (default 20), BENCH_PATHS (default "loopback 20ms 100ms"),
#   SMBQUIC_BUILDDIR (default ./build, configured --buildtype=release and built if needed)
set -euo pipefail

cd "$(dirname "$0")/.."
srcdir=$(pwd)
reads=${BENCH_READS:-20}
paths=${BENCH_PATHS:-loopback 20ms 100ms}
builddir=${SMBQUIC_BUILDDIR:-build}

if [ "$(id -u)" -ne 0 ]; then
    echo "reopen.sh: run as root (it starts smbd, adds the local user smbqtest and mounts)" >&2
    exit 1
fi
[ -c /dev/fuse ] || { echo "reopen.sh: no /dev/fuse" >&2; exit 1; }
if [ -z "${SMBQUIC_BENCH_NS:-}" ]; then
    SMBQUIC_BENCH_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi
case "$builddir" in
/*) ;;
*) builddir=$srcdir/$builddir ;;
esac
if command -v meson >/dev/null && command -v ninja >/dev/null; then
    if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" --buildtype=release >&2
    fi
    ninja -C "$builddir" >&2 || echo "reopen.sh: the build failed; using the binaries already built" >&2
fi
SMBQUIC=$builddir/src/cli/smbquic
MOUNT_SMBQUIC=$builddir/src/mount/mount.smbquic
SMBQUIC_GATEWAY=$builddir/contrib/gateway/smbquic-gateway
relay=$builddir/tests/tools/udp-impair
for bin in "$SMBQUIC" "$MOUNT_SMBQUIC" "$SMBQUIC_GATEWAY" "$relay"; do
    [ -x "$bin" ] || { echo "reopen.sh: $bin not built" >&2; exit 1; }
done
export SMBQUIC SMBQUIC_GATEWAY MOUNT_SMBQUIC MOUNT_SMBQUIC_FS=1

unset SMBQUIC_TEST_TRANSPORT
# shellcheck source-path=SCRIPTDIR/.. source=tests/mount/mountlib.sh
. tests/mount/mountlib.sh
set -e
_rig_path

work=$(mktemp -d /tmp/smbquic-bench.XXXXXX)
TEST_TMP=$work
export TEST_TMP
rig_cleanup_add "rm -rf '$work'"

samba_start signing-mandatory
certs_make "$work/certs" >/dev/null
qgw_start "$SAMBA_PORT"
head -c 65536 /dev/urandom >"$SAMBA_SHARE_DIR/small.bin"
as_share_owner "$SAMBA_SHARE_DIR/small.bin"

relay_pid=
relay_up() { # DELAY_MS_EACH_WAY: sets port to the relay's
    rm -f "$work/relay.port"
    "$relay" --listen 127.0.0.1:0 --target "127.0.0.1:$QGW_PORT" --delay "$1" \
        --ready-file "$work/relay.port" </dev/null >/dev/null 2>"$work/relay.log" &
    relay_pid=$!
    rig_cleanup_add "kill $relay_pid 2>/dev/null || true"
    wait_for_file "$work/relay.port" || { echo "reopen.sh: udp-impair did not start" >&2; exit 1; }
    port=$(cat "$work/relay.port")
}
relay_down() {
    [ -n "$relay_pid" ] || return 0
    kill "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
    relay_pid=
}

M=$work/mnt
mkdir -p "$M"
rig_cleanup_add "mount_cleanup '$M'"
M_PID=
m_up() { # PORT CLOSETIMEO
    local i
    PASSWD=$SAMBA_PASSWORD "$MOUNT_SMBQUIC" //127.0.0.1/share "$M" -F -o \
        "port=$1,transport=quic,servername=$CERTS_SERVER_NAME,cafile=$CERT_CA,username=$SAMBA_USER,closetimeo=$2" \
        </dev/null >>"$work/mount.log" 2>&1 &
    M_PID=$!
    wait_mounted "$M" "$M_PID" || { echo "reopen.sh: no mount: $(tail -n 3 "$work/mount.log")" >&2; exit 1; }
}
m_down() {
    umount "$M"
    wait "$M_PID" || true
    M_PID=
}
requests() { "$SMBQUIC" status "$M" | sed -n 's/^requests: //p'; }

# read_times N: opens, reads and closes small.bin N times; prints the seconds they took.
read_times() {
    python3 - "$M/small.bin" "$1" <<'PY'
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
start = time.monotonic()
for _ in range(n):
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
print('%.3f' % (time.monotonic() - start))
PY
}

printf '| %-8s | %-10s | %22s | %8s |\n' path closetimeo "seconds for $reads reads" requests
printf '|----------|------------|%s|----------|\n' "------------------------"
for path in $paths; do
    case "$path" in
    loopback) port=$QGW_PORT ;;
    *ms) relay_up "$((${path%ms} / 2))" ;;
    *) echo "reopen.sh: unknown path $path" >&2; exit 1 ;;
    esac
    for closetimeo in 1 0; do
        m_up "$port" "$closetimeo"
        read_times 1 >/dev/null # lookup, first open and read: not measured
        before=$(requests)
        secs=$(read_times "$reads")
        after=$(requests)
        m_down
        printf '| %-8s | %-10s | %22s | %8s |\n' "$path" "$closetimeo" "$secs" "$((after - before))"
    done
    relay_down
done
