#!/usr/bin/env bash
# A directory of 5,000 files (plus one subdirectory) listed completely and exactly by
# `smbquic ls`, including names that need UTF-16 surrogate pairs; `ls -l` columns.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

samba_start signing-mandatory || die "samba_start"

dir=$SAMBA_SHARE_DIR/many
mkdir "$dir"
special=(
    "with space.txt"
    "ünïcödé.txt"
    "日本語のファイル.txt"
    "emoji-😀-surrogates.txt"
    "comma,semi;colon.txt"
    ".hidden"
    "$(printf 'long-%0200d.txt' 0)"
    "no-extension"
)
: >"$TEST_TMP/want"
for ((i = 1; i <= 5000 - ${#special[@]}; i++)); do
    name=$(printf 'file-%05d.dat' "$i")
    : >"$dir/$name"
    printf '%s\n' "$name" >>"$TEST_TMP/want"
done
for name in "${special[@]}"; do
    : >"$dir/$name"
    printf '%s\n' "$name" >>"$TEST_TMP/want"
done
mkdir "$dir/subdir"
printf 'subdir/\n' >>"$TEST_TMP/want"
: >"$dir/subdir/inner.txt"
as_share_owner "$dir"
[ "$(find "$dir" -mindepth 1 -maxdepth 1 -type f | wc -l)" -eq 5000 ] || die "fixture: not 5000 files"

LC_ALL=C sort "$TEST_TMP/want" -o "$TEST_TMP/want"

smbq ls "$UNC/many" -o "$(opts)"
expect_ok "ls of a directory of 5,000 files"
printf '%s\n' "$OUT" | LC_ALL=C sort >"$TEST_TMP/got"
expect_eq "$(wc -l <"$TEST_TMP/got")" 5001 "ls printed 5,001 names (5,000 files and one directory)"
if cmp -s "$TEST_TMP/got" "$TEST_TMP/want"; then
    echo "ok - ls printed exactly the expected set of names"
    _checks=$((_checks + 1))
else
    _fail "ls printed exactly the expected set of names" \
        "$(diff "$TEST_TMP/want" "$TEST_TMP/got" | head -n 20)"
fi
expect_eq "$(printf '%s\n' "$OUT" | LC_ALL=C sort | uniq -d | head -n 5)" "" "ls printed no name twice"

smbq ls -l "$UNC/many" -o "$(opts)"
expect_ok "ls -l of the same directory"
expect_eq "$(grep -c '' <<<"$OUT")" 5001 "ls -l printed 5,001 lines"

# ls -l columns: TYPE SIZE DATE TIME NAME separated by single spaces, time in UTC (smbquic(1)).
export TZ=JST-9  # a local zone 9 hours from UTC: the output must still be UTC
mkdir "$SAMBA_SHARE_DIR/small"
printf 'hello' >"$SAMBA_SHARE_DIR/small/five.txt"
touch -d '2001-02-03 04:05:06 UTC' "$SAMBA_SHARE_DIR/small/five.txt"
head -c 123456 /dev/zero >"$SAMBA_SHARE_DIR/small/with space.bin"
touch -d '2024-12-31 23:59:58 UTC' "$SAMBA_SHARE_DIR/small/with space.bin"
mkdir "$SAMBA_SHARE_DIR/small/d"
touch -d '1999-01-01 00:00:00 UTC' "$SAMBA_SHARE_DIR/small/d"
as_share_owner "$SAMBA_SHARE_DIR/small"

smbq ls "$UNC/small" -o "$(opts)"
expect_ok "ls of a small directory"
expect_eq "$(LC_ALL=C sort <<<"$OUT")" "$(printf '%s\n' d/ five.txt 'with space.bin')" \
    "ls lists names, directories with a trailing '/', without . and .."

smbq ls -l "$UNC/small" -o "$(opts)"
expect_ok "ls -l of a small directory"
expect_eq "$(grep -c '' <<<"$OUT")" 3 "ls -l prints one line per entry"
expect_line_match '^- 5 2001-02-03 04:05:06 five\.txt$' "ls -l: regular file, size 5, mtime"
expect_line_match '^- 123456 2024-12-31 23:59:58 with space\.bin$' \
    "ls -l: name with a space, size 123456, mtime"
expect_line_match '^d [0-9]+ 1999-01-01 00:00:00 d$' "ls -l: directory type d, mtime"

mkdir "$SAMBA_SHARE_DIR/empty"
as_share_owner "$SAMBA_SHARE_DIR/empty"
smbq ls "$UNC/empty" -o "$(opts)"
expect_ok "ls of an empty directory"
expect_eq "$OUT" "" "ls of an empty directory prints nothing"

# The share root.
smbq ls "$UNC" -o "$(opts)"
expect_ok "ls of the share root"
expect_eq "$(LC_ALL=C sort <<<"$OUT")" "$(printf '%s\n' empty/ many/ small/)" "ls of the share root"

test_done
