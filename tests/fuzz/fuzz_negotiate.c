/* libFuzzer target: SMB2 NEGOTIATE response (MS-SMB2 2.2.4 with 3.1.1 negotiate contexts), and
 * the request encoder driven by the input (dialect list and UTF-8 netname). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_session.h"
#include "util/error.h"

/* Aborts unless [p, p+n) lies inside [base, base+size). */
#define INSIDE(p, n, base, size)                                                                   \
    do {                                                                                           \
        if ((n) && (!(p) || (p) < (base) || (size_t)((p) - (base)) > (size) ||                     \
                    (size_t)(n) > (size) - (size_t)((p) - (base))))                                \
            abort();                                                                               \
        if (!(n) && (p))                                                                           \
            abort();                                                                               \
    } while (0)

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size)
{
    struct smb2_negotiate_response r;
    if (smb2_negotiate_response_decode(data, size, &r) != 0) {
        if (r.dialect || r.security_buffer || r.preauth_salt || r.contexts_seen)
            abort(); /* a failed decode leaves nothing behind */
        return;
    }
    INSIDE(r.security_buffer, r.security_buffer_len, data, size);
    INSIDE(r.preauth_salt, r.preauth_salt_len, data, size);
    if (r.security_buffer && (size_t)(r.security_buffer - data) < 128)
        abort();
    if (r.security_buffer_len)
        sink += r.security_buffer[0] + r.security_buffer[r.security_buffer_len - 1];
    if (r.preauth_salt_len)
        sink += r.preauth_salt[0] + r.preauth_salt[r.preauth_salt_len - 1];
    if (r.dialect != 0x0311 && (r.contexts_seen || r.negotiate_context_count || r.cipher))
        abort();
}

/* Input layout for the encoder: [n][n dialects as le16][flags][rest = netname]. */
static void encode(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint16_t dialects[16];
    size_t n = data[0] % 16, i = 1;
    if (size < 1 + 2 * n + 1)
        return;
    for (size_t k = 0; k < n; k++, i += 2)
        dialects[k] = (uint16_t)(data[i] | data[i + 1] << 8);
    uint8_t flags = data[i++];
    char *netname = malloc(size - i + 1);
    if (!netname)
        return;
    memcpy(netname, data + i, size - i);
    netname[size - i] = '\0';
    static const uint16_t ciphers[] = {4, 2, 3, 1};
    static const uint16_t signing[] = {2, 1, 0};
    uint8_t salt[32] = {0};
    struct smb2_negotiate_request req = {
        .dialects = dialects,
        .dialect_count = n,
        .preauth_salt = salt,
        .preauth_salt_len = (flags & 1) ? sizeof(salt) : 0,
        .ciphers = ciphers,
        .cipher_count = (flags >> 1) & 3,
        .signing_algorithms = signing,
        .signing_algorithm_count = (flags >> 3) & 3,
        .netname = (flags & 0x20) ? netname : NULL,
        .send_transport_capabilities = flags & 0x40,
        .send_compression_none = flags & 0x80,
    };
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, 64);
    int rc = smb2_negotiate_request_encode(&w, &req);
    if (rc == 0) {
        if (w.len < 64 + 36 + 2 * n)
            abort();
    } else if (rc != SQ_ERR_INVAL || w.len != 64) {
        abort();
    }
    writer_free(&w);
    free(netname);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size);
    encode(data, size);
    return 0;
}
