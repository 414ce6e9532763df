/* Thin wrappers over GnuTLS for SMB 3.x: pre-auth hash, SP800-108 KDF, signing MACs and the
 * AEAD ciphers of the SMB2 TRANSFORM_HEADER. Only this module includes GnuTLS crypto headers
 * (besides the QUIC transport). All functions return 0 or a negative sq_error. */
#ifndef SMBQUIC_CRYPTO_SMBCRYPTO_H
#define SMBQUIC_CRYPTO_SMBCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_PREAUTH_HASH_SIZE 64 /* SHA-512, MS-SMB2 2.2.3.1.1 */
#define CRYPTO_SIGNATURE_SIZE    16
#define CRYPTO_TAG_SIZE          16

/* SigningAlgorithmId values, MS-SMB2 2.2.3.1.7. */
enum crypto_signing_alg {
    CRYPTO_SIGN_HMAC_SHA256 = 0,
    CRYPTO_SIGN_AES_CMAC = 1,
    CRYPTO_SIGN_AES_GMAC = 2,
};

/* Cipher ids, MS-SMB2 2.2.3.1.2; CRYPTO_CIPHER_NONE means no encryption. */
enum crypto_cipher {
    CRYPTO_CIPHER_NONE = 0,
    CRYPTO_CIPHER_AES_128_CCM = 1,
    CRYPTO_CIPHER_AES_128_GCM = 2,
    CRYPTO_CIPHER_AES_256_CCM = 3,
    CRYPTO_CIPHER_AES_256_GCM = 4,
};

const char *crypto_signing_alg_name(enum crypto_signing_alg alg); /* "AES-GMAC", ... */
const char *crypto_cipher_name(enum crypto_cipher cipher);        /* "AES-128-GCM", "none" */
/* Key length in bytes (16 or 32), 0 for NONE or unknown. */
size_t crypto_cipher_key_size(enum crypto_cipher cipher);
/* Nonce length used in the TRANSFORM_HEADER: 12 for GCM, 11 for CCM (MS-SMB2 2.2.41). */
size_t crypto_cipher_nonce_size(enum crypto_cipher cipher);

/* hash = SHA-512(hash || message): the running pre-auth integrity hash, MS-SMB2 3.2.5.2. */
int crypto_preauth_update(uint8_t hash[CRYPTO_PREAUTH_HASH_SIZE], const void *message, size_t len);

/* SP800-108 KDF in counter mode, PRF = HMAC-SHA256, r = 32, L = out_len * 8
 * (MS-SMB2 3.1.4.2). Label and context are used as given (callers include the NUL of labels:
 * "SMBSigningKey\0" is 14 bytes); the KDF adds SP800-108's 0x00 separator itself.
 * SQ_ERR_INVAL for a NULL or empty key, out_len 0 or out_len * 8 past 32 bits. */
int crypto_kdf(const uint8_t *key, size_t key_len, const void *label, size_t label_len,
               const void *context, size_t context_len, uint8_t *out, size_t out_len);

/* Signs messages with one 16-byte signing key. Owns its GnuTLS state, keyed once and reused for
 * every message; free with crypto_signer_free (GnuTLS wipes the key). Not safe for concurrent
 * use: one signer per thread. crypto_signer_new returns SQ_ERR_INVAL for an unknown algorithm
 * or NULL key, SQ_ERR_NOMEM, SQ_ERR_CRYPTO. */
struct crypto_signer;
int crypto_signer_new(enum crypto_signing_alg alg, const uint8_t key[16],
                      struct crypto_signer **out);
void crypto_signer_free(struct crypto_signer *s);
/* Computes the 16-byte signature over data[0..len) (the caller has zeroed the signature field),
 * MS-SMB2 3.1.4.1. gmac_nonce (12 bytes) is required for AES-GMAC (SQ_ERR_INVAL without it) and
 * ignored otherwise. HMAC-SHA256 output is truncated to 16 bytes. */
int crypto_signer_sign(struct crypto_signer *s, const uint8_t *gmac_nonce, const void *data,
                       size_t len, uint8_t out[CRYPTO_SIGNATURE_SIZE]);

/* An AEAD key (AES-CCM or AES-GCM) for TRANSFORM_HEADER encryption, keyed once and reused for
 * every message. Free wipes the key. Not safe for concurrent use. crypto_aead_new returns
 * SQ_ERR_INVAL for CRYPTO_CIPHER_NONE, an unknown cipher or a NULL key; key is
 * crypto_cipher_key_size(cipher) bytes. */
struct crypto_aead;
int crypto_aead_new(enum crypto_cipher cipher, const uint8_t *key, struct crypto_aead **out);
void crypto_aead_free(struct crypto_aead *a);
/* Encrypts buf in place and writes the 16-byte tag. nonce is crypto_cipher_nonce_size bytes and
 * must never repeat under one key (the caller's job). len is at most UINT32_MAX (the size of
 * OriginalMessageSize), else SQ_ERR_INVAL. */
int crypto_aead_encrypt(struct crypto_aead *a, const uint8_t *nonce, const void *aad,
                        size_t aad_len, void *buf, size_t len, uint8_t tag[CRYPTO_TAG_SIZE]);
/* Decrypts buf in place; returns SQ_ERR_DECRYPT when the tag does not verify, and then buf has
 * been zeroed (no unauthenticated plaintext is left behind). */
int crypto_aead_decrypt(struct crypto_aead *a, const uint8_t *nonce, const void *aad,
                        size_t aad_len, void *buf, size_t len, const uint8_t tag[CRYPTO_TAG_SIZE]);

/* Constant-time comparison: true when equal. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* MD5 of data, for formats that name it (the checksum inside a Minshall+French symlink
 * file); never for security. */
#define CRYPTO_MD5_SIZE 16
int crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_SIZE]);
/* Fills buf with cryptographically random bytes. */
int crypto_random(void *buf, size_t len);
/* Wipes memory in a way the compiler cannot remove. */
void crypto_wipe(void *buf, size_t len);

#endif
