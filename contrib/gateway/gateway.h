/* smbquic-gateway: publishes an SMB server that listens on TCP (Samba) over SMB over QUIC.
 *
 * One thread, one epoll reactor, one UDP socket. Each QUIC connection (ngtcp2 + GnuTLS,
 * TLS 1.3, ALPN "smb") carries exactly one client-opened bidirectional stream; its bytes are
 * the SMB2 messages with their 4-byte Direct-TCP prefix (MS-SMB2 2.1), exactly as on TCP 445,
 * so the gateway never parses SMB: it pipes the stream to one TCP connection to the backend.
 *
 * Modules: main.c (options, privileges, signals), server.c (UDP socket, batching, connection
 * table, version negotiation, stateless reset, Retry, the reactor), conn.c (one QUIC
 * connection: ngtcp2 callbacks, packet I/O, closing and draining), backend.c (the TCP side
 * and the byte queues), tls.c (GnuTLS), access.c (client-certificate rules), audit.c. */
#ifndef SMBQUIC_GATEWAY_GATEWAY_H
#define SMBQUIC_GATEWAY_GATEWAY_H

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "access.h"

/* ---- Limits and the reasoning behind them --------------------------------------------- */

/* Flow control (RFC 9000 4). Client-to-backend: we advertise a stream and connection
 * receive window of GW_RX_WINDOW and grant new credit only for bytes actually written to the
 * backend TCP socket (back-pressure), so the bytes held for one connection, in ngtcp2's
 * reassembly buffer plus our queue to the backend, never exceed the window.
 * Sizing: 100 MB/s over a 100 ms round trip is a 10 MB bandwidth-delay product. The window
 * must also cover the round trip a MAX_STREAM_DATA update takes and the WRITEs an SMB client
 * keeps in flight (several of up to 8 MiB). Measured through a 100 ms relay (udp-impair) on
 * loopback, 2 shared cores: 16 MiB gave about 120 MB/s upstream, 32 MiB about 140 MB/s.
 * ngtcp2 doubles the window, up to GW_RX_WINDOW_MAX, when it has to grant credit twice
 * within two round trips: the window, not the backend, is then what limits. That happens
 * only on long fast paths (a 100 ms relay: put 512 MiB ~15% sooner); on a LAN a quarter of
 * the window takes longer than two round trips to drain and it stays at GW_RX_WINDOW. A
 * backend that stops reading grants no credit, so the window cannot grow behind it. */
#define GW_RX_WINDOW     ((uint64_t)32 * 1024 * 1024)
#define GW_RX_WINDOW_MAX ((uint64_t)64 * 1024 * 1024)

/* Backend-to-client: ngtcp2 keeps pointers to stream data until the client acknowledges it
 * (acked_stream_data_offset, which only advances over contiguously acknowledged data), so
 * those bytes stay in our queue until then. We read from the backend only while that queue
 * holds less than the cap (gw_conn_tx_cap); beyond it TCP's own flow control holds the
 * backend back. The cap must cover BBR's congestion window (about twice the
 * bandwidth-delay product) plus the tail held back by a lost packet, so it is twice the
 * current congestion window, within [GW_TX_CAP_MIN, GW_TX_CAP_MAX]. Measured as above with
 * fixed caps: 16 MiB held downstream near 90 MB/s, 32 MiB reached 110-145 MB/s; a get
 * through a 100 ms relay kept ~25 MB in flight with 32 MiB while BBR's window had grown to
 * 63 MB. On loopback BBR's window is a few packets and the cap stays at the minimum. One
 * read can overshoot the cap by one chunk. */
#define GW_TX_CAP_MIN ((uint64_t)32 * 1024 * 1024)
#define GW_TX_CAP_MAX ((uint64_t)64 * 1024 * 1024)
#define GW_CHUNK_SIZE (64 * 1024)
/* Chunks freed by one transfer are kept, shared by all connections, for the next one: up to
 * GW_CHUNK_POOL_MAX of them (32 MiB, what one connection on a LAN reads ahead). Handing them
 * back to the system made every connection page-fault its queue in again: ~7,200 faults
 * and a third of the gateway's CPU time in a 512 MiB get on loopback (the machines here are
 * virtual; a fault costs ~20 us). The pool is released after GW_POOL_IDLE_RELEASE without
 * any connection, so an idle gateway goes back to its baseline. */
#define GW_CHUNK_POOL_MAX    ((size_t)(GW_TX_CAP_MIN / GW_CHUNK_SIZE))
#define GW_POOL_IDLE_RELEASE ((ngtcp2_duration)10 * NGTCP2_SECONDS)
/* Backend bytes one service pass reads for one connection (about a millisecond of copying)
 * before the event loop turns to everything else. Reading until EAGAIN or the cap held the
 * loop for as long as smbd kept the socket full, up to the whole cap: no ACK processed and no
 * packet sent meanwhile, for this connection or any other. Seen in a debug timeline of a get
 * over a 100 ms path with the windows raised to 96 MiB: 390 ms without a send at the start,
 * the smoothed RTT pushed from 103 to 163 ms. */
#define GW_BACKEND_READ_BUDGET (2 * 1024 * 1024)

/* So the bound for one connection is GW_RX_WINDOW_MAX + GW_TX_CAP_MAX + GW_CHUNK_SIZE
 * (128.06 MiB) plus ngtcp2 and GnuTLS state (about 60 KiB, measured by
 * tests/gateway/test_gateway_memory.sh as the cost of an idle connection); a connection
 * reaches the maxima only on a long fast path, and on a LAN stays within GW_RX_WINDOW +
 * GW_TX_CAP_MIN (64 MiB). --max-connections (default 256) caps the number of connections:
 * 256 x 128.1 MiB = 32 GiB in the worst case of every client on a long path filling both
 * directions while its backend stalls. An idle connection holds no queue chunk at all;
 * size --max-connections (or systemd's MemoryMax=) to the host. The chunk pool adds at
 * most 32 MiB for the whole process. */
#define GW_DEFAULT_MAX_CONNECTIONS 256

#define GW_SCID_LEN                18 /* our connection IDs: random, never reused */
#define GW_MAX_SCIDS               32 /* IDs in use by one connection (ngtcp2 keeps <= 8 + retired) */
#define GW_IDLE_TIMEOUT            (60 * NGTCP2_SECONDS) /* max_idle_timeout; clients keep alive */
#define GW_HANDSHAKE_TIMEOUT       (10 * NGTCP2_SECONDS)
#define GW_BACKEND_CONNECT_TIMEOUT (10 * NGTCP2_SECONDS)
#define GW_RETRY_TOKEN_TIMEOUT     (10 * NGTCP2_SECONDS)

/* The largest UDP payload we send once path MTU discovery has confirmed it (65535 - 40 for
 * IPv6 - 8 for UDP; loopback's MTU is 64 KiB). Every packet costs ngtcp2, GnuTLS and the
 * kernel about the same whatever its size: on loopback, packets of this size instead of
 * 1452 bytes cut the gateway's CPU per byte by about a third. */
#define GW_PMTUD_MAX 65487

/* Send batching: one sendmsg carries up to 64 KiB of same-sized packets (UDP_SEGMENT). */
#define GW_TX_BUFSIZE    (64 * 1024)
#define GW_GSO_MAX_BYTES 65507 /* the largest UDP payload over IPv4 */
#define GW_MAX_GSO_SEGS  64
#define GW_PACING_QUANTA 4 /* send quanta per sending pass (conn.c conn_write) */
/* Receive batching: recvmmsg of up to GW_RX_BATCH datagrams, each up to 64 KiB (a UDP_GRO
 * aggregate or one jumbo datagram). */
#define GW_RX_BATCH   16
#define GW_RX_BUFSIZE (64 * 1024)

/* Application error codes in CONNECTION_CLOSE (RFC 9000 20.2). MS-SMB2 defines none for
 * QUIC; these are the gateway's own, listed in smbquic-gateway(8). */
enum gw_app_error {
    GW_APP_NO_ERROR = 0x0,            /* the gateway is shutting down */
    GW_APP_BACKEND_CLOSED = 0x1,      /* the SMB server closed its TCP connection */
    GW_APP_BACKEND_UNREACHABLE = 0x2, /* the SMB server could not be reached */
    GW_APP_STREAM_REFUSED = 0x3,      /* a second stream: only one is allowed */
    GW_APP_STREAM_RESET = 0x4,        /* the client reset or abandoned the SMB stream */
    GW_APP_INTERNAL = 0x5,            /* out of memory or another local failure */
};

/* TLS alert sent (as CRYPTO_ERROR 0x100 + alert, RFC 9001 4.8) to a client that the
 * client-certificate policy refuses. */
#define GW_TLS_ALERT_ACCESS_DENIED 49

/* ---- Byte queues (backend.c) ----------------------------------------------------------- */

struct gw_chunk {
    struct gw_chunk *next;
    size_t len; /* bytes filled */
    uint8_t data[GW_CHUNK_SIZE];
};

/* A FIFO of bytes in fixed chunks that never move, so ngtcp2 may keep pointers into them.
 * The send cursor (to_client only) marks the first byte not yet handed to ngtcp2. */
struct gw_queue {
    struct gw_chunk *head, *tail;
    size_t head_off; /* bytes of head already consumed */
    uint64_t bytes;  /* bytes queued and not consumed */
    struct gw_chunk *cursor;
    size_t cursor_off;
    uint64_t unsent; /* bytes at or after the cursor */
};

/* ---- Reactor ------------------------------------------------------------------------- */

enum gw_watch_kind { GW_WATCH_UDP, GW_WATCH_TIMER, GW_WATCH_SIGNAL, GW_WATCH_BACKEND };

/* What epoll_event.data.ptr points at. */
struct gw_watch {
    enum gw_watch_kind kind;
};

/* ---- One connection -------------------------------------------------------------------- */

enum gw_backend_state { GW_BE_NONE, GW_BE_CONNECTING, GW_BE_CONNECTED, GW_BE_CLOSED };

struct gw_backend {
    struct gw_watch watch; /* GW_WATCH_BACKEND; container: struct gw_conn */
    int fd;
    enum gw_backend_state state;
    struct gw_queue to_backend; /* stream bytes not yet written to TCP */
    struct gw_queue to_client;  /* TCP bytes not yet acknowledged by the client */
    bool client_fin;            /* the client ended its stream: shut down TCP's write side */
    bool shut_wr;
    bool eof;      /* the backend closed its side */
    bool fin_sent; /* FIN handed to ngtcp2 */
    bool kick;     /* try reading/writing at the next service pass */
    bool held_back; /* reading stopped at the cap: an acknowledgment below it kicks */
    ngtcp2_tstamp connect_deadline;
};

enum gw_conn_state {
    GW_CONN_HANDSHAKE,
    GW_CONN_OPEN,
    GW_CONN_CLOSING,  /* we sent CONNECTION_CLOSE; answer late packets with it (RFC 9000 10.2.1) */
    GW_CONN_DRAINING, /* the peer closed; send nothing (RFC 9000 10.2.2) */
    GW_CONN_DEAD,     /* to be freed by the next service pass */
};

struct gw_server;

/* Packets that could not be sent (EAGAIN on the UDP socket), kept until it is writable. */
struct gw_pending_tx {
    uint8_t *data;
    size_t len;
    size_t segsize;
    ngtcp2_path_storage path;
};

struct gw_conn {
    struct gw_server *srv;
    struct gw_conn *prev, *next;
    enum gw_conn_state state;
    ngtcp2_conn *qc;
    gnutls_session_t tls;
    ngtcp2_crypto_conn_ref conn_ref;

    char id[2 * NGTCP2_MAX_CIDLEN + 1]; /* hex of the client's original DCID */
    char peer[64];                      /* the first peer address, for logs */
    ngtcp2_cid cids[GW_MAX_SCIDS];      /* every ID that maps to this connection */
    size_t ncids;

    int64_t stream_id;     /* the SMB stream, -1 until the client opens it */
    int64_t refuse_stream; /* another stream to reset after the current read, -1 if none */
    struct gw_backend be;
    bool want_write;

    /* The close to start at the next service pass (set from callbacks, where ngtcp2 must
     * not be re-entered). */
    bool close_pending;
    ngtcp2_ccerr close_err;
    char close_reason[128];

    /* Access decision, made when the client's Finished arrives. */
    bool decided;
    bool denied;
    bool alpn_bad;
    struct gw_cert_info cert;
    struct gw_decision decision;
    bool audit_open; /* an open line was written: a close line is due */

    uint64_t bytes_from_client, bytes_to_client;
    ngtcp2_tstamp started;
    /* Why sending towards the client stopped, counted per write pass (-vv prints them at
     * close): the client's flow control, congestion control or pacing with data waiting,
     * a pass's pacing budget used up (GW_PACING_QUANTA send quanta), a full UDP socket. */
    uint64_t stalls_flow, stalls_cwnd, quantum_ends, socket_full;

    uint8_t *close_pkt; /* our CONNECTION_CLOSE, resent in the closing state */
    size_t close_pktlen;
    uint64_t close_rx, close_next_tx;
    ngtcp2_tstamp close_deadline;

    struct gw_pending_tx pending;
};

/* ---- The server --------------------------------------------------------------------- */

struct gw_config {
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    struct sockaddr_storage backend_addr;
    socklen_t backend_len;
    char backend_name[300];
    size_t max_connections;
    int verbose;
};

struct gw_tls {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t priority;
};

struct gw_cidmap_entry;

struct gw_cidmap {
    struct gw_cidmap_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t seed[2];
};

struct gw_server {
    struct gw_config cfg;
    const struct gw_access *access;
    struct gw_tls tls;
    ngtcp2_callbacks callbacks;
    uint8_t secret[32]; /* stateless reset tokens and Retry tokens */

    int epfd, udp_fd, timer_fd, signal_fd;
    struct gw_watch udp_watch, timer_watch, signal_watch;
    ngtcp2_sockaddr_union local; /* the bound address */
    socklen_t local_len;
    bool use_pktinfo; /* bound to a wildcard address: learn/set the local one */
    bool gso, gro;
    bool udp_out_armed;
    ngtcp2_tstamp timer_armed_at;
    ngtcp2_tstamp last_trim;
    bool trim_due;
    ngtcp2_tstamp idle_since; /* when the last connection ended; 0 while any is open */

    struct gw_cidmap cids;
    struct gw_conn *conns;
    size_t nconns;      /* all, including closing and draining */
    size_t nactive;     /* handshaking or open */
    size_t nhandshake;  /* handshaking */
    size_t npending_tx; /* connections with gw_pending_tx */

    bool stopping;
    bool retrying; /* answering new clients with Retry (many half-open connections) */

    /* Token buckets: stateless resets, and audit lines for failed handshakes. */
    double reset_tokens, failed_tokens;
    ngtcp2_tstamp reset_refill, failed_refill;
    uint64_t failed_suppressed;

    uint8_t *txbuf;  /* GW_TX_BUFSIZE */
    uint8_t *rxbufs; /* GW_RX_BATCH x GW_RX_BUFSIZE */
};

/* ---- Cross-module functions ------------------------------------------------------------ */

/* Monotonic time in nanoseconds, ngtcp2's clock. */
ngtcp2_tstamp gw_now(void);
/* "a.b.c.d:port" or "[v6]:port" (IPv4-mapped addresses shown as IPv4). */
void gw_format_addr(const struct sockaddr *sa, char *out, size_t out_len);
void gw_hex(const uint8_t *data, size_t len, char *out, size_t out_len);

/* server.c */
int gw_server_init(struct gw_server *srv, char *why, size_t why_len);
int gw_server_run(struct gw_server *srv); /* until SIGTERM/SIGINT; returns the exit status */
void gw_server_free(struct gw_server *srv);
int gw_cidmap_add(struct gw_cidmap *map, const ngtcp2_cid *cid, struct gw_conn *conn);
void gw_cidmap_remove(struct gw_cidmap *map, const ngtcp2_cid *cid);
struct gw_conn *gw_cidmap_find(const struct gw_cidmap *map, const uint8_t *data, size_t len);
/* Sends packets of segsize bytes each (the last may be shorter) to path->remote. Returns
 * the number of bytes sent; fewer than len means the socket is full (EAGAIN). */
size_t gw_server_send(struct gw_server *srv, const ngtcp2_path *path, const uint8_t *data,
                      size_t len, size_t segsize);
void gw_server_want_udp_out(struct gw_server *srv);

/* conn.c */
/* Creates a connection for a client Initial (hd from ngtcp2_accept). odcid is the client's
 * original DCID (from a Retry token, or hd->dcid); retry_scid is non-NULL after a Retry. */
struct gw_conn *gw_conn_new(struct gw_server *srv, const ngtcp2_pkt_hd *hd, const ngtcp2_path *path,
                            const ngtcp2_cid *odcid, const ngtcp2_cid *retry_scid);
void gw_conn_free(struct gw_conn *c);
void gw_conn_on_datagram(struct gw_conn *c, const ngtcp2_path *path, const uint8_t *data,
                         size_t len);
/* Deferred work: a pending close, backend I/O, sending. */
void gw_conn_service(struct gw_conn *c);
/* Backend bytes to hold unacknowledged at most (see GW_TX_CAP_MIN). */
uint64_t gw_conn_tx_cap(struct gw_conn *c);
/* The earliest time the connection needs gw_conn_on_timer, UINT64_MAX for none. */
ngtcp2_tstamp gw_conn_expiry(struct gw_conn *c);
void gw_conn_on_timer(struct gw_conn *c, ngtcp2_tstamp now);
/* Retries packets kept after EAGAIN; false while the socket is still full. */
bool gw_conn_flush_pending(struct gw_conn *c);
/* Closes with an application error (used for shutdown). */
void gw_conn_close_app(struct gw_conn *c, uint64_t code, const char *reason);
void gw_conn_schedule_close_app(struct gw_conn *c, uint64_t code, const char *reason);
/* Called from the TLS handshake hook when the client's Finished arrives: applies the access
 * rules, writes the audit line. Returns 0 to continue, -1 to fail the handshake. */
int gw_conn_on_client_finished(struct gw_conn *c);
void gw_conn_callbacks(ngtcp2_callbacks *cb);

/* backend.c */
int gw_backend_connect(struct gw_conn *c);
/* Stream bytes from the client (inside recv_stream_data). Returns 0 or -1 (out of memory). */
int gw_backend_from_client(struct gw_conn *c, const uint8_t *data, size_t len, bool fin);
void gw_backend_on_event(struct gw_conn *c, uint32_t events);
void gw_backend_pump(struct gw_conn *c);
void gw_backend_close(struct gw_conn *c);
void gw_backend_free(struct gw_conn *c);

void gw_queue_free(struct gw_queue *q);
/* Frees the pool of unused chunks (when idle, and at exit). */
void gw_chunk_cache_free(void);
bool gw_chunk_cache_empty(void);
/* Up to max vectors starting at the send cursor; returns the count. */
size_t gw_queue_unsent(const struct gw_queue *q, ngtcp2_vec *vec, size_t max);
void gw_queue_mark_sent(struct gw_queue *q, size_t n);
void gw_queue_consume(struct gw_queue *q, size_t n);

/* tls.c */
int gw_tls_init(struct gw_tls *tls, const char *cert_file, const char *key_file, char *why,
                size_t why_len);
void gw_tls_free(struct gw_tls *tls);
int gw_tls_session_new(struct gw_tls *tls, struct gw_conn *c);

/* main.c */
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int gw_verbosity;
#define GW_LOG_ERROR 0
#define GW_LOG_WARN  1
#define GW_LOG_INFO  2 /* -v: connection events */
#define GW_LOG_DEBUG 3 /* -vv */

#endif
