#!/usr/bin/env bash
# Write-behind must not lose errors: on a share whose disk is full (the share directory is a
# small tmpfs), writing more than fits fails with ENOSPC at a write(2), at fsync(2) or at the
# latest at close(2) — never silently — and what was written before is intact.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs

samba_start default || die "samba_start"
# In the test's private mount namespace: smbd (started before) sees the tmpfs too, as it
# resolves the share path at each connect.
mount -t tmpfs -o size=8m,mode=0755 tmpfs "$SAMBA_SHARE_DIR" || skip "cannot mount a tmpfs"
# Before samba_stop removes the Samba directory (a mount point cannot be removed); lazily,
# as smbd may still be in it.
rig_cleanup_add "umount -l '$SAMBA_SHARE_DIR'"
as_share_owner "$SAMBA_SHARE_DIR"
new_mount_dir
M=$MNT
mq //127.0.0.1/share "$M" -o "$(opts)"
expect_ok "mount"

# dd with fsync: must fail, naming the disk being full.
run dd if=/dev/zero of="$M/big" bs=1M count=32 conv=fsync
expect_true "dd of 32 MiB onto an 8 MiB share fails (exit $RC)" test "$RC" -ne 0
expect_true "dd says the disk is full ($ERR)" grep -q "No space left on device" <<<"$ERR"

# Without fsync: every write(2) may have been answered early; close(2) must report it.
run rm -f "$M/big"
run python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
block = b"\0" * (1 << 20)
try:
    for _ in range(32):
        os.write(fd, block)
except OSError as e:
    print("write:", errno.errorcode[e.errno]); sys.exit(0)
try:
    os.close(fd)
except OSError as e:
    print("close:", errno.errorcode[e.errno]); sys.exit(0)
print("no error"); sys.exit(1)' "$M/big2"
expect_ok "writing 32 MiB without fsync reports an error"
expect_true "the error is ENOSPC, at a write or at close ($OUT)" grep -Eq '^(write|close): ENOSPC$' <<<"$OUT"

# What fits is written intact.
run rm -f "$M/big2"
head -c 3M /dev/urandom >"$TEST_TMP/fits"
run cp "$TEST_TMP/fits" "$M/fits"
expect_ok "a 3 MiB file still fits"
expect_true "and arrives intact" cmp -s "$TEST_TMP/fits" "$SAMBA_SHARE_DIR/fits"

run umount "$M"
expect_ok "umount"
test_done
