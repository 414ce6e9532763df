/* quic_probe: a small QUIC client (ngtcp2 + GnuTLS) that tests smbquic-gateway without the
 * smbquic transport: handshakes with any ALPN and client certificate, echo transfers checked
 * byte by byte, an SMB2 NEGOTIATE through to Samba, back-pressure holds, NAT rebinding and
 * active migration, and floods of Initials or garbage datagrams.
 *
 *   quic_probe --connect ADDR:PORT [--servername NAME] [--cafile CA] [--cert C --key K]
 *              [--alpn PROTO|none] [--timeout SEC] [--window BYTES] [--seed N] MODE
 * Modes:
 *   --handshake             handshake until confirmed, print "handshake: ok", close
 *   --limits                also print the server's stream limits (bidi/uni left)
 *   --echo BYTES            send BYTES on stream 0 and expect them back (echo backend)
 *     [--rebind-after N]    after N bytes echoed, continue from a new UDP port (NAT rebinding)
 *     [--migrate-after N]   after N bytes echoed, migrate actively to a new local port
 *   --push BYTES --no-read  send without ever reading; after --hold SEC print how many bytes
 *                           the server accepted (flow control) and exit 0
 *   --smb-negotiate         send an SMB2 NEGOTIATE (3.1.1), print the response's status
 *   --hold SEC              keep the connection open SEC seconds before closing
 *   --idle SEC              announce max_idle_timeout SEC and send no keep-alives (the
 *                           server then idles the connection out after SEC seconds)
 *   --flood N               N client Initials from N source ports, never continued
 *   --flood-truncated N     the same, each truncated at a random length
 *   --garbage N             N random datagrams (random length, long and short headers)
 * Exit status: 0 success; 1 failure (one line on stderr: the reason, e.g.
 * "closed by server: transport error 0x131 (TLS alert 49) reason: ..."); 2 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <netdb.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_LEN 1048573 /* a prime: pattern and packet boundaries never line up */
#define MAX_PKT     1452

struct probe {
    /* options */
    const char *servername, *cafile, *cert, *key, *alpn;
    int timeout_s;
    uint64_t window;
    uint64_t echo_bytes, push_bytes, rebind_after, migrate_after;
    bool handshake_only, limits, no_read, smb_negotiate;
    int hold_s;
    int idle_s;
    /* state */
    struct sockaddr_storage remote;
    socklen_t remote_len;
    struct sockaddr_storage local;
    socklen_t local_len;
    int fd;
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
    ngtcp2_crypto_conn_ref ref;
    bool confirmed, closed, failed, rebound, migrated;
    int64_t stream_id;
    uint64_t to_send, sent, received, acked;
    uint8_t *pattern;
    uint8_t smb_req[160];
    size_t smb_req_len;
    uint8_t smb_resp[512];
    size_t smb_resp_len;
    char why[512];
    gnutls_hash_hd_t rx_hash;
};

static ngtcp2_tstamp now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ngtcp2_tstamp)ts.tv_sec * NGTCP2_SECONDS + (ngtcp2_tstamp)ts.tv_nsec;
}

static void fail(struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct probe *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    p->failed = true;
}

static int resolve(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256], port[16];
    const char *colon = strrchr(arg, ':');
    if (!colon || (size_t)(colon - arg) >= sizeof(host) || strlen(colon + 1) >= sizeof(port))
        return -1;
    size_t hl = (size_t)(colon - arg);
    const char *h = arg;
    if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int new_socket(struct probe *p)
{
    int fd = socket(p->remote.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&p->remote, p->remote_len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- ngtcp2 callbacks ---- */

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    (void)gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

static int new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user)
{
    (void)conn;
    (void)user;
    if (gnutls_rnd(GNUTLS_RND_NONCE, cid->data, cidlen) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    return 0;
}

static int confirmed_cb(ngtcp2_conn *conn, void *user)
{
    struct probe *p = user;
    p->confirmed = true;
    if (p->limits)
        printf("limits: bidi_left=%" PRIu64 " uni_left=%" PRIu64 "\n",
               ngtcp2_conn_get_streams_bidi_left(conn), ngtcp2_conn_get_streams_uni_left(conn));
    if (p->echo_bytes || p->push_bytes || p->smb_negotiate) {
        int rv = ngtcp2_conn_open_bidi_stream(conn, &p->stream_id, NULL);
        if (rv != 0) {
            fail(p, "cannot open a stream: %s", ngtcp2_strerror(rv));
            return 0;
        }
    }
    if (!p->idle_s)
        ngtcp2_conn_set_keep_alive_timeout(conn, 2 * NGTCP2_SECONDS);
    return 0;
}

static int recv_stream_cb(ngtcp2_conn *conn, uint32_t flags, int64_t sid, uint64_t offset,
                          const uint8_t *data, size_t len, void *user, void *stream_user)
{
    (void)stream_user;
    struct probe *p = user;
    if (p->smb_negotiate) {
        size_t n = len < sizeof(p->smb_resp) - p->smb_resp_len
                       ? len
                       : sizeof(p->smb_resp) - p->smb_resp_len;
        memcpy(p->smb_resp + p->smb_resp_len, data, n);
        p->smb_resp_len += n;
    } else if (p->echo_bytes) {
        for (size_t i = 0; i < len; i++) {
            if (data[i] != p->pattern[(offset + i) % PATTERN_LEN]) {
                fail(p, "echoed byte %" PRIu64 " differs", offset + i);
                return 0;
            }
        }
        (void)gnutls_hash(p->rx_hash, data, len);
    }
    p->received += len;
    if (!p->no_read) {
        ngtcp2_conn_extend_max_stream_offset(conn, sid, len);
        ngtcp2_conn_extend_max_offset(conn, len);
    }
    return 0;
}

static int acked_cb(ngtcp2_conn *conn, int64_t sid, uint64_t offset, uint64_t len, void *user,
                    void *stream_user)
{
    (void)conn;
    (void)sid;
    (void)offset;
    (void)stream_user;
    struct probe *p = user;
    p->acked += len;
    return 0;
}

static int retry_cb(ngtcp2_conn *conn, const ngtcp2_pkt_hd *hd, void *user)
{
    printf("retry: received\n");
    return ngtcp2_crypto_recv_retry_cb(conn, hd, user);
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    struct probe *p = ref->user_data;
    return p->conn;
}

/* ---- setup ---- */

static int tls_setup(struct probe *p)
{
    int rv;
    if ((rv = gnutls_certificate_allocate_credentials(&p->cred)) < 0)
        goto err;
    if (p->cafile &&
        (rv = gnutls_certificate_set_x509_trust_file(p->cred, p->cafile, GNUTLS_X509_FMT_PEM)) < 0)
        goto err;
    if (p->cert && (rv = gnutls_certificate_set_x509_key_file(p->cred, p->cert, p->key,
                                                              GNUTLS_X509_FMT_PEM)) < 0)
        goto err;
    if ((rv = gnutls_init(&p->tls, GNUTLS_CLIENT)) < 0 ||
        (rv = gnutls_priority_set_direct(
             p->tls, "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE", NULL)) < 0 ||
        (rv = gnutls_credentials_set(p->tls, GNUTLS_CRD_CERTIFICATE, p->cred)) < 0)
        goto err;
    if (ngtcp2_crypto_gnutls_configure_client_session(p->tls) != 0) {
        fprintf(stderr, "ngtcp2_crypto_gnutls_configure_client_session failed\n");
        return -1;
    }
    if (strcmp(p->alpn, "none") != 0) {
        gnutls_datum_t alpn = {(unsigned char *)(uintptr_t)p->alpn, (unsigned)strlen(p->alpn)};
        if ((rv = gnutls_alpn_set_protocols(p->tls, &alpn, 1, 0)) < 0)
            goto err;
    }
    if (p->servername) {
        gnutls_server_name_set(p->tls, GNUTLS_NAME_DNS, p->servername, strlen(p->servername));
        if (p->cafile)
            gnutls_session_set_verify_cert(p->tls, p->servername, 0);
    }
    p->ref.get_conn = get_conn;
    p->ref.user_data = p;
    gnutls_session_set_ptr(p->tls, &p->ref);
    return 0;
err:
    fprintf(stderr, "TLS setup: %s\n", gnutls_strerror(rv));
    return -1;
}

static int conn_setup(struct probe *p)
{
    ngtcp2_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.recv_retry = retry_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.rand = rand_cb;
    cb.get_new_connection_id = new_cid_cb;
    cb.handshake_confirmed = confirmed_cb;
    cb.recv_stream_data = recv_stream_cb;
    cb.acked_stream_data_offset = acked_cb;

    ngtcp2_cid dcid, scid;
    dcid.datalen = 18;
    scid.datalen = 18;
    if (gnutls_rnd(GNUTLS_RND_NONCE, dcid.data, 18) != 0 ||
        gnutls_rnd(GNUTLS_RND_NONCE, scid.data, 18) != 0)
        return -1;
    char hex[64];
    for (size_t i = 0; i < dcid.datalen; i++)
        snprintf(hex + 2 * i, 3, "%02x", dcid.data[i]);
    printf("conn: %s\n", hex);

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    settings.handshake_timeout = (ngtcp2_duration)p->timeout_s * NGTCP2_SECONDS;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = p->window;
    params.initial_max_data = p->window;
    params.initial_max_streams_bidi = 0;
    params.initial_max_streams_uni = 0;
    params.max_idle_timeout = (ngtcp2_duration)(p->idle_s ? p->idle_s : 30) * NGTCP2_SECONDS;
    /* BBR, as the gateway uses: loss-based Cubic crawls on a lossy long path. */
    settings.cc_algo = NGTCP2_CC_ALGO_BBR;
    settings.max_window = p->window;
    settings.max_stream_window = p->window;

    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)&p->local, .addrlen = p->local_len},
        .remote = {.addr = (ngtcp2_sockaddr *)&p->remote, .addrlen = p->remote_len},
    };
    int rv = ngtcp2_conn_client_new(&p->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                    &settings, &params, NULL, p);
    if (rv != 0) {
        fprintf(stderr, "ngtcp2_conn_client_new: %s\n", ngtcp2_strerror(rv));
        return -1;
    }
    ngtcp2_conn_set_tls_native_handle(p->conn, p->tls);
    return 0;
}

/* ---- I/O ---- */

static void describe_close(struct probe *p)
{
    const ngtcp2_ccerr *e = ngtcp2_conn_get_ccerr(p->conn);
    char extra[64] = "";
    if (e->type == NGTCP2_CCERR_TYPE_TRANSPORT && e->error_code >= 0x100 && e->error_code <= 0x1ff)
        snprintf(extra, sizeof(extra), " (TLS alert %u)", (unsigned)(e->error_code - 0x100));
    fail(p, "closed by server: %s error 0x%" PRIx64 "%s reason: %.*s",
         e->type == NGTCP2_CCERR_TYPE_APPLICATION ? "application" : "transport", e->error_code,
         extra, (int)e->reasonlen, e->reason ? (const char *)e->reason : "");
}

static void on_read(struct probe *p)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == ECONNREFUSED)
                fail(p, "UDP port unreachable (ICMP)");
            return;
        }
        ngtcp2_path path = {
            .local = {.addr = (ngtcp2_sockaddr *)&p->local, .addrlen = p->local_len},
            .remote = {.addr = (ngtcp2_sockaddr *)&p->remote, .addrlen = p->remote_len},
        };
        ngtcp2_pkt_info pi = {0};
        int rv = ngtcp2_conn_read_pkt(p->conn, &path, &pi, buf, (size_t)n, now_ns());
        if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
            describe_close(p);
            p->closed = true;
            return;
        }
        if (rv == NGTCP2_ERR_CRYPTO) {
            int tls_err = ngtcp2_conn_get_tls_error(p->conn);
            fail(p, "client TLS failure (alert %u%s%s)", ngtcp2_conn_get_tls_alert(p->conn),
                 tls_err ? ": " : "", tls_err ? gnutls_strerror(tls_err) : "");
            p->closed = true;
            return;
        }
        if (rv != 0 && rv != NGTCP2_ERR_DISCARD_PKT) {
            fail(p, "ngtcp2_conn_read_pkt: %s", ngtcp2_strerror(rv));
            p->closed = true;
            return;
        }
    }
}

static void on_write(struct probe *p)
{
    uint8_t buf[MAX_PKT];
    ngtcp2_tstamp ts = now_ns();
    /* Counts packets, not calls: a packet left open by NGTCP2_ERR_WRITE_MORE must be finished
     * before anything else touches the connection. */
    for (int npkts = 0; npkts < 64;) {
        ngtcp2_vec vec[1];
        size_t nvec = 0;
        int64_t sid = -1;
        const uint8_t *req = NULL;
        if (p->stream_id >= 0 && p->sent < p->to_send) {
            uint64_t off = p->sent;
            if (p->smb_negotiate)
                req = p->smb_req + off;
            else
                req = p->pattern + off % PATTERN_LEN;
            size_t room = p->smb_negotiate ? p->smb_req_len - off : PATTERN_LEN - off % PATTERN_LEN;
            uint64_t left = p->to_send - off;
            vec[0].base = (uint8_t *)(uintptr_t)req;
            vec[0].len = left < room ? (size_t)left : room;
            nvec = 1;
            sid = p->stream_id;
        }
        ngtcp2_ssize ndatalen = -1;
        ngtcp2_pkt_info pi;
        ngtcp2_path_storage ps;
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_ssize n =
            ngtcp2_conn_writev_stream(p->conn, &ps.path, &pi, buf, sizeof(buf), &ndatalen,
                                      NGTCP2_WRITE_STREAM_FLAG_MORE, sid, vec, nvec, ts);
        if (ndatalen > 0)
            p->sent += (uint64_t)ndatalen;
        if (n == NGTCP2_ERR_WRITE_MORE)
            continue;
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
            n = ngtcp2_conn_writev_stream(p->conn, &ps.path, &pi, buf, sizeof(buf), NULL, 0, -1,
                                          NULL, 0, ts);
        }
        if (n < 0) {
            fail(p, "ngtcp2_conn_writev_stream: %s", ngtcp2_strerror((int)n));
            p->closed = true;
            return;
        }
        if (n == 0)
            break;
        (void)send(p->fd, buf, (size_t)n, 0);
        npkts++;
    }
    ngtcp2_conn_update_pkt_tx_time(p->conn, ts);
}

static void close_conn(struct probe *p)
{
    if (p->closed || !p->conn)
        return;
    uint8_t buf[MAX_PKT];
    ngtcp2_ccerr err;
    ngtcp2_ccerr_default(&err);
    ngtcp2_ccerr_set_application_error(&err, 0, NULL, 0);
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi;
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(p->conn, &ps.path, &pi, buf, sizeof(buf),
                                                        &err, now_ns());
    if (n > 0)
        (void)send(p->fd, buf, (size_t)n, 0);
    p->closed = true;
}

/* NAT rebinding: the client's port changes under it, ngtcp2 is not told. */
static void rebind(struct probe *p, bool tell_ngtcp2)
{
    int fd = new_socket(p);
    if (fd < 0) {
        fail(p, "new socket: %s", strerror(errno));
        return;
    }
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    getsockname(fd, (struct sockaddr *)&local, &len);
    if (tell_ngtcp2) {
        ngtcp2_path path = {
            .local = {.addr = (ngtcp2_sockaddr *)&local, .addrlen = len},
            .remote = {.addr = (ngtcp2_sockaddr *)&p->remote, .addrlen = p->remote_len},
        };
        int rv = ngtcp2_conn_initiate_immediate_migration(p->conn, &path, now_ns());
        if (rv != 0) {
            fail(p, "ngtcp2_conn_initiate_immediate_migration: %s", ngtcp2_strerror(rv));
            close(fd);
            return;
        }
        p->local = local;
        p->local_len = len;
    }
    close(p->fd);
    p->fd = fd;
}

static bool done(struct probe *p)
{
    if (p->handshake_only)
        return p->confirmed;
    if (p->echo_bytes)
        return p->received >= p->echo_bytes;
    if (p->smb_negotiate) {
        if (p->smb_resp_len < 4)
            return false;
        size_t need =
            4 + ((size_t)p->smb_resp[1] << 16 | (size_t)p->smb_resp[2] << 8 | p->smb_resp[3]);
        return p->smb_resp_len >= need || p->smb_resp_len == sizeof(p->smb_resp);
    }
    return false;
}

static int run(struct probe *p)
{
    ngtcp2_tstamp deadline = now_ns() + (ngtcp2_tstamp)p->timeout_s * NGTCP2_SECONDS;
    ngtcp2_tstamp hold_until = 0;
    on_write(p);
    while (!p->failed && !p->closed) {
        ngtcp2_tstamp now = now_ns();
        if (p->confirmed && (p->push_bytes || p->hold_s) && hold_until == 0)
            hold_until = now + (ngtcp2_tstamp)p->hold_s * NGTCP2_SECONDS;
        if (done(p) && (hold_until == 0 || now >= hold_until))
            break;
        if (p->push_bytes && hold_until && now >= hold_until)
            break;
        if (now >= deadline && !(hold_until && now < hold_until)) {
            fail(p, "%s timed out (%d s)", p->confirmed ? "transfer" : "handshake", p->timeout_s);
            break;
        }
        if (p->rebind_after && !p->rebound && p->received >= p->rebind_after) {
            p->rebound = true;
            rebind(p, false);
            printf("rebound: new source port\n");
        }
        if (p->migrate_after && !p->migrated && p->received >= p->migrate_after) {
            p->migrated = true;
            rebind(p, true);
            printf("migrated: new local address\n");
        }
        ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(p->conn);
        int timeout_ms = 100;
        if (expiry <= now)
            timeout_ms = 0;
        else if (expiry - now < 100 * NGTCP2_MILLISECONDS)
            timeout_ms = (int)((expiry - now) / NGTCP2_MILLISECONDS) + 1;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) > 0)
            on_read(p);
        if (p->failed || p->closed)
            break;
        now = now_ns();
        if (ngtcp2_conn_get_expiry(p->conn) <= now) {
            int rv = ngtcp2_conn_handle_expiry(p->conn, now);
            if (rv != 0) {
                fail(p, "%s",
                     rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT ? "handshake timed out"
                     : rv == NGTCP2_ERR_IDLE_CLOSE      ? "idle timeout"
                                                        : ngtcp2_strerror(rv));
                p->closed = true;
                break;
            }
        }
        on_write(p);
    }
    if (p->failed) {
        fprintf(stderr, "%s\n", p->why);
        if (!p->closed)
            close_conn(p);
        return 1;
    }
    if (p->handshake_only) {
        gnutls_datum_t alpn = {NULL, 0};
        gnutls_alpn_get_selected_protocol(p->tls, &alpn);
        printf("handshake: ok alpn=%.*s\n", (int)alpn.size, alpn.data ? (char *)alpn.data : "");
    }
    if (p->echo_bytes) {
        uint8_t digest[32];
        gnutls_hash_output(p->rx_hash, digest);
        printf("echo: ok %" PRIu64 " bytes sha256=", p->received);
        for (int i = 0; i < 32; i++)
            printf("%02x", digest[i]);
        printf("\n");
    }
    if (p->push_bytes)
        printf("push: accepted %" PRIu64 " of %" PRIu64 " bytes, acked %" PRIu64
               ", received %" PRIu64 "\n",
               p->sent, p->push_bytes, p->acked, p->received);
    if (p->smb_negotiate) {
        const uint8_t *m = p->smb_resp + 4;
        if (p->smb_resp_len < 4 + 64 + 6 || memcmp(m, "\xfeSMB", 4) != 0 || m[12] != 0 ||
            m[13] != 0) {
            fprintf(stderr, "not an SMB2 NEGOTIATE response (%zu bytes)\n", p->smb_resp_len);
            close_conn(p);
            return 1;
        }
        uint32_t status =
            (uint32_t)m[8] | (uint32_t)m[9] << 8 | (uint32_t)m[10] << 16 | (uint32_t)m[11] << 24;
        unsigned dialect = (unsigned)m[64 + 4] | (unsigned)m[64 + 5] << 8;
        printf("smb negotiate: status=0x%08x dialect=0x%04x\n", status, dialect);
    }
    close_conn(p);
    return 0;
}

/* An SMB2 NEGOTIATE for 3.1.1 with the mandatory pre-auth integrity context (MS-SMB2
 * 2.2.3, 2.2.3.1.1), with its Direct-TCP prefix. */
static void build_negotiate(struct probe *p)
{
    uint8_t *b = p->smb_req + 4;
    memset(p->smb_req, 0, sizeof(p->smb_req));
    memcpy(b, "\xfeSMB", 4);
    b[4] = 64; /* StructureSize */
    b[14] = 1; /* CreditRequest */
    uint8_t *body = b + 64;
    body[0] = 36;                                      /* StructureSize */
    body[2] = 1;                                       /* DialectCount */
    body[4] = 1;                                       /* SecurityMode: signing enabled */
    (void)gnutls_rnd(GNUTLS_RND_NONCE, body + 12, 16); /* ClientGuid */
    body[28] = 104;                                    /* NegotiateContextOffset */
    body[32] = 1;                                      /* NegotiateContextCount */
    body[36] = 0x11;
    body[37] = 0x03; /* 3.1.1 */
    uint8_t *ctx = b + 104;
    ctx[0] = 1;   /* SMB2_PREAUTH_INTEGRITY_CAPABILITIES */
    ctx[2] = 38;  /* DataLength */
    ctx[8] = 1;   /* HashAlgorithmCount */
    ctx[10] = 32; /* SaltLength */
    ctx[12] = 1;  /* SHA-512 */
    (void)gnutls_rnd(GNUTLS_RND_NONCE, ctx + 14, 32);
    size_t len = 104 + 8 + 38;
    p->smb_req[3] = (uint8_t)len;
    p->smb_req_len = 4 + len;
}

/* ---- floods ---- */

static int flood(struct probe *p, int mode, long count)
{
    uint8_t buf[MAX_PKT];
    for (long i = 0; i < count; i++) {
        p->fd = new_socket(p);
        if (p->fd < 0) {
            fprintf(stderr, "socket: %s\n", strerror(errno));
            return 1;
        }
        size_t len;
        if (mode == 2) {
            uint8_t r[4];
            (void)gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r));
            len = 1 + ((size_t)r[0] << 8 | r[1]) % sizeof(buf);
            (void)gnutls_rnd(GNUTLS_RND_NONCE, buf, len);
            /* Half with the long-header bit and a supported version, to get past the
             * version check into ngtcp2's parsers. */
            if (r[2] & 1 && len > 5) {
                buf[0] |= 0xc0;
                memcpy(buf + 1, "\x00\x00\x00\x01", 4);
            }
        } else {
            p->local_len = sizeof(p->local);
            getsockname(p->fd, (struct sockaddr *)&p->local, &p->local_len);
            if (tls_setup(p) != 0 || conn_setup(p) != 0)
                return 1;
            ngtcp2_path_storage ps;
            ngtcp2_path_storage_zero(&ps);
            ngtcp2_pkt_info pi;
            ngtcp2_ssize n =
                ngtcp2_conn_write_pkt(p->conn, &ps.path, &pi, buf, sizeof(buf), now_ns());
            ngtcp2_conn_del(p->conn);
            gnutls_deinit(p->tls);
            gnutls_certificate_free_credentials(p->cred);
            p->conn = NULL;
            if (n <= 0) {
                fprintf(stderr, "no Initial written\n");
                return 1;
            }
            len = (size_t)n;
            if (mode == 1) {
                uint8_t r[2];
                (void)gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r));
                len = 1 + ((size_t)r[0] << 8 | r[1]) % (len - 1);
            }
        }
        (void)send(p->fd, buf, len, 0);
        close(p->fd);
    }
    printf("flood: sent %ld datagrams\n", count);
    return 0;
}

int main(int argc, char **argv)
{
    static struct probe pr;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct probe *p = &pr;
    p->alpn = "smb";
    p->timeout_s = 20;
    p->window = 16 * 1024 * 1024;
    p->stream_id = -1;
    const char *connect_to = NULL;
    long flood_n = 0;
    int flood_mode = -1;
    unsigned seed = 1;
    enum {
        O_CONNECT = 256,
        O_SERVERNAME,
        O_CAFILE,
        O_CERT,
        O_KEY,
        O_ALPN,
        O_TIMEOUT,
        O_WINDOW,
        O_SEED,
        O_HANDSHAKE,
        O_LIMITS,
        O_ECHO,
        O_PUSH,
        O_NOREAD,
        O_SMB,
        O_HOLD,
        O_REBIND,
        O_MIGRATE,
        O_FLOOD,
        O_FLOODT,
        O_GARBAGE,
        O_IDLE,
    };
    static const struct option opts[] = {
        {"connect", 1, NULL, O_CONNECT},
        {"servername", 1, NULL, O_SERVERNAME},
        {"cafile", 1, NULL, O_CAFILE},
        {"cert", 1, NULL, O_CERT},
        {"key", 1, NULL, O_KEY},
        {"alpn", 1, NULL, O_ALPN},
        {"timeout", 1, NULL, O_TIMEOUT},
        {"window", 1, NULL, O_WINDOW},
        {"seed", 1, NULL, O_SEED},
        {"handshake", 0, NULL, O_HANDSHAKE},
        {"limits", 0, NULL, O_LIMITS},
        {"echo", 1, NULL, O_ECHO},
        {"push", 1, NULL, O_PUSH},
        {"no-read", 0, NULL, O_NOREAD},
        {"smb-negotiate", 0, NULL, O_SMB},
        {"hold", 1, NULL, O_HOLD},
        {"rebind-after", 1, NULL, O_REBIND},
        {"migrate-after", 1, NULL, O_MIGRATE},
        {"flood", 1, NULL, O_FLOOD},
        {"flood-truncated", 1, NULL, O_FLOODT},
        {"garbage", 1, NULL, O_GARBAGE},
        {"idle", 1, NULL, O_IDLE},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_CONNECT:
            connect_to = optarg;
            break;
        case O_SERVERNAME:
            p->servername = optarg;
            break;
        case O_CAFILE:
            p->cafile = optarg;
            break;
        case O_CERT:
            p->cert = optarg;
            break;
        case O_KEY:
            p->key = optarg;
            break;
        case O_ALPN:
            p->alpn = optarg;
            break;
        case O_TIMEOUT:
            p->timeout_s = atoi(optarg);
            break;
        case O_WINDOW:
            p->window = strtoull(optarg, NULL, 0);
            break;
        case O_SEED:
            seed = (unsigned)strtoul(optarg, NULL, 0);
            break;
        case O_HANDSHAKE:
            p->handshake_only = true;
            break;
        case O_LIMITS:
            p->limits = p->handshake_only = true;
            break;
        case O_ECHO:
            p->echo_bytes = strtoull(optarg, NULL, 0);
            break;
        case O_PUSH:
            p->push_bytes = strtoull(optarg, NULL, 0);
            break;
        case O_NOREAD:
            p->no_read = true;
            break;
        case O_SMB:
            p->smb_negotiate = true;
            break;
        case O_HOLD:
            p->hold_s = atoi(optarg);
            break;
        case O_IDLE:
            p->idle_s = atoi(optarg);
            break;
        case O_REBIND:
            p->rebind_after = strtoull(optarg, NULL, 0);
            break;
        case O_MIGRATE:
            p->migrate_after = strtoull(optarg, NULL, 0);
            break;
        case O_FLOOD:
            flood_mode = 0;
            flood_n = atol(optarg);
            break;
        case O_FLOODT:
            flood_mode = 1;
            flood_n = atol(optarg);
            break;
        case O_GARBAGE:
            flood_mode = 2;
            flood_n = atol(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!connect_to || resolve(connect_to, &p->remote, &p->remote_len) != 0) {
        fprintf(stderr, "usage: quic_probe --connect ADDR:PORT MODE (see the source)\n");
        return 2;
    }
    if (flood_mode >= 0)
        return flood(p, flood_mode, flood_n);

    p->pattern = malloc(PATTERN_LEN);
    if (!p->pattern)
        return 1;
    srandom(seed);
    for (size_t i = 0; i < PATTERN_LEN; i++)
        p->pattern[i] = (uint8_t)(random() >> 7);
    if (gnutls_hash_init(&p->rx_hash, GNUTLS_DIG_SHA256) < 0)
        return 1;
    if (p->smb_negotiate) {
        build_negotiate(p);
        p->to_send = p->smb_req_len;
    } else {
        p->to_send = p->echo_bytes ? p->echo_bytes : p->push_bytes;
    }

    p->fd = new_socket(p);
    if (p->fd < 0) {
        fprintf(stderr, "socket: %s\n", strerror(errno));
        return 1;
    }
    p->local_len = sizeof(p->local);
    getsockname(p->fd, (struct sockaddr *)&p->local, &p->local_len);
    if (tls_setup(p) != 0 || conn_setup(p) != 0)
        return 1;
    int status = run(p);
    ngtcp2_conn_del(p->conn);
    gnutls_deinit(p->tls);
    gnutls_certificate_free_credentials(p->cred);
    gnutls_hash_deinit(p->rx_hash, NULL);
    free(p->pattern);
    close(p->fd);
    return status;
}
