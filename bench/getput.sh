#!/usr/bin/env bash
# Benchmark (not a test): `smbquic get` and `put` of a large file against Samba's own smbclient,
# on the same throwaway local Samba in the same run, once with signing only (AES-GMAC) and once
# with AES-128-GCM encryption required. Each measurement is the best of BENCH_RUNS runs, the two
# tools interleaved. Every file read back is compared with the original.
#
# Usage (as root): bench/getput.sh
# Environment: BENCH_SIZE_MIB (default 512), BENCH_RUNS (default 3),
#              SMBQUIC_BUILDDIR (default ./build; built if needed), SMBQUIC (a binary to use instead)
set -euo pipefail

cd "$(dirname "$0")/.."
srcdir=$(pwd)
size_mib=${BENCH_SIZE_MIB:-512}
runs=${BENCH_RUNS:-3}
builddir=${SMBQUIC_BUILDDIR:-build}

if [ "$(id -u)" -ne 0 ]; then
    echo "getput: run as root (it starts smbd and adds the local user smbqtest)" >&2
    exit 1
fi

# shellcheck source-path=SCRIPTDIR/.. source=tests/rig/samba.sh
. tests/rig/samba.sh
_rig_path

smbquic=${SMBQUIC:-}
if [ -z "$smbquic" ]; then
    if command -v meson >/dev/null && command -v ninja >/dev/null; then
        if [ ! -f "$builddir/build.ninja" ]; then
            meson setup "$builddir" --buildtype=release >&2 || true
        fi
        ninja -C "$builddir" >&2 || echo "getput: build failed; smbquic rows will say n/a" >&2
    fi
    case "$builddir" in
    /*) ;;
    *) builddir=$srcdir/$builddir ;;
    esac
    smbquic=$builddir/src/cli/smbquic
fi
if [ ! -x "$smbquic" ]; then
    echo "getput: no smbquic binary at $smbquic; its rows will say n/a" >&2
    smbquic=
fi
command -v smbclient >/dev/null || { echo "getput: smbclient not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/smbquic-bench.XXXXXX)
rig_cleanup_add "rm -rf '$work'"
echo "getput: creating a ${size_mib} MiB random file" >&2
head -c "$((size_mib * 1048576))" /dev/urandom >"$work/src.bin"

now_us() {
    local t=$EPOCHREALTIME
    echo "${t/./}"
}

# timed CMD...: runs CMD, prints elapsed microseconds, or "fail".
timed() {
    local start end
    start=$(now_us)
    if "$@" >"$work/cmd.out" 2>&1; then
        end=$(now_us)
        echo $((end - start))
    else
        echo "getput: failed: $* ($(tail -n 2 "$work/cmd.out" | tr '\n' ' '))" >&2
        echo fail
    fi
}

q_put() { PASSWD=$SAMBA_PASSWORD "$smbquic" put "$work/src.bin" //127.0.0.1/share/q.bin -o "$1"; }
q_get() { rm -f "$work/q.back"; PASSWD=$SAMBA_PASSWORD "$smbquic" get //127.0.0.1/share/q.bin "$work/q.back" -o "$1"; }
c_put() { samba_smbclient "$1" -c "put $work/src.bin c.bin"; }
c_get() { rm -f "$work/c.back"; samba_smbclient "$1" -c "get c.bin $work/c.back"; }

rows=()
add_row() { # op tool mode best_us|fail|n/a
    local secs mibs
    case "$4" in
    n/a | fail)
        secs=$4
        mibs=$4
        ;;
    *)
        secs=$(awk -v u="$4" 'BEGIN { printf "%.3f", u / 1e6 }')
        mibs=$(awk -v u="$4" -v m="$size_mib" 'BEGIN { printf "%.1f", m / (u / 1e6) }')
        ;;
    esac
    rows+=("$1|$2|$3|$secs|$mibs")
}

best() { # list of microsecond values or "fail"
    local b="" v
    for v in "$@"; do
        [ "$v" = fail ] && { echo fail; return; }
        if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi
    done
    echo "$b"
}

bench_variant() {
    local variant=$1 mode=$2 q_opt=$3 c_opt=$4 i
    samba_start "$variant"
    echo "getput: $mode: smbd on port $SAMBA_PORT" >&2
    local qo="port=$SAMBA_PORT,transport=tcp,username=$SAMBA_USER,$q_opt"
    local qp=() qg=() cp=() cg=()
    for ((i = 1; i <= runs; i++)); do
        if [ -n "$smbquic" ]; then
            qp+=("$(timed q_put "$qo")")
        fi
        cp+=("$(timed c_put "$c_opt")")
        if [ -n "$smbquic" ]; then
            qg+=("$(timed q_get "$qo")")
            if [ "${qg[-1]}" != fail ] && ! cmp -s "$work/src.bin" "$work/q.back"; then
                echo "getput: smbquic get returned different data" >&2
                qg[-1]=fail
            fi
        fi
        cg+=("$(timed c_get "$c_opt")")
        if [ "${cg[-1]}" != fail ] && ! cmp -s "$work/src.bin" "$work/c.back"; then
            echo "getput: smbclient get returned different data" >&2
            cg[-1]=fail
        fi
        echo "getput: $mode: run $i of $runs done" >&2
    done
    if [ -n "$smbquic" ]; then
        add_row get smbquic "$mode" "$(best "${qg[@]}")"
    else
        add_row get smbquic "$mode" n/a
    fi
    add_row get smbclient "$mode" "$(best "${cg[@]}")"
    if [ -n "$smbquic" ]; then
        add_row put smbquic "$mode" "$(best "${qp[@]}")"
    else
        add_row put smbquic "$mode" n/a
    fi
    add_row put smbclient "$mode" "$(best "${cp[@]}")"
    samba_stop
}

bench_variant sign-aes-gmac "signed (AES-GMAC)" sign --client-protection=sign
bench_variant encrypt-aes-128-gcm "sealed (AES-128-GCM)" seal --client-protection=encrypt

echo
echo "${size_mib} MiB over TCP on loopback, Samba $(smbd -V | sed 's/^Version //'), best of $runs runs, $(nproc) cores"
echo
printf '| %-9s | %-9s | %-20s | %8s | %7s |\n' operation tool mode seconds MiB/s
printf '|%s|%s|%s|%s|%s|\n' ----------- ----------- ---------------------- ---------: --------:
for r in "${rows[@]}"; do
    IFS='|' read -r op tool mode secs mibs <<<"$r"
    printf '| %-9s | %-9s | %-20s | %8s | %7s |\n' "$op" "$tool" "$mode" "$secs" "$mibs"
done
