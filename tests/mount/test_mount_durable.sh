#!/usr/bin/env bash
# Durable handles and the session a reconnect replaces. Files opened or created through the
# mount are durable (the server keeps their open across a lost connection, MS-SMB2 3.3.5.9.10); the path
# to the server then goes silent, so the server side of the old connection stays up, holding
# the old session and its opens, while the mount notices (echo_interval=2) and reconnects once
# the path is back. What was written while the path was silent returned at once (write-behind)
# and its WRITEs died with the connection: the mount sends them again after the reconnect;
# a read, an open, a directory listing, an fsync and a truncate started then wait through the
# loss and run again.
# The new session names the old one (PreviousSessionId) and the mount keeps
# its ClientGuid, so the server ends the old session and the mount reclaims the durable opens
# themselves (`smbquic status`: durable_reclaims, none opened by name): the descriptors read
# and write on, and the server holds one open of each file, not a second one of the dead
# session's. Then the server itself loses the opens (the smbd process is killed): the reclaim
# is refused and the mount opens the files by name instead. Last, a soft mount whose path
# stays silent past its 30 s wait: what it wrote behind is given up with EIO at the fsync, a
# log line and a count (writes_not_sent), and is neither read back nor on the server. And
# an unlink, an rmdir and a create whose answers are lost (only the server's packets
# dropped): run again after the reconnect, they succeed. The test runs in a network
# namespace of its own, so its iptables rules touch nothing else.
# shellcheck source=mountlib.sh
. "$(dirname "$0")/mountlib.sh"
own_netns "$@"
command -v smbstatus >/dev/null || skip "smbstatus not installed"
mount_require fs

samba_start default || die "samba_start"
new_mount_dir
M=$MNT
# shellcheck disable=SC2034 # for mount_fg
UNC=//127.0.0.1/share

head -c $((8 * 1048576)) /dev/urandom >"$TEST_TMP/src.bin"
cp "$TEST_TMP/src.bin" "$SAMBA_SHARE_DIR/ref.bin"
cp "$TEST_TMP/src.bin" "$SAMBA_SHARE_DIR/ref2.bin"
printf 'small\n' >"$SAMBA_SHARE_DIR/small.txt"
printf 'stamped\n' >"$SAMBA_SHARE_DIR/stamped.txt"
# A directory whose listing takes several QUERY_DIRECTORY round trips.
mkdir "$SAMBA_SHARE_DIR/many"
(cd "$SAMBA_SHARE_DIR/many" && seq -f 'entry-with-a-longish-name-%g' 1 2000 | xargs touch)
as_share_owner "$SAMBA_SHARE_DIR"
want=$(sha256 "$TEST_TMP/src.bin")
head -c $((4 * 1048576)) "$TEST_TMP/src.bin" >"$TEST_TMP/half1.bin"
tail -c +$((4 * 1048576 + 1)) "$TEST_TMP/src.bin" >"$TEST_TMP/half2.bin"

log=$TEST_TMP/mount.log
# Two seconds: the writes during the outage are done well before the loss is noticed.
mount_fg "$M" "$log" echo_interval=2
mount_pid=$MOUNT_PID

# opens_of NAME: how many opens of NAME the server holds (smbstatus' locked files).
opens_of() {
    smbstatus -s "$SAMBA_CONF" -L 2>/dev/null | grep -c -- " $1 "
}

# One process (tests/mount/holder.py) holds a file open for reading and one for writing
# across each loss: it does a part, says so in STEP.ready, waits for STEP.go.
python3 - "$M" "$TEST_TMP" "$MOUNT_LIB_DIR" <<'PY' &
import errno, os, sys, threading
m, t = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from holder import copy_part, step, wait_go, write_file
src = os.open(os.path.join(m, "ref.bin"), os.O_RDONLY)
# Read only while the path is silent, so that its READs (nothing of it is cached yet) die
# with the connection and are sent again.
src2 = os.open(os.path.join(m, "ref2.bin"), os.O_RDONLY)
# Opened now, listed only while the path is silent (its listing then dies with the connection
# and starts over on the reopened directory).
many = os.open(os.path.join(m, "many"), os.O_RDONLY | os.O_DIRECTORY)
# Written and synced now, synced again while the path is silent (a FLUSH dies with the
# connection).
synced = os.open(os.path.join(m, "synced.bin"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(synced, b"synced\n")
os.fsync(synced)
# Created by this open: its lease and durable handle are asked for before its inode number
# is known.
dst = os.open(os.path.join(m, "written.bin"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
# Truncated and given a time while the path is silent: a setattr dies with the connection
# and runs again.
stamped = os.open(os.path.join(m, "stamped.txt"), os.O_WRONLY)
step(t, "part1", lambda: (copy_part(src, os.path.join(t, "read1.bin"), 2 << 20),
                          write_file(dst, os.path.join(t, "half1.bin"))))
# Written while the path is silent and before the mount notices: the writes return at once
# (write-behind), their WRITEs die with the connection and must be sent again.
wait_go(t, "silent")
step(t, "behind", lambda: write_file(dst, os.path.join(t, "half2.bin"), sync=False))
# And a file not looked up yet, read at the same time: its lookup (then its open) dies with
# the connection too (a read the kernel would ask for again itself, a lookup it would fail).
def cat_small():
    with open(os.path.join(m, "small.txt"), "rb") as f:
        if f.read() != b"small\n":
            raise OSError(errno.EILSEQ, "small.txt read back wrong")
def list_many():
    names = os.listdir(many)
    if len(names) != 2000:
        open(os.path.join(t, "lostlist.count"), "w").write(
            "(got %d names, %d different)\n" % (len(names), len(set(names))))
        raise OSError(errno.EILSEQ, "the listing of many/ is not 2000 names")
looker = threading.Thread(target=step, args=(t, "loststat", cat_small))
lister = threading.Thread(target=step, args=(t, "lostlist", list_many))
syncer = threading.Thread(target=step, args=(t, "lostfsync", lambda: os.fsync(synced)))
stamper = threading.Thread(target=step, args=(t, "lostsetattr", lambda: (
    os.ftruncate(stamped, 5), os.utime(stamped, (1000000000, 1000000000)))))
for th in (looker, lister, syncer, stamper):
    th.start()
step(t, "lostread", lambda: copy_part(src2, os.path.join(t, "lostread.bin"), 1 << 40))
for th in (looker, lister, syncer, stamper):
    th.join()
wait_go(t, "first")
step(t, "part2", lambda: (copy_part(src, os.path.join(t, "read2.bin"), 2 << 20),
                          os.fsync(dst)))
wait_go(t, "second")
step(t, "part3", lambda: copy_part(src, os.path.join(t, "read3.bin"), 1 << 40))
for fd in (src, src2, dst, many, synced, stamped):
    os.close(fd)
open(os.path.join(t, "holder.done"), "w").write("done\n")
PY
holder_pid=$!
rig_cleanup_add "kill $holder_pid 2>/dev/null || true"
wait_for_file "$TEST_TMP/silent.ready" || die "the first part did not finish"
expect_eq "$(cat "$TEST_TMP/holder.part1")" ok "first part read, written and synced"
run "$SMBQUIC" status "$M"
expect_eq "$(field durable_handles)" 5 "status: the five open files are durable"
expect_eq "$(opens_of ref.bin):$(opens_of written.bin)" 1:1 "the server holds one open of each"

# ---- a silent outage: the server keeps the old connection ----
if quic_mode; then
    port_match=(-p udp --dport "$QGW_PORT")
    port_back=(-p udp --sport "$QGW_PORT")
else
    port_match=(-p tcp --dport "$SAMBA_PORT")
    port_back=(-p tcp --sport "$SAMBA_PORT")
fi
iptables -I INPUT "${port_match[@]}" -j DROP && iptables -I INPUT "${port_back[@]}" -j DROP ||
    die "iptables"
echo silent >"$TEST_TMP/silent.go"
wait_for_file "$TEST_TMP/holder.behind" || die "the writes during the outage did not return"
expect_eq "$(cat "$TEST_TMP/holder.behind")" ok "writes while the path is silent return at once"
wait_log "$log" "connection to the server lost" 1 10 || die "the loss was not noticed: $(cat "$log")"
sleep 1
iptables -D INPUT "${port_match[@]}" -j DROP && iptables -D INPUT "${port_back[@]}" -j DROP ||
    die "iptables -D"
wait_log "$log" "reconnected to" 1 30 || die "no reconnect: $(cat "$log")"
run "$SMBQUIC" status "$M"
expect_eq "$(field durable_reclaims):$(field reopens_by_name)" 5:1 \
    "status: the five durable handles reclaimed, only the directory opened by name"
replayed=$(field writes_replayed)
expect_true "status: the WRITEs the lost connection had in flight were sent again ($replayed)" \
    test "$replayed" -gt 0
expect_true "the mount logs them" grep -q "sent again [0-9]* writes" "$log"
wait_for_file "$TEST_TMP/first.ready" || die "the read during the outage did not end"
expect_eq "$(cat "$TEST_TMP/holder.lostread")" ok \
    "a read in flight at the loss waits and succeeds (requests_retried: $(field requests_retried))"
expect_eq "$(sha256 "$TEST_TMP/lostread.bin")" "$want" "... and read the whole file intact"
expect_eq "$(cat "$TEST_TMP/holder.loststat")" ok \
    "a file opened and read while the path is silent waits, then reads right"
expect_eq "$(cat "$TEST_TMP/holder.lostfsync")" ok \
    "an fsync while the path is silent waits and succeeds"
expect_eq "$(cat "$TEST_TMP/holder.lostlist")" ok "a directory listed while the path is \
silent waits, then lists all 2000 names $(cat "$TEST_TMP/lostlist.count" 2>/dev/null)"
expect_eq "$(cat "$TEST_TMP/holder.lostsetattr")" ok \
    "a truncate and a time set while the path is silent wait and succeed"
expect_eq "$(cat "$SAMBA_SHARE_DIR/stamped.txt"):$(stat -c %Y "$SAMBA_SHARE_DIR/stamped.txt")" \
    "stamp:1000000000" "... and the server has them"
expect_true "status: the READs the lost connection had in flight were run again" \
    test "$(field requests_retried)" -gt 0
echo first >"$TEST_TMP/first.go"
wait_for_file "$TEST_TMP/second.ready" || die "the second part did not finish"
expect_eq "$(cat "$TEST_TMP/holder.part2")" ok \
    "the reclaimed descriptors read on, and fsync succeeds"
expect_eq "$(sha256 "$SAMBA_SHARE_DIR/written.bin" 2>/dev/null)" "$want" \
    "what was written before and after the reconnect is on the server intact"
# The old session is gone (PreviousSessionId), and with it any open it held.
expect_eq "$(opens_of ref.bin):$(opens_of written.bin)" 1:1 \
    "the server holds one open of each, not the dead session's too"

# ---- the server loses the opens: by name instead ----
victims=$(ss -Htnp state established "( sport = :$SAMBA_PORT )" |
    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u)
[ -n "$victims" ] || die "no smbd process serves the mount's connection"
# shellcheck disable=SC2086 # one PID per word
kill -KILL $victims
wait_log "$log" "reconnected to" 2 30 || die "no second reconnect: $(cat "$log")"
run "$SMBQUIC" status "$M"
expect_eq "$(field durable_reclaims):$(field reopens_by_name)" 5:7 \
    "status: after smbd died, the five files (and the directory again) opened by name"
expect_true "the mount says the server did not keep the durable handle" \
    grep -q "the server did not keep the durable handle of ref.bin" "$log"
echo second >"$TEST_TMP/second.go"
wait_for_file "$TEST_TMP/holder.done" || die "the last part did not finish"
wait "$holder_pid"
expect_eq "$(cat "$TEST_TMP/holder.part3")" ok "the file open for reading reads on to its end"
expect_eq "$(cat "$TEST_TMP"/read[123].bin | sha256sum | cut -d' ' -f1)" "$want" \
    "what it read across both reconnects has the file's SHA-256"

umount "$M" || die "umount $M"
wait "$mount_pid"
expect_eq "$?" 0 "the helper exits 0 after the unmount"
expect_eq "$(opens_of ref.bin):$(opens_of written.bin)" 0:0 "no open is left on the server"

# ---- a soft mount whose path stays silent past its wait ----
# Written behind while the path is silent, again, but the path stays silent: a soft mount
# (the default) gives up 30 s after the loss. What it could not send must not be dropped
# without a word: the fsync after the write fails with EIO then (not before, and it does not
# hang), the mount logs and counts what it gave up, and once the path is back the same
# descriptor writes again.
new_mount_dir
S=$MNT
mount_fg "$S" "$TEST_TMP/soft.log" echo_interval=2
soft_pid=$MOUNT_PID
python3 - "$S" "$TEST_TMP" "$MOUNT_LIB_DIR" <<'PY' &
import errno, os, sys, time
m, t = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from holder import step, wait_go
fd = os.open(os.path.join(m, "given-up.bin"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
step(t, "soft_before", lambda: (os.write(fd, b"before\n"), os.fsync(fd)))
wait_go(t, "soft_silent")
lost = os.urandom(1 << 20)
step(t, "soft_behind", lambda: os.write(fd, lost))
start = time.monotonic()
step(t, "soft_fsync", lambda: os.fsync(fd))
# Still disconnected: reading the range given up must not return it from the kernel's cache
# (the server does not have it). The mount has the cache dropped as it gives up (on a thread
# of its own, so allow it a moment); the read then goes to the mount, which cannot answer.
def reread():
    for _ in range(30):
        # A whole page of it (the first one is partly "before"): one the kernel caches.
        if os.pread(fd, 4096, 4096) != lost[4096 - 7:2 * 4096 - 7]:
            return
        time.sleep(0.1)
    raise OSError(errno.EEXIST, "the data given up is still read back")
step(t, "soft_reread", reread)
with open(os.path.join(t, "soft_fsync.secs"), "w") as f:
    f.write("%d\n" % (time.monotonic() - start))
wait_go(t, "soft_back")
# After the range given up: the server has a hole there, the kernel's cache its data.
step(t, "soft_after", lambda: (os.pwrite(fd, b"after\n", 7 + (1 << 20)), os.fsync(fd),
                               os.close(fd)))
open(os.path.join(t, "soft.done"), "w").write("done\n")
PY
soft_holder=$!
rig_cleanup_add "kill $soft_holder 2>/dev/null || true"
wait_for_file "$TEST_TMP/soft_silent.ready" || die "the soft mount's holder did not start"
expect_eq "$(cat "$TEST_TMP/holder.soft_before")" ok "soft: a first write and fsync"
iptables -I INPUT "${port_match[@]}" -j DROP && iptables -I INPUT "${port_back[@]}" -j DROP ||
    die "iptables"
echo go >"$TEST_TMP/soft_silent.go"
wait_for_file "$TEST_TMP/holder.soft_behind" || die "the write while silent did not return"
expect_eq "$(cat "$TEST_TMP/holder.soft_behind")" ok \
    "soft: a write while the path is silent returns at once"
wait_log "$TEST_TMP/soft.log" "connection to the server lost" 1 15 ||
    die "the soft mount did not notice the loss: $(cat "$TEST_TMP/soft.log")"
# The soft wait is 30 s.
wait_for_file "$TEST_TMP/soft_fsync.secs" 60 || die "the fsync after it did not return in 60 s"
expect_eq "$(cat "$TEST_TMP/holder.soft_fsync")" EIO \
    "soft: the fsync after it fails with EIO once the mount gives up"
expect_eq "$(cat "$TEST_TMP/holder.soft_reread")" EIO \
    "soft: reading what was given up fails while disconnected (not served from the cache)"
fsync_secs=$(cat "$TEST_TMP/soft_fsync.secs")
expect_true "soft: ... about 30 s after the loss, not before (${fsync_secs} s after the write)" \
    test "$fsync_secs" -ge 28 -a "$fsync_secs" -le 45
expect_true "soft: the mount logs the writes it gave up" \
    grep -q "gave up on [0-9]* writes ([0-9]* bytes)" "$TEST_TMP/soft.log"
run "$SMBQUIC" status "$S"
expect_true "soft: status counts them (writes_not_sent: $(field writes_not_sent))" \
    test "$(field writes_not_sent)" -gt 0
iptables -D INPUT "${port_match[@]}" -j DROP && iptables -D INPUT "${port_back[@]}" -j DROP ||
    die "iptables -D"
wait_log "$TEST_TMP/soft.log" "reconnected to" 1 30 ||
    die "no reconnect: $(cat "$TEST_TMP/soft.log")"
echo go >"$TEST_TMP/soft_back.go"
wait_for_file "$TEST_TMP/soft.done" || die "the write after the reconnect did not finish"
wait "$soft_holder"
expect_eq "$(cat "$TEST_TMP/holder.soft_after")" ok \
    "soft: once reconnected, the same descriptor writes and syncs again"
{ printf 'before\n' && head -c 1048576 /dev/zero && printf 'after\n'; } >"$TEST_TMP/given-up.want"
expect_true "soft: the server has what was written before and after, nothing of what was given up" \
    cmp -s "$TEST_TMP/given-up.want" "$SAMBA_SHARE_DIR/given-up.bin"
expect_true "soft: so has the mount (what was given up is not served from the kernel's cache)" \
    cmp -s "$TEST_TMP/given-up.want" "$S/given-up.bin"
umount "$S" || die "umount $S"
wait "$soft_pid"
expect_eq "$?" 0 "soft: the helper exits 0 after the unmount"

# ---- the answers lost, not the requests: an unlink runs again and finds its work done ----
# Only the server's packets are dropped: the mount's requests reach the server and are
# carried out, their answers never come back. unlink and rmdir then remove their names on the
# server, and a create makes its file, while the mount, hearing nothing, gives the connection
# up; once reconnected it runs them again: the removals find their names gone and succeed
# (not EIO, not ENOENT), the create opens the file the first run made.
# In three directories: the kernel holds the directory's lock while it waits for an answer,
# so a second request in the same one would not be sent before the reconnect.
mkdir "$SAMBA_SHARE_DIR/files" "$SAMBA_SHARE_DIR/doomed.dir" "$SAMBA_SHARE_DIR/made"
printf 'doomed\n' >"$SAMBA_SHARE_DIR/files/doomed.txt"
as_share_owner "$SAMBA_SHARE_DIR"
new_mount_dir
R=$MNT
# actimeo=30: what is looked up before the silence stays known through it.
mount_fg "$R" "$TEST_TMP/rerun.log" echo_interval=2,actimeo=30
rerun_pid=$MOUNT_PID
# Looked up now, and the directory's attributes too (the kernel checks the permission to
# remove from it), so that unlink and rmdir send their own requests first.
stat "$R" "$R/files" "$R/files/doomed.txt" "$R/doomed.dir" "$R/made" >/dev/null ||
    die "the names to remove are not there"
# And the name to create is known not to be there (a negative entry), so that its CREATE too
# is sent at once.
! stat "$R/made/new.txt" 2>/dev/null || die "made/new.txt is there already"
iptables -I INPUT "${port_back[@]}" -j DROP || die "iptables"
# unlink(1), not rm: rm stats the file first, and that request would be the one lost.
unlink "$R/files/doomed.txt" 2>"$TEST_TMP/rm.err" &
rm_pid=$!
rmdir "$R/doomed.dir" 2>"$TEST_TMP/rmdir.err" &
rmdir_pid=$!
# A create without O_EXCL (the shell's >): run again, it opens what the first run made.
sh -c 'echo made >"$1"' sh "$R/made/new.txt" 2>"$TEST_TMP/create.err" &
create_pid=$!
wait_log "$TEST_TMP/rerun.log" "connection to the server lost" 1 15 ||
    die "the mount did not notice the silence: $(cat "$TEST_TMP/rerun.log")"
expect_true "the unlink and the rmdir reached the server (both names are gone there)" \
    test ! -e "$SAMBA_SHARE_DIR/files/doomed.txt" -a ! -e "$SAMBA_SHARE_DIR/doomed.dir"
expect_true "so did the create (the file is there)" test -e "$SAMBA_SHARE_DIR/made/new.txt"
iptables -D INPUT "${port_back[@]}" -j DROP || die "iptables -D"
wait_log "$TEST_TMP/rerun.log" "reconnected to" 1 30 ||
    die "no reconnect: $(cat "$TEST_TMP/rerun.log")"
wait "$rm_pid"
expect_eq "$?" 0 \
    "unlink, whose answer was lost, succeeds once reconnected ($(cat "$TEST_TMP/rm.err"))"
wait "$rmdir_pid"
expect_eq "$?" 0 "so does rmdir ($(cat "$TEST_TMP/rmdir.err"))"
wait "$create_pid"
expect_eq "$?:$(cat "$SAMBA_SHARE_DIR/made/new.txt")" "0:made" \
    "and the create, and the write after it ($(cat "$TEST_TMP/create.err"))"
run "$SMBQUIC" status "$R"
expect_true "status: the three were run again (requests_retried: $(field requests_retried))" \
    test "$(field requests_retried)" -ge 3
umount "$R" || die "umount $R"
wait "$rerun_pid"
expect_eq "$?" 0 "the helper exits 0 after the unmount"
test_done
