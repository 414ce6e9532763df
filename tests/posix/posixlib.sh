# shellcheck shell=bash
# Helpers for the POSIX tests (tests/posix/test_*.sh), on top of tests/mount/mountlib.sh.
# Source it first thing, then:
#   posix_setup PROGRAM_VAR...   mount_require fs (skip unless the helper can mount, in a
#                                private mount namespace), check that the named variables hold
#                                built programs, start Samba (default variant) and make a
#                                mount point in MNT
#   posix_mount [EXTRA]          mount //127.0.0.1/share on $MNT with `mount -t smbquic` and a
#                                credentials file (plus EXTRA options); dies when it fails
#   posix_umount DESC            umount $MNT; checks that it worked and the helper exited
#
# Environment (set by meson): POSIX_SUITE, FSRAND, FSYNC_WRITER (the programs built in this
# directory), plus what mountlib.sh and testlib.sh read.

# shellcheck source=../mount/mountlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../mount/mountlib.sh"

# shellcheck disable=SC2120 # its arguments are variable names, not the script's
posix_setup() {
    local var
    mount_require fs
    for var in "$@"; do
        if [ -z "${!var:-}" ] || [ ! -x "${!var}" ]; then
            skip "$var is not a built program ('${!var:-}')"
        fi
    done
    samba_start default || die "samba_start"
    new_mount_dir
    POSIX_CREDS=$TEST_TMP/creds
    (umask 077 && printf 'username=%s\npassword=%s\n' "$SAMBA_USER" "$SAMBA_PASSWORD" >"$POSIX_CREDS")
}

# shellcheck disable=SC2120 # its one optional word is not the script's arguments
posix_mount() {
    local extra=${1:-}
    run env -u PASSWD mount -t smbquic "$UNC" "$MNT" -o "$(copts "credentials=$POSIX_CREDS${extra:+,$extra}")"
    [ "$RC" = 0 ] || die "mount -t smbquic $UNC $MNT ${extra:+(-o $extra) }failed: exit $RC: $ERR"
    [ "$(mount_count "$MNT")" = 1 ] || die "mount -t smbquic returned 0 but $MNT is not mounted"
    echo "# mounted $UNC on $MNT${extra:+ with $extra} (helper pid $(daemon_pid "$MNT"))"
}

posix_umount() {
    local desc=$1 pid
    pid=$(daemon_pid "$MNT")
    run umount "$MNT"
    expect_ok "$desc: umount"
    expect_true "$desc: the helper (pid '$pid') exits after the unmount" wait_daemon_gone "$pid"
    expect_no_mount "$MNT" "$desc"
}
