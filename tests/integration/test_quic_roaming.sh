#!/usr/bin/env bash
# Roaming: the laptop's network changes in the middle of a transfer, and the QUIC connection
# moves to the new address (RFC 9000 9) instead of failing.
#
# The client runs in a network namespace of its own with two uplinks, "wifi" (10.77.1.2, the
# preferred default route) and "lte" (10.77.2.2, a second default route of lower priority), to
# a server namespace in which smbd and smbquic-gateway run; the gateway listens on 10.77.0.1,
# reachable over both. The server side filters by reverse path (rp_filter=1), as a carrier
# does, so packets that keep the old source address on the new link are dropped. Every link
# is limited to 80 Mbit/s (tbf) so that a 64 MiB transfer takes about 7 s and the change
# comes in its middle, 2 s after the command started. Scenarios, each with a put and a get:
#   address   wifi's address is deleted (the client's sends fail with ENETUNREACH)
#   linkdown  wifi goes down with its address kept (sends do not fail: the client learns of
#             it from the link and route events, or else after a probe timeout of silence)
#   return    wifi's address is deleted, and 2 s later wifi is back as the preferred route:
#             the client's packets from its lte address now leave on wifi and are dropped,
#             so it must move a second time, back to wifi
# Each command must finish with the file's SHA-256 intact, on one QUIC connection (the
# gateway's audit log: that connection id opened once, and no other), and both ends must show
# each move: the client's -v log "migrated from 10.77.1.2:P to 10.77.2.2:Q", the gateway's
# "path to 10.77.2.2:Q validated" (and back for "return"). Then wifi is restored for the next
# command.
#
# Last, a mount (mount.smbquic in the client namespace, the FUSE mount in the test's): with a
# file open for reading and one for writing, each half done, wifi's address is deleted while
# the mount is idle. It must move to lte by itself (the address event, or else its keep-alive
# PING failing, within 15 s) before anything touches the files; then both files are finished
# through the same descriptors and must match, on one connection; `smbquic status` must show
# the move (migrations, local_address).
#
# Then the same over IPv6 (fd77:1::2 on wifi, fd77:2::2 on lte, the gateway restarted on
# [fd77::1]): a 64 MiB get while wifi's IPv6 address is deleted.
#
# ROAM_SCENARIOS picks the IPv4 transfer scenarios (default "address linkdown return"; " " for
# none); the mount and IPv6 parts always run.
#
# The test runs itself again inside a fresh server namespace (ip netns exec), so that smbd,
# the gateway and the addresses above exist only there; both namespaces are deleted at exit.
if [ -z "${ROAM_SERVER_NS:-}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root (network namespaces)"
        exit 77
    fi
    if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
        echo "SKIP: ip and tc (iproute2) not installed"
        exit 77
    fi
    roam_ns=smbquic-roam-$$
    roam_cleanup() {
        ip netns del "$roam_ns-cli" 2>/dev/null
        ip netns del "$roam_ns-srv" 2>/dev/null
    }
    trap roam_cleanup EXIT
    trap 'exit 1' INT TERM
    ip netns add "$roam_ns-srv" || { echo "ERROR: cannot create a network namespace" >&2; exit 1; }
    ROAM_SERVER_NS=$roam_ns-srv ROAM_CLIENT_NS=$roam_ns-cli \
        ip netns exec "$roam_ns-srv" bash "$0" "$@"
    exit $?
fi

# ---- inside the server namespace ----
# shellcheck source=../rig/testlib.sh
SMBQUIC_TEST_TRANSPORT=quic
. "$(dirname "$0")/../rig/testlib.sh"
rig_require
command -v timeout >/dev/null || skip "timeout (coreutils) not installed"
LIMIT=${ROAM_TRANSFER_LIMIT:-60}
C=$ROAM_CLIENT_NS
SERVER_ADDR=10.77.0.1
WIFI_ADDR=10.77.1.2
LTE_ADDR=10.77.2.2
RATE=80mbit

ip link set lo up || die "lo up"
ip netns add "$C" || die "cannot create the client namespace"
ip -n "$C" link set lo up
ip addr add "$SERVER_ADDR/32" dev lo || die "server address"
ip link add wifi-s type veth peer name wifi netns "$C" || die "veth wifi"
ip link add lte-s type veth peer name lte netns "$C" || die "veth lte"
ip addr add 10.77.1.1/24 dev wifi-s
ip addr add 10.77.2.1/24 dev lte-s
for l in wifi-s lte-s; do
    ip link set "$l" up
    tc qdisc add dev "$l" root tbf rate "$RATE" burst 256kb latency 50ms || die "tbf on $l"
done
sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.wifi-s.rp_filter=1 \
    net.ipv4.conf.lte-s.rp_filter=1 || die "rp_filter"
ip -n "$C" addr add "$WIFI_ADDR/24" dev wifi
ip -n "$C" addr add "$LTE_ADDR/24" dev lte
for l in wifi lte; do
    ip -n "$C" link set "$l" up
    tc -n "$C" qdisc add dev "$l" root tbf rate "$RATE" burst 256kb latency 50ms ||
        die "tbf on $l"
done
# wifi_up: the client's wifi as at the start: up, addressed, and the preferred route.
wifi_up() {
    ip -n "$C" link set wifi up
    ip -n "$C" addr replace "$WIFI_ADDR/24" dev wifi
    ip -n "$C" route replace default via 10.77.1.1 dev wifi metric 100
    ip -n "$C" route replace default via 10.77.2.1 dev lte metric 200
}
wifi_up || die "client routes"
echo "# client namespace $C: $(ip -n "$C" route get "$SERVER_ADDR" | head -n 1)"

QGW_LISTEN=$SERVER_ADDR
export QGW_LISTEN
samba_start signing-mandatory || die "samba_start"
# -v: the gateway logs each path it validates.
qgw_restart "$SAMBA_PORT" -v || die "gateway with -v"
UNC=//$SERVER_ADDR/share
make_random "$TEST_TMP/src.bin" 64M
want=$(sha256 "$TEST_TMP/src.bin")
cp "$TEST_TMP/src.bin" "$SAMBA_SHARE_DIR/ref.bin"
as_share_owner "$SAMBA_SHARE_DIR/ref.bin"
# ropts: the -o options for the gateway running now.
ropts() {
    printf 'port=%s,transport=quic,servername=%s,cafile=%s,username=%s' "$QGW_PORT" \
        "$CERTS_SERVER_NAME" "$CERT_CA" "$SAMBA_USER"
}

# roaming_smbq CHANGE1 CHANGE2 ARGS...: smbquic ARGS -v in the client namespace, with the
# command CHANGE1 run 2 s after it starts and CHANGE2 (if not empty) 2 s later. Sets RC, OUT,
# ERR, SECS and CONN (the -v connection id).
roaming_smbq() {
    local change1=$1 change2=$2
    shift 2
    local start=$EPOCHREALTIME
    echo "+ smbquic $* -v (in $C; after 2 s: $change1${change2:+; 2 s later: $change2})" >&2
    PASSWD=$SAMBA_PASSWORD timeout -k 5 "$LIMIT" ip netns exec "$C" "$SMBQUIC" "$@" -v \
        >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null &
    local pid=$!
    sleep 2
    eval "$change1"
    if [ -n "$change2" ]; then
        sleep 2
        eval "$change2"
    fi
    wait "$pid"
    RC=$?
    SECS=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    OUT=$(cat "$TEST_TMP/out")
    ERR=$(cat "$TEST_TMP/err")
    CONN=$(sed -n 's/^smbquic: QUIC connection \([0-9a-f]*\) to .* established.*/\1/p' "$TEST_TMP/err" | head -n 1)
}

# check_moved NAME FROM TO: the client's log has its connection's move from address FROM to
# TO, and the gateway validated the new path.
check_moved() {
    local name=$1 from=$2 to=$3 moved from_re to_re
    from_re=$(regex_escape "$from")
    to_re=$(regex_escape "$to")
    moved=$(grep -E "^smbquic: QUIC connection $CONN migrated from $from_re:[0-9]+ to $to_re:[0-9]+ " \
        "$TEST_TMP/err" | head -n 1)
    echo "# $name: ${moved:-no migration from $from to $to logged}"
    expect_true "$name: the client moved its connection from $from to $to" test -n "$moved"
    local port=${moved##*"$to:"}
    port=${port%% *}
    if grep -qF "conn $CONN: path to $to:${port:-none} validated" "$QGW_LOG"; then
        _pass "$name: the gateway validated that connection's path from $to"
    else
        _fail "$name: the gateway validated that connection's path from $to" \
            "$(grep -E "conn $CONN|migrated|validat" "$QGW_LOG" "$TEST_TMP/err" | tail -n 12)"
    fi
}

# check_roamed NAME OPENS_BEFORE BACK [WIFI LTE]: the checks every roaming command must pass;
# BACK=1 when it must also have moved back to wifi. WIFI and LTE: the client's addresses as
# logged (IPv4 by default, [IPv6] in brackets).
check_roamed() {
    local name=$1 opens_before=$2 back=$3 wifi=${4:-$WIFI_ADDR} lte=${5:-$LTE_ADDR}
    if [ "$RC" = 0 ]; then
        _pass "$name: done (${SECS}s)"
    else
        _fail "$name: exit $RC after ${SECS}s" "$(tail -n 8 "$TEST_TMP/err")"
    fi
    check_moved "$name" "$wifi" "$lte"
    [ "$back" = 1 ] && check_moved "$name" "$lte" "$wifi"
    local opens
    opens=$(qgw_conns open | tail -n +"$((opens_before + 1))")
    expect_eq "$opens" "$CONN" "$name: one QUIC connection from start to end (the gateway's audit log)"
    wifi_up
}

for scenario in ${ROAM_SCENARIOS:-address linkdown return}; do
    change2="" back=0
    case $scenario in
    address) change="ip -n $C addr del $WIFI_ADDR/24 dev wifi" ;;
    linkdown) change="ip -n $C link set wifi down" ;;
    return) change="ip -n $C addr del $WIFI_ADDR/24 dev wifi" change2=wifi_up back=1 ;;
    esac

    opens_before=$(qgw_conns open | wc -l)
    roaming_smbq "$change" "$change2" put "$TEST_TMP/src.bin" "$UNC/$scenario.bin" -o "$(ropts)"
    check_roamed "$scenario: put 64 MiB" "$opens_before" "$back"
    expect_eq "$(sha256 "$SAMBA_SHARE_DIR/$scenario.bin" 2>/dev/null)" "$want" \
        "$scenario: put: the server has the file with its SHA-256"

    opens_before=$(qgw_conns open | wc -l)
    rm -f "$TEST_TMP/got.bin"
    roaming_smbq "$change" "$change2" get "$UNC/ref.bin" "$TEST_TMP/got.bin" -o "$(ropts)"
    check_roamed "$scenario: get 64 MiB" "$opens_before" "$back"
    expect_eq "$(sha256 "$TEST_TMP/got.bin" 2>/dev/null)" "$want" \
        "$scenario: get: the file arrives with its SHA-256"
done

# ---- a mount: open files stay open across the move ----
if [ -z "${MOUNT_SMBQUIC:-}" ] || [ ! -x "$MOUNT_SMBQUIC" ] || [ ! -c /dev/fuse ]; then
    echo "# mount scenario skipped: no mount.smbquic (MOUNT_SMBQUIC='${MOUNT_SMBQUIC:-}') or /dev/fuse"
    test_done
fi
MNT=$TEST_TMP/mnt
mkdir -p "$MNT"
opens_before=$(qgw_conns open | wc -l)
echo "+ mount.smbquic $UNC $MNT -F -v (in $C)" >&2
nsenter --net="/run/netns/$C" "$MOUNT_SMBQUIC" "$UNC" "$MNT" -F -v \
    -o "port=$QGW_PORT,transport=quic,servername=$CERTS_SERVER_NAME,cafile=$CERT_CA,credentials=$SAMBA_CREDS" \
    </dev/null 2>"$TEST_TMP/mount.log" &
mount_pid=$!
rig_cleanup_add "umount '$MNT' 2>/dev/null; kill $mount_pid 2>/dev/null || true"
for ((i = 0; i < 200; i++)); do
    grep -q " $MNT fuse" /proc/self/mounts && break
    kill -0 "$mount_pid" 2>/dev/null || break
    sleep 0.05
done
grep -q " $MNT fuse" /proc/self/mounts || die "the mount did not come up: $(cat "$TEST_TMP/mount.log")"
CONN=$(sed -n 's/.*QUIC connection \([0-9a-f]*\) to .* established.*/\1/p' "$TEST_TMP/mount.log" | head -n 1)
head -c $((16 * 1048576)) "$TEST_TMP/src.bin" >"$TEST_TMP/half1.bin"
tail -c +$((16 * 1048576 + 1)) "$TEST_TMP/src.bin" >"$TEST_TMP/half2.bin"
exec 3<"$MNT/ref.bin" 4>"$MNT/mount-written.bin"
dd bs=1M count=16 iflag=fullblock <&3 >"$TEST_TMP/read1.bin" 2>/dev/null
cat "$TEST_TMP/half1.bin" >&4
ip -n "$C" addr del "$WIFI_ADDR/24" dev wifi
moved=""
for ((i = 0; i < 150; i++)); do
    moved=$(grep -E "QUIC connection $CONN migrated from $WIFI_ADDR:[0-9]+ to $LTE_ADDR:[0-9]+ " \
        "$TEST_TMP/mount.log" | head -n 1)
    [ -n "$moved" ] && break
    sleep 0.1
done
echo "# mount: ${moved:-no migration logged} (after $((i / 10)).$((i % 10)) s)"
expect_true "mount: idle, it moves its connection to lte by itself" test -n "$moved"
# The status socket is abstract, so per network namespace: ask from the mount's.
status=$(nsenter --net="/run/netns/$C" "$SMBQUIC" status "$MNT" 2>&1)
new_port=${moved##*"$LTE_ADDR:"}
new_port=${new_port%% *}
expect_true "mount: smbquic status counts the move (migrations: 1)" grep -qx 'migrations: 1' <<<"$status"
expect_true "mount: smbquic status shows the new local address" \
    grep -qx "local_address: $LTE_ADDR:$new_port" <<<"$status"
cat <&3 >"$TEST_TMP/read2.bin"
rc3=$?
cat "$TEST_TMP/half2.bin" >&4
# fsync through the same descriptor reports a write-behind error, which bash's close would not.
python3 -c 'import os; os.fsync(4)'
rc4=$?
exec 4>&- 3<&-
expect_true "mount: the file open for reading reads on to its end" test "$rc3" = 0
expect_eq "$(cat "$TEST_TMP/read1.bin" "$TEST_TMP/read2.bin" | sha256sum | cut -d' ' -f1)" "$want" \
    "mount: what it read, before and after the move, has the file's SHA-256"
expect_true "mount: the file open for writing syncs without an error" test "$rc4" = 0
expect_eq "$(sha256 "$SAMBA_SHARE_DIR/mount-written.bin" 2>/dev/null)" "$want" \
    "mount: what it wrote, before and after the move, is on the server intact"
opens=$(qgw_conns open | tail -n +"$((opens_before + 1))")
expect_eq "$opens" "$CONN" "mount: one QUIC connection (the gateway's audit log)"
umount "$MNT" || die "umount"
wait "$mount_pid"
expect_eq "$?" 0 "mount: the helper exits 0 after the unmount"
wifi_up

# ---- IPv6: a get while wifi's address is deleted, to a gateway on fd77::1 ----
ip addr add fd77::1/128 dev lo || die "IPv6 server address"
ip addr add fd77:1::1/64 dev wifi-s nodad
ip addr add fd77:2::1/64 dev lte-s nodad
ip -n "$C" addr add fd77:1::2/64 dev wifi nodad
ip -n "$C" addr add fd77:2::2/64 dev lte nodad
ip -n "$C" -6 route add default via fd77:1::1 dev wifi metric 100 || die "IPv6 route"
ip -n "$C" -6 route add default via fd77:2::1 dev lte metric 200
QGW_LISTEN="[fd77::1]"
qgw_restart "$SAMBA_PORT" -v || die "gateway on [fd77::1]"
opens_before=0
rm -f "$TEST_TMP/got.bin"
roaming_smbq "ip -n $C addr del fd77:1::2/64 dev wifi" "" get "//[fd77::1]/share/ref.bin" \
    "$TEST_TMP/got.bin" -o "$(ropts)"
check_roamed "IPv6: get 64 MiB" "$opens_before" 0 "[fd77:1::2]" "[fd77:2::2]"
expect_eq "$(sha256 "$TEST_TMP/got.bin" 2>/dev/null)" "$want" \
    "IPv6: get: the file arrives with its SHA-256"

test_done
