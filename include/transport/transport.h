/* A reliable, ordered byte stream to the server: TCP now, QUIC (one bidirectional stream)
 * later. It knows nothing of SMB beyond being asked to carry its frames. Non-blocking: the
 * owner polls transport_fd() for transport_poll_events() and calls transport_on_timeout()
 * at transport_timeout_ms(). */
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
    /* Milliseconds until on_timeout must run, -1 for none. */
    int (*timeout_ms)(struct transport *t);
    int (*on_timeout)(struct transport *t);
    void (*close)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    int fd;
    char peer[64]; /* numeric address:port actually connected to */
};

/* Resolves host and connects over TCP within timeout_ms. On failure returns SQ_ERR_RESOLVE,
 * SQ_ERR_TIMEOUT or SQ_ERR_IO (errno kept) and fills why (a short text). */
int transport_tcp_connect(const char *host, uint16_t port, int timeout_ms,
                          struct transport **out, char *why, size_t why_len);

static inline void transport_close(struct transport *t)
{
    if (t)
        t->ops->close(t);
}

#endif
