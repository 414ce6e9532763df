/* The gateway's UDP side and reactor: one socket, batched receives (recvmmsg, UDP_GRO) and
 * sends (UDP_SEGMENT), the table from connection IDs to connections, what a server sends for
 * packets of no connection (Version Negotiation, stateless reset, Retry, refusal), and the
 * epoll loop with one timerfd for every connection's ngtcp2 expiry. */
#include "gateway.h"
#include "audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* A server must not answer datagrams below the minimum Initial size with Version
 * Negotiation (RFC 9000 6.1, 14.1). */
#define MIN_INITIAL_DATAGRAM 1200
/* A stateless reset is at least 21 bytes and smaller than what triggered it (RFC 9000 10.3). */
#define MIN_RESET_TRIGGER 22
#define MAX_RESET_RANDLEN 26

ngtcp2_tstamp gw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ngtcp2_tstamp)ts.tv_sec * NGTCP2_SECONDS + (ngtcp2_tstamp)ts.tv_nsec;
}

void gw_hex(const uint8_t *data, size_t len, char *out, size_t out_len)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 2 < out_len; i++) {
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 0xf];
    }
    out[o] = '\0';
}

void gw_format_addr(const struct sockaddr *sa, char *out, size_t out_len)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, out_len, "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof(host));
            snprintf(out, out_len, "%s:%u", host, ntohs(in6->sin6_port));
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            snprintf(out, out_len, "[%s]:%u", host, ntohs(in6->sin6_port));
        }
    } else {
        snprintf(out, out_len, "?");
    }
}

/* ---- connection ID table ---- */

struct gw_cidmap_entry {
    struct gw_cidmap_entry *next;
    ngtcp2_cid cid;
    struct gw_conn *conn;
};

static int cidmap_init(struct gw_cidmap *map, size_t expected)
{
    size_t n = 64;
    while (n < expected * 2)
        n <<= 1;
    map->buckets = calloc(n, sizeof(*map->buckets));
    if (!map->buckets)
        return -1;
    map->nbuckets = n;
    map->count = 0;
    /* Keyed: a client chooses its Initial's DCID and must not choose our bucket. */
    return gnutls_rnd(GNUTLS_RND_RANDOM, map->seed, sizeof(map->seed)) == 0 ? 0 : -1;
}

static size_t cid_bucket(const struct gw_cidmap *map, const uint8_t *data, size_t len)
{
    uint64_t h = map->seed[0] ^ (len * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    h ^= map->seed[1];
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t)(h & (map->nbuckets - 1));
}

int gw_cidmap_add(struct gw_cidmap *map, const ngtcp2_cid *cid, struct gw_conn *conn)
{
    if (gw_cidmap_find(map, cid->data, cid->datalen))
        return -1;
    struct gw_cidmap_entry *e = malloc(sizeof(*e));
    if (!e)
        return -1;
    size_t b = cid_bucket(map, cid->data, cid->datalen);
    e->cid = *cid;
    e->conn = conn;
    e->next = map->buckets[b];
    map->buckets[b] = e;
    map->count++;
    return 0;
}

void gw_cidmap_remove(struct gw_cidmap *map, const ngtcp2_cid *cid)
{
    size_t b = cid_bucket(map, cid->data, cid->datalen);
    for (struct gw_cidmap_entry **p = &map->buckets[b]; *p; p = &(*p)->next) {
        if (ngtcp2_cid_eq(&(*p)->cid, cid)) {
            struct gw_cidmap_entry *e = *p;
            *p = e->next;
            free(e);
            map->count--;
            return;
        }
    }
}

struct gw_conn *gw_cidmap_find(const struct gw_cidmap *map, const uint8_t *data, size_t len)
{
    if (len > NGTCP2_MAX_CIDLEN)
        return NULL;
    size_t b = cid_bucket(map, data, len);
    for (struct gw_cidmap_entry *e = map->buckets[b]; e; e = e->next)
        if (e->cid.datalen == len && memcmp(e->cid.data, data, len) == 0)
            return e->conn;
    return NULL;
}

static void cidmap_free(struct gw_cidmap *map)
{
    if (!map->buckets)
        return;
    for (size_t i = 0; i < map->nbuckets; i++) {
        struct gw_cidmap_entry *e = map->buckets[i];
        while (e) {
            struct gw_cidmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(map->buckets);
    map->buckets = NULL;
}

/* ---- sending ---- */

static size_t control_pktinfo(struct gw_server *srv, const ngtcp2_path *path, char *ctrl)
{
    struct cmsghdr *cm = (struct cmsghdr *)ctrl;
    const struct sockaddr *local = (const struct sockaddr *)path->local.addr;
    if (local->sa_family == AF_INET) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
        return CMSG_SPACE(sizeof(pi));
    }
    (void)srv;
    /* IPv6, including IPv4-mapped sources on a dual-stack socket (Linux converts them). */
    struct in6_pktinfo pi6;
    memset(&pi6, 0, sizeof(pi6));
    pi6.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
    cm->cmsg_level = IPPROTO_IPV6;
    cm->cmsg_type = IPV6_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof(pi6));
    memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
    return CMSG_SPACE(sizeof(pi6));
}

/* One sendmsg; returns 0, or -errno. */
static int send_one(struct gw_server *srv, const ngtcp2_path *path, const uint8_t *data, size_t len,
                    size_t gso_segsize)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctrl;
    memset(&ctrl, 0, sizeof(ctrl));
    struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
    struct msghdr msg = {
        .msg_name = path->remote.addr,
        .msg_namelen = path->remote.addrlen,
        .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    size_t clen = 0;
    if (srv->use_pktinfo)
        clen += control_pktinfo(srv, path, ctrl.buf);
    if (gso_segsize) {
        struct cmsghdr *cm = (struct cmsghdr *)(ctrl.buf + clen);
        uint16_t seg = (uint16_t)gso_segsize;
        cm->cmsg_level = IPPROTO_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(seg));
        memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
        clen += CMSG_SPACE(sizeof(seg));
    }
    if (clen) {
        msg.msg_control = ctrl.buf;
        msg.msg_controllen = clen;
    }
    for (;;) {
        if (sendmsg(srv->udp_fd, &msg, 0) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

size_t gw_server_send(struct gw_server *srv, const ngtcp2_path *path, const uint8_t *data,
                      size_t len, size_t segsize)
{
    if (segsize == 0 || segsize > len)
        segsize = len;
    if (len > segsize && srv->gso) {
        int rv = send_one(srv, path, data, len, segsize);
        if (rv == 0)
            return len;
        if (rv == -EAGAIN || rv == -EWOULDBLOCK)
            return 0;
        if (rv != -EIO && rv != -EINVAL) {
            gw_log(GW_LOG_DEBUG, "sendmsg: %s", strerror(-rv));
            return len; /* lost on the way, as far as QUIC can tell */
        }
        /* The device or kernel refuses segmentation offload: send datagram by datagram
         * from now on. */
        gw_log(GW_LOG_INFO, "UDP GSO unavailable (%s): sending datagrams one by one",
               strerror(-rv));
        srv->gso = false;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < segsize ? len - off : segsize;
        int rv = send_one(srv, path, data + off, n, 0);
        if (rv == -EAGAIN || rv == -EWOULDBLOCK)
            return off;
        if (rv != 0)
            gw_log(GW_LOG_DEBUG, "sendmsg: %s", strerror(-rv));
        off += n;
    }
    return len;
}

void gw_server_want_udp_out(struct gw_server *srv)
{
    if (srv->udp_out_armed)
        return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &srv->udp_watch};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->udp_fd, &ev) == 0)
        srv->udp_out_armed = true;
}

static void on_udp_writable(struct gw_server *srv)
{
    for (struct gw_conn *c = srv->conns; c && srv->npending_tx > 0; c = c->next)
        if (c->pending.data && !gw_conn_flush_pending(c))
            return;
    if (srv->npending_tx == 0 && srv->udp_out_armed) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->udp_watch};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->udp_fd, &ev) == 0)
            srv->udp_out_armed = false;
    }
}

/* ---- packets of no connection ---- */

static bool rate_ok(struct gw_server *srv)
{
    /* At most 100 per second, bursts of 200: Version Negotiation and stateless resets are
     * smaller than what triggers them, but nobody should use us as a reflector. */
    ngtcp2_tstamp now = gw_now();
    if (srv->reset_refill == 0)
        srv->reset_tokens = 200;
    else
        srv->reset_tokens += (double)(now - srv->reset_refill) / NGTCP2_SECONDS * 100;
    if (srv->reset_tokens > 200)
        srv->reset_tokens = 200;
    srv->reset_refill = now;
    if (srv->reset_tokens < 1)
        return false;
    srv->reset_tokens -= 1;
    return true;
}

static void send_version_negotiation(struct gw_server *srv, const ngtcp2_path *path,
                                     const ngtcp2_version_cid *vc)
{
    if (!rate_ok(srv))
        return;
    uint8_t rnd[5];
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) != 0)
        return;
    /* A reserved version 0x?a?a?a?a keeps clients' version handling honest (RFC 9000 15). */
    uint32_t versions[2] = {
        (((uint32_t)rnd[1] << 24 | (uint32_t)rnd[2] << 16 | (uint32_t)rnd[3] << 8 | rnd[4]) &
         0xf0f0f0f0u) |
            0x0a0a0a0au,
        NGTCP2_PROTO_VER_V1,
    };
    ngtcp2_ssize n =
        ngtcp2_pkt_write_version_negotiation(srv->txbuf, GW_TX_BUFSIZE, rnd[0], vc->scid,
                                             vc->scidlen, vc->dcid, vc->dcidlen, versions, 2);
    if (n > 0)
        (void)gw_server_send(srv, path, srv->txbuf, (size_t)n, (size_t)n);
}

static void send_stateless_reset(struct gw_server *srv, const ngtcp2_path *path,
                                 const ngtcp2_version_cid *vc, size_t trigger_len)
{
    if (trigger_len < MIN_RESET_TRIGGER || vc->dcidlen != GW_SCID_LEN || !rate_ok(srv))
        return;
    ngtcp2_cid dcid;
    ngtcp2_cid_init(&dcid, vc->dcid, vc->dcidlen);
    uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
    uint8_t rnd[MAX_RESET_RANDLEN];
    size_t randlen = trigger_len - 1 - NGTCP2_STATELESS_RESET_TOKENLEN;
    if (randlen > sizeof(rnd))
        randlen = sizeof(rnd);
    if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
                                                     &dcid) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, rnd, randlen) != 0)
        return;
    ngtcp2_ssize n =
        ngtcp2_pkt_write_stateless_reset(srv->txbuf, GW_TX_BUFSIZE, token, rnd, randlen);
    if (n > 0)
        (void)gw_server_send(srv, path, srv->txbuf, (size_t)n, (size_t)n);
}

/* An Initial-level CONNECTION_CLOSE without creating any state (RFC 9000 5.2.2, 8.1.3). */
static void send_refusal(struct gw_server *srv, const ngtcp2_path *path, const ngtcp2_pkt_hd *hd,
                         uint64_t error_code)
{
    ngtcp2_ssize n =
        ngtcp2_crypto_write_connection_close(srv->txbuf, NGTCP2_MAX_UDP_PAYLOAD_SIZE, hd->version,
                                             &hd->scid, &hd->dcid, error_code, NULL, 0);
    if (n > 0)
        (void)gw_server_send(srv, path, srv->txbuf, (size_t)n, (size_t)n);
}

/* Address validation under load (RFC 9000 8.1.2): a stateless Retry; only a client that
 * receives it at its address can come back with the token. */
static void send_retry(struct gw_server *srv, const ngtcp2_path *path, const ngtcp2_pkt_hd *hd)
{
    ngtcp2_cid scid;
    scid.datalen = GW_SCID_LEN;
    if (gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen) != 0)
        return;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN2];
    ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token2(
        token, srv->secret, sizeof(srv->secret), hd->version, path->remote.addr,
        path->remote.addrlen, &scid, &hd->dcid, gw_now());
    if (tokenlen < 0)
        return;
    ngtcp2_ssize n =
        ngtcp2_crypto_write_retry(srv->txbuf, NGTCP2_MAX_UDP_PAYLOAD_SIZE, hd->version, &hd->scid,
                                  &scid, &hd->dcid, token, (size_t)tokenlen);
    if (n > 0)
        (void)gw_server_send(srv, path, srv->txbuf, (size_t)n, (size_t)n);
}

static void accept_initial(struct gw_server *srv, const ngtcp2_path *path, const uint8_t *data,
                           size_t len)
{
    ngtcp2_pkt_hd hd;
    /* Anything but a well-formed client Initial (0-RTT of an unknown connection included) is
     * dropped here. */
    if (ngtcp2_accept(&hd, data, len) != 0 || srv->stopping)
        return;
    size_t max = srv->cfg.max_connections;
    if (srv->nactive >= max || srv->nconns >= 2 * max) {
        gw_log(GW_LOG_INFO, "refusing a connection: %zu connections (--max-connections %zu)",
               srv->nactive, max);
        send_refusal(srv, path, &hd, NGTCP2_CONNECTION_REFUSED);
        return;
    }
    ngtcp2_cid odcid = hd.dcid;
    const ngtcp2_cid *retry_scid = NULL;
    if (hd.tokenlen > 0 && hd.token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY2) {
        if (ngtcp2_crypto_verify_retry_token2(&odcid, hd.token, hd.tokenlen, srv->secret,
                                              sizeof(srv->secret), hd.version, path->remote.addr,
                                              path->remote.addrlen, &hd.dcid,
                                              GW_RETRY_TOKEN_TIMEOUT, gw_now()) != 0) {
            send_refusal(srv, path, &hd, NGTCP2_INVALID_TOKEN);
            return;
        }
        retry_scid = &hd.dcid;
    }
    /* Many half-open connections: make new clients prove their address first. */
    size_t retry_above = max / 4 > 16 ? max / 4 : 16;
    bool busy = srv->nhandshake >= retry_above;
    if (busy != srv->retrying) {
        srv->retrying = busy;
        gw_log(GW_LOG_INFO, "%zu half-open connections: %s", srv->nhandshake,
               busy ? "new clients must validate their address first (Retry)"
                    : "Retry no longer needed");
    }
    if (!retry_scid && busy) {
        send_retry(srv, path, &hd);
        return;
    }
    struct gw_conn *c = gw_conn_new(srv, &hd, path, &odcid, retry_scid);
    if (c)
        gw_conn_on_datagram(c, path, data, len);
}

static void on_datagram(struct gw_server *srv, const ngtcp2_path *path, const uint8_t *data,
                        size_t len)
{
    ngtcp2_version_cid vc;
    int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, GW_SCID_LEN);
    if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
        if (len >= MIN_INITIAL_DATAGRAM)
            send_version_negotiation(srv, path, &vc);
        return;
    }
    if (rv != 0)
        return;
    struct gw_conn *c = gw_cidmap_find(&srv->cids, vc.dcid, vc.dcidlen);
    if (c) {
        gw_conn_on_datagram(c, path, data, len);
        return;
    }
    if (!(data[0] & 0x80)) {
        send_stateless_reset(srv, path, &vc, len);
        return;
    }
    accept_initial(srv, path, data, len);
}

/* ---- receiving ---- */

struct rx_slot {
    struct sockaddr_storage from;
    union {
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
                 CMSG_SPACE(sizeof(struct in_pktinfo)) + 64];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov;
};

static void on_udp_readable(struct gw_server *srv)
{
    static struct rx_slot slots[GW_RX_BATCH];
    struct mmsghdr msgs[GW_RX_BATCH];
    /* Bounded per wakeup so that sending and timers get their turn under a flood. */
    for (int round = 0; round < 8; round++) {
        memset(msgs, 0, sizeof(msgs));
        for (size_t i = 0; i < GW_RX_BATCH; i++) {
            slots[i].iov.iov_base = srv->rxbufs + i * GW_RX_BUFSIZE;
            slots[i].iov.iov_len = GW_RX_BUFSIZE;
            msgs[i].msg_hdr.msg_name = &slots[i].from;
            msgs[i].msg_hdr.msg_namelen = sizeof(slots[i].from);
            msgs[i].msg_hdr.msg_iov = &slots[i].iov;
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = slots[i].ctrl.buf;
            msgs[i].msg_hdr.msg_controllen = sizeof(slots[i].ctrl.buf);
        }
        int n = recvmmsg(srv->udp_fd, msgs, GW_RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                gw_log(GW_LOG_DEBUG, "recvmmsg: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &msgs[i].msg_hdr;
            if (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC) || msgs[i].msg_len == 0)
                continue;
            ngtcp2_sockaddr_union local = srv->local;
            size_t seg = 0;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
                    int gso;
                    memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
                    if (gso > 0)
                        seg = (size_t)gso;
                } else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
                           local.sa.sa_family == AF_INET) {
                    struct in_pktinfo pi;
                    memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
                    local.in.sin_addr = pi.ipi_addr;
                } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
                           local.sa.sa_family == AF_INET6) {
                    struct in6_pktinfo pi6;
                    memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
                    local.in6.sin6_addr = pi6.ipi6_addr;
                }
            }
            ngtcp2_path path = {
                .local = {.addr = &local.sa, .addrlen = srv->local_len},
                .remote = {.addr = (ngtcp2_sockaddr *)&slots[i].from, .addrlen = mh->msg_namelen},
            };
            const uint8_t *data = slots[i].iov.iov_base;
            size_t len = msgs[i].msg_len;
            if (seg == 0)
                seg = len;
            for (size_t off = 0; off < len; off += seg)
                on_datagram(srv, &path, data + off, len - off < seg ? len - off : seg);
        }
        if (n < GW_RX_BATCH)
            return;
    }
}

/* ---- setup ---- */

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void set_buffer(int fd, int force_opt, int opt, int bytes)
{
    /* FORCE works with CAP_NET_ADMIN (root, before dropping privileges); otherwise the
     * kernel caps the request at net.core.[rw]mem_max. */
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

static int udp_socket(struct gw_server *srv, char *why, size_t why_len)
{
    const struct gw_config *cfg = &srv->cfg;
    int family = cfg->listen_addr.ss_family;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    bool wildcard = is_wildcard(&cfg->listen_addr);
    if (family == AF_INET6) {
        /* [::] takes IPv4 as well (dual stack); a specific address only itself. */
        int v6only = wildcard ? 0 : 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
        int pmtu = IPV6_PMTUDISC_PROBE;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
    }
    /* Don't fragment: ngtcp2's path MTU discovery probes with full-sized packets. */
    int pmtu4 = IP_PMTUDISC_PROBE;
    (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu4, sizeof(pmtu4));
    if (wildcard) {
        /* Learn each datagram's local address and answer from it. */
        if (family == AF_INET)
            (void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        else
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        srv->use_pktinfo = true;
    }
    /* The receive buffer takes bursts while the loop is busy with other connections or a
     * backend. With 8 MiB, a 512 MiB put through a 100 ms relay lost 3-4% of its datagrams
     * here (the socket's drop count in /proc/net/udp), enough for BBR to leave Startup
     * early; 32 MiB lost none. The kernel charges only what is queued. */
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, 32 << 20);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, 8 << 20);
    srv->gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
    srv->gso = true; /* tried on the first batch, dropped if the kernel refuses */
    if (bind(fd, (const struct sockaddr *)&cfg->listen_addr, cfg->listen_len) != 0) {
        char addr[64];
        gw_format_addr((const struct sockaddr *)&cfg->listen_addr, addr, sizeof(addr));
        snprintf(why, why_len, "cannot bind UDP %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(srv->local);
    if (getsockname(fd, &srv->local.sa, &len) != 0) {
        snprintf(why, why_len, "getsockname: %s", strerror(errno));
        close(fd);
        return -1;
    }
    srv->local_len = len;
    srv->udp_fd = fd;
    return 0;
}

static int watch_fd(struct gw_server *srv, int fd, struct gw_watch *w, enum gw_watch_kind kind)
{
    w->kind = kind;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int gw_server_init(struct gw_server *srv, char *why, size_t why_len)
{
    srv->epfd = srv->udp_fd = srv->timer_fd = srv->signal_fd = -1;
    srv->txbuf = malloc(GW_TX_BUFSIZE);
    srv->rxbufs = malloc((size_t)GW_RX_BATCH * GW_RX_BUFSIZE);
    if (!srv->txbuf || !srv->rxbufs || cidmap_init(&srv->cids, srv->cfg.max_connections * 4) != 0 ||
        gnutls_rnd(GNUTLS_RND_KEY, srv->secret, sizeof(srv->secret)) != 0) {
        snprintf(why, why_len, "out of memory or no randomness");
        return -1;
    }
    gw_conn_callbacks(&srv->callbacks);

    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    srv->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (srv->epfd < 0 || srv->timer_fd < 0 || srv->signal_fd < 0) {
        snprintf(why, why_len, "epoll/timerfd/signalfd: %s", strerror(errno));
        return -1;
    }
    if (udp_socket(srv, why, why_len) != 0)
        return -1;
    if (watch_fd(srv, srv->udp_fd, &srv->udp_watch, GW_WATCH_UDP) != 0 ||
        watch_fd(srv, srv->timer_fd, &srv->timer_watch, GW_WATCH_TIMER) != 0 ||
        watch_fd(srv, srv->signal_fd, &srv->signal_watch, GW_WATCH_SIGNAL) != 0) {
        snprintf(why, why_len, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void gw_server_free(struct gw_server *srv)
{
    while (srv->conns)
        gw_conn_free(srv->conns);
    gw_chunk_cache_free();
    cidmap_free(&srv->cids);
    if (srv->udp_fd >= 0)
        close(srv->udp_fd);
    if (srv->timer_fd >= 0)
        close(srv->timer_fd);
    if (srv->signal_fd >= 0)
        close(srv->signal_fd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    free(srv->txbuf);
    free(srv->rxbufs);
    srv->txbuf = NULL;
    srv->rxbufs = NULL;
    gnutls_memset(srv->secret, 0, sizeof(srv->secret));
}

/* ---- the loop ---- */

/* Services every connection. Returns true when one is still kicked afterwards (a backend
 * read that spent its budget, see GW_BACKEND_READ_BUDGET): it has work ready now, so the
 * loop must poll without sleeping. */
static bool service_all(struct gw_server *srv)
{
    struct gw_conn *next;
    bool freed = false, busy = false;
    for (struct gw_conn *c = srv->conns; c; c = next) {
        next = c->next;
        gw_conn_service(c);
        if (c->state == GW_CONN_DEAD) {
            gw_conn_free(c);
            freed = true;
        } else if (c->be.kick && c->state <= GW_CONN_OPEN) {
            busy = true;
        }
    }
    /* Give freed memory back to the system a second after connections ended (at most once
     * a second): RSS then follows the connections actually open, not the busiest moment. */
    ngtcp2_tstamp now = gw_now();
    if (freed && !srv->trim_due) {
        srv->trim_due = true;
        if (now - srv->last_trim > NGTCP2_SECONDS)
            srv->last_trim = now;
    }
    if (srv->trim_due && now >= srv->last_trim + NGTCP2_SECONDS) {
        srv->trim_due = false;
        srv->last_trim = now;
        malloc_trim(0);
    }
    /* The chunk pool outlives connections (GW_CHUNK_POOL_MAX) but not a quiet gateway. */
    if (srv->nconns > 0) {
        srv->idle_since = 0;
    } else if (srv->idle_since == 0) {
        srv->idle_since = now;
    } else if (now >= srv->idle_since + GW_POOL_IDLE_RELEASE && !gw_chunk_cache_empty()) {
        gw_chunk_cache_free();
        malloc_trim(0);
    }
    return busy;
}

static void on_timer(struct gw_server *srv)
{
    uint64_t expirations;
    while (read(srv->timer_fd, &expirations, sizeof(expirations)) < 0 && errno == EINTR)
        ;
    srv->timer_armed_at = 0;
    ngtcp2_tstamp now = gw_now();
    for (struct gw_conn *c = srv->conns; c; c = c->next)
        if (gw_conn_expiry(c) <= now)
            gw_conn_on_timer(c, now);
}

static void arm_timer(struct gw_server *srv)
{
    ngtcp2_tstamp next = srv->trim_due ? srv->last_trim + NGTCP2_SECONDS : UINT64_MAX;
    if (srv->idle_since && !gw_chunk_cache_empty() &&
        srv->idle_since + GW_POOL_IDLE_RELEASE < next)
        next = srv->idle_since + GW_POOL_IDLE_RELEASE;
    for (struct gw_conn *c = srv->conns; c; c = c->next) {
        ngtcp2_tstamp e = gw_conn_expiry(c);
        if (e < next)
            next = e;
    }
    if (next == srv->timer_armed_at)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (next != UINT64_MAX) {
        if (next == 0)
            next = 1;
        its.it_value.tv_sec = (time_t)(next / NGTCP2_SECONDS);
        its.it_value.tv_nsec = (long)(next % NGTCP2_SECONDS);
    }
    if (timerfd_settime(srv->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        srv->timer_armed_at = next;
}

static void begin_shutdown(struct gw_server *srv, int signo)
{
    gw_log(GW_LOG_WARN, "signal %d: closing %zu connections and exiting", signo, srv->nactive);
    srv->stopping = true;
    for (struct gw_conn *c = srv->conns; c; c = c->next)
        if (c->state <= GW_CONN_OPEN)
            gw_conn_close_app(c, GW_APP_NO_ERROR, "gateway shutting down");
}

static void on_signal(struct gw_server *srv)
{
    struct signalfd_siginfo si;
    while (read(srv->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            char why[512];
            if (gw_audit_reopen(why, sizeof(why)) != 0)
                gw_log(GW_LOG_WARN, "SIGHUP: %s", why);
            else
                gw_log(GW_LOG_INFO, "SIGHUP: audit log reopened");
        } else if (!srv->stopping) {
            begin_shutdown(srv, (int)si.ssi_signo);
        }
    }
}

int gw_server_run(struct gw_server *srv)
{
    struct epoll_event events[64];
    for (;;) {
        bool busy = service_all(srv);
        if (srv->stopping)
            return 0;
        arm_timer(srv);
        int n = epoll_wait(srv->epfd, events, 64, busy ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            gw_log(GW_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct gw_watch *w = events[i].data.ptr;
            uint32_t ev = events[i].events;
            switch (w->kind) {
            case GW_WATCH_UDP:
                if (ev & EPOLLOUT)
                    on_udp_writable(srv);
                if (ev & (EPOLLIN | EPOLLERR))
                    on_udp_readable(srv);
                break;
            case GW_WATCH_TIMER:
                on_timer(srv);
                break;
            case GW_WATCH_SIGNAL:
                on_signal(srv);
                break;
            case GW_WATCH_BACKEND: {
                struct gw_backend *be =
                    (struct gw_backend *)((char *)w - offsetof(struct gw_backend, watch));
                struct gw_conn *c = (struct gw_conn *)((char *)be - offsetof(struct gw_conn, be));
                gw_backend_on_event(c, ev);
                break;
            }
            }
        }
    }
}
