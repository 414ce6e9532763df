# shellcheck shell=bash
# Helpers for the mount.smbquic tests (tests/mount/test_*.sh), on top of tests/rig/testlib.sh.
# Source it first thing, then call mount_require:
#   . "$(dirname "$0")/mountlib.sh"
#   mount_require [fs]     skip (77, with the reason) unless root, smbd, /dev/fuse and the
#                          helper exist; with "fs", also unless the helper can mount. Then
#                          re-runs the script in a private mount namespace (unshare -m) whose
#                          /sbin also holds the built helper as mount.smbquic (an overlay), so
#                          mount(8), `mount -t smbquic` and fstab lines use it and every mount
#                          disappears with the namespace; nothing on the host changes.
#   mq ARGS...             run the helper with PASSWD set (PASSWD_OVERRIDE, NO_PASSWD as smbq);
#                          sets RC, OUT, ERR
#   run CMD...             run any command the same way (no PASSWD unless given)
#   mount_count DIR        how many mounts are on DIR now (/proc/self/mountinfo)
#   mount_line DIR         "SOURCE TYPE OPTIONS" of the mount on DIR
#   daemon_pid DIR         PID of the mount.smbquic process serving DIR ("" if none)
#   wait_daemon_gone PID   wait (10 s at most) for PID to exit; true when it did
#   expect_no_mount DIR DESC   nothing mounted on DIR and no helper process left for it
#   mount_cleanup DIR      unmount DIR and stop its helper, by PID (registered as a cleanup
#                          by new_mount_dir)
#   new_mount_dir          make an empty mount point under TEST_TMP, in MNT
#   wait_mounted DIR PID   wait (10 s at most) until DIR is mounted or PID has exited
#   cmdline_has FILE       true when the contents of FILE appear in some /proc/*/cmdline
#   own_netns              first thing: re-runs the script in a network namespace of its own
#                          (unshare -n, lo up), so its iptables rules and addresses touch
#                          nothing else; skips where it cannot, or without iptables
#   mount_fg DIR LOG [OPTIONS]  mount UNC on DIR with the helper in the foreground (-F -v:
#                          its log, INFO lines included, in LOG); sets MOUNT_PID
#   wait_log FILE REGEX [COUNT [SECONDS]]  until FILE has COUNT (1) lines matching REGEX,
#                          for SECONDS (15) at most; true when it has
#
# Environment (set by meson): MOUNT_SMBQUIC (the built helper), MOUNT_SMBQUIC_FS (1 when it
# was built with the filesystem), and testlib.sh's SMBQUIC, SMBQUIC_GATEWAY,
# SMBQUIC_TEST_TRANSPORT.

MOUNT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../rig/testlib.sh
. "$MOUNT_LIB_DIR/../rig/testlib.sh"

MOUNT_SMBQUIC=${MOUNT_SMBQUIC:-}
MOUNT_SMBQUIC_FS=${MOUNT_SMBQUIC_FS:-0}

# shellcheck disable=SC2120 # its one optional word is not the script's arguments
mount_require() {
    local want_fs=${1:-}
    if [ -z "$MOUNT_SMBQUIC" ] || [ ! -x "$MOUNT_SMBQUIC" ]; then
        skip "mount.smbquic not built (MOUNT_SMBQUIC='$MOUNT_SMBQUIC')"
    fi
    if [ "$want_fs" = fs ] && [ "$MOUNT_SMBQUIC_FS" != 1 ]; then
        skip "filesystem not built yet (mount.smbquic was built without src/fs)"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        skip "needs root (mounts, and a private mount namespace)"
    fi
    if [ ! -c /dev/fuse ]; then
        skip "no /dev/fuse"
    fi
    if [ -z "${SMBQUIC_MOUNT_NS:-}" ]; then
        command -v unshare >/dev/null 2>&1 || skip "unshare not installed (util-linux)"
        # shellcheck disable=SC2093 # the skip below runs only when exec fails
        SMBQUIC_MOUNT_NS=1 exec unshare --mount --propagation private -- bash "$0"
        skip "cannot enter a private mount namespace"
    fi
    rig_require
    _mount_overlay_sbin
}

# The helper appears as /sbin/mount.smbquic in this namespace only: an overlay of a directory
# holding a link to it over the directory /sbin resolves to (/usr/sbin on merged-/usr systems).
_mount_overlay_sbin() {
    local sbin extra
    sbin=$(readlink -f /sbin) || die "cannot resolve /sbin"
    extra=$TEST_TMP/sbin-overlay
    mkdir -p "$extra" || die "mkdir $extra"
    ln -s "$MOUNT_SMBQUIC" "$extra/mount.smbquic" || die "ln"
    if ! mount -t overlay overlay -o "lowerdir=$extra:$sbin" "$sbin" 2>"$TEST_TMP/overlay.err"; then
        skip "cannot overlay $sbin in a private mount namespace: $(cat "$TEST_TMP/overlay.err")"
    fi
    [ -x /sbin/mount.smbquic ] || die "/sbin/mount.smbquic missing after the overlay"
    PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
    export PATH
}

# run CMD...: RC, OUT, ERR of CMD with stdin from /dev/null, bounded to 90 s. The rig exports
# SAMBA_PASSWORD; CMD does not inherit it (a helper started by CMD would keep it in its
# environment, and the tests look for the password there).
run() {
    echo "+ $*" >&2
    timeout --kill-after=5 90 env -u SAMBA_PASSWORD "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$TEST_TMP/out")
    ERR=$(cat "$TEST_TMP/err")
    return 0
}

# mq ARGS...: the helper, with the instance's password in PASSWD (as smbq does).
mq() {
    local pw=$SAMBA_PASSWORD
    if [ -n "${PASSWD_OVERRIDE+x}" ]; then
        pw=$PASSWD_OVERRIDE
    fi
    if [ "${NO_PASSWD:-0}" = 1 ]; then
        run env -u PASSWD "$MOUNT_SMBQUIC" "$@"
    else
        run env PASSWD="$pw" "$MOUNT_SMBQUIC" "$@"
    fi
}

# Prints the mountinfo mount points (unescaped) with their "source type options", one per line:
# "TARGET\tSOURCE TYPE OPTIONS".
_mountinfo() {
    python3 - <<'PY'
import re
def unescape(s):
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), s)
with open('/proc/self/mountinfo') as f:
    for line in f:
        left, right = line.rstrip('\n').split(' - ', 1)
        fields = left.split(' ')
        fstype, source, superopts = right.split(' ', 2)
        print('%s\t%s %s %s,%s' % (unescape(fields[4]), unescape(source), fstype, fields[5], superopts))
PY
}

mount_count() {
    _mountinfo | awk -F '\t' -v d="$1" '$1 == d' | grep -c ''
}

mount_line() {
    _mountinfo | awk -F '\t' -v d="$1" '$1 == d { print $2 }' | tail -n 1
}

# daemon_pid DIR: the helper process whose command line has DIR as an argument.
daemon_pid() {
    python3 - "$1" "$$" <<'PY'
import os, sys
d, me = sys.argv[1].encode(), sys.argv[2]
for pid in os.listdir('/proc'):
    if not pid.isdigit() or pid in (me, str(os.getpid())):
        continue
    try:
        exe = os.readlink('/proc/%s/exe' % pid)
        args = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
    except OSError:
        continue
    if os.path.basename(exe) == 'mount.smbquic' and d in args:
        print(pid)
        break
PY
}

wait_daemon_gone() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

expect_no_mount() {
    local dir=$1 desc=$2 n pid
    n=$(mount_count "$dir")
    pid=$(daemon_pid "$dir")
    if [ "$n" = 0 ] && [ -z "$pid" ]; then
        _pass "$desc: nothing mounted, no helper left"
    else
        _fail "$desc: $n mount(s) on $dir, helper pid '${pid}'" "$(_mountinfo | grep -F "$dir")"
    fi
}

mount_cleanup() {
    local dir=$1 pid i
    pid=$(daemon_pid "$dir")
    for ((i = 0; i < 5; i++)); do
        [ "$(mount_count "$dir")" = 0 ] && break
        umount "$dir" 2>/dev/null || umount -l "$dir" 2>/dev/null || true
    done
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_daemon_gone "$pid"; then
            rig_log "mount.smbquic $pid ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
}

wait_mounted() {
    local dir=$1 pid=$2 i
    for ((i = 0; i < 200; i++)); do
        [ "$(mount_count "$dir")" = 1 ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    [ "$(mount_count "$dir")" = 1 ]
}

_mount_dirs=0
new_mount_dir() {
    _mount_dirs=$((_mount_dirs + 1))
    local dir=$TEST_TMP/mnt$_mount_dirs
    mkdir -p "$dir" || die "mkdir $dir"
    rig_cleanup_add "mount_cleanup '$dir'"
    # shellcheck disable=SC2034 # for the test scripts
    MNT=$dir
}

own_netns() {
    if [ -z "${SMBQUIC_IN_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
        exec unshare -n env SMBQUIC_IN_NETNS=1 bash "$0" "$@"
    fi
    [ -n "${SMBQUIC_IN_NETNS:-}" ] || skip "needs a network namespace of its own (unshare -n)"
    command -v iptables >/dev/null || skip "iptables not installed"
    ip link set lo up || die "cannot bring up lo in the test's network namespace"
}

mount_fg() {
    local dir=$1 log=$2 extra=${3:-}
    echo "+ mount.smbquic $UNC $dir -F -v -o $(opts "$extra")" >&2
    PASSWD=$SAMBA_PASSWORD "$MOUNT_SMBQUIC" "$UNC" "$dir" -F -v -o "$(opts "$extra")" </dev/null \
        2>"$log" &
    MOUNT_PID=$!
    rig_cleanup_add "kill $MOUNT_PID 2>/dev/null || true"
    wait_mounted "$dir" "$MOUNT_PID" || die "the mount did not come up: $(cat "$log")"
}

wait_log() {
    local file=$1 re=$2 count=${3:-1} i
    for ((i = 0; i < ${4:-15} * 10; i++)); do
        [ "$(grep -cE -- "$re" "$file")" -ge "$count" ] && return 0
        sleep 0.1
    done
    return 1
}

# cmdline_has FILE: some process's command line contains FILE's contents (the pattern is read
# from the file so that grep's own command line does not contain it).
cmdline_has() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qFf "$1" && return 0
    done
    return 1
}
