/*
 * udp-impair: a seeded UDP impairment relay for the QUIC tests.
 *
 *   udp-impair --listen ADDR:PORT --target ADDR:PORT [options]
 *
 * The client sends to the listen address; each datagram is forwarded to the target from the
 * relay's own upstream socket, and replies go back to the client's last-seen address. Delay,
 * jitter, a token-bucket rate limit, loss (independent and in bursts), reordering, duplication
 * and corruption can be set per direction; source-port rebinding and blackout windows apply to
 * the whole path. Run with --help for the options.
 *
 * Reproducibility: one seed (--seed). Each (direction, impairment) pair draws from its own
 * xoshiro256** stream derived from that seed, so the decision taken for the n-th datagram of a
 * direction depends only on the seed and n: not on timing, on the other direction, or on which
 * other impairments are enabled. Only the time-based features (blackout, rebinding) depend on
 * the clock.
 *
 * Design: one thread; ppoll() on the two sockets and a signalfd, with the earliest due packet as
 * the timeout
 * (nanosecond resolution, timer slack lowered to 1 us); one min-heap of pending packets per
 * direction keyed by (due time, arrival sequence), so equal due times keep arrival order and a
 * blocked direction never holds up the other; recvmmsg/sendmmsg in batches. Every impairment
 * decision is per datagram, but the system calls are not: with UDP_GRO a read returns a run
 * of same-sized datagrams from a GSO sender in one buffer (split here before impair()), and
 * consecutive due datagrams of one size leave in one UDP_SEGMENT (GSO) send, so the relay
 * keeps up with senders that batch (about 117k datagrams/s without it, one system call
 * each). Memory is bounded: queued packets are capped (--mem-limit) and dropped beyond it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAX_DATAGRAM       65536
#define BATCH              64
#define GSO_MAX_BYTES      65507 /* the largest UDP payload over IPv4 */
#define GSO_MAX_SEGMENTS   64    /* the kernel's UDP_MAX_SEGMENTS (older kernels) */
#define RECV_BATCHES       4 /* batches read per socket per wake-up, for fairness */
#define MAX_BLACKOUTS      64
/* The relay must lose only what it is told to: with 4 MiB its listening socket dropped ~2% of
 * a 512 MiB put's 64 KiB datagrams at 100 ms (bursts arrive while the thread forwards the
 * other way), loss the emulated path does not have. The kernel charges only what is queued. */
#define SOCKET_BUFFER      (64 * 1024 * 1024)
#define DEFAULT_MEM_LIMIT  (64u * 1024 * 1024)
#define DEFAULT_QUEUE_KB   1000.0
#define DEFAULT_REORDER_MS 10.0
#define TOKEN_BUCKET_BYTES 1500.0 /* depth: one full-size packet, i.e. a paced bottleneck link */
#define NS_PER_MS          1000000LL
#define NS_PER_SEC         1000000000LL

enum direction_id { DIR_UP, DIR_DOWN, DIR_COUNT };

static const char *const direction_names[DIR_COUNT] = {"up", "down"};

/* The independent random streams of one direction. */
enum stream_id {
    STREAM_LOSS,
    STREAM_BURST,
    STREAM_DUPLICATE,
    STREAM_CORRUPT,
    STREAM_JITTER,
    STREAM_REORDER,
    STREAM_COUNT
};

struct impair_conf {
    double delay_ms;
    double jitter_ms;
    double rate_mbit; /* 0: unlimited */
    double queue_kb;
    double loss;
    double burst_probability;
    unsigned burst_length;
    double reorder;
    double reorder_delay_ms;
    double duplicate;
    double corrupt;
};

struct direction_stats {
    uint64_t received;
    uint64_t forwarded;
    uint64_t dropped_loss;
    uint64_t dropped_burst;
    uint64_t dropped_blackout;
    uint64_t dropped_queue;
    uint64_t dropped_memory;
    uint64_t send_errors;
    uint64_t duplicated;
    uint64_t corrupted;
    uint64_t reordered;
    uint64_t discarded_at_exit; /* still queued when the relay stopped */
};

struct rng {
    uint64_t s[4];
};

struct packet {
    int64_t due; /* CLOCK_MONOTONIC ns */
    uint64_t seq;
    size_t len;
    unsigned char data[];
};

struct packet_heap {
    struct packet **items;
    size_t count;
    size_t capacity;
};

struct direction {
    struct impair_conf conf;
    struct rng rng[STREAM_COUNT];
    struct packet_heap pending;
    int64_t link_free_at; /* token bucket as virtual time: see rate_admit() */
    unsigned burst_left;
    bool blocked; /* the socket said EAGAIN: wait for POLLOUT */
    struct direction_stats stats;
};

struct blackout {
    int64_t start; /* ns since the relay started */
    int64_t end;
};

struct relay {
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    struct sockaddr_storage target_addr;
    socklen_t target_len;
    struct sockaddr_storage client_addr;
    socklen_t client_len;
    int listen_fd;
    int upstream_fd;
    struct direction dir[DIR_COUNT];
    uint64_t seed;
    int64_t start;
    int64_t rebind_every; /* ns; 0: never */
    int64_t rebind_start; /* ns after start of the first rebind; -1: one period */
    int64_t next_rebind;
    uint64_t rebinds;
    struct blackout blackouts[MAX_BLACKOUTS];
    size_t blackout_count;
    size_t queued_bytes;
    size_t mem_limit;
    uint64_t next_seq;
    const char *stats_file;
    const char *ready_file;
    int signal_fd;
    int stop_signal;
    bool gso; /* UDP_SEGMENT works (cleared on the first EIO/EINVAL) */
};

static unsigned char recv_buffers[BATCH][MAX_DATAGRAM];

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    va_list ap;

    fputs("udp-impair: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t ms_to_ns(double ms)
{
    return (int64_t)llround(ms * (double)NS_PER_MS);
}

/* ---- random numbers: splitmix64 seeds xoshiro256** (Blackman and Vigna) ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *g, uint64_t seed, unsigned stream)
{
    uint64_t state = seed;

    /* Mix the stream number in through splitmix64 so neighbouring streams are unrelated. */
    state ^= splitmix64(&(uint64_t){stream + 1u});
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&state);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1): so "rng_unit() < p" is never true for p = 0 and always for p = 1. */
static double rng_unit(struct rng *g)
{
    return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0. */
static size_t rng_below(struct rng *g, size_t n)
{
    size_t v = (size_t)(rng_unit(g) * (double)n);

    return v < n ? v : n - 1;
}

/* ---- pending packets: a binary min-heap on (due, seq) ---- */

static bool packet_before(const struct packet *a, const struct packet *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static int heap_push(struct packet_heap *h, struct packet *p)
{
    size_t i;

    if (h->count == h->capacity) {
        size_t capacity = h->capacity ? h->capacity * 2 : 1024;
        struct packet **items = realloc(h->items, capacity * sizeof(*items));

        if (!items)
            return -1;
        h->items = items;
        h->capacity = capacity;
    }
    i = h->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!packet_before(p, h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = p;
    return 0;
}

static struct packet *heap_top(const struct packet_heap *h)
{
    return h->count ? h->items[0] : NULL;
}

static struct packet *heap_pop(struct packet_heap *h)
{
    struct packet *top;
    struct packet *last;
    size_t i = 0;

    if (!h->count)
        return NULL;
    top = h->items[0];
    last = h->items[--h->count];
    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->count)
            break;
        if (child + 1 < h->count && packet_before(h->items[child + 1], h->items[child]))
            child++;
        if (!packet_before(h->items[child], last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count)
        h->items[i] = last;
    return top;
}

/* ---- addresses and sockets ---- */

static int parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256];
    const char *port;
    const char *colon;
    struct addrinfo hints = {0};
    struct addrinfo *res = NULL;
    size_t host_len;
    int rc;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (!close || close[1] != ':')
            return -1;
        host_len = (size_t)(close - text - 1);
        memcpy(host, text + 1, host_len < sizeof(host) ? host_len : 0);
        port = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -1;
        host_len = (size_t)(colon - text);
        memcpy(host, text, host_len < sizeof(host) ? host_len : 0);
        port = colon + 1;
    }
    if (host_len == 0 || host_len >= sizeof(host) || *port == '\0')
        return -1;
    host[host_len] = '\0';

    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        logmsg("cannot resolve '%s': %s", text, gai_strerror(rc));
        return -1;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void format_address(const struct sockaddr_storage *addr, socklen_t len, char *out,
                           size_t out_size)
{
    char host[INET6_ADDRSTRLEN];
    char port[8];

    if (getnameinfo((const struct sockaddr *)addr, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, out_size, "?");
        return;
    }
    if (addr->ss_family == AF_INET6)
        snprintf(out, out_size, "[%s]:%s", host, port);
    else
        snprintf(out, out_size, "%s:%s", host, port);
}

static unsigned local_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);

    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return 0;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

static void set_buffers(int fd)
{
    int size = SOCKET_BUFFER;
    int one = 1;

    /* Runs of datagrams from a GSO sender arrive in one read (Linux >= 5.0; else one each). */
    (void)setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));

    /* The FORCE variants exceed net.core.[rw]mem_max but need CAP_NET_ADMIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static int open_listen_socket(struct relay *r)
{
    int fd = socket(r->listen_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        logmsg("socket: %s", strerror(errno));
        return -1;
    }
    set_buffers(fd);
    if (bind(fd, (struct sockaddr *)&r->listen_addr, r->listen_len) != 0) {
        logmsg("bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* A fresh upstream socket with a new ephemeral source port, connected to the target. */
static int open_upstream_socket(const struct relay *r)
{
    int fd = socket(r->target_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        logmsg("socket: %s", strerror(errno));
        return -1;
    }
    set_buffers(fd);
    if (connect(fd, (const struct sockaddr *)&r->target_addr, r->target_len) != 0) {
        logmsg("connect to target: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- impairments ---- */

static bool in_blackout(const struct relay *r, int64_t now)
{
    int64_t t = now - r->start;

    for (size_t i = 0; i < r->blackout_count; i++) {
        if (t >= r->blackouts[i].start && t < r->blackouts[i].end)
            return true;
    }
    return false;
}

/*
 * Token bucket of depth TOKEN_BUCKET_BYTES, refilled at the configured rate, kept as a virtual
 * time: link_free_at is the instant the bucket has paid for every byte admitted so far (the
 * bucket is full at any time >= link_free_at + depth / rate). A packet departs when the bucket
 * has paid for it; bytes admitted but not yet departed are the queue, capped at --queue (tail
 * drop). Computing departures this way keeps the average rate exact even when the timer fires
 * late and several packets leave together.
 */
static bool rate_admit(struct direction *d, int64_t now, size_t len, int64_t *depart)
{
    double ns_per_byte;
    double start;
    double backlog_bytes;

    if (d->conf.rate_mbit <= 0) {
        *depart = now;
        return true;
    }
    ns_per_byte = 8000.0 / d->conf.rate_mbit;
    start = (double)d->link_free_at;
    if (start < (double)now - TOKEN_BUCKET_BYTES * ns_per_byte)
        start = (double)now - TOKEN_BUCKET_BYTES * ns_per_byte;
    backlog_bytes = (start - (double)now) / ns_per_byte;
    if (backlog_bytes < 0)
        backlog_bytes = 0;
    if (backlog_bytes + (double)len > d->conf.queue_kb * 1024.0)
        return false;
    d->link_free_at = (int64_t)(start + (double)len * ns_per_byte);
    *depart = d->link_free_at > now ? d->link_free_at : now;
    return true;
}

static void queue_copy(struct relay *r, enum direction_id id, const unsigned char *data, size_t len,
                       int64_t now, size_t flip_byte, int flip_bit)
{
    struct direction *d = &r->dir[id];
    size_t size = sizeof(struct packet) + len;
    struct packet *p;
    int64_t due;

    if (size > r->mem_limit - r->queued_bytes) {
        d->stats.dropped_memory++;
        return;
    }
    if (!rate_admit(d, now, len, &due)) {
        d->stats.dropped_queue++;
        return;
    }
    due += ms_to_ns(d->conf.delay_ms);
    if (d->conf.jitter_ms > 0)
        due += (int64_t)(rng_unit(&d->rng[STREAM_JITTER]) * d->conf.jitter_ms * NS_PER_MS);
    if (d->conf.reorder > 0 && rng_unit(&d->rng[STREAM_REORDER]) < d->conf.reorder) {
        due += ms_to_ns(d->conf.reorder_delay_ms);
        d->stats.reordered++;
    }

    p = malloc(size);
    if (!p) {
        d->stats.dropped_memory++;
        return;
    }
    p->due = due;
    p->seq = r->next_seq++;
    p->len = len;
    memcpy(p->data, data, len);
    if (flip_bit >= 0)
        p->data[flip_byte] ^= (unsigned char)(1u << flip_bit);
    if (heap_push(&d->pending, p) != 0) {
        free(p);
        d->stats.dropped_memory++;
        return;
    }
    r->queued_bytes += size;
}

/* Decide the fate of one received datagram and queue what survives. */
static void impair(struct relay *r, enum direction_id id, const unsigned char *data, size_t len,
                   int64_t now)
{
    struct direction *d = &r->dir[id];
    const struct impair_conf *c = &d->conf;
    size_t flip_byte = 0;
    int flip_bit = -1;
    int copies = 1;

    d->stats.received++;
    if (in_blackout(r, now)) {
        d->stats.dropped_blackout++;
        return;
    }
    if (c->loss > 0 && rng_unit(&d->rng[STREAM_LOSS]) < c->loss) {
        d->stats.dropped_loss++;
        return;
    }
    if (d->burst_left > 0) {
        d->burst_left--;
        d->stats.dropped_burst++;
        return;
    }
    if (c->burst_probability > 0 && rng_unit(&d->rng[STREAM_BURST]) < c->burst_probability) {
        d->burst_left = c->burst_length - 1;
        d->stats.dropped_burst++;
        return;
    }
    if (c->duplicate > 0 && rng_unit(&d->rng[STREAM_DUPLICATE]) < c->duplicate) {
        copies = 2;
        d->stats.duplicated++;
    }
    if (c->corrupt > 0 && len > 0 && rng_unit(&d->rng[STREAM_CORRUPT]) < c->corrupt) {
        flip_byte = rng_below(&d->rng[STREAM_CORRUPT], len);
        flip_bit = (int)rng_below(&d->rng[STREAM_CORRUPT], 8);
        d->stats.corrupted++;
    }
    /* A duplicate is an identical copy (corruption included) with its own delay draws. */
    for (int i = 0; i < copies; i++)
        queue_copy(r, id, data, len, now, flip_byte, flip_bit);
}

/* ---- the event loop ---- */

static void note_client(struct relay *r, const struct sockaddr_storage *from, socklen_t len)
{
    char text[INET6_ADDRSTRLEN + 16];

    if (len == r->client_len && memcmp(from, &r->client_addr, len) == 0)
        return;
    memcpy(&r->client_addr, from, len);
    r->client_len = len;
    format_address(from, len, text, sizeof(text));
    logmsg("client %s", text);
}

static void receive(struct relay *r, enum direction_id id)
{
    int fd = id == DIR_UP ? r->listen_fd : r->upstream_fd;
    struct sockaddr_storage from[BATCH];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control[BATCH];

    for (int round = 0; round < RECV_BATCHES; round++) {
        int64_t now;
        int n;

        memset(msgs, 0, sizeof(msgs));
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = recv_buffers[i];
            iov[i].iov_len = MAX_DATAGRAM;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = control[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof(control[i].buf);
            if (id == DIR_UP) {
                msgs[i].msg_hdr.msg_name = &from[i];
                msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            }
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            /* ECONNREFUSED: an ICMP error for an earlier send on the connected upstream. */
            if (errno == ECONNREFUSED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                logmsg("recvmmsg (%s): %s", direction_names[id], strerror(errno));
            return;
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &msgs[i].msg_hdr;
            size_t len = msgs[i].msg_len;
            size_t segment = len;

            if (id == DIR_UP)
                note_client(r, &from[i], mh->msg_namelen);
            /* A GRO run: datagrams of `segment` bytes each, the last maybe shorter. */
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
                    int gso;

                    memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
                    if (gso > 0)
                        segment = (size_t)gso;
                }
            }
            if (len == 0) {
                impair(r, id, recv_buffers[i], 0, now);
                continue;
            }
            for (size_t off = 0; off < len; off += segment)
                impair(r, id, recv_buffers[i] + off, len - off < segment ? len - off : segment,
                       now);
        }
        if (n < BATCH)
            return;
    }
}

static void release(struct relay *r, struct packet *p)
{
    r->queued_bytes -= sizeof(struct packet) + p->len;
    free(p);
}

/* Send every packet of one direction that is due, in batches, until EAGAIN. Consecutive
 * packets of one size (the last of a run may be shorter) share one message with UDP_SEGMENT:
 * the kernel sends them as separate datagrams, in order, for one pass through the stack. */
static void flush(struct relay *r, enum direction_id id, int64_t now)
{
    struct direction *d = &r->dir[id];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct packet *batch[BATCH];
    int first[BATCH]; /* message i carries batch[first[i] .. first[i] + count[i]) */
    int count[BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control[BATCH];

    while (!d->blocked) {
        int fd = id == DIR_UP ? r->upstream_fd : r->listen_fd;
        bool retried = false;
        int npackets = 0;
        int nmsgs = 0;
        int sent = 0; /* messages */

        while (npackets < BATCH && heap_top(&d->pending) && heap_top(&d->pending)->due <= now) {
            struct packet *p = heap_pop(&d->pending);

            /* The link is down for packets that would leave during a blackout too. */
            if (in_blackout(r, now)) {
                d->stats.dropped_blackout++;
                release(r, p);
                continue;
            }
            if (id == DIR_DOWN && r->client_len == 0) {
                d->stats.send_errors++;
                release(r, p);
                continue;
            }
            batch[npackets++] = p;
        }
        if (npackets == 0)
            return;

        memset(msgs, 0, sizeof(msgs[0]) * (size_t)npackets);
        for (int i = 0; i < npackets; i++) {
            struct packet *p = batch[i];
            int m = nmsgs - 1;
            size_t bytes = 0;

            iov[i].iov_base = p->data;
            iov[i].iov_len = p->len;
            /* Join the current run if it has room and this packet is no longer than its
             * segments (a shorter one ends the run). */
            if (m >= 0) {
                size_t segment = batch[first[m]]->len;

                bytes = (size_t)msgs[m].msg_len + p->len;
                if (r->gso && segment > 0 && p->len > 0 && p->len <= segment &&
                    batch[i - 1]->len == segment && count[m] < GSO_MAX_SEGMENTS &&
                    bytes <= GSO_MAX_BYTES) {
                    count[m]++;
                    msgs[m].msg_hdr.msg_iovlen++;
                    msgs[m].msg_len = (unsigned)bytes; /* bytes so far, until sent */
                    continue;
                }
            }
            m = nmsgs++;
            first[m] = i;
            count[m] = 1;
            msgs[m].msg_hdr.msg_iov = &iov[i];
            msgs[m].msg_hdr.msg_iovlen = 1;
            msgs[m].msg_len = (unsigned)p->len;
            if (id == DIR_DOWN) {
                msgs[m].msg_hdr.msg_name = &r->client_addr;
                msgs[m].msg_hdr.msg_namelen = r->client_len;
            }
        }
        for (int m = 0; m < nmsgs; m++) {
            if (count[m] > 1) {
                struct cmsghdr *cm = &control[m].align;
                uint16_t segment = (uint16_t)batch[first[m]]->len;

                memset(&control[m], 0, sizeof(control[m]));
                cm->cmsg_level = IPPROTO_UDP;
                cm->cmsg_type = UDP_SEGMENT;
                cm->cmsg_len = CMSG_LEN(sizeof(segment));
                memcpy(CMSG_DATA(cm), &segment, sizeof(segment));
                msgs[m].msg_hdr.msg_control = control[m].buf;
                msgs[m].msg_hdr.msg_controllen = sizeof(control[m].buf);
            }
        }
        while (sent < nmsgs) {
            int n = sendmmsg(fd, msgs + sent, (unsigned)(nmsgs - sent), 0);

            if (n > 0) {
                for (int m = sent; m < sent + n; m++) {
                    for (int i = first[m]; i < first[m] + count[m]; i++) {
                        d->stats.forwarded++;
                        release(r, batch[i]);
                    }
                }
                sent += n;
                continue;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                d->blocked = true;
                break;
            }
            /* A pending ICMP error is reported once, by this call, and cleared: retry once. */
            if (errno == ECONNREFUSED && !retried) {
                retried = true;
                continue;
            }
            if ((errno == EIO || errno == EINVAL) && count[sent] > 1) {
                /* No segmentation offload here: from now on one datagram per message. The
                 * unsent packets go back to the heap and leave at the next round. */
                logmsg("UDP GSO refused (%s): one datagram per message from now on",
                       strerror(errno));
                r->gso = false;
                break;
            }
            for (int i = first[sent]; i < first[sent] + count[sent]; i++) {
                d->stats.send_errors++;
                release(r, batch[i]);
            }
            sent++;
        }
        /* Unsent packets go back with their (due, seq), so their order is unchanged. */
        for (int m = sent; m < nmsgs; m++) {
            for (int i = first[m]; i < first[m] + count[m]; i++) {
                if (heap_push(&d->pending, batch[i]) != 0) {
                    d->stats.dropped_memory++;
                    release(r, batch[i]);
                }
            }
        }
        if (npackets < BATCH && sent == nmsgs)
            return;
    }
}

static void rebind(struct relay *r)
{
    int fd = open_upstream_socket(r);

    if (fd < 0) {
        logmsg("rebind failed; keeping source port %u", local_port(r->upstream_fd));
        return;
    }
    /* Replies that arrived before the switch still go through, as through a NAT. */
    receive(r, DIR_DOWN);
    close(r->upstream_fd);
    r->upstream_fd = fd;
    r->dir[DIR_UP].blocked = false;
    r->rebinds++;
    logmsg("rebind %" PRIu64 ": source port %u", r->rebinds, local_port(fd));
}

static int64_t next_deadline(const struct relay *r)
{
    int64_t next = INT64_MAX;

    for (int i = 0; i < DIR_COUNT; i++) {
        const struct packet *p = heap_top(&r->dir[i].pending);

        if (p && !r->dir[i].blocked && p->due < next)
            next = p->due;
    }
    if (r->rebind_every > 0 && r->next_rebind < next)
        next = r->next_rebind;
    return next;
}

static int run(struct relay *r)
{
    while (!r->stop_signal) {
        int64_t now = now_ns();
        int64_t deadline;
        struct timespec timeout;
        struct pollfd fds[3];
        int rc;

        if (r->rebind_every > 0 && now >= r->next_rebind) {
            rebind(r);
            while (r->next_rebind <= now)
                r->next_rebind += r->rebind_every;
        }
        flush(r, DIR_UP, now);
        flush(r, DIR_DOWN, now);

        deadline = next_deadline(r);
        if (deadline != INT64_MAX) {
            int64_t wait = deadline - now_ns();

            if (wait < 0)
                wait = 0;
            timeout.tv_sec = (time_t)(wait / NS_PER_SEC);
            timeout.tv_nsec = (long)(wait % NS_PER_SEC);
        }
        fds[0].fd = r->listen_fd;
        fds[0].events = POLLIN | (r->dir[DIR_DOWN].blocked ? POLLOUT : 0);
        fds[1].fd = r->upstream_fd;
        fds[1].events = POLLIN | (r->dir[DIR_UP].blocked ? POLLOUT : 0);
        /*
         * A signalfd rather than a signal mask given to ppoll(): ppoll() returning with ready
         * sockets does not deliver pending signals, so under constant load a SIGTERM would
         * never be seen.
         */
        fds[2].fd = r->signal_fd;
        fds[2].events = POLLIN;
        rc = ppoll(fds, 3, deadline != INT64_MAX ? &timeout : NULL, NULL);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            logmsg("ppoll: %s", strerror(errno));
            return -1;
        }
        if ((fds[0].revents | fds[1].revents | fds[2].revents) & POLLNVAL) {
            logmsg("ppoll: invalid descriptor");
            return -1;
        }
        if (fds[2].revents & POLLIN) {
            struct signalfd_siginfo info;

            if (read(r->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
                r->stop_signal = (int)info.ssi_signo;
        }
        if (fds[0].revents & POLLOUT)
            r->dir[DIR_DOWN].blocked = false;
        if (fds[1].revents & POLLOUT)
            r->dir[DIR_UP].blocked = false;
        if (fds[0].revents & (POLLIN | POLLERR))
            receive(r, DIR_UP);
        if (fds[1].revents & (POLLIN | POLLERR))
            receive(r, DIR_DOWN);
    }
    return 0;
}

/* ---- reporting ---- */

static void write_stats(const struct relay *r, FILE *out)
{
    for (int i = 0; i < DIR_COUNT; i++) {
        const struct direction_stats *s = &r->dir[i].stats;

        fprintf(out,
                "dir=%s received=%" PRIu64 " forwarded=%" PRIu64 " dropped_loss=%" PRIu64
                " dropped_burst=%" PRIu64 " dropped_blackout=%" PRIu64 " dropped_queue=%" PRIu64
                " dropped_memory=%" PRIu64 " send_errors=%" PRIu64 " duplicated=%" PRIu64
                " corrupted=%" PRIu64 " reordered=%" PRIu64 " discarded_at_exit=%" PRIu64
                " rebinds=%" PRIu64 "\n",
                direction_names[i], s->received, s->forwarded, s->dropped_loss, s->dropped_burst,
                s->dropped_blackout, s->dropped_queue, s->dropped_memory, s->send_errors,
                s->duplicated, s->corrupted, s->reordered, s->discarded_at_exit, r->rebinds);
    }
}

/* Write via a temporary file and rename, so a reader never sees a partial file. */
static int write_file_atomic(const char *path, const struct relay *r, unsigned port)
{
    size_t tmp_size = strlen(path) + 16;
    char *tmp = malloc(tmp_size);
    FILE *f;
    int rc = -1;

    if (!tmp)
        return -1;
    snprintf(tmp, tmp_size, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f) {
        if (r)
            write_stats(r, f);
        else
            fprintf(f, "%u\n", port);
        if (fclose(f) == 0 && rename(tmp, path) == 0)
            rc = 0;
    }
    if (rc != 0) {
        logmsg("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* ---- options ---- */

enum dir_option {
    OPT_DELAY,
    OPT_JITTER,
    OPT_RATE,
    OPT_QUEUE,
    OPT_LOSS,
    OPT_BURST_LOSS,
    OPT_REORDER,
    OPT_REORDER_DELAY,
    OPT_DUPLICATE,
    OPT_CORRUPT,
    OPT_DIR_COUNT
};

static const char *const dir_option_names[OPT_DIR_COUNT] = {
    "delay",      "jitter",  "rate",          "queue",     "loss",
    "burst-loss", "reorder", "reorder-delay", "duplicate", "corrupt"};

enum global_option {
    OPT_LISTEN = 1000,
    OPT_TARGET,
    OPT_SEED,
    OPT_REBIND_EVERY,
    OPT_REBIND_START,
    OPT_BLACKOUT,
    OPT_STATS_FILE,
    OPT_READY_FILE,
    OPT_MEM_LIMIT,
    OPT_HELP,
    OPT_DIR_BASE = 2000 /* + option * 4 + direction mask (1 up, 2 down, 3 both) */
};

static void usage(FILE *out)
{
    fputs("Usage: udp-impair --listen ADDR:PORT --target ADDR:PORT [options]\n"
          "\n"
          "Relays UDP between one client (sending to the listen address) and the target,\n"
          "impairing the traffic. Stays in the foreground; SIGINT or SIGTERM exits and prints\n"
          "the counters, one key=value line per direction, on stderr.\n"
          "\n"
          "Per-direction impairments: --X sets both directions, --up-X client to target,\n"
          "--down-X target to client:\n"
          "  --delay MS            fixed one-way delay\n"
          "  --jitter MS           uniform extra delay in [0, MS) (reorders packets)\n"
          "  --rate MBIT           token-bucket rate limit (bucket depth 1500 bytes, payload\n"
          "                        bytes counted; 0 = unlimited, the default)\n"
          "  --queue KB            rate-limit queue; tail drop beyond it (default 1000)\n"
          "  --loss P              independent loss probability, 0..1\n"
          "  --burst-loss P:LEN    with probability P per packet, drop LEN packets in a row\n"
          "  --reorder P           with probability P hold a packet back by --reorder-delay\n"
          "  --reorder-delay MS    (default 10)\n"
          "  --duplicate P         send a second copy with probability P\n"
          "  --corrupt P           flip one random bit of a random byte with probability P\n"
          "Whole path:\n"
          "  --rebind-every SEC    every SEC seconds forward from a new upstream socket (new\n"
          "                        source port), closing the old one, like a NAT rebinding\n"
          "  --rebind-start SEC    the first rebinding SEC seconds after start (default: one\n"
          "                        period); e.g. to let a QUIC handshake finish first\n"
          "  --blackout START:DUR  drop everything, both ways, from START for DUR seconds\n"
          "                        after the relay started (repeatable)\n"
          "Other:\n"
          "  --seed N              seed of the random decisions (default 1)\n"
          "  --mem-limit MB        cap on queued packet memory (default 64)\n"
          "  --ready-file FILE     once listening, write the listen port to FILE (use port 0\n"
          "                        to let the kernel pick one)\n"
          "  --stats-file FILE     write the counters to FILE at exit\n"
          "  --help\n"
          "\n"
          "Counters (\"dir=up ...\" and \"dir=down ...\"): received, forwarded (datagrams sent,\n"
          "duplicates included), dropped_loss, dropped_burst, dropped_blackout, dropped_queue\n"
          "(rate-limit queue full), dropped_memory (--mem-limit), send_errors, duplicated,\n"
          "corrupted, reordered, discarded_at_exit (still queued when stopped) and rebinds\n"
          "(the same in both lines). received + duplicated = forwarded + every dropped_*\n"
          "+ send_errors + discarded_at_exit.\n",
          out);
}

static int parse_number(const char *text, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "A:B", each a number within its bounds. */
static int parse_pair(const char *text, double min_a, double max_a, double min_b, double max_b,
                      double *a, double *b)
{
    const char *colon = strchr(text, ':');
    char first[64];
    size_t len;

    if (!colon)
        return -1;
    len = (size_t)(colon - text);
    if (len == 0 || len >= sizeof(first))
        return -1;
    memcpy(first, text, len);
    first[len] = '\0';
    if (parse_number(first, min_a, max_a, a) != 0 || parse_number(colon + 1, min_b, max_b, b) != 0)
        return -1;
    return 0;
}

static int apply_dir_option(struct impair_conf *c, enum dir_option opt, const char *arg)
{
    double a;
    double b;

    switch (opt) {
    case OPT_DELAY:
        return parse_number(arg, 0, 1e6, &c->delay_ms);
    case OPT_JITTER:
        return parse_number(arg, 0, 1e6, &c->jitter_ms);
    case OPT_RATE:
        return parse_number(arg, 0, 1e6, &c->rate_mbit);
    case OPT_QUEUE:
        if (parse_number(arg, 0, 1e7, &a) != 0 || a <= 0)
            return -1;
        c->queue_kb = a;
        return 0;
    case OPT_LOSS:
        return parse_number(arg, 0, 1, &c->loss);
    case OPT_BURST_LOSS:
        if (parse_pair(arg, 0, 1, 1, 1e6, &a, &b) != 0 || b != floor(b))
            return -1;
        c->burst_probability = a;
        c->burst_length = (unsigned)b;
        return 0;
    case OPT_REORDER:
        return parse_number(arg, 0, 1, &c->reorder);
    case OPT_REORDER_DELAY:
        return parse_number(arg, 0, 1e6, &c->reorder_delay_ms);
    case OPT_DUPLICATE:
        return parse_number(arg, 0, 1, &c->duplicate);
    case OPT_CORRUPT:
        return parse_number(arg, 0, 1, &c->corrupt);
    case OPT_DIR_COUNT:
        break;
    }
    return -1;
}

static int parse_options(struct relay *r, int argc, char **argv)
{
    static char names[3][OPT_DIR_COUNT][32];
    static const char *const prefixes[3] = {"", "up-", "down-"};
    static const int masks[3] = {3, 1, 2};
    struct option options[3 * OPT_DIR_COUNT + 16]; /* per-direction forms + the others + end */
    const char *listen_text = NULL;
    const char *target_text = NULL;
    size_t n = 0;
    int opt;

    for (int p = 0; p < 3; p++) {
        for (int o = 0; o < OPT_DIR_COUNT; o++) {
            snprintf(names[p][o], sizeof(names[p][o]), "%s%s", prefixes[p], dir_option_names[o]);
            options[n++] = (struct option){names[p][o], required_argument, NULL,
                                           OPT_DIR_BASE + o * 4 + masks[p]};
        }
    }
    options[n++] = (struct option){"listen", required_argument, NULL, OPT_LISTEN};
    options[n++] = (struct option){"target", required_argument, NULL, OPT_TARGET};
    options[n++] = (struct option){"seed", required_argument, NULL, OPT_SEED};
    options[n++] = (struct option){"rebind-every", required_argument, NULL, OPT_REBIND_EVERY};
    options[n++] = (struct option){"rebind-start", required_argument, NULL, OPT_REBIND_START};
    options[n++] = (struct option){"blackout", required_argument, NULL, OPT_BLACKOUT};
    options[n++] = (struct option){"stats-file", required_argument, NULL, OPT_STATS_FILE};
    options[n++] = (struct option){"ready-file", required_argument, NULL, OPT_READY_FILE};
    options[n++] = (struct option){"mem-limit", required_argument, NULL, OPT_MEM_LIMIT};
    options[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    options[n] = (struct option){NULL, 0, NULL, 0};

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        double a;
        double b;
        char *end;

        if (opt >= OPT_DIR_BASE) {
            enum dir_option which = (enum dir_option)((opt - OPT_DIR_BASE) / 4);
            int mask = (opt - OPT_DIR_BASE) % 4;

            for (int i = 0; i < DIR_COUNT; i++) {
                if ((mask & (1 << i)) && apply_dir_option(&r->dir[i].conf, which, optarg) != 0) {
                    logmsg("invalid value '%s' for --%s", optarg, dir_option_names[which]);
                    return -1;
                }
            }
            continue;
        }
        switch (opt) {
        case OPT_LISTEN:
            listen_text = optarg;
            break;
        case OPT_TARGET:
            target_text = optarg;
            break;
        case OPT_SEED:
            errno = 0;
            r->seed = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                logmsg("invalid --seed '%s'", optarg);
                return -1;
            }
            break;
        case OPT_REBIND_EVERY:
            if (parse_number(optarg, 0.001, 1e6, &a) != 0) {
                logmsg("invalid --rebind-every '%s'", optarg);
                return -1;
            }
            r->rebind_every = (int64_t)llround(a * (double)NS_PER_SEC);
            break;
        case OPT_REBIND_START:
            if (parse_number(optarg, 0, 1e6, &a) != 0) {
                logmsg("invalid --rebind-start '%s'", optarg);
                return -1;
            }
            r->rebind_start = (int64_t)llround(a * (double)NS_PER_SEC);
            break;
        case OPT_BLACKOUT:
            if (parse_pair(optarg, 0, 1e6, 0, 1e6, &a, &b) != 0 || b <= 0) {
                logmsg("invalid --blackout '%s' (want START:DURATION in seconds)", optarg);
                return -1;
            }
            if (r->blackout_count == MAX_BLACKOUTS) {
                logmsg("at most %d --blackout windows", MAX_BLACKOUTS);
                return -1;
            }
            r->blackouts[r->blackout_count].start = (int64_t)llround(a * (double)NS_PER_SEC);
            r->blackouts[r->blackout_count].end = (int64_t)llround((a + b) * (double)NS_PER_SEC);
            r->blackout_count++;
            break;
        case OPT_STATS_FILE:
            r->stats_file = optarg;
            break;
        case OPT_READY_FILE:
            r->ready_file = optarg;
            break;
        case OPT_MEM_LIMIT:
            if (parse_number(optarg, 1, 1e6, &a) != 0) {
                logmsg("invalid --mem-limit '%s'", optarg);
                return -1;
            }
            r->mem_limit = (size_t)(a * 1024 * 1024);
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        logmsg("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!listen_text || !target_text) {
        logmsg("--listen and --target are required (try --help)");
        return -1;
    }
    if (parse_address(listen_text, &r->listen_addr, &r->listen_len) != 0) {
        logmsg("invalid --listen '%s' (want ADDR:PORT or [ADDR]:PORT)", listen_text);
        return -1;
    }
    if (parse_address(target_text, &r->target_addr, &r->target_len) != 0) {
        logmsg("invalid --target '%s' (want ADDR:PORT or [ADDR]:PORT)", target_text);
        return -1;
    }
    return 0;
}

static void log_config(const struct relay *r)
{
    char listen_text[INET6_ADDRSTRLEN + 16];
    char target_text[INET6_ADDRSTRLEN + 16];
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof(bound);
    struct timespec start = {(time_t)(r->start / NS_PER_SEC), (long)(r->start % NS_PER_SEC)};

    if (getsockname(r->listen_fd, (struct sockaddr *)&bound, &bound_len) != 0)
        bound_len = 0;
    format_address(&bound, bound_len, listen_text, sizeof(listen_text));
    format_address(&r->target_addr, r->target_len, target_text, sizeof(target_text));
    /* start_monotonic lets a test relate its own CLOCK_MONOTONIC readings to blackouts. */
    logmsg("seed=%" PRIu64 " listen=%s target=%s source_port=%u start_monotonic=%lld.%09ld",
           r->seed, listen_text, target_text, local_port(r->upstream_fd), (long long)start.tv_sec,
           start.tv_nsec);
    for (int i = 0; i < DIR_COUNT; i++) {
        const struct impair_conf *c = &r->dir[i].conf;

        logmsg("%s: delay_ms=%g jitter_ms=%g rate_mbit=%g queue_kb=%g loss=%g burst_loss=%g:%u "
               "reorder=%g reorder_delay_ms=%g duplicate=%g corrupt=%g",
               direction_names[i], c->delay_ms, c->jitter_ms, c->rate_mbit, c->queue_kb, c->loss,
               c->burst_probability, c->burst_length, c->reorder, c->reorder_delay_ms, c->duplicate,
               c->corrupt);
    }
    for (size_t i = 0; i < r->blackout_count; i++)
        logmsg("blackout %.3f s to %.3f s", (double)r->blackouts[i].start / NS_PER_SEC,
               (double)r->blackouts[i].end / NS_PER_SEC);
    if (r->rebind_every > 0)
        logmsg("rebind every %.3f s", (double)r->rebind_every / NS_PER_SEC);
}

static void free_pending(struct relay *r)
{
    for (int i = 0; i < DIR_COUNT; i++) {
        struct packet *p;

        while ((p = heap_pop(&r->dir[i].pending)) != NULL) {
            r->dir[i].stats.discarded_at_exit++;
            release(r, p);
        }
        free(r->dir[i].pending.items);
        r->dir[i].pending.items = NULL;
    }
}

int main(int argc, char **argv)
{
    static struct relay relay;
    struct relay *r = &relay;
    sigset_t block;
    int rc;
    /* Every datagram is copied into its own allocation while it waits out its delay. With
     * glibc's defaults the heap's top went back to the system and came back again all the
     * time (a page fault per 4 KiB relayed): freed memory stays for reuse instead. */
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);

    r->seed = 1;
    r->rebind_start = -1;
    r->mem_limit = DEFAULT_MEM_LIMIT;
    r->listen_fd = -1;
    r->upstream_fd = -1;
    r->gso = true;
    for (int i = 0; i < DIR_COUNT; i++) {
        r->dir[i].conf.queue_kb = DEFAULT_QUEUE_KB;
        r->dir[i].conf.reorder_delay_ms = DEFAULT_REORDER_MS;
        r->dir[i].conf.burst_length = 1;
    }
    if (parse_options(r, argc, argv) != 0)
        return 2;
    for (int i = 0; i < DIR_COUNT; i++) {
        for (int s = 0; s < STREAM_COUNT; s++)
            rng_seed(&r->dir[i].rng[s], r->seed, (unsigned)(i * STREAM_COUNT + s));
    }

    /* SIGINT and SIGTERM are read from a signalfd in the event loop. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    r->signal_fd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
    if (r->signal_fd < 0) {
        logmsg("signalfd: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Default timer slack (50 us) would blur rate pacing at high rates. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

    r->start = now_ns();
    r->next_rebind = r->start + (r->rebind_start >= 0 ? r->rebind_start : r->rebind_every);
    r->listen_fd = open_listen_socket(r);
    if (r->listen_fd < 0)
        return 1;
    r->upstream_fd = open_upstream_socket(r);
    if (r->upstream_fd < 0) {
        close(r->listen_fd);
        return 1;
    }
    log_config(r);
    if (r->ready_file && write_file_atomic(r->ready_file, NULL, local_port(r->listen_fd)) != 0) {
        close(r->listen_fd);
        close(r->upstream_fd);
        return 1;
    }

    rc = run(r);
    if (r->stop_signal)
        logmsg("stopping on signal %d", r->stop_signal);
    free_pending(r);
    close(r->listen_fd);
    close(r->upstream_fd);
    close(r->signal_fd);
    write_stats(r, stderr);
    if (r->stats_file && write_file_atomic(r->stats_file, r, 0) != 0)
        rc = -1;
    return rc == 0 ? 0 : 1;
}
