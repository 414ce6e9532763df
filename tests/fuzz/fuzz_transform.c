/* Fuzzes the decryption path (MS-SMB2 3.2.5.1.1.1): the input is one frame body starting with a
 * TRANSFORM_HEADER, fed (with its 4-byte prefix) to connections with an established encrypting
 * 3.1.1 session for each cipher. Fixed setup, mirrored by the seed writer in
 * tests/unit/test_smb2_conn.c: session key 00..0f, pre-auth hash all zeros (no NEGOTIATE went
 * through the connection), SessionId FUZZ_SESSION_ID; an ECHO (mid 0) answered with 64 credits,
 * then pending ECHO mid 1, READ mid 2 (charge 2) and CHANGE_NOTIFY mid 4. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/conn.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SESSION_ID 0x0000A1B2C3D4E5F7ull
#define MAX_INPUT (1u << 20)

struct slot {
    int calls;
    bool encrypted_only; /* submitted once the session required encryption */
};

static void on_done(void *arg, int err, const struct smb2_reply *reply)
{
    struct slot *s = arg;
    if (++s->calls != 1)
        abort();
    if (reply) {
        if ((s->encrypted_only && !reply->was_encrypted) || reply->len < 64)
            abort();
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < reply->len; i++)
            sum ^= reply->msg[i];
        (void)sum;
    }
}

static int submit(struct smb2_conn *c, uint16_t command, size_t body_len, uint32_t expected,
                  struct slot *s)
{
    struct smb2_request r;
    if (smb2_request_init(&r, command, 1) != 0) {
        writer_free(&r.msg);
        return SQ_ERR_NOMEM;
    }
    writer_put_le16(&r.msg, (uint16_t)body_len);
    writer_put_zeros(&r.msg, body_len - 2);
    r.expected_response_len = expected;
    r.cb = on_done;
    r.arg = s;
    return smb2_conn_submit(c, &r, 1);
}

static void drain(struct smb2_conn *c)
{
    const uint8_t *p;
    size_t n;
    for (smb2_conn_output(c, &p, &n); n; smb2_conn_output(c, &p, &n))
        smb2_conn_output_consumed(c, n);
}

static void run(enum crypto_cipher cipher, const uint8_t *frame, size_t len)
{
    struct smb2_conn *c;
    if (smb2_conn_new(NULL, &c) != 0)
        return;
    struct slot slots[4];
    memset(slots, 0, sizeof(slots));
    if (submit(c, SMB2_ECHO, 4, 0, &slots[0]) != 0)
        abort();
    drain(c);
    uint8_t grant[4 + 64 + 4];
    struct writer w;
    writer_init_fixed(&w, grant, sizeof(grant));
    writer_put_u8(&w, 0);
    writer_put_be24(&w, 64 + 4);
    struct smb2_header h = {.command = SMB2_ECHO, .credits = 64, .credit_charge = 1,
                            .flags = SMB2_FLAGS_SERVER_TO_REDIR};
    smb2_header_encode(&w, &h);
    writer_put_le16(&w, 4);
    writer_put_le16(&w, 0);
    if (smb2_conn_input(c, grant, sizeof(grant)) != 0 || slots[0].calls != 1)
        abort();

    struct smb2_negotiated n = {.dialect = SMB2_DIALECT_0311,
                                .cipher = cipher,
                                .signing_alg = CRYPTO_SIGN_AES_GMAC};
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    smb2_conn_set_negotiated(c, &n);
    smb2_conn_session_begin(c);
    smb2_conn_session_set_id(c, FUZZ_SESSION_ID);
    if (smb2_conn_session_keys(c, key, sizeof(key)) != 0)
        abort();
    smb2_conn_session_set_policy(c, true, true);
    for (int i = 1; i < 4; i++)
        slots[i].encrypted_only = true;
    if (submit(c, SMB2_ECHO, 4, 0, &slots[1]) != 0 ||
        submit(c, SMB2_READ, 49, 2 * 65536, &slots[2]) != 0 ||
        submit(c, SMB2_CHANGE_NOTIFY, 32, 0, &slots[3]) != 0)
        abort();
    drain(c);

    (void)smb2_conn_input(c, frame, len);
    drain(c);
    smb2_conn_free(c);
    for (int i = 0; i < 4; i++)
        if (slots[i].calls != 1)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    uint8_t *frame = malloc(size + 4);
    if (!frame)
        return 0;
    frame[0] = 0;
    frame[1] = (uint8_t)(size >> 16);
    frame[2] = (uint8_t)(size >> 8);
    frame[3] = (uint8_t)size;
    memcpy(frame + 4, data, size);
    static const enum crypto_cipher ciphers[] = {
        CRYPTO_CIPHER_AES_128_GCM, CRYPTO_CIPHER_AES_128_CCM,
        CRYPTO_CIPHER_AES_256_GCM, CRYPTO_CIPHER_AES_256_CCM,
    };
    for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
        run(ciphers[i], frame, size + 4);
    free(frame);
    return 0;
}
