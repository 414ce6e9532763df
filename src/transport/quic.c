/* SMB over QUIC client transport: ngtcp2 (RFC 9000) with GnuTLS (RFC 9001), ALPN "smb", one
 * client-opened bidirectional stream carrying the Direct-TCP framed SMB messages (MS-SMB2 2.1).
 * The only file that includes ngtcp2. Non-blocking; the owner drives it through struct
 * transport_ops (send/recv/timeouts) from its poll loop. */
#include "transport/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "util/error.h"
#include "util/log.h"
#include "util/netevents.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define SMB_ALPN "smb"

/* Flow-control windows. A path is window-limited when window < bandwidth x RTT. We start at
 * RECV_WINDOW_INITIAL, 32 MiB: 320 MiB/s at 100 ms RTT, 640 MiB/s at 50 ms, and room for
 * the 30 READs of 1 MiB that `smbquic get` keeps going on a short path. ngtcp2 doubles a
 * window, up to RECV_WINDOW_MAX, when it has to extend it twice within two round trips
 * (the window, not the reader, is what limits: RFC 9000 4.2 leaves the policy to us). That
 * happens on long paths: through a 100 ms relay, with smbquic-gateway's windows growing the
 * same way, the ~25 MB that 32 MiB windows kept in flight rose to 32-55 MB and a 512 MiB get
 * or put ended about a fifth sooner. On loopback (round trips of 0.5-2.5 ms during a
 * transfer) a quarter of the window takes longer than two round trips to drain, so it stays
 * at 32 MiB. The receive ring must hold the largest window: the server may fill it while we
 * are busy. 64 MiB, not more: with 96 MiB the client's one thread fell behind (page cache
 * copies) and BBR measured it. */
#define RECV_WINDOW_INITIAL (32u * 1024 * 1024)
#define RECV_WINDOW_MAX     (64u * 1024 * 1024)
/* Unacknowledged plus unsent stream data we keep (ngtcp2 needs acked bytes to stay put). A
 * put can have as much in flight as the server's receive window allows (smbquic-gateway's
 * grows to 64 MiB the same way), so the ring matches it. It only fills as far as the SMB
 * layer writes ahead, and an emptied ring restarts at its front, so pages beyond what a
 * path needs are never touched. */
#define SEND_BUFFER (64u * 1024 * 1024)
/* The server's idle timeout closes idle connections; keep-alive PINGs keep a mount alive. */
#define IDLE_TIMEOUT_S 60
#define KEEP_ALIVE_S 5
/* One sendmsg with UDP GSO carries up to this many bytes: the largest UDP payload over IPv4
 * (65535 - 20 - 8); a batch even one byte longer fails with EMSGSIZE. */
#define GSO_BUFFER 65507
#define MAX_GSO_SEGMENTS 44
/* Send quanta (ngtcp2_conn_get_send_quantum) one sending pass may use; see write_packets. */
#define PACING_QUANTA 4
/* Roaming (RFC 9000 9: connection migration). When the network may have changed under the
 * connection, ask the kernel which source address it would use for the server now; if that
 * is not the socket's, move the connection there (check_path). Three signs trigger it: an
 * address, link or route event from rtnetlink (the aux descriptor), PATH_EVENT_DELAY_MS
 * later because the kernel announces a new address a few milliseconds before its route; a
 * send failing with "network unreachable" and the like; and, for changes the kernel does
 * not announce, nothing heard for a probe timeout while packets are in flight. The last two
 * run at most every PATH_CHECK_INTERVAL_MS, so that a merely lossy or blacked-out path costs
 * no more than a few system calls. */
#define PATH_EVENT_DELAY_MS    10
#define PATH_CHECK_INTERVAL_MS 50

/* Path MTU discovery (RFC 9000 14.3) tries these UDP payload sizes in turn, each only if
 * every smaller one got through: ngtcp2's defaults (1406, 1452: Ethernet behind PPPoE or IPv6
 * tunnels, and Ethernet), 9000-byte jumbo frames, then up to loopback's 64 KiB MTU. Until a
 * size is confirmed packets stay at 1200 bytes; a probe that does not fit is lost (the
 * socket never fragments) and costs three probe packets, after which nothing larger is
 * tried. */
#define PMTUD_MAX 65487 /* 65535 - 40 (IPv6) - 8 (UDP) */
static const uint16_t pmtud_probes[] = {1406, 1452, 8952, 16384, 32768, PMTUD_MAX};

/* A byte ring of fixed capacity. */
struct ring {
    uint8_t *data;
    size_t cap;
    size_t head; /* index of the oldest byte */
    size_t len;
};

struct quic_transport {
    struct transport base; /* first: the transport API hands out &base */
    ngtcp2_conn *conn;
    ngtcp2_crypto_conn_ref conn_ref;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
    struct sockaddr_storage local, remote;
    socklen_t local_len, remote_len;
    int64_t stream_id;
    bool stream_open;
    bool handshake_done;
    bool handshake_confirmed; /* HANDSHAKE_DONE received (RFC 9001 4.1.2) */
    bool closed;   /* the connection is over (peer closed, idle, error) */
    int close_err; /* sq_error to report once closed */

    /* Send side: [acked ... sent to ngtcp2 ... queued) in a ring. */
    struct ring out;
    size_t out_submitted; /* bytes of `out` already given to ngtcp2 (not yet acked) */
    /* Receive side: in-order stream bytes not yet read by the SMB layer. */
    struct ring in;
    /* While quic_recv reads packets, the caller's buffer: stream bytes go straight there
     * (saving a copy through the ring) until it is full; the rest waits in the ring. */
    uint8_t *direct;
    size_t direct_cap, direct_len;

    /* A GSO batch the socket refused (EAGAIN), to send first. */
    uint8_t *pending;
    size_t pending_len;
    size_t pending_segment;
    uint8_t gso_buf[GSO_BUFFER];
    bool gso_ok;
    bool gro_ok;
    bool socket_holds_window; /* the kernel receive buffer got RECV_WINDOW_MAX (read_packets) */
    /* Roaming: see PATH_CHECK_INTERVAL_MS. */
    ngtcp2_tstamp path_check_due;  /* check_path is due then (a network event); 0: none */
    const char *path_check_why;    /* why it is due, for the log */
    bool path_suspect;             /* a send or ICMP error said the path is gone */
    ngtcp2_tstamp last_recv_ts;    /* when a datagram last arrived */
    ngtcp2_tstamp last_path_check; /* when check_path last ran */
    /* Counters for the debug log at close. */
    uint64_t stream_blocked;  /* writes refused by the server's flow control */
    uint64_t cwnd_limited;    /* write loops that ended with data left but nothing to send */

    /* Certificate verification. */
    char servername[256];
    uint8_t pin[32];
    bool has_pin;
    bool pin_spki; /* pin names the public key (SubjectPublicKeyInfo), not the certificate */
    unsigned verify_status;  /* gnutls_certificate_status_t bits of a failed check */
    char verify_error[768];  /* our reason when the check failed, for the user */
};

static ngtcp2_tstamp now_ts(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ngtcp2_tstamp)ts.tv_sec * NGTCP2_SECONDS + (ngtcp2_tstamp)ts.tv_nsec;
}

/* ---- rings ---- */

/* Rings are mapped on 2 MiB boundaries and, past their first 2 MiB, marked for transparent
 * huge pages: a put runs its send ring round all 64 MiB, and in 4 KiB pages that was ~16,000
 * page faults, a third of the client's CPU time for 512 MiB on the (virtual) machines here.
 * The first 2 MiB stay in small pages, so a mount that only lists and stats touches a few
 * pages of each ring, not a whole huge page. Pages are still only allocated where the ring
 * is used; where the kernel has no huge pages (THP "never") the advice has no effect. */
#define RING_ALIGN ((size_t)2 * 1024 * 1024)

static int ring_init(struct ring *r, size_t cap)
{
    r->cap = cap;
    r->head = r->len = 0;
    uint8_t *map = mmap(NULL, cap + RING_ALIGN, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        r->data = NULL;
        return SQ_ERR_NOMEM;
    }
    /* Keep an aligned window of cap bytes; give the slack before and after back. */
    size_t lead = (RING_ALIGN - (uintptr_t)map % RING_ALIGN) % RING_ALIGN;
    if (lead > 0)
        munmap(map, lead);
    munmap(map + lead + cap, RING_ALIGN - lead); /* lead < RING_ALIGN */
    r->data = map + lead;
    if (cap > RING_ALIGN)
        (void)madvise(r->data + RING_ALIGN, cap - RING_ALIGN, MADV_HUGEPAGE);
    return 0;
}

static void ring_free(struct ring *r)
{
    if (r->data)
        munmap(r->data, r->cap);
    r->data = NULL;
}

static size_t ring_put(struct ring *r, const uint8_t *src, size_t n)
{
    size_t room = r->cap - r->len;
    if (n > room)
        n = room;
    size_t tail = (r->head + r->len) % r->cap;
    size_t first = n < r->cap - tail ? n : r->cap - tail;
    memcpy(r->data + tail, src, first);
    memcpy(r->data, src + first, n - first);
    r->len += n;
    return n;
}

static size_t ring_get(struct ring *r, uint8_t *dst, size_t n)
{
    if (n > r->len)
        n = r->len;
    size_t first = n < r->cap - r->head ? n : r->cap - r->head;
    memcpy(dst, r->data + r->head, first);
    memcpy(dst + first, r->data, n - first);
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0)
        r->head = 0; /* start over at the front: the ring touches only the memory it needs */
    return n;
}

static void ring_drop(struct ring *r, size_t n)
{
    if (n > r->len)
        n = r->len;
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0)
        r->head = 0; /* nothing is referenced any more (all acknowledged) */
}

/* Up to two vectors over bytes [off, r->len) of the ring. */
static int ring_vec(const struct ring *r, size_t off, ngtcp2_vec v[2])
{
    if (off >= r->len)
        return 0;
    size_t start = (r->head + off) % r->cap;
    size_t n = r->len - off;
    size_t first = n < r->cap - start ? n : r->cap - start;
    v[0].base = r->data + start;
    v[0].len = first;
    if (first == n)
        return 1;
    v[1].base = r->data;
    v[1].len = n - first;
    return 2;
}

/* ---- addresses ---- */

/* "a.b.c.d:port" or "[v6]:port", as the logs, `smbquic info` and `status` show addresses. */
static void format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
        snprintf(out, len, "[%s]:%u", a, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
        snprintf(out, len, "%s:%u", a, ntohs(s4->sin_port));
    }
}

/* Same IP address (the ports may differ). */
static bool same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
               x->sin6_scope_id == y->sin6_scope_id;
    }
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    struct quic_transport *q = ref->user_data;
    return q->conn;
}

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                      void *user_data)
{
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
        gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    return 0;
}

static int recv_stream_data_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id,
                               uint64_t offset, const uint8_t *data, size_t datalen,
                               void *user_data, void *stream_user_data)
{
    struct quic_transport *q = user_data;
    if (stream_id != q->stream_id)
        return 0; /* MS-SMB2 2.1: only our one stream carries SMB; ignore others */
    /* ngtcp2 delivers a stream's bytes in order; flow control guarantees they fit because
     * the window only grows as the SMB layer drains the ring. */
    if (q->direct && q->in.len == 0 && q->direct_len < q->direct_cap) {
        size_t n = q->direct_cap - q->direct_len;
        if (n > datalen)
            n = datalen;
        memcpy(q->direct + q->direct_len, data, n);
        q->direct_len += n;
        data += n;
        datalen -= n;
    }
    if (datalen && ring_put(&q->in, data, datalen) != datalen)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) {
        q->closed = true;
        q->close_err = SQ_ERR_CLOSED;
    }
    return 0;
}

static int acked_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen,
                    void *user_data, void *stream_user_data)
{
    struct quic_transport *q = user_data;
    /* ACKs of a stream arrive in order of offset; the acked bytes are the oldest ones. */
    ring_drop(&q->out, datalen);
    q->out_submitted -= datalen < q->out_submitted ? datalen : q->out_submitted;
    return 0;
}

static int handshake_confirmed_cb(ngtcp2_conn *conn, void *user_data)
{
    struct quic_transport *q = user_data;
    q->handshake_confirmed = true;
    return 0;
}

static int path_validation_cb(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                              const ngtcp2_path *old_path, ngtcp2_path_validation_result res,
                              void *user_data)
{
    struct quic_transport *q = user_data;
    char local[64];
    format_addr(path->local.addr, local, sizeof(local));
    if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS) {
        sq_log(SQ_LOG_INFO, "QUIC connection %s: the path from %s is validated",
               q->base.connection_id, local);
        return 0;
    }
    sq_log(SQ_LOG_WARNING, "QUIC connection %s: the path from %s failed validation",
           q->base.connection_id, local);
    /* After a failed immediate migration ngtcp2 returns to the previous path, whose socket we
     * closed: look at the route again at once (check_path compares with ngtcp2's path). The
     * server may still have answered everything else on the new path (seen when the old one
     * only lost our packets): its PATH_RESPONSE can wait behind data it may not yet send to
     * an address it has not validated (RFC 9000 8.1 limits it to three times what it
     * received there). */
    if (!q->path_check_due) {
        q->path_check_due = now_ts();
        q->path_check_why = "the new path failed validation";
    }
    return 0;
}

static int stream_close_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id,
                           uint64_t app_error_code, void *user_data, void *stream_user_data)
{
    struct quic_transport *q = user_data;
    if (stream_id == q->stream_id) {
        q->closed = true;
        q->close_err = SQ_ERR_CLOSED;
    }
    return 0;
}

/* ---- certificate verification ---- */

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The SHA-256 of crt's SubjectPublicKeyInfo, DER (RFC 7469 2.4 pins the same bytes), into
 * out and its hex into q->base.spki_sha256. */
static int hash_spki(struct quic_transport *q, gnutls_x509_crt_t crt, uint8_t out[32])
{
    gnutls_pubkey_t key;
    gnutls_datum_t der = {0};
    int rv = gnutls_pubkey_init(&key);
    if (rv == 0) {
        rv = gnutls_pubkey_import_x509(key, crt, 0);
        if (rv == 0)
            rv = gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &der);
        gnutls_pubkey_deinit(key);
    }
    if (rv == 0)
        rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out);
    gnutls_free(der.data);
    if (rv == 0)
        hex(out, 32, q->base.spki_sha256);
    return rv;
}

/* Fills the transport's certificate fields from the server's certificate: its SHA-256 into
 * sha256 (and hex), its public key's into spki (and hex), subject and issuer. */
static int describe_peer(struct quic_transport *q, uint8_t sha256[32], uint8_t spki[32])
{
    unsigned count = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(q->tls, &count);
    if (!chain || count == 0)
        return -1;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[0].data, chain[0].size, sha256) != 0)
        return -1;
    hex(sha256, 32, q->base.cert_sha256);
    gnutls_x509_crt_t crt;
    int rc = -1; /* a certificate that does not parse has no public key to pin */
    if (gnutls_x509_crt_init(&crt) == 0) {
        if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
            size_t n = sizeof(q->base.cert_subject);
            if (gnutls_x509_crt_get_dn(crt, q->base.cert_subject, &n) != 0)
                q->base.cert_subject[0] = '\0';
            n = sizeof(q->base.cert_issuer);
            if (gnutls_x509_crt_get_issuer_dn(crt, q->base.cert_issuer, &n) != 0)
                q->base.cert_issuer[0] = '\0';
            rc = hash_spki(q, crt, spki) == 0 ? 0 : -1;
        }
        gnutls_x509_crt_deinit(crt);
    }
    return rc;
}

/* One reason per failure class, most specific first (GnuTLS sets GNUTLS_CERT_INVALID along
 * with the specific bits). */
static void explain_status(struct quic_transport *q, unsigned status)
{
    char *out = q->verify_error;
    size_t len = sizeof(q->verify_error);
    if (status & GNUTLS_CERT_EXPIRED)
        snprintf(out, len, "the server certificate has expired");
    else if (status & GNUTLS_CERT_NOT_ACTIVATED)
        snprintf(out, len, "the server certificate is not yet valid");
    else if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
        snprintf(out, len, "the server certificate is not from a trusted issuer (%s); add its "
                           "CA with cafile= or pin it with pin=sha256:%s",
                 q->base.cert_issuer, q->base.cert_sha256);
    else if (status & GNUTLS_CERT_UNEXPECTED_OWNER)
        snprintf(out, len, "the server certificate is not valid for the name '%s' (subject %s)",
                 q->servername, q->base.cert_subject);
    else if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
        snprintf(out, len, "the server certificate is not allowed for TLS servers (no serverAuth "
                           "extended key usage)");
    else if (status & GNUTLS_CERT_REVOKED)
        snprintf(out, len, "the server certificate has been revoked");
    else if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        snprintf(out, len, "the server certificate uses an insecure algorithm");
    else
        snprintf(out, len, "the server certificate did not verify (status 0x%x)", status);
}

/* GnuTLS verify hook: full chain, name and purpose checks against the trust store, or the
 * pinned fingerprint. Returning non-zero aborts the handshake (alert bad_certificate). */
static int verify_cb(gnutls_session_t session)
{
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
    struct quic_transport *q = ref->user_data;
    uint8_t sha256[32], spki[32];
    if (describe_peer(q, sha256, spki) != 0) {
        snprintf(q->verify_error, sizeof(q->verify_error),
                 "the server sent no certificate that could be read");
        return -1;
    }
    if (q->has_pin) {
        /* An explicit pin is the identity: it replaces the CA and name checks (the way to
         * reach a self-signed server). A certificate's pin breaks at its renewal; a public
         * key's holds while the renewed certificate keeps the key. */
        if (memcmp(q->pin_spki ? spki : sha256, q->pin, 32) == 0)
            return 0;
        if (q->pin_spki)
            snprintf(q->verify_error, sizeof(q->verify_error),
                     "the server's public key (spki-sha256:%s) does not match the pin",
                     q->base.spki_sha256);
        else
            snprintf(q->verify_error, sizeof(q->verify_error),
                     "the server certificate (sha256:%s) does not match the pin",
                     q->base.cert_sha256);
        return -1;
    }
    gnutls_typed_vdata_st data[2] = {
        {.type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)q->servername},
        {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER},
    };
    unsigned status = 0;
    if (gnutls_certificate_verify_peers(session, data, 2, &status) != 0) {
        snprintf(q->verify_error, sizeof(q->verify_error),
                 "the server certificate could not be checked");
        return -1;
    }
    if (status) {
        q->verify_status = status;
        explain_status(q, status);
        return -1;
    }
    return 0;
}

/* ---- sockets ---- */

static void enable_gso_gro(struct quic_transport *q)
{
    int one = 1;
    /* UDP_GRO coalesces received datagrams; UDP_SEGMENT is per send. Both need Linux >= 4.18
     * (GSO) / 5.0 (GRO); if unavailable we fall back to one datagram per system call. */
    q->gro_ok = setsockopt(q->base.fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
    q->gso_ok = true;
    /* Don't fragment, and don't let the kernel's path MTU cache refuse sizes either: ngtcp2's
     * path MTU discovery probes with full-sized packets and must see them lost, not
     * fragmented, when they do not fit. */
    if (q->remote.ss_family == AF_INET6) {
        int probe6 = IPV6_PMTUDISC_PROBE;
        (void)setsockopt(q->base.fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6));
    } else {
        int probe4 = IP_PMTUDISC_PROBE;
        (void)setsockopt(q->base.fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe4, sizeof(probe4));
    }
    /* The socket must hold what the server may send while we are busy elsewhere (writing a
     * file, verifying signatures): up to RECV_WINDOW_MAX of stream data. Datagrams that do not
     * fit are dropped by the kernel, and QUIC's loss recovery then stalls the transfer: with
     * net.core.rmem_max's 4 MiB a loopback get lost 40-300 of 8,200 datagrams (RcvbufErrors in
     * /proc/net/snmp). The kernel doubles the value for its bookkeeping; a 64 KiB datagram
     * costs a little more than its size. So ask for the window itself: SO_RCVBUFFORCE where
     * we may (root, CAP_NET_ADMIN: the mount), else SO_RCVBUF, capped at rmem_max. */
    int size = (int)RECV_WINDOW_MAX;
    if (setsockopt(q->base.fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
        (void)setsockopt(q->base.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    int got = 0;
    socklen_t got_len = sizeof(got);
    q->socket_holds_window =
        getsockopt(q->base.fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0 &&
        (size_t)got / 2 >= RECV_WINDOW_MAX; /* getsockopt reports the doubled value */
    size = 8 * 1024 * 1024;
    (void)setsockopt(q->base.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* Errors a send (or an ICMP report on a receive) gives when the network under the socket
 * changed: its address was deleted (ENETUNREACH, shared/PROTOCOL.md "Roaming"), its link or
 * route is gone. Once the handshake is confirmed the connection lives on and the path is
 * checked (check_path); an ICMP host or network unreachable, which anyone on the path could
 * forge, then does not end it either. Before that, they fail the connect at once. */
static bool path_gone_errno(const struct quic_transport *q, int e)
{
    return q->handshake_confirmed &&
           (e == ENETUNREACH || e == EHOSTUNREACH || e == EADDRNOTAVAIL || e == ENETDOWN);
}

/* Sends a batch of equal-sized packets (the last may be shorter). Returns 0, 1 when the
 * socket is full (batch kept), or an error. */
static int send_batch(struct quic_transport *q, const uint8_t *data, size_t len, size_t segment)
{
    struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (q->gso_ok && len > segment) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = IPPROTO_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)segment;
        memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    }
    for (;;) {
        ssize_t n = sendmsg(q->base.fd, &msg, MSG_DONTWAIT);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            if (data != q->pending) {
                uint8_t *copy = malloc(len);
                if (!copy)
                    return SQ_ERR_NOMEM;
                memcpy(copy, data, len);
                free(q->pending);
                q->pending = copy;
            }
            q->pending_len = len;
            q->pending_segment = segment;
            return 1;
        }
        if ((errno == EIO || errno == EINVAL) && msg.msg_controllen) {
            /* No GSO here (or the NIC refused it): send the packets one by one. */
            q->gso_ok = false;
            for (size_t off = 0; off < len; off += segment) {
                size_t n1 = len - off < segment ? len - off : segment;
                int rc = send_batch(q, data + off, n1, n1);
                if (rc)
                    return rc;
            }
            return 0;
        }
        if (errno == EMSGSIZE) {
            /* Larger than the interface allows (a PMTUD probe; the socket never fragments):
             * lost, as far as QUIC can tell, which is what PMTUD needs to learn. */
            return 0;
        }
        if (errno == ECONNREFUSED) {
            /* ICMP port unreachable on our connected socket. */
            return SQ_ERR_CLOSED;
        }
        if (path_gone_errno(q, errno)) {
            /* Lost, as far as QUIC can tell; the path is checked before the next send. */
            q->path_suspect = true;
            return 0;
        }
        return SQ_ERR_IO;
    }
}

static int flush_pending(struct quic_transport *q)
{
    if (!q->pending_len)
        return 0;
    int rc = send_batch(q, q->pending, q->pending_len, q->pending_segment);
    if (rc == 0) {
        free(q->pending);
        q->pending = NULL;
        q->pending_len = 0;
    }
    return rc;
}

static int map_ngtcp2_error(struct quic_transport *q, int rv)
{
    (void)q;
    if (rv == NGTCP2_ERR_NOMEM)
        return SQ_ERR_NOMEM;
    if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING || rv == NGTCP2_ERR_IDLE_CLOSE)
        return SQ_ERR_CLOSED;
    if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
        return SQ_ERR_TIMEOUT;
    return SQ_ERR_PROTO;
}

/* Writes every packet ngtcp2 has for us now, stream data included, in GSO batches of
 * same-sized packets. Packets are as large as the path allows: ngtcp2 shapes them to the size
 * path MTU discovery has validated, and a PMTUD probe (larger than the batch's packets) goes
 * out in its own datagram. */
static int write_packets(struct quic_transport *q)
{
    if (q->closed)
        return q->close_err;
    int rc = flush_pending(q);
    if (rc)
        return rc > 0 ? 0 : rc;
    ngtcp2_tstamp ts = now_ts();
    size_t max_udp = ngtcp2_conn_get_max_tx_udp_payload_size(q->conn); /* probes included */
    size_t path_max = ngtcp2_conn_get_path_max_tx_udp_payload_size(q->conn);
    if (max_udp > GSO_BUFFER)
        max_udp = GSO_BUFFER;
    if (path_max > max_udp)
        path_max = max_udp;
    size_t segments_max = q->gso_ok ? GSO_BUFFER / path_max : 1;
    if (segments_max > MAX_GSO_SEGMENTS)
        segments_max = MAX_GSO_SEGMENTS;
    if (segments_max < 1)
        segments_max = 1;
    /* Pacing: ngtcp2 spaces packets by the time it is told they left
     * (ngtcp2_conn_update_pkt_tx_time), so a pass sends PACING_QUANTA send quanta and then
     * waits for ngtcp2's timer. A quantum is about 1 ms at the pacing rate and at most 64 KiB:
     * with loopback's 64 KiB packets one quantum per pass meant a timer wake-up per packet
     * (about 3,200 per 512 MiB put at 100 ms RTT; now about 1,000). Four quanta keep a burst
     * to about 4 ms of the pacing rate, so pacing still shapes the flow on a slow path. */
    size_t budget = PACING_QUANTA * ngtcp2_conn_get_send_quantum(q->conn);
    size_t pass_bytes = 0;
    for (;;) {
        size_t off = 0, segment = 0, count = 0;
        bool batch_over = false, drained = false;
        while (count < segments_max && !batch_over && pass_bytes + off < budget) {
            /* Room for a probe when the buffer has it; at least one packet of the path's size. */
            size_t room = GSO_BUFFER - off < max_udp ? GSO_BUFFER - off : max_udp;
            if (room < path_max)
                break;
            ngtcp2_vec v[2];
            int nv = 0;
            int64_t sid = -1;
            if (q->stream_open) {
                nv = ring_vec(&q->out, q->out_submitted, v);
                if (nv)
                    sid = q->stream_id;
            }
            ngtcp2_ssize datalen = -1;
            ngtcp2_ssize n = ngtcp2_conn_writev_stream(q->conn, NULL, NULL, q->gso_buf + off,
                                                       room, &datalen, 0, sid, v, (size_t)nv, ts);
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR) {
                q->stream_blocked++;
                /* Flow control blocks the stream: write control frames only. */
                n = ngtcp2_conn_writev_stream(q->conn, NULL, NULL, q->gso_buf + off, room, NULL,
                                              0, -1, NULL, 0, ts);
            }
            if (n < 0) {
                q->closed = true;
                q->close_err = map_ngtcp2_error(q, (int)n);
                return q->close_err;
            }
            if (n == 0) {
                if (nv)
                    q->cwnd_limited++;
                drained = true;
                break;
            }
            if (datalen > 0)
                q->out_submitted += (size_t)datalen;
            if ((size_t)n > path_max) {
                /* A PMTUD probe: GSO needs equal segments no larger than the path allows, so
                 * the batch goes first and the probe after it, alone. */
                rc = count ? send_batch(q, q->gso_buf, off, segment) : 0;
                if (rc == 0)
                    rc = send_batch(q, q->gso_buf + off, (size_t)n, (size_t)n);
                /* On a full socket the probe is dropped: ngtcp2 counts it lost and retries. */
                pass_bytes += off + (size_t)n;
                if (rc > 0) {
                    count = 0; /* the socket is full: nothing of this pass is left to send */
                    break;
                }
                if (rc) {
                    q->closed = true;
                    q->close_err = rc;
                    return rc;
                }
                off = 0;
                count = 0;
                continue;
            }
            if (count == 0)
                segment = (size_t)n;
            else if ((size_t)n < segment)
                batch_over = true; /* a short packet ends a GSO batch */
            off += (size_t)n;
            count++;
        }
        if (count == 0)
            break;
        rc = send_batch(q, q->gso_buf, off, segment);
        pass_bytes += off;
        if (rc > 0)
            break; /* the socket is full; POLLOUT brings us back */
        if (rc) {
            q->closed = true;
            q->close_err = rc;
            return rc;
        }
        if (drained || pass_bytes >= budget)
            break; /* ngtcp2 had no more, or the pass's pacing budget is spent */
    }
    if (pass_bytes)
        ngtcp2_conn_update_pkt_tx_time(q->conn, ts);
    return 0;
}

/* Feeds every datagram waiting on the socket to ngtcp2 (bounded per call). */
static int read_packets(struct quic_transport *q)
{
    static uint8_t buf[65536];
    for (int i = 0; i < 256; i++) {
        /* Once the caller's buffer is full, leave further datagrams in the socket for the
         * next call when the socket can hold the whole window. Reading on would park their
         * stream bytes in the ring: one more copy, and a window-sized ring whose wandering head
         * keeps the data out of cache (a loopback 512 MiB get faulted in ~40 MiB there and
         * spent ~15% of the client's CPU on those faults). With a small socket buffer
         * (unprivileged, rmem_max) the ring is what keeps the kernel from dropping. */
        if (q->direct && q->direct_len == q->direct_cap && q->socket_holds_window)
            break;
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_name = &from,
                             .msg_namelen = sizeof(from),
                             .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        ssize_t n = recvmsg(q->base.fd, &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            if (errno == ECONNREFUSED)
                return SQ_ERR_CLOSED; /* ICMP port unreachable */
            if (path_gone_errno(q, errno)) {
                q->path_suspect = true; /* ICMP host or network unreachable */
                continue;
            }
            return SQ_ERR_IO;
        }
        size_t segment = (size_t)n;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
                int gso;
                memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
                if (gso > 0)
                    segment = (size_t)gso;
            }
        }
        ngtcp2_path path = {
            .local = {.addr = (struct sockaddr *)&q->local, .addrlen = q->local_len},
            .remote = {.addr = (struct sockaddr *)&from, .addrlen = msg.msg_namelen},
        };
        ngtcp2_pkt_info pi = {0};
        ngtcp2_tstamp ts = now_ts();
        q->last_recv_ts = ts;
        for (size_t off = 0; off < (size_t)n; off += segment) {
            size_t len = (size_t)n - off < segment ? (size_t)n - off : segment;
            int rv = ngtcp2_conn_read_pkt(q->conn, &path, &pi, buf + off, len, ts);
            if (rv != 0) {
                q->closed = true;
                q->close_err = map_ngtcp2_error(q, rv);
                return q->close_err;
            }
        }
    }
    return 0;
}

/* ---- roaming ---- */

/* Asks the kernel for the route to the server as it is now (connecting a new UDP socket picks
 * the source address) and, when it leaves from another address than our socket's, migrates
 * the connection to that new socket (RFC 9000 9.2): at once, with the path validated in the
 * background, so requests in flight are retransmitted on the new path without waiting a
 * round trip. A client that only re-sent from its old address would never be heard again:
 * that address is gone, or the upstream network drops it on the new link (reverse-path
 * filtering). Passive NAT rebinding needs none of this: the server follows on its own. */
static void check_path(struct quic_transport *q, const char *reason, ngtcp2_tstamp ts)
{
    q->last_path_check = ts;
    q->path_suspect = false;
    int fd = socket(q->remote.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    /* Compared with the path ngtcp2 uses, which is our socket's unless a migration failed
     * its validation and ngtcp2 went back to the previous path (path_validation_cb). */
    const ngtcp2_path *current = ngtcp2_conn_get_path(q->conn);
    if (connect(fd, (struct sockaddr *)&q->remote, q->remote_len) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &local_len) != 0 ||
        same_address((struct sockaddr *)&local, current->local.addr)) {
        close(fd); /* no route at all yet, or still the same one: keep the socket */
        return;
    }
    ngtcp2_path path = {
        .local = {.addr = (struct sockaddr *)&local, .addrlen = local_len},
        .remote = {.addr = (struct sockaddr *)&q->remote, .addrlen = q->remote_len},
    };
    int rv = ngtcp2_conn_initiate_immediate_migration(q->conn, &path, ts);
    char from[64], to[64]; /* "[IPv6]:port" is at most 54 bytes */
    format_addr((struct sockaddr *)&q->local, from, sizeof(from));
    format_addr((struct sockaddr *)&local, to, sizeof(to));
    if (rv != 0) {
        /* E.g. the server gave us no spare connection ID (RFC 9000 9.5), or it forbids
         * migration: the connection stays where it is and may time out. */
        sq_log(SQ_LOG_WARNING, "QUIC connection %s cannot move from %s to %s: %s",
               q->base.connection_id, from, to, ngtcp2_strerror(rv));
        close(fd);
        return;
    }
    close(q->base.fd);
    q->base.fd = fd;
    memcpy(&q->local, &local, local_len);
    q->local_len = local_len;
    /* A batch the old socket refused is dropped: QUIC counts it lost and resends it. */
    free(q->pending);
    q->pending = NULL;
    q->pending_len = 0;
    enable_gso_gro(q);
    q->base.migrations++;
    snprintf(q->base.local_address, sizeof(q->base.local_address), "%s", to);
    sq_log(SQ_LOG_INFO, "QUIC connection %s migrated from %s to %s (%s)", q->base.connection_id,
           from, to, reason);
}

/* Runs check_path when the network changed or the path looks broken; see
 * PATH_CHECK_INTERVAL_MS. Migration needs a confirmed handshake (RFC 9000 9): until then a
 * due check waits. */
static void watch_path(struct quic_transport *q, ngtcp2_tstamp now)
{
    if (!q->handshake_confirmed || q->closed)
        return;
    if (q->path_check_due && q->path_check_due <= now) {
        q->path_check_due = 0;
        check_path(q, q->path_check_why, now);
        return;
    }
    if (now - q->last_path_check < PATH_CHECK_INTERVAL_MS * NGTCP2_MILLISECONDS)
        return;
    if (q->path_suspect) {
        check_path(q, "the network refused a send", now);
        return;
    }
    /* Runs on every I/O pass: the cheap test first (during a transfer datagrams keep
     * arriving), the connection's counters only when the server has been silent. */
    if (now - q->last_recv_ts <= ngtcp2_conn_get_pto(q->conn))
        return;
    ngtcp2_conn_info ci;
    ngtcp2_conn_get_conn_info(q->conn, &ci);
    if (ci.bytes_in_flight > 0)
        check_path(q, "no answer for a probe timeout", now);
}

static void quic_on_aux_ready(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    /* Any event only means "look at the route again": check_path asks the kernel itself. */
    bool changed = sq_network_events_drain(q->base.aux_fd);
    if (changed && !q->path_check_due) {
        q->path_check_due = now_ts() + PATH_EVENT_DELAY_MS * NGTCP2_MILLISECONDS;
        q->path_check_why = "the network changed";
    }
}

/* ---- transport_ops ---- */

static int quic_send(struct transport *t, const uint8_t *data, size_t len, size_t *sent)
{
    struct quic_transport *q = (struct quic_transport *)t;
    *sent = 0;
    if (q->closed)
        return q->close_err;
    *sent = ring_put(&q->out, data, len);
    return write_packets(q);
}

static int quic_recv(struct transport *t, uint8_t *buf, size_t cap, size_t *got)
{
    struct quic_transport *q = (struct quic_transport *)t;
    *got = 0;
    size_t n;
    if (q->in.len == 0) {
        q->direct = buf;
        q->direct_cap = cap;
        q->direct_len = 0;
        int rc = read_packets(q);
        q->direct = NULL;
        n = q->direct_len;
        /* ACKs, and anything the new ACKs allow us to send, go out now. */
        int wrc = rc ? 0 : write_packets(q);
        if (n == 0 && q->in.len == 0)
            return rc ? rc : (wrc ? wrc : (q->closed ? q->close_err : 0));
        if (n == 0)
            n = ring_get(&q->in, buf, cap);
    } else {
        n = ring_get(&q->in, buf, cap);
    }
    *got = n;
    /* Grant the server as much credit as we just freed: the window follows consumption. */
    ngtcp2_conn_extend_max_stream_offset(q->conn, q->stream_id, n);
    ngtcp2_conn_extend_max_offset(q->conn, n);
    return 0;
}

static bool quic_has_buffered_input(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    return q->in.len > 0;
}

static short quic_poll_events(struct transport *t, bool want_send)
{
    struct quic_transport *q = (struct quic_transport *)t;
    (void)want_send; /* queued SMB bytes wait for ACKs (POLLIN), not for the socket */
    return (short)(POLLIN | (q->pending_len ? POLLOUT : 0));
}

static int64_t quic_timeout_us(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(q->conn);
    if (q->path_check_due && q->handshake_confirmed && q->path_check_due < expiry)
        expiry = q->path_check_due;
    if (expiry == UINT64_MAX)
        return -1;
    ngtcp2_tstamp now = now_ts();
    if (expiry <= now)
        return 0;
    uint64_t us = (expiry - now + NGTCP2_MICROSECONDS - 1) / NGTCP2_MICROSECONDS;
    return us > 60000000 ? 60000000 : (int64_t)us;
}

static int quic_on_timeout(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    if (q->closed)
        return q->close_err;
    ngtcp2_tstamp now = now_ts();
    if (ngtcp2_conn_get_expiry(q->conn) <= now) {
        int rv = ngtcp2_conn_handle_expiry(q->conn, now);
        if (rv != 0) {
            /* RFC 9000 10.1: an idle timeout closes silently. */
            q->closed = true;
            q->close_err = rv == NGTCP2_ERR_IDLE_CLOSE ? SQ_ERR_TIMEOUT : map_ngtcp2_error(q, rv);
            return q->close_err;
        }
    }
    watch_path(q, now);
    return write_packets(q);
}

static uint64_t quic_rtt_us(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    ngtcp2_conn_info ci;
    ngtcp2_conn_get_conn_info(q->conn, &ci);
    return ci.smoothed_rtt / NGTCP2_MICROSECONDS;
}

/* Sends one CONNECTION_CLOSE for a local failure (e.g. our certificate check), so the
 * server learns why instead of timing out. */
static void send_close(struct quic_transport *q)
{
    if (!q->conn || ngtcp2_conn_in_closing_period(q->conn) ||
        ngtcp2_conn_in_draining_period(q->conn))
        return;
    ngtcp2_ccerr ccerr;
    ngtcp2_ccerr_default(&ccerr);
    uint8_t alert = ngtcp2_conn_get_tls_alert(q->conn);
    if (alert)
        ngtcp2_ccerr_set_tls_alert(&ccerr, alert, NULL, 0);
    else
        ngtcp2_ccerr_set_application_error(&ccerr, 0, NULL, 0);
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(q->conn, NULL, NULL, q->gso_buf,
                                                        sizeof(q->gso_buf), &ccerr, now_ts());
    if (n > 0)
        (void)send(q->base.fd, q->gso_buf, (size_t)n, MSG_DONTWAIT);
}

static void quic_free(struct quic_transport *q)
{
    if (q->conn)
        ngtcp2_conn_del(q->conn);
    if (q->tls)
        gnutls_deinit(q->tls);
    if (q->cred)
        gnutls_certificate_free_credentials(q->cred);
    if (q->base.fd >= 0)
        close(q->base.fd);
    if (q->base.aux_fd >= 0)
        close(q->base.aux_fd);
    ring_free(&q->out);
    ring_free(&q->in);
    free(q->pending);
    free(q);
}

static void quic_close(struct transport *t)
{
    struct quic_transport *q = (struct quic_transport *)t;
    if (q->conn && sq_log_enabled(SQ_LOG_DEBUG)) {
        ngtcp2_conn_info ci;
        ngtcp2_conn_get_conn_info(q->conn, &ci);
        sq_log(SQ_LOG_DEBUG,
               "QUIC %s: srtt %.2f ms, min rtt %.2f ms, cwnd %llu, flow-control stalls %llu, "
               "congestion stalls %llu, gso %s, gro %s, migrations %llu",
               q->base.connection_id, (double)ci.smoothed_rtt / 1e6, (double)ci.min_rtt / 1e6,
               (unsigned long long)ci.cwnd, (unsigned long long)q->stream_blocked,
               (unsigned long long)q->cwnd_limited, q->gso_ok ? "on" : "off",
               q->gro_ok ? "on" : "off", (unsigned long long)q->base.migrations);
    }
    /* RFC 9000 10.2: tell the server we are done (application close, NO_ERROR) rather than
     * leaving it to time out. One packet, best effort. */
    if (q->handshake_done && !q->closed)
        send_close(q);
    quic_free(q);
}

static const struct transport_ops quic_ops = {
    .name = "quic",
    .send = quic_send,
    .recv = quic_recv,
    .poll_events = quic_poll_events,
    .has_buffered_input = quic_has_buffered_input,
    .timeout_us = quic_timeout_us,
    .on_timeout = quic_on_timeout,
    .rtt_us = quic_rtt_us,
    .on_aux_ready = quic_on_aux_ready,
    .close = quic_close,
};

/* ---- connection setup ---- */

static bool is_numeric_host(const char *host)
{
    uint8_t buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* TLS 1.3 only (RFC 9001 4.2); the AEADs QUIC defines. */
static const char tls_priority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "+AES-128-CCM:%DISABLE_TLS13_COMPAT_MODE";

static int tls_setup(struct quic_transport *q, const struct transport_quic_params *p, char *why,
                     size_t why_len, enum transport_quic_stage *stage)
{
    int rv = gnutls_certificate_allocate_credentials(&q->cred);
    if (rv == 0 && !q->has_pin) {
        rv = gnutls_certificate_set_x509_system_trust(q->cred);
        rv = rv < 0 ? rv : 0;
    }
    if (rv == 0 && p->cafile && !q->has_pin) {
        rv = gnutls_certificate_set_x509_trust_file(q->cred, p->cafile, GNUTLS_X509_FMT_PEM);
        if (rv <= 0) {
            *stage = QUIC_STAGE_CERTIFICATE;
            snprintf(why, why_len, "cannot load CA certificates from %s: %s", p->cafile,
                     rv == 0 ? "no certificate found" : gnutls_strerror(rv));
            return SQ_ERR_INVAL;
        }
        rv = 0;
    }
    if (rv == 0 && p->cert_file) {
        rv = gnutls_certificate_set_x509_key_file(q->cred, p->cert_file, p->key_file,
                                                  GNUTLS_X509_FMT_PEM);
        if (rv < 0) {
            *stage = QUIC_STAGE_CERTIFICATE;
            snprintf(why, why_len, "cannot load client certificate %s / key %s: %s",
                     p->cert_file, p->key_file, gnutls_strerror(rv));
            return SQ_ERR_INVAL;
        }
        rv = 0;
    }
    if (rv == 0)
        gnutls_certificate_set_verify_function(q->cred, verify_cb);
    /* No GNUTLS_ENABLE_EARLY_DATA: SMB requests are not idempotent, never 0-RTT. */
    if (rv == 0)
        rv = gnutls_init(&q->tls, GNUTLS_CLIENT);
    if (rv == 0)
        rv = ngtcp2_crypto_gnutls_configure_client_session(q->tls) == 0 ? 0 : GNUTLS_E_INTERNAL_ERROR;
    if (rv == 0)
        rv = gnutls_priority_set_direct(q->tls, tls_priority, NULL);
    if (rv == 0)
        rv = gnutls_credentials_set(q->tls, GNUTLS_CRD_CERTIFICATE, q->cred);
    if (rv == 0) {
        gnutls_datum_t alpn = {.data = (unsigned char *)SMB_ALPN, .size = 3};
        rv = gnutls_alpn_set_protocols(q->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    }
    if (rv == 0)
        rv = gnutls_server_name_set(q->tls, GNUTLS_NAME_DNS, q->servername,
                                    strlen(q->servername));
    if (rv != 0) {
        *stage = QUIC_STAGE_HANDSHAKE;
        snprintf(why, why_len, "TLS setup failed: %s", gnutls_strerror(rv));
        return SQ_ERR_CRYPTO;
    }
    q->conn_ref.get_conn = get_conn;
    q->conn_ref.user_data = q;
    gnutls_session_set_ptr(q->tls, &q->conn_ref);
    return 0;
}

static int quic_setup(struct quic_transport *q, int timeout_ms)
{
    ngtcp2_callbacks cb = {
        .client_initial = ngtcp2_crypto_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .recv_stream_data = recv_stream_data_cb,
        .acked_stream_data_offset = acked_cb,
        .stream_close = stream_close_cb,
        .handshake_confirmed = handshake_confirmed_cb,
        .recv_retry = ngtcp2_crypto_recv_retry_cb,
        .rand = rand_cb,
        .get_new_connection_id = new_cid_cb,
        .update_key = ngtcp2_crypto_update_key_cb,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
        .path_validation = path_validation_cb,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    };
    ngtcp2_cid dcid, scid;
    dcid.datalen = 16;
    scid.datalen = 16;
    if (gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen) != 0 ||
        gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen) != 0)
        return SQ_ERR_CRYPTO;
    hex(dcid.data, dcid.datalen, q->base.connection_id);

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ts();
    settings.handshake_timeout = (ngtcp2_duration)timeout_ms * NGTCP2_MILLISECONDS;
    /* BBR keeps the path full through random loss, where loss-based CUBIC collapses: at
     * 50 ms RTT and 1% loss a 32 MiB transfer took 84 s with CUBIC and 4.5 s with BBR. */
    settings.cc_algo = NGTCP2_CC_ALGO_BBR;
    /* Packets as large as the path carries: every packet costs ngtcp2, GnuTLS and the
     * kernel about the same whatever its size, so on loopback (MTU 64 KiB) or jumbo frames
     * fewer, larger packets cut the CPU per byte by about a third. */
    settings.max_tx_udp_payload_size = PMTUD_MAX;
    settings.pmtud_probes = pmtud_probes;
    settings.pmtud_probeslen = sizeof(pmtud_probes) / sizeof(pmtud_probes[0]);
    settings.max_window = RECV_WINDOW_MAX; /* auto-tuning's ceiling, see RECV_WINDOW_INITIAL */
    settings.max_stream_window = RECV_WINDOW_MAX;

    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = RECV_WINDOW_INITIAL;
    params.initial_max_data = RECV_WINDOW_INITIAL;
    params.initial_max_streams_bidi = 0; /* the server opens no streams towards us */
    params.initial_max_streams_uni = 0;
    params.max_idle_timeout = IDLE_TIMEOUT_S * NGTCP2_SECONDS;
    /* Each migration takes one of the server's spare connection IDs (RFC 9000 9.5), and a
     * new one comes a round trip after we retire the old: with the default of 2 a second
     * move within that round trip (wifi -> lte -> wifi) would find none. */
    params.active_connection_id_limit = 8;

    ngtcp2_path path = {
        .local = {.addr = (struct sockaddr *)&q->local, .addrlen = q->local_len},
        .remote = {.addr = (struct sockaddr *)&q->remote, .addrlen = q->remote_len},
    };
    int rv = ngtcp2_conn_client_new(&q->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                    &settings, &params, NULL, q);
    if (rv != 0)
        return SQ_ERR_NOMEM;
    ngtcp2_conn_set_tls_native_handle(q->conn, q->tls);
    ngtcp2_conn_set_keep_alive_timeout(q->conn, KEEP_ALIVE_S * NGTCP2_SECONDS);
    return 0;
}

static int64_t monotonic_ms(void)
{
    return (int64_t)(now_ts() / NGTCP2_MILLISECONDS);
}

/* Writes how the server's CONNECTION_CLOSE ended the connection (RFC 9000 19.19): its error
 * code and reason phrase. The phrase is the peer's text: only printable ASCII of it is kept,
 * at most 96 characters, so a hostile server cannot put escape sequences in our messages. */
static void describe_peer_close(const ngtcp2_ccerr *cc, char *why, size_t why_len)
{
    char phrase[97];
    size_t n = 0;
    for (size_t i = 0; i < cc->reasonlen && n < sizeof(phrase) - 1; i++)
        phrase[n++] = cc->reason[i] >= 0x20 && cc->reason[i] < 0x7f ? (char)cc->reason[i] : '?';
    phrase[n] = '\0';
    snprintf(why, why_len, "the server closed the connection%s%s%s (QUIC %serror 0x%llx)",
             n ? ": \"" : "", phrase, n ? "\"" : "",
             cc->type == NGTCP2_CCERR_TYPE_APPLICATION ? "application " : "",
             (unsigned long long)cc->error_code);
}

/* Explains why the handshake ended without success. */
static void handshake_failure(struct quic_transport *q, int err, enum transport_quic_stage *stage,
                              char *why, size_t why_len)
{
    const ngtcp2_ccerr *cc = ngtcp2_conn_get_ccerr(q->conn);
    uint8_t alert = ngtcp2_conn_get_tls_alert(q->conn);
    if (q->verify_error[0]) {
        *stage = QUIC_STAGE_CERTIFICATE;
        snprintf(why, why_len, "%s", q->verify_error);
        return;
    }
    if (cc && cc->type == NGTCP2_CCERR_TYPE_TRANSPORT &&
        (cc->error_code & ~(uint64_t)0xff) == NGTCP2_CRYPTO_ERROR) {
        unsigned code = (unsigned)(cc->error_code & 0xff);
        if (code == GNUTLS_A_ACCESS_DENIED || code == GNUTLS_A_CERTIFICATE_REQUIRED ||
            code == GNUTLS_A_BAD_CERTIFICATE || code == GNUTLS_A_UNSUPPORTED_CERTIFICATE ||
            code == GNUTLS_A_CERTIFICATE_UNKNOWN) {
            *stage = QUIC_STAGE_CLIENT_CERTIFICATE;
            snprintf(why, why_len,
                     "access denied by the server's client-certificate policy (TLS alert %u: "
                     "%s)",
                     code, gnutls_alert_get_strname((gnutls_alert_description_t)code));
            return;
        }
        *stage = QUIC_STAGE_HANDSHAKE;
        if (code == GNUTLS_A_NO_APPLICATION_PROTOCOL)
            snprintf(why, why_len, "the server does not speak SMB over QUIC (ALPN \"smb\")");
        else
            snprintf(why, why_len, "the server ended the TLS handshake (alert %u: %s)", code,
                     gnutls_alert_get_strname((gnutls_alert_description_t)code));
        return;
    }
    *stage = QUIC_STAGE_HANDSHAKE;
    if (alert)
        snprintf(why, why_len, "TLS handshake failed (alert %u: %s)", alert,
                 gnutls_alert_get_strname((gnutls_alert_description_t)alert));
    else if (err == SQ_ERR_TIMEOUT)
        snprintf(why, why_len, "no QUIC answer from %s (is UDP %s open?)", q->base.peer,
                 strrchr(q->base.peer, ':') ? strrchr(q->base.peer, ':') + 1 : "");
    else if (cc && cc->type != NGTCP2_CCERR_TYPE_TRANSPORT)
        describe_peer_close(cc, why, why_len);
    else
        snprintf(why, why_len, "QUIC handshake failed: %s", sq_strerror(err));
}

static int run_handshake(struct quic_transport *q, int64_t deadline, bool wait_confirmed,
                         enum transport_quic_stage *stage, char *why, size_t why_len)
{
    /* In TLS 1.3 the client finishes before the server has checked the client certificate;
     * a server that refuses it closes the connection instead of sending HANDSHAKE_DONE (RFC
     * 9001 4.1.2). Waiting for that confirmation costs a round trip before the first SMB
     * request, so by default we stop at completion (1-RTT keys in hand, RFC 9001 4.1.1) and
     * a refusal is recognised when it ends the connection (transport_quic_refused). */
    int rc = write_packets(q);
    while (!rc && !q->handshake_confirmed &&
           (wait_confirmed || !ngtcp2_conn_get_handshake_completed(q->conn))) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            rc = SQ_ERR_TIMEOUT;
            break;
        }
        int64_t wait = quic_timeout_us(&q->base);
        if (wait < 0 || wait > left * 1000)
            wait = left * 1000;
        struct pollfd pfd = {.fd = q->base.fd, .events = quic_poll_events(&q->base, false)};
        struct timespec ts = {.tv_sec = wait / 1000000, .tv_nsec = (wait % 1000000) * 1000};
        int n = ppoll(&pfd, 1, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            rc = SQ_ERR_IO;
            break;
        }
        if (n > 0 && (pfd.revents & (POLLIN | POLLERR)))
            rc = read_packets(q);
        if (!rc)
            rc = quic_on_timeout(&q->base);
    }
    if (rc) {
        handshake_failure(q, rc, stage, why, why_len);
        return rc;
    }
    /* RFC 7301: GnuTLS enforces a mandatory ALPN only on servers; check it ourselves. */
    gnutls_datum_t selected;
    if (gnutls_alpn_get_selected_protocol(q->tls, &selected) != 0 || selected.size != 3 ||
        memcmp(selected.data, SMB_ALPN, 3) != 0) {
        *stage = QUIC_STAGE_HANDSHAKE;
        snprintf(why, why_len, "the server did not select ALPN \"smb\": not an SMB over QUIC "
                               "server");
        return SQ_ERR_PROTO;
    }
    q->handshake_done = true;
    return 0;
}

int transport_quic_connect(const struct transport_quic_params *p, struct transport **out,
                           enum transport_quic_stage *stage, char *why, size_t why_len)
{
    const char *servername = p->servername ? p->servername : p->host;
    if (!p->servername && is_numeric_host(p->host) && !p->pin) {
        *stage = QUIC_STAGE_CERTIFICATE;
        snprintf(why, why_len,
                 "connecting to the address %s: give the name its certificate must carry with "
                 "servername=NAME",
                 p->host);
        return SQ_ERR_INVAL;
    }
    if (strlen(servername) >= 256) {
        *stage = QUIC_STAGE_CERTIFICATE;
        snprintf(why, why_len, "server name too long");
        return SQ_ERR_INVAL;
    }
    if ((p->cert_file == NULL) != (p->key_file == NULL)) {
        *stage = QUIC_STAGE_CERTIFICATE;
        snprintf(why, why_len, "a client certificate needs both cert= and key=");
        return SQ_ERR_INVAL;
    }
    int64_t deadline = monotonic_ms() + p->timeout_ms;

    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", p->port);
    int gai = getaddrinfo(p->host, portstr, &hints, &res);
    if (gai != 0) {
        *stage = QUIC_STAGE_RESOLVE;
        snprintf(why, why_len, "cannot resolve %s: %s", p->host, gai_strerror(gai));
        return SQ_ERR_RESOLVE;
    }
    struct quic_transport *q = calloc(1, sizeof(*q));
    if (!q) {
        freeaddrinfo(res);
        return SQ_ERR_NOMEM;
    }
    q->base.ops = &quic_ops;
    q->base.fd = -1;
    q->base.aux_fd = -1;
    q->stream_id = -1;
    snprintf(q->servername, sizeof(q->servername), "%s", servername);
    if (p->pin) {
        memcpy(q->pin, p->pin, 32);
        q->has_pin = true;
        q->pin_spki = p->pin_spki;
    }
    int rc = 0;
    /* The first address that takes a connected UDP socket; a connected socket makes ICMP
     * "port unreachable" visible as ECONNREFUSED. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            continue;
        }
        q->base.fd = fd;
        memcpy(&q->remote, ai->ai_addr, ai->ai_addrlen);
        q->remote_len = ai->ai_addrlen;
        format_addr(ai->ai_addr, q->base.peer, sizeof(q->base.peer));
        break;
    }
    freeaddrinfo(res);
    if (q->base.fd < 0) {
        *stage = QUIC_STAGE_UDP;
        snprintf(why, why_len, "cannot reach %s port %u/udp: %s", p->host, p->port,
                 strerror(errno));
        quic_free(q);
        return SQ_ERR_IO;
    }
    q->local_len = sizeof(q->local);
    getsockname(q->base.fd, (struct sockaddr *)&q->local, &q->local_len);
    format_addr((struct sockaddr *)&q->local, q->base.local_address, sizeof(q->base.local_address));
    enable_gso_gro(q);

    rc = ring_init(&q->out, SEND_BUFFER);
    if (!rc)
        rc = ring_init(&q->in, RECV_WINDOW_MAX);
    if (!rc)
        rc = tls_setup(q, p, why, why_len, stage);
    else
        snprintf(why, why_len, "out of memory");
    if (!rc) {
        int64_t left = deadline - monotonic_ms();
        rc = quic_setup(q, left > 0 ? (int)left : 1);
        if (rc) {
            *stage = QUIC_STAGE_HANDSHAKE;
            snprintf(why, why_len, "QUIC setup failed: %s", sq_strerror(rc));
        }
    }
    if (!rc)
        rc = run_handshake(q, deadline, p->wait_confirmed, stage, why, why_len);
    if (rc == SQ_ERR_CLOSED && !q->verify_error[0] &&
        ngtcp2_conn_get_ccerr(q->conn)->error_code == 0 && !ngtcp2_conn_get_tls_alert(q->conn)) {
        *stage = QUIC_STAGE_UDP;
        snprintf(why, why_len, "%s port %u/udp is unreachable (nothing listens there)", p->host,
                 p->port);
    }
    if (!rc) {
        int rv = ngtcp2_conn_open_bidi_stream(q->conn, &q->stream_id, NULL);
        if (rv != 0) {
            *stage = QUIC_STAGE_HANDSHAKE;
            snprintf(why, why_len, "the server allows no stream: %s", ngtcp2_strerror(rv));
            rc = SQ_ERR_PROTO;
        } else {
            q->stream_open = true;
        }
    }
    if (rc) {
        send_close(q);
        quic_free(q);
        return rc;
    }
    q->base.aux_fd = sq_network_events_open();
    if (q->base.aux_fd < 0)
        sq_log(SQ_LOG_DEBUG, "no network change events (rtnetlink: %s)", strerror(errno));
    sq_log(SQ_LOG_INFO, "QUIC connection %s to %s established (TLS 1.3, ALPN smb)",
           q->base.connection_id, q->base.peer);
    sq_log(SQ_LOG_INFO, "server certificate: subject %s, issuer %s, sha256 %s%s",
           q->base.cert_subject, q->base.cert_issuer, q->base.cert_sha256,
           q->has_pin ? " (pinned)" : "");
    *out = &q->base;
    return 0;
}

bool transport_quic_peer_closed(struct transport *t, char *why, size_t why_len)
{
    if (!t || t->ops != &quic_ops)
        return false;
    struct quic_transport *q = (struct quic_transport *)t;
    /* The draining period begins only with the peer's CONNECTION_CLOSE (RFC 9000 10.2.2). */
    if (!q->conn || !ngtcp2_conn_in_draining_period(q->conn))
        return false;
    describe_peer_close(ngtcp2_conn_get_ccerr(q->conn), why, why_len);
    return true;
}

bool transport_quic_refused(struct transport *t, enum transport_quic_stage *stage, char *why,
                            size_t why_len)
{
    if (!t || t->ops != &quic_ops)
        return false;
    struct quic_transport *q = (struct quic_transport *)t;
    /* Only an ending before HANDSHAKE_DONE, by the server's CONNECTION_CLOSE, is a refusal
     * of the handshake; anything later is an ordinary lost connection. */
    if (q->handshake_confirmed || !q->conn ||
        (!ngtcp2_conn_in_draining_period(q->conn) && !ngtcp2_conn_in_closing_period(q->conn)))
        return false;
    handshake_failure(q, q->close_err, stage, why, why_len);
    return true;
}
