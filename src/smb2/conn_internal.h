/* Private to src/smb2/conn*.c. */
#ifndef SMBQUIC_SMB2_CONN_INTERNAL_H
#define SMBQUIC_SMB2_CONN_INTERNAL_H

#include "smb2/conn.h"

#define PENDING_BUCKETS 1024
#define MAX_TREES 64

struct pending {
    struct pending *next;        /* hash chain */
    uint64_t message_id;
    uint64_t async_id;
    bool is_async;
    uint16_t command;
    uint16_t credit_charge;
    uint32_t tree_id;
    bool sent_encrypted;         /* its response must come back encrypted too */
    smb2_callback cb;
    void *arg;
};

/* Requests held back until credits allow them out (one entry per compound). */
struct queued_batch {
    struct queued_batch *next;
    size_t count;
    uint32_t charge_total;
    struct smb2_request reqs[];
};

struct out_frame {
    struct out_frame *next;
    size_t len;
    size_t sent;
    uint8_t data[];
};

struct tree_policy {
    uint32_t tree_id;
    bool encrypt;
};

struct smb2_session_state {
    uint64_t id;
    bool in_setup;               /* SESSION_SETUP messages go into the pre-auth hash */
    bool keys_ready;
    bool sign;                   /* sign requests / require signed responses */
    bool encrypt;                /* encrypt requests / require encrypted responses */
    uint8_t preauth_hash[CRYPTO_PREAUTH_HASH_SIZE];
    struct crypto_signer *signer;
    struct crypto_aead *encryptor; /* client to server */
    struct crypto_aead *decryptor; /* server to client */
    uint8_t nonce_salt[4];       /* random per session; the rest of the nonce is a counter */
    uint64_t nonce_counter;
};

struct smb2_conn {
    int error;
    uint32_t max_frame_len;
    uint16_t credit_target;

    uint64_t next_message_id;
    uint32_t credits;            /* granted and unused */
    uint32_t credits_in_flight;  /* charged by requests awaiting their final response */

    struct pending *buckets[PENDING_BUCKETS];
    size_t pending_count;

    struct queued_batch *queue_head, *queue_tail;
    struct out_frame *out_head, *out_tail;

    uint8_t *inbuf;
    size_t inlen, incap;

    struct smb2_negotiated neg;
    bool negotiated;
    uint8_t conn_preauth_hash[CRYPTO_PREAUTH_HASH_SIZE];

    struct smb2_session_state session;
    struct tree_policy trees[MAX_TREES];
    size_t tree_count;

    smb2_break_callback break_cb;
    void *break_arg;

    uint64_t sent_by_command[SMB2_COMMAND_COUNT];
};

#endif
