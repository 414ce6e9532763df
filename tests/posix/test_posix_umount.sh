#!/usr/bin/env bash
# Unmounting while a writer runs loses nothing the writer was told is stored. fsync_writer
# appends numbered 4 KiB records, calls fsync(2) after every batch (close(2) and reopen after
# every fourth) and logs, on local disk, how many bytes each successful call covered. Then:
#
#   SIGTERM to mount.smbquic mid-write: man/mount.smbquic.8 says it then flushes dirty data,
#     closes handles, logs off and exits (fs_serve); the writer's next call fails (the mount
#     is gone) and it stops. Done on a default and on a cache=loose mount, and once with
#     every returned write(2) counted as acknowledged (no fsync): "dirty data is flushed".
#   umount mid-write: refused with EBUSY while the writer holds the file open (as for any
#     filesystem), so `umount -l`: the mount point is detached at once, the writer goes on
#     through its open descriptors, and when it closes (after SIGTERM to the writer) the
#     helper must flush and exit by itself.
#
# Each time the server's copy (Samba's share directory, read directly) must hold at least the
# acknowledged bytes, every record intact.
# shellcheck source=posixlib.sh
. "$(dirname "$0")/posixlib.sh"
posix_setup FSYNC_WRITER

# start_writer NAME [ARGS]: fsync_writer on $MNT/NAME, logging to $TEST_TMP/NAME.log; sets
# WPID.
start_writer() {
    local name=$1
    shift
    "$FSYNC_WRITER" write "$MNT/$name" "$TEST_TMP/$name.log" --batch 16 --pause-ms 5 "$@" \
        </dev/null >"$TEST_TMP/$name.out" 2>&1 &
    WPID=$!
    rig_cleanup_add "kill -KILL $WPID 2>/dev/null || true"
}

acks() {
    grep -c '^ACK ' "$1" 2>/dev/null || echo 0
}

# wait_acks LOG N: until LOG holds N acknowledgements (20 s at most).
# shellcheck disable=SC2317 # called through expect_true
wait_acks() {
    local i
    for ((i = 0; i < 400; i++)); do
        [ "$(acks "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_pid_gone PID SECONDS: true when PID (a child) exited within SECONDS; WRC is its status.
wait_pid_gone() {
    local pid=$1 i
    for ((i = 0; i < $2 * 20; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            WRC=$?
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# verify NAME DESC: the server's copy holds the acknowledged bytes, intact.
verify() {
    run "$FSYNC_WRITER" verify "$SAMBA_SHARE_DIR/$1" "$TEST_TMP/$1.log"
    if [ "$RC" = 0 ]; then
        _pass "$2: $OUT"
    else
        _fail "$2: the server's copy" "$OUT" "writer log tail: $(tail -n 3 "$TEST_TMP/$1.log" | tr '\n' ' ')" \
            "writer output: $(cat "$TEST_TMP/$1.out")"
    fi
}

# ---- SIGTERM to the helper while writing ---------------------------------------------------
sigterm_case() {
    local desc=$1 name=$2 extra=$3 pid
    shift 3
    posix_mount "$extra"
    pid=$(daemon_pid "$MNT")
    start_writer "$name" "$@"
    expect_true "$desc: the writer got 10 acknowledgements" wait_acks "$TEST_TMP/$name.log" 10
    kill -TERM "$pid"
    expect_true "$desc: SIGTERM: the helper (pid $pid) exits within 10 s" wait_daemon_gone "$pid"
    if wait_pid_gone "$WPID" 10; then
        expect_eq "$WRC" 3 "$desc: the writer's next call failed once the mount was gone"
        echo "# $desc: writer: $(tail -n 1 "$TEST_TMP/$name.log")"
    else
        _fail "$desc: the writer did not stop within 10 s of the helper's exit (a call hangs?)"
        kill -KILL "$WPID" 2>/dev/null
    fi
    expect_no_mount "$MNT" "$desc: after SIGTERM"
    mount_cleanup "$MNT"
    verify "$name" "$desc"
}

sigterm_case "SIGTERM mid-write" term ""
sigterm_case "SIGTERM mid-write, cache=loose" term-loose cache=loose
sigterm_case "SIGTERM mid-write, every returned write(2) counted" term-writes "" --ack-writes \
    --pause-ms 0

# ---- umount while writing: EBUSY, then umount -l ------------------------------------------
posix_mount
pid=$(daemon_pid "$MNT")
start_writer lazy
expect_true "umount -l: the writer got 10 acknowledgements" wait_acks "$TEST_TMP/lazy.log" 10
run umount "$MNT"
if [ "$RC" != 0 ] && grep -qi 'busy' <<<"$ERR"; then
    _pass "umount while the writer holds the file open: refused as busy ($ERR)"
elif [ "$RC" = 0 ]; then
    echo "# umount succeeded although a file was open"
else
    _fail "umount while the writer holds the file open: want 'target is busy'" "$(_show_run)"
fi
run umount -l "$MNT"
expect_ok "umount -l while the writer runs"
expect_eq "$(mount_count "$MNT")" 0 "umount -l: the mount point is detached at once"
before=$(acks "$TEST_TMP/lazy.log")
expect_true "umount -l: the writer goes on through its descriptors ($before acknowledgements so far)" \
    wait_acks "$TEST_TMP/lazy.log" $((before + 10))
kill -TERM "$WPID"
if wait_pid_gone "$WPID" 20; then
    expect_eq "$WRC" 0 "umount -l: the writer, stopped, closed its file without an error"
else
    _fail "umount -l: the writer did not finish within 20 s of SIGTERM"
    kill -KILL "$WPID" 2>/dev/null
fi
expect_true "umount -l: the helper (pid $pid) exits once the writer closed the file" \
    wait_daemon_gone "$pid"
verify lazy "umount -l"
last=$(sed -n 's/^ACK //p' "$TEST_TMP/lazy.log" | tail -n 1)
expect_eq "$(stat -c %s "$SAMBA_SHARE_DIR/lazy" 2>&1)" "$last" \
    "umount -l: the server's copy ends where the writer's last close did"
mount_cleanup "$MNT"

test_done
