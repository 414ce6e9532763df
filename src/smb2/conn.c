/* The sans-I/O SMB2 connection core; contract in include/smb2/conn.h. */
#include "smb2/conn.h"

#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "smb2/ntstatus.h"
#include "util/error.h"

#define MESSAGE_ID_BREAK UINT64_MAX
/* Enough for 60 READs or WRITEs of 1 MiB (16 credits each) in flight: `smbquic get`/`put`
 * on a long path (src/cli/commands.c, IO_WINDOW_MAX). */
#define DEFAULT_CREDIT_TARGET 1024
/* MS-SMB2 3.2.5.1.4: a server may grant at most 65535 credits at once; a running total past
 * this means a broken or hostile server. */
#define MAX_CREDITS 65535
#define FRAME_PREFIX_LEN 4
#define MAX_FRAME_LEN 0x00FFFFFFu /* the Direct-TCP prefix carries 24 bits, MS-SMB2 2.1 */

static size_t bucket_of(uint64_t message_id)
{
    return (size_t)(message_id % PENDING_BUCKETS);
}

static struct pending *pending_find(struct smb2_conn *c, uint64_t message_id, bool unlink)
{
    struct pending **pp = &c->buckets[bucket_of(message_id)];
    for (; *pp; pp = &(*pp)->next) {
        struct pending *p = *pp;
        if (p->message_id != message_id)
            continue;
        if (unlink) {
            *pp = p->next;
            c->pending_count--;
        }
        return p;
    }
    return NULL;
}

static void pending_insert(struct smb2_conn *c, struct pending *p)
{
    size_t b = bucket_of(p->message_id);
    p->next = c->buckets[b];
    c->buckets[b] = p;
    c->pending_count++;
}

int smb2_request_init(struct smb2_request *r, uint16_t command, uint32_t tree_id)
{
    memset(r, 0, sizeof(*r));
    r->command = command;
    r->tree_id = tree_id;
    writer_init(&r->msg);
    writer_put_zeros(&r->msg, SMB2_HEADER_SIZE);
    return writer_error(&r->msg);
}

int smb2_conn_new(const struct smb2_conn_config *cfg, struct smb2_conn **out)
{
    struct smb2_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return SQ_ERR_NOMEM;
    c->max_frame_len = MAX_FRAME_LEN;
    if (cfg && cfg->max_frame_len && cfg->max_frame_len < MAX_FRAME_LEN)
        c->max_frame_len = cfg->max_frame_len;
    c->credit_target = cfg && cfg->credit_target ? cfg->credit_target : DEFAULT_CREDIT_TARGET;
    /* Before NEGOTIATE the client owns exactly one credit, for MessageId 0 (MS-SMB2 3.2.4.1.5). */
    c->credits = 1;
    *out = c;
    return 0;
}

static void session_drop_keys(struct smb2_session_state *s)
{
    crypto_signer_free(s->signer);
    crypto_aead_free(s->encryptor);
    crypto_aead_free(s->decryptor);
    s->signer = NULL;
    s->encryptor = NULL;
    s->decryptor = NULL;
    s->keys_ready = false;
    crypto_wipe(s->preauth_hash, sizeof(s->preauth_hash));
    crypto_wipe(s->nonce_salt, sizeof(s->nonce_salt));
}

static void free_batch(struct queued_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        writer_free(&b->reqs[i].msg);
        free(b->reqs[i].tail_copy);
    }
    free(b);
}

/* The message's length on the wire: msg and the borrowed tail after it. */
static size_t request_len(const struct smb2_request *r)
{
    return r->msg.len + r->tail_len;
}

void smb2_conn_fail(struct smb2_conn *c, int err)
{
    if (!err)
        err = SQ_ERR_CLOSED;
    if (!c->error)
        c->error = err;
    /* Detach everything first: callbacks may submit (which fails now) but must see a
     * consistent connection. */
    struct queued_batch *q = c->queue_head;
    c->queue_head = c->queue_tail = NULL;
    while (q) {
        struct queued_batch *next = q->next;
        for (size_t i = 0; i < q->count; i++)
            if (q->reqs[i].cb)
                q->reqs[i].cb(q->reqs[i].arg, c->error, NULL);
        free_batch(q);
        q = next;
    }
    for (size_t b = 0; b < PENDING_BUCKETS; b++) {
        while (c->buckets[b]) {
            struct pending *p = c->buckets[b];
            c->buckets[b] = p->next;
            c->pending_count--;
            if (p->cb)
                p->cb(p->arg, c->error, NULL);
            free(p);
        }
    }
    while (c->out_head) {
        struct out_frame *f = c->out_head;
        c->out_head = f->next;
        free(f);
    }
    c->out_tail = NULL;
    c->credits_in_flight = 0;
}

void smb2_conn_free(struct smb2_conn *c)
{
    if (!c)
        return;
    smb2_conn_fail(c, SQ_ERR_CLOSED);
    session_drop_keys(&c->session);
    free(c->inbuf);
    crypto_wipe(c, sizeof(*c));
    free(c);
}

int smb2_conn_error(const struct smb2_conn *c)
{
    return c->error;
}

size_t smb2_conn_pending_count(const struct smb2_conn *c)
{
    return c->pending_count;
}

uint32_t smb2_conn_credits(const struct smb2_conn *c)
{
    return c->credits;
}

uint64_t smb2_conn_sent_count(const struct smb2_conn *c, uint16_t command)
{
    return command < SMB2_COMMAND_COUNT ? c->sent_by_command[command] : 0;
}

void smb2_conn_set_break_callback(struct smb2_conn *c, smb2_break_callback cb, void *arg)
{
    c->break_cb = cb;
    c->break_arg = arg;
}

void smb2_conn_set_negotiated(struct smb2_conn *c, const struct smb2_negotiated *n)
{
    c->neg = *n;
    c->negotiated = true;
}

const struct smb2_negotiated *smb2_conn_negotiated(const struct smb2_conn *c)
{
    return c->negotiated ? &c->neg : NULL;
}

const uint8_t *smb2_conn_preauth_hash(const struct smb2_conn *c)
{
    return c->conn_preauth_hash;
}

void smb2_conn_session_begin(struct smb2_conn *c)
{
    session_drop_keys(&c->session);
    c->session.id = 0;
    c->session.in_setup = true;
    /* MS-SMB2 3.2.5.3.1: Session.PreauthIntegrityHashValue starts as the connection's. */
    memcpy(c->session.preauth_hash, c->conn_preauth_hash, sizeof(c->session.preauth_hash));
}

void smb2_conn_session_set_id(struct smb2_conn *c, uint64_t session_id)
{
    c->session.id = session_id;
}

uint64_t smb2_conn_session_id(const struct smb2_conn *c)
{
    return c->session.id;
}

void smb2_conn_session_set_policy(struct smb2_conn *c, bool sign, bool encrypt)
{
    c->session.sign = sign;
    c->session.encrypt = encrypt;
}

void smb2_conn_session_end(struct smb2_conn *c)
{
    session_drop_keys(&c->session);
    c->session.in_setup = false;
    c->session.sign = false;
    c->session.encrypt = false;
}

int smb2_conn_tree_set_encrypt(struct smb2_conn *c, uint32_t tree_id, bool encrypt)
{
    for (size_t i = 0; i < c->tree_count; i++) {
        if (c->trees[i].tree_id == tree_id) {
            c->trees[i].encrypt = encrypt;
            return 0;
        }
    }
    if (!encrypt)
        return 0;
    if (c->tree_count == MAX_TREES)
        return SQ_ERR_NOMEM;
    c->trees[c->tree_count].tree_id = tree_id;
    c->trees[c->tree_count].encrypt = true;
    c->tree_count++;
    return 0;
}

static bool tree_encrypts(const struct smb2_conn *c, uint32_t tree_id)
{
    for (size_t i = 0; i < c->tree_count; i++)
        if (c->trees[i].tree_id == tree_id)
            return c->trees[i].encrypt;
    return false;
}

/* ---- Keys, MS-SMB2 3.2.5.3.1 (client) and 3.1.4.2 (KDF) ---- */

int smb2_conn_session_keys(struct smb2_conn *c, const uint8_t *session_key, size_t key_len)
{
    struct smb2_session_state *s = &c->session;
    if (!c->negotiated || key_len < 16)
        return SQ_ERR_INVAL;
    uint8_t signing_key[16], enc_key[32], dec_key[32];
    size_t cipher_key_len = crypto_cipher_key_size(c->neg.cipher);
    /* Session.SessionKey is the first 16 bytes of the GSS key; the 256-bit ciphers take the
     * full key (Session.FullSessionKey) with L = 256. */
    const uint8_t *cipher_key_in = session_key;
    size_t cipher_key_in_len = cipher_key_len == 32 ? key_len : 16;
    int rc;

    if (c->neg.dialect == SMB2_DIALECT_0311) {
        const uint8_t *ctx = s->preauth_hash;
        rc = crypto_kdf(session_key, 16, "SMBSigningKey", 14, ctx, CRYPTO_PREAUTH_HASH_SIZE,
                        signing_key, 16);
        if (!rc && cipher_key_len)
            rc = crypto_kdf(cipher_key_in, cipher_key_in_len, "SMBC2SCipherKey", 16, ctx,
                            CRYPTO_PREAUTH_HASH_SIZE, enc_key, cipher_key_len);
        if (!rc && cipher_key_len)
            rc = crypto_kdf(cipher_key_in, cipher_key_in_len, "SMBS2CCipherKey", 16, ctx,
                            CRYPTO_PREAUTH_HASH_SIZE, dec_key, cipher_key_len);
    } else if (c->neg.dialect == SMB2_DIALECT_0300 || c->neg.dialect == SMB2_DIALECT_0302) {
        /* SMB 3.0/3.0.2: fixed labels and contexts; signing is AES-CMAC, cipher AES-128-CCM
         * (or GCM for 3.0.2 is not defined; only CCM). Labels include their NUL. */
        rc = crypto_kdf(session_key, 16, "SMB2AESCMAC", 12, "SmbSign", 8, signing_key, 16);
        if (!rc && cipher_key_len)
            rc = crypto_kdf(session_key, 16, "SMB2AESCCM", 11, "ServerIn ", 10, enc_key, 16);
        if (!rc && cipher_key_len)
            rc = crypto_kdf(session_key, 16, "SMB2AESCCM", 11, "ServerOut", 10, dec_key, 16);
    } else {
        rc = SQ_ERR_UNSUPPORTED;
    }

    if (!rc) {
        crypto_signer_free(s->signer);
        s->signer = NULL;
        rc = crypto_signer_new(c->neg.signing_alg, signing_key, &s->signer);
    }
    if (!rc && cipher_key_len) {
        crypto_aead_free(s->encryptor);
        crypto_aead_free(s->decryptor);
        s->encryptor = s->decryptor = NULL;
        rc = crypto_aead_new(c->neg.cipher, enc_key, &s->encryptor);
        if (!rc)
            rc = crypto_aead_new(c->neg.cipher, dec_key, &s->decryptor);
        if (!rc)
            rc = crypto_random(s->nonce_salt, sizeof(s->nonce_salt));
        s->nonce_counter = 0;
    }
    crypto_wipe(signing_key, sizeof(signing_key));
    crypto_wipe(enc_key, sizeof(enc_key));
    crypto_wipe(dec_key, sizeof(dec_key));
    if (rc) {
        session_drop_keys(s);
        return rc;
    }
    s->keys_ready = true;
    s->in_setup = false;
    return 0;
}

/* ---- Signing, MS-SMB2 3.1.4.1 ---- */

/* AES-GMAC nonce: MessageId (8 bytes LE), then a 4-byte field with bit 0 set for messages
 * from the server and bit 1 for CANCEL (MS-SMB2 3.1.4.1). */
static void gmac_nonce(uint8_t nonce[12], uint64_t message_id, bool from_server, bool cancel)
{
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(message_id >> (8 * i));
    uint32_t role = (from_server ? 1u : 0u) | (cancel ? 2u : 0u);
    nonce[8] = (uint8_t)role;
    nonce[9] = nonce[10] = nonce[11] = 0;
}

static int sign_message(struct smb2_session_state *s, uint8_t *msg, size_t len,
                        uint64_t message_id, bool from_server, uint16_t command,
                        uint8_t out[16])
{
    uint8_t nonce[12];
    gmac_nonce(nonce, message_id, from_server, command == SMB2_CANCEL);
    return crypto_signer_sign(s->signer, nonce, msg, len, out);
}

/* Verifies msg's signature: the field is zeroed for the computation and then restored. */
static int verify_message(struct smb2_session_state *s, uint8_t *msg, size_t len,
                          const struct smb2_header *h)
{
    if (!s->signer || len < SMB2_HEADER_SIZE)
        return SQ_ERR_SIGNATURE;
    uint8_t saved[16], computed[16];
    memcpy(saved, msg + SMB2_HDR_OFF_SIGNATURE, 16);
    memset(msg + SMB2_HDR_OFF_SIGNATURE, 0, 16);
    int rc = sign_message(s, msg, len, h->message_id, true, h->command, computed);
    memcpy(msg + SMB2_HDR_OFF_SIGNATURE, saved, 16);
    if (rc)
        return rc;
    return crypto_equal(saved, computed, 16) ? 0 : SQ_ERR_SIGNATURE;
}

int smb2_conn_verify_reply(struct smb2_conn *c, const struct smb2_reply *reply)
{
    if (!(reply->hdr.flags & SMB2_FLAGS_SIGNED))
        return SQ_ERR_SIGNATURE;
    /* The reply's bytes live in our input buffer; verification needs to zero the signature
     * field temporarily, so work on a copy to keep the callback's view const. */
    uint8_t *copy = malloc(reply->len);
    if (!copy)
        return SQ_ERR_NOMEM;
    memcpy(copy, reply->msg, reply->len);
    int rc = verify_message(&c->session, copy, reply->len, &reply->hdr);
    free(copy);
    return rc;
}

/* ---- Sending ---- */

static uint16_t credit_charge_for(const struct smb2_request *r)
{
    size_t len = request_len(r);
    size_t payload = len > SMB2_HEADER_SIZE ? len - SMB2_HEADER_SIZE : 0;
    if (r->expected_response_len > payload)
        payload = r->expected_response_len;
    /* MS-SMB2 3.2.4.1.5: CreditCharge = (max(send, expected) - 1) / 65536 + 1. */
    size_t charge = payload ? (payload - 1) / 65536 + 1 : 1;
    return (uint16_t)(charge > 65535 ? 65535 : charge);
}

static uint16_t credit_request_for(const struct smb2_conn *c, uint16_t charge)
{
    uint32_t have = c->credits + c->credits_in_flight;
    uint32_t want = charge;
    if (have < c->credit_target)
        want += c->credit_target - have;
    return (uint16_t)(want > 8192 ? 8192 : want);
}

static struct out_frame *frame_alloc(size_t len)
{
    struct out_frame *f = malloc(sizeof(*f) + FRAME_PREFIX_LEN + len);
    if (!f)
        return NULL;
    f->next = NULL;
    f->len = FRAME_PREFIX_LEN + len;
    f->sent = 0;
    f->data[0] = 0;
    f->data[1] = (uint8_t)(len >> 16);
    f->data[2] = (uint8_t)(len >> 8);
    f->data[3] = (uint8_t)len;
    return f;
}

static void frame_queue(struct smb2_conn *c, struct out_frame *f)
{
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
}

/* Seals the frame's payload in place: its first 52 bytes are reserved for the
 * TRANSFORM_HEADER, the rest is the plaintext (one message or a compound),
 * MS-SMB2 3.2.4.1.8. */
static int encrypt_in_place(struct smb2_conn *c, uint8_t *th, size_t plain_len)
{
    struct smb2_session_state *s = &c->session;
    struct writer w;
    writer_init_fixed(&w, th, SMB2_TRANSFORM_HEADER_SIZE);
    writer_put_le32(&w, SMB2_TRANSFORM_PROTOCOL_ID);
    writer_put_zeros(&w, 16); /* Signature: the AEAD tag, written below */
    /* Nonce: a per-session random salt and a counter, so no nonce repeats under one key. */
    size_t nonce_len = crypto_cipher_nonce_size(c->neg.cipher);
    uint8_t nonce[16] = {0};
    memcpy(nonce, s->nonce_salt, 4);
    uint64_t ctr = ++s->nonce_counter;
    for (int i = 0; i < 7; i++)
        nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
    if (nonce_len == 12)
        nonce[11] = (uint8_t)(ctr >> 56);
    writer_put_bytes(&w, nonce, 16);
    writer_put_le32(&w, (uint32_t)plain_len);
    writer_put_le16(&w, 0);
    writer_put_le16(&w, SMB2_TRANSFORM_FLAG_ENCRYPTED);
    writer_put_le64(&w, s->id);
    /* The AAD is the transform header from the Nonce field on (32 bytes). */
    return crypto_aead_encrypt(s->encryptor, nonce, th + 20, 32,
                               th + SMB2_TRANSFORM_HEADER_SIZE, plain_len, th + 4);
}

static bool should_encrypt(const struct smb2_conn *c, const struct smb2_request *r)
{
    const struct smb2_session_state *s = &c->session;
    if (!s->keys_ready || !s->encryptor)
        return false;
    if (r->command == SMB2_NEGOTIATE || r->command == SMB2_SESSION_SETUP)
        return false;
    return s->encrypt || tree_encrypts(c, r->tree_id);
}

static void preauth_update(uint8_t hash[CRYPTO_PREAUTH_HASH_SIZE], const uint8_t *msg,
                           size_t len)
{
    /* A hash failure would make every later signature fail verification, which is fatal to
     * the session anyway; nothing better to do here. */
    (void)crypto_preauth_update(hash, msg, len);
}

/* Turns one batch into a frame: assigns message ids, fills headers, chains, signs,
 * encrypts. The batch's requests become pending entries. */
static int emit_batch(struct smb2_conn *c, struct queued_batch *b)
{
    size_t total = 0;
    for (size_t i = 0; i < b->count; i++) {
        size_t len = request_len(&b->reqs[i]);
        if (i + 1 < b->count)
            len = (len + 7) & ~(size_t)7; /* MS-SMB2 3.2.4.1.4: 8-byte aligned */
        total += len;
    }
    bool encrypt = false;
    for (size_t i = 0; i < b->count; i++)
        encrypt = encrypt || should_encrypt(c, &b->reqs[i]);
    size_t lead = encrypt ? SMB2_TRANSFORM_HEADER_SIZE : 0;
    /* Messages are copied once, straight into the frame; sealing happens in place. */
    struct out_frame *f = frame_alloc(lead + total);
    struct pending **ps = calloc(b->count, sizeof(*ps));
    if (!f || !ps) {
        free(f);
        free(ps);
        return SQ_ERR_NOMEM;
    }
    uint8_t *plain = f->data + FRAME_PREFIX_LEN + lead;

    size_t off = 0;
    int rc = 0;
    for (size_t i = 0; i < b->count && !rc; i++) {
        struct smb2_request *r = &b->reqs[i];
        size_t len = request_len(r);
        size_t padded = i + 1 < b->count ? (len + 7) & ~(size_t)7 : len;
        uint16_t charge = credit_charge_for(r);
        struct smb2_header h = {0};
        h.credit_charge = charge;
        h.command = r->command;
        h.credits = credit_request_for(c, charge);
        h.flags = r->related ? SMB2_FLAGS_RELATED_OPERATIONS : 0;
        h.next_command = i + 1 < b->count ? (uint32_t)padded : 0;
        h.message_id = c->next_message_id;
        h.tree_id = r->tree_id;
        h.session_id = r->command == SMB2_NEGOTIATE ? 0 : c->session.id;
        bool sign = !encrypt && c->session.keys_ready && c->session.sign &&
                    r->command != SMB2_NEGOTIATE;
        if (sign)
            h.flags |= SMB2_FLAGS_SIGNED;

        struct writer hw;
        writer_init_fixed(&hw, r->msg.data, SMB2_HEADER_SIZE);
        smb2_header_encode(&hw, &h);
        memcpy(plain + off, r->msg.data, r->msg.len);
        if (r->tail_len)
            memcpy(plain + off + r->msg.len, r->tail, r->tail_len);
        if (padded > len)
            memset(plain + off + len, 0, padded - len);
        if (sign)
            rc = sign_message(&c->session, plain + off, padded, h.message_id, false, h.command,
                              plain + off + SMB2_HDR_OFF_SIGNATURE);
        if (r->command == SMB2_NEGOTIATE)
            preauth_update(c->conn_preauth_hash, plain + off, len);
        else if (r->command == SMB2_SESSION_SETUP && c->session.in_setup)
            preauth_update(c->session.preauth_hash, plain + off, len);

        ps[i] = calloc(1, sizeof(struct pending));
        if (!ps[i]) {
            rc = SQ_ERR_NOMEM;
            break;
        }
        ps[i]->message_id = h.message_id;
        ps[i]->command = r->command;
        ps[i]->credit_charge = charge;
        ps[i]->tree_id = r->tree_id;
        ps[i]->sent_encrypted = encrypt;
        ps[i]->cb = r->cb;
        ps[i]->arg = r->arg;
        if (r->message_id_out)
            *r->message_id_out = h.message_id;
        c->next_message_id += charge;
        c->credits -= charge;
        c->credits_in_flight += charge;
        off += padded;
    }

    if (!rc && encrypt)
        rc = encrypt_in_place(c, f->data + FRAME_PREFIX_LEN, total);
    if (rc) {
        free(f);
        for (size_t i = 0; i < b->count; i++)
            free(ps[i]);
        free(ps);
        return rc;
    }
    for (size_t i = 0; i < b->count; i++) {
        pending_insert(c, ps[i]);
        if (b->reqs[i].command < SMB2_COMMAND_COUNT)
            c->sent_by_command[b->reqs[i].command]++;
    }
    free(ps);
    frame_queue(c, f);
    return 0;
}

/* Takes a batch that was never emitted out of the queue. */
static void remove_queued(struct smb2_conn *c, struct queued_batch *b)
{
    struct queued_batch **link = &c->queue_head, *prev = NULL;
    while (*link && *link != b) {
        prev = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return;
    *link = b->next;
    if (c->queue_tail == b)
        c->queue_tail = prev;
}

/* Moves queued batches out while credits allow, in submission order. */
static void pump(struct smb2_conn *c)
{
    while (!c->error && c->queue_head && c->queue_head->charge_total <= c->credits) {
        struct queued_batch *b = c->queue_head;
        c->queue_head = b->next;
        if (!c->queue_head)
            c->queue_tail = NULL;
        int rc = emit_batch(c, b);
        if (rc) {
            /* Message ids may already be spent, leaving a hole in the server's sequence
             * window (MS-SMB2 3.3.1.1) that nothing can fill: the connection is unusable. */
            for (size_t i = 0; i < b->count; i++)
                if (b->reqs[i].cb)
                    b->reqs[i].cb(b->reqs[i].arg, rc, NULL);
            free_batch(b);
            smb2_conn_fail(c, rc);
            return;
        }
        free_batch(b);
    }
}

int smb2_conn_submit(struct smb2_conn *c, struct smb2_request *reqs, size_t count)
{
    int rc = c->error ? c->error : 0;
    if (!rc && count == 0)
        rc = SQ_ERR_INVAL;
    size_t total = SMB2_TRANSFORM_HEADER_SIZE;
    for (size_t i = 0; !rc && i < count; i++) {
        if (writer_error(&reqs[i].msg))
            rc = writer_error(&reqs[i].msg);
        else if (reqs[i].msg.len < SMB2_HEADER_SIZE || reqs[i].msg.fixed ||
                 (reqs[i].tail_len && !reqs[i].tail) || reqs[i].tail_copy)
            rc = SQ_ERR_INVAL;
        else
            total += (request_len(&reqs[i]) + 7) & ~(size_t)7;
    }
    /* A frame carries at most 2^24 - 1 bytes (MS-SMB2 2.1): refuse what can never be sent,
     * now, before it takes message ids. */
    if (!rc && total > MAX_FRAME_LEN)
        rc = SQ_ERR_INVAL;
    struct queued_batch *b = NULL;
    if (!rc) {
        b = malloc(sizeof(*b) + count * sizeof(b->reqs[0]));
        if (!b)
            rc = SQ_ERR_NOMEM;
    }
    if (rc) {
        for (size_t i = 0; i < count; i++)
            writer_free(&reqs[i].msg);
        return rc;
    }
    b->next = NULL;
    b->count = count;
    b->charge_total = 0;
    for (size_t i = 0; i < count; i++) {
        b->reqs[i] = reqs[i];
        b->charge_total += credit_charge_for(&reqs[i]);
        memset(&reqs[i].msg, 0, sizeof(reqs[i].msg));
    }
    if (c->queue_tail)
        c->queue_tail->next = b;
    else
        c->queue_head = b;
    c->queue_tail = b;
    pump(c);
    /* Still queued (short of credits): b went in last, so it is the tail, and its borrowed
     * tails must outlive this call. When pump sent it or failed the connection, b is gone. */
    if (c->queue_tail != b)
        return 0;
    for (size_t i = 0; i < b->count; i++) {
        struct smb2_request *r = &b->reqs[i];
        if (!r->tail_len)
            continue;
        r->tail_copy = malloc(r->tail_len);
        if (!r->tail_copy) {
            /* Ids are not spent yet: take the batch back out, as if never submitted. */
            remove_queued(c, b);
            free_batch(b);
            return SQ_ERR_NOMEM;
        }
        memcpy(r->tail_copy, r->tail, r->tail_len);
        r->tail = r->tail_copy;
    }
    return 0;
}

int smb2_conn_cancel(struct smb2_conn *c, uint64_t message_id)
{
    if (c->error)
        return c->error;
    struct pending *p = pending_find(c, message_id, false);
    if (!p)
        return SQ_ERR_INVAL;
    /* MS-SMB2 3.2.4.24: CANCEL reuses the MessageId of the request (also once it went async:
     * Samba's GMAC check covers it), adds the AsyncId after an interim response, takes no
     * credit and gets no response of its own. */
    struct smb2_header h = {0};
    h.command = SMB2_CANCEL;
    h.message_id = message_id;
    h.async_id = p->async_id;
    h.flags = p->is_async ? SMB2_FLAGS_ASYNC_COMMAND : 0;
    h.session_id = c->session.id;
    h.tree_id = p->tree_id;
    /* Sealed exactly when the request was (MS-SMB2 3.2.4.1.8: per session and tree). */
    bool encrypt = p->sent_encrypted;
    bool sign = !encrypt && c->session.keys_ready && c->session.sign;
    if (sign)
        h.flags |= SMB2_FLAGS_SIGNED;
    uint8_t msg[SMB2_HEADER_SIZE + 4];
    struct writer w;
    writer_init_fixed(&w, msg, sizeof(msg));
    smb2_header_encode(&w, &h);
    writer_put_le16(&w, 4); /* StructureSize, MS-SMB2 2.2.30 */
    writer_put_le16(&w, 0);
    int rc = writer_error(&w);
    if (!rc && sign)
        rc = sign_message(&c->session, msg, sizeof(msg), h.message_id, false, SMB2_CANCEL,
                          msg + SMB2_HDR_OFF_SIGNATURE);
    if (rc)
        return rc;
    size_t lead = encrypt ? SMB2_TRANSFORM_HEADER_SIZE : 0;
    struct out_frame *f = frame_alloc(lead + sizeof(msg));
    if (!f)
        return SQ_ERR_NOMEM;
    memcpy(f->data + FRAME_PREFIX_LEN + lead, msg, sizeof(msg));
    if (encrypt) {
        rc = encrypt_in_place(c, f->data + FRAME_PREFIX_LEN, sizeof(msg));
        if (rc) {
            free(f);
            return rc;
        }
    }
    frame_queue(c, f);
    c->sent_by_command[SMB2_CANCEL]++;
    return 0;
}

void smb2_conn_output(struct smb2_conn *c, const uint8_t **data, size_t *len)
{
    struct out_frame *f = c->out_head;
    if (!f || c->error) {
        *data = NULL;
        *len = 0;
        return;
    }
    *data = f->data + f->sent;
    *len = f->len - f->sent;
}

void smb2_conn_output_consumed(struct smb2_conn *c, size_t n)
{
    while (n && c->out_head) {
        struct out_frame *f = c->out_head;
        size_t left = f->len - f->sent;
        size_t take = n < left ? n : left;
        f->sent += take;
        n -= take;
        if (f->sent == f->len) {
            c->out_head = f->next;
            if (!c->out_head)
                c->out_tail = NULL;
            free(f);
        }
    }
}

bool smb2_conn_wants_output(const struct smb2_conn *c)
{
    return !c->error && c->out_head != NULL;
}

/* ---- Receiving ---- */

static int handle_message(struct smb2_conn *c, uint8_t *msg, size_t len, bool encrypted)
{
    struct reader r;
    struct smb2_reply reply = {0};
    reader_init(&r, msg, len);
    if (smb2_header_decode(&r, &reply.hdr) != 0)
        return SQ_ERR_PROTO;
    const struct smb2_header *h = &reply.hdr;
    if (!(h->flags & SMB2_FLAGS_SERVER_TO_REDIR))
        return SQ_ERR_PROTO;
    reply.msg = msg;
    reply.len = len;
    reply.was_encrypted = encrypted;

    struct smb2_session_state *s = &c->session;
    bool keys = s->keys_ready;

    if (h->message_id == MESSAGE_ID_BREAK) {
        /* Unsolicited OPLOCK_BREAK notification (MS-SMB2 3.2.5.19). A lease break carries no
         * data and can only make us flush and drop caches, so an unsigned one is accepted;
         * a signed one must verify. */
        if (h->command != SMB2_OPLOCK_BREAK)
            return SQ_ERR_PROTO;
        if (!encrypted && (h->flags & SMB2_FLAGS_SIGNED) && keys) {
            if (verify_message(s, msg, len, h) != 0)
                return SQ_ERR_SIGNATURE;
            reply.was_signed = true;
        }
        if (c->break_cb)
            c->break_cb(c->break_arg, &reply);
        return 0;
    }

    bool is_async = (h->flags & SMB2_FLAGS_ASYNC_COMMAND) != 0;
    bool interim = is_async && h->status == STATUS_PENDING;
    struct pending *p = pending_find(c, h->message_id, false);
    if (!p || p->command != h->command)
        return SQ_ERR_PROTO;

    /* Integrity (MS-SMB2 3.2.5.1.3): once keys exist, a response is accepted only if it was
     * encrypted, or carries a valid signature; an encrypting session accepts no plaintext.
     * Interim responses carry no data and Samba does not sign them. SESSION_SETUP responses
     * are verified by the client layer once the keys exist. */
    /* What went out sealed must come back sealed, interim responses included: a plaintext
     * interim could otherwise grant credits or replace the AsyncId (MS-SMB2 3.2.5.1.1). */
    if (!encrypted && p->sent_encrypted)
        return SQ_ERR_DECRYPT;
    if (!encrypted && keys && !interim && h->command != SMB2_SESSION_SETUP) {
        if (s->encrypt)
            return SQ_ERR_DECRYPT;
        if (h->flags & SMB2_FLAGS_SIGNED) {
            if (verify_message(s, msg, len, h) != 0)
                return SQ_ERR_SIGNATURE;
            reply.was_signed = true;
        } else if (s->sign) {
            return SQ_ERR_SIGNATURE;
        }
    }

    uint32_t granted = h->credits;
    if (granted > MAX_CREDITS || c->credits > MAX_CREDITS - granted)
        return SQ_ERR_PROTO;
    c->credits += granted;

    if (interim) {
        p->is_async = true;
        p->async_id = h->async_id;
        return 0;
    }

    if (h->command == SMB2_NEGOTIATE)
        preauth_update(c->conn_preauth_hash, msg, len);
    else if (h->command == SMB2_SESSION_SETUP && s->in_setup &&
             h->status == STATUS_MORE_PROCESSING_REQUIRED)
        preauth_update(s->preauth_hash, msg, len);

    pending_find(c, h->message_id, true);
    c->credits_in_flight -= p->credit_charge < c->credits_in_flight ? p->credit_charge
                                                                    : c->credits_in_flight;
    if (p->cb)
        p->cb(p->arg, 0, &reply);
    free(p);
    return 0;
}

/* Splits a (possibly compounded) chain of SMB2 messages, MS-SMB2 3.2.5.1.9. */
static int handle_chain(struct smb2_conn *c, uint8_t *data, size_t len, bool encrypted)
{
    size_t off = 0;
    for (;;) {
        if (len - off < SMB2_HEADER_SIZE)
            return SQ_ERR_PROTO;
        struct reader r;
        reader_init(&r, data + off, len - off);
        struct smb2_header h;
        if (smb2_header_decode(&r, &h) != 0)
            return SQ_ERR_PROTO;
        size_t msg_len = len - off;
        if (h.next_command) {
            if (h.next_command % 8 || h.next_command < SMB2_HEADER_SIZE ||
                h.next_command > len - off)
                return SQ_ERR_PROTO;
            msg_len = h.next_command;
        }
        int rc = handle_message(c, data + off, msg_len, encrypted);
        if (rc)
            return rc;
        if (c->error)
            return c->error;
        if (!h.next_command)
            return 0;
        off += msg_len;
    }
}

/* Decrypts a TRANSFORM_HEADER frame in place, MS-SMB2 3.2.5.1.1.1. */
static int handle_transform(struct smb2_conn *c, uint8_t *frame, size_t len)
{
    struct smb2_session_state *s = &c->session;
    struct reader r;
    reader_init(&r, frame, len);
    uint32_t protocol = reader_get_le32(&r);
    const uint8_t *tag = reader_get_ptr(&r, 16);
    const uint8_t *nonce = reader_get_ptr(&r, 16);
    uint32_t original_size = reader_get_le32(&r);
    reader_skip(&r, 2);
    uint16_t flags = reader_get_le16(&r);
    uint64_t session_id = reader_get_le64(&r);
    if (reader_error(&r) || protocol != SMB2_TRANSFORM_PROTOCOL_ID)
        return SQ_ERR_PROTO;
    /* OriginalMessageSize must match exactly what follows (cifs CVE-2024-0565). */
    if (original_size != reader_remaining(&r) || original_size < SMB2_HEADER_SIZE)
        return SQ_ERR_PROTO;
    if (flags != SMB2_TRANSFORM_FLAG_ENCRYPTED)
        return SQ_ERR_PROTO;
    if (!s->keys_ready || !s->decryptor || session_id != s->id)
        return SQ_ERR_DECRYPT;
    uint8_t tag_copy[16];
    memcpy(tag_copy, tag, 16);
    uint8_t *body = frame + SMB2_TRANSFORM_HEADER_SIZE;
    int rc = crypto_aead_decrypt(s->decryptor, nonce, frame + 20, 32, body, original_size,
                                 tag_copy);
    if (rc)
        return SQ_ERR_DECRYPT;
    return handle_chain(c, body, original_size, true);
}

static int handle_frame(struct smb2_conn *c, uint8_t *frame, size_t len)
{
    if (len < 4)
        return SQ_ERR_PROTO;
    uint32_t protocol = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 |
                        (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 24;
    if (protocol == SMB2_TRANSFORM_PROTOCOL_ID)
        return handle_transform(c, frame, len);
    if (protocol == SMB2_PROTOCOL_ID)
        return handle_chain(c, frame, len, false);
    /* SMB1 and compressed frames (we never negotiate compression) are refused. */
    return SQ_ERR_PROTO;
}

void smb2_conn_input_buffer(struct smb2_conn *c, uint8_t **buf, size_t *cap)
{
    /* Grow to hold the frame being received (known once its prefix arrived) and leave room
     * for more so small frames arrive many per read. */
    size_t want = 64 * 1024;
    if (c->inlen >= FRAME_PREFIX_LEN) {
        size_t frame = FRAME_PREFIX_LEN + ((size_t)c->inbuf[1] << 16 |
                                           (size_t)c->inbuf[2] << 8 | c->inbuf[3]);
        if (frame > want)
            want = frame;
    }
    if (c->incap - c->inlen < want / 2 || c->incap < want) {
        size_t ncap = c->inlen + want;
        uint8_t *p = realloc(c->inbuf, ncap);
        if (p) {
            c->inbuf = p;
            c->incap = ncap;
        }
    }
    *buf = c->inbuf ? c->inbuf + c->inlen : NULL;
    *cap = c->inbuf ? c->incap - c->inlen : 0;
}

int smb2_conn_input_commit(struct smb2_conn *c, size_t n)
{
    if (c->error)
        return c->error;
    if (n > c->incap - c->inlen)
        n = c->incap - c->inlen;
    c->inlen += n;
    size_t off = 0;
    int rc = 0;
    while (!rc && c->inlen - off >= FRAME_PREFIX_LEN) {
        const uint8_t *p = c->inbuf + off;
        /* MS-SMB2 2.1: Direct TCP transport header: one zero byte, 24-bit length. */
        if (p[0] != 0) {
            rc = SQ_ERR_PROTO;
            break;
        }
        size_t frame = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (frame > c->max_frame_len || frame < 4) {
            rc = SQ_ERR_PROTO;
            break;
        }
        if (c->inlen - off - FRAME_PREFIX_LEN < frame)
            break;
        rc = handle_frame(c, c->inbuf + off + FRAME_PREFIX_LEN, frame);
        off += FRAME_PREFIX_LEN + frame;
        if (!rc && c->error)
            rc = c->error;
    }
    if (rc) {
        smb2_conn_fail(c, rc);
        return rc;
    }
    if (off) {
        memmove(c->inbuf, c->inbuf + off, c->inlen - off);
        c->inlen -= off;
    }
    /* Responses granted credits: let held-back requests out. */
    pump(c);
    return 0;
}

int smb2_conn_input(struct smb2_conn *c, const uint8_t *data, size_t len)
{
    while (len) {
        if (c->error)
            return c->error;
        uint8_t *buf;
        size_t cap;
        smb2_conn_input_buffer(c, &buf, &cap);
        if (!buf || !cap) {
            smb2_conn_fail(c, SQ_ERR_NOMEM);
            return SQ_ERR_NOMEM;
        }
        size_t n = len < cap ? len : cap;
        memcpy(buf, data, n);
        data += n;
        len -= n;
        int rc = smb2_conn_input_commit(c, n);
        if (rc)
            return rc;
    }
    return c->error;
}
