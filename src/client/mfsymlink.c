/* Minshall+French symlink files; contract in include/client/mfsymlink.h. The layout is the
 * one the Linux cifs client writes (fs/smb/client/link.c): offsets 0 "XSym\n", 5 "%04u\n",
 * 10 the 32 hex digits of the MD5 and "\n", 43 the target. */
#include "client/mfsymlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/smbcrypto.h"
#include "util/buf.h"
#include "util/error.h"

#define MAGIC "XSym\n"
#define MAGIC_LEN 5
#define LEN_FIELD 5   /* "%04u\n" */
#define MD5_FIELD 33  /* 32 hex digits and "\n" */
#define TARGET_OFFSET (MAGIC_LEN + LEN_FIELD + MD5_FIELD)

static void md5_hex(const uint8_t md5[CRYPTO_MD5_SIZE], char hex[2 * CRYPTO_MD5_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < CRYPTO_MD5_SIZE; i++) {
        hex[2 * i] = digits[md5[i] >> 4];
        hex[2 * i + 1] = digits[md5[i] & 15];
    }
    hex[2 * CRYPTO_MD5_SIZE] = '\0';
}

int mfsymlink_encode(const char *target, uint8_t out[MFSYMLINK_FILE_SIZE])
{
    size_t len = strlen(target);
    if (len == 0 || len > MFSYMLINK_TARGET_MAX)
        return SQ_ERR_INVAL;
    uint8_t md5[CRYPTO_MD5_SIZE];
    int rc = crypto_md5(target, len, md5);
    if (rc)
        return rc;
    char head[TARGET_OFFSET + 1];
    char hex[2 * CRYPTO_MD5_SIZE + 1];
    md5_hex(md5, hex);
    snprintf(head, sizeof(head), MAGIC "%04u\n%s\n", (unsigned)len, hex);
    memcpy(out, head, TARGET_OFFSET);
    memcpy(out + TARGET_OFFSET, target, len);
    size_t used = TARGET_OFFSET + len;
    if (used < MFSYMLINK_FILE_SIZE)
        out[used++] = '\n';
    memset(out + used, ' ', MFSYMLINK_FILE_SIZE - used);
    return 0;
}

int mfsymlink_decode(const uint8_t *data, size_t len, char **target)
{
    *target = NULL;
    if (len != MFSYMLINK_FILE_SIZE)
        return SQ_ERR_PROTO;
    struct reader r;
    reader_init(&r, data, len);
    uint8_t magic[MAGIC_LEN], len_field[LEN_FIELD], md5_field[MD5_FIELD];
    reader_get_bytes(&r, magic, sizeof(magic));
    reader_get_bytes(&r, len_field, sizeof(len_field));
    reader_get_bytes(&r, md5_field, sizeof(md5_field));
    if (reader_error(&r) || memcmp(magic, MAGIC, MAGIC_LEN) != 0 || len_field[4] != '\n' ||
        md5_field[32] != '\n')
        return SQ_ERR_PROTO;
    size_t target_len = 0;
    for (int i = 0; i < 4; i++) {
        if (len_field[i] < '0' || len_field[i] > '9')
            return SQ_ERR_PROTO;
        target_len = target_len * 10 + (size_t)(len_field[i] - '0');
    }
    if (target_len == 0 || target_len > MFSYMLINK_TARGET_MAX)
        return SQ_ERR_PROTO;
    const uint8_t *name = reader_get_ptr(&r, target_len);
    if (!name || memchr(name, '\0', target_len))
        return SQ_ERR_PROTO;
    uint8_t md5[CRYPTO_MD5_SIZE];
    char hex[2 * CRYPTO_MD5_SIZE + 1];
    if (crypto_md5(name, target_len, md5) != 0)
        return SQ_ERR_PROTO;
    md5_hex(md5, hex);
    if (memcmp(hex, md5_field, 2 * CRYPTO_MD5_SIZE) != 0)
        return SQ_ERR_PROTO;
    char *t = malloc(target_len + 1);
    if (!t)
        return SQ_ERR_NOMEM;
    memcpy(t, name, target_len);
    t[target_len] = '\0';
    *target = t;
    return 0;
}
