/* SMB 3.x crypto over GnuTLS; contracts in include/crypto/smbcrypto.h. */
#include "crypto/smbcrypto.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "util/error.h"

struct crypto_signer {
    enum crypto_signing_alg alg;
    /* HMAC-SHA256 and AES-CMAC use a keyed MAC handle: gnutls_hmac_output() returns the keyed
     * state to its start, so one handle serves every message without re-keying. AES-GMAC uses
     * an AES-128-GCM AEAD handle with the message as associated data and no plaintext: GMAC is
     * exactly that (NIST SP 800-38D section 3), and GnuTLS's AEAD path runs the accelerated
     * GHASH, about twice as fast as its GMAC MAC for messages past ~0.5 KiB. */
    gnutls_hmac_hd_t mac;
    gnutls_aead_cipher_hd_t gmac;
};

struct crypto_aead {
    enum crypto_cipher cipher;
    size_t nonce_size;
    gnutls_aead_cipher_hd_t handle; /* keyed once, reused for every message */
};

static int map_gnutls_error(int r)
{
    if (r == GNUTLS_E_MEMORY_ERROR)
        return SQ_ERR_NOMEM;
    return SQ_ERR_CRYPTO;
}

/* giovec_t and gnutls_aead_cipher_decryptv2's tag are not const although GnuTLS only reads
 * them (associated data, keys, the tag to verify). The uintptr_t round trip keeps -Wcast-qual
 * quiet without hiding any real write. */
static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

const char *crypto_signing_alg_name(enum crypto_signing_alg alg)
{
    switch (alg) {
    case CRYPTO_SIGN_HMAC_SHA256:
        return "HMAC-SHA256";
    case CRYPTO_SIGN_AES_CMAC:
        return "AES-CMAC";
    case CRYPTO_SIGN_AES_GMAC:
        return "AES-GMAC";
    }
    return "unknown";
}

const char *crypto_cipher_name(enum crypto_cipher cipher)
{
    switch (cipher) {
    case CRYPTO_CIPHER_NONE:
        return "none";
    case CRYPTO_CIPHER_AES_128_CCM:
        return "AES-128-CCM";
    case CRYPTO_CIPHER_AES_128_GCM:
        return "AES-128-GCM";
    case CRYPTO_CIPHER_AES_256_CCM:
        return "AES-256-CCM";
    case CRYPTO_CIPHER_AES_256_GCM:
        return "AES-256-GCM";
    }
    return "unknown";
}

size_t crypto_cipher_key_size(enum crypto_cipher cipher)
{
    switch (cipher) {
    case CRYPTO_CIPHER_AES_128_CCM:
    case CRYPTO_CIPHER_AES_128_GCM:
        return 16;
    case CRYPTO_CIPHER_AES_256_CCM:
    case CRYPTO_CIPHER_AES_256_GCM:
        return 32;
    case CRYPTO_CIPHER_NONE:
        break;
    }
    return 0;
}

size_t crypto_cipher_nonce_size(enum crypto_cipher cipher)
{
    /* MS-SMB2 2.2.41: AES-CCM uses the first 11 bytes of the Nonce field, AES-GCM the first
     * 12; the rest of the 16-byte field is reserved. */
    switch (cipher) {
    case CRYPTO_CIPHER_AES_128_CCM:
    case CRYPTO_CIPHER_AES_256_CCM:
        return 11;
    case CRYPTO_CIPHER_AES_128_GCM:
    case CRYPTO_CIPHER_AES_256_GCM:
        return 12;
    case CRYPTO_CIPHER_NONE:
        break;
    }
    return 0;
}

static gnutls_cipher_algorithm_t gnutls_cipher_of(enum crypto_cipher cipher)
{
    switch (cipher) {
    case CRYPTO_CIPHER_AES_128_CCM:
        return GNUTLS_CIPHER_AES_128_CCM;
    case CRYPTO_CIPHER_AES_128_GCM:
        return GNUTLS_CIPHER_AES_128_GCM;
    case CRYPTO_CIPHER_AES_256_CCM:
        return GNUTLS_CIPHER_AES_256_CCM;
    case CRYPTO_CIPHER_AES_256_GCM:
        return GNUTLS_CIPHER_AES_256_GCM;
    case CRYPTO_CIPHER_NONE:
        break;
    }
    return GNUTLS_CIPHER_UNKNOWN;
}

int crypto_preauth_update(uint8_t hash[CRYPTO_PREAUTH_HASH_SIZE], const void *message, size_t len)
{
    if (!hash || (!message && len))
        return SQ_ERR_INVAL;

    /* MS-SMB2 3.2.5.2: H(i) = SHA-512(H(i-1) || message). Hashing the two parts through one
     * handle avoids copying the message into a concatenation buffer. */
    gnutls_hash_hd_t h;
    int r = gnutls_hash_init(&h, GNUTLS_DIG_SHA512);
    if (r < 0)
        return map_gnutls_error(r);
    r = gnutls_hash(h, hash, CRYPTO_PREAUTH_HASH_SIZE);
    if (r == 0 && len)
        r = gnutls_hash(h, message, len);
    uint8_t digest[CRYPTO_PREAUTH_HASH_SIZE];
    gnutls_hash_deinit(h, digest);
    if (r < 0)
        return map_gnutls_error(r);
    memcpy(hash, digest, sizeof(digest));
    return 0;
}

static void put_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

int crypto_kdf(const uint8_t *key, size_t key_len, const void *label, size_t label_len,
               const void *context, size_t context_len, uint8_t *out, size_t out_len)
{
    if (!key || key_len == 0 || (!label && label_len) || (!context && context_len) || !out ||
        out_len == 0 || out_len > UINT32_MAX / 8)
        return SQ_ERR_INVAL;

    gnutls_hmac_hd_t h;
    int r = gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, key, key_len);
    if (r < 0)
        return map_gnutls_error(r);

    /* SP 800-108 section 5.1, counter mode, as MS-SMB2 3.1.4.2 instantiates it:
     * K(i) = HMAC-SHA256(Ki, [i]_32 || Label || 0x00 || Context || [L]_32), r = 32, L in bits.
     * The 0x00 separator comes from SP 800-108 and is added here; SMB's labels carry their own
     * terminating NUL as well ("SMBSigningKey\0"), so both bytes end up in the input. */
    static const uint8_t separator = 0;
    uint8_t length_be[4];
    put_be32(length_be, (uint32_t)(out_len * 8));
    uint8_t block[32];
    size_t done = 0;
    for (uint32_t i = 1; done < out_len && r == 0; i++) {
        uint8_t counter_be[4];
        put_be32(counter_be, i);
        if ((r = gnutls_hmac(h, counter_be, sizeof(counter_be))) == 0 &&
            (label_len == 0 || (r = gnutls_hmac(h, label, label_len)) == 0) &&
            (r = gnutls_hmac(h, &separator, 1)) == 0 &&
            (context_len == 0 || (r = gnutls_hmac(h, context, context_len)) == 0) &&
            (r = gnutls_hmac(h, length_be, sizeof(length_be))) == 0) {
            gnutls_hmac_output(h, block);
            size_t n = out_len - done < sizeof(block) ? out_len - done : sizeof(block);
            memcpy(out + done, block, n);
            done += n;
        }
    }
    gnutls_hmac_deinit(h, NULL);
    crypto_wipe(block, sizeof(block));
    if (r < 0) {
        crypto_wipe(out, out_len);
        return map_gnutls_error(r);
    }
    return 0;
}

int crypto_signer_new(enum crypto_signing_alg alg, const uint8_t key[16],
                      struct crypto_signer **out)
{
    if (!out)
        return SQ_ERR_INVAL;
    *out = NULL;
    if (!key)
        return SQ_ERR_INVAL;

    gnutls_mac_algorithm_t mac_alg;
    switch (alg) {
    case CRYPTO_SIGN_HMAC_SHA256:
        mac_alg = GNUTLS_MAC_SHA256;
        break;
    case CRYPTO_SIGN_AES_CMAC:
        mac_alg = GNUTLS_MAC_AES_CMAC_128;
        break;
    case CRYPTO_SIGN_AES_GMAC:
        mac_alg = GNUTLS_MAC_UNKNOWN;
        break;
    default:
        return SQ_ERR_INVAL;
    }

    struct crypto_signer *s = calloc(1, sizeof(*s));
    if (!s)
        return SQ_ERR_NOMEM;
    s->alg = alg;

    int r;
    if (alg == CRYPTO_SIGN_AES_GMAC) {
        gnutls_datum_t k = {.data = unconst(key), .size = 16};
        r = gnutls_aead_cipher_init(&s->gmac, GNUTLS_CIPHER_AES_128_GCM, &k);
    } else {
        r = gnutls_hmac_init(&s->mac, mac_alg, key, 16);
    }
    if (r < 0) {
        free(s);
        return map_gnutls_error(r);
    }
    *out = s;
    return 0;
}

void crypto_signer_free(struct crypto_signer *s)
{
    if (!s)
        return;
    /* GnuTLS zeroes its own copy of the key when the handle is freed; the signer keeps none. */
    if (s->alg == CRYPTO_SIGN_AES_GMAC)
        gnutls_aead_cipher_deinit(s->gmac);
    else
        gnutls_hmac_deinit(s->mac, NULL);
    crypto_wipe(s, sizeof(*s));
    free(s);
}

int crypto_signer_sign(struct crypto_signer *s, const uint8_t *gmac_nonce, const void *data,
                       size_t len, uint8_t out[CRYPTO_SIGNATURE_SIZE])
{
    if (!s || !out || (!data && len))
        return SQ_ERR_INVAL;

    if (s->alg == CRYPTO_SIGN_AES_GMAC) {
        /* MS-SMB2 3.1.4.1: AES-GMAC over the whole message with its signature zeroed, nonce
         * from MessageId and the role/cancel bits (built by the caller). */
        if (!gmac_nonce)
            return SQ_ERR_INVAL;
        giovec_t auth = {.iov_base = unconst(data), .iov_len = len};
        size_t tag_size = CRYPTO_SIGNATURE_SIZE;
        int r = gnutls_aead_cipher_encryptv2(s->gmac, gmac_nonce, 12, &auth, len ? 1 : 0, NULL, 0,
                                             out, &tag_size);
        if (r < 0)
            return map_gnutls_error(r);
        return tag_size == CRYPTO_SIGNATURE_SIZE ? 0 : SQ_ERR_CRYPTO;
    }

    /* HMAC-SHA256 (dialects 2.0.2/2.1) keeps the first 16 bytes of its 32-byte output
     * (MS-SMB2 3.1.4.1); AES-CMAC's output is the 16-byte signature itself. */
    int r = len ? gnutls_hmac(s->mac, data, len) : 0;
    uint8_t mac[32];
    gnutls_hmac_output(s->mac, mac); /* also resets the handle after a failed update */
    if (r < 0)
        return map_gnutls_error(r);
    memcpy(out, mac, CRYPTO_SIGNATURE_SIZE);
    return 0;
}

int crypto_aead_new(enum crypto_cipher cipher, const uint8_t *key, struct crypto_aead **out)
{
    if (!out)
        return SQ_ERR_INVAL;
    *out = NULL;
    gnutls_cipher_algorithm_t alg = gnutls_cipher_of(cipher);
    if (!key || alg == GNUTLS_CIPHER_UNKNOWN)
        return SQ_ERR_INVAL;

    struct crypto_aead *a = calloc(1, sizeof(*a));
    if (!a)
        return SQ_ERR_NOMEM;
    a->cipher = cipher;
    a->nonce_size = crypto_cipher_nonce_size(cipher);
    gnutls_datum_t k = {.data = unconst(key), .size = (unsigned)crypto_cipher_key_size(cipher)};
    int r = gnutls_aead_cipher_init(&a->handle, alg, &k);
    if (r < 0) {
        free(a);
        return map_gnutls_error(r);
    }
    *out = a;
    return 0;
}

void crypto_aead_free(struct crypto_aead *a)
{
    if (!a)
        return;
    gnutls_aead_cipher_deinit(a->handle); /* zeroes GnuTLS's key schedule */
    crypto_wipe(a, sizeof(*a));
    free(a);
}

/* The TRANSFORM_HEADER's OriginalMessageSize is 32 bits (MS-SMB2 2.2.41), which is also the
 * CCM payload limit for an 11-byte nonce (2^(8*(15-11)) - 1, SP 800-38C A.1). */
static bool aead_args_ok(const struct crypto_aead *a, const uint8_t *nonce, const void *aad,
                         size_t aad_len, const void *buf, size_t len, const uint8_t *tag)
{
    return a && nonce && tag && (aad || !aad_len) && (buf || !len) && len <= UINT32_MAX;
}

int crypto_aead_encrypt(struct crypto_aead *a, const uint8_t *nonce, const void *aad,
                        size_t aad_len, void *buf, size_t len, uint8_t tag[CRYPTO_TAG_SIZE])
{
    if (!aead_args_ok(a, nonce, aad, aad_len, buf, len, tag))
        return SQ_ERR_INVAL;

    /* MS-SMB2 3.1.4.3: AAD is the transform header from Nonce to SessionId (32 bytes), the
     * plaintext is the SMB2 message, the tag becomes the header's Signature. */
    giovec_t auth = {.iov_base = unconst(aad), .iov_len = aad_len};
    giovec_t data = {.iov_base = buf, .iov_len = len};
    size_t tag_size = CRYPTO_TAG_SIZE;
    int r = gnutls_aead_cipher_encryptv2(a->handle, nonce, a->nonce_size, &auth, aad_len ? 1 : 0,
                                         &data, len ? 1 : 0, tag, &tag_size);
    if (r < 0)
        return map_gnutls_error(r);
    return tag_size == CRYPTO_TAG_SIZE ? 0 : SQ_ERR_CRYPTO;
}

int crypto_aead_decrypt(struct crypto_aead *a, const uint8_t *nonce, const void *aad,
                        size_t aad_len, void *buf, size_t len, const uint8_t tag[CRYPTO_TAG_SIZE])
{
    if (!aead_args_ok(a, nonce, aad, aad_len, buf, len, tag))
        return SQ_ERR_INVAL;

    giovec_t auth = {.iov_base = unconst(aad), .iov_len = aad_len};
    giovec_t data = {.iov_base = buf, .iov_len = len};
    int r = gnutls_aead_cipher_decryptv2(a->handle, nonce, a->nonce_size, &auth, aad_len ? 1 : 0,
                                         &data, len ? 1 : 0, unconst(tag), CRYPTO_TAG_SIZE);
    if (r < 0) {
        /* GCM decrypts in place before the tag check fails: never leave unauthenticated
         * plaintext behind for a careless caller. */
        if (len)
            crypto_wipe(buf, len);
        return r == GNUTLS_E_DECRYPTION_FAILED ? SQ_ERR_DECRYPT : map_gnutls_error(r);
    }
    return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    /* gnutls_memcmp() is not documented as constant time; this loop reads every byte whatever
     * the data, and volatile keeps the compiler from adding an early exit. */
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

int crypto_random(void *buf, size_t len)
{
    if (!buf && len)
        return SQ_ERR_INVAL;
    if (len == 0)
        return 0;
    int r = gnutls_rnd(GNUTLS_RND_RANDOM, buf, len);
    return r < 0 ? map_gnutls_error(r) : 0;
}

void crypto_wipe(void *buf, size_t len)
{
    if (buf && len)
        gnutls_memset(buf, 0, len);
}

int crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_SIZE])
{
    return gnutls_hash_fast(GNUTLS_DIG_MD5, data, len, out) == 0 ? 0 : SQ_ERR_CRYPTO;
}
