#!/usr/bin/env bash
# fsrand (fsrand.c, after fsx) on a mounted share: random writes, reads, O_DIRECT reads, mmap
# reads and writes, appends, truncates, fsyncs, closes and reopens of a file up to 4 MiB,
# each read and (every 1000 operations, and at the end) the whole file compared with a model
# in memory and with the server's own copy. Then two instances at once on two files, and one
# on a cache=none mount (direct I/O: no page cache between the program and the daemon).
#
# FSRAND_SEED=S repeats a run (the seed is printed; default fixed), FSRAND_OPS=N changes the
# length of the first run (default 20000).
# shellcheck source=posixlib.sh
. "$(dirname "$0")/posixlib.sh"
posix_setup FSRAND

seed=${FSRAND_SEED:-20240611}
ops=${FSRAND_OPS:-20000}

# fsrand_check DESC LOG RC: one check per run, with fsrand's report when it failed.
fsrand_check() {
    local desc=$1 log=$2 rc=$3
    if [ "$rc" = 0 ] && grep -q ': ok (final size' "$log"; then
        _pass "$desc ($(tail -n 1 "$log" | sed 's/^fsrand: //'))"
    else
        _fail "$desc: exit $rc" "$(head -c 6000 "$log")"
    fi
}

posix_mount
fsrand_run() {
    local name=$1 log=$2
    shift 2
    timeout --kill-after=10 240 "$FSRAND" --server "$SAMBA_SHARE_DIR/$name" "$@" "$MNT/$name" \
        >"$log" 2>&1
}

fsrand_run one "$TEST_TMP/one.log" --ops "$ops" --seed "$seed"
fsrand_check "fsrand, $ops operations, seed $seed" "$TEST_TMP/one.log" $?

# Two at once, on two files: the daemon interleaves their requests on one connection.
fsrand_run two-a "$TEST_TMP/two-a.log" --ops 5000 --seed $((seed + 1)) &
pid_a=$!
fsrand_run two-b "$TEST_TMP/two-b.log" --ops 5000 --seed $((seed + 2)) &
pid_b=$!
wait "$pid_a"
rc_a=$?
wait "$pid_b"
rc_b=$?
fsrand_check "fsrand A of two at once, seed $((seed + 1))" "$TEST_TMP/two-a.log" "$rc_a"
fsrand_check "fsrand B of two at once, seed $((seed + 2))" "$TEST_TMP/two-b.log" "$rc_b"
posix_umount "cache=strict mount"

# cache=none opens files with direct I/O: shared writable mappings are not offered then
# (the kernel refuses MAP_SHARED|PROT_WRITE on a direct-I/O file), so no mmap operations.
posix_mount cache=none
fsrand_run none "$TEST_TMP/none.log" --ops 3000 --seed $((seed + 3)) --no-mmap
fsrand_check "fsrand on a cache=none mount, 3000 operations, seed $((seed + 3))" \
    "$TEST_TMP/none.log" $?
posix_umount "cache=none mount"

test_done
