/* TCP transport (Direct TCP, MS-SMB2 2.1): a non-blocking stream socket. */
#include "transport/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/clock.h"

static int tcp_send(struct transport *t, const uint8_t *data, size_t len, size_t *sent)
{
    *sent = 0;
    ssize_t n = send(t->fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        return SQ_ERR_IO;
    }
    *sent = (size_t)n;
    return 0;
}

static int tcp_recv(struct transport *t, uint8_t *buf, size_t cap, size_t *got)
{
    *got = 0;
    ssize_t n = recv(t->fd, buf, cap, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        return SQ_ERR_IO;
    }
    if (n == 0)
        return SQ_ERR_CLOSED;
    *got = (size_t)n;
    return 0;
}

static short tcp_poll_events(struct transport *t, bool want_send)
{
    return (short)(POLLIN | (want_send ? POLLOUT : 0));
}

static int64_t tcp_timeout_us(struct transport *t)
{
    return -1;
}

static int tcp_on_timeout(struct transport *t)
{
    return 0;
}

static uint64_t tcp_rtt_us(struct transport *t)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(t->fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return 0;
    return info.tcpi_rtt;
}

static void tcp_close(struct transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static const struct transport_ops tcp_ops = {
    .name = "tcp",
    .send = tcp_send,
    .recv = tcp_recv,
    .poll_events = tcp_poll_events,
    .timeout_us = tcp_timeout_us,
    .on_timeout = tcp_on_timeout,
    .rtt_us = tcp_rtt_us,
    .close = tcp_close,
};

/* Non-blocking connect with a deadline; returns the connected fd or -1 with errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    for (;;) {
        int64_t left = deadline - sq_monotonic_ms();
        if (left <= 0) {
            close(fd);
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            close(fd);
            errno = soerr;
            return -1;
        }
        return fd;
    }
}

int transport_tcp_connect(const char *host, uint16_t port, int timeout_ms,
                          struct transport **out, char *why, size_t why_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(why, why_len, "cannot resolve %s: %s", host, gai_strerror(gai));
        return SQ_ERR_RESOLVE;
    }
    int64_t deadline = sq_monotonic_ms() + timeout_ms;
    int fd = -1, last_errno = 0;
    char peer[64] = "";
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        char addr[INET6_ADDRSTRLEN] = "?";
        const void *a = ai->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, a, addr, sizeof(addr));
        snprintf(peer, sizeof(peer), ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
                 port);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(why, why_len, "cannot connect to %s port %u/tcp: %s", host, port,
                 strerror(last_errno));
        errno = last_errno;
        return last_errno == ETIMEDOUT ? SQ_ERR_TIMEOUT : SQ_ERR_IO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Socket buffers stay auto-tuned: fixing them disables the kernel's tuning, which
     * sizes them to the path better than a constant. */
    struct transport *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        return SQ_ERR_NOMEM;
    }
    t->ops = &tcp_ops;
    t->fd = fd;
    t->aux_fd = -1;
    snprintf(t->peer, sizeof(t->peer), "%s", peer);
    *out = t;
    return 0;
}
