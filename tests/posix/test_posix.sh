#!/usr/bin/env bash
# The POSIX behaviour suite (posix_suite.c and cases_*.c) on a share mounted with
# `mount -t smbquic -o mfsymlinks` (symbolic links need it against Samba,
# man/mount.smbquic.8): each case's "ok NAME" / "FAIL NAME: ..." line becomes one check here.
# The suite also reads the server's side of the files it checks (--server, Samba's share
# directory). Then: inode numbers survive an unmount and a new mount; links are stored in
# the Minshall+French format cifs and macOS read, and such a file written by them on the
# server reads as a link; without mfsymlinks, symlink(2) fails with EPERM as documented.
#
# POSIX_CASES="NAME GLOB..." runs only those cases (the script takes no arguments: mountlib
# re-runs it in a private mount namespace). By hand, on any mounted directory:
#   build/tests/posix/posix_suite [--server SHAREDIR/sub] MOUNT/sub [CASE...]
# shellcheck source=posixlib.sh
. "$(dirname "$0")/posixlib.sh"
posix_setup POSIX_SUITE

posix_mount mfsymlinks
run mkdir "$MNT/posix"
expect_ok "mkdir a directory for the suite"

# shellcheck disable=SC2086 # POSIX_CASES is a list of words
timeout --kill-after=10 600 "$POSIX_SUITE" --server "$SAMBA_SHARE_DIR/posix" "$MNT/posix" \
    ${POSIX_CASES:-} >"$TEST_TMP/suite.out" 2>&1
suite_rc=$?
fails=0
while IFS= read -r line; do
    case "$line" in
    "ok "*) _pass "${line#ok }" ;;
    "FAIL "*)
        fails=$((fails + 1))
        name=${line#FAIL }
        _fail "${name%%:*}" "${name#*: }"
        ;;
    *) echo "# $line" ;;
    esac
done <"$TEST_TMP/suite.out"
if [ "$suite_rc" != 0 ] && [ "$fails" = 0 ]; then
    _fail "posix_suite exited $suite_rc without a FAIL line (crashed or timed out?)"
elif [ "$suite_rc" = 0 ] && [ "$fails" != 0 ]; then
    _fail "posix_suite exited 0 after $fails FAIL lines"
fi

# ---- mfsymlinks: the stored format, both ways ----------------------------------------------
# xsym_check FILE TARGET: FILE is a Minshall+French symlink to TARGET (1067 bytes: "XSym",
# the length, the MD5 of the target, the target, a newline, spaces).
# shellcheck disable=SC2317 # called through expect_true
xsym_check() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
data = open(sys.argv[1], 'rb').read()
t = sys.argv[2].encode()
want = b'XSym\n%04d\n%s\n' % (len(t), hashlib.md5(t).hexdigest().encode()) + t + b'\n'
want += b' ' * (1067 - len(want))
sys.exit(0 if data == want else 1)
PY
}
target="../some where/ü"
run ln -s "$target" "$MNT/made-here"
expect_ok "mfsymlinks: ln -s"
expect_true "mfsymlinks: the server holds a Minshall+French symlink file" \
    xsym_check "$SAMBA_SHARE_DIR/made-here" "$target"
python3 - "$SAMBA_SHARE_DIR/made-by-cifs" "$target" <<'PY'
import hashlib, sys
t = sys.argv[2].encode()
data = b'XSym\n%04d\n%s\n' % (len(t), hashlib.md5(t).hexdigest().encode()) + t + b'\n'
open(sys.argv[1], 'wb').write(data + b' ' * (1067 - len(data)))
PY
as_share_owner "$SAMBA_SHARE_DIR/made-by-cifs"
expect_eq "$(readlink "$MNT/made-by-cifs" 2>&1)" "$target" \
    "mfsymlinks: a link file written on the server (as cifs does) reads as the link"
expect_eq "$(stat -c %F "$MNT/made-by-cifs" 2>&1)" "symbolic link" "mfsymlinks: and stats as one"

# ---- chmod changes only FILE_ATTRIBUTE_READONLY: other DOS attributes survive -------------
# dos_attributes NAME: the attribute letters smbclient's allinfo shows for a file of the share.
dos_attributes() {
    samba_smbclient -c "allinfo \"$1\"" 2>/dev/null | sed -n 's/^attributes: \([A-Z]*\) .*/\1/p'
}
printf 'x' >"$MNT/attrs"
samba_smbclient -c 'setmode attrs +h' >/dev/null 2>&1
expect_eq "$(dos_attributes attrs)" "HA" "chmod: the file is hidden and archive on the server"
run chmod 0444 "$MNT/attrs"
expect_ok "chmod 0444"
expect_eq "$(dos_attributes attrs)" "RHA" "chmod 0444 adds read-only and keeps hidden and archive"
run chmod 0644 "$MNT/attrs"
expect_ok "chmod 0644"
expect_eq "$(dos_attributes attrs)" "HA" "chmod 0644 clears read-only and keeps hidden and archive"

# ---- inode numbers come from the server's file ids: the same after a new mount -------------
mkdir -p "$MNT/ino/dir" && printf 'x' >"$MNT/ino/file"
before=$(stat -c '%n %i' "$MNT/ino" "$MNT/ino/dir" "$MNT/ino/file" 2>&1)
posix_umount "mfsymlinks mount"
posix_mount
after=$(stat -c '%n %i' "$MNT/ino" "$MNT/ino/dir" "$MNT/ino/file" 2>&1)
expect_eq "$after" "$before" "inode numbers are the same after unmounting and mounting again"

# ---- without mfsymlinks: EPERM, as man/mount.smbquic.8 says --------------------------------
run ln -s target "$MNT/no-links"
expect_true "without mfsymlinks ln -s fails with EPERM (exit $RC: $ERR)" \
    grep -q "Operation not permitted" <<<"$ERR"
expect_true "without mfsymlinks nothing was created" test ! -e "$SAMBA_SHARE_DIR/no-links"
posix_umount "default mount"

test_done
