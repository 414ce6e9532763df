#!/usr/bin/env bash
# mkdir, rmdir, rm, mv, stat, put and get basics, checked against the server's own disk.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

samba_start signing-mandatory || die "samba_start"
S=$SAMBA_SHARE_DIR

# mkdir
smbq mkdir "$UNC/dir" -o "$(opts)"
expect_ok "mkdir"
expect_true "mkdir made a directory on the server" test -d "$S/dir"
smbq mkdir "$UNC/dir" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_NAME_COLLISION \(.+\)$' \
    "mkdir of an existing directory"
smbq mkdir "$UNC/dir/sub" -o "$(opts)"
expect_ok "mkdir of a nested directory"
expect_true "nested directory exists" test -d "$S/dir/sub"

# put / get, small, empty, nested path, non-ASCII name
printf 'first version, rather long line\n' >"$TEST_TMP/a.txt"
smbq put "$TEST_TMP/a.txt" "$UNC/dir/sub/a.txt" -o "$(opts)"
expect_ok "put into a nested directory"
expect_true "put wrote the same bytes" cmp -s "$TEST_TMP/a.txt" "$S/dir/sub/a.txt"

printf 'short\n' >"$TEST_TMP/b.txt"
smbq put "$TEST_TMP/b.txt" "$UNC/dir/sub/a.txt" -o "$(opts)"
expect_ok "put over an existing, longer file"
expect_true "put replaced the whole file (no stale tail)" cmp -s "$TEST_TMP/b.txt" "$S/dir/sub/a.txt"

: >"$TEST_TMP/empty"
smbq put "$TEST_TMP/empty" "$UNC/empty.txt" -o "$(opts)"
expect_ok "put of an empty file"
expect_true "empty file on the server" test -f "$S/empty.txt" -a ! -s "$S/empty.txt"
smbq get "$UNC/empty.txt" "$TEST_TMP/empty.back" -o "$(opts)"
expect_ok "get of an empty file"
expect_true "empty file got back" test -f "$TEST_TMP/empty.back" -a ! -s "$TEST_TMP/empty.back"

# A size that is not a multiple of any I/O size.
make_random "$TEST_TMP/odd.bin" 3000001
smbq put "$TEST_TMP/odd.bin" "$UNC/Grüße 日本.bin" -o "$(opts)"
expect_ok "put of a 3,000,001-byte file with a non-ASCII name"
expect_true "server has it under the UTF-8 name" cmp -s "$TEST_TMP/odd.bin" "$S/Grüße 日本.bin"
smbq get "$UNC/Grüße 日本.bin" "$TEST_TMP/odd.back" -o "$(opts)"
expect_ok "get of the non-ASCII name"
expect_true "same bytes back" cmp -s "$TEST_TMP/odd.bin" "$TEST_TMP/odd.back"

# get replaces an existing local file completely.
make_random "$TEST_TMP/local-long" 100000
printf 'short\n' >"$S/short.txt"
as_share_owner "$S/short.txt"
smbq get "$UNC/short.txt" "$TEST_TMP/local-long" -o "$(opts)"
expect_ok "get over an existing, longer local file"
expect_true "get replaced the whole local file" cmp -s "$S/short.txt" "$TEST_TMP/local-long"

# stat
smbq stat "$UNC/Grüße 日本.bin" -o "$(opts)"
expect_ok "stat of a file"
expect_line "size: 3000001" "stat size"
expect_line_match '^type: (file|regular|regular file)$' "stat type of a file"
smbq stat "$UNC/dir" -o "$(opts)"
expect_ok "stat of a directory"
expect_line_match '^type: (directory|dir)$' "stat type of a directory"
printf '0123456789' >"$S/dated.txt"
touch -d '2001-02-03 04:05:06 UTC' "$S/dated.txt"
as_share_owner "$S/dated.txt"
TZ=JST-9 smbq stat "$UNC/dated.txt" -o "$(opts)"
expect_ok "stat of a file with a known mtime"
expect_line "size: 10" "stat size of dated.txt"
expect_line "last_write_time: 2001-02-03 04:05:06" "stat last_write_time in UTC (local zone JST-9)"

# mv (within the share)
smbq mv "$UNC/dir/sub/a.txt" "dir/renamed.txt" -o "$(opts)"
expect_ok "mv to another directory and name"
expect_true "old name gone" test ! -e "$S/dir/sub/a.txt"
expect_true "new name has the content" cmp -s "$TEST_TMP/b.txt" "$S/dir/renamed.txt"
smbq mv "$UNC/dir/sub" "moved-sub" -o "$(opts)"
expect_ok "mv of a directory"
expect_true "directory moved" test -d "$S/moved-sub" -a ! -e "$S/dir/sub"
printf 'keep me\n' >"$S/target.txt"
printf 'mover\n' >"$S/mover.txt"
as_share_owner "$S/target.txt" "$S/mover.txt"
smbq mv "$UNC/mover.txt" "target.txt" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_NAME_COLLISION \(.+\)$' \
    "mv onto an existing file is refused"
expect_eq "$(cat "$S/target.txt")" "keep me" "mv did not replace the existing target"
expect_eq "$(cat "$S/mover.txt")" "mover" "mv left the source in place"
smbq mv "$UNC/mover.txt" "$UNC/moved.txt" -o "$(opts)"
expect_ok "mv with a full //SERVER/SHARE/PATH target"
expect_true "mv with a full target renamed the file" test -f "$S/moved.txt" -a ! -e "$S/mover.txt"
smbq put "$TEST_TMP/b.txt" "$UNC/no-such-dir/b.txt" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_PATH_NOT_FOUND \(.+\)$' \
    "put into a missing directory"
smbq mv "$UNC/nothing-here" "x" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_OBJECT_NAME_NOT_FOUND \(.+\)$' \
    "mv of a missing file"

# rm
smbq rm "$UNC/dir/renamed.txt" -o "$(opts)"
expect_ok "rm"
expect_true "rm removed the file" test ! -e "$S/dir/renamed.txt"
smbq rm "$UNC/dir" -o "$(opts)"
expect_true "rm of a directory fails with exit 1 (got $RC)" test "$RC" = 1
expect_true "rm of a directory leaves it" test -d "$S/dir"

# rmdir
printf 'x' >"$S/moved-sub/keep"
as_share_owner "$S/moved-sub"
smbq rmdir "$UNC/moved-sub" -o "$(opts)"
expect_failure_match 1 '^smbquic: [a-z ]+ failed: STATUS_DIRECTORY_NOT_EMPTY \(.+\)$' \
    "rmdir of a non-empty directory"
expect_true "non-empty directory kept" test -f "$S/moved-sub/keep"
smbq rmdir "$UNC/dir" -o "$(opts)"
expect_ok "rmdir of an empty directory"
expect_true "rmdir removed it" test ! -e "$S/dir"
smbq rmdir "$UNC/empty.txt" -o "$(opts)"
expect_true "rmdir of a file fails with exit 1 (got $RC)" test "$RC" = 1
expect_true "rmdir of a file leaves it" test -f "$S/empty.txt"

# Files the CLI created belong to the authenticated user.
expect_eq "$(stat -c %U "$S/empty.txt")" "$SAMBA_USER" "files are created as the session's user"

test_done
