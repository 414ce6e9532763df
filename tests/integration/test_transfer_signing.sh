#!/usr/bin/env bash
# put then get of a 64 MiB random file under each signing algorithm (sign-* variants: one
# algorithm offered, signing mandatory, no encryption), with identical SHA-256; `info` names the
# algorithm and no cipher.
# shellcheck source=testlib.sh
. "$(dirname "$0")/../rig/testlib.sh"
rig_require

make_random "$TEST_TMP/src.bin" 64M
want=$(sha256 "$TEST_TMP/src.bin")

for pair in sign-aes-gmac:AES-GMAC sign-aes-cmac:AES-CMAC sign-hmac-sha256:HMAC-SHA256; do
    variant=${pair%%:*}
    algorithm=${pair#*:}
    samba_start "$variant" || die "samba_start $variant"
    echo "# variant $variant (port $SAMBA_PORT)"

    smbq info "$UNC" -o "$(opts sign)"
    expect_ok "$variant: info"
    expect_line "dialect: 3.1.1" "$variant: info dialect"
    expect_line "signing: $algorithm" "$variant: info signing algorithm"
    expect_line "cipher: none" "$variant: info says the session is not encrypted"

    smbq put "$TEST_TMP/src.bin" "$UNC/big.bin" -o "$(opts sign)"
    expect_ok "$variant: put 64 MiB"
    expect_eq "$(sha256 "$SAMBA_SHARE_DIR/big.bin" 2>/dev/null)" "$want" \
        "$variant: file on the server has the SHA-256 of the source"

    rm -f "$TEST_TMP/back.bin"
    smbq get "$UNC/big.bin" "$TEST_TMP/back.bin" -o "$(opts)"
    expect_ok "$variant: get 64 MiB"
    expect_eq "$(sha256 "$TEST_TMP/back.bin" 2>/dev/null)" "$want" \
        "$variant: got back the same SHA-256"

    samba_stop
done

test_done
