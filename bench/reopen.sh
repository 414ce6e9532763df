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

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup reopen.sh "it starts smbd, adds the local user smbqtest and mounts" mount -- "$@"
reads=${BENCH_READS:-20}
paths=${BENCH_PATHS:-loopback 20ms 100ms}
SMBQUIC=$builddir/src/cli/smbquic
MOUNT_SMBQUIC=$builddir/src/mount/mount.smbquic
SMBQUIC_GATEWAY=$builddir/contrib/gateway/smbquic-gateway
bench_need "$SMBQUIC" "$MOUNT_SMBQUIC" "$SMBQUIC_GATEWAY" "$builddir/tests/tools/udp-impair"
export SMBQUIC SMBQUIC_GATEWAY MOUNT_SMBQUIC MOUNT_SMBQUIC_FS=1

unset SMBQUIC_TEST_TRANSPORT
# shellcheck source-path=SCRIPTDIR/.. source=tests/mount/mountlib.sh
. tests/mount/mountlib.sh
bench_workdir

samba_start signing-mandatory
certs_make "$work/certs" >/dev/null
qgw_start "$SAMBA_PORT"
head -c 65536 /dev/urandom >"$SAMBA_SHARE_DIR/small.bin"
as_share_owner "$SAMBA_SHARE_DIR/small.bin"

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
    wait_mounted "$M" "$M_PID" || bench_die "no mount: $(tail -n 3 "$work/mount.log")"
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
    *ms)
        bench_relay_start "$((${path%ms} / 2))"
        port=$RELAY_PORT
        ;;
    *) bench_die "unknown path $path" ;;
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
    bench_relay_stop
done
