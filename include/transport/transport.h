/* A reliable, ordered byte stream to the server: TCP now, QUIC (one bidirectional stream)
 * later. It knows nothing of SMB beyond being asked to carry its frames. Non-blocking: the
 * owner polls fd for poll_events() and calls on_timeout() once timeout_us() has passed; it
 * also polls aux_fd (when >= 0) for POLLIN and then calls on_aux_ready(). */
#ifndef SMBQUIC_TRANSPORT_TRANSPORT_H
#define SMBQUIC_TRANSPORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transport;

struct transport_ops {
    const char *name; /* "tcp", "quic" */
    /* Sends up to len bytes; *sent may be 0 when the transport is full. Returns 0 or error. */
    int (*send)(struct transport *t, const uint8_t *data, size_t len, size_t *sent);
    /* Receives up to cap bytes; *got 0 means nothing now. SQ_ERR_CLOSED on orderly close. */
    int (*recv)(struct transport *t, uint8_t *buf, size_t cap, size_t *got);
    /* poll(2) events to wait for; want_send says the caller has bytes queued. */
    short (*poll_events)(struct transport *t, bool want_send);
    /* True when recv would return bytes without the socket being readable (data already
     * taken off the socket); NULL for transports that buffer nothing. */
    bool (*has_buffered_input)(struct transport *t);
    /* Microseconds until on_timeout must run, -1 for none. QUIC paces packets at intervals
     * well below a millisecond, so the owner must wait with ppoll(2)'s precision. */
    int64_t (*timeout_us)(struct transport *t);
    int (*on_timeout)(struct transport *t);
    /* The smoothed round-trip time the transport measured (RFC 9002 5.3; TCP_INFO's
     * tcpi_rtt), in microseconds; 0 when it has no estimate. Sizes pipelines to the path. */
    uint64_t (*rtt_us)(struct transport *t);
    /* aux_fd is readable: take what it has (QUIC: network change events, which schedule a
     * path check through timeout_us). NULL when the transport has no aux_fd. */
    void (*on_aux_ready)(struct transport *t);
    void (*close)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    int fd;        /* may change during the connection (QUIC migration): poll it afresh each time */
    int aux_fd;    /* a second descriptor to poll for POLLIN, -1 for none */
    char peer[64]; /* numeric address:port actually connected to */
    /* QUIC only (empty for TCP): for logs and `smbquic info`. */
    char connection_id[41];       /* hex of the client's original destination CID, which the
                                   * server sees first and logs (smbquic-gateway does) */
    char cert_subject[256];       /* the server certificate's subject DN */
    char cert_issuer[256];
    char cert_sha256[65];         /* hex SHA-256 of its DER encoding */
    char spki_sha256[65];         /* hex SHA-256 of its SubjectPublicKeyInfo (DER): what
                                   * pin=spki-sha256: names, the same across renewals that
                                   * keep the key */
    char local_address[64];       /* our address:port now (it changes when the connection
                                   * moves to a new address) */
    uint64_t migrations;          /* moves to a new local address so far */
};

/* Resolves host and connects over TCP within timeout_ms. On failure returns SQ_ERR_RESOLVE,
 * SQ_ERR_TIMEOUT or SQ_ERR_IO (errno kept) and fills why (a short text). */
int transport_tcp_connect(const char *host, uint16_t port, int timeout_ms,
                          struct transport **out, char *why, size_t why_len);

/* Why a QUIC connection attempt failed: the stage for the user's one-line message. */
enum transport_quic_stage {
    QUIC_STAGE_RESOLVE = 1, /* name resolution */
    QUIC_STAGE_UDP,         /* the server's UDP port is unreachable (ICMP) */
    QUIC_STAGE_HANDSHAKE,   /* no answer, wrong ALPN, TLS failure other than the certificate */
    QUIC_STAGE_CERTIFICATE, /* the server's certificate did not verify */
    QUIC_STAGE_CLIENT_CERTIFICATE, /* the server refused our client certificate (or its
                                    * absence) with a TLS alert */
};

struct transport_quic_params {
    const char *host;        /* name or address to connect to */
    uint16_t port;           /* UDP port (443 by default, chosen by the caller) */
    const char *servername;  /* DNS name to verify and send as SNI; NULL: host, which must
                              * then be a name, not an address */
    const char *cafile;      /* extra trusted CAs (PEM) besides the system store; may be NULL */
    const uint8_t *pin;      /* 32-byte SHA-256 of the one server certificate to trust
                              * instead of CA verification; NULL: verify normally */
    bool pin_spki;           /* pin is the SHA-256 of the server's public key (its
                              * SubjectPublicKeyInfo), not of the whole certificate */
    const char *cert_file;   /* client certificate and key (PEM), both or neither */
    const char *key_file;
    int timeout_ms;          /* bound on resolution + handshake */
    bool wait_confirmed;     /* return only once the server confirmed the handshake
                              * (HANDSHAKE_DONE, RFC 9001 4.1.2): a round trip more, but a
                              * server refusing our client certificate then fails the connect
                              * itself. Without it the connect returns when the handshake is
                              * complete on our side and a refusal ends the connection while
                              * the first request waits: see transport_quic_refused. */
};

/* Connects with QUIC v1 (RFC 9000) and TLS 1.3 (RFC 9001), ALPN "smb", verifies the server
 * certificate (chain to a trusted CA, DNS name, validity, serverAuth usage; or the pin),
 * opens the one bidirectional stream that carries SMB (MS-SMB2 2.1). Never sends 0-RTT data.
 * On failure returns a negative sq_error, sets *stage and a one-line reason in why. */
int transport_quic_connect(const struct transport_quic_params *p, struct transport **out,
                           enum transport_quic_stage *stage, char *why, size_t why_len);

/* For a QUIC transport connected without wait_confirmed whose first request failed: true if
 * the server ended the connection before confirming the handshake, with *stage and why set
 * as transport_quic_connect would have set them (e.g. the client certificate refused). False
 * for any other transport or ending. */
bool transport_quic_refused(struct transport *t, enum transport_quic_stage *stage, char *why,
                            size_t why_len);

/* For a QUIC transport the server ended with CONNECTION_CLOSE: true, with why saying so with
 * the server's error code and reason phrase (a gateway names why it gave up, e.g. "SMB server
 * unreachable"). False for any other transport or ending. */
bool transport_quic_peer_closed(struct transport *t, char *why, size_t why_len);

static inline void transport_close(struct transport *t)
{
    if (t)
        t->ops->close(t);
}

#endif
