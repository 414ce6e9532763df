/* Unit tests for the sans-I/O connection core (include/smb2/conn.h). The test plays the server:
 * it takes the client's frames from smb2_conn_output, parses them with the header codec, and
 * feeds crafted responses through smb2_conn_input. Keys are derived here independently from
 * the bytes seen on the wire (MS-SMB2 3.2.5.3.1), so a wrong pre-auth hash, label or nonce in
 * the connection shows up as a signature or decryption mismatch.
 *
 * Setting SMBQUIC_FUZZ_SEED_DIR writes the seed corpora of tests/fuzz/ (conn_receive,
 * transform, smb2_header) into that directory; the fixed setups below mirror the fuzz targets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/smbcrypto.h"
#include "smb2/conn.h"
#include "smb2/ntstatus.h"
#include "smb2/proto.h"
#include "util/buf.h"
#include "util/error.h"

#define FRAME_CAP (256 * 1024)
#define MSG_CAP 4096
#define TEST_SESSION_ID 0x0000A1B2C3D4E5F7ull
#define BREAK_MESSAGE_ID UINT64_MAX
#define NO_MID 0x5A5A5A5A5A5A5A5Aull

static const uint8_t session_key[32] = {
    0x27, 0x0e, 0x1b, 0xa8, 0x96, 0x58, 0x5e, 0xef, 0xf6, 0x25, 0xca, 0x2d, 0x6b, 0x55, 0x0c, 0x92,
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
};

/* ---- little-endian helpers ----------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- completions ---------------------------------------------------------------------------- */

static int order_log[64];
static int order_len;

struct completion {
    int tag;                 /* written to order_log when the callback runs */
    int calls;
    int err;
    struct smb2_header hdr;
    bool was_encrypted, was_signed;
    uint8_t msg[MSG_CAP];
    size_t len;
    uint64_t mid;            /* message_id_out target */
    /* Optional actions run inside the callback. */
    struct smb2_conn *conn;
    bool submit_echo;        /* submit an ECHO from inside the callback */
    int submit_rc;
    struct completion *child;
    bool verify;             /* smb2_conn_verify_reply on the reply */
    int verify_rc;
    int fail_with;           /* smb2_conn_fail(conn, fail_with) from inside the callback */
};

static void completion_init(struct completion *d, int tag)
{
    memset(d, 0, sizeof(*d));
    d->tag = tag;
    d->mid = NO_MID;
    d->submit_rc = 1;
    d->verify_rc = 1;
}

static int submit_one(struct smb2_conn *c, uint16_t command, uint32_t tree_id, size_t body_len,
                      uint32_t expected, bool related, struct completion *d);

static void record(void *arg, int err, const struct smb2_reply *reply)
{
    struct completion *d = arg;
    d->calls++;
    d->err = err;
    if (order_len < (int)(sizeof(order_log) / sizeof(order_log[0])))
        order_log[order_len++] = d->tag;
    if (reply) {
        d->hdr = reply->hdr;
        d->was_encrypted = reply->was_encrypted;
        d->was_signed = reply->was_signed;
        d->len = reply->len;
        memcpy(d->msg, reply->msg, reply->len < MSG_CAP ? reply->len : MSG_CAP);
        if (d->verify)
            d->verify_rc = smb2_conn_verify_reply(d->conn, reply);
    }
    if (d->submit_echo)
        d->submit_rc = submit_one(d->conn, SMB2_ECHO, 0, 4, 0, false, d->child);
    if (d->fail_with)
        smb2_conn_fail(d->conn, d->fail_with);
}

struct break_log {
    int calls;
    struct smb2_header hdr;
    size_t len;
    bool was_signed, was_encrypted;
};

static void on_break(void *arg, const struct smb2_reply *reply)
{
    struct break_log *b = arg;
    b->calls++;
    b->hdr = reply->hdr;
    b->len = reply->len;
    b->was_signed = reply->was_signed;
    b->was_encrypted = reply->was_encrypted;
}

/* ---- the client side ------------------------------------------------------------------------ */

static struct smb2_conn *conn_new(uint16_t credit_target, uint32_t max_frame_len)
{
    struct smb2_conn_config cfg = {.max_frame_len = max_frame_len,
                                   .credit_target = credit_target};
    struct smb2_conn *c = NULL;
    ck_assert_int_eq(smb2_conn_new(&cfg, &c), 0);
    ck_assert_ptr_nonnull(c);
    order_len = 0;
    return c;
}

/* The body pattern of a request: StructureSize-like first bytes, then a counter. */
static uint8_t body_byte(uint16_t command, size_t i)
{
    return (uint8_t)(command * 31 + i * 7 + 1);
}

static void request_build(struct smb2_request *r, uint16_t command, uint32_t tree_id,
                          size_t body_len, uint32_t expected, bool related, struct completion *d)
{
    ck_assert_int_eq(smb2_request_init(r, command, tree_id), 0);
    for (size_t i = 0; i < body_len; i++)
        writer_put_u8(&r->msg, body_byte(command, i));
    ck_assert_int_eq(writer_error(&r->msg), 0);
    r->expected_response_len = expected;
    r->related = related;
    r->cb = d ? record : NULL;
    r->arg = d;
    r->message_id_out = d ? &d->mid : NULL;
}

static int submit_one(struct smb2_conn *c, uint16_t command, uint32_t tree_id, size_t body_len,
                      uint32_t expected, bool related, struct completion *d)
{
    struct smb2_request r;
    request_build(&r, command, tree_id, body_len, expected, related, d);
    return smb2_conn_submit(c, &r, 1);
}

struct frame {
    uint8_t data[FRAME_CAP];
    size_t len;
};

/* Takes the next frame the client wants to send (prefix checked and stripped). */
static void take_frame(struct smb2_conn *c, struct frame *f)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    ck_assert(smb2_conn_wants_output(c));
    smb2_conn_output(c, &data, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_ge(len, 4);
    ck_assert_uint_eq(data[0], 0);
    size_t body = (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
    ck_assert_uint_eq(len, 4 + body);
    ck_assert_uint_le(body, FRAME_CAP);
    memcpy(f->data, data + 4, body);
    f->len = body;
    smb2_conn_output_consumed(c, len);
}

static void assert_no_output(struct smb2_conn *c)
{
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 1;
    ck_assert(!smb2_conn_wants_output(c));
    smb2_conn_output(c, &data, &len);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(len, 0);
}

static struct smb2_header decode_at(const uint8_t *p, size_t len)
{
    struct reader r;
    struct smb2_header h;
    reader_init(&r, p, len);
    ck_assert_int_eq(smb2_header_decode(&r, &h), 0);
    return h;
}

/* ---- the server side ------------------------------------------------------------------------ */

static struct smb2_header rsp(uint16_t command, uint64_t message_id, uint16_t credits)
{
    struct smb2_header h = {0};
    h.command = command;
    h.message_id = message_id;
    h.credits = credits;
    h.credit_charge = 1;
    h.flags = SMB2_FLAGS_SERVER_TO_REDIR;
    return h;
}

/* Appends one message: the header, then body_len body bytes (first two: StructureSize). */
static void put_msg(struct writer *w, const struct smb2_header *h, size_t body_len)
{
    smb2_header_encode(w, h);
    for (size_t i = 0; i < body_len; i++)
        writer_put_u8(w, (uint8_t)(i == 0 ? body_len | 1 : 0x40 + i));
    ck_assert_int_eq(writer_error(w), 0);
}

static int feed_frame(struct smb2_conn *c, const uint8_t *body, size_t len)
{
    uint8_t *buf = malloc(len + 4);
    ck_assert_ptr_nonnull(buf);
    buf[0] = 0;
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    memcpy(buf + 4, body, len);
    int rc = smb2_conn_input(c, buf, len + 4);
    free(buf);
    return rc;
}

static int feed_msg(struct smb2_conn *c, const struct smb2_header *h, size_t body_len)
{
    struct writer w;
    writer_init(&w);
    put_msg(&w, h, body_len);
    int rc = feed_frame(c, w.data, w.len);
    writer_free(&w);
    return rc;
}

/* Sends ECHO (with an ECHO response granting `grant`) to move the credit count. Returns the
 * message id the echo used. */
static uint64_t echo_roundtrip(struct smb2_conn *c, uint16_t grant)
{
    struct completion d;
    completion_init(&d, 99);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_ECHO);
    struct smb2_header r = rsp(SMB2_ECHO, h.message_id, grant);
    ck_assert_int_eq(feed_msg(c, &r, 4), 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    order_len = 0;
    return h.message_id;
}

/* A server with one session: its view of the keys, derived from what it saw on the wire. */
struct server {
    uint16_t dialect;
    enum crypto_cipher cipher;
    enum crypto_signing_alg alg;
    uint64_t session_id;
    uint8_t conn_hash[CRYPTO_PREAUTH_HASH_SIZE];
    uint8_t sess_hash[CRYPTO_PREAUTH_HASH_SIZE];
    struct crypto_signer *signer;
    struct crypto_aead *c2s; /* decrypts requests */
    struct crypto_aead *s2c; /* encrypts responses */
    uint64_t nonce_counter;
    uint64_t next_mid;       /* the client's next MessageId after setup */
};

static void server_free(struct server *s)
{
    crypto_signer_free(s->signer);
    crypto_aead_free(s->c2s);
    crypto_aead_free(s->s2c);
    memset(s, 0, sizeof(*s));
}

static void server_derive(struct server *s, size_t key_len)
{
    uint8_t sign_key[16], c2s[32], s2c[32];
    size_t klen = crypto_cipher_key_size(s->cipher);
    if (s->dialect == SMB2_DIALECT_0311) {
        ck_assert_int_eq(crypto_kdf(session_key, 16, "SMBSigningKey", 14, s->sess_hash, 64,
                                    sign_key, 16), 0);
        if (klen) {
            size_t in = klen == 32 ? key_len : 16;
            ck_assert_int_eq(crypto_kdf(session_key, in, "SMBC2SCipherKey", 16, s->sess_hash,
                                        64, c2s, klen), 0);
            ck_assert_int_eq(crypto_kdf(session_key, in, "SMBS2CCipherKey", 16, s->sess_hash,
                                        64, s2c, klen), 0);
        }
    } else {
        ck_assert_int_eq(crypto_kdf(session_key, 16, "SMB2AESCMAC", 12, "SmbSign", 8, sign_key,
                                    16), 0);
        if (klen) {
            ck_assert_int_eq(crypto_kdf(session_key, 16, "SMB2AESCCM", 11, "ServerIn ", 10, c2s,
                                        16), 0);
            ck_assert_int_eq(crypto_kdf(session_key, 16, "SMB2AESCCM", 11, "ServerOut", 10,
                                        s2c, 16), 0);
        }
    }
    ck_assert_int_eq(crypto_signer_new(s->alg, sign_key, &s->signer), 0);
    if (klen) {
        ck_assert_int_eq(crypto_aead_new(s->cipher, c2s, &s->c2s), 0);
        ck_assert_int_eq(crypto_aead_new(s->cipher, s2c, &s->s2c), 0);
    }
}

/* The signature the server expects on msg (signature field taken as zero). role: bit 0 for
 * messages from the server, bit 1 for CANCEL (MS-SMB2 3.1.4.1, AES-GMAC nonce). */
static void compute_signature(struct server *s, const uint8_t *msg, size_t len, unsigned role,
                              uint8_t out[16])
{
    uint8_t *copy = malloc(len);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, msg, len);
    memset(copy + SMB2_HDR_OFF_SIGNATURE, 0, 16);
    uint8_t nonce[12] = {0};
    put64(nonce, get64(msg + SMB2_HDR_OFF_MESSAGE_ID));
    put32(nonce + 8, role);
    ck_assert_int_eq(crypto_signer_sign(s->signer, nonce, copy, len, out), 0);
    free(copy);
}

static void assert_signed(struct server *s, const uint8_t *msg, size_t len)
{
    ck_assert(get32(msg + SMB2_HDR_OFF_FLAGS) & SMB2_FLAGS_SIGNED);
    unsigned role = get16(msg + 12) == SMB2_CANCEL ? 2 : 0;
    uint8_t want[16];
    compute_signature(s, msg, len, role, want);
    ck_assert_mem_eq(msg + SMB2_HDR_OFF_SIGNATURE, want, 16);
}

/* Signs a server message in place (sets the SIGNED flag first). */
static void server_sign(struct server *s, uint8_t *msg, size_t len, unsigned role)
{
    put32(msg + SMB2_HDR_OFF_FLAGS, get32(msg + SMB2_HDR_OFF_FLAGS) | SMB2_FLAGS_SIGNED);
    uint8_t sig[16];
    compute_signature(s, msg, len, role, sig);
    memcpy(msg + SMB2_HDR_OFF_SIGNATURE, sig, 16);
}

/* Writes a TRANSFORM_HEADER + ciphertext of plain into out (len + 52 bytes), MS-SMB2 3.1.4.3. */
static size_t server_seal(struct server *s, const uint8_t *plain, size_t len, uint8_t *out)
{
    memset(out, 0, SMB2_TRANSFORM_HEADER_SIZE);
    put32(out, SMB2_TRANSFORM_PROTOCOL_ID);
    uint64_t ctr = ++s->nonce_counter;
    put64(out + 20, ctr ^ 0x5500000000000000ull);
    put32(out + 36, (uint32_t)len);
    out[42] = 1; /* Flags: Encrypted */
    put64(out + 44, s->session_id);
    memcpy(out + SMB2_TRANSFORM_HEADER_SIZE, plain, len);
    ck_assert_int_eq(crypto_aead_encrypt(s->s2c, out + 20, out + 20, 32,
                                         out + SMB2_TRANSFORM_HEADER_SIZE, len, out + 4), 0);
    return len + SMB2_TRANSFORM_HEADER_SIZE;
}

/* Checks and decrypts a client TRANSFORM frame; returns the plaintext length. */
static size_t server_open(struct server *s, const uint8_t *frame, size_t len, uint8_t *plain)
{
    ck_assert_uint_gt(len, SMB2_TRANSFORM_HEADER_SIZE);
    ck_assert_uint_eq(get32(frame), SMB2_TRANSFORM_PROTOCOL_ID);
    size_t nonce_len = crypto_cipher_nonce_size(s->cipher);
    for (size_t i = nonce_len; i < 16; i++)
        ck_assert_uint_eq(frame[20 + i], 0); /* reserved nonce tail, MS-SMB2 2.2.41 */
    size_t plain_len = get32(frame + 36);
    ck_assert_uint_eq(plain_len, len - SMB2_TRANSFORM_HEADER_SIZE);
    ck_assert_uint_eq(get16(frame + 40), 0);
    ck_assert_uint_eq(get16(frame + 42), SMB2_TRANSFORM_FLAG_ENCRYPTED);
    ck_assert_uint_eq(get64(frame + 44), s->session_id);
    memcpy(plain, frame + SMB2_TRANSFORM_HEADER_SIZE, plain_len);
    ck_assert_int_eq(crypto_aead_decrypt(s->c2s, frame + 20, frame + 20, 32, plain, plain_len,
                                         frame + 4), 0);
    return plain_len;
}

static int feed_sealed(struct smb2_conn *c, struct server *s, const uint8_t *plain, size_t len)
{
    uint8_t *out = malloc(len + SMB2_TRANSFORM_HEADER_SIZE);
    ck_assert_ptr_nonnull(out);
    size_t n = server_seal(s, plain, len, out);
    int rc = feed_frame(c, out, n);
    free(out);
    return rc;
}

/* Builds one response message in w (optionally signed). */
static void build_rsp(struct writer *w, struct server *s, const struct smb2_header *h,
                      size_t body_len, bool sign)
{
    writer_init(w);
    put_msg(w, h, body_len);
    if (sign)
        server_sign(s, w->data, w->len, 1);
}

/* Builds a chain of messages with the given body lengths (NextCommand 8-aligned). */
static void build_chain(struct writer *w, const uint64_t *mids, const uint16_t *cmds,
                        const size_t *bodies, size_t n)
{
    writer_init(w);
    for (size_t i = 0; i < n; i++) {
        size_t start = w->len;
        struct smb2_header h = rsp(cmds[i], mids[i], 1);
        if (i)
            h.flags |= SMB2_FLAGS_RELATED_OPERATIONS;
        put_msg(w, &h, bodies[i]);
        if (i + 1 < n) {
            writer_align(w, start, 8);
            writer_patch_le32(w, start + SMB2_HDR_OFF_NEXT_COMMAND, (uint32_t)(w->len - start));
        }
    }
    ck_assert_int_eq(writer_error(w), 0);
}

/* Runs NEGOTIATE and a two-leg SESSION_SETUP against the connection, hashing exactly the bytes
 * on the wire (MS-SMB2 3.2.5.2, 3.2.5.3.1), then arms keys and policy on both sides. */
static void establish(struct smb2_conn *c, struct server *s, uint16_t dialect,
                      enum crypto_cipher cipher, enum crypto_signing_alg alg, size_t key_len,
                      bool encrypt)
{
    memset(s, 0, sizeof(*s));
    s->dialect = dialect;
    s->cipher = cipher;
    s->alg = alg;
    s->session_id = TEST_SESSION_ID;
    struct frame f;
    struct completion d;
    struct writer w;

    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36 + 2 * 4, 0, false, &d), 0);
    take_frame(c, &f);
    ck_assert_int_eq(crypto_preauth_update(s->conn_hash, f.data, f.len), 0);
    struct smb2_header h = rsp(SMB2_NEGOTIATE, 0, 64);
    build_rsp(&w, s, &h, 65 + 16, false);
    ck_assert_int_eq(crypto_preauth_update(s->conn_hash, w.data, w.len), 0);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), s->conn_hash, 64);

    struct smb2_negotiated n = {0};
    n.dialect = dialect;
    n.security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED;
    n.capabilities = SMB2_GLOBAL_CAP_ENCRYPTION;
    n.max_transact_size = n.max_read_size = n.max_write_size = 8 << 20;
    n.cipher = cipher;
    n.signing_alg = alg;
    smb2_conn_set_negotiated(c, &n);
    smb2_conn_session_begin(c);
    memcpy(s->sess_hash, s->conn_hash, 64);

    /* Leg 1: STATUS_MORE_PROCESSING_REQUIRED assigns the SessionId; both go into the hash. */
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_SESSION_SETUP, 0, 24 + 40, 0, false, &d), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).session_id, 0);
    ck_assert_int_eq(crypto_preauth_update(s->sess_hash, f.data, f.len), 0);
    h = rsp(SMB2_SESSION_SETUP, 1, 1);
    h.status = STATUS_MORE_PROCESSING_REQUIRED;
    h.session_id = s->session_id;
    build_rsp(&w, s, &h, 8 + 100, false);
    ck_assert_int_eq(crypto_preauth_update(s->sess_hash, w.data, w.len), 0);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_uint_eq(d.hdr.status, STATUS_MORE_PROCESSING_REQUIRED);
    smb2_conn_session_set_id(c, d.hdr.session_id);
    ck_assert_uint_eq(smb2_conn_session_id(c), s->session_id);

    /* Leg 2: the request is hashed, the final STATUS_SUCCESS response is not. */
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_SESSION_SETUP, 0, 24 + 20, 0, false, &d), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).session_id, s->session_id);
    ck_assert_int_eq(crypto_preauth_update(s->sess_hash, f.data, f.len), 0);
    server_derive(s, key_len);
    h = rsp(SMB2_SESSION_SETUP, 2, 1);
    h.session_id = s->session_id;
    build_rsp(&w, s, &h, 8, true);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert(!d.was_signed); /* SESSION_SETUP is left to the client layer */

    ck_assert_int_eq(smb2_conn_session_keys(c, session_key, key_len), 0);
    /* The client layer's check of the final response, on its own copy. */
    struct smb2_reply reply = {.hdr = d.hdr, .msg = d.msg, .len = d.len};
    ck_assert_int_eq(smb2_conn_verify_reply(c, &reply), 0);
    smb2_conn_session_set_policy(c, true, encrypt);
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), s->conn_hash, 64);
    s->next_mid = 3;
    ck_assert_uint_eq(smb2_conn_credits(c), 64);
    order_len = 0;
}

/* ---- framing -------------------------------------------------------------------------------- */

START_TEST(test_prefix_nonzero_first_byte)
{
    static const uint8_t bad[][4] = {
        {0x01, 0x00, 0x00, 0x44}, /* high length byte set */
        {0x85, 0x00, 0x00, 0x00}, /* NetBIOS keep-alive: not Direct TCP */
        {0xfe, 'S', 'M', 'B'},    /* a header without the prefix */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct smb2_conn *c = conn_new(8, 0);
        struct completion d;
        completion_init(&d, 1);
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
        ck_assert_int_eq(smb2_conn_input(c, bad[i], 4), SQ_ERR_PROTO);
        ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_PROTO);
        ck_assert_int_eq(d.calls, 1);
        ck_assert_int_eq(d.err, SQ_ERR_PROTO);
        ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
        assert_no_output(c);
        smb2_conn_free(c);
        ck_assert_int_eq(d.calls, 1);
    }
}
END_TEST

START_TEST(test_zero_length_frame_fatal)
{
    struct smb2_conn *c = conn_new(8, 0);
    static const uint8_t zero[4] = {0, 0, 0, 0};
    ck_assert_int_eq(smb2_conn_input(c, zero, 4), SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

/* Two responses in one stream, cut at every possible point into two input calls. */
START_TEST(test_every_split_point)
{
    struct writer stream;
    writer_init(&stream);
    for (uint64_t mid = 1; mid < 3; mid++) {
        struct writer m;
        writer_init(&m);
        struct smb2_header h = rsp(SMB2_ECHO, mid, 1);
        put_msg(&m, &h, 4 + (size_t)(mid - 1) * 9);
        writer_put_u8(&stream, 0);
        writer_put_be24(&stream, (uint32_t)m.len);
        writer_put_bytes(&stream, m.data, m.len);
        writer_free(&m);
    }
    ck_assert_int_eq(writer_error(&stream), 0);
    for (size_t cut = 0; cut <= stream.len; cut++) {
        struct smb2_conn *c = conn_new(8, 0);
        echo_roundtrip(c, 2);
        struct completion d0, d1;
        completion_init(&d0, 0);
        completion_init(&d1, 1);
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d0), 0);
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d1), 0);
        ck_assert_uint_eq(smb2_conn_credits(c), 0);
        ck_assert_int_eq(smb2_conn_input(c, stream.data, cut), 0);
        ck_assert_int_eq(smb2_conn_input(c, stream.data + cut, stream.len - cut), 0);
        ck_assert_int_eq(d0.calls, 1);
        ck_assert_int_eq(d0.err, 0);
        ck_assert_int_eq(d1.calls, 1);
        ck_assert_int_eq(d1.err, 0);
        ck_assert_uint_eq(d1.mid, 2);
        ck_assert_uint_eq(d1.len, SMB2_HEADER_SIZE + 13);
        ck_assert_uint_eq(smb2_conn_credits(c), 2);
        ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
        ck_assert_int_eq(smb2_conn_error(c), 0);
        smb2_conn_free(c);
    }
    writer_free(&stream);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct writer w;
    writer_init(&w);
    writer_put_u8(&w, 0);
    writer_put_be24(&w, SMB2_HEADER_SIZE + 300);
    struct smb2_header h = rsp(SMB2_ECHO, 0, 7);
    put_msg(&w, &h, 300);
    for (size_t i = 0; i < w.len; i++) {
        ck_assert_int_eq(d.calls, 0);
        ck_assert_int_eq(smb2_conn_input(c, w.data + i, 1), 0);
    }
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert_uint_eq(d.len, SMB2_HEADER_SIZE + 300);
    ck_assert_mem_eq(d.msg, w.data + 4, d.len);
    ck_assert_uint_eq(smb2_conn_credits(c), 7);
    writer_free(&w);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_many_frames_one_call)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 10);
    struct completion d[5];
    for (int i = 0; i < 5; i++) {
        completion_init(&d[i], i);
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[i]), 0);
        ck_assert_uint_eq(d[i].mid, 1 + (uint64_t)i);
    }
    struct writer w;
    writer_init(&w);
    static const int order[5] = {3, 0, 4, 1, 2}; /* out of order is fine */
    for (int k = 0; k < 5; k++) {
        struct writer m;
        writer_init(&m);
        struct smb2_header h = rsp(SMB2_ECHO, 1 + (uint64_t)order[k], 1);
        put_msg(&m, &h, 4);
        writer_put_u8(&w, 0);
        writer_put_be24(&w, (uint32_t)m.len);
        writer_put_bytes(&w, m.data, m.len);
        writer_free(&m);
    }
    ck_assert_int_eq(smb2_conn_input(c, w.data, w.len), 0);
    ck_assert_int_eq(order_len, 5);
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(order_log[k], order[k]);
        ck_assert_int_eq(d[k].calls, 1);
    }
    ck_assert_uint_eq(smb2_conn_credits(c), 10);
    writer_free(&w);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_zero_copy_input)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct writer w;
    writer_init(&w);
    writer_put_u8(&w, 0);
    writer_put_be24(&w, SMB2_HEADER_SIZE + 4);
    struct smb2_header h = rsp(SMB2_ECHO, 0, 10);
    put_msg(&w, &h, 4);
    size_t cuts[] = {3, 10, w.len};
    size_t done = 0;
    for (size_t i = 0; i < 3; i++) {
        uint8_t *buf = NULL;
        size_t cap = 0;
        smb2_conn_input_buffer(c, &buf, &cap);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_ge(cap, cuts[i] - done);
        memcpy(buf, w.data + done, cuts[i] - done);
        ck_assert_int_eq(d.calls, 0);
        ck_assert_int_eq(smb2_conn_input_commit(c, cuts[i] - done), 0);
        done = cuts[i];
    }
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 10);

    /* The buffer grows for a frame bigger than the default read size. */
    struct completion big;
    completion_init(&big, 1);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 200000, false, &big), 0);
    ck_assert_uint_eq(big.mid, 1);
    ck_assert_uint_eq(smb2_conn_credits(c), 6); /* charge 4 */
    uint8_t prefix[4] = {0, 0x03, 0x0d, 0x54}; /* 200020 */
    size_t total = 200020;
    uint8_t *buf = NULL;
    size_t cap = 0;
    smb2_conn_input_buffer(c, &buf, &cap);
    memcpy(buf, prefix, 4);
    ck_assert_int_eq(smb2_conn_input_commit(c, 4), 0);
    smb2_conn_input_buffer(c, &buf, &cap);
    ck_assert_uint_ge(cap, total);
    struct writer m;
    writer_init(&m);
    h = rsp(SMB2_READ, 1, 4);
    put_msg(&m, &h, total - SMB2_HEADER_SIZE);
    memcpy(buf, m.data, total);
    ck_assert_int_eq(smb2_conn_input_commit(c, total), 0);
    ck_assert_int_eq(big.calls, 1);
    ck_assert_int_eq(big.err, 0);
    ck_assert_uint_eq(big.len, total);
    ck_assert_uint_eq(smb2_conn_credits(c), 10);
    writer_free(&m);
    writer_free(&w);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_frame_longer_than_max)
{
    /* Exactly the maximum is accepted. */
    struct smb2_conn *c = conn_new(8, 4096);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct smb2_header h = rsp(SMB2_ECHO, 0, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4096 - SMB2_HEADER_SIZE), 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    smb2_conn_free(c);

    /* One byte more is fatal as soon as the prefix arrives. */
    c = conn_new(8, 4096);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    static const uint8_t prefix[4] = {0, 0, 0x10, 0x01};
    ck_assert_int_eq(smb2_conn_input(c, prefix, 4), SQ_ERR_PROTO);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_partial_output_consumption)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 4);
    struct completion d1, d2;
    completion_init(&d1, 1);
    completion_init(&d2, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d1), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d2), 0);
    const uint8_t *data;
    size_t len;
    smb2_conn_output(c, &data, &len);
    ck_assert_uint_eq(len, 4 + 68);
    smb2_conn_output_consumed(c, 10);
    smb2_conn_output(c, &data, &len);
    ck_assert_uint_eq(len, 62);
    ck_assert_uint_eq(get64(data + SMB2_HDR_OFF_MESSAGE_ID - 6), 1);
    /* Consuming across the frame boundary. */
    smb2_conn_output_consumed(c, 62 + 4);
    smb2_conn_output(c, &data, &len);
    ck_assert_uint_eq(len, 64 + 4);
    ck_assert_uint_eq(get64(data + SMB2_HDR_OFF_MESSAGE_ID), 2);
    smb2_conn_output_consumed(c, len);
    assert_no_output(c);
    smb2_conn_free(c);
}
END_TEST

/* ---- message ids and credits ---------------------------------------------------------------- */

START_TEST(test_first_request)
{
    struct smb2_conn *c = conn_new(10, 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 1);
    ck_assert_ptr_null(smb2_conn_negotiated(c));
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
    ck_assert_uint_eq(d.mid, 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(f.len, SMB2_HEADER_SIZE + 36);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.message_id, 0);
    ck_assert_uint_eq(h.credit_charge, 1);
    ck_assert_uint_eq(h.credits, 10); /* 1 for itself + 9 up to the target */
    ck_assert_uint_eq(h.command, SMB2_NEGOTIATE);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_uint_eq(h.next_command, 0);
    ck_assert_uint_eq(h.session_id, 0);
    ck_assert_uint_eq(h.status, 0);
    static const uint8_t zero[16];
    ck_assert_mem_eq(h.signature, zero, 16);
    for (size_t i = 0; i < 36; i++)
        ck_assert_uint_eq(f.data[SMB2_HEADER_SIZE + i], body_byte(SMB2_NEGOTIATE, i));
    ck_assert_uint_eq(smb2_conn_credits(c), 0);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 1);
    ck_assert_uint_eq(smb2_conn_sent_count(c, SMB2_NEGOTIATE), 1);
    ck_assert_uint_eq(smb2_conn_sent_count(c, SMB2_ECHO), 0);
    ck_assert_uint_eq(smb2_conn_sent_count(c, 0xffff), 0);
    assert_no_output(c);

    /* No credit left: the next request waits. */
    struct completion e;
    completion_init(&e, 1);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e), 0);
    assert_no_output(c);
    ck_assert_uint_eq(e.mid, NO_MID);
    smb2_conn_free(c);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, SQ_ERR_CLOSED);
    ck_assert_int_eq(e.calls, 1);
    ck_assert_int_eq(e.err, SQ_ERR_CLOSED);
}
END_TEST

START_TEST(test_credit_charge_values)
{
    static const struct {
        size_t body;
        uint32_t expected;
        uint16_t charge;
    } cases[] = {
        {0, 0, 1},          {48, 65536, 1},  {48, 65537, 2},   {48, 1 << 20, 16},
        {70000, 0, 2},      {65536, 0, 1},   {65537, 100, 2},  {48, 8 << 20, 128},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct smb2_conn *c = conn_new(8, 0);
        echo_roundtrip(c, 200);
        struct completion d;
        completion_init(&d, 0);
        ck_assert_int_eq(submit_one(c, SMB2_WRITE, 0, cases[i].body, cases[i].expected, false,
                                    &d), 0);
        const uint8_t *data;
        size_t len;
        smb2_conn_output(c, &data, &len);
        ck_assert_uint_eq(len, 4 + SMB2_HEADER_SIZE + cases[i].body);
        struct smb2_header h = decode_at(data + 4, len - 4);
        ck_assert_msg(h.credit_charge == cases[i].charge, "case %zu: charge %u, want %u", i,
                      h.credit_charge, cases[i].charge);
        ck_assert_uint_eq(smb2_conn_credits(c), 200u - cases[i].charge);
        smb2_conn_free(c);
    }
}
END_TEST

/* A borrowed tail (a WRITE's data) follows msg in the frame, counts towards CreditCharge and
 * padding, and is copied when the request must wait: the caller's buffer may change once
 * smb2_conn_submit returns. */
START_TEST(test_borrowed_tail)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 8); /* credits: 8 */
    static uint8_t data[3 * 65536 + 5];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 5);

    /* Sent at once: a compound of WRITE (with tail, 8-byte padded) and ECHO. */
    struct completion w1, e1;
    completion_init(&w1, 1);
    completion_init(&e1, 2);
    struct smb2_request reqs[2];
    request_build(&reqs[0], SMB2_WRITE, 0, 48, 0, false, &w1);
    reqs[0].tail = data;
    reqs[0].tail_len = 1001; /* 64 + 48 + 1001: padded to 1120 */
    request_build(&reqs[1], SMB2_ECHO, 0, 4, 0, true, &e1);
    ck_assert_int_eq(smb2_conn_submit(c, reqs, 2), 0);
    static struct frame f;
    take_frame(c, &f);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_WRITE);
    ck_assert_uint_eq(h.credit_charge, 1);
    ck_assert_uint_eq(h.next_command, 1120);
    ck_assert_uint_eq(f.len, 1120 + 64 + 4);
    for (size_t i = 0; i < 48; i++)
        ck_assert_uint_eq(f.data[64 + i], body_byte(SMB2_WRITE, i));
    ck_assert_int_eq(memcmp(f.data + 64 + 48, data, 1001), 0);
    for (size_t i = 64 + 48 + 1001; i < 1120; i++)
        ck_assert_uint_eq(f.data[i], 0);
    ck_assert_uint_eq(decode_at(f.data + 1120, f.len - 1120).command, SMB2_ECHO);
    ck_assert_uint_eq(smb2_conn_credits(c), 6);

    /* Held back: a tail of 3 x 64 KiB + 5 charges 4 credits, 6 - 2 are left after an echo. */
    struct completion e2, w2;
    completion_init(&e2, 3);
    completion_init(&w2, 4);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e2), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, NULL), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, NULL), 0);
    take_frame(c, &f);
    take_frame(c, &f);
    take_frame(c, &f);
    ck_assert_uint_eq(smb2_conn_credits(c), 3);
    struct smb2_request r;
    request_build(&r, SMB2_WRITE, 0, 48, 0, false, &w2);
    static uint8_t scratch[sizeof(data)];
    memcpy(scratch, data, sizeof(data));
    r.tail = scratch;
    r.tail_len = sizeof(scratch) - 48;
    ck_assert_int_eq(smb2_conn_submit(c, &r, 1), 0);
    assert_no_output(c);
    memset(scratch, 0xEE, sizeof(scratch)); /* the caller reuses its buffer */
    h = rsp(SMB2_ECHO, e2.mid, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0); /* 3 + 1 = 4 credits: enough */
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_WRITE);
    ck_assert_uint_eq(h.credit_charge, 4);
    ck_assert_uint_eq(w2.mid, h.message_id);
    ck_assert_uint_eq(f.len, 64 + 48 + sizeof(data) - 48);
    ck_assert_int_eq(memcmp(f.data + 64 + 48, data, sizeof(data) - 48), 0);

    /* A tail length without a tail is refused. */
    request_build(&r, SMB2_WRITE, 0, 48, 0, false, NULL);
    r.tail_len = 1;
    ck_assert_int_eq(smb2_conn_submit(c, &r, 1), SQ_ERR_INVAL);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_large_request_held_back)
{
    struct smb2_conn *c = conn_new(8, 0);
    uint64_t mid = echo_roundtrip(c, 8); /* credits: 8 */
    ck_assert_uint_eq(mid, 0);
    struct completion e1, rd, e2;
    completion_init(&e1, 1);
    completion_init(&rd, 2);
    completion_init(&e2, 3);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e1), 0);
    ck_assert_uint_eq(e1.mid, 1);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(smb2_conn_credits(c), 7);

    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 1 << 20, false, &rd), 0);
    assert_no_output(c);
    ck_assert_uint_eq(rd.mid, NO_MID);
    /* Requests stay in order: a small one queued behind the read waits too. */
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e2), 0);
    assert_no_output(c);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 1);

    /* 7 + 8 = 15 credits: still one short. */
    struct smb2_header h = rsp(SMB2_ECHO, 1, 8);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_int_eq(e1.calls, 1);
    ck_assert_uint_eq(smb2_conn_credits(c), 15);
    assert_no_output(c);
    smb2_conn_free(c);
    ck_assert_int_eq(rd.calls, 1);
    ck_assert_int_eq(rd.err, SQ_ERR_CLOSED);

    c = conn_new(8, 0);
    echo_roundtrip(c, 8);
    completion_init(&e1, 1);
    completion_init(&rd, 2);
    completion_init(&e2, 3);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e1), 0);
    take_frame(c, &f);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 1 << 20, false, &rd), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e2), 0);
    assert_no_output(c);
    h = rsp(SMB2_ECHO, 1, 9); /* 7 + 9 = 16: exactly enough for the read */
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_uint_eq(rd.mid, 2);
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_READ);
    ck_assert_uint_eq(h.message_id, 2);
    ck_assert_uint_eq(h.credit_charge, 16);
    ck_assert_uint_eq(smb2_conn_credits(c), 0);
    assert_no_output(c); /* the echo behind it has no credit yet */
    ck_assert_uint_eq(e2.mid, NO_MID);

    /* The read's response releases the echo, whose MessageId skipped the read's 16. */
    h = rsp(SMB2_READ, 2, 20);
    ck_assert_int_eq(feed_msg(c, &h, 16 + 100), 0);
    ck_assert_int_eq(rd.calls, 1);
    ck_assert_int_eq(rd.err, 0);
    ck_assert_uint_eq(e2.mid, 18);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).message_id, 18);
    ck_assert_uint_eq(smb2_conn_credits(c), 19);
    /* MessageIds inside the read's range are not valid responses. */
    h = rsp(SMB2_ECHO, 17, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), SQ_ERR_PROTO);
    ck_assert_int_eq(e2.calls, 1);
    ck_assert_int_eq(e2.err, SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_credit_overflow_fatal)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 2);
    struct completion a, b;
    completion_init(&a, 1);
    completion_init(&b, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &a), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &b), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 0);
    struct smb2_header h = rsp(SMB2_ECHO, 1, 65535);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 65535);
    h = rsp(SMB2_ECHO, 2, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), SQ_ERR_PROTO);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.err, SQ_ERR_PROTO);
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_PROTO);
    smb2_conn_free(c);

    /* The same through an interim response, which grants credits too. */
    c = conn_new(8, 0);
    echo_roundtrip(c, 2);
    completion_init(&a, 1);
    completion_init(&b, 2);
    ck_assert_int_eq(submit_one(c, SMB2_CHANGE_NOTIFY, 1, 32, 0, false, &a), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &b), 0);
    h = rsp(SMB2_ECHO, 2, 65000);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    h = rsp(SMB2_CHANGE_NOTIFY, 1, 536);
    h.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    h.status = STATUS_PENDING;
    h.async_id = 9;
    ck_assert_int_eq(feed_msg(c, &h, 9), SQ_ERR_PROTO);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.err, SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_credit_request_up_to_target)
{
    struct smb2_conn *c = conn_new(10, 0);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).credits, 10);
    struct smb2_header h = rsp(SMB2_NEGOTIATE, 0, 10);
    ck_assert_int_eq(feed_msg(c, &h, 65), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 10);

    /* At the target: ask only for what the request spends; credits charged by requests in
     * flight count as held. */
    struct completion e, e2;
    completion_init(&e, 1);
    completion_init(&e2, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).credits, 1);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e2), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).credits, 1);
    /* The server grants nothing back: 8 left, so the next asks for its 3 + 2. */
    h = rsp(SMB2_ECHO, 1, 0);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    h = rsp(SMB2_ECHO, 2, 0);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 8);
    completion_init(&e, 1);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 3 * 65536, false, &e), 0);
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.credit_charge, 3);
    ck_assert_uint_eq(h.credits, 3 + 2);
    smb2_conn_free(c);

    /* A huge target is capped per request. */
    c = conn_new(20000, 0);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).credits, 8192);
    smb2_conn_free(c);

    /* The default target is 1024 (60 READs of 1 MiB in flight, src/cli/commands.c). */
    c = conn_new(0, 0);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).credits, 1024);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_submit_invalid)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct smb2_request r;
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(smb2_conn_submit(c, &r, 0), SQ_ERR_INVAL);
    /* A message shorter than a header. */
    memset(&r, 0, sizeof(r));
    r.command = SMB2_ECHO;
    writer_init(&r.msg);
    writer_put_zeros(&r.msg, 10);
    r.cb = record;
    r.arg = &d;
    ck_assert_int_eq(smb2_conn_submit(c, &r, 1), SQ_ERR_INVAL);
    /* A writer in error. */
    uint8_t small[70];
    struct smb2_request r2[2];
    request_build(&r2[0], SMB2_ECHO, 0, 4, 0, false, &d);
    memset(&r2[1], 0, sizeof(r2[1]));
    r2[1].command = SMB2_ECHO;
    writer_init_fixed(&r2[1].msg, small, sizeof(small));
    writer_put_zeros(&r2[1].msg, 71);
    ck_assert_int_eq(smb2_conn_submit(c, r2, 2), SQ_ERR_INVAL);
    ck_assert_int_eq(d.calls, 0);
    assert_no_output(c);
    ck_assert_int_eq(smb2_conn_error(c), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 1);
    smb2_conn_free(c);
    ck_assert_int_eq(d.calls, 0);
}
END_TEST

/* ---- responses ------------------------------------------------------------------------------ */

static void expect_fatal_response(const struct smb2_header *h, size_t body_len, int want)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 3);
    struct completion d[3];
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        ck_assert_int_eq(submit_one(c, i == 2 ? SMB2_READ : SMB2_ECHO, 0, 4, 0, false, &d[i]),
                         0);
    }
    ck_assert_int_eq(feed_msg(c, h, body_len), want);
    ck_assert_int_eq(smb2_conn_error(c), want);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, want);
    }
    ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
    smb2_conn_free(c);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d[i].calls, 1);
}

START_TEST(test_bad_responses_fatal)
{
    struct smb2_header h = rsp(SMB2_ECHO, 9, 1); /* unknown MessageId */
    expect_fatal_response(&h, 4, SQ_ERR_PROTO);
    h = rsp(SMB2_CREATE, 1, 1); /* command mismatch */
    expect_fatal_response(&h, 4, SQ_ERR_PROTO);
    h = rsp(SMB2_ECHO, 3, 1); /* READ answered as ECHO */
    expect_fatal_response(&h, 4, SQ_ERR_PROTO);
    h = rsp(SMB2_ECHO, 1, 1); /* a request, not a response */
    h.flags = 0;
    expect_fatal_response(&h, 4, SQ_ERR_PROTO);
    h = rsp(SMB2_ECHO, 0, 1); /* the already-answered echo_roundtrip */
    expect_fatal_response(&h, 4, SQ_ERR_PROTO);
    /* A truncated header. */
    struct smb2_conn *c = conn_new(8, 0);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct writer w;
    writer_init(&w);
    h = rsp(SMB2_ECHO, 0, 1);
    put_msg(&w, &h, 0);
    ck_assert_int_eq(feed_frame(c, w.data, 63), SQ_ERR_PROTO);
    ck_assert_int_eq(d.calls, 1);
    smb2_conn_free(c);
    /* StructureSize 65 */
    c = conn_new(8, 0);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    w.data[4] = 65;
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_PROTO);
    ck_assert_int_eq(d.err, SQ_ERR_PROTO);
    smb2_conn_free(c);
    writer_free(&w);
}
END_TEST

START_TEST(test_smb1_and_compressed_fatal)
{
    static const uint32_t ids[] = {SMB1_PROTOCOL_ID, SMB2_COMPRESSION_PROTOCOL_ID, 0};
    for (size_t i = 0; i < 3; i++) {
        struct smb2_conn *c = conn_new(8, 0);
        struct completion d;
        completion_init(&d, 0);
        ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
        struct writer w;
        writer_init(&w);
        struct smb2_header h = rsp(SMB2_NEGOTIATE, 0, 1);
        put_msg(&w, &h, 65);
        put32(w.data, ids[i]);
        ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_PROTO);
        ck_assert_int_eq(d.calls, 1);
        ck_assert_int_eq(d.err, SQ_ERR_PROTO);
        writer_free(&w);
        smb2_conn_free(c);
    }
    /* A frame too short for any ProtocolId. */
    struct smb2_conn *c = conn_new(8, 0);
    static const uint8_t tiny[] = {0, 0, 0, 3, 0xfe, 'S', 'M'};
    ck_assert_int_eq(smb2_conn_input(c, tiny, sizeof(tiny)), SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_death_completes_everything_once)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 3);
    struct completion d[6];
    for (int i = 0; i < 6; i++)
        completion_init(&d[i], i);
    /* Three sent, one held back (charge 16), a compound of two behind it. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[i]), 0);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 1 << 20, false, &d[3]), 0);
    struct smb2_request r[2];
    request_build(&r[0], SMB2_CREATE, 1, 57, 0, false, &d[4]);
    request_build(&r[1], SMB2_CLOSE, 1, 24, 0, true, &d[5]);
    ck_assert_int_eq(smb2_conn_submit(c, r, 2), 0);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 3);
    ck_assert(smb2_conn_wants_output(c));
    static const uint8_t garbage[] = {0, 0, 0, 64, 'j', 'u', 'n', 'k'};
    ck_assert_int_eq(smb2_conn_input(c, garbage, sizeof(garbage)), 0); /* incomplete */
    ck_assert_int_eq(smb2_conn_input(c, garbage, sizeof(garbage)), 0);
    uint8_t more[52] = {0};
    ck_assert_int_eq(smb2_conn_input(c, more, sizeof(more)), SQ_ERR_PROTO); /* 64 bytes */
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, SQ_ERR_PROTO);
    }
    ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
    assert_no_output(c);
    /* Everything after death reports the error and calls nothing. */
    ck_assert_int_eq(smb2_conn_input(c, more, 4), SQ_ERR_PROTO);
    struct completion late;
    completion_init(&late, 9);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &late), SQ_ERR_PROTO);
    ck_assert_int_eq(smb2_conn_cancel(c, 1), SQ_ERR_PROTO);
    smb2_conn_fail(c, SQ_ERR_IO);
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_PROTO);
    smb2_conn_free(c);
    ck_assert_int_eq(late.calls, 0);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(d[i].calls, 1);
}
END_TEST

START_TEST(test_fail_completes_everything_once)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 2);
    struct completion d[3];
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[i]), 0);
    }
    ck_assert_uint_eq(smb2_conn_pending_count(c), 2);
    smb2_conn_fail(c, SQ_ERR_IO);
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_IO);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, SQ_ERR_IO);
    }
    assert_no_output(c);
    smb2_conn_fail(c, SQ_ERR_TIMEOUT);
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_IO);
    struct completion late;
    completion_init(&late, 9);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &late), SQ_ERR_IO);
    struct smb2_header h = rsp(SMB2_ECHO, 1, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), SQ_ERR_IO);
    uint8_t *buf;
    size_t cap;
    smb2_conn_input_buffer(c, &buf, &cap);
    ck_assert_int_eq(smb2_conn_input_commit(c, 0), SQ_ERR_IO);
    smb2_conn_free(c);
    ck_assert_int_eq(late.calls, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d[i].calls, 1);

    /* fail(0) means "closed". */
    c = conn_new(8, 0);
    completion_init(&d[0], 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[0]), 0);
    smb2_conn_fail(c, 0);
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_CLOSED);
    ck_assert_int_eq(d[0].err, SQ_ERR_CLOSED);
    smb2_conn_free(c);
    ck_assert_int_eq(d[0].calls, 1);
}
END_TEST

START_TEST(test_callbacks_may_submit)
{
    /* From a completion: the new request goes out. */
    struct smb2_conn *c = conn_new(8, 0);
    struct completion parent, child;
    completion_init(&parent, 0);
    completion_init(&child, 1);
    parent.conn = c;
    parent.submit_echo = true;
    parent.child = &child;
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &parent), 0);
    struct frame f;
    take_frame(c, &f);
    struct smb2_header h = rsp(SMB2_ECHO, 0, 2);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_int_eq(parent.submit_rc, 0);
    ck_assert_uint_eq(child.mid, 1);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).message_id, 1);
    smb2_conn_free(c);
    ck_assert_int_eq(child.calls, 1);
    ck_assert_int_eq(child.err, SQ_ERR_CLOSED);

    /* From a failure: the submit fails and its callback never runs. */
    c = conn_new(8, 0);
    completion_init(&parent, 0);
    completion_init(&child, 1);
    parent.conn = c;
    parent.submit_echo = true;
    parent.child = &child;
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &parent), 0);
    smb2_conn_fail(c, SQ_ERR_TIMEOUT);
    ck_assert_int_eq(parent.calls, 1);
    ck_assert_int_eq(parent.submit_rc, SQ_ERR_TIMEOUT);
    smb2_conn_free(c);
    ck_assert_int_eq(child.calls, 0);
}
END_TEST

START_TEST(test_callback_may_fail_the_connection)
{
    /* A callback that gives up on the connection mid-compound: the rest of the compound is
     * not delivered as responses; every callback still runs exactly once. */
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 3);
    struct completion d[3];
    struct smb2_request r[3];
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        request_build(&r[i], SMB2_ECHO, 0, 4, 0, false, &d[i]);
    }
    d[0].conn = c;
    d[0].fail_with = SQ_ERR_CANCELLED;
    ck_assert_int_eq(smb2_conn_submit(c, r, 3), 0);
    struct writer w;
    static const uint64_t mids[3] = {1, 2, 3};
    static const uint16_t cmds[3] = {SMB2_ECHO, SMB2_ECHO, SMB2_ECHO};
    static const size_t bodies[3] = {4, 4, 4};
    build_chain(&w, mids, cmds, bodies, 3);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_CANCELLED);
    writer_free(&w);
    ck_assert_int_eq(d[0].calls, 1);
    ck_assert_int_eq(d[0].err, 0);
    for (int i = 1; i < 3; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, SQ_ERR_CANCELLED);
    }
    ck_assert_int_eq(smb2_conn_error(c), SQ_ERR_CANCELLED);
    smb2_conn_free(c);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d[i].calls, 1);
}
END_TEST

START_TEST(test_pending_ids_sharing_a_bucket)
{
    /* MessageIds 1 and 1025 (1024 apart) are both pending; each response finds its own. */
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 1100);
    struct completion a, big, b;
    completion_init(&a, 0);
    completion_init(&big, 1);
    completion_init(&b, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &a), 0);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 0, 48, 1023u * 65536, false, &big), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &b), 0);
    ck_assert_uint_eq(a.mid, 1);
    ck_assert_uint_eq(big.mid, 2);
    ck_assert_uint_eq(b.mid, 1025);
    struct smb2_header h = rsp(SMB2_ECHO, 1025, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(a.calls, 0);
    h = rsp(SMB2_READ, 2, 1);
    ck_assert_int_eq(feed_msg(c, &h, 16), 0);
    h = rsp(SMB2_ECHO, 1, 1);
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.err, 0);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_request_too_large_for_a_frame)
{
    /* A request that can never fit the 24-bit frame length (MS-SMB2 2.1) is refused by
     * submit itself: no callback, no message id spent, other requests unaffected. The
     * configured max_frame_len only limits what we accept, not what we send. */
    struct smb2_conn *c = conn_new(8, 4096);
    echo_roundtrip(c, 3);
    struct completion other, big, fits;
    completion_init(&other, 0);
    completion_init(&big, 1);
    completion_init(&fits, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &other), 0);
    ck_assert_int_eq(submit_one(c, SMB2_WRITE, 0, 0x1000000, 0, false, &big), SQ_ERR_INVAL);
    ck_assert_int_eq(big.calls, 0);
    ck_assert_int_eq(smb2_conn_error(c), 0);
    ck_assert_int_eq(submit_one(c, SMB2_WRITE, 0, 5000, 0, false, &fits), 0);
    ck_assert_int_eq(other.calls, 0);
    ck_assert_int_eq(fits.calls, 0);
    smb2_conn_free(c);
    ck_assert_int_eq(other.calls, 1);
    ck_assert_int_eq(fits.calls, 1);
    ck_assert_int_eq(big.calls, 0);
}
END_TEST

/* ---- compounds ------------------------------------------------------------------------------ */

START_TEST(test_compound_request_layout)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 5);
    struct completion d[3];
    struct smb2_request r[3];
    static const size_t bodies[3] = {57, 41, 24}; /* 121 -> 128, 105 -> 112, 88 */
    static const uint16_t cmds[3] = {SMB2_CREATE, SMB2_QUERY_INFO, SMB2_CLOSE};
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        request_build(&r[i], cmds[i], 0x77, bodies[i], 0, i > 0, &d[i]);
    }
    ck_assert_int_eq(smb2_conn_submit(c, r, 3), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(f.len, 128 + 112 + 88);
    static const size_t offs[3] = {0, 128, 240};
    static const uint32_t next[3] = {128, 112, 0};
    for (int i = 0; i < 3; i++) {
        const uint8_t *m = f.data + offs[i];
        struct smb2_header h = decode_at(m, f.len - offs[i]);
        ck_assert_uint_eq(h.command, cmds[i]);
        ck_assert_uint_eq(h.message_id, 1 + (uint64_t)i);
        ck_assert_uint_eq(d[i].mid, 1 + (uint64_t)i);
        ck_assert_uint_eq(h.next_command, next[i]);
        ck_assert_uint_eq(h.flags, i ? SMB2_FLAGS_RELATED_OPERATIONS : 0);
        ck_assert_uint_eq(h.tree_id, 0x77);
        ck_assert_uint_eq(h.credit_charge, 1);
        for (size_t k = 0; k < bodies[i]; k++)
            ck_assert_uint_eq(m[SMB2_HEADER_SIZE + k], body_byte(cmds[i], k));
        size_t end = i < 2 ? next[i] : 88;
        for (size_t k = SMB2_HEADER_SIZE + bodies[i]; k < end; k++)
            ck_assert_uint_eq(m[k], 0); /* padding */
    }
    ck_assert_uint_eq(smb2_conn_credits(c), 2);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 3);
    ck_assert_uint_eq(smb2_conn_sent_count(c, SMB2_QUERY_INFO), 1);

    /* A compound is held back whole until its total charge is available. */
    struct completion e[3];
    for (int i = 0; i < 3; i++) {
        completion_init(&e[i], 10 + i);
        request_build(&r[i], SMB2_ECHO, 0, 4, 0, false, &e[i]);
    }
    ck_assert_int_eq(smb2_conn_submit(c, r, 3), 0);
    assert_no_output(c);
    struct smb2_header h = rsp(SMB2_CREATE, 1, 1);
    ck_assert_int_eq(feed_msg(c, &h, 89), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(f.len, 72 + 72 + 68);
    ck_assert_uint_eq(decode_at(f.data + 144, 68).message_id, 6);
    smb2_conn_free(c);
}
END_TEST

static struct smb2_conn *compound_setup(struct completion d[3])
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 5);
    struct smb2_request r[3];
    static const uint16_t cmds[3] = {SMB2_CREATE, SMB2_QUERY_INFO, SMB2_CLOSE};
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        request_build(&r[i], cmds[i], 3, 24, 0, i > 0, &d[i]);
    }
    ck_assert_int_eq(smb2_conn_submit(c, r, 3), 0);
    struct frame f;
    take_frame(c, &f);
    return c;
}

static const uint64_t chain_mids[3] = {1, 2, 3};
static const uint16_t chain_cmds[3] = {SMB2_CREATE, SMB2_QUERY_INFO, SMB2_CLOSE};

START_TEST(test_compound_response_split)
{
    struct completion d[3];
    struct smb2_conn *c = compound_setup(d);
    static const size_t bodies[3] = {89, 17, 61}; /* 153 -> 160, 81 -> 88, 125 */
    struct writer w;
    build_chain(&w, chain_mids, chain_cmds, bodies, 3);
    ck_assert_uint_eq(w.len, 160 + 88 + 125);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    static const size_t lens[3] = {160, 88, 125};
    static const size_t offs[3] = {0, 160, 248};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, 0);
        ck_assert_uint_eq(d[i].len, lens[i]);
        ck_assert_mem_eq(d[i].msg, w.data + offs[i], lens[i]);
        ck_assert_uint_eq(d[i].hdr.command, chain_cmds[i]);
    }
    ck_assert_int_eq(order_log[0], 0);
    ck_assert_int_eq(order_log[1], 1);
    ck_assert_int_eq(order_log[2], 2);
    ck_assert_uint_eq(smb2_conn_credits(c), 2 + 3);
    writer_free(&w);
    smb2_conn_free(c);
}
END_TEST

/* Patches message 0's NextCommand and expects the connection to die; `delivered` responses
 * complete normally first. */
static void compound_bad_next(uint32_t next_command, int delivered)
{
    struct completion d[3];
    struct smb2_conn *c = compound_setup(d);
    static const size_t bodies[3] = {89, 17, 61};
    struct writer w;
    build_chain(&w, chain_mids, chain_cmds, bodies, 3);
    put32(w.data + SMB2_HDR_OFF_NEXT_COMMAND, next_command);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_PROTO);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(d[i].calls, 1);
        ck_assert_int_eq(d[i].err, i < delivered ? 0 : SQ_ERR_PROTO);
    }
    writer_free(&w);
    smb2_conn_free(c);
}

START_TEST(test_compound_bad_next_command)
{
    compound_bad_next(156, 0);         /* not 8-aligned */
    compound_bad_next(161, 0);         /* not 8-aligned */
    compound_bad_next(56, 0);          /* < 64 (would point inside the header) */
    compound_bad_next(8, 0);
    compound_bad_next(376, 0);         /* beyond the frame (373 bytes) */
    compound_bad_next(0xFFFFFFF8u, 0); /* far beyond */
    compound_bad_next(320, 1);         /* 53 bytes left: no room for a header */
    compound_bad_next(64, 1);          /* aligned, in range, but lands mid-message: no header */
}
END_TEST

START_TEST(test_compound_exact_end)
{
    /* NextCommand equal to the remaining length leaves nothing for the next header. */
    struct completion d[3];
    struct smb2_conn *c = compound_setup(d);
    static const size_t bodies[1] = {24};
    struct writer w;
    build_chain(&w, chain_mids, chain_cmds, bodies, 1);
    put32(w.data + SMB2_HDR_OFF_NEXT_COMMAND, (uint32_t)w.len); /* 88 */
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_PROTO);
    ck_assert_int_eq(d[0].err, 0);
    ck_assert_int_eq(d[1].err, SQ_ERR_PROTO);
    writer_free(&w);
    smb2_conn_free(c);
}
END_TEST

/* ---- interim responses and cancel ----------------------------------------------------------- */

START_TEST(test_interim_then_final)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 2);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_CHANGE_NOTIFY, 4, 32, 65536, false, &d), 0);
    ck_assert_uint_eq(d.mid, 1);
    ck_assert_uint_eq(smb2_conn_credits(c), 1);
    struct smb2_header h = rsp(SMB2_CHANGE_NOTIFY, 1, 5);
    h.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    h.status = STATUS_PENDING;
    h.async_id = 0x1122334455667788ull;
    ck_assert_int_eq(feed_msg(c, &h, 9), 0);
    ck_assert_int_eq(d.calls, 0);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 1);
    ck_assert_uint_eq(smb2_conn_credits(c), 6);
    /* A second interim is harmless. */
    h.credits = 0;
    ck_assert_int_eq(feed_msg(c, &h, 9), 0);
    ck_assert_int_eq(d.calls, 0);

    h.status = STATUS_SUCCESS;
    h.credits = 1;
    ck_assert_int_eq(feed_msg(c, &h, 8 + 40), 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert_uint_eq(d.hdr.status, STATUS_SUCCESS);
    ck_assert_uint_eq(d.hdr.async_id, 0x1122334455667788ull);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), 7);
    /* The request is gone: another final response is fatal. */
    ck_assert_int_eq(feed_msg(c, &h, 8), SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_sync_pending_is_final)
{
    /* STATUS_PENDING without the ASYNC flag is not an interim response. */
    struct smb2_conn *c = conn_new(8, 0);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct smb2_header h = rsp(SMB2_ECHO, 0, 1);
    h.status = STATUS_PENDING;
    ck_assert_int_eq(feed_msg(c, &h, 4), 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_uint_eq(d.hdr.status, STATUS_PENDING);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_cancel)
{
    struct smb2_conn *c = conn_new(8, 0);
    echo_roundtrip(c, 3);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_CHANGE_NOTIFY, 4, 32, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    uint32_t credits = smb2_conn_credits(c);
    ck_assert_uint_eq(credits, 2);

    ck_assert_int_eq(smb2_conn_cancel(c, 77), SQ_ERR_INVAL);
    assert_no_output(c);

    /* Before the interim: by MessageId. */
    ck_assert_int_eq(smb2_conn_cancel(c, 1), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(f.len, SMB2_HEADER_SIZE + 4);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_CANCEL);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_uint_eq(h.message_id, 1);
    ck_assert_uint_eq(h.credit_charge, 0);
    ck_assert_uint_eq(h.credits, 0);
    ck_assert_uint_eq(get16(f.data + SMB2_HEADER_SIZE), 4);
    ck_assert_uint_eq(get16(f.data + SMB2_HEADER_SIZE + 2), 0);
    ck_assert_uint_eq(smb2_conn_credits(c), credits);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 1);
    ck_assert_uint_eq(smb2_conn_sent_count(c, SMB2_CANCEL), 1);

    /* After the interim: the AsyncId with the ASYNC flag; the MessageId stays the request's
     * (Samba's GMAC verification of a signed CANCEL needs it). */
    struct smb2_header r = rsp(SMB2_CHANGE_NOTIFY, 1, 1);
    r.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    r.status = STATUS_PENDING;
    r.async_id = 0xabcdef0123ull;
    ck_assert_int_eq(feed_msg(c, &r, 9), 0);
    credits = smb2_conn_credits(c);
    ck_assert_int_eq(smb2_conn_cancel(c, 1), 0);
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.command, SMB2_CANCEL);
    ck_assert_uint_eq(h.flags, SMB2_FLAGS_ASYNC_COMMAND);
    ck_assert_uint_eq(h.async_id, 0xabcdef0123ull);
    ck_assert_uint_eq(h.message_id, 1);
    ck_assert_uint_eq(h.credit_charge, 0);
    ck_assert_uint_eq(smb2_conn_credits(c), credits);
    ck_assert_uint_eq(smb2_conn_sent_count(c, SMB2_CANCEL), 2);

    /* Cancel consumed no MessageId. */
    struct completion e;
    completion_init(&e, 1);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e), 0);
    ck_assert_uint_eq(e.mid, 2);

    r.status = STATUS_CANCELLED;
    ck_assert_int_eq(feed_msg(c, &r, 9), 0);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert_uint_eq(d.hdr.status, STATUS_CANCELLED);
    ck_assert_int_eq(smb2_conn_cancel(c, 1), SQ_ERR_INVAL);
    smb2_conn_free(c);
}
END_TEST

/* ---- signing -------------------------------------------------------------------------------- */

START_TEST(test_signing_gmac_311)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_CREATE, 5, 57, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.message_id, 3);
    ck_assert_uint_eq(h.session_id, TEST_SESSION_ID);
    ck_assert_uint_eq(h.flags, SMB2_FLAGS_SIGNED);
    assert_signed(&s, f.data, f.len);
    /* The same signature under the server role does not match: the role bit is in the nonce. */
    uint8_t wrong[16];
    compute_signature(&s, f.data, f.len, 1, wrong);
    ck_assert(memcmp(wrong, f.data + SMB2_HDR_OFF_SIGNATURE, 16) != 0);

    /* A correctly signed response completes and is marked signed. */
    struct smb2_header r = rsp(SMB2_CREATE, 3, 1);
    r.session_id = TEST_SESSION_ID;
    struct writer w;
    build_rsp(&w, &s, &r, 89, true);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, 0);
    ck_assert(d.was_signed);
    ck_assert(!d.was_encrypted);

    /* Cancel is signed with the CANCEL role bit. */
    completion_init(&d, 1);
    ck_assert_int_eq(submit_one(c, SMB2_CHANGE_NOTIFY, 5, 32, 0, false, &d), 0);
    take_frame(c, &f);
    assert_signed(&s, f.data, f.len);
    ck_assert_int_eq(smb2_conn_cancel(c, 4), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).command, SMB2_CANCEL);
    assert_signed(&s, f.data, f.len);
    compute_signature(&s, f.data, f.len, 0, wrong);
    ck_assert(memcmp(wrong, f.data + SMB2_HDR_OFF_SIGNATURE, 16) != 0);

    /* An unsigned interim response is accepted (MS-SMB2 3.2.5.1.3 skips STATUS_PENDING). */
    r = rsp(SMB2_CHANGE_NOTIFY, 4, 1);
    r.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    r.status = STATUS_PENDING;
    r.async_id = 5;
    r.session_id = TEST_SESSION_ID;
    ck_assert_int_eq(feed_msg(c, &r, 9), 0);
    ck_assert_int_eq(d.calls, 0);
    /* The async CANCEL is signed too, over its MessageId with the CANCEL role bit. */
    ck_assert_int_eq(smb2_conn_cancel(c, 4), 0);
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.flags, SMB2_FLAGS_ASYNC_COMMAND | SMB2_FLAGS_SIGNED);
    ck_assert_uint_eq(h.async_id, 5);
    ck_assert_uint_eq(h.message_id, 4);
    assert_signed(&s, f.data, f.len);
    /* The signed final response under the role bit of a client message is refused. */
    r.status = STATUS_CANCELLED;
    build_rsp(&w, &s, &r, 9, false);
    server_sign(&s, w.data, w.len, 0);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_SIGNATURE);
    writer_free(&w);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, SQ_ERR_SIGNATURE);
    server_free(&s);
    smb2_conn_free(c);

    /* NEGOTIATE is never signed (MS-SMB2 3.2.4.1.1), even on a signing session. */
    c = conn_new(8, 0);
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36, 0, false, &d), 0);
    take_frame(c, &f);
    h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_uint_eq(h.session_id, 0);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_signing_cmac_302)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0302, CRYPTO_CIPHER_AES_128_CCM, CRYPTO_SIGN_AES_CMAC, 16,
              false);
    /* A signed compound: each member's signature covers its padding (up to NextCommand). */
    struct completion d[2];
    struct smb2_request r[2];
    completion_init(&d[0], 0);
    completion_init(&d[1], 1);
    request_build(&r[0], SMB2_CREATE, 5, 57, 0, false, &d[0]);
    request_build(&r[1], SMB2_CLOSE, 5, 24, 0, true, &d[1]);
    ck_assert_int_eq(smb2_conn_submit(c, r, 2), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(f.len, 128 + 88);
    ck_assert_uint_eq(get32(f.data + SMB2_HDR_OFF_FLAGS), SMB2_FLAGS_SIGNED);
    ck_assert_uint_eq(get32(f.data + 128 + SMB2_HDR_OFF_FLAGS),
                      SMB2_FLAGS_SIGNED | SMB2_FLAGS_RELATED_OPERATIONS);
    assert_signed(&s, f.data, 128);
    assert_signed(&s, f.data + 128, 88);

    /* A signed compound response: each member verified over its own span. */
    struct writer w;
    static const size_t bodies[2] = {89, 60};
    static const uint64_t mids[2] = {3, 4};
    static const uint16_t cmds[2] = {SMB2_CREATE, SMB2_CLOSE};
    build_chain(&w, mids, cmds, bodies, 2);
    server_sign(&s, w.data, 160, 1);
    server_sign(&s, w.data + 160, w.len - 160, 1);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    ck_assert(d[0].was_signed);
    ck_assert(d[1].was_signed);
    ck_assert_int_eq(d[1].err, 0);
    writer_free(&w);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

static void signing_reject(bool sign, bool tamper, int want)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_READ, 5, 48, 1000, false, &d), 0);
    struct smb2_header r = rsp(SMB2_READ, 3, 1);
    r.session_id = TEST_SESSION_ID;
    struct writer w;
    build_rsp(&w, &s, &r, 16 + 1000, sign);
    if (tamper)
        w.data[w.len - 1] ^= 0x01; /* one data byte */
    ck_assert_int_eq(feed_frame(c, w.data, w.len), want);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, want);
    writer_free(&w);
    server_free(&s);
    smb2_conn_free(c);
}

START_TEST(test_signing_rejects)
{
    signing_reject(true, true, SQ_ERR_SIGNATURE);   /* bad signature */
    signing_reject(false, false, SQ_ERR_SIGNATURE); /* unsigned on a signing session */
}
END_TEST

START_TEST(test_signed_flag_without_policy)
{
    /* Keys but no signing policy: an unsigned response passes, a signed one must verify. */
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    smb2_conn_session_set_policy(c, false, false);
    struct completion d[2];
    completion_init(&d[0], 0);
    completion_init(&d[1], 1);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[0]), 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d[1]), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(decode_at(f.data, f.len).flags, 0); /* not signed */
    struct smb2_header r = rsp(SMB2_ECHO, 3, 1);
    ck_assert_int_eq(feed_msg(c, &r, 4), 0);
    ck_assert_int_eq(d[0].calls, 1);
    ck_assert(!d[0].was_signed);
    r = rsp(SMB2_ECHO, 4, 1);
    r.flags |= SMB2_FLAGS_SIGNED;
    memset(r.signature, 0x33, 16);
    ck_assert_int_eq(feed_msg(c, &r, 4), SQ_ERR_SIGNATURE);
    ck_assert_int_eq(d[1].err, SQ_ERR_SIGNATURE);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_oplock_break)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    struct break_log b = {0};
    smb2_conn_set_break_callback(c, on_break, &b);
    uint32_t credits = smb2_conn_credits(c);

    struct smb2_header r = rsp(SMB2_OPLOCK_BREAK, BREAK_MESSAGE_ID, 0);
    r.credit_charge = 0;
    ck_assert_int_eq(feed_msg(c, &r, 24), 0); /* unsigned: accepted */
    ck_assert_int_eq(b.calls, 1);
    ck_assert_uint_eq(b.hdr.message_id, BREAK_MESSAGE_ID);
    ck_assert_uint_eq(b.hdr.command, SMB2_OPLOCK_BREAK);
    ck_assert_uint_eq(b.len, SMB2_HEADER_SIZE + 24);
    ck_assert(!b.was_signed);

    struct writer w;
    build_rsp(&w, &s, &r, 44, true); /* a signed lease break */
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    ck_assert_int_eq(b.calls, 2);
    ck_assert(b.was_signed);
    ck_assert_uint_eq(b.len, SMB2_HEADER_SIZE + 44);
    ck_assert_uint_eq(smb2_conn_credits(c), credits);
    ck_assert_uint_eq(smb2_conn_pending_count(c), 0);

    w.data[SMB2_HEADER_SIZE + 3] ^= 0x80; /* signed but altered */
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_SIGNATURE);
    ck_assert_int_eq(b.calls, 2);
    writer_free(&w);
    server_free(&s);
    smb2_conn_free(c);

    /* Without a break callback the notification is dropped; MessageId all ones on another
     * command is fatal. */
    c = conn_new(8, 0);
    r = rsp(SMB2_OPLOCK_BREAK, BREAK_MESSAGE_ID, 0);
    ck_assert_int_eq(feed_msg(c, &r, 24), 0);
    r.command = SMB2_ECHO;
    ck_assert_int_eq(feed_msg(c, &r, 24), SQ_ERR_PROTO);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_verify_reply)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    /* SESSION_SETUP responses pass the connection unverified; the client layer checks them
     * with smb2_conn_verify_reply, from inside the callback here. */
    struct completion d[3];
    for (int i = 0; i < 3; i++) {
        completion_init(&d[i], i);
        d[i].conn = c;
        d[i].verify = true;
        ck_assert_int_eq(submit_one(c, SMB2_SESSION_SETUP, 0, 24, 0, false, &d[i]), 0);
    }
    struct smb2_header r = rsp(SMB2_SESSION_SETUP, 3, 1);
    r.session_id = TEST_SESSION_ID;
    struct writer w;
    build_rsp(&w, &s, &r, 8, true);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d[0].verify_rc, 0);
    r.message_id = 4;
    build_rsp(&w, &s, &r, 8, true);
    w.data[SMB2_HEADER_SIZE] ^= 1;
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d[1].verify_rc, SQ_ERR_SIGNATURE);
    ck_assert_uint_eq(d[1].msg[SMB2_HEADER_SIZE], 9 ^ 1); /* the reply was left intact */
    r.message_id = 5;
    ck_assert_int_eq(feed_msg(c, &r, 8), 0);
    ck_assert_int_eq(d[2].verify_rc, SQ_ERR_SIGNATURE);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

/* ---- encryption ----------------------------------------------------------------------------- */

static void encryption_roundtrip(uint16_t dialect, enum crypto_cipher cipher,
                                 enum crypto_signing_alg alg, size_t key_len)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, dialect, cipher, alg, key_len, true);
    struct completion d[2];
    completion_init(&d[0], 0);
    completion_init(&d[1], 1);
    ck_assert_int_eq(submit_one(c, SMB2_CREATE, 5, 57, 0, false, &d[0]), 0);
    ck_assert_int_eq(submit_one(c, SMB2_WRITE, 5, 48 + 1000, 0, false, &d[1]), 0);
    struct frame f1, f2;
    take_frame(c, &f1);
    take_frame(c, &f2);
    uint8_t plain[FRAME_CAP];
    size_t n = server_open(&s, f1.data, f1.len, plain);
    ck_assert_uint_eq(n, SMB2_HEADER_SIZE + 57);
    struct smb2_header h = decode_at(plain, n);
    ck_assert_uint_eq(h.command, SMB2_CREATE);
    ck_assert_uint_eq(h.message_id, 3);
    ck_assert_uint_eq(h.session_id, TEST_SESSION_ID);
    ck_assert_uint_eq(h.flags, 0); /* encrypted messages are not signed */
    static const uint8_t zero[16];
    ck_assert_mem_eq(h.signature, zero, 16);
    for (size_t i = 0; i < 57; i++)
        ck_assert_uint_eq(plain[SMB2_HEADER_SIZE + i], body_byte(SMB2_CREATE, i));
    n = server_open(&s, f2.data, f2.len, plain);
    ck_assert_uint_eq(n, SMB2_HEADER_SIZE + 1048);
    ck_assert_uint_eq(decode_at(plain, n).message_id, 4);
    /* Nonces never repeat. */
    ck_assert(memcmp(f1.data + 20, f2.data + 20, 16) != 0);

    /* Encrypted responses, the second as a two-message compound. */
    struct writer w;
    struct smb2_header r = rsp(SMB2_CREATE, 3, 1);
    r.session_id = TEST_SESSION_ID;
    build_rsp(&w, &s, &r, 89, false);
    ck_assert_int_eq(feed_sealed(c, &s, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d[0].calls, 1);
    ck_assert_int_eq(d[0].err, 0);
    ck_assert(d[0].was_encrypted);
    ck_assert(!d[0].was_signed);
    ck_assert_uint_eq(d[0].len, SMB2_HEADER_SIZE + 89);

    struct completion e;
    completion_init(&e, 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e), 0);
    take_frame(c, &f1);
    ck_assert_uint_eq(get32(f1.data), SMB2_TRANSFORM_PROTOCOL_ID);
    static const size_t bodies[2] = {17, 4};
    static const uint64_t mids[2] = {4, 5};
    static const uint16_t cmds[2] = {SMB2_WRITE, SMB2_ECHO};
    build_chain(&w, mids, cmds, bodies, 2);
    ck_assert_int_eq(feed_sealed(c, &s, w.data, w.len), 0);
    writer_free(&w);
    ck_assert_int_eq(d[1].calls, 1);
    ck_assert(d[1].was_encrypted);
    ck_assert_uint_eq(d[1].len, 88);
    ck_assert_int_eq(e.calls, 1);
    ck_assert(e.was_encrypted);
    ck_assert_uint_eq(e.len, SMB2_HEADER_SIZE + 4);

    /* SESSION_SETUP (re-authentication) is never encrypted, but is signed. */
    completion_init(&e, 3);
    ck_assert_int_eq(submit_one(c, SMB2_SESSION_SETUP, 0, 24, 0, false, &e), 0);
    take_frame(c, &f1);
    ck_assert_uint_eq(get32(f1.data), SMB2_PROTOCOL_ID);
    assert_signed(&s, f1.data, f1.len);
    /* ... and its plaintext response is accepted (the client layer verifies it). */
    r = rsp(SMB2_SESSION_SETUP, 6, 1);
    r.session_id = TEST_SESSION_ID;
    ck_assert_int_eq(feed_msg(c, &r, 8), 0);
    ck_assert_int_eq(e.calls, 1);
    ck_assert_int_eq(e.err, 0);

    /* Cancel goes out encrypted too. */
    completion_init(&e, 4);
    ck_assert_int_eq(submit_one(c, SMB2_CHANGE_NOTIFY, 5, 32, 0, false, &e), 0);
    take_frame(c, &f1);
    ck_assert_int_eq(smb2_conn_cancel(c, 7), 0);
    take_frame(c, &f1);
    n = server_open(&s, f1.data, f1.len, plain);
    ck_assert_uint_eq(n, SMB2_HEADER_SIZE + 4);
    h = decode_at(plain, n);
    ck_assert_uint_eq(h.command, SMB2_CANCEL);
    ck_assert_uint_eq(h.message_id, 7);
    ck_assert_uint_eq(h.flags, 0);
    server_free(&s);
    smb2_conn_free(c);
}

START_TEST(test_encryption_302_ccm)
{
    encryption_roundtrip(SMB2_DIALECT_0302, CRYPTO_CIPHER_AES_128_CCM, CRYPTO_SIGN_AES_CMAC, 16);
}
END_TEST

START_TEST(test_encryption_311_gcm)
{
    encryption_roundtrip(SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16);
}
END_TEST

START_TEST(test_encryption_311_aes256)
{
    /* The 256-bit ciphers take the full session key (MS-SMB2 3.2.5.3.1). */
    encryption_roundtrip(SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_256_GCM, CRYPTO_SIGN_AES_GMAC, 32);
    encryption_roundtrip(SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_256_CCM, CRYPTO_SIGN_AES_CMAC, 32);
}
END_TEST

enum tamper {
    TAMPER_SIZE_PLUS,
    TAMPER_SIZE_MINUS,
    TAMPER_SIZE_HUGE,
    TAMPER_SESSION,
    TAMPER_OTHER_SESSION,
    TAMPER_TAG,
    TAMPER_CIPHERTEXT,
    TAMPER_NONCE,
    TAMPER_FLAGS,
    TAMPER_TRUNCATE,
    TAMPER_SHORT_PLAIN,
};

static void encrypted_reject(enum tamper t, int want)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              true);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct writer w;
    struct smb2_header r = rsp(SMB2_ECHO, 3, 1);
    r.session_id = TEST_SESSION_ID;
    build_rsp(&w, &s, &r, 4, false);
    size_t plain_len = t == TAMPER_SHORT_PLAIN ? 60 : w.len;
    uint8_t frame[256];
    if (t == TAMPER_OTHER_SESSION)
        s.session_id++; /* correctly sealed, but for a session we do not have */
    size_t n = server_seal(&s, w.data, plain_len, frame);
    writer_free(&w);
    switch (t) {
    case TAMPER_SIZE_PLUS: put32(frame + 36, get32(frame + 36) + 1); break;
    case TAMPER_SIZE_MINUS: put32(frame + 36, get32(frame + 36) - 1); break;
    case TAMPER_SIZE_HUGE: put32(frame + 36, 0xFFFFFFFFu); break;
    case TAMPER_SESSION: put64(frame + 44, TEST_SESSION_ID + 1); break;
    case TAMPER_OTHER_SESSION: break;
    case TAMPER_TAG: frame[4 + 15] ^= 0x01; break;
    case TAMPER_CIPHERTEXT: frame[SMB2_TRANSFORM_HEADER_SIZE + 5] ^= 0x10; break;
    case TAMPER_NONCE: frame[20] ^= 0x01; break;
    case TAMPER_FLAGS: frame[42] = 0; break;
    case TAMPER_TRUNCATE: n = 40; break;
    case TAMPER_SHORT_PLAIN: break;
    }
    ck_assert_int_eq(feed_frame(c, frame, n), want);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, want);
    ck_assert_int_eq(smb2_conn_error(c), want);
    server_free(&s);
    smb2_conn_free(c);
}

START_TEST(test_encryption_rejects)
{
    /* OriginalMessageSize must equal what follows (CVE-2024-0565). */
    encrypted_reject(TAMPER_SIZE_PLUS, SQ_ERR_PROTO);
    encrypted_reject(TAMPER_SIZE_MINUS, SQ_ERR_PROTO);
    encrypted_reject(TAMPER_SIZE_HUGE, SQ_ERR_PROTO);
    encrypted_reject(TAMPER_SESSION, SQ_ERR_DECRYPT);
    encrypted_reject(TAMPER_OTHER_SESSION, SQ_ERR_DECRYPT);
    encrypted_reject(TAMPER_TAG, SQ_ERR_DECRYPT);
    encrypted_reject(TAMPER_CIPHERTEXT, SQ_ERR_DECRYPT);
    encrypted_reject(TAMPER_NONCE, SQ_ERR_DECRYPT);
    encrypted_reject(TAMPER_FLAGS, SQ_ERR_PROTO);
    encrypted_reject(TAMPER_TRUNCATE, SQ_ERR_PROTO);
    encrypted_reject(TAMPER_SHORT_PLAIN, SQ_ERR_PROTO);
}
END_TEST

START_TEST(test_plaintext_on_encrypting_session)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              true);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct writer w;
    struct smb2_header r = rsp(SMB2_ECHO, 3, 1);
    r.session_id = TEST_SESSION_ID;
    build_rsp(&w, &s, &r, 4, true); /* even correctly signed */
    ck_assert_int_eq(feed_frame(c, w.data, w.len), SQ_ERR_DECRYPT);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_int_eq(d.err, SQ_ERR_DECRYPT);
    writer_free(&w);
    server_free(&s);
    smb2_conn_free(c);

    /* An encrypted frame before any keys exist. */
    c = conn_new(8, 0);
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    uint8_t frame[52 + 68] = {0};
    put32(frame, SMB2_TRANSFORM_PROTOCOL_ID);
    put32(frame + 36, 68);
    frame[42] = 1;
    ck_assert_int_eq(feed_frame(c, frame, sizeof(frame)), SQ_ERR_DECRYPT);
    ck_assert_int_eq(d.err, SQ_ERR_DECRYPT);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_tree_encryption)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              false);
    ck_assert_int_eq(smb2_conn_tree_set_encrypt(c, 7, true), 0);
    ck_assert_int_eq(smb2_conn_tree_set_encrypt(c, 8, false), 0);
    struct completion d[4];
    for (int i = 0; i < 4; i++)
        completion_init(&d[i], i);
    ck_assert_int_eq(submit_one(c, SMB2_CREATE, 7, 57, 0, false, &d[0]), 0);
    ck_assert_int_eq(submit_one(c, SMB2_CREATE, 8, 57, 0, false, &d[1]), 0);
    struct smb2_request r[2];
    request_build(&r[0], SMB2_CREATE, 8, 57, 0, false, &d[2]);
    request_build(&r[1], SMB2_CLOSE, 7, 24, 0, true, &d[3]);
    ck_assert_int_eq(smb2_conn_submit(c, r, 2), 0);
    struct frame f;
    uint8_t plain[FRAME_CAP];
    take_frame(c, &f);
    ck_assert_uint_eq(server_open(&s, f.data, f.len, plain), SMB2_HEADER_SIZE + 57);
    ck_assert_uint_eq(decode_at(plain, SMB2_HEADER_SIZE).tree_id, 7);
    take_frame(c, &f);
    ck_assert_uint_eq(get32(f.data), SMB2_PROTOCOL_ID);
    assert_signed(&s, f.data, f.len);
    /* A compound with one member on an encrypted tree is encrypted whole. */
    take_frame(c, &f);
    ck_assert_uint_eq(server_open(&s, f.data, f.len, plain), 128 + 88);
    ck_assert_uint_eq(get32(plain + SMB2_HDR_OFF_FLAGS), 0);
    ck_assert_uint_eq(get32(plain + 128 + SMB2_HDR_OFF_FLAGS), SMB2_FLAGS_RELATED_OPERATIONS);
    /* Turning the tree's encryption off again. */
    ck_assert_int_eq(smb2_conn_tree_set_encrypt(c, 7, false), 0);
    struct completion e;
    completion_init(&e, 9);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 7, 4, 0, false, &e), 0);
    take_frame(c, &f);
    ck_assert_uint_eq(get32(f.data), SMB2_PROTOCOL_ID);
    /* Encrypted responses are accepted on a session that does not require them. */
    struct writer w;
    struct smb2_header h = rsp(SMB2_CREATE, 3, 1);
    h.session_id = TEST_SESSION_ID;
    build_rsp(&w, &s, &h, 89, false);
    ck_assert_int_eq(feed_sealed(c, &s, w.data, w.len), 0);
    ck_assert(d[0].was_encrypted);
    writer_free(&w);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_session_end_drops_keys)
{
    struct smb2_conn *c = conn_new(8, 0);
    struct server s;
    establish(c, &s, SMB2_DIALECT_0311, CRYPTO_CIPHER_AES_128_GCM, CRYPTO_SIGN_AES_GMAC, 16,
              true);
    smb2_conn_session_end(c);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    struct smb2_header h = decode_at(f.data, f.len);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_uint_eq(get32(f.data), SMB2_PROTOCOL_ID);
    server_free(&s);
    smb2_conn_free(c);
}
END_TEST

START_TEST(test_session_keys_invalid)
{
    struct smb2_conn *c = conn_new(8, 0);
    ck_assert_int_eq(smb2_conn_session_keys(c, session_key, 16), SQ_ERR_INVAL); /* no NEGOTIATE */
    struct smb2_negotiated n = {.dialect = SMB2_DIALECT_0311,
                                .signing_alg = CRYPTO_SIGN_AES_GMAC,
                                .cipher = CRYPTO_CIPHER_AES_128_GCM};
    smb2_conn_set_negotiated(c, &n);
    ck_assert_ptr_nonnull(smb2_conn_negotiated(c));
    ck_assert_uint_eq(smb2_conn_negotiated(c)->dialect, SMB2_DIALECT_0311);
    ck_assert_int_eq(smb2_conn_session_keys(c, session_key, 15), SQ_ERR_INVAL);
    n.dialect = SMB2_DIALECT_0210;
    smb2_conn_set_negotiated(c, &n);
    ck_assert_int_eq(smb2_conn_session_keys(c, session_key, 16), SQ_ERR_UNSUPPORTED);
    /* Failed key setup leaves requests unsigned. */
    smb2_conn_session_set_policy(c, true, true);
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_uint_eq(get32(f.data), SMB2_PROTOCOL_ID);
    ck_assert_uint_eq(decode_at(f.data, f.len).flags, 0);
    smb2_conn_free(c);
}
END_TEST

/* ---- pre-auth hash -------------------------------------------------------------------------- */

START_TEST(test_preauth_hash)
{
    struct smb2_conn *c = conn_new(8, 0);
    uint8_t want[CRYPTO_PREAUTH_HASH_SIZE] = {0};
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), want, sizeof(want));
    struct completion d;
    completion_init(&d, 0);
    ck_assert_int_eq(submit_one(c, SMB2_NEGOTIATE, 0, 36 + 4, 0, false, &d), 0);
    struct frame f;
    take_frame(c, &f);
    ck_assert_int_eq(crypto_preauth_update(want, f.data, f.len), 0);
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), want, sizeof(want));
    struct writer w;
    writer_init(&w);
    struct smb2_header h = rsp(SMB2_NEGOTIATE, 0, 8);
    put_msg(&w, &h, 65 + 56);
    ck_assert_int_eq(crypto_preauth_update(want, w.data, w.len), 0);
    ck_assert_int_eq(feed_frame(c, w.data, w.len), 0);
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), want, sizeof(want));
    writer_free(&w);

    /* Other commands, and SESSION_SETUP, leave the connection hash alone. */
    smb2_conn_session_begin(c);
    struct completion e[2];
    completion_init(&e[0], 1);
    completion_init(&e[1], 2);
    ck_assert_int_eq(submit_one(c, SMB2_ECHO, 0, 4, 0, false, &e[0]), 0);
    ck_assert_int_eq(submit_one(c, SMB2_SESSION_SETUP, 0, 30, 0, false, &e[1]), 0);
    h = rsp(SMB2_SESSION_SETUP, 2, 1);
    h.status = STATUS_MORE_PROCESSING_REQUIRED;
    ck_assert_int_eq(feed_msg(c, &h, 8), 0);
    ck_assert_mem_eq(smb2_conn_preauth_hash(c), want, sizeof(want));
    smb2_conn_free(c);
}
END_TEST

/* ---- fuzz seed corpora (SMBQUIC_FUZZ_SEED_DIR) ----------------------------------------------- */

static void write_seed(const char *dir, const char *target, const char *name, const uint8_t *p,
                       size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Appends a framed message to the stream writer. */
static void stream_put(struct writer *stream, const uint8_t *msg, size_t len)
{
    writer_put_u8(stream, 0);
    writer_put_be24(stream, (uint32_t)len);
    writer_put_bytes(stream, msg, len);
}

static void stream_put_rsp(struct writer *stream, const struct smb2_header *h, size_t body_len)
{
    struct writer m;
    writer_init(&m);
    put_msg(&m, h, body_len);
    stream_put(stream, m.data, m.len);
    writer_free(&m);
}

/* conn_receive seeds: byte 0 selects the mode, bytes 1-2 a split point, then the server's
 * byte stream (see tests/fuzz/fuzz_conn_receive.c). After its fixed NEGOTIATE exchange these
 * are pending: ECHO 1, CREATE 2, READ 3 (charge 16), compound CREATE 19 / QUERY_INFO 20 /
 * CLOSE 21, CHANGE_NOTIFY 22; the ECHO's completion submits ECHO 23. Mode 4 is a 3.0.2 session
 * signed with AES-CMAC under the session key 00..0f. */
static void conn_receive_stream(struct writer *s, uint8_t mode, struct server *signer)
{
    writer_init(s);
    writer_put_u8(s, mode);
    writer_put_le16(s, 0x8000); /* split point 0x0080 (big-endian) */
    const struct {
        uint16_t command;
        uint64_t mid;
        size_t body;
    } singles[] = {{SMB2_ECHO, 1, 4}, {SMB2_CREATE, 2, 89}, {SMB2_READ, 3, 16 + 200},
                   {SMB2_ECHO, 23, 4}};
    for (size_t i = 0; i < 4; i++) {
        struct writer m;
        struct smb2_header h = rsp(singles[i].command, singles[i].mid, 1);
        h.session_id = signer ? TEST_SESSION_ID : 0;
        build_rsp(&m, signer, &h, singles[i].body, signer != NULL);
        stream_put(s, m.data, m.len);
        writer_free(&m);
    }
    struct writer chain;
    static const uint64_t mids[3] = {19, 20, 21};
    static const uint16_t cmds[3] = {SMB2_CREATE, SMB2_QUERY_INFO, SMB2_CLOSE};
    static const size_t bodies[3] = {89, 8 + 40, 60};
    build_chain(&chain, mids, cmds, bodies, 3);
    if (signer) {
        server_sign(signer, chain.data, 160, 1);
        server_sign(signer, chain.data + 160, 112, 1);
        server_sign(signer, chain.data + 272, chain.len - 272, 1);
    }
    stream_put(s, chain.data, chain.len);
    writer_free(&chain);
    struct smb2_header h = rsp(SMB2_CHANGE_NOTIFY, 22, 1);
    h.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    h.status = STATUS_PENDING;
    h.async_id = 0x42;
    stream_put_rsp(s, &h, 9); /* interim responses are never signed */
    h.status = STATUS_SUCCESS;
    struct writer m;
    build_rsp(&m, signer, &h, 8 + 32, signer != NULL);
    stream_put(s, m.data, m.len);
    writer_free(&m);
    h = rsp(SMB2_OPLOCK_BREAK, BREAK_MESSAGE_ID, 0);
    stream_put_rsp(s, &h, 24);
    ck_assert_int_eq(writer_error(s), 0);
}

static void seeds_conn_receive(const char *dir)
{
    struct writer s;
    static const struct {
        uint8_t mode;
        const char *name;
    } modes[] = {{0, "exchange"},           {1, "exchange_split"},
                 {2, "exchange_zero_copy"}, {8, "exchange_small_frames"},
                 {0x10, "exchange_byte_by_byte"}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        conn_receive_stream(&s, modes[i].mode, NULL);
        write_seed(dir, "conn_receive", modes[i].name, s.data, s.len);
        writer_free(&s);
    }
    struct server srv = {0};
    srv.dialect = SMB2_DIALECT_0302;
    srv.alg = CRYPTO_SIGN_AES_CMAC;
    srv.session_id = TEST_SESSION_ID;
    uint8_t key[16], sign_key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    ck_assert_int_eq(crypto_kdf(key, 16, "SMB2AESCMAC", 12, "SmbSign", 8, sign_key, 16), 0);
    ck_assert_int_eq(crypto_signer_new(srv.alg, sign_key, &srv.signer), 0);
    conn_receive_stream(&s, 4, &srv);
    write_seed(dir, "conn_receive", "exchange_signed", s.data, s.len);
    s.data[0] = 5;
    write_seed(dir, "conn_receive", "exchange_signed_split", s.data, s.len);
    writer_free(&s);
    server_free(&srv);

    /* Edge cases. */
    writer_init(&s);
    writer_put_bytes(&s, (const uint8_t[]){0, 0, 0}, 3);
    struct smb2_header h = rsp(SMB2_ECHO, 1, 65535);
    stream_put_rsp(&s, &h, 4);
    write_seed(dir, "conn_receive", "credit_overflow", s.data, s.len);
    writer_free(&s);

    writer_init(&s);
    writer_put_bytes(&s, (const uint8_t[]){0, 0, 0}, 3);
    struct writer chain;
    static const uint64_t mids[3] = {19, 20, 21};
    static const uint16_t cmds[3] = {SMB2_CREATE, SMB2_QUERY_INFO, SMB2_CLOSE};
    static const size_t bodies[3] = {89, 8 + 40, 60};
    build_chain(&chain, mids, cmds, bodies, 3);
    put32(chain.data + SMB2_HDR_OFF_NEXT_COMMAND, 156);
    stream_put(&s, chain.data, chain.len);
    writer_free(&chain);
    write_seed(dir, "conn_receive", "compound_misaligned", s.data, s.len);
    writer_free(&s);

    /* head (mode 0, split 0), then a frame */
    static const uint8_t smb1[] = {0, 0, 0, 0, 0, 0, 5, 0xff, 'S', 'M', 'B', 0x72};
    write_seed(dir, "conn_receive", "smb1", smb1, sizeof(smb1));
    static const uint8_t big[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 'S', 'M', 'B'};
    write_seed(dir, "conn_receive", "max_prefix", big, sizeof(big));
    uint8_t transform[3 + 4 + 52 + 64] = {0, 0, 0, 0, 0, 0, 52 + 64};
    put32(transform + 7, SMB2_TRANSFORM_PROTOCOL_ID);
    put32(transform + 7 + 36, 64);
    transform[7 + 42] = 1;
    write_seed(dir, "conn_receive", "transform_without_keys", transform, sizeof(transform));
}

/* transform seeds: one frame body for the fixed encrypting sessions of fuzz_transform.c
 * (3.1.1, session key 00..0f, pre-auth hash all zeros, SessionId TEST_SESSION_ID; ECHO mid 0
 * answered with 64 credits, then pending ECHO 1, READ 2 (charge 2), CHANGE_NOTIFY 4). */
static void seeds_transform(const char *dir)
{
    static const struct {
        enum crypto_cipher cipher;
        const char *name;
    } ciphers[] = {
        {CRYPTO_CIPHER_AES_128_GCM, "gcm128"}, {CRYPTO_CIPHER_AES_128_CCM, "ccm128"},
        {CRYPTO_CIPHER_AES_256_GCM, "gcm256"}, {CRYPTO_CIPHER_AES_256_CCM, "ccm256"},
    };
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (size_t k = 0; k < sizeof(ciphers) / sizeof(ciphers[0]); k++) {
        struct server s = {0};
        s.dialect = SMB2_DIALECT_0311;
        s.cipher = ciphers[k].cipher;
        s.alg = CRYPTO_SIGN_AES_GMAC;
        s.session_id = TEST_SESSION_ID;
        size_t klen = crypto_cipher_key_size(s.cipher);
        uint8_t c2s[32], s2c[32], zero[64] = {0};
        ck_assert_int_eq(crypto_kdf(key, 16, "SMBC2SCipherKey", 16, zero, 64, c2s, klen), 0);
        ck_assert_int_eq(crypto_kdf(key, 16, "SMBS2CCipherKey", 16, zero, 64, s2c, klen), 0);
        ck_assert_int_eq(crypto_aead_new(s.cipher, s2c, &s.s2c), 0);
        s.nonce_counter = 100 * k;

        uint8_t out[1024];
        char name[64];
        struct writer w;
        struct smb2_header h = rsp(SMB2_ECHO, 1, 1);
        h.session_id = TEST_SESSION_ID;
        writer_init(&w);
        put_msg(&w, &h, 4);
        size_t n = server_seal(&s, w.data, w.len, out);
        snprintf(name, sizeof(name), "echo_%s", ciphers[k].name);
        write_seed(dir, "transform", name, out, n);
        writer_free(&w);

        static const uint64_t mids[2] = {2, 4};
        static const uint16_t cmds[2] = {SMB2_READ, SMB2_CHANGE_NOTIFY};
        static const size_t bodies[2] = {16 + 100, 8 + 24};
        build_chain(&w, mids, cmds, bodies, 2);
        n = server_seal(&s, w.data, w.len, out);
        snprintf(name, sizeof(name), "compound_%s", ciphers[k].name);
        write_seed(dir, "transform", name, out, n);
        writer_free(&w);

        h = rsp(SMB2_CHANGE_NOTIFY, 4, 3);
        h.flags |= SMB2_FLAGS_ASYNC_COMMAND;
        h.status = STATUS_PENDING;
        h.async_id = 77;
        h.session_id = TEST_SESSION_ID;
        writer_init(&w);
        put_msg(&w, &h, 9);
        n = server_seal(&s, w.data, w.len, out);
        snprintf(name, sizeof(name), "interim_%s", ciphers[k].name);
        write_seed(dir, "transform", name, out, n);
        put32(out + 36, get32(out + 36) - 1); /* CVE-2024-0565 shape */
        snprintf(name, sizeof(name), "bad_size_%s", ciphers[k].name);
        write_seed(dir, "transform", name, out, n);
        writer_free(&w);
        crypto_aead_free(s.s2c);
    }
}

static void seeds_smb2_header(const char *dir)
{
    struct writer w;
    struct smb2_header h = rsp(SMB2_READ, 12345, 7);
    h.tree_id = 9;
    h.session_id = TEST_SESSION_ID;
    memset(h.signature, 0xab, 16);
    writer_init(&w);
    smb2_header_encode(&w, &h);
    write_seed(dir, "smb2_header", "sync", w.data, w.len);
    writer_free(&w);
    h.flags |= SMB2_FLAGS_ASYNC_COMMAND;
    h.async_id = 0x0102030405060708ull;
    h.status = STATUS_PENDING;
    writer_init(&w);
    smb2_header_encode(&w, &h);
    write_seed(dir, "smb2_header", "async", w.data, w.len);
    write_seed(dir, "smb2_header", "truncated", w.data, 40);
    w.data[4] = 65;
    write_seed(dir, "smb2_header", "bad_structure_size", w.data, w.len);
    writer_free(&w);
}

START_TEST(test_write_fuzz_seeds)
{
    const char *dir = getenv("SMBQUIC_FUZZ_SEED_DIR");
    if (!dir || !*dir)
        return;
    seeds_conn_receive(dir);
    seeds_transform(dir);
    seeds_smb2_header(dir);
}
END_TEST

static Suite *conn_suite(void)
{
    Suite *s = suite_create("smb2_conn");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, test_prefix_nonzero_first_byte);
    tcase_add_test(tc, test_zero_length_frame_fatal);
    tcase_add_test(tc, test_every_split_point);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_many_frames_one_call);
    tcase_add_test(tc, test_zero_copy_input);
    tcase_add_test(tc, test_frame_longer_than_max);
    tcase_add_test(tc, test_partial_output_consumption);
    suite_add_tcase(s, tc);

    tc = tcase_create("credits");
    tcase_add_test(tc, test_first_request);
    tcase_add_test(tc, test_credit_charge_values);
    tcase_add_test(tc, test_large_request_held_back);
    tcase_add_test(tc, test_borrowed_tail);
    tcase_add_test(tc, test_credit_overflow_fatal);
    tcase_add_test(tc, test_credit_request_up_to_target);
    tcase_add_test(tc, test_submit_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("responses");
    tcase_add_test(tc, test_bad_responses_fatal);
    tcase_add_test(tc, test_smb1_and_compressed_fatal);
    tcase_add_test(tc, test_death_completes_everything_once);
    tcase_add_test(tc, test_fail_completes_everything_once);
    tcase_add_test(tc, test_callbacks_may_submit);
    tcase_add_test(tc, test_callback_may_fail_the_connection);
    tcase_add_test(tc, test_pending_ids_sharing_a_bucket);
    tcase_add_test(tc, test_request_too_large_for_a_frame);
    suite_add_tcase(s, tc);

    tc = tcase_create("compounds");
    tcase_add_test(tc, test_compound_request_layout);
    tcase_add_test(tc, test_compound_response_split);
    tcase_add_test(tc, test_compound_bad_next_command);
    tcase_add_test(tc, test_compound_exact_end);
    suite_add_tcase(s, tc);

    tc = tcase_create("async");
    tcase_add_test(tc, test_interim_then_final);
    tcase_add_test(tc, test_sync_pending_is_final);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);

    tc = tcase_create("signing");
    tcase_add_test(tc, test_signing_gmac_311);
    tcase_add_test(tc, test_signing_cmac_302);
    tcase_add_test(tc, test_signing_rejects);
    tcase_add_test(tc, test_signed_flag_without_policy);
    tcase_add_test(tc, test_oplock_break);
    tcase_add_test(tc, test_verify_reply);
    suite_add_tcase(s, tc);

    tc = tcase_create("encryption");
    tcase_add_test(tc, test_encryption_302_ccm);
    tcase_add_test(tc, test_encryption_311_gcm);
    tcase_add_test(tc, test_encryption_311_aes256);
    tcase_add_test(tc, test_encryption_rejects);
    tcase_add_test(tc, test_plaintext_on_encrypting_session);
    tcase_add_test(tc, test_tree_encryption);
    tcase_add_test(tc, test_session_end_drops_keys);
    tcase_add_test(tc, test_session_keys_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("preauth");
    tcase_add_test(tc, test_preauth_hash);
    tcase_add_test(tc, test_write_fuzz_seeds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
