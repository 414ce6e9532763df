/* The sans-I/O SMB2 connection core: bytes and requests go in, bytes and completions come out.
 * It never touches a socket or a clock (as ngtcp2 does), so the whole protocol can be tested in
 * memory and fuzzed. It owns: framing (the 4-byte Direct-TCP prefix, MS-SMB2 2.1), message ids
 * and credits (MS-SMB2 3.2.4.1.5, 3.2.5.1.4), compounds (3.2.4.1.4), signing (3.2.4.1.1) and its
 * verification (3.2.5.1.3), encryption (3.2.4.1.8, 3.2.5.1.1.1), the pre-auth integrity hash
 * (3.2.5.2), interim responses (3.2.5.1.5) and unsolicited lease/oplock breaks (3.2.5.19).
 *
 * Threading: a connection belongs to one thread; nothing here locks.
 * Callbacks run from inside smb2_conn_input or smb2_conn_fail. They may submit new requests
 * (which only queue output) but must not call smb2_conn_input or smb2_conn_free.
 */
#ifndef SMBQUIC_SMB2_CONN_H
#define SMBQUIC_SMB2_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/smbcrypto.h"
#include "smb2/proto.h"
#include "util/buf.h"

struct smb2_conn;

/* One response handed to a completion callback. msg/len is the single (decrypted, split)
 * message starting at its header; it lives only during the callback. */
struct smb2_reply {
    struct smb2_header hdr;
    const uint8_t *msg;
    size_t len;
    bool was_encrypted;
    bool was_signed; /* carried a signature that verified */
};

/* err is 0 when a response arrived (its NTSTATUS is in reply->hdr.status) or a negative
 * sq_error when the request failed locally or the connection died (reply is NULL then). */
typedef void (*smb2_callback)(void *arg, int err, const struct smb2_reply *reply);

/* An unsolicited OPLOCK_BREAK notification (MessageId 0xFFFFFFFFFFFFFFFF, MS-SMB2 2.2.23). */
typedef void (*smb2_break_callback)(void *arg, const struct smb2_reply *reply);

/* What NEGOTIATE settled; set by the client layer once it parsed the response. */
struct smb2_negotiated {
    uint16_t dialect;
    uint16_t security_mode;       /* the server's */
    uint32_t capabilities;        /* the server's */
    uint32_t max_transact_size;
    uint32_t max_read_size;
    uint32_t max_write_size;
    uint8_t server_guid[16];
    enum crypto_cipher cipher;    /* CRYPTO_CIPHER_NONE when encryption is unavailable */
    enum crypto_signing_alg signing_alg;
};

/* One message to send. The caller builds msg as a 64-byte header placeholder followed by the
 * body (see smb2/msg.h); the connection fills in the header fields. */
struct smb2_request {
    uint16_t command;
    uint32_t tree_id;
    struct writer msg;              /* ownership passes to the connection on submit */
    /* Optional bytes that follow msg in the message (a WRITE's data), borrowed only for the
     * duration of smb2_conn_submit: they go straight into the frame when the request can be
     * sent at once, and are copied only when it has to wait for credits. This spares the
     * mount one copy of every WRITE (the data is not first copied into msg). */
    const uint8_t *tail;
    size_t tail_len;
    uint8_t *tail_copy;             /* the connection's own: set and freed by it */
    uint32_t expected_response_len; /* payload expected back, for CreditCharge (READ length...) */
    bool related;                   /* compound: operate on the previous request's file */
    smb2_callback cb;
    void *arg;
    uint64_t *message_id_out;       /* optional: where to store the assigned MessageId */
};

struct smb2_conn_config {
    uint32_t max_frame_len;   /* largest frame accepted from the server; 0 = default (16 MiB+) */
    uint16_t credit_target;   /* credits to keep available for pipelining; 0 = default (1024) */
};

int smb2_conn_new(const struct smb2_conn_config *cfg, struct smb2_conn **out);
/* Fails every pending request with SQ_ERR_CLOSED (callbacks run) and frees everything; keys are
 * wiped. */
void smb2_conn_free(struct smb2_conn *c);

/* Queues requests. count > 1 makes a compound (MS-SMB2 3.2.4.1.4) sent in one frame; requests
 * are held back until enough credits are available. Returns 0 (each callback will run exactly
 * once) or a negative error (no callback will run; the writers were freed). */
int smb2_conn_submit(struct smb2_conn *c, struct smb2_request *reqs, size_t count);

/* Sends SMB2 CANCEL for a pending request (MS-SMB2 3.2.4.24). The request's callback still runs
 * once, with whatever the server answers (usually STATUS_CANCELLED). */
int smb2_conn_cancel(struct smb2_conn *c, uint64_t message_id);

/* Output: the next contiguous bytes to send (NULL/0 when idle), then how many were sent. */
void smb2_conn_output(struct smb2_conn *c, const uint8_t **data, size_t *len);
void smb2_conn_output_consumed(struct smb2_conn *c, size_t n);
bool smb2_conn_wants_output(const struct smb2_conn *c);

/* Input, zero-copy: a buffer to receive into (at least 1 byte), then commit what arrived. */
void smb2_conn_input_buffer(struct smb2_conn *c, uint8_t **buf, size_t *cap);
int smb2_conn_input_commit(struct smb2_conn *c, size_t n);
/* Input by copy (tests, fuzzing): feeds bytes of the stream. Returns 0 or the fatal error that
 * killed the connection (all pending requests have then been failed). */
int smb2_conn_input(struct smb2_conn *c, const uint8_t *data, size_t len);

/* Marks the connection dead (transport lost): fails every pending request with err. */
void smb2_conn_fail(struct smb2_conn *c, int err);
/* 0 while alive, else the error that killed it. */
int smb2_conn_error(const struct smb2_conn *c);
size_t smb2_conn_pending_count(const struct smb2_conn *c);
uint32_t smb2_conn_credits(const struct smb2_conn *c);

void smb2_conn_set_break_callback(struct smb2_conn *c, smb2_break_callback cb, void *arg);

/* Negotiation results; required before session setup. */
void smb2_conn_set_negotiated(struct smb2_conn *c, const struct smb2_negotiated *n);
const struct smb2_negotiated *smb2_conn_negotiated(const struct smb2_conn *c);

/* The connection-wide pre-auth hash after NEGOTIATE (MS-SMB2 3.2.5.2), maintained
 * automatically for 3.1.1 once smb2_conn_set_negotiated says so. */
const uint8_t *smb2_conn_preauth_hash(const struct smb2_conn *c);

/* Session establishment. The client layer calls session_begin before the first SESSION_SETUP;
 * from then on SESSION_SETUP requests and their STATUS_MORE_PROCESSING_REQUIRED responses go
 * into the session's pre-auth hash (MS-SMB2 3.2.5.3.1). session_id is 0 until the server assigns
 * one (smb2_conn_session_set_id). */
void smb2_conn_session_begin(struct smb2_conn *c);
void smb2_conn_session_set_id(struct smb2_conn *c, uint64_t session_id);
uint64_t smb2_conn_session_id(const struct smb2_conn *c);
/* Derives the signing and cipher keys from the GSS session key and the session's pre-auth hash
 * (MS-SMB2 3.2.5.3.1 / 3.3.5.5.3) and arms signing. The key is copied and wiped later. */
int smb2_conn_session_keys(struct smb2_conn *c, const uint8_t *session_key, size_t key_len);
/* Verifies a reply's signature with the session's signing key (for the final SESSION_SETUP
 * response, which arrives before the keys exist). Returns 0 or SQ_ERR_SIGNATURE. */
int smb2_conn_verify_reply(struct smb2_conn *c, const struct smb2_reply *reply);
/* Session-wide policy: sign every request; encrypt every request (and require every response
 * to be encrypted) when encrypt is true. */
void smb2_conn_session_set_policy(struct smb2_conn *c, bool sign, bool encrypt);
/* Per-tree encryption (Share.EncryptData, MS-SMB2 3.2.5.5). */
int smb2_conn_tree_set_encrypt(struct smb2_conn *c, uint32_t tree_id, bool encrypt);
/* Drops the session's keys (after LOGOFF). */
void smb2_conn_session_end(struct smb2_conn *c);

/* Counters of requests sent, by command (for `status` and benchmarks). */
uint64_t smb2_conn_sent_count(const struct smb2_conn *c, uint16_t command);

/* Helpers for building requests: a writer with a zeroed 64-byte header placeholder. */
int smb2_request_init(struct smb2_request *r, uint16_t command, uint32_t tree_id);

#endif
