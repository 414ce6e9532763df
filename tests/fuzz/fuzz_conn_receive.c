/* Fuzzes the connection's receive path (src/smb2/conn.c): framing, compound splitting, message
 * id and credit accounting, interim responses, signature checks and break notifications. A
 * fresh connection sends NEGOTIATE, gets a fixed response granting 64 credits, which lets these
 * queued requests out:
 *
 *   ECHO mid 1, CREATE mid 2, READ mid 3 (1 MiB: charge 16, mids 3-18),
 *   compound CREATE 19 / QUERY_INFO 20 / CLOSE 21, CHANGE_NOTIFY mid 22.
 *
 * Input: byte 0 is a mode (bits below), bytes 1-2 a big-endian split point, the rest is the
 * server's byte stream. The target checks that every callback runs exactly once, and the
 * sanitizers check the rest. Seeds are written by tests/unit/test_smb2_conn.c. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/conn.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_SPLIT 0x01        /* two input calls at the split point; cancel in between */
#define MODE_ZERO_COPY 0x02    /* smb2_conn_input_buffer / _commit instead of _input */
#define MODE_SIGNING 0x04      /* 3.0.2 session (AES-CMAC, key 00..0f) requiring signatures */
#define MODE_SMALL_FRAMES 0x08 /* max_frame_len 512 */
#define MODE_BYTE_BY_BYTE 0x10 /* one byte per input call (inputs up to 4 KiB) */

#define FUZZ_SESSION_ID 0x0000A1B2C3D4E5F7ull
#define SLOTS 12

struct slot {
    struct smb2_conn *conn;
    bool submitted;
    int calls;
    struct slot *child; /* an ECHO submitted from inside this callback */
};

static int submit(struct smb2_conn *c, uint16_t command, uint32_t tree_id, size_t body_len,
                  uint32_t expected, bool related, struct slot *s, struct smb2_request *out);

static void on_done(void *arg, int err, const struct smb2_reply *reply)
{
    struct slot *s = arg;
    if (++s->calls != 1)
        abort(); /* the async contract: exactly once */
    if ((err == 0) != (reply != NULL))
        abort();
    if (reply) {
        if (reply->len < 64)
            abort();
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < reply->len; i++)
            sum ^= reply->msg[i];
        (void)sum;
    }
    if (s->child && !s->child->submitted) {
        struct smb2_request r;
        if (submit(s->conn, SMB2_ECHO, 0, 4, 0, false, s->child, &r) == 0)
            s->child->submitted = true;
        else if (!err)
            abort(); /* only a dead connection refuses a well-formed request */
    }
}

static void on_break(void *arg, const struct smb2_reply *reply)
{
    int *breaks = arg;
    (*breaks)++;
    if (reply->len < 64 || reply->hdr.command != 0x12)
        abort();
}

static int build(struct smb2_conn *c, uint16_t command, uint32_t tree_id, size_t body_len,
                 uint32_t expected, bool related, struct slot *s, struct smb2_request *r)
{
    if (smb2_request_init(r, command, tree_id) != 0)
        return SQ_ERR_NOMEM;
    writer_put_le16(&r->msg, (uint16_t)body_len);
    writer_put_zeros(&r->msg, body_len - 2);
    r->expected_response_len = expected;
    r->related = related;
    r->cb = on_done;
    r->arg = s;
    s->conn = c;
    return 0;
}

static int submit(struct smb2_conn *c, uint16_t command, uint32_t tree_id, size_t body_len,
                  uint32_t expected, bool related, struct slot *s, struct smb2_request *r)
{
    int rc = build(c, command, tree_id, body_len, expected, related, s, r);
    if (rc) {
        writer_free(&r->msg);
        return rc;
    }
    return smb2_conn_submit(c, r, 1);
}

static void drain(struct smb2_conn *c)
{
    const uint8_t *p;
    size_t n;
    for (smb2_conn_output(c, &p, &n); n; smb2_conn_output(c, &p, &n))
        smb2_conn_output_consumed(c, n);
}

static void feed(struct smb2_conn *c, const uint8_t *p, size_t n, unsigned mode)
{
    if (mode & MODE_BYTE_BY_BYTE) {
        for (size_t i = 0; i < n && !smb2_conn_error(c); i++)
            (void)smb2_conn_input(c, p + i, 1);
    } else if (mode & MODE_ZERO_COPY) {
        while (n && !smb2_conn_error(c)) {
            uint8_t *buf;
            size_t cap;
            smb2_conn_input_buffer(c, &buf, &cap);
            if (!buf || !cap)
                abort();
            size_t k = n < cap ? n : cap;
            memcpy(buf, p, k);
            p += k;
            n -= k;
            (void)smb2_conn_input_commit(c, k);
        }
    } else {
        (void)smb2_conn_input(c, p, n);
    }
    drain(c);
}

/* The fixed NEGOTIATE response (MessageId 0, 64 credits, a 65-byte body). */
static void negotiate_response(uint8_t out[4 + 64 + 65])
{
    struct writer w;
    writer_init_fixed(&w, out, 4 + 64 + 65);
    writer_put_u8(&w, 0);
    writer_put_be24(&w, 64 + 65);
    struct smb2_header h = {.command = SMB2_NEGOTIATE, .credits = 64, .credit_charge = 1,
                            .flags = SMB2_FLAGS_SERVER_TO_REDIR};
    smb2_header_encode(&w, &h);
    writer_put_le16(&w, 65);
    writer_put_zeros(&w, 63);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned mode = data[0];
    size_t split = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    if ((mode & MODE_BYTE_BY_BYTE) && size > 4096)
        return 0;

    struct smb2_conn_config cfg = {.credit_target = 64,
                                   .max_frame_len = (mode & MODE_SMALL_FRAMES) ? 512 : 0};
    struct smb2_conn *c;
    if (smb2_conn_new(&cfg, &c) != 0)
        return 0;
    int breaks = 0;
    smb2_conn_set_break_callback(c, on_break, &breaks);

    struct slot slots[SLOTS];
    memset(slots, 0, sizeof(slots));
    struct smb2_request r[3];
    slots[1].child = &slots[SLOTS - 1]; /* the ECHO's completion submits another ECHO */
    slots[6].child = &slots[SLOTS - 2]; /* and so does CHANGE_NOTIFY's */
    int rc = submit(c, SMB2_NEGOTIATE, 0, 36, 0, false, &slots[0], &r[0]);
    rc = rc ? rc : submit(c, SMB2_ECHO, 0, 4, 0, false, &slots[1], &r[0]);
    rc = rc ? rc : submit(c, SMB2_CREATE, 1, 57, 0, false, &slots[2], &r[0]);
    rc = rc ? rc : submit(c, SMB2_READ, 1, 49, 1 << 20, false, &slots[3], &r[0]);
    if (!rc) {
        rc = build(c, SMB2_CREATE, 1, 57, 0, false, &slots[4], &r[0]);
        rc = rc ? rc : build(c, SMB2_QUERY_INFO, 1, 41, 0, true, &slots[5], &r[1]);
        rc = rc ? rc : build(c, SMB2_CLOSE, 1, 24, 0, true, &slots[7], &r[2]);
        rc = rc ? rc : smb2_conn_submit(c, r, 3);
    }
    rc = rc ? rc : submit(c, SMB2_CHANGE_NOTIFY, 1, 32, 65536, false, &slots[6], &r[0]);
    if (rc)
        abort(); /* a fresh connection accepts these */
    for (int i = 0; i < 8; i++)
        slots[i].submitted = true;
    drain(c);

    uint8_t neg[4 + 64 + 65];
    negotiate_response(neg);
    if (smb2_conn_input(c, neg, sizeof(neg)) != 0 || smb2_conn_pending_count(c) != 7)
        abort();
    drain(c);

    if (mode & MODE_SIGNING) {
        struct smb2_negotiated n = {.dialect = SMB2_DIALECT_0302,
                                    .cipher = CRYPTO_CIPHER_AES_128_CCM,
                                    .signing_alg = CRYPTO_SIGN_AES_CMAC};
        uint8_t key[16];
        for (int i = 0; i < 16; i++)
            key[i] = (uint8_t)i;
        smb2_conn_set_negotiated(c, &n);
        smb2_conn_session_begin(c);
        smb2_conn_session_set_id(c, FUZZ_SESSION_ID);
        if (smb2_conn_session_keys(c, key, sizeof(key)) != 0)
            abort();
        smb2_conn_session_set_policy(c, true, false);
    }

    if ((mode & MODE_SPLIT) && size) {
        split %= size;
        feed(c, data, split, mode);
        (void)smb2_conn_cancel(c, 22);
        (void)smb2_conn_cancel(c, 3);
        drain(c);
        feed(c, data + split, size - split, mode);
    } else {
        feed(c, data, size, mode);
    }

    smb2_conn_free(c);
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].calls != (slots[i].submitted ? 1 : 0))
            abort();
    return 0;
}
