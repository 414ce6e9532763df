#!/usr/bin/env bash
# A tree of 5,000+ files and directories (nested up to 6 deep; files of 0 bytes, small, medium
# and over 1 MiB; UTF-8 and odd names; old timestamps; a few read-only files; no symlinks)
# made locally, copied onto a mounted share with `cp -a`, and compared back with `diff -r`:
# through the mount, on the server's disk, and after copying it out again. File mtimes must
# survive (to SMB's 100 ns). Then `rm -rf` empties the share.
#
# Why `cp -a` works as root: it also preserves ownership and mode. The mount shows every file
# as uid=/gid= of the mount (root here, as the local tree), and the helper accepts a chown to
# that owner as a no-op (anything else is EPERM); chmod maps the write bits to the read-only
# attribute. So nothing is refused and -a is kept; if that changes, cp says "failed to
# preserve ownership" on stderr and this test fails, on purpose.
# shellcheck source=posixlib.sh
. "$(dirname "$0")/posixlib.sh"
posix_setup

src=$TEST_TMP/tree
python3 - "$src" <<'PY' || die "generating the tree"
import os, random, sys
root = sys.argv[1]
rnd = random.Random(5000)
os.makedirs(root)
dirs = [root]
names = ['plain', 'with space', 'café', '日本', 'emoji😀', 'dots.in.name', 'UPPER', 'a-b_c',
         'long' + 'x' * 120, '#hash', 'ünï']
entries = 0
# 260 directories, nested: each under a random earlier one, at most 6 deep.
for i in range(260):
    parent = rnd.choice([d for d in dirs if d[len(root):].count('/') < 6])
    d = os.path.join(parent, 'd%03d-%s' % (i, rnd.choice(names)))
    os.mkdir(d)
    dirs.append(d)
    entries += 1
big = 0
for i in range(4800):
    d = rnd.choice(dirs)
    p = os.path.join(d, 'f%04d-%s%s' % (i, rnd.choice(names), rnd.choice(['', '.txt', '.bin', '.c'])))
    r = rnd.random()
    if r < 0.10:
        size = 0
    elif r < 0.80:
        size = rnd.randint(1, 4096)
    elif r < 0.998:
        size = rnd.randint(4097, 65536)
    else:
        size = rnd.randint(1 << 20, 3 << 20)  # over 1 MiB
        big += 1
    with open(p, 'wb') as f:
        f.write(rnd.randbytes(size))
    t = rnd.randint(946684800, 1700000000) + rnd.randint(0, 9999999) / 1e7
    os.utime(p, (t, t))
    if i % 1500 == 7:
        os.chmod(p, 0o444)
    entries += 1
# Force a few over 1 MiB whatever the draw gave, and the empty-directory case.
for i in range(3):
    p = os.path.join(dirs[i * 50], 'big%d.bin' % i)
    with open(p, 'wb') as f:
        f.write(rnd.randbytes((1 << 20) + 4096 * i + 123))
    entries += 1
os.mkdir(os.path.join(root, 'empty dir'))
entries += 1
print('# generated %d entries (%d directories, %d files of 1-3 MiB drawn)' % (entries, len(dirs) - 1, big))
PY
count=$(find "$src" -mindepth 1 | wc -l)
expect_true "the tree has at least 5,000 entries ($count)" test "$count" -ge 5000

posix_mount
start=$SECONDS
timeout --kill-after=10 240 cp -a "$src" "$MNT/tree" >"$TEST_TMP/cp.out" 2>&1
cp_rc=$?
echo "# cp -a took $((SECONDS - start)) s"
if [ "$cp_rc" = 0 ] && [ ! -s "$TEST_TMP/cp.out" ]; then
    _pass "cp -a of the tree into the mount"
else
    _fail "cp -a of the tree into the mount: exit $cp_rc" "$(head -n 20 "$TEST_TMP/cp.out")"
fi

# diff_trees DESC A B: diff -r finds nothing, and both hold the same names.
diff_trees() {
    local desc=$1 a=$2 b=$3
    if timeout --kill-after=10 180 diff -r "$a" "$b" >"$TEST_TMP/diff.out" 2>&1; then
        _pass "$desc: diff -r finds no difference"
    else
        _fail "$desc: diff -r" "$(head -n 30 "$TEST_TMP/diff.out")" \
            "($(grep -c '' "$TEST_TMP/diff.out") lines of differences)"
    fi
    expect_eq "$(cd "$b" && find . -mindepth 1 | LC_ALL=C sort | md5sum)" \
        "$(cd "$a" && find . -mindepth 1 | LC_ALL=C sort | md5sum)" "$desc: the same names"
}

diff_trees "through the mount" "$src" "$MNT/tree"
diff_trees "on the server's disk" "$src" "$SAMBA_SHARE_DIR/tree"

# mtimes of files (directories' own change as entries are added), to SMB's 100 ns.
mtimes() {
    (cd "$1" && find . -type f -printf '%P %T@\n' | LC_ALL=C sort) | python3 -c '
import sys
from decimal import Decimal
for line in sys.stdin:
    name, t = line.rstrip("\n").rsplit(" ", 1)
    print(name, int(Decimal(t) * 10**7))'
}
# mtimes_match DESC DIR: every file under DIR has the mtime of its source.
mtimes_match() {
    local desc=$1 dir=$2 out=$TEST_TMP/mtimes.$RANDOM
    mtimes "$dir" >"$out"
    if cmp -s "$TEST_TMP/mtimes.src" "$out"; then
        _pass "$desc: every file's mtime as in the source"
    else
        _fail "$desc: every file's mtime as in the source ($(diff "$TEST_TMP/mtimes.src" "$out" |
            grep -c '^>') of $(grep -c '' "$out") differ; name and 100 ns ticks)" \
            "$(diff "$TEST_TMP/mtimes.src" "$out" | head -n 12)"
    fi
}
mtimes "$src" >"$TEST_TMP/mtimes.src"
mtimes_match "cp -a, through the same mount" "$MNT/tree"
mtimes_match "cp -a, on the server's disk" "$SAMBA_SHARE_DIR/tree"
ro=$(cd "$MNT/tree" && find . -type f ! -perm -u=w | LC_ALL=C sort | tr '\n' ' ')
expect_eq "$ro" "$(cd "$src" && find . -type f ! -perm -u=w | LC_ALL=C sort | tr '\n' ' ')" \
    "the read-only files are read-only on the mount"

# And out again.
posix_umount "after copying in"
posix_mount
timeout --kill-after=10 240 cp -a "$MNT/tree" "$TEST_TMP/back" >"$TEST_TMP/cp.out" 2>&1
cp_rc=$?
if [ "$cp_rc" = 0 ] && [ ! -s "$TEST_TMP/cp.out" ]; then
    _pass "cp -a of the tree out of a new mount"
else
    _fail "cp -a of the tree out of a new mount: exit $cp_rc" "$(head -n 20 "$TEST_TMP/cp.out")"
fi
diff_trees "copied back out" "$src" "$TEST_TMP/back"
mtimes_match "cp -a, through a new mount" "$MNT/tree"

run rm -rf "$MNT/tree"
expect_ok "rm -rf of the tree"
expect_eq "$(find "$SAMBA_SHARE_DIR" -mindepth 1 | head -n 5)" "" "the share is empty again"
posix_umount "after rm -rf"

test_done
