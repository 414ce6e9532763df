#!/usr/bin/env bash
# Leases (fs.c, "leases"): with the default cache=strict every open of a file asks for a
# lease with read and handle caching; when another client writes the file, the server breaks
# it and the mount drops the kernel's cached pages and attributes of the file at once.
# - A file kept open shows another client's change through the same descriptor within
#   seconds. The mount uses actimeo=60, so without the break the kernel would serve the old
#   pages (and the old size) for a minute.
# - While one descriptor holds the lease, a second open of the file reads from the page cache:
#   no READ is sent. After the break it reads from the server again.
# - Our own writes through another descriptor share the lease (one lease key per file) and
#   break nothing.
# - Kept handles (closetimeo=, 30 s here): a file read, closed and opened again for reading
#   is neither opened nor read again; another client's write closes the kept handle at once (the server breaks
#   the lease), and our own unlink and rename close it first.
# - Another client's delete of a file whose handle we keep: Samba does not break handle
#   caching for it, so the file is "delete pending" until the kept handle is closed, which
#   closetimeo= bounds (2 s in that mount).
# - Attributes: fstat of an open leased file is answered from the cache after actimeo= too.
# - cache=none asks for no lease; closetimeo=0 keeps no handle.
# - A file the mount creates is leased from its creating open: another client's write shows
#   through that descriptor.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
mount_require fs

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
UNC=//127.0.0.1/share

printf 'version one\n' >"$SAMBA_SHARE_DIR/shared.txt"
as_share_owner "$SAMBA_SHARE_DIR/shared.txt"

mq "$UNC" "$M" -o "$(opts),actimeo=60,closetimeo=30"
expect_ok "mount"

counter() {
    "$SMBQUIC" status "$M" | sed -n "s/^$1: //p"
}

run "$SMBQUIC" status "$M"
expect_eq "$(field leases)" yes "status: leases"
expect_eq "$(field lease_breaks)" 0 "status: no lease break yet"

# read_file PATH: its contents in OUT, read with open(2) and read(2) alone. cat(1) also calls
# fstat(2), and after a read from the server the kernel asks for the file's attributes again
# (its access time changed): one CREATE+QUERY_INFO+CLOSE that would blur the counts below.
read_file() {
    run python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = b""
while True:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    data += chunk
os.close(fd)
sys.stdout.write(data.decode())' "$1"
}

# kept_soon: true once the mount keeps a handle (up to 2 s: close(2) does not wait for the
# kernel's release, which is what keeps it).
kept_soon() {
    local i
    for ((i = 0; i < 40; i++)); do
        [ "$(counter kept_handles)" -ge 1 ] && return 0
        sleep 0.05
    done
    return 1
}

# other_client_puts CONTENT: another SMB client (the smbquic CLI, a session of its own)
# overwrites shared.txt with CONTENT.
other_client_puts() {
    printf '%s' "$1" >"$TEST_TMP/new-content"
    run env PASSWD="$SAMBA_PASSWORD" "$SMBQUIC" put "$TEST_TMP/new-content" "$UNC/shared.txt" \
        -o "$(opts)"
    expect_ok "another client writes shared.txt"
}

# A python process holds the file open: it reads it, says "read", waits for "go" and then
# reads it again through the same descriptor (pread from 0, the whole file) until it reads the
# other client's version or 10 s pass, and prints what it read last and after how long.
python3 - "$M/shared.txt" "$TEST_TMP/holder" "$MOUNT_LIB_DIR" <<'PY' >"$TEST_TMP/holder.out" 2>&1 &
import os, sys
path, ctl = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from holder import pread_until, wait_for
fd = os.open(path, os.O_RDONLY)
first = os.pread(fd, 65536, 0)
with open(ctl + '.read', 'w') as f:
    f.write(first.decode())
wait_for(ctl + '.go')
print(pread_until(fd, b'version two'))
sys.stdout.flush()
# Keep the descriptor (and its lease) until told to let go.
wait_for(ctl + '.close')
os.close(fd)
PY
holder=$!
rig_cleanup_add "kill $holder 2>/dev/null"
wait_for_file "$TEST_TMP/holder.read" || die "the holder did not read: $(cat "$TEST_TMP/holder.out")"
expect_eq "$(cat "$TEST_TMP/holder.read")" "version one" "the holder read the first version"

# A second open while the holder's lease stands: served from the page cache.
reads=$(counter requests_read)
creates=$(counter requests_create)
run cat "$M/shared.txt"
expect_eq "$OUT" "version one" "a second open reads the first version"
expect_true "the second open went to the server (CREATE)" test "$(counter requests_create)" -gt "$creates"
expect_eq "$(counter requests_read)" "$reads" "the second open read from the page cache: no READ sent"

# Our own append through another descriptor shares the lease: no break.
printf 'appended here\n' >>"$M/shared.txt"
expect_eq "$(cat "$SAMBA_SHARE_DIR/shared.txt")" "version one
appended here" "our append reached the server"
expect_eq "$(counter lease_breaks)" 0 "our own write broke no lease"
run cat "$M/shared.txt"
expect_eq "$OUT" "version one
appended here" "our append is seen through the mount"

# Another client writes: the holder sees it through the descriptor it already had.
other_client_puts 'version two, from another client, longer than the first one
'
: >"$TEST_TMP/holder.go"
for ((i = 0; i < 300; i++)); do
    [ -s "$TEST_TMP/holder.out" ] && break
    sleep 0.05
done
held=$(cat "$TEST_TMP/holder.out")
echo "holder: $held"
expect_true "the open descriptor reads the other client's version ($held)" \
    grep -q 'version two, from another client, longer than the first one$' <<<"$held"
expect_true "the server broke the lease ($(counter lease_breaks) breaks)" \
    test "$(counter lease_breaks)" -ge 1
# After the break the cache is not trusted: a new open reads from the server.
reads=$(counter requests_read)
run cat "$M/shared.txt"
expect_eq "$OUT" "version two, from another client, longer than the first one" \
    "a new open reads the other client's version"
expect_true "and read it from the server (READ sent)" test "$(counter requests_read)" -gt "$reads"
expect_eq "$(stat -c %s "$M/shared.txt")" 60 "the new size is seen at once (actimeo=60)"

: >"$TEST_TMP/holder.close"
wait "$holder"
expect_eq "$?" 0 "the holder ended cleanly"

# Kept handles: the cat above kept its handle; the next one takes it over.
expect_true "a closed file's handle is kept" kept_soon
reads=$(counter requests_read)
creates=$(counter requests_create)
closes=$(counter requests_close)
read_file "$M/shared.txt"
expect_eq "$OUT" "version two, from another client, longer than the first one" \
    "an open of a kept file reads it"
expect_eq "$(counter requests_create)" "$creates" "an open of a kept file sends no CREATE"
expect_eq "$(counter requests_read)" "$reads" "and no READ: the cached pages are kept"
expect_true "its close kept the handle again" kept_soon
expect_eq "$(counter requests_close)" "$closes" "and sent no CLOSE"

# Another client writes: the break closes the kept handle and drops the pages.
other_client_puts 'version three
'
expect_eq "$(counter kept_handles)" 0 "the break closed the kept handle"
run cat "$M/shared.txt"
expect_eq "$OUT" "version three" "the next open reads the other client's version"

# Our own unlink closes the kept handle first: the name is free again at once.
printf 'mine\n' >"$M/mine.txt"
run cat "$M/mine.txt"
expect_eq "$OUT" "mine" "read a file of our own"
expect_true "its handle is kept" kept_soon
run rm "$M/mine.txt"
expect_ok "unlink of a file whose handle is kept"
expect_true "it is gone from the server" test ! -e "$SAMBA_SHARE_DIR/mine.txt"
printf 'again\n' >"$M/mine.txt"
expect_eq "$(cat "$SAMBA_SHARE_DIR/mine.txt")" "again" "the name can be created again at once"

# Our own rename of a directory with a kept handle below it (SMB refuses to rename a
# directory with open files below it).
mkdir "$M/dir"
printf 'inside\n' >"$M/dir/inner.txt"
run cat "$M/dir/inner.txt"
expect_eq "$OUT" "inside" "read a file in a directory"
expect_true "its handle is kept" kept_soon
run mv "$M/dir" "$M/dir2"
expect_ok "rename of that directory"
expect_eq "$(cat "$SAMBA_SHARE_DIR/dir2/inner.txt")" "inside" "renamed on the server"

run umount "$M"
expect_ok "umount"

# cache=none asks for no lease.
mq "$UNC" "$M" -o "$(opts),cache=none"
expect_ok "mount with cache=none"
run "$SMBQUIC" status "$M"
expect_eq "$(field leases)" no "cache=none: no leases"
run umount "$M"
expect_ok "umount"

# Another client's delete: done once our kept handle is closed, within closetimeo=2.
mq "$UNC" "$M" -o "$(opts),closetimeo=2"
expect_ok "mount with closetimeo=2"

# Attributes (default actimeo=1): while the lease holds, fstat(2) of an open file is answered
# from the kernel's cache after actimeo too; once the file is closed (and its kept handle
# too), they are asked for again.
printf 'attributes\n' >"$SAMBA_SHARE_DIR/attrs.txt"
as_share_owner "$SAMBA_SHARE_DIR/attrs.txt"
python3 - "$M/attrs.txt" "$TEST_TMP/attrs" <<'PY' >"$TEST_TMP/attrs.out" 2>&1 &
import os, sys, time
path, ctl = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
os.read(fd, 100)
os.fstat(fd)  # the attributes, now under the lease
open(ctl + '.first', 'w').write('x')
while not os.path.exists(ctl + '.again'):
    time.sleep(0.02)
print(os.fstat(fd).st_size)
open(ctl + '.second', 'w').write('x')
while not os.path.exists(ctl + '.close'):
    time.sleep(0.02)
os.close(fd)
PY
attrs_holder=$!
rig_cleanup_add "kill $attrs_holder 2>/dev/null"
wait_for_file "$TEST_TMP/attrs.first" || die "the attributes holder did not start: $(cat "$TEST_TMP/attrs.out")"
sleep 1.5 # past actimeo=1
queries=$(counter requests_query_info)
: >"$TEST_TMP/attrs.again"
wait_for_file "$TEST_TMP/attrs.second" || die "the attributes holder did not fstat: $(cat "$TEST_TMP/attrs.out")"
expect_eq "$(counter requests_query_info)" "$queries" \
    "fstat of a leased open file after actimeo: answered from the cache (no QUERY_INFO)"
: >"$TEST_TMP/attrs.close"
wait "$attrs_holder"
expect_eq "$(cat "$TEST_TMP/attrs.out")" 11 "it saw the file's size"

printf 'to be deleted\n' >"$M/doomed.txt"
run cat "$M/doomed.txt"
expect_true "the handle is kept after a read" kept_soon
run env PASSWD="$SAMBA_PASSWORD" "$SMBQUIC" rm "$UNC/doomed.txt" -o "$(opts)"
expect_ok "another client deletes the file whose handle we keep"
for ((i = 0; i < 100; i++)); do
    [ -e "$SAMBA_SHARE_DIR/doomed.txt" ] || break
    sleep 0.05
done
expect_true "the file is gone within closetimeo=2 (waited $((i * 50)) ms)" \
    test ! -e "$SAMBA_SHARE_DIR/doomed.txt"
expect_eq "$(counter kept_handles)" 0 "the kept handle was closed"
run umount "$M"
expect_ok "umount"

# closetimeo=0 keeps no handle.
mq "$UNC" "$M" -o "$(opts),closetimeo=0"
expect_ok "mount with closetimeo=0"
cat "$M/mine.txt" >/dev/null
creates=$(counter requests_create)
run cat "$M/mine.txt"
expect_eq "$OUT" "again" "read with closetimeo=0"
expect_eq "$(counter kept_handles)" 0 "closetimeo=0: no handle kept"
expect_true "closetimeo=0: each open sends a CREATE" test "$(counter requests_create)" -gt "$creates"
run umount "$M"
expect_ok "umount"

# A file the mount creates gets a lease from its creating open too (its key is made before
# the inode number is known): another client's write to it is seen through the creating
# descriptor within seconds, not after actimeo=60.
mq "$UNC" "$M" -o "$(opts),actimeo=60"
expect_ok "mount with actimeo=60"
python3 - "$M/made.txt" "$TEST_TMP/maker" "$MOUNT_LIB_DIR" <<'PY' >"$TEST_TMP/maker.out" 2>&1 &
import os, sys
path, ctl = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from holder import pread_until, wait_for
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'made here\n')
os.fsync(fd)
with open(ctl + '.read', 'w') as f:
    f.write(os.pread(fd, 65536, 0).decode())
wait_for(ctl + '.go')
print(pread_until(fd, b'version two'))
os.close(fd)
PY
maker=$!
rig_cleanup_add "kill $maker 2>/dev/null"
wait_for_file "$TEST_TMP/maker.read" || die "the maker did not write: $(cat "$TEST_TMP/maker.out")"
expect_eq "$(cat "$TEST_TMP/maker.read")" "made here" "the creating descriptor reads what it wrote"
breaks=$(counter lease_breaks)
printf 'version two of made.txt\n' >"$TEST_TMP/made-new"
run env PASSWD="$SAMBA_PASSWORD" "$SMBQUIC" put "$TEST_TMP/made-new" "$UNC/made.txt" -o "$(opts)"
expect_ok "another client writes made.txt"
: >"$TEST_TMP/maker.go"
wait "$maker"
made=$(cat "$TEST_TMP/maker.out")
expect_true "the creating descriptor reads the other client's version ($made)" \
    grep -q 'version two of made.txt$' <<<"$made"
expect_true "the server broke the created file's lease" test "$(counter lease_breaks)" -gt "$breaks"
run umount "$M"
expect_ok "umount"
test_done
