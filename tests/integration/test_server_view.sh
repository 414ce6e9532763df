#!/usr/bin/env bash
# What `smbquic info` claims, checked from the server's side: while a long `get` runs (a sparse
# 2 GiB file), `smbstatus -b` on the test server shows the session's dialect, encryption and
# signing; the get is then stopped. When the client turns encryption on by itself (seal, the
# server only offering it), smbstatus says "partial(CIPHER)" because the session setup legs were
# in clear; Samba's own smbclient --client-protection=encrypt shows exactly the same. Anywhere
# else "partial" would mean requests went unprotected.
# Over QUIC the gateway stands between, and smbstatus shows the same (the 3.0.2 cases are TCP-only).
# Last, smbd's own request log shows which requests `ls`, `get` and `put` send and how they are
# compounded.
# (A FIFO that nobody reads would hold the session open without racing, but `smbquic get` does
# not write to pipes yet.)
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

# server_view VARIANT EXTRA_OPTS WANT_PROTOCOL WANT_ENCRYPTION WANT_SIGNING
server_view() {
    local variant=$1 extra=$2 want="$3 $4 $5" line="" got i pid desc
    desc="$variant${extra:+ ($extra)}"
    samba_start "$variant" || die "samba_start $variant"
    truncate -s 2G "$SAMBA_SHARE_DIR/sparse.bin"
    as_share_owner "$SAMBA_SHARE_DIR/sparse.bin"
    echo "+ smbquic get $UNC/sparse.bin LOCAL -o $(opts "$extra") &" >&2
    PASSWD=$SAMBA_PASSWORD "$SMBQUIC" get "$UNC/sparse.bin" "$TEST_TMP/sparse.bin" \
        -o "$(opts "$extra")" >"$TEST_TMP/view.out" 2>"$TEST_TMP/view.err" &
    pid=$!
    # Ask once data flows (the session is complete then: during SESSION_SETUP smbstatus may
    # show the session before its signing state is recorded).
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        if [ "$(stat -c %s "$TEST_TMP/sparse.bin" 2>/dev/null || echo 0)" -gt 4194304 ]; then
            line=$(smbstatus -s "$SAMBA_CONF" -b 2>/dev/null | awk -v u="$SAMBA_USER" '$2 == u')
            [ -n "$line" ] && break
        fi
        sleep 0.02
    done
    got=$(awk '{print $6, $7, $8}' <<<"$line")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        _pass "$desc: still transferring when the server was asked"
    else
        wait "$pid"
        _fail "$desc: get ended before the session was seen (exit $?)" "$(cat "$TEST_TMP/view.err")" \
            "$(server_logs)"
    fi
    rm -f "$TEST_TMP/sparse.bin"
    expect_eq "$got" "$want" "$desc: smbstatus shows '$want'"
    samba_stop
}

server_view default "" SMB3_11 AES-128-GCM AES-128-GMAC
server_view signing-mandatory "" SMB3_11 - AES-128-GMAC
server_view signing-mandatory seal SMB3_11 "partial(AES-128-GCM)" AES-128-GMAC
server_view encrypt-aes-256-ccm "" SMB3_11 AES-256-CCM AES-128-GMAC
server_view sign-aes-cmac sign SMB3_11 - AES-128-CMAC
server_view sign-hmac-sha256 "" SMB3_11 - HMAC-SHA256
if quic_mode; then
    echo "# vers=3.0.2 cases skipped over QUIC: QUIC carries only SMB 3.1.1 (quic-info checks the refusal)"
else
    server_view smb3-min vers=3.0.2 SMB3_02 - AES-128-CMAC
    server_view smb3-min vers=3.0.2,seal SMB3_02 "partial(AES-128-CCM)" AES-128-CMAC
fi

# The requests as the server sees them: `ls` of a small directory is one compound of CREATE and
# two QUERY_DIRECTORY (the second only learns STATUS_NO_MORE_FILES, so it saves a round trip),
# then CLOSE with TREE_DISCONNECT and LOGOFF in one compound, all answered with success.
# get and put send the first READ or WRITE related to their CREATE and end the same way: a
# small file costs two round trips after the tree connect, a larger one a READ per further
# MiB (pipelined: smbd may log those interleaved); an empty file's READ learns
# STATUS_END_OF_FILE.
samba_start signing-mandatory || die "samba_start signing-mandatory"
samba_log_requests || die "samba_log_requests"
mkdir "$SAMBA_SHARE_DIR/small"
: >"$SAMBA_SHARE_DIR/small/a.txt"
head -c 3000000 /dev/urandom >"$SAMBA_SHARE_DIR/small/three.bin"
as_share_owner "$SAMBA_SHARE_DIR/small"
# requests_of DESC WANT CMD...: runs smbquic CMD... and compares what smbd saw after TCON.
requests_of() {
    local desc=$1 want=$2 start_line requests
    shift 2
    start_line=$(wc -l <"$SAMBA_LOG")
    smbq "$@" -o "$(opts)"
    expect_ok "$desc"
    requests=$(samba_requests_since "$start_line")
    expect_eq "${requests#*\[1\] TCON}" "$want" "the server saw $desc as: $want ($requests)"
}
leave="[3] CLOSE =OK TDIS =OK LOGOFF =OK"
requests_of "ls of a small directory" \
    " =OK [3] CREATE =OK QUERY_DIRECTORY =OK QUERY_DIRECTORY $leave" ls "$UNC/small"
requests_of "get of an empty file" " =OK [2] CREATE =OK READ =END_OF_FILE $leave" \
    get "$UNC/small/a.txt" "$TEST_TMP/a.txt"
expect_true "the empty file arrived empty" test -f "$TEST_TMP/a.txt" -a ! -s "$TEST_TMP/a.txt"
start_line=$(wc -l <"$SAMBA_LOG")
smbq get "$UNC/small/three.bin" "$TEST_TMP/three.bin" -o "$(opts)"
expect_ok "get of a 3,000,000-byte file"
requests=$(samba_requests_since "$start_line")
requests=${requests#*\[1\] TCON =OK }
expect_eq "${requests%% \[1\] READ*}|$(grep -o '\[1\] READ' <<<"$requests" | wc -l)|${requests: -${#leave}}" \
    "[2] CREATE =OK READ =OK|2|$leave" \
    "the server saw the get of a 3,000,000-byte file as CREATE+READ, 2 READs, then $leave ($requests)"
expect_true "the file arrived intact" cmp "$SAMBA_SHARE_DIR/small/three.bin" "$TEST_TMP/three.bin"
printf 'small\n' >"$TEST_TMP/up.txt"
requests_of "put of a small file" " =OK [2] CREATE =OK WRITE =OK $leave" \
    put "$TEST_TMP/up.txt" "$UNC/small/up.txt"
expect_true "the small file arrived intact" cmp "$TEST_TMP/up.txt" "$SAMBA_SHARE_DIR/small/up.txt"
: >"$TEST_TMP/empty.txt"
requests_of "put of an empty file" " =OK [1] CREATE =OK $leave" \
    put "$TEST_TMP/empty.txt" "$UNC/small/up.txt"
expect_true "the empty put emptied the file" test ! -s "$SAMBA_SHARE_DIR/small/up.txt"
samba_stop

test_done
