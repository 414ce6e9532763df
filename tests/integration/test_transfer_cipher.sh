#!/usr/bin/env bash
# put then get of a 64 MiB random file under each cipher the server requires
# (encrypt-* variants: server smb encrypt = required, one cipher offered), with identical
# SHA-256 on the client, on the server's disk and after the round trip; `info` names the cipher.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

make_random "$TEST_TMP/src.bin" 64M
want=$(sha256 "$TEST_TMP/src.bin")

for cipher in AES-128-GCM AES-128-CCM AES-256-GCM AES-256-CCM; do
    variant=encrypt-${cipher,,}
    samba_start "$variant" || die "samba_start $variant"
    echo "# variant $variant (port $SAMBA_PORT)"

    smbq info "$UNC" -o "$(opts)"
    expect_ok "$variant: info"
    expect_line "transport: $TRANSPORT_NAME" "$variant: info transport"
    expect_line "dialect: 3.1.1" "$variant: info dialect"
    expect_line "cipher: $cipher" "$variant: info cipher"

    smbq put "$TEST_TMP/src.bin" "$UNC/big.bin" -o "$(opts)"
    expect_ok "$variant: put 64 MiB"
    expect_eq "$(sha256 "$SAMBA_SHARE_DIR/big.bin" 2>/dev/null)" "$want" \
        "$variant: file on the server has the SHA-256 of the source"

    rm -f "$TEST_TMP/back.bin"
    smbq get "$UNC/big.bin" "$TEST_TMP/back.bin" -o "$(opts seal)"
    expect_ok "$variant: get 64 MiB with seal"
    expect_eq "$(sha256 "$TEST_TMP/back.bin" 2>/dev/null)" "$want" \
        "$variant: got back the same SHA-256"

    samba_stop
done

test_done
