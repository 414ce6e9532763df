#!/usr/bin/env bash
# The POSIX behaviour suite (posix_suite.c) on a share mounted with `mount -t smbquic`: each
# case's "ok NAME" / "FAIL NAME: ..." line becomes one check here. The suite also reads the
# server's side of every file it checks (--server, Samba's share directory). Then inode numbers
# must survive an unmount and a new mount.
#
# POSIX_CASES="NAME GLOB..." runs only those cases (the script takes no arguments: mountlib
# re-runs it in a private mount namespace). By hand, on any mounted directory:
#   build/tests/posix/posix_suite [--server SHAREDIR/sub] MOUNT/sub [CASE...]
# shellcheck source=posixlib.sh
. "$(dirname "$0")/posixlib.sh"
posix_setup POSIX_SUITE

posix_mount
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

# Inode numbers come from the server's file ids: the same after a new mount.
mkdir -p "$MNT/ino/dir" && printf 'x' >"$MNT/ino/file"
before=$(stat -c '%n %i' "$MNT/ino" "$MNT/ino/dir" "$MNT/ino/file" 2>&1)
posix_umount "first mount"
posix_mount
after=$(stat -c '%n %i' "$MNT/ino" "$MNT/ino/dir" "$MNT/ino/file" 2>&1)
expect_eq "$after" "$before" "inode numbers are the same after unmounting and mounting again"
posix_umount "second mount"

test_done
