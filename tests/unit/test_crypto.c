/* Unit tests for crypto/smbcrypto: golden vectors from published sources only.
 *
 * Sources (numbers copied, code our own):
 *  [MS-ENC311] Microsoft Open Specifications blog, "SMB 3.1.1 Encryption in Windows 10",
 *      2015-09-09, appendix A.1 (AES-128-GCM) and A.2 (AES-128-CCM).
 *      https://learn.microsoft.com/en-us/archive/blogs/openspecification/smb-3-1-1-encryption-in-windows-10
 *  [MS-PREAUTH] "SMB 3.1.1 Pre-authentication integrity in Windows 10", 2015-08-11; the same
 *      exchange (salt FA49E657..., session key 270E1BA8...) with all derived keys is reprinted
 *      in [MS-KEYS] "SMB 2 and SMB 3 security in Windows 10: the anatomy of signing and
 *      cryptographic keys", 2017-05-26, appendix "Key derivation example for SMB 3.1.1
 *      multichannel" (and "... for SMB 3.0 multichannel"). The numbers here were read from
 *      [MS-KEYS]; they match those quoted from [MS-PREAUTH] by other implementations' tests.
 *  [RFC4493] RFC 4493 section 4, AES-CMAC examples 1-4.
 *  [GCM-SPEC] McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", the specification
 *      submitted to NIST for SP 800-38D, appendix B test cases 4, 13 and 16 (96-bit IV).
 *  [IEEE-MACSEC] IEEE 802.1 "MACsec GCM-AES Test Vectors" (bn-randall-test-vectors-0511-v1),
 *      2.1.1 "54-byte Packet Authentication Using GCM-AES-128" (a pure GMAC vector).
 *  [WYCHEPROOF] Project Wycheproof (C2SP/wycheproof), aes_ccm_test.json group ivSize 88 /
 *      keySize 256 / tagSize 128, and hmac_sha256_test.json group keySize 128 / tagSize 128.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/smbcrypto.h"
#include "util/error.h"

#define MAX_BYTES 1024

/* Decodes hex (whitespace ignored) into out; fails the test on bad input or overflow. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int high = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else if (*p == ' ' || *p == '\n')
            continue;
        else
            ck_abort_msg("bad hex character '%c'", *p);
        if (high < 0) {
            high = v;
            continue;
        }
        ck_assert_msg(n < cap, "hex longer than %zu bytes", cap);
        out[n++] = (uint8_t)(high << 4 | v);
        high = -1;
    }
    ck_assert_msg(high < 0, "odd number of hex digits");
    return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
    uint8_t want[MAX_BYTES];
    size_t want_len = unhex(hex, want, sizeof(want));
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(got, want, len);
}

/* ---- MS-SMB2 transform header helpers (2.2.41) ---- */

#define TRANSFORM_HEADER_SIZE 52
#define TRANSFORM_AAD_OFFSET  20 /* AAD = Nonce .. SessionId, MS-SMB2 3.1.4.3 */
#define TRANSFORM_AAD_SIZE    32

/* Builds the 32 authenticated bytes of a TRANSFORM_HEADER (Flags = 0x0001, Encrypted). */
static void transform_aad(uint8_t aad[TRANSFORM_AAD_SIZE], const uint8_t *nonce, size_t nonce_len,
                          uint32_t original_size, uint64_t session_id)
{
    memset(aad, 0, TRANSFORM_AAD_SIZE);
    memcpy(aad, nonce, nonce_len);
    for (int i = 0; i < 4; i++)
        aad[16 + i] = (uint8_t)(original_size >> (8 * i));
    aad[22] = 0x01;
    for (int i = 0; i < 8; i++)
        aad[24 + i] = (uint8_t)(session_id >> (8 * i));
}

/* Encrypts a published request and compares ciphertext and Signature with the publication. */
static void check_encrypt(struct crypto_aead *a, size_t nonce_len, const char *nonce_hex,
                          uint64_t session_id, const char *plain_hex, const char *cipher_hex,
                          const char *signature_hex)
{
    uint8_t nonce[16];
    ck_assert_uint_eq(unhex(nonce_hex, nonce, sizeof(nonce)), nonce_len);
    uint8_t buf[MAX_BYTES];
    size_t len = unhex(plain_hex, buf, sizeof(buf));
    uint8_t aad[TRANSFORM_AAD_SIZE];
    transform_aad(aad, nonce, nonce_len, (uint32_t)len, session_id);
    uint8_t tag[CRYPTO_TAG_SIZE];
    ck_assert_int_eq(crypto_aead_encrypt(a, nonce, aad, sizeof(aad), buf, len, tag), 0);
    assert_hex(buf, len, cipher_hex);
    assert_hex(tag, sizeof(tag), signature_hex);
}

/* Decrypts a published transformed message (header + ciphertext) and compares the result. */
static void check_decrypt(struct crypto_aead *a, const char *transformed_hex, const char *plain_hex)
{
    uint8_t msg[MAX_BYTES];
    size_t len = unhex(transformed_hex, msg, sizeof(msg));
    ck_assert_uint_gt(len, TRANSFORM_HEADER_SIZE);
    uint32_t original_size = (uint32_t)msg[36] | (uint32_t)msg[37] << 8 | (uint32_t)msg[38] << 16 |
                             (uint32_t)msg[39] << 24;
    ck_assert_uint_eq(original_size, len - TRANSFORM_HEADER_SIZE);
    uint8_t *body = msg + TRANSFORM_HEADER_SIZE;
    ck_assert_int_eq(crypto_aead_decrypt(a, msg + TRANSFORM_AAD_OFFSET, msg + TRANSFORM_AAD_OFFSET,
                                         TRANSFORM_AAD_SIZE, body, original_size, msg + 4),
                     0);
    assert_hex(body, original_size, plain_hex);
}

/* Signs a published SMB2 message with its Signature field zeroed (MS-SMB2 3.1.4.1) and checks
 * that the result is the signature the message carries at offset 48. */
static void check_signed_message(enum crypto_signing_alg alg, const char *key_hex,
                                 const char *message_hex)
{
    uint8_t key[16];
    ck_assert_uint_eq(unhex(key_hex, key, sizeof(key)), 16);
    uint8_t msg[MAX_BYTES];
    size_t len = unhex(message_hex, msg, sizeof(msg));
    ck_assert_uint_ge(len, 64);
    uint8_t published[CRYPTO_SIGNATURE_SIZE];
    memcpy(published, msg + 48, sizeof(published));
    memset(msg + 48, 0, CRYPTO_SIGNATURE_SIZE);

    struct crypto_signer *s;
    ck_assert_int_eq(crypto_signer_new(alg, key, &s), 0);
    uint8_t sig[CRYPTO_SIGNATURE_SIZE];
    ck_assert_int_eq(crypto_signer_sign(s, NULL, msg, len, sig), 0);
    ck_assert_mem_eq(sig, published, sizeof(sig));
    crypto_signer_free(s);
}

static void check_kdf(const char *key_hex, const char *label, size_t label_len, const void *context,
                      size_t context_len, const char *want_hex)
{
    uint8_t key[32];
    size_t key_len = unhex(key_hex, key, sizeof(key));
    uint8_t out[16];
    ck_assert_int_eq(crypto_kdf(key, key_len, label, label_len, context, context_len, out, 16), 0);
    assert_hex(out, sizeof(out), want_hex);
}

/* Labels and contexts include their terminating NUL: sizeof of the literal. */
#define STR_NUL(s) s, sizeof(s)

/* ---- names and sizes ---- */

START_TEST(test_names_and_sizes)
{
    ck_assert_str_eq(crypto_cipher_name(CRYPTO_CIPHER_AES_128_GCM), "AES-128-GCM");
    ck_assert_str_eq(crypto_cipher_name(CRYPTO_CIPHER_AES_256_CCM), "AES-256-CCM");
    ck_assert_str_eq(crypto_cipher_name(CRYPTO_CIPHER_NONE), "none");
    ck_assert_str_eq(crypto_signing_alg_name(CRYPTO_SIGN_AES_GMAC), "AES-GMAC");
    ck_assert_str_eq(crypto_signing_alg_name(CRYPTO_SIGN_HMAC_SHA256), "HMAC-SHA256");

    ck_assert_uint_eq(crypto_cipher_key_size(CRYPTO_CIPHER_AES_128_CCM), 16);
    ck_assert_uint_eq(crypto_cipher_key_size(CRYPTO_CIPHER_AES_128_GCM), 16);
    ck_assert_uint_eq(crypto_cipher_key_size(CRYPTO_CIPHER_AES_256_CCM), 32);
    ck_assert_uint_eq(crypto_cipher_key_size(CRYPTO_CIPHER_AES_256_GCM), 32);
    ck_assert_uint_eq(crypto_cipher_key_size(CRYPTO_CIPHER_NONE), 0);
    /* MS-SMB2 2.2.41 */
    ck_assert_uint_eq(crypto_cipher_nonce_size(CRYPTO_CIPHER_AES_128_CCM), 11);
    ck_assert_uint_eq(crypto_cipher_nonce_size(CRYPTO_CIPHER_AES_256_CCM), 11);
    ck_assert_uint_eq(crypto_cipher_nonce_size(CRYPTO_CIPHER_AES_128_GCM), 12);
    ck_assert_uint_eq(crypto_cipher_nonce_size(CRYPTO_CIPHER_AES_256_GCM), 12);
    ck_assert_uint_eq(crypto_cipher_nonce_size(CRYPTO_CIPHER_NONE), 0);
    ck_assert_uint_eq(crypto_cipher_nonce_size((enum crypto_cipher)99), 0);
    ck_assert_uint_eq(crypto_cipher_key_size((enum crypto_cipher)99), 0);
}
END_TEST

/* ---- signing primitives ---- */

/* [RFC4493] section 4, all four examples through one signer: also proves the handle resets
 * between messages. */
START_TEST(test_cmac_rfc4493)
{
    static const char *const msgs[] = {
        "",
        "6bc1bee22e409f96e93d7e117393172a",
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411",
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
    };
    static const char *const macs[] = {
        "bb1d6929e95937287fa37d129b756746",
        "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827",
        "51f0bebf7e3b9d92fc49741779363cfe",
    };
    uint8_t key[16];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, sizeof(key));
    struct crypto_signer *s;
    ck_assert_int_eq(crypto_signer_new(CRYPTO_SIGN_AES_CMAC, key, &s), 0);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 4; i++) {
            uint8_t msg[64];
            size_t len = unhex(msgs[i], msg, sizeof(msg));
            uint8_t sig[CRYPTO_SIGNATURE_SIZE];
            ck_assert_int_eq(crypto_signer_sign(s, NULL, len ? msg : NULL, len, sig), 0);
            assert_hex(sig, sizeof(sig), macs[i]);
        }
    }
    crypto_signer_free(s);
}
END_TEST

/* [WYCHEPROOF] hmac_sha256_test.json, tcId 166-168: 16-byte keys and tags truncated to 16
 * bytes, exactly the SMB 2.0.2/2.1 signing shape. */
START_TEST(test_hmac_sha256_truncated_wycheproof)
{
    static const char *const vec[][3] = {
        {"e34f15c7bd819930fe9d66e0c166e61c", "", "1d765ab9e29892f7bfec2975ad4bc2dc"},
        {"e09eaa5a3f5e56d279d5e7a03373f6ea", "ef4eab37181f98423e53e947e7050fd0",
         "cfc19ec07902ec8be489606d8f40d172"},
        {"9bd3902ed0996c869b572272e76f3889",
         "a7ba19d49ee1ea02f098aa8e30c740d893a4456ccc294040484ed8a00a55f93e",
         "ac50adad9785a89c7282d8ab881dc615"},
    };
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        uint8_t key[16], msg[64], sig[CRYPTO_SIGNATURE_SIZE];
        unhex(vec[i][0], key, sizeof(key));
        size_t len = unhex(vec[i][1], msg, sizeof(msg));
        struct crypto_signer *s;
        ck_assert_int_eq(crypto_signer_new(CRYPTO_SIGN_HMAC_SHA256, key, &s), 0);
        for (int round = 0; round < 2; round++) {
            ck_assert_int_eq(crypto_signer_sign(s, NULL, msg, len, sig), 0);
            assert_hex(sig, sizeof(sig), vec[i][2]);
        }
        crypto_signer_free(s);
    }
}
END_TEST

/* [IEEE-MACSEC] 2.1.1: GCM-AES-128 with no plaintext, i.e. AES-GMAC over the frame. No
 * official SMB AES-GMAC signing vector is published (PROTOCOL.md); this checks the primitive. */
START_TEST(test_gmac_ieee_macsec)
{
    uint8_t key[16], nonce[12], msg[128], sig[CRYPTO_SIGNATURE_SIZE];
    unhex("AD7A2BD03EAC835A6F620FDCB506B345", key, sizeof(key));
    unhex("12153524C0895E81B2C28465", nonce, sizeof(nonce));
    size_t len = unhex("D609B1F056637A0D46DF998D88E5222AB2C2846512153524C0895E8108000F10"
                       "1112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F30"
                       "313233340001",
                       msg, sizeof(msg));
    ck_assert_uint_eq(len, 70);
    struct crypto_signer *s;
    ck_assert_int_eq(crypto_signer_new(CRYPTO_SIGN_AES_GMAC, key, &s), 0);
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(crypto_signer_sign(s, nonce, msg, len, sig), 0);
        assert_hex(sig, sizeof(sig), "F09478A9B09007D06F46E9B6A1DA25DD");
    }
    /* A different nonce must change the MAC: the nonce really is used per message. */
    nonce[11] ^= 1;
    ck_assert_int_eq(crypto_signer_sign(s, nonce, msg, len, sig), 0);
    uint8_t published[16];
    unhex("F09478A9B09007D06F46E9B6A1DA25DD", published, sizeof(published));
    ck_assert(!crypto_equal(sig, published, sizeof(sig)));
    ck_assert_int_eq(crypto_signer_sign(s, NULL, msg, len, sig), SQ_ERR_INVAL);
    crypto_signer_free(s);
}
END_TEST

/* ---- AEAD primitives ---- */

static void check_aead_vector(enum crypto_cipher cipher, const char *key_hex, const char *nonce_hex,
                              const char *aad_hex, const char *plain_hex, const char *cipher_hex,
                              const char *tag_hex)
{
    uint8_t key[32], nonce[16], aad[64], buf[128], tag[CRYPTO_TAG_SIZE];
    ck_assert_uint_eq(unhex(key_hex, key, sizeof(key)), crypto_cipher_key_size(cipher));
    ck_assert_uint_eq(unhex(nonce_hex, nonce, sizeof(nonce)), crypto_cipher_nonce_size(cipher));
    size_t aad_len = unhex(aad_hex, aad, sizeof(aad));
    size_t len = unhex(plain_hex, buf, sizeof(buf));

    struct crypto_aead *a;
    ck_assert_int_eq(crypto_aead_new(cipher, key, &a), 0);
    ck_assert_int_eq(
        crypto_aead_encrypt(a, nonce, aad_len ? aad : NULL, aad_len, len ? buf : NULL, len, tag),
        0);
    assert_hex(buf, len, cipher_hex);
    assert_hex(tag, sizeof(tag), tag_hex);
    ck_assert_int_eq(
        crypto_aead_decrypt(a, nonce, aad_len ? aad : NULL, aad_len, len ? buf : NULL, len, tag),
        0);
    assert_hex(buf, len, plain_hex);
    crypto_aead_free(a);
}

/* [GCM-SPEC] test cases 4 (AES-128) and 16 (AES-256): 96-bit IV, 20-byte AAD, 60-byte
 * plaintext (partial final blocks on both); case 13: AES-256 with nothing to protect. */
START_TEST(test_gcm_spec_vectors)
{
    static const char iv[] = "cafebabefacedbaddecaf888";
    static const char aad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    static const char plain[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    check_aead_vector(CRYPTO_CIPHER_AES_128_GCM, "feffe9928665731c6d6a8f9467308308", iv, aad, plain,
                      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                      "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                      "5bc94fbc3221a5db94fae95ae7121a47");
    check_aead_vector(CRYPTO_CIPHER_AES_256_GCM,
                      "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", iv, aad,
                      plain,
                      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                      "76fc6ece0f4e1768cddf8853bb2d551b");
    check_aead_vector(CRYPTO_CIPHER_AES_256_GCM,
                      "0000000000000000000000000000000000000000000000000000000000000000",
                      "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b");
}
END_TEST

/* [WYCHEPROOF] aes_ccm_test.json tcId 292, 295, 297: AES-256-CCM, 11-byte nonce (the SMB
 * length), 16-byte tag. AES-128-CCM with an 11-byte nonce is covered by [MS-ENC311] A.2. */
START_TEST(test_ccm256_wycheproof)
{
    check_aead_vector(CRYPTO_CIPHER_AES_256_CCM,
                      "46948c6d69845499104d5dc2fae44880cfe7d0bcbcee57efc0133c266b6d2621",
                      "05f715fd0a5603dd84af76", "", "", "", "11e678c0b260c5a3ea70f6a46e4ef436");
    check_aead_vector(CRYPTO_CIPHER_AES_256_CCM,
                      "60d6841e9e6218a2c8605a7794e74fb215dcf3a70a0015d497ed16564f2a83a0",
                      "4c93f591af92f16596554e", "7cb0eb9aa21fe859",
                      "c0d1e635586b0ef835c01479a32175a3", "0c266113544d7a901ce721e1ead6d8f9",
                      "8a149eaa05c8722b2663c345a6a5418c");
    check_aead_vector(CRYPTO_CIPHER_AES_256_CCM,
                      "b3a06e00100ffc42dbdd5317f43d2b48f8c11e4bd6e9e3edab58e9944c559278",
                      "f3d24b362bf12b84b8a66a", "0242b5e804a79188",
                      "03b03b45f6f320b99d8158ff8b00f0ad92", "d127fd42b2ca4beca9f9ac86b63a1622ef",
                      "8a499aab9e8f4096da603c6ccfb9ac4a");
}
END_TEST

/* ---- SMB 3.x key derivation, MS-SMB2 3.1.4.2 ---- */

/* [MS-KEYS] "Key derivation example for SMB 3.0 multichannel": 3.0 labels and fixed contexts
 * (MS-SMB2 3.2.5.3.1), both channels. */
START_TEST(test_kdf_smb30)
{
    static const char session[] = "7CD451825D0450D235424E44BA6E78CC";
    check_kdf(session, STR_NUL("SMB2AESCMAC"), STR_NUL("SmbSign"),
              "0B7E9C5CAC36C0F6EA9AB275298CEDCE");
    check_kdf(session, STR_NUL("SMB2AESCCM"), STR_NUL("ServerIn "),
              "FAD27796665B313EBB578F388632B4F7");
    check_kdf(session, STR_NUL("SMB2AESCCM"), STR_NUL("ServerOut"),
              "B0F0427F7CEB416D1D9DCC0CD4F99447");
    check_kdf(session, STR_NUL("SMB2APP"), STR_NUL("SmbRpc"), "BB23A4575AA26C721AF525AF15A87B4F");
    check_kdf("4E01A2B313BCF660CC250BEF021AEDE6", STR_NUL("SMB2AESCMAC"), STR_NUL("SmbSign"),
              "BA1A17DBBFEC349BCA105563D598952F");
}
END_TEST

/* Derives the four 3.1.1 client keys (MS-SMB2 3.2.5.3.1) and checks them. */
static void check_kdf_311(const char *session_hex, const char *preauth_hex, const char *signing_hex,
                          const char *encryption_hex, const char *decryption_hex,
                          const char *application_hex)
{
    uint8_t preauth[CRYPTO_PREAUTH_HASH_SIZE];
    ck_assert_uint_eq(unhex(preauth_hex, preauth, sizeof(preauth)), sizeof(preauth));
    check_kdf(session_hex, STR_NUL("SMBSigningKey"), preauth, sizeof(preauth), signing_hex);
    check_kdf(session_hex, STR_NUL("SMBC2SCipherKey"), preauth, sizeof(preauth), encryption_hex);
    check_kdf(session_hex, STR_NUL("SMBS2CCipherKey"), preauth, sizeof(preauth), decryption_hex);
    check_kdf(session_hex, STR_NUL("SMBAppKey"), preauth, sizeof(preauth), application_hex);
}

/* [MS-ENC311] A.1 and A.2 "Key derivation". */
START_TEST(test_kdf_smb311_encryption_blog)
{
    check_kdf_311("419FDDF34C1E001909D362AE7FB6AF79",
                  "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB"
                  "A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770",
                  "8765949DFEAEE105CE9118B45BE988F0", "A2F5E80E5D59103034F32E52F698E5EC",
                  "748C50868C90F302962A5C35F5F9A8BF", "099D610789FBE82055B313601C3E8CC4");
    check_kdf_311("07B7F69C1E2581662DF6987E88F9E891",
                  "DECF98A420718718F22090D3580FCC5E484BD310FA1268210C6E86335A8891E7"
                  "67F5BCD99FA5A7859D665AD07A73EA94E1BCDB7CFA69A6962A28A244138340B1",
                  "3DCC82C5795AE27F383242761078C59B", "DFAAA31AAE40A2485D47AC4DF09FDA1D",
                  "95C544AEF6072680DA1CE49A68A97FA6", "7A2F0F73EC2D530879B2913BBFCE242F");
}
END_TEST

START_TEST(test_kdf_output_lengths)
{
    /* A 32-byte output spans two counter blocks (L = 256); AES-256 keys take it whole
     * (MS-SMB2 3.2.5.3.1). Its first half differs from the L = 128 key because L is hashed. */
    uint8_t key[16], k16[16], k32[32];
    unhex("419FDDF34C1E001909D362AE7FB6AF79", key, sizeof(key));
    ck_assert_int_eq(crypto_kdf(key, 16, STR_NUL("SMBAppKey"), "ctx", 3, k16, 16), 0);
    ck_assert_int_eq(crypto_kdf(key, 16, STR_NUL("SMBAppKey"), "ctx", 3, k32, 32), 0);
    ck_assert(!crypto_equal(k16, k32, 16));
    ck_assert(!crypto_equal(k32, k32 + 16, 16));

    ck_assert_int_eq(crypto_kdf(key, 16, STR_NUL("SMBAppKey"), "ctx", 3, k16, 0), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_kdf(NULL, 16, STR_NUL("SMBAppKey"), "ctx", 3, k16, 16), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_kdf(key, 0, STR_NUL("SMBAppKey"), "ctx", 3, k16, 16), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_kdf(key, 16, NULL, 4, "ctx", 3, k16, 16), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_kdf(key, 16, STR_NUL("SMBAppKey"), "ctx", 3, NULL, 16), SQ_ERR_INVAL);
}
END_TEST

/* ---- pre-auth integrity and the whole 3.1.1 session, [MS-PREAUTH] / [MS-KEYS] ---- */

/* Master session of [MS-KEYS] "Key derivation example for SMB 3.1.1 multichannel". */
static const char preauth_negotiate_request[] =
    "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32"
    "6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000"
    "010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000"
    "0200060000000000020002000100";
static const char preauth_negotiate_response[] =
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000"
    "000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942"
    "BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001"
    "80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182"
    "3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51"
    "FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000"
    "5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000"
    "7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000"
    "3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562"
    "6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075"
    "626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4"
    "83CA5B65385A251117BEB30712E50000020004000000000001000200";
static const char preauth_session_setup_request1[] =
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000019000001010000000000000058004A00"
    "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
    "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
    "000F";
static const char preauth_session_setup_response1[] =
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000"
    "190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003"
    "0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038"
    "00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53"
    "005500540033003100310002000C0053005500540033003100310001000C00530055005400330031"
    "00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1"
    "A1F5ADCBAED00100000000";
static const char preauth_session_setup_request2[] =
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000"
    "1900000000100000000000000000000000000000000000001900000101000000000000005800CF01"
    "0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000"
    "001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000"
    "001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055"
    "005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049"
    "0056004500520033003100310000000000000000000000000000000000000000000000000063078E"
    "B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000"
    "0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055"
    "00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004"
    "00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B"
    "8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016"
    "0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F"
    "5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000";
/* The final STATUS_SUCCESS response: signed, and not part of the hash (MS-SMB2 3.2.5.3.1). */
static const char preauth_session_setup_response_final[] =
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
    "1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01"
    "00A3120410010000003B453CDC3524164200000000";

START_TEST(test_preauth_chain_and_session_keys)
{
    static const char *const messages[] = {
        preauth_negotiate_request,      preauth_negotiate_response,
        preauth_session_setup_request1, preauth_session_setup_response1,
        preauth_session_setup_request2,
    };
    static const char *const hashes[] = {
        "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C736"
        "2B8C47122594CDE0CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426",
        "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE"
        "3C94A79F36011E997E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
        "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5"
        "D432F8ED42C55E33197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9",
        "2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B88357"
        "40A73760085633364C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387",
        "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB79"
        "28622DDDAD522D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
    };
    /* Connection.PreauthIntegrityHashValue starts as 64 zero bytes (MS-SMB2 3.2.5.2). */
    uint8_t hash[CRYPTO_PREAUTH_HASH_SIZE] = {0};
    for (size_t i = 0; i < 5; i++) {
        uint8_t msg[MAX_BYTES];
        size_t len = unhex(messages[i], msg, sizeof(msg));
        ck_assert_int_eq(crypto_preauth_update(hash, msg, len), 0);
        assert_hex(hash, sizeof(hash), hashes[i]);
    }

    static const char session_key[] = "270E1BA896585EEB7AF3472D3B4C75A7";
    check_kdf(session_key, STR_NUL("SMBSigningKey"), hash, sizeof(hash),
              "73FE7A9A77BEF0BDE49C650D8CCB5F76");
    check_kdf(session_key, STR_NUL("SMBC2SCipherKey"), hash, sizeof(hash),
              "629BCBC54422A0F572B97F45989B6073");
    check_kdf(session_key, STR_NUL("SMBS2CCipherKey"), hash, sizeof(hash),
              "E2AF0DCEFAC68DA71A0DFBD0D1350D74");
    check_kdf(session_key, STR_NUL("SMBAppKey"), hash, sizeof(hash),
              "6D7AD7954E9EC61E907B4D473DC178FF");

    /* Windows signed the final response with AES-CMAC (no signing capabilities negotiated,
     * MS-SMB2 3.1.4.1) under the key just derived. */
    check_signed_message(CRYPTO_SIGN_AES_CMAC, "73FE7A9A77BEF0BDE49C650D8CCB5F76",
                         preauth_session_setup_response_final);
}
END_TEST

/* [MS-KEYS] second channel (session binding): Channel.SigningKey from the binding exchange's
 * own pre-auth hash, and the final binding response signed with it (MS-SMB2 3.3.5.5.3). */
START_TEST(test_session_binding_channel_key)
{
    uint8_t preauth[CRYPTO_PREAUTH_HASH_SIZE];
    unhex("EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A"
          "10BD022124CE25123BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C",
          preauth, sizeof(preauth));
    check_kdf("84B9DBB730116A8FA6E9889555C265F9", STR_NUL("SMBSigningKey"), preauth,
              sizeof(preauth), "C962BCA1A9DD1697B030644199705431");
    check_signed_message(
        CRYPTO_SIGN_AES_CMAC, "C962BCA1A9DD1697B030644199705431",
        "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
        "19000000001000008D604217FFBACF40635BF9D8729921500900000048001D00A11B3019A0030A01"
        "00A312041001000000CFB046FC5D368E2200000000");
}
END_TEST

/* ---- SMB 3.1.1 encrypted messages, [MS-ENC311] appendix A ---- */

START_TEST(test_smb311_aes128_gcm_messages)
{
    static const uint64_t session_id = 0x100000000025;
    uint8_t key[16];

    /* Final SESSION_SETUP response, signed with the derived SigningKey. */
    check_signed_message(
        CRYPTO_SIGN_AES_CMAC, "8765949DFEAEE105CE9118B45BE988F0",
        "FE534D4240000100000000000100800009000000000000000200000000000000FFFE000000000000"
        "25000000001000006B85A4519A0F3EEA35BA946DD3AFE6B80900000048001D00A11B3019A0030A01"
        "00A3120410010000003932A87523AB660100000000");

    struct crypto_aead *enc, *dec;
    unhex("A2F5E80E5D59103034F32E52F698E5EC", key, sizeof(key));
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_GCM, key, &enc), 0);
    unhex("748C50868C90F302962A5C35F5F9A8BF", key, sizeof(key));
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_GCM, key, &dec), 0);

    /* WRITE request, then READ request, through the same handle. */
    check_encrypt(enc, 12, "C7D6822D269CAF48904C664C", session_id,
                  "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
                  "25000000001000000000000000000000000000000000000031007000170000000000000000000000"
                  "0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
                  "72797074696F6E2074657374696E67",
                  "6ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02D14EF247F8BDE38ACF6256F8"
                  "B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB44576545567C24D4C014D47C9"
                  "FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E91AF013F00D17E3ABC2FC3D36"
                  "C8C1B6B93973253852DBD442E46EE8",
                  "BD73D97D2BC9001BCAFAC0FDFF5FEEBC");
    check_encrypt(enc, 12, "D7AA8C6D36859243B715E0A6", session_id,
                  "FE534D4240000100000000000800010008000000000000000600000000000000FFFE000001000000"
                  "25000000001000000000000000000000000000000000000031000000170000000000000000000000"
                  "060000000400000001000000040000000000000000000000000000000000000000",
                  "88A47BF09CA3C3141CDD7306BE9D9475AB24FCCB833D77461C041F8FB983D0C188F0729272B31D9D"
                  "3D0DC6B687C069EEE0CC8EACA2C536D019ACC9E185D1EB630E0FCB793EEECEB06D82A1D77706E700"
                  "DBEBFB4FEB54D7AD2D97E7288804F90757FE4D08D6A84A3FF433E7451E768E4699",
                  "6DAC0B6FD85A3ED42BB917DA38FE0386");

    /* WRITE response, then READ response carrying "Smb3 encryption testing". */
    check_decrypt(
        dec,
        "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
        "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
        "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
        "82E03C9E18A050FF0EA1C967",
        "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
        "25000000001000000000000000000000000000000000000011000000170000000000000000000000");
    check_decrypt(dec,
                  "FD534D427F714B3B9D8FA1198584E71C2BAA1CB6E16831DD2E8EB7B4000000000000000067000000"
                  "000001002500000000100000FECEDF4D03BB11A6CC5D8A53BE33D6D8701986342B4197D306E16F9C"
                  "BB218E92F7F8281F51CE68BB85A20D87DE90EBBF80538066D1C37513C0A58D70936D537B624F5500"
                  "202A612B6CD30D448A82791A0B2E049ED512AFAEFB06E98AB3D6F931D7D50DB2DBD36A",
                  "FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000"
                  "25000000001000000000000000000000000000000000000011005000170000000000000000000000"
                  "536D623320656E6372797074696F6E2074657374696E67");

    crypto_aead_free(enc);
    crypto_aead_free(dec);
}
END_TEST

START_TEST(test_smb311_aes128_ccm_messages)
{
    static const uint64_t session_id = 0x100000000021;
    uint8_t key[16];

    check_signed_message(
        CRYPTO_SIGN_AES_CMAC, "3DCC82C5795AE27F383242761078C59B",
        "FE534D4240000100000000000100800009000000000000000200000000000000FFFE000000000000"
        "21000000001000003676196AEE8CA17E5D50A53642EF2BE40900000048001D00A11B3019A0030A01"
        "00A3120410010000000F57444342A2717E00000000");

    struct crypto_aead *enc, *dec;
    unhex("DFAAA31AAE40A2485D47AC4DF09FDA1D", key, sizeof(key));
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_CCM, key, &enc), 0);
    unhex("95C544AEF6072680DA1CE49A68A97FA6", key, sizeof(key));
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_CCM, key, &dec), 0);

    check_encrypt(enc, 11, "9F6F1EAAD7E9F24AACD38F", session_id,
                  "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
                  "21000000001000000000000000000000000000000000000031007000170000000000000000000000"
                  "0500000004000000010000000400000000000000000000007000000000000000536D623320656E63"
                  "72797074696F6E2074657374696E67",
                  "56A74778199A9D2B6E9C3A376FD88D27680694FED253A313BEB07381AE8689F973ACDB8D716E4477"
                  "803BCE53A92E1B81FA3E965AD9AF2C89C08CE66A344664453B8FC88118EDC9814CF58E92AA465E6E"
                  "FB09958A9FDAD96FBD55B36A710C30D5E7C64AD7B9449F9F17EDD024FE8BA79154F340A82740D1D5"
                  "180C69B0A2DE6A4BA893BD55D3210E",
                  "E89551D666DAB8993488F5A97103116C");
    check_encrypt(enc, 11, "A0F92E964EDC3049B86E19", session_id,
                  "FE534D4240000100000000000800010008000000000000000600000000000000FFFE000001000000"
                  "21000000001000000000000000000000000000000000000031000000170000000000000000000000"
                  "050000000400000001000000040000000000000000000000000000000000000000",
                  "C4CCD3EB483A0638E69C99E391E7F64BCC10D6BEE46FEEA258C4BCAF792CB5A6E69283924081806D"
                  "AB64827E9D14A5345D5221AB6DAFCB0E89FC2606B63D92163F4F6C93D1213D86ABF123B93EAD3AEF"
                  "9A3471EFD68A423A00A6E0064D9AE3C842EFFFAD236A3BF25D37F4CD054C97DE18",
                  "35BF9600C841F0CDA9BD1BC3727B7E36");

    check_decrypt(
        dec,
        "FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B4000000000000000050000000"
        "000001002100000000100000F783157E0F6F1C055D746753CA16D20C21088E2A67564E056C2F68A7"
        "F14F226C3BD809B7A2D52E5FE4ECF49821BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E"
        "13D9120965390E004A96A3F7",
        "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
        "21000000001000000000000000000000000000000000000011000000170000000000000000000000");
    check_decrypt(dec,
                  "FD534D42E241A13C7E1EE42ECF1FD69F3B8668C6DA6831DD2E8EB7B4000000000000000067000000"
                  "00000100210000000010000015D67234FC8358D7BA1BF037ABC8EFD41A0A8F9BB04B16DEB1E85606"
                  "BD8C2770823FE6239A286CB3E3D5762ABBD53FD8DE11ED491FE905E146A8FFCE09414AB741103D63"
                  "7E28B19C6BA759B399DCC21FAE24CF2A455A13B215FC2857ABB513927F9F271D1C208B",
                  "FE534D4240000100000000000800010001000000000000000600000000000000FFFE000001000000"
                  "21000000001000000000000000000000000000000000000011005000170000000000000000000000"
                  "536D623320656E6372797074696F6E2074657374696E67");

    crypto_aead_free(enc);
    crypto_aead_free(dec);
}
END_TEST

/* ---- failures ---- */

/* Flips one byte of a published transformed message at offset `flip` and expects
 * SQ_ERR_DECRYPT with the buffer wiped; then the untouched message still decrypts. */
static void check_tamper(enum crypto_cipher cipher, const char *key_hex, const char *transformed)
{
    uint8_t key[16];
    unhex(key_hex, key, sizeof(key));
    struct crypto_aead *a;
    ck_assert_int_eq(crypto_aead_new(cipher, key, &a), 0);

    uint8_t orig[MAX_BYTES];
    size_t len = unhex(transformed, orig, sizeof(orig));
    size_t body = len - TRANSFORM_HEADER_SIZE;
    static const uint8_t zero[MAX_BYTES];
    /* ciphertext first byte, ciphertext last byte, tag, nonce (AAD), SessionId (AAD) */
    const size_t flips[] = {TRANSFORM_HEADER_SIZE,    len - 1, 4, 19, TRANSFORM_AAD_OFFSET,
                            TRANSFORM_HEADER_SIZE - 1};
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        uint8_t msg[MAX_BYTES];
        memcpy(msg, orig, len);
        msg[flips[i]] ^= 0x01;
        int r = crypto_aead_decrypt(a, msg + TRANSFORM_AAD_OFFSET, msg + TRANSFORM_AAD_OFFSET,
                                    TRANSFORM_AAD_SIZE, msg + TRANSFORM_HEADER_SIZE, body, msg + 4);
        ck_assert_msg(r == SQ_ERR_DECRYPT, "flip at %zu: got %d", flips[i], r);
        ck_assert_mem_eq(msg + TRANSFORM_HEADER_SIZE, zero, body);
    }
    ck_assert_int_eq(crypto_aead_decrypt(a, orig + TRANSFORM_AAD_OFFSET,
                                         orig + TRANSFORM_AAD_OFFSET, TRANSFORM_AAD_SIZE,
                                         orig + TRANSFORM_HEADER_SIZE, body, orig + 4),
                     0);
    crypto_aead_free(a);
}

START_TEST(test_decrypt_rejects_tampering)
{
    /* [MS-ENC311] A.1 and A.2 WRITE responses. */
    check_tamper(CRYPTO_CIPHER_AES_128_GCM, "748C50868C90F302962A5C35F5F9A8BF",
                 "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
                 "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
                 "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
                 "82E03C9E18A050FF0EA1C967");
    check_tamper(CRYPTO_CIPHER_AES_128_CCM, "95C544AEF6072680DA1CE49A68A97FA6",
                 "FD534D42DD33EC41A927DD51476FE887C2D3C136D96831DD2E8EB7B4000000000000000050000000"
                 "000001002100000000100000F783157E0F6F1C055D746753CA16D20C21088E2A67564E056C2F68A7"
                 "F14F226C3BD809B7A2D52E5FE4ECF49821BC6001733430CF174E2764B3CCB213AAD8BB9FBAF6C15E"
                 "13D9120965390E004A96A3F7");
}
END_TEST

START_TEST(test_invalid_arguments)
{
    uint8_t key[32] = {1}, nonce[12] = {2}, buf[32] = {3}, tag[16] = {0}, aad[32] = {0};
    struct crypto_aead *a = (struct crypto_aead *)(uintptr_t)1;

    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_NONE, key, &a), SQ_ERR_INVAL);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(crypto_aead_new((enum crypto_cipher)5, key, &a), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_new((enum crypto_cipher) - 1, key, &a), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_GCM, NULL, &a), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_128_GCM, key, NULL), SQ_ERR_INVAL);

    ck_assert_int_eq(crypto_aead_new(CRYPTO_CIPHER_AES_256_GCM, key, &a), 0);
    ck_assert_int_eq(crypto_aead_encrypt(a, NULL, aad, 32, buf, 32, tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_encrypt(a, nonce, aad, 32, buf, 32, NULL), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_encrypt(a, nonce, NULL, 32, buf, 32, tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_encrypt(a, nonce, aad, 32, NULL, 32, tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_encrypt(NULL, nonce, aad, 32, buf, 32, tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_decrypt(a, NULL, aad, 32, buf, 32, tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_aead_decrypt(a, nonce, aad, 32, buf, 32, NULL), SQ_ERR_INVAL);
#if SIZE_MAX > UINT32_MAX
    /* Larger than OriginalMessageSize can describe; refused before touching buf. */
    ck_assert_int_eq(crypto_aead_encrypt(a, nonce, aad, 32, buf, (size_t)UINT32_MAX + 1, tag),
                     SQ_ERR_INVAL);
#endif
    crypto_aead_free(a);
    crypto_aead_free(NULL);

    struct crypto_signer *s = (struct crypto_signer *)(uintptr_t)1;
    ck_assert_int_eq(crypto_signer_new((enum crypto_signing_alg)3, key, &s), SQ_ERR_INVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(crypto_signer_new(CRYPTO_SIGN_AES_CMAC, NULL, &s), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_signer_new(CRYPTO_SIGN_AES_GMAC, key, &s), 0);
    ck_assert_int_eq(crypto_signer_sign(s, NULL, buf, sizeof(buf), tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_signer_sign(s, nonce, NULL, sizeof(buf), tag), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_signer_sign(s, nonce, buf, sizeof(buf), NULL), SQ_ERR_INVAL);
    crypto_signer_free(s);
    crypto_signer_free(NULL);

    uint8_t hash[CRYPTO_PREAUTH_HASH_SIZE] = {0};
    ck_assert_int_eq(crypto_preauth_update(hash, NULL, 1), SQ_ERR_INVAL);
    ck_assert_int_eq(crypto_preauth_update(NULL, buf, 1), SQ_ERR_INVAL);
}
END_TEST

START_TEST(test_equal_random_wipe)
{
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    ck_assert(crypto_equal(a, b, sizeof(a)));
    ck_assert(crypto_equal(a, b, 0));
    b[31] ^= 0x80;
    ck_assert(!crypto_equal(a, b, sizeof(a)));
    b[31] ^= 0x80;
    b[0] ^= 0x01;
    ck_assert(!crypto_equal(a, b, sizeof(a)));

    /* Two random draws colliding, or a draw of all zeros, has probability 2^-256. */
    static const uint8_t zero[32];
    ck_assert_int_eq(crypto_random(a, sizeof(a)), 0);
    ck_assert_int_eq(crypto_random(b, sizeof(b)), 0);
    ck_assert(!crypto_equal(a, b, sizeof(a)));
    ck_assert(!crypto_equal(a, zero, sizeof(a)));
    ck_assert_int_eq(crypto_random(NULL, 0), 0);
    ck_assert_int_eq(crypto_random(NULL, 1), SQ_ERR_INVAL);

    crypto_wipe(a, sizeof(a));
    ck_assert_mem_eq(a, zero, sizeof(a));
    crypto_wipe(NULL, 0);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_names_and_sizes);
    tcase_add_test(tc, test_cmac_rfc4493);
    tcase_add_test(tc, test_hmac_sha256_truncated_wycheproof);
    tcase_add_test(tc, test_gmac_ieee_macsec);
    tcase_add_test(tc, test_gcm_spec_vectors);
    tcase_add_test(tc, test_ccm256_wycheproof);
    tcase_add_test(tc, test_kdf_smb30);
    tcase_add_test(tc, test_kdf_smb311_encryption_blog);
    tcase_add_test(tc, test_kdf_output_lengths);
    tcase_add_test(tc, test_preauth_chain_and_session_keys);
    tcase_add_test(tc, test_session_binding_channel_key);
    tcase_add_test(tc, test_smb311_aes128_gcm_messages);
    tcase_add_test(tc, test_smb311_aes128_ccm_messages);
    tcase_add_test(tc, test_decrypt_rejects_tampering);
    tcase_add_test(tc, test_invalid_arguments);
    tcase_add_test(tc, test_equal_random_wipe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
