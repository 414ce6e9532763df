#!/usr/bin/env bash
# Benchmark (not a test) of the mount.smbquic FUSE mount (issue 4), in one run against one
# throwaway local Samba (signing required, no SMB encryption), everything inside a private mount
# namespace (every mount disappears with it; nothing on the host is mounted):
#   throughput  sequential write and read of a 1 GiB file through the mount (dd bs=1M; the
#               write with conv=fsync, so the FLUSH and the close are in its time; each read
#               from a fresh mount, so nothing comes from the page cache), against `smbquic
#               put`/`get` of the same file, and against smbnetfs (Debian's FUSE client over
#               libsmbclient), over TCP; the mount and the CLI also over QUIC through
#               smbquic-gateway. Each figure is the best of BENCH_RUNS runs, the tools
#               interleaved; every file written is compared on the server and every read path
#               once (untimed) with the original.
#   requests    SMB requests the mount sends (`smbquic status`, `requests:` after minus before,
#               and by command) for: stat of a file just created on the server side, `ls -l`
#               of a directory of BENCH_DIR_ENTRIES files made on the server side (fresh
#               mount), cat of a small file, `cp -a` of a tree of 200 small files in 10
#               directories (checked with diff -r on the server's disk); each on a fresh mount.
# Prints two tables and the targets of issue 4 with the ratios measured: mount throughput >= 80%
# of smbquic get/put and >= 3x smbnetfs; ls -l of 5,000 entries in no more than 20 requests.
#
# The share directory is a tmpfs (in the namespace) unless BENCH_SHARE_TMPFS=0: the mount's
# fsync becomes an SMB FLUSH, which smbd turns into an fsync (strict sync), and a disk would
# then charge the mount, and not put, for writing 1 GiB out.
#
# smbnetfs is configured through a private HOME (~/.smb/smbnetfs.conf with the user and
# password, ~/.smb/smb.conf for libsmbclient) and reaches the rig's port as the path component
# "127.0.0.1:PORT" (libsmbclient takes smb://host:port/share), so smbd need not be on 445.
#
# Usage (as root): bench/mount.sh
# Environment: BENCH_SIZE_MIB (default 1024), BENCH_RUNS (default 3), BENCH_TRANSPORTS (default
#   "tcp quic"), BENCH_DIR_ENTRIES (default 5000), BENCH_SHARE_TMPFS (default 1),
#   BENCH_MOUNT_OPTS (extra mount.smbquic options, e.g. cache=loose), SMBQUIC_BUILDDIR (default
#   ./build, configured --buildtype=release and built if needed: smbquic, mount.smbquic and
#   smbquic-gateway come from it)
set -euo pipefail

# Everything below runs in a private mount namespace: the mounts (and the tmpfs share) vanish
# with it, whatever happens to this script.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup mount.sh "it starts smbd, adds the local user smbqtest and mounts" mount -- "$@"
size_mib=${BENCH_SIZE_MIB:-1024}
runs=${BENCH_RUNS:-3}
transports=${BENCH_TRANSPORTS:-tcp quic}
entries=${BENCH_DIR_ENTRIES:-5000}
share_tmpfs=${BENCH_SHARE_TMPFS:-1}
extra_opts=${BENCH_MOUNT_OPTS:-}
SMBQUIC=$builddir/src/cli/smbquic
MOUNT_SMBQUIC=$builddir/src/mount/mount.smbquic
SMBQUIC_GATEWAY=$builddir/contrib/gateway/smbquic-gateway
bench_need "$SMBQUIC" "$MOUNT_SMBQUIC"
if [[ " $transports " = *" quic "* ]]; then
    bench_need "$SMBQUIC_GATEWAY"
    command -v certtool >/dev/null || bench_die "certtool not installed (gnutls-bin)"
fi
have_smbnetfs=1
if ! command -v smbnetfs >/dev/null; then
    echo "mount.sh: smbnetfs not installed (contrib/install-deps); its rows will say n/a" >&2
    have_smbnetfs=0
fi
export SMBQUIC SMBQUIC_GATEWAY MOUNT_SMBQUIC MOUNT_SMBQUIC_FS=1

# The rig (samba_start, certs_make, qgw_start) and the mount helpers (daemon_pid, mount_count,
# mount_cleanup). This script picks the transport itself: no gateway hooks from testlib.sh.
unset SMBQUIC_TEST_TRANSPORT
# shellcheck source-path=SCRIPTDIR/.. source=tests/mount/mountlib.sh
. tests/mount/mountlib.sh
bench_workdir
load0=$(cut -d' ' -f1-3 /proc/loadavg)

samba_start signing-mandatory
if [ "$share_tmpfs" = 1 ]; then
    mount -t tmpfs -o mode=0755 smbquic-bench "$SAMBA_SHARE_DIR"
    chown "$SAMBA_USER:" "$SAMBA_SHARE_DIR"
    # Before samba_stop (cleanups run last first) removes the directory.
    rig_cleanup_add "umount -l '$SAMBA_SHARE_DIR' 2>/dev/null || true"
fi
if [[ " $transports " = *" quic "* ]]; then
    certs_make "$work/certs" >/dev/null
    qgw_start "$SAMBA_PORT"
fi
echo "mount.sh: smbd on TCP $SAMBA_PORT${QGW_PORT:+, gateway on UDP $QGW_PORT}; creating a ${size_mib} MiB file" >&2
head -c "$((size_mib * 1048576))" /dev/urandom >"$work/src.bin"

now_us() {
    local t=$EPOCHREALTIME
    echo "${t/./}"
}

# timed CMD...: runs CMD, prints elapsed microseconds, or "fail"; keeps stderr in cmd.err.
timed() {
    local start end
    start=$(now_us)
    if "$@" >"$work/cmd.out" 2>"$work/cmd.err" </dev/null; then
        end=$(now_us)
        echo $((end - start))
    else
        echo "mount.sh: failed: $* ($(tail -n 2 "$work/cmd.err" | tr '\n' ' '))" >&2
        echo fail
    fi
}

opts_of() { # TRANSPORT: -o options of smbquic and mount.smbquic for it
    case "$1" in
    tcp) printf 'port=%s,transport=tcp,username=%s' "$SAMBA_PORT" "$SAMBA_USER" ;;
    quic)
        printf 'port=%s,transport=quic,servername=%s,cafile=%s,username=%s' "$QGW_PORT" \
            "$CERTS_SERVER_NAME" "$CERT_CA" "$SAMBA_USER"
        ;;
    esac
}

# ---- mount.smbquic ----
M=$work/mnt
mkdir -p "$M"
rig_cleanup_add "mount_cleanup '$M'"

# The helper stays in the foreground (-F), so its messages (otherwise for syslog) land in
# mount.log, and its exit status after each umount is checked.
M_PID=
m_up() { # TRANSPORT
    local o i
    o=$(opts_of "$1")${extra_opts:+,$extra_opts}
    echo "--- mount -o $o" >>"$work/mount.log"
    PASSWD=$SAMBA_PASSWORD "$MOUNT_SMBQUIC" //127.0.0.1/share "$M" -F -o "$o" \
        </dev/null >>"$work/mount.log" 2>&1 &
    M_PID=$!
    for ((i = 0; i < 300; i++)); do
        [ "$(mount_count "$M")" = 1 ] && return 0
        kill -0 "$M_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "mount.sh: mount.smbquic did not mount: $(tail -n 3 "$work/mount.log")" >&2
    return 1
}
m_down() {
    local rc=0
    umount "$M" || { echo "mount.sh: umount $M failed" >&2; return 1; }
    wait "$M_PID" || rc=$?
    M_PID=
    if [ "$rc" -ne 0 ]; then
        echo "mount.sh: mount.smbquic exited with status $rc after umount" >&2
        echo "--- exit status $rc after umount" >>"$work/mount.log"
    fi
}
m_remount() { # TRANSPORT
    m_down && m_up "$1"
}

m_write() { dd if="$work/src.bin" of="$M/m.bin" bs=1M conv=fsync; }
m_read() { dd if="$M/m.bin" of=/dev/null bs=1M; }

# ---- smbquic put/get ----
q_put() { PASSWD=$SAMBA_PASSWORD "$SMBQUIC" put "$work/src.bin" //127.0.0.1/share/q.bin -o "$1"; }
q_get() { PASSWD=$SAMBA_PASSWORD "$SMBQUIC" get //127.0.0.1/share/q.bin - -o "$1" >/dev/null; }

# ---- smbnetfs ----
S=$work/smbnetfs
SNF_HOME=$work/smbnetfs-home
SNF_PID=
mkdir -p "$S" "$SNF_HOME/.smb"
rig_cleanup_add "snf_down"
snf_conf() {
    # libsmbclient's side: SMB 3.1.1 only, signed like the others.
    cat >"$SNF_HOME/.smb/smb.conf" <<CONF
[global]
    client min protocol = SMB3_11
    client max protocol = SMB3_11
    client signing = required
CONF
    # smbnetfs refuses auth lines in a file others can read.
    (
        umask 077
        cat >"$SNF_HOME/.smb/smbnetfs.conf" <<CONF
smb_query_browsers "false"
use_libsecret "false"
stat_workaround_depth 0
auth "$SAMBA_USER" "$SAMBA_PASSWORD"
CONF
    )
}
SNF_SHARE=
snf_up() {
    local i
    SNF_SHARE=$S/127.0.0.1:$SAMBA_PORT/share
    # FUSE 2: without big_writes the kernel would hand it 4 KiB writes.
    HOME=$SNF_HOME smbnetfs "$S" -f -o "config=$SNF_HOME/.smb/smbnetfs.conf,big_writes" \
        </dev/null >>"$work/smbnetfs.log" 2>&1 &
    SNF_PID=$!
    for ((i = 0; i < 100; i++)); do
        [ "$(mount_count "$S")" = 1 ] && ls "$SNF_SHARE" >/dev/null 2>&1 && return 0
        kill -0 "$SNF_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "mount.sh: smbnetfs did not come up; its log: $(tail -n 5 "$work/smbnetfs.log")" >&2
    snf_down
    return 1
}
snf_down() {
    [ -n "$SNF_PID" ] || return 0
    umount "$S" 2>/dev/null || umount -l "$S" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SNF_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -TERM "$SNF_PID" 2>/dev/null || true
    wait "$SNF_PID" 2>/dev/null || true
    SNF_PID=
}
s_write() { dd if="$work/src.bin" of="$SNF_SHARE/s.bin" bs=1M conv=fsync; }
s_read() { dd if="$SNF_SHARE/s.bin" of=/dev/null bs=1M; }

# ---- measuring ----
rows=()
mibs_of() { # TRANSPORT TOOL OP
    local r
    for r in "${rows[@]}"; do
        IFS='|' read -r t tool op _ m <<<"$r"
        if [ "$t|$tool|$op" = "$1|$2|$3" ]; then
            echo "$m"
            return
        fi
    done
}
best() { # microsecond values or "fail"
    local b="" v
    for v in "$@"; do
        [ "$v" = fail ] && { echo fail; return; }
        if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi
    done
    echo "${b:-n/a}"
}
add_row() { # TRANSPORT TOOL OP BEST_US|fail|n/a
    local secs mibs
    case "$4" in
    n/a | fail)
        secs=$4
        mibs=$4
        ;;
    *)
        secs=$(awk -v u="$4" 'BEGIN { printf "%.2f", u / 1e6 }')
        mibs=$(awk -v u="$4" -v m="$size_mib" 'BEGIN { printf "%.1f", m / (u / 1e6) }')
        ;;
    esac
    rows+=("$1|$2|$3|$secs|$mibs")
    echo "mount.sh: $1 $2 $3: $secs s, $mibs MiB/s" >&2
}
# same_on_server NAME: the server's copy of NAME is the original.
same_on_server() {
    cmp -s "$work/src.bin" "$SAMBA_SHARE_DIR/$1" || {
        echo "mount.sh: $1 on the server differs from what was written" >&2
        return 1
    }
}

notes=()
bench_transport() {
    local t=$1 o i mw=() mr=() qp=() qg=() sw=() sr=() snf=0 us
    o=$(opts_of "$t")
    if [ "$t" = tcp ] && [ "$have_smbnetfs" = 1 ]; then
        snf=1
        snf_conf
    fi
    m_up "$t"
    notes+=("$t mount: $("$SMBQUIC" status "$M" | awk -F': ' '$1 ~ /^(transport|dialect|cipher|signing|cache)$/ { printf "%s%s=%s", sep, $1, $2; sep=" " }')")
    for ((i = 1; i <= runs; i++)); do
        rm -f "$M/m.bin"
        us=$(timed m_write)
        [ "$us" != fail ] && ! same_on_server m.bin && us=fail
        mw+=("$us")
        rm -f "$SAMBA_SHARE_DIR/q.bin"
        us=$(timed q_put "$o")
        [ "$us" != fail ] && ! same_on_server q.bin && us=fail
        qp+=("$us")
        if [ "$snf" = 1 ]; then
            if snf_up; then
                rm -f "$SNF_SHARE/s.bin"
                us=$(timed s_write)
                [ "$us" != fail ] && ! same_on_server s.bin && us=fail
                snf_down
            else
                us=fail
            fi
            sw+=("$us")
        fi
        echo "mount.sh: $t: write run $i of $runs done" >&2
    done
    for ((i = 1; i <= runs; i++)); do
        # A fresh mount for every read: nothing of the file is in the page cache.
        m_remount "$t"
        mr+=("$(timed m_read)")
        qg+=("$(timed q_get "$o")")
        if [ "$snf" = 1 ]; then
            if snf_up; then
                sr+=("$(timed s_read)")
                snf_down
            else
                sr+=(fail)
            fi
        fi
        echo "mount.sh: $t: read run $i of $runs done" >&2
    done
    # What was read, compared once with the original (untimed).
    m_remount "$t"
    if ! cmp -s "$work/src.bin" "$M/m.bin"; then
        echo "mount.sh: $t: reading m.bin through the mount gave different data" >&2
        mr=(fail)
    fi
    if ! PASSWD=$SAMBA_PASSWORD "$SMBQUIC" get //127.0.0.1/share/q.bin - -o "$o" | cmp -s "$work/src.bin" -; then
        echo "mount.sh: $t: smbquic get gave different data" >&2
        qg=(fail)
    fi
    if [ "$snf" = 1 ] && snf_up; then
        if ! cmp -s "$work/src.bin" "$SNF_SHARE/s.bin"; then
            echo "mount.sh: smbnetfs read different data" >&2
            sr=(fail)
        fi
        snf_down
    fi
    m_down
    add_row "$t" mount write "$(best "${mw[@]}")"
    add_row "$t" "smbquic put" write "$(best "${qp[@]}")"
    if [ "$t" = tcp ]; then
        add_row "$t" smbnetfs write "$(best "${sw[@]}")"
    fi
    add_row "$t" mount read "$(best "${mr[@]}")"
    add_row "$t" "smbquic get" read "$(best "${qg[@]}")"
    if [ "$t" = tcp ]; then
        add_row "$t" smbnetfs read "$(best "${sr[@]}")"
    fi
}

# ---- request counts ----
# counters FILE: `smbquic status` of the mount into FILE.
counters() {
    "$SMBQUIC" status "$M" >"$1"
}
count_rows=()
LS_REQUESTS=
# count_op DESC CHECK CMD...: on a fresh mount, the requests CMD makes (CHECK: a command run on
# CMD's stdout that must succeed, for the result to count).
count_op() {
    local desc=$1 check=$2 start end total by
    shift 2
    m_up tcp
    counters "$work/before"
    start=$(now_us)
    if ! "$@" >"$work/op.out" 2>"$work/op.err"; then
        echo "mount.sh: $desc failed: $(head -n 3 "$work/op.err")" >&2
        count_rows+=("$desc|fail|$(head -n 1 "$work/op.err")|")
        m_down
        return
    fi
    end=$(now_us)
    counters "$work/after"
    m_down
    total=$(awk -F': ' 'NR == FNR { b[$1] = $2; next } $1 == "requests" { print $2 - b[$1] }' \
        "$work/before" "$work/after")
    by=$(awk -F': ' 'NR == FNR { b[$1] = $2; next }
        $1 ~ /^requests_/ && $1 != "requests_in_flight" && $2 - b[$1] > 0 {
            printf "%s%s %d", sep, substr($1, 10), $2 - b[$1]; sep = ", " }' "$work/before" "$work/after")
    if ! $check <"$work/op.out"; then
        echo "mount.sh: $desc: wrong result (see below)" >&2
        head -n 5 "$work/op.out" >&2
        by="$by (WRONG RESULT)"
    fi
    count_rows+=("$desc|$total|$by|$(awk -v u="$((end - start))" 'BEGIN { printf "%.3f", u / 1e6 }')")
    echo "mount.sh: $desc: $total requests ($by)" >&2
    case "$desc" in
    ls*) LS_REQUESTS=$total ;;
    esac
}

echo "mount.sh: request counts (TCP); making $entries files in big/ on the server" >&2
mkdir "$SAMBA_SHARE_DIR/big"
for ((i = 1; i <= entries; i++)); do
    : >"$SAMBA_SHARE_DIR/big/file-$(printf '%05d' "$i")"
done
head -c 1000 /dev/urandom >"$work/small.bin"
cp "$work/small.bin" "$SAMBA_SHARE_DIR/small.bin"
printf 'new\n' >"$SAMBA_SHARE_DIR/new.txt"
chown -R "$SAMBA_USER:" "$SAMBA_SHARE_DIR"

is_new_stat() { grep -qx '4 regular file'; }
is_listing() { [ "$(grep -c ' file-[0-9]*$')" = "$entries" ]; }
is_small() { cmp -s "$work/small.bin" -; }
count_op "stat of a file new on the server" is_new_stat stat -c '%s %F' "$M/new.txt"
count_op "ls -l of $entries entries (cold)" is_listing ls -l "$M/big"
count_op "cat of a 1000-byte file" is_small cat "$M/small.bin"
# A source tree copied in: 10 directories of 20 files of 1000 bytes (cp -a: create, write,
# mode, timestamps, close for each), then compared on the server's disk.
mkdir -p "$work/tree"
for ((d = 0; d < 10; d++)); do
    mkdir "$work/tree/d$d"
    for ((f = 0; f < 20; f++)); do
        cp "$work/small.bin" "$work/tree/d$d/f$f.c"
    done
done
copy_tree() { cp -a "$work/tree" "$M/tree" && diff -r "$work/tree" "$SAMBA_SHARE_DIR/tree"; }
is_empty() { ! grep -q .; }
count_op "cp -a of 200 files in 10 directories" is_empty copy_tree

for t in $transports; do
    bench_transport "$t"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----
echo
echo "${size_mib} MiB, signed (no SMB encryption), Samba $(smbd -V | sed 's/^Version //'), best of $runs runs"
echo "$(nproc) cores, shared with other people's work: load average $load0 before, $load1 after"
if [ "$share_tmpfs" = 1 ]; then
    echo "share on tmpfs; write = dd bs=1M conv=fsync (FLUSH and close included); read = dd bs=1M from a fresh mount"
else
    echo "share on $(df --output=fstype "$SAMBA_SHARE_DIR" | tail -n 1); write = dd bs=1M conv=fsync (FLUSH and close included); read = dd bs=1M from a fresh mount"
fi
echo "mount: mount.smbquic -o $(opts_of tcp | sed 's/port=[0-9]*,//')${extra_opts:+,$extra_opts}"
if [ "$have_smbnetfs" = 1 ]; then
    echo "smbnetfs: $(HOME=$SNF_HOME smbnetfs -V 2>&1 | sed -n 's/^SMBNetFS version //p') (FUSE 2, -o big_writes), libsmbclient SMB 3.1.1 signed, TCP only"
fi
echo
printf '| %-9s | %-11s | %-5s | %8s | %7s |\n' transport tool op seconds MiB/s
printf '|%s|%s|%s|%s|%s|\n' ----------- ------------- ------- ---------: --------:
for r in "${rows[@]}"; do
    IFS='|' read -r t tool op secs mibs <<<"$r"
    printf '| %-9s | %-11s | %-5s | %8s | %7s |\n' "$t" "$tool" "$op" "$secs" "$mibs"
done
echo
printf '| %-37s | %8s | %-50s | %7s |\n' "operation (TCP, fresh mount)" requests "by command" seconds
printf '|%s|%s|%s|%s|\n' --------------------------------------- ---------: ---------------------------------------------------- --------:
for r in "${count_rows[@]}"; do
    IFS='|' read -r desc total by secs <<<"$r"
    printf '| %-37s | %8s | %-50s | %7s |\n' "$desc" "$total" "$by" "$secs"
done

ratio() { # A B: A/B in percent
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0)
        print "n/a"; else printf "%.0f%%", 100 * a / b }'
}
times() { # A B: A/B as a factor
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0)
        print "n/a"; else printf "%.1fx", a / b }'
}
verdict() { # VALUE OP LIMIT: "met", "NOT met" or "n/a" (VALUE may end in % or x)
    awk -v v="${1%[%x]}" -v op="$2" -v l="$3" 'BEGIN { if (v !~ /^[0-9.]+$/) print "n/a";
        else if ((op == ">=" && v + 0 >= l) || (op == "<=" && v + 0 <= l)) print "met"; else print "NOT met" }'
}
echo
echo "Targets (issue 4):"
for t in $transports; do
    for op in write read; do
        case "$op" in write) cli="smbquic put" ;; read) cli="smbquic get" ;; esac
        m=$(mibs_of "$t" mount "$op")
        c=$(mibs_of "$t" "$cli" "$op")
        r=$(ratio "$m" "$c")
        line="  $t $op: mount / $cli = $r (target >= 80%: $(verdict "$r" '>=' 80))"
        if [ "$t" = tcp ]; then
            s=$(mibs_of "$t" smbnetfs "$op")
            x=$(times "$m" "$s")
            line="$line; mount / smbnetfs = $x (target >= 3x: $(verdict "$x" '>=' 3))"
        fi
        echo "$line"
    done
done
echo "  ls -l of $entries entries: ${LS_REQUESTS:-n/a} SMB requests (target <= 20 for 5,000: $(verdict "${LS_REQUESTS:-}" '<=' 20))"
echo
echo "Mounts as negotiated (smbquic status):"
printf '  %s\n' "${notes[@]}"
# Anything the helper said besides connecting, mounting and unmounting.
grep -vE '^--- mount -o |^mount\.smbquic: (connected to|mounted|disconnecting session|unmounted) ' \
    "$work/mount.log" | sort | uniq -c | sort -rn | head -n 20 >"$work/mount.other" || true
if [ -s "$work/mount.other" ]; then
    echo "mount.smbquic messages besides connect/mount/unmount (count, message):"
    sed 's/^/  /' "$work/mount.other"
else
    echo "mount.smbquic said nothing besides connect/mount/unmount, and exited 0 after every umount"
fi
