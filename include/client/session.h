/* A connected, authenticated SMB session with one tree, driven synchronously over a transport:
 * what the `smbquic` CLI (and the mount's initial connect) needs. The protocol lives in the
 * sans-I/O core (smb2/conn.h); this module owns the transport, runs the I/O loop and walks the
 * stages NEGOTIATE -> SESSION_SETUP -> TREE_CONNECT with the security policy of
 * shared/PRODUCT.md: SMB 3.1.1 with pre-auth integrity, every message signed or sealed, no
 * guest or anonymous session unless asked, `sign`/`seal` fail rather than degrade. */
#ifndef SMBQUIC_CLIENT_SESSION_H
#define SMBQUIC_CLIENT_SESSION_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/options.h"
#include "smb2/conn.h"

struct pollfd;
struct smb2_file_id;

/* Where a connection attempt or an operation failed, for one clear line to the user. */
enum sq_stage {
    SQ_STAGE_OPTIONS = 0,
    SQ_STAGE_RESOLVE,
    SQ_STAGE_CONNECT,     /* UDP reachability, QUIC handshake, TCP connect */
    SQ_STAGE_CERTIFICATE, /* the server's certificate, or its client-certificate policy */
    SQ_STAGE_NEGOTIATE,
    SQ_STAGE_SESSION_SETUP,
    SQ_STAGE_TREE_CONNECT,
    SQ_STAGE_OPERATION,
};

struct sq_failure {
    enum sq_stage stage;
    const char *stage_name; /* "negotiate", "session setup", "open", ... */
    int err;                /* sq_error */
    uint32_t status;        /* NTSTATUS when err == SQ_ERR_STATUS */
    char detail[512];       /* the full one-line message, without the program name */
};

/* Fills f and returns err: the message is "<stage> failed: STATUS_NAME (hint)" for
 * NTSTATUS failures and "<stage> failed: <detail>" otherwise. */
int sq_fail(struct sq_failure *f, enum sq_stage stage, const char *stage_name, int err,
            uint32_t status, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

struct sq_session;

/* What was negotiated, for `smbquic info`. */
struct sq_session_info {
    const char *transport;   /* "tcp" or "quic" */
    char peer[64];
    const char *connection_id;   /* QUIC: the connection id the server logs; "" for TCP */
    const char *cert_subject;    /* QUIC: the server certificate; "" for TCP */
    const char *cert_issuer;
    const char *cert_sha256;
    const char *spki_sha256;      /* QUIC: SHA-256 of its public key, for pin=spki-sha256: */
    const char *local_address;    /* QUIC: our address:port, live (roaming changes it) */
    const uint64_t *migrations;   /* QUIC: the connection's moves so far, live */
    bool transport_security_only; /* QUIC's TLS alone protects the traffic (quic_tls_only) */
    uint16_t dialect;
    const char *cipher;      /* "AES-128-GCM" or "none" */
    const char *signing;     /* "AES-GMAC" ... or "none" */
    const char *auth;        /* "ntlmssp", "kerberos", "guest" */
    uint8_t server_guid[16];
    uint16_t session_flags;
    uint32_t share_flags;
    uint32_t share_type;
    bool encrypted;          /* requests on this tree are sealed */
    uint32_t max_read, max_write, max_transact;
};

/* Connects, negotiates, authenticates and connects the share in o. On failure returns a
 * negative error and fills *fail; nothing is left open. */
int sq_session_open(const struct sq_options *o, struct sq_session **out, struct sq_failure *fail);
/* The same, calling observer after each stage that succeeded (for `smbquic check`):
 * SQ_STAGE_CONNECT (transport up), SQ_STAGE_CERTIFICATE (QUIC only), SQ_STAGE_NEGOTIATE,
 * SQ_STAGE_SESSION_SETUP, SQ_STAGE_TREE_CONNECT. */
typedef void (*sq_stage_observer)(void *arg, enum sq_stage stage, const struct sq_session *s);
int sq_session_open_observed(const struct sq_options *o, struct sq_session **out,
                             struct sq_failure *fail, sq_stage_observer observer, void *arg);
/* Tree disconnect, logoff, close; NULL is fine. */
void sq_session_close(struct sq_session *s);
/* Closes the open file id, then leaves the share and the session, all in one compound: a
 * command's last round trip. Returns 0 when the CLOSE's reply arrived (*close_status its
 * NTSTATUS) or the error that kept it from arriving. Only sq_session_close is left to call. */
int sq_session_close_file_and_leave(struct sq_session *s, const struct smb2_file_id *id,
                                    uint32_t *close_status);

struct smb2_conn *sq_session_conn(struct sq_session *s);
/* The transport's smoothed round-trip time in microseconds, 0 when unknown. */
uint64_t sq_session_rtt_us(struct sq_session *s);
/* Milliseconds since the server last sent anything on this session (SMB bytes, not QUIC's
 * own ACKs or PINGs): what a liveness check (SMB2 ECHO) looks at. */
int64_t sq_session_silent_ms(const struct sq_session *s);
/* The rate one client thread moves data at (bench/quic.sh: ~650 MiB/s on loopback). get and
 * put keep this rate times the round trip in flight, and a mount reads that far ahead. */
#define SQ_IO_TARGET_RATE (600ull * 1024 * 1024) /* bytes per second */
/* The bytes in flight that keep a path with this round trip busy at SQ_IO_TARGET_RATE. */
static inline uint64_t sq_io_bytes_in_flight(uint64_t rtt_us)
{
    return rtt_us * SQ_IO_TARGET_RATE / 1000000;
}
uint32_t sq_session_tree_id(const struct sq_session *s);
const struct sq_session_info *sq_session_info(const struct sq_session *s);

/* A reply copied out of the connection so it outlives the callback. */
struct sq_reply {
    bool done;
    int err;                 /* 0: a response arrived (see status); else the local error */
    uint32_t status;
    uint8_t *msg;            /* the whole message, header first; free with sq_reply_clear */
    size_t len;
};
void sq_reply_clear(struct sq_reply *r);

/* Submits requests (a compound when count > 1; tree ids are set to this session's tree) and
 * runs the I/O loop until all replies arrived. Returns 0 when every reply arrived (statuses may
 * still be errors) or the error that broke the connection. */
int sq_session_call(struct sq_session *s, struct smb2_request *reqs, size_t count,
                    struct sq_reply *replies);

/* Runs the I/O loop until *done becomes true or the connection fails (pipelined I/O: the
 * caller submits through sq_session_conn and counts completions itself). */
int sq_session_run_until(struct sq_session *s, const bool *done);
/* For an owner with its own poll loop (the filesystem): the descriptors to poll (an unused
 * one has fd -1, which poll(2) skips; fill them afresh before every poll, a QUIC migration
 * changes the socket), how long at most (microseconds, -1 none), and the I/O step to run
 * after poll with their revents (zero after a timeout or EINTR). sq_session_io returns 0 or
 * the error that killed the connection. */
#define SQ_SESSION_POLLFDS 2
void sq_session_pollfds(struct sq_session *s, struct pollfd pfd[SQ_SESSION_POLLFDS]);
int64_t sq_session_timeout_us(struct sq_session *s);
int sq_session_io(struct sq_session *s, const struct pollfd pfd[SQ_SESSION_POLLFDS]);
/* Sends whatever requests are queued (call after submitting from outside a callback). */
int sq_session_flush(struct sq_session *s);
/* The same, but gives up after wait_ms (-1: no limit) with SQ_ERR_TIMEOUT, leaving the
 * connection and its pending requests as they are. At least one I/O pass runs first: 0 is
 * one pass that takes in and sends what it can without waiting. */
int sq_session_run_for(struct sq_session *s, const bool *done, int wait_ms);

#endif
