#!/usr/bin/env bash
# Interim STATUS_PENDING responses, CANCEL, CHANGE_NOTIFY, blocking LOCK, ECHO and a
# four-request compound, driven through the engine's API by tests/integration/async_ops.c
# against a real Samba, over a signed and then over an encrypted session.
# shellcheck source=../rig/testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require
[ -x "${ASYNC_OPS:-}" ] || skip "async_ops not built"

for variant in signing-mandatory encrypt-aes-256-gcm; do
    samba_start "$variant" || die "samba_start $variant"
    echo "# variant $variant over $TRANSPORT_NAME"
    OUT=$(PASSWD=$SAMBA_PASSWORD "$ASYNC_OPS" "$(opts)" 2>&1)
    RC=$?
    ERR=""
    printf '%s\n' "$OUT" | sed 's/^/    /'
    expect_rc 0 "async operations over $variant"
    samba_stop
done
test_done
