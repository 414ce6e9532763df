/* The synchronous I/O loop between a transport and the sans-I/O SMB2 core. */
#include "client/session_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/clock.h"

/* Writes as much queued output as the transport takes now. */
static int flush_output(struct sq_session *s)
{
    for (;;) {
        const uint8_t *data;
        size_t len, sent = 0;
        smb2_conn_output(s->conn, &data, &len);
        if (!len)
            return 0;
        int rc = s->transport->ops->send(s->transport, data, len, &sent);
        if (rc)
            return rc;
        if (!sent)
            return 0;
        smb2_conn_output_consumed(s->conn, sent);
    }
}

/* Reads what the transport has (bounded, so output gets its turn) into the core. */
static int pump_input(struct sq_session *s, bool *progress)
{
    for (int i = 0; i < 64; i++) {
        uint8_t *buf;
        size_t cap, got = 0;
        smb2_conn_input_buffer(s->conn, &buf, &cap);
        if (!buf)
            return SQ_ERR_NOMEM;
        int rc = s->transport->ops->recv(s->transport, buf, cap, &got);
        if (rc)
            return rc;
        if (!got)
            return 0;
        if (!*progress) /* once per pass is precise enough for a liveness check */
            s->last_input_ms = sq_monotonic_ms();
        *progress = true;
        rc = smb2_conn_input_commit(s->conn, got);
        if (rc)
            return rc;
        /* Requests the replies just answered made (the next READ or WRITE of a transfer) go
         * out now, not after the whole batch: on a 100 ms path a batch of 30 READ responses
         * takes the client tens of milliseconds to verify and store, and holding the next
         * READs until then stretched each window's round trip to about two. */
        rc = flush_output(s);
        if (rc)
            return rc;
    }
    return 0;
}

void sq_session_pollfds(struct sq_session *s, struct pollfd pfd[SQ_SESSION_POLLFDS])
{
    pfd[0].fd = s->transport->fd;
    pfd[0].events = s->transport->ops->poll_events(s->transport, smb2_conn_wants_output(s->conn));
    pfd[0].revents = 0;
    pfd[1].fd = s->transport->aux_fd;
    pfd[1].events = POLLIN;
    pfd[1].revents = 0;
}

int64_t sq_session_timeout_us(struct sq_session *s)
{
    if (s->transport->ops->has_buffered_input &&
        s->transport->ops->has_buffered_input(s->transport))
        return 0;
    return s->transport->ops->timeout_us(s->transport);
}

int sq_session_flush(struct sq_session *s)
{
    int rc = smb2_conn_error(s->conn);
    if (!rc)
        rc = flush_output(s);
    if (rc)
        smb2_conn_fail(s->conn, rc);
    return rc;
}

/* The aux descriptor's events go to the transport first (they may schedule its timer). */
static void take_aux(struct sq_session *s, const struct pollfd *aux)
{
    if (aux->fd >= 0 && aux->revents && s->transport->ops->on_aux_ready)
        s->transport->ops->on_aux_ready(s->transport);
}

int sq_session_io(struct sq_session *s, const struct pollfd pfd[SQ_SESSION_POLLFDS])
{
    take_aux(s, &pfd[1]);
    short revents = pfd[0].revents;
    int rc = sq_session_flush(s);
    bool progress = false;
    bool buffered = s->transport->ops->has_buffered_input &&
                    s->transport->ops->has_buffered_input(s->transport);
    if (!rc && (buffered || (revents & (POLLIN | POLLERR | POLLHUP))))
        rc = pump_input(s, &progress);
    if (!rc)
        rc = s->transport->ops->on_timeout(s->transport);
    if (!rc)
        rc = flush_output(s);
    if (rc)
        smb2_conn_fail(s->conn, rc);
    return rc;
}

int sq_session_run_for(struct sq_session *s, const bool *done, int wait_ms)
{
    int64_t start = sq_monotonic_ms();
    int64_t last_progress = start;
    while (!*done) {
        int rc = smb2_conn_error(s->conn);
        if (!rc)
            rc = flush_output(s);
        if (rc) {
            smb2_conn_fail(s->conn, rc);
            return rc;
        }
        if (*done)
            break;
        int64_t now = sq_monotonic_ms();
        struct pollfd pfd[SQ_SESSION_POLLFDS];
        sq_session_pollfds(s, pfd);
        int64_t timeout_us = 1000000;
        if (wait_ms >= 0 && (wait_ms - (now - start)) * 1000 < timeout_us)
            timeout_us = wait_ms > now - start ? (wait_ms - (now - start)) * 1000 : 0;
        int64_t tt = s->transport->ops->timeout_us(s->transport);
        if (tt >= 0 && tt < timeout_us)
            timeout_us = tt;
        bool buffered = s->transport->ops->has_buffered_input &&
                        s->transport->ops->has_buffered_input(s->transport);
        if (buffered)
            timeout_us = 0;
        struct timespec ts = {.tv_sec = timeout_us / 1000000,
                              .tv_nsec = (timeout_us % 1000000) * 1000};
        int n = ppoll(pfd, SQ_SESSION_POLLFDS, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            smb2_conn_fail(s->conn, SQ_ERR_IO);
            return SQ_ERR_IO;
        }
        if (n > 0)
            take_aux(s, &pfd[1]);
        bool progress = false;
        if (buffered || (n > 0 && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP))))
            rc = pump_input(s, &progress);
        /* The transport checks its own deadline; calling it early is harmless. */
        if (!rc && tt >= 0)
            rc = s->transport->ops->on_timeout(s->transport);
        if (rc) {
            smb2_conn_fail(s->conn, rc);
            return rc;
        }
        now = sq_monotonic_ms();
        /* Unbounded waits fail after response_timeout_ms of silence from the server; a
         * bounded wait is the caller's own timeout and never kills the connection. It ends
         * after one pass at least, so wait_ms 0 is one I/O pass without waiting. */
        if (wait_ms >= 0) {
            if (!*done && now - start >= wait_ms)
                return SQ_ERR_TIMEOUT;
        } else if (progress || (pfd[0].revents & POLLOUT)) {
            last_progress = now;
        } else if (now - last_progress > s->response_timeout_ms) {
            smb2_conn_fail(s->conn, SQ_ERR_TIMEOUT);
            return SQ_ERR_TIMEOUT;
        }
    }
    return 0;
}

int sq_session_run_until(struct sq_session *s, const bool *done)
{
    return sq_session_run_for(s, done, -1);
}

void sq_reply_clear(struct sq_reply *r)
{
    free(r->msg);
    memset(r, 0, sizeof(*r));
}

struct call_slot {
    struct sq_reply *reply;
    size_t *remaining;
    bool *all_done;
};

static void copy_reply_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct call_slot *slot = arg;
    struct sq_reply *r = slot->reply;
    r->done = true;
    r->err = err;
    if (!err && reply) {
        r->status = reply->hdr.status;
        r->msg = malloc(reply->len);
        if (r->msg) {
            memcpy(r->msg, reply->msg, reply->len);
            r->len = reply->len;
        } else {
            r->err = SQ_ERR_NOMEM;
        }
    }
    if (--*slot->remaining == 0)
        *slot->all_done = true;
}

int sq_session_call(struct sq_session *s, struct smb2_request *reqs, size_t count,
                    struct sq_reply *replies)
{
    struct call_slot *slots = calloc(count, sizeof(*slots));
    if (!slots) {
        for (size_t i = 0; i < count; i++)
            writer_free(&reqs[i].msg);
        return SQ_ERR_NOMEM;
    }
    size_t remaining = count;
    bool all_done = false;
    for (size_t i = 0; i < count; i++) {
        memset(&replies[i], 0, sizeof(replies[i]));
        slots[i].reply = &replies[i];
        slots[i].remaining = &remaining;
        slots[i].all_done = &all_done;
        if (reqs[i].command != SMB2_NEGOTIATE && reqs[i].command != SMB2_SESSION_SETUP &&
            reqs[i].command != SMB2_TREE_CONNECT && reqs[i].command != SMB2_LOGOFF)
            reqs[i].tree_id = s->tree_id;
        reqs[i].cb = copy_reply_cb;
        reqs[i].arg = &slots[i];
    }
    int rc = smb2_conn_submit(s->conn, reqs, count);
    if (!rc)
        rc = sq_session_run_until(s, &all_done);
    /* A failed connection completed every callback with its error already. */
    free(slots);
    if (!rc)
        for (size_t i = 0; i < count; i++)
            if (replies[i].err)
                return replies[i].err;
    return rc;
}
