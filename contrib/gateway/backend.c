/* The TCP side of a gateway connection, and the byte queues between the two sides.
 *
 * Back-pressure, both ways (limits in gateway.h):
 *   client -> backend: stream bytes are queued and written to the backend socket at the next
 *     service pass; QUIC flow-control credit is extended only by the bytes written, so the
 *     queue never holds more than the receive window.
 *   backend -> client: we read from the backend only while to_client (bytes not yet
 *     acknowledged by the client) is below gw_conn_tx_cap; an acknowledgment that takes it
 *     below again kicks the connection.
 * The backend socket is registered edge-triggered for both directions once; whenever room
 * appears (an acknowledgment, new stream data) the connection is "kicked" and the next
 * service pass tries both directions until EAGAIN. Failures never close the QUIC connection
 * from here: they schedule a close that runs outside ngtcp2's callbacks. */
#include "gateway.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_IOV 16

/* ---- queues ---- */

/* Freed chunks are kept for reuse, up to GW_CHUNK_POOL_MAX (gateway.h says why), and shared
 * by all connections. */
static struct gw_chunk *chunk_cache;
static size_t chunk_cache_len;

static struct gw_chunk *chunk_new(void)
{
    struct gw_chunk *ch = chunk_cache;
    if (ch) {
        chunk_cache = ch->next;
        chunk_cache_len--;
    } else {
        ch = malloc(sizeof(*ch));
    }
    if (ch) {
        ch->next = NULL;
        ch->len = 0;
    }
    return ch;
}

static void chunk_free(struct gw_chunk *ch)
{
    if (chunk_cache_len < GW_CHUNK_POOL_MAX) {
        ch->next = chunk_cache;
        chunk_cache = ch;
        chunk_cache_len++;
        return;
    }
    free(ch);
}

void gw_chunk_cache_free(void)
{
    while (chunk_cache) {
        struct gw_chunk *next = chunk_cache->next;
        free(chunk_cache);
        chunk_cache = next;
    }
    chunk_cache_len = 0;
}

bool gw_chunk_cache_empty(void)
{
    return chunk_cache == NULL;
}

/* A writable region at the tail (allocating a chunk when the tail is full). */
static int queue_reserve(struct gw_queue *q, uint8_t **ptr, size_t *space)
{
    if (!q->tail || q->tail->len == GW_CHUNK_SIZE) {
        struct gw_chunk *ch = chunk_new();
        if (!ch)
            return -1;
        if (q->tail)
            q->tail->next = ch;
        else
            q->head = ch;
        q->tail = ch;
        if (!q->cursor) {
            q->cursor = ch;
            q->cursor_off = 0;
        }
    }
    *ptr = q->tail->data + q->tail->len;
    *space = GW_CHUNK_SIZE - q->tail->len;
    return 0;
}

static void queue_commit(struct gw_queue *q, size_t n)
{
    q->tail->len += n;
    q->bytes += n;
    q->unsent += n;
}

static int queue_push(struct gw_queue *q, const uint8_t *data, size_t len)
{
    while (len > 0) {
        uint8_t *ptr;
        size_t space;
        if (queue_reserve(q, &ptr, &space) != 0)
            return -1;
        size_t n = len < space ? len : space;
        memcpy(ptr, data, n);
        queue_commit(q, n);
        data += n;
        len -= n;
    }
    return 0;
}

/* Up to max iovecs from the head (unconsumed bytes). */
static size_t queue_peek(const struct gw_queue *q, struct iovec *iov, size_t max)
{
    size_t n = 0, off = q->head_off;
    for (struct gw_chunk *ch = q->head; ch && n < max; ch = ch->next, off = 0) {
        if (ch->len > off) {
            iov[n].iov_base = ch->data + off;
            iov[n].iov_len = ch->len - off;
            n++;
        }
    }
    return n;
}

void gw_queue_consume(struct gw_queue *q, size_t n)
{
    if (n > q->bytes)
        n = (size_t)q->bytes; /* cannot happen with ngtcp2's in-order acknowledgments */
    q->bytes -= n;
    while (n > 0 && q->head) {
        size_t avail = q->head->len - q->head_off;
        size_t take = n < avail ? n : avail;
        q->head_off += take;
        n -= take;
        if (q->head_off == q->head->len && (q->head->len == GW_CHUNK_SIZE || q->bytes == 0)) {
            struct gw_chunk *done = q->head;
            q->head = done->next;
            q->head_off = 0;
            if (q->cursor == done) {
                q->cursor = q->head;
                q->cursor_off = 0;
            }
            if (!q->head)
                q->tail = NULL;
            chunk_free(done);
        }
    }
}

size_t gw_queue_unsent(const struct gw_queue *q, ngtcp2_vec *vec, size_t max)
{
    size_t n = 0, off = q->cursor_off;
    if (q->unsent == 0)
        return 0;
    for (struct gw_chunk *ch = q->cursor; ch && n < max; ch = ch->next, off = 0) {
        if (ch->len > off) {
            vec[n].base = ch->data + off;
            vec[n].len = ch->len - off;
            n++;
        }
    }
    return n;
}

void gw_queue_mark_sent(struct gw_queue *q, size_t n)
{
    if (n > q->unsent)
        n = (size_t)q->unsent;
    q->unsent -= n;
    while (n > 0 && q->cursor) {
        size_t avail = q->cursor->len - q->cursor_off;
        size_t take = n < avail ? n : avail;
        q->cursor_off += take;
        n -= take;
        if (q->cursor_off == q->cursor->len && q->cursor->next) {
            q->cursor = q->cursor->next;
            q->cursor_off = 0;
        }
    }
}

void gw_queue_free(struct gw_queue *q)
{
    struct gw_chunk *ch = q->head;
    while (ch) {
        struct gw_chunk *next = ch->next;
        chunk_free(ch);
        ch = next;
    }
    memset(q, 0, sizeof(*q));
}

/* ---- the backend socket ---- */

static void backend_fail(struct gw_conn *c, uint64_t code, const char *what, int err)
{
    char reason[128];
    if (err)
        snprintf(reason, sizeof(reason), "%s: %s", what, strerror(err));
    else
        snprintf(reason, sizeof(reason), "%s", what);
    gw_log(GW_LOG_INFO, "conn %s: %s", c->id, reason);
    gw_backend_close(c);
    gw_conn_schedule_close_app(c, code, reason);
}

int gw_backend_connect(struct gw_conn *c)
{
    struct gw_server *srv = c->srv;
    struct gw_backend *be = &c->be;
    int fd = socket(srv->cfg.backend_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        backend_fail(c, GW_APP_INTERNAL, "backend socket", errno);
        return -1;
    }
    int one = 1;
    /* SMB is request/response: small messages must not wait for Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    be->fd = fd;
    be->state = GW_BE_CONNECTING;
    be->connect_deadline = gw_now() + GW_BACKEND_CONNECT_TIMEOUT;
    if (connect(fd, (const struct sockaddr *)&srv->cfg.backend_addr, srv->cfg.backend_len) == 0)
        be->state = GW_BE_CONNECTED;
    else if (errno != EINPROGRESS) {
        backend_fail(c, GW_APP_BACKEND_UNREACHABLE, "backend unreachable", errno);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.ptr = &be->watch};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        backend_fail(c, GW_APP_INTERNAL, "epoll_ctl", errno);
        return -1;
    }
    if (be->state == GW_BE_CONNECTED)
        be->kick = true;
    return 0;
}

/* Grants the client credit for n more bytes: they have left the gateway. */
static void grant_credit(struct gw_conn *c, size_t n)
{
    if (n == 0 || c->state >= GW_CONN_CLOSING || c->stream_id < 0)
        return;
    /* Fails only with NOMEM/INVALID_ARGUMENT (local uni stream): not our case; a lost update
     * merely stalls the client until its idle timeout. */
    (void)ngtcp2_conn_extend_max_stream_offset(c->qc, c->stream_id, n);
    ngtcp2_conn_extend_max_offset(c->qc, n);
    c->want_write = true;
}

static void maybe_shutdown_write(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    if (be->client_fin && !be->shut_wr && be->to_backend.bytes == 0 &&
        be->state == GW_BE_CONNECTED) {
        be->shut_wr = true;
        (void)shutdown(be->fd, SHUT_WR);
    }
}

/* Writes queued client bytes to the backend until EAGAIN or the queue is empty. */
static void flush_to_backend(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    while (be->state == GW_BE_CONNECTED && be->to_backend.bytes > 0) {
        struct iovec iov[MAX_IOV];
        size_t n = queue_peek(&be->to_backend, iov, MAX_IOV);
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(be->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            backend_fail(c, GW_APP_BACKEND_CLOSED, "backend write", errno);
            return;
        }
        gw_queue_consume(&be->to_backend, (size_t)w);
        grant_credit(c, (size_t)w);
    }
    if (be->to_backend.bytes == 0)
        gw_queue_free(&be->to_backend); /* no chunk kept while idle */
    maybe_shutdown_write(c);
}

/* Reads backend bytes while the unacknowledged queue is below the cap, at most
 * GW_BACKEND_READ_BUDGET per call; with the budget spent the connection stays kicked, so the
 * next service pass (after the event loop polled without waiting) reads on. The socket is
 * edge-triggered: data left unread raises no new event. */
static void read_from_backend(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    bool got = false;
    size_t budget = GW_BACKEND_READ_BUDGET;
    uint64_t cap = gw_conn_tx_cap(c);
    while (be->state == GW_BE_CONNECTED && !be->eof) {
        if (be->to_client.bytes >= cap) {
            be->held_back = true;
            break;
        }
        if (budget == 0) {
            be->kick = true;
            break;
        }
        uint8_t *ptr;
        size_t space;
        if (queue_reserve(&be->to_client, &ptr, &space) != 0) {
            backend_fail(c, GW_APP_INTERNAL, "out of memory", 0);
            return;
        }
        ssize_t r = recv(be->fd, ptr, space, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* A reset: what we hold may be a truncated message; end the connection now. */
            backend_fail(c, GW_APP_BACKEND_CLOSED, "backend connection lost", errno);
            return;
        }
        if (r == 0) {
            be->eof = true;
            gw_log(GW_LOG_INFO, "conn %s: backend closed its connection", c->id);
            break;
        }
        queue_commit(&be->to_client, (size_t)r);
        c->bytes_to_client += (uint64_t)r;
        got = true;
        budget = (size_t)r < budget ? budget - (size_t)r : 0;
    }
    if (got || be->eof)
        c->want_write = true;
    if (be->eof && be->to_client.bytes == 0)
        gw_conn_schedule_close_app(c, GW_APP_BACKEND_CLOSED, "backend closed the connection");
}

static void finish_connect(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(be->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return;
    if (err) {
        backend_fail(c, GW_APP_BACKEND_UNREACHABLE, "backend unreachable", err);
        return;
    }
    be->state = GW_BE_CONNECTED;
    gw_log(GW_LOG_DEBUG, "conn %s: connected to the backend", c->id);
}

void gw_backend_pump(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    be->kick = false;
    if (be->state == GW_BE_CONNECTING && gw_now() >= be->connect_deadline) {
        backend_fail(c, GW_APP_BACKEND_UNREACHABLE, "backend connect timed out", 0);
        return;
    }
    if (be->state != GW_BE_CONNECTED)
        return;
    flush_to_backend(c);
    if (be->state == GW_BE_CONNECTED)
        read_from_backend(c);
}

void gw_backend_on_event(struct gw_conn *c, uint32_t events)
{
    struct gw_backend *be = &c->be;
    if (c->state >= GW_CONN_CLOSING)
        return;
    if (be->state == GW_BE_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        finish_connect(c);
    if (be->state == GW_BE_CONNECTED)
        gw_backend_pump(c);
}

int gw_backend_from_client(struct gw_conn *c, const uint8_t *data, size_t len, bool fin)
{
    struct gw_backend *be = &c->be;
    c->bytes_from_client += len;
    if (be->state == GW_BE_CLOSED)
        return 0; /* the connection is closing; drop */
    /* Queued, and written at the next service pass: one sendmsg then carries everything a
     * batch of datagrams brought, not one system call per STREAM frame. */
    if (len > 0 && queue_push(&be->to_backend, data, len) != 0)
        return -1;
    if (fin)
        be->client_fin = true;
    be->kick = true;
    return 0;
}

void gw_backend_close(struct gw_conn *c)
{
    struct gw_backend *be = &c->be;
    if (be->fd >= 0) {
        (void)epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, be->fd, NULL);
        close(be->fd);
        be->fd = -1;
    }
    if (be->state != GW_BE_NONE)
        be->state = GW_BE_CLOSED;
    gw_queue_free(&be->to_backend);
}

void gw_backend_free(struct gw_conn *c)
{
    gw_backend_close(c);
    gw_queue_free(&c->be.to_client);
}
