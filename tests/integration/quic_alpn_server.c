/* A QUIC server for tests that is not an SMB over QUIC server: it completes (or refuses) the
 * TLS 1.3 handshake with a good certificate but offers another ALPN protocol, so a client
 * must refuse it for that reason alone (PROTOCOL.md: the client checks the selected ALPN itself).
 *
 * usage: quic_alpn_server --cert FILE --key FILE --alpn PROTO [--mandatory] --ready-file FILE
 *   Listens on 127.0.0.1, a kernel-chosen UDP port, written to the ready file. Without
 *   --mandatory a client that does not offer PROTO completes the handshake with no ALPN
 *   selected; with --mandatory GnuTLS refuses it with the no_application_protocol alert (120).
 *   One connection at a time (a datagram from another address replaces it); streams are
 *   accepted and their data ignored. Runs until SIGTERM or SIGINT; prints one line per
 *   connection event on stderr.
 *
 * Test-only: no Retry, no version negotiation, no migration, no stateless reset. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PRIORITY                                                                                   \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"      \
    "%DISABLE_TLS13_COMPAT_MODE"
#define WINDOW (1u << 20)

struct server {
    int fd;
    struct sockaddr_in local;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t priority;
    gnutls_datum_t alpn;
    unsigned alpn_flags;
    /* the one connection */
    ngtcp2_conn *conn;
    gnutls_session_t tls;
    ngtcp2_crypto_conn_ref ref;
    struct sockaddr_in peer;
    bool handshake_logged;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static ngtcp2_tstamp now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ngtcp2_tstamp)ts.tv_sec * NGTCP2_SECONDS + (ngtcp2_tstamp)ts.tv_nsec;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct server *)ref->user_data)->conn;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    (void)ctx;
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                      void *user_data)
{
    (void)conn;
    (void)user_data;
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
        gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
    (void)conn;
    struct server *s = user_data;
    gnutls_datum_t selected;
    if (gnutls_alpn_get_selected_protocol(s->tls, &selected) == 0)
        fprintf(stderr, "quic_alpn_server: handshake completed, ALPN %.*s\n", (int)selected.size,
                selected.data);
    else
        fprintf(stderr, "quic_alpn_server: handshake completed, no ALPN selected\n");
    s->handshake_logged = true;
    return 0;
}

static void drop_conn(struct server *s, const char *why)
{
    if (!s->conn)
        return;
    fprintf(stderr, "quic_alpn_server: connection ended: %s\n", why);
    ngtcp2_conn_del(s->conn);
    gnutls_deinit(s->tls);
    s->conn = NULL;
    s->tls = NULL;
    s->handshake_logged = false;
}

static ngtcp2_path path_of(struct server *s)
{
    ngtcp2_path path = {
        .local = {.addr = (ngtcp2_sockaddr *)&s->local, .addrlen = sizeof(s->local)},
        .remote = {.addr = (ngtcp2_sockaddr *)&s->peer, .addrlen = sizeof(s->peer)},
    };
    return path;
}

static void send_to_peer(struct server *s, const uint8_t *data, size_t len)
{
    (void)sendto(s->fd, data, len, 0, (struct sockaddr *)&s->peer, sizeof(s->peer));
}

static void write_all(struct server *s)
{
    uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    for (int i = 0; i < 64 && s->conn; i++) {
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_write_pkt(s->conn, &ps.path, &pi, buf, sizeof(buf), now());
        if (n < 0) {
            drop_conn(s, ngtcp2_strerror((int)n));
            return;
        }
        if (n == 0)
            return;
        send_to_peer(s, buf, (size_t)n);
    }
}

/* Sends CONNECTION_CLOSE for a failed read (the TLS alert when the handshake failed) and drops
 * the connection. */
static void close_after_error(struct server *s, int rv)
{
    ngtcp2_ccerr cc;
    ngtcp2_ccerr_default(&cc);
    if (rv == NGTCP2_ERR_CRYPTO)
        ngtcp2_ccerr_set_tls_alert(&cc, ngtcp2_conn_get_tls_alert(s->conn), NULL, 0);
    else
        ngtcp2_ccerr_set_liberr(&cc, rv, NULL, 0);
    uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
    ngtcp2_path path = path_of(s);
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(s->conn, &path, NULL, buf, sizeof(buf),
                                                        &cc, now());
    if (n > 0)
        send_to_peer(s, buf, (size_t)n);
    char why[128];
    snprintf(why, sizeof(why), "%s (TLS alert %u)", ngtcp2_strerror(rv),
             (unsigned)ngtcp2_conn_get_tls_alert(s->conn));
    drop_conn(s, why);
}

static int new_conn(struct server *s, const ngtcp2_pkt_hd *hd)
{
    ngtcp2_callbacks cb = {
        .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
        .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
        .handshake_completed = cb_handshake_completed,
        .encrypt = ngtcp2_crypto_encrypt_cb,
        .decrypt = ngtcp2_crypto_decrypt_cb,
        .hp_mask = ngtcp2_crypto_hp_mask_cb,
        .rand = cb_rand,
        .get_new_connection_id = cb_new_cid,
        .update_key = ngtcp2_crypto_update_key_cb,
        .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
        .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
        .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
        .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
    };
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now();
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_remote = WINDOW;
    params.initial_max_data = WINDOW;
    params.initial_max_streams_bidi = 1;
    params.max_idle_timeout = 10 * NGTCP2_SECONDS;
    params.original_dcid = hd->dcid;
    params.original_dcid_present = 1;
    ngtcp2_cid scid = {.datalen = 16};
    if (gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen) != 0)
        return -1;
    ngtcp2_path path = path_of(s);
    int rv = ngtcp2_conn_server_new(&s->conn, &hd->scid, &scid, &path, hd->version, &cb,
                                    &settings, &params, NULL, s);
    if (rv != 0) {
        fprintf(stderr, "quic_alpn_server: ngtcp2_conn_server_new: %s\n", ngtcp2_strerror(rv));
        s->conn = NULL;
        return -1;
    }
    if (gnutls_init(&s->tls, GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET) < 0) {
        ngtcp2_conn_del(s->conn);
        s->conn = NULL;
        return -1;
    }
    if (gnutls_priority_set(s->tls, s->priority) < 0 ||
        ngtcp2_crypto_gnutls_configure_server_session(s->tls) != 0 ||
        gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cred) < 0 ||
        gnutls_alpn_set_protocols(s->tls, &s->alpn, 1, s->alpn_flags) < 0) {
        drop_conn(s, "TLS setup failed");
        return -1;
    }
    s->ref.get_conn = get_conn;
    s->ref.user_data = s;
    gnutls_session_set_ptr(s->tls, &s->ref);
    ngtcp2_conn_set_tls_native_handle(s->conn, s->tls);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &s->peer.sin_addr, addr, sizeof(addr));
    fprintf(stderr, "quic_alpn_server: new connection from %s:%u\n", addr, ntohs(s->peer.sin_port));
    return 0;
}

static void on_datagram(struct server *s, const uint8_t *data, size_t len,
                        const struct sockaddr_in *from)
{
    if (s->conn && (from->sin_port != s->peer.sin_port ||
                    from->sin_addr.s_addr != s->peer.sin_addr.s_addr))
        drop_conn(s, "a datagram from another client");
    if (!s->conn) {
        ngtcp2_pkt_hd hd;
        if (ngtcp2_accept(&hd, data, len) != 0)
            return; /* not a client Initial: ignore */
        s->peer = *from;
        if (new_conn(s, &hd) != 0)
            return;
    }
    ngtcp2_path path = path_of(s);
    ngtcp2_pkt_info pi = {0};
    int rv = ngtcp2_conn_read_pkt(s->conn, &path, &pi, data, len, now());
    if (rv == NGTCP2_ERR_DRAINING) {
        drop_conn(s, "the client closed it");
        return;
    }
    if (rv == NGTCP2_ERR_DISCARD_PKT)
        return;
    if (rv != 0) {
        close_after_error(s, rv);
        return;
    }
    write_all(s);
}

static int setup(struct server *s, const char *cert, const char *key, const char *ready)
{
    if (gnutls_certificate_allocate_credentials(&s->cred) < 0 ||
        gnutls_certificate_set_x509_key_file2(s->cred, cert, key, GNUTLS_X509_FMT_PEM, NULL, 0) <
            0 ||
        gnutls_priority_init2(&s->priority, PRIORITY, NULL, 0) < 0) {
        fprintf(stderr, "quic_alpn_server: cannot load %s / %s\n", cert, key);
        return -1;
    }
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    s->local.sin_family = AF_INET;
    s->local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(s->local);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&s->local, sizeof(s->local)) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&s->local, &len) != 0) {
        perror("quic_alpn_server: socket");
        return -1;
    }
    FILE *f = fopen(ready, "w");
    if (!f || fprintf(f, "%u\n", ntohs(s->local.sin_port)) < 0 || fclose(f) != 0) {
        perror(ready);
        return -1;
    }
    fprintf(stderr, "quic_alpn_server: listening on 127.0.0.1:%u, ALPN %.*s%s\n",
            ntohs(s->local.sin_port), (int)s->alpn.size, s->alpn.data,
            s->alpn_flags ? " (mandatory)" : "");
    return 0;
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *alpn = NULL, *ready = NULL;
    struct server s = {.fd = -1};
    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--cert") == 0 && has_value)
            cert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && has_value)
            key = argv[++i];
        else if (strcmp(argv[i], "--alpn") == 0 && has_value)
            alpn = argv[++i];
        else if (strcmp(argv[i], "--ready-file") == 0 && has_value)
            ready = argv[++i];
        else if (strcmp(argv[i], "--mandatory") == 0)
            s.alpn_flags = GNUTLS_ALPN_MANDATORY;
        else
            cert = key = NULL, i = argc;
    }
    if (!cert || !key || !alpn || !ready || !*alpn || strlen(alpn) > 255) {
        fprintf(stderr, "usage: quic_alpn_server --cert FILE --key FILE --alpn PROTO "
                        "[--mandatory] --ready-file FILE\n");
        return 2;
    }
    static unsigned char alpn_buf[256];
    memcpy(alpn_buf, alpn, strlen(alpn));
    s.alpn.data = alpn_buf;
    s.alpn.size = (unsigned)strlen(alpn);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (setup(&s, cert, key, ready) != 0)
        return 1;

    uint8_t buf[65536];
    while (!stopping) {
        int timeout = 1000;
        if (s.conn) {
            ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(s.conn), t = now();
            timeout = expiry <= t ? 0 : (int)((expiry - t) / NGTCP2_MILLISECONDS) + 1;
            if (timeout > 1000)
                timeout = 1000;
        }
        struct pollfd pfd = {.fd = s.fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0) {
            struct sockaddr_in from;
            socklen_t fromlen = sizeof(from);
            ssize_t len =
                recvfrom(s.fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
            if (len > 0 && from.sin_family == AF_INET)
                on_datagram(&s, buf, (size_t)len, &from);
        }
        if (s.conn && ngtcp2_conn_get_expiry(s.conn) <= now()) {
            int rv = ngtcp2_conn_handle_expiry(s.conn, now());
            if (rv != 0)
                drop_conn(&s, ngtcp2_strerror(rv));
            else
                write_all(&s);
        }
    }
    drop_conn(&s, "server stopping");
    close(s.fd);
    gnutls_priority_deinit(s.priority);
    gnutls_certificate_free_credentials(s.cred);
    return 0;
}
