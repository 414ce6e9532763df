/* One QUIC connection of the gateway: ngtcp2 callbacks, reading and writing packets, the
 * access decision, and the end of the connection (RFC 9000 10: idle timeout, immediate close
 * with its closing period, draining).
 *
 * ngtcp2 must not be re-entered from its own callbacks: callbacks only record what to do
 * (close_pending, refuse_stream, want_write, be.kick) and gw_conn_service() acts on it. */
#include "gateway.h"
#include "audit.h"

#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reason phrases put on the wire: fixed texts, never details of the backend. */
static const char *app_error_phrase(uint64_t code)
{
    switch (code) {
    case GW_APP_NO_ERROR:
        return "server shutting down";
    case GW_APP_BACKEND_CLOSED:
        return "SMB server closed the connection";
    case GW_APP_BACKEND_UNREACHABLE:
        return "SMB server unreachable";
    case GW_APP_STREAM_REFUSED:
        return "only one stream is allowed";
    case GW_APP_STREAM_RESET:
        return "stream reset";
    default:
        return "internal error";
    }
}

static const char access_denied_phrase[] = "access denied by the client-certificate policy";

/* Path MTU discovery (RFC 9000 14.3) tries these UDP payload sizes in turn, each only if
 * every smaller one got through: ngtcp2's defaults (1406, 1452), 9000-byte jumbo frames, then
 * up to loopback's 64 KiB. A probe that does not fit is lost (the socket never fragments:
 * IP_PMTUDISC_PROBE) and nothing larger is tried after it. */
static const uint16_t gw_pmtud_probes[] = {1406, 1452, 8952, 16384, 32768, GW_PMTUD_MAX};

/* ---- state and bookkeeping ---- */

static void set_state(struct gw_conn *c, enum gw_conn_state state)
{
    struct gw_server *srv = c->srv;
    if (c->state == state)
        return;
    if (c->state == GW_CONN_HANDSHAKE)
        srv->nhandshake--;
    if (c->state <= GW_CONN_OPEN && state > GW_CONN_OPEN)
        srv->nactive--;
    c->state = state;
}

static int conn_add_cid(struct gw_conn *c, const ngtcp2_cid *cid)
{
    if (c->ncids == GW_MAX_SCIDS)
        return -1;
    if (gw_cidmap_add(&c->srv->cids, cid, c) != 0)
        return -1;
    c->cids[c->ncids++] = *cid;
    return 0;
}

static void conn_remove_cid(struct gw_conn *c, const ngtcp2_cid *cid)
{
    for (size_t i = 0; i < c->ncids; i++) {
        if (ngtcp2_cid_eq(&c->cids[i], cid)) {
            gw_cidmap_remove(&c->srv->cids, cid);
            c->cids[i] = c->cids[--c->ncids];
            return;
        }
    }
}

/* ---- audit ---- */

static void audit_open(struct gw_conn *c)
{
    struct gw_audit_line line;
    gw_audit_begin(&line);
    gw_audit_add(&line, "event", "open");
    gw_audit_add(&line, "conn", c->id);
    gw_audit_add(&line, "peer", c->peer);
    gw_audit_add(&line, "result", c->decision.allowed ? "allowed" : "denied");
    gw_audit_add(&line, "rule", c->decision.rule);
    gw_audit_add(&line, "subject", c->cert.subject);
    gw_audit_add(&line, "issuer", c->cert.issuer);
    gw_audit_add(&line, "serial", c->cert.serial);
    gw_audit_add(&line, "sha256", c->cert.sha256);
    gw_audit_emit(&line);
    c->audit_open = true;
}

/* Token bucket; rate per second, burst tokens at most. */
static bool rate_take(double *tokens, ngtcp2_tstamp *last, double rate, double burst)
{
    ngtcp2_tstamp now = gw_now();
    if (*last == 0)
        *tokens = burst;
    else
        *tokens += (double)(now - *last) / NGTCP2_SECONDS * rate;
    if (*tokens > burst)
        *tokens = burst;
    *last = now;
    if (*tokens < 1)
        return false;
    *tokens -= 1;
    return true;
}

/* The end of a connection in the audit log: a close line after an open line; a (rate
 * limited: a flood must not fill the disk) failure line for a handshake that never reached
 * the access decision. */
static void audit_end(struct gw_conn *c, const char *reason)
{
    struct gw_server *srv = c->srv;
    struct gw_audit_line line;
    if (c->audit_open) {
        ngtcp2_tstamp d = gw_now() - c->started;
        gw_audit_begin(&line);
        gw_audit_add(&line, "event", "close");
        gw_audit_add(&line, "conn", c->id);
        gw_audit_add(&line, "peer", c->peer);
        gw_audit_addf(&line, "client_to_backend", "%" PRIu64, c->bytes_from_client);
        gw_audit_addf(&line, "backend_to_client", "%" PRIu64, c->bytes_to_client);
        gw_audit_addf(&line, "duration", "%" PRIu64 ".%03" PRIu64, d / NGTCP2_SECONDS,
                      d % NGTCP2_SECONDS / NGTCP2_MILLISECONDS);
        gw_audit_add(&line, "reason", reason);
        gw_audit_emit(&line);
        c->audit_open = false;
    } else if (!c->decided) {
        if (!rate_take(&srv->failed_tokens, &srv->failed_refill, 10, 20)) {
            srv->failed_suppressed++;
            return;
        }
        gw_audit_begin(&line);
        gw_audit_add(&line, "event", "failed");
        gw_audit_add(&line, "conn", c->id);
        gw_audit_add(&line, "peer", c->peer);
        gw_audit_add(&line, "reason", reason);
        if (srv->failed_suppressed) {
            gw_audit_addf(&line, "suppressed", "%" PRIu64, srv->failed_suppressed);
            srv->failed_suppressed = 0;
        }
        gw_audit_emit(&line);
    }
    gw_log(GW_LOG_INFO, "conn %s: closed (%s)", c->id, reason);
    if (c->qc && gw_verbosity >= GW_LOG_DEBUG) {
        ngtcp2_conn_info ci;
        ngtcp2_conn_get_conn_info(c->qc, &ci);
        gw_log(GW_LOG_DEBUG,
               "conn %s: srtt %.2f ms, min rtt %.2f ms, cwnd %" PRIu64 ", packet %zu bytes, "
               "stalls: flow control %" PRIu64 ", congestion %" PRIu64 ", send quantum %" PRIu64
               ", socket full %" PRIu64,
               c->id, (double)ci.smoothed_rtt / 1e6, (double)ci.min_rtt / 1e6, ci.cwnd,
               ngtcp2_conn_get_path_max_tx_udp_payload_size(c->qc), c->stalls_flow,
               c->stalls_cwnd, c->quantum_ends, c->socket_full);
    }
}

/* ---- the end of a connection ---- */

/* Packets still waiting for the socket are of no use once the connection ends. */
static void drop_pending(struct gw_conn *c)
{
    if (c->pending.data) {
        free(c->pending.data);
        c->pending.data = NULL;
        c->srv->npending_tx--;
    }
}

static void conn_dead(struct gw_conn *c, const char *reason)
{
    if (c->state == GW_CONN_DEAD)
        return;
    if (c->state <= GW_CONN_OPEN)
        audit_end(c, reason);
    set_state(c, GW_CONN_DEAD);
    gw_backend_free(c);
    drop_pending(c);
}

/* Immediate close (RFC 9000 10.2.1): send CONNECTION_CLOSE once, keep it to answer late
 * packets during the closing period of three PTOs, then forget the connection. */
static void start_close(struct gw_conn *c, const ngtcp2_ccerr *err, const char *reason)
{
    struct gw_server *srv = c->srv;
    if (c->state >= GW_CONN_CLOSING)
        return;
    ngtcp2_tstamp now = gw_now();
    ngtcp2_ssize n = 0;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    if (!ngtcp2_conn_in_closing_period(c->qc) && !ngtcp2_conn_in_draining_period(c->qc)) {
        ngtcp2_pkt_info pi;
        n = ngtcp2_conn_write_connection_close(c->qc, &ps.path, &pi, srv->txbuf,
                                               ngtcp2_conn_get_path_max_tx_udp_payload_size(c->qc),
                                               err, now);
    }
    if (n <= 0) {
        conn_dead(c, reason);
        return;
    }
    audit_end(c, reason);
    set_state(c, GW_CONN_CLOSING);
    gw_backend_free(c); /* ngtcp2 sends no stream data from now on */
    drop_pending(c);
    c->close_pkt = malloc((size_t)n);
    if (c->close_pkt) {
        memcpy(c->close_pkt, srv->txbuf, (size_t)n);
        c->close_pktlen = (size_t)n;
    }
    (void)gw_server_send(srv, &ps.path, srv->txbuf, (size_t)n, (size_t)n);
    c->close_rx = 0;
    c->close_next_tx = 1;
    c->close_deadline = now + 3 * ngtcp2_conn_get_pto(c->qc);
}

/* The peer closed (RFC 9000 10.2.2): send nothing for three PTOs. */
static void start_draining(struct gw_conn *c)
{
    char reason[160];
    const ngtcp2_ccerr *err = ngtcp2_conn_get_ccerr(c->qc);
    int rlen = (int)(err->reasonlen > 64 ? 64 : err->reasonlen);
    snprintf(reason, sizeof(reason), "client closed: %s error 0x%" PRIx64 "%s%.*s%s",
             err->type == NGTCP2_CCERR_TYPE_APPLICATION ? "application" : "transport",
             err->error_code, rlen ? " (" : "", rlen, rlen ? (const char *)err->reason : "",
             rlen ? ")" : "");
    audit_end(c, reason);
    set_state(c, GW_CONN_DRAINING);
    gw_backend_free(c);
    drop_pending(c);
    c->close_deadline = gw_now() + 3 * ngtcp2_conn_get_pto(c->qc);
}

void gw_conn_schedule_close_app(struct gw_conn *c, uint64_t code, const char *reason)
{
    if (c->close_pending || c->state >= GW_CONN_CLOSING)
        return;
    const char *phrase = app_error_phrase(code);
    c->close_pending = true;
    ngtcp2_ccerr_set_application_error(&c->close_err, code, (const uint8_t *)phrase,
                                       strlen(phrase));
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
}

static void schedule_close_liberr(struct gw_conn *c, int liberr)
{
    if (c->close_pending || c->state >= GW_CONN_CLOSING)
        return;
    c->close_pending = true;
    ngtcp2_ccerr_set_liberr(&c->close_err, liberr, NULL, 0);
    snprintf(c->close_reason, sizeof(c->close_reason), "QUIC error: %s", ngtcp2_strerror(liberr));
}

void gw_conn_close_app(struct gw_conn *c, uint64_t code, const char *reason)
{
    gw_conn_schedule_close_app(c, code, reason);
    if (c->close_pending)
        start_close(c, &c->close_err, c->close_reason);
}

/* An error from ngtcp2_conn_read_pkt (RFC 9000 10, ngtcp2's documented returns). */
static void on_read_error(struct gw_conn *c, int rv)
{
    ngtcp2_ccerr err;
    char reason[128];
    ngtcp2_ccerr_default(&err);
    switch (rv) {
    case NGTCP2_ERR_DRAINING:
        start_draining(c);
        return;
    case NGTCP2_ERR_DROP_CONN:
        conn_dead(c, "dropped by QUIC");
        return;
    case NGTCP2_ERR_RETRY: /* a server that does not ask for tokens never sees it */
        conn_dead(c, "unexpected retry");
        return;
    case NGTCP2_ERR_CRYPTO:
        if (c->denied) {
            ngtcp2_ccerr_set_tls_alert(&err, GW_TLS_ALERT_ACCESS_DENIED,
                                       (const uint8_t *)access_denied_phrase,
                                       sizeof(access_denied_phrase) - 1);
            snprintf(reason, sizeof(reason), "access denied (rule %s)", c->decision.rule);
        } else {
            /* 120: no_application_protocol (RFC 7301 3.2). */
            uint8_t alert = c->alpn_bad ? 120 : ngtcp2_conn_get_tls_alert(c->qc);
            ngtcp2_ccerr_set_tls_alert(&err, alert, NULL, 0);
            snprintf(reason, sizeof(reason), "TLS handshake failed: alert %u%s", alert,
                     c->alpn_bad || alert == 120
                         ? " (no common ALPN: the client must offer \"smb\")"
                         : "");
        }
        start_close(c, &err, reason);
        return;
    case NGTCP2_ERR_CALLBACK_FAILURE:
        if (c->close_pending) {
            start_close(c, &c->close_err, c->close_reason);
            return;
        }
        ngtcp2_ccerr_set_application_error(&err, GW_APP_INTERNAL, NULL, 0);
        start_close(c, &err, "internal error");
        return;
    default:
        ngtcp2_ccerr_set_liberr(&err, rv, NULL, 0);
        snprintf(reason, sizeof(reason), "QUIC error: %s", ngtcp2_strerror(rv));
        start_close(c, &err, reason);
        return;
    }
}

/* ---- access decision (called from the TLS hook, inside ngtcp2_conn_read_pkt) ---- */

int gw_conn_on_client_finished(struct gw_conn *c)
{
    gnutls_datum_t alpn;
    if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) != 0 || alpn.size != 3 ||
        memcmp(alpn.data, "smb", 3) != 0) {
        c->alpn_bad = true;
        return -1;
    }
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(c->tls, &n);
    if (!chain)
        n = 0;
    gw_cert_describe(chain, n, &c->cert);
    gw_access_decide(c->srv->access, chain, n, time(NULL), &c->decision);
    c->decided = true;
    c->denied = !c->decision.allowed;
    audit_open(c);
    gw_log(GW_LOG_INFO, "conn %s from %s: %s by rule %s (client certificate: %s)", c->id, c->peer,
           c->denied ? "denied" : "allowed", c->decision.rule,
           c->cert.present ? c->cert.subject : "none");
    return c->denied ? -1 : 0;
}

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    struct gw_conn *c = ref->user_data;
    return c->qc;
}

static int cb_handshake_completed(ngtcp2_conn *qc, void *user_data)
{
    (void)qc;
    struct gw_conn *c = user_data;
    if (!c->decided && gw_conn_on_client_finished(c) != 0) {
        /* The hook did not run (it always should): decide here, with the same alert. */
        c->close_pending = true;
        ngtcp2_ccerr_set_tls_alert(&c->close_err, c->alpn_bad ? 120 : GW_TLS_ALERT_ACCESS_DENIED,
                                   (const uint8_t *)access_denied_phrase,
                                   sizeof(access_denied_phrase) - 1);
        snprintf(c->close_reason, sizeof(c->close_reason), "access denied (rule %s)",
                 c->decision.rule);
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    set_state(c, GW_CONN_OPEN);
    gw_log(GW_LOG_DEBUG, "conn %s: handshake completed", c->id);
    return 0;
}

static int cb_stream_open(ngtcp2_conn *qc, int64_t stream_id, void *user_data)
{
    struct gw_conn *c = user_data;
    if (c->stream_id < 0 && ngtcp2_is_bidi_stream(stream_id) &&
        !ngtcp2_conn_is_local_stream(qc, stream_id)) {
        c->stream_id = stream_id;
        (void)gw_backend_connect(c); /* a failure schedules the close itself */
        return 0;
    }
    /* Unreachable with our transport parameters (one bidirectional stream, no
     * unidirectional ones): refused anyway, after this read. */
    if (c->refuse_stream >= 0) {
        gw_conn_schedule_close_app(c, GW_APP_STREAM_REFUSED, "client opened extra streams");
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    c->refuse_stream = stream_id;
    return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id, uint64_t offset,
                               const uint8_t *data, size_t datalen, void *user_data,
                               void *stream_user_data)
{
    (void)qc;
    (void)offset;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    if (stream_id != c->stream_id)
        return 0;
    if (gw_backend_from_client(c, data, datalen, flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0) {
        gw_conn_schedule_close_app(c, GW_APP_INTERNAL, "out of memory");
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

uint64_t gw_conn_tx_cap(struct gw_conn *c)
{
    ngtcp2_conn_info ci;
    ngtcp2_conn_get_conn_info(c->qc, &ci);
    uint64_t cap = 2 * ci.cwnd;
    return cap < GW_TX_CAP_MIN ? GW_TX_CAP_MIN : cap > GW_TX_CAP_MAX ? GW_TX_CAP_MAX : cap;
}

static int cb_acked_stream_data_offset(ngtcp2_conn *qc, int64_t stream_id, uint64_t offset,
                                       uint64_t datalen, void *user_data, void *stream_user_data)
{
    (void)qc;
    (void)offset;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    struct gw_backend *be = &c->be;
    if (stream_id != c->stream_id)
        return 0;
    gw_queue_consume(&be->to_client, (size_t)datalen);
    if (be->eof) {
        if (be->to_client.bytes == 0)
            gw_conn_schedule_close_app(c, GW_APP_BACKEND_CLOSED, "backend closed the connection");
    } else if (be->held_back && be->to_client.bytes < gw_conn_tx_cap(c)) {
        be->held_back = false;
        be->kick = true;
    }
    return 0;
}

static int cb_stream_close(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id,
                           uint64_t app_error_code, void *user_data, void *stream_user_data)
{
    (void)qc;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    if (stream_id != c->stream_id)
        return 0;
    char reason[96];
    if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)
        snprintf(reason, sizeof(reason), "SMB stream closed (error 0x%" PRIx64 ")", app_error_code);
    else
        snprintf(reason, sizeof(reason), "SMB stream closed");
    /* ngtcp2 no longer references the stream's data. */
    c->stream_id = -2;
    gw_backend_free(c);
    gw_conn_schedule_close_app(c, GW_APP_STREAM_RESET, reason);
    return 0;
}

static int cb_stream_reset(ngtcp2_conn *qc, int64_t stream_id, uint64_t final_size,
                           uint64_t app_error_code, void *user_data, void *stream_user_data)
{
    (void)qc;
    (void)final_size;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    if (stream_id != c->stream_id)
        return 0;
    char reason[96];
    snprintf(reason, sizeof(reason), "client reset the SMB stream (error 0x%" PRIx64 ")",
             app_error_code);
    gw_backend_close(c);
    gw_conn_schedule_close_app(c, GW_APP_STREAM_RESET, reason);
    return 0;
}

static int cb_stream_stop_sending(ngtcp2_conn *qc, int64_t stream_id, uint64_t app_error_code,
                                  void *user_data, void *stream_user_data)
{
    (void)qc;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    if (stream_id != c->stream_id)
        return 0;
    char reason[96];
    snprintf(reason, sizeof(reason), "client stopped reading the SMB stream (error 0x%" PRIx64 ")",
             app_error_code);
    gw_backend_close(c);
    gw_conn_schedule_close_app(c, GW_APP_STREAM_RESET, reason);
    return 0;
}

static int cb_extend_max_stream_data(ngtcp2_conn *qc, int64_t stream_id, uint64_t max_data,
                                     void *user_data, void *stream_user_data)
{
    (void)qc;
    (void)stream_id;
    (void)max_data;
    (void)stream_user_data;
    struct gw_conn *c = user_data;
    c->want_write = true;
    return 0;
}

static void cb_rand(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
    (void)rand_ctx;
    if (gnutls_rnd(GNUTLS_RND_NONCE, dest, destlen) != 0)
        memset(dest, 0, destlen); /* only for non-secret uses (ngtcp2 documents it so) */
}

static int new_cid(struct gw_server *srv, ngtcp2_cid *cid, size_t len)
{
    for (int tries = 0; tries < 8; tries++) {
        if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len) != 0)
            return -1;
        cid->datalen = len;
        if (!gw_cidmap_find(&srv->cids, cid->data, len))
            return 0;
    }
    return -1;
}

static int cb_get_new_connection_id(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                                    void *user_data)
{
    (void)qc;
    struct gw_conn *c = user_data;
    struct gw_server *srv = c->srv;
    if (new_cid(srv, cid, cidlen) != 0 ||
        ngtcp2_crypto_generate_stateless_reset_token(token, srv->secret, sizeof(srv->secret),
                                                     cid) != 0 ||
        conn_add_cid(c, cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int cb_remove_connection_id(ngtcp2_conn *qc, const ngtcp2_cid *cid, void *user_data)
{
    (void)qc;
    conn_remove_cid(user_data, cid);
    return 0;
}

static int cb_path_validation(ngtcp2_conn *qc, uint32_t flags, const ngtcp2_path *path,
                              const ngtcp2_path *old_path, ngtcp2_path_validation_result res,
                              void *user_data)
{
    (void)qc;
    (void)flags;
    (void)old_path;
    struct gw_conn *c = user_data;
    if (gw_verbosity >= GW_LOG_INFO) {
        char addr[64];
        gw_format_addr((const struct sockaddr *)path->remote.addr, addr, sizeof(addr));
        gw_log(GW_LOG_INFO, "conn %s: path to %s %s", c->id, addr,
               res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS ? "validated" : "failed validation");
    }
    return 0;
}

void gw_conn_callbacks(ngtcp2_callbacks *cb)
{
    memset(cb, 0, sizeof(*cb));
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->handshake_completed = cb_handshake_completed;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->recv_stream_data = cb_recv_stream_data;
    cb->acked_stream_data_offset = cb_acked_stream_data_offset;
    cb->stream_open = cb_stream_open;
    cb->stream_close = cb_stream_close;
    cb->rand = cb_rand;
    cb->get_new_connection_id = cb_get_new_connection_id;
    cb->remove_connection_id = cb_remove_connection_id;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->path_validation = cb_path_validation;
    cb->stream_reset = cb_stream_reset;
    cb->extend_max_stream_data = cb_extend_max_stream_data;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb->stream_stop_sending = cb_stream_stop_sending;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
}

/* ---- life ---- */

struct gw_conn *gw_conn_new(struct gw_server *srv, const ngtcp2_pkt_hd *hd, const ngtcp2_path *path,
                            const ngtcp2_cid *odcid, const ngtcp2_cid *retry_scid)
{
    struct gw_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = srv;
    c->state = GW_CONN_HANDSHAKE;
    c->stream_id = -1;
    c->refuse_stream = -1;
    c->be.fd = -1;
    c->be.watch.kind = GW_WATCH_BACKEND;
    c->conn_ref.get_conn = get_conn;
    c->conn_ref.user_data = c;
    c->started = gw_now();
    gw_hex(odcid->data, odcid->datalen, c->id, sizeof(c->id));
    gw_format_addr((const struct sockaddr *)path->remote.addr, c->peer, sizeof(c->peer));

    ngtcp2_cid scid;
    if (new_cid(srv, &scid, GW_SCID_LEN) != 0) {
        free(c);
        return NULL;
    }

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = c->started;
    settings.handshake_timeout = GW_HANDSHAKE_TIMEOUT;
    /* Receive windows start at GW_RX_WINDOW and may grow to GW_RX_WINDOW_MAX (gateway.h). */
    settings.max_window = GW_RX_WINDOW_MAX;
    settings.max_stream_window = GW_RX_WINDOW_MAX;
    /* BBR keeps a lossy long path busy where loss-based Cubic backs off. */
    settings.cc_algo = NGTCP2_CC_ALGO_BBR;
    /* Packets as large as the path carries (see GW_PMTUD_MAX): fewer packets, less CPU. */
    settings.max_tx_udp_payload_size = GW_PMTUD_MAX;
    settings.pmtud_probes = gw_pmtud_probes;
    settings.pmtud_probeslen = sizeof(gw_pmtud_probes) / sizeof(gw_pmtud_probes[0]);
    if (retry_scid) {
        settings.token = hd->token;
        settings.tokenlen = hd->tokenlen;
        settings.token_type = NGTCP2_TOKEN_TYPE_RETRY;
    }

    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_remote = GW_RX_WINDOW;
    params.initial_max_stream_data_bidi_local = 0;
    params.initial_max_stream_data_uni = 0;
    params.initial_max_data = GW_RX_WINDOW;
    /* One client-opened bidirectional stream carries SMB; nothing else is allowed. */
    params.initial_max_streams_bidi = 1;
    params.initial_max_streams_uni = 0;
    params.max_idle_timeout = GW_IDLE_TIMEOUT;
    params.active_connection_id_limit = 8;
    params.original_dcid = *odcid;
    params.original_dcid_present = 1;
    if (retry_scid) {
        params.retry_scid = *retry_scid;
        params.retry_scid_present = 1;
    }
    params.stateless_reset_token_present = 1;
    if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, srv->secret,
                                                     sizeof(srv->secret), &scid) != 0) {
        free(c);
        return NULL;
    }

    int rv = ngtcp2_conn_server_new(&c->qc, &hd->scid, &scid, path, hd->version, &srv->callbacks,
                                    &settings, &params, NULL, c);
    if (rv != 0) {
        gw_log(GW_LOG_WARN, "ngtcp2_conn_server_new: %s", ngtcp2_strerror(rv));
        free(c);
        return NULL;
    }
    /* Link first so that gw_conn_free undoes everything below. */
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->nactive++;
    srv->nhandshake++;
    if (gw_tls_session_new(&srv->tls, c) != 0 || conn_add_cid(c, &scid) != 0 ||
        conn_add_cid(c, &hd->dcid) != 0) {
        c->state = GW_CONN_DEAD;
        srv->nactive--;
        srv->nhandshake--;
        gw_conn_free(c);
        return NULL;
    }
    gw_log(GW_LOG_DEBUG, "conn %s: new from %s", c->id, c->peer);
    return c;
}

void gw_conn_free(struct gw_conn *c)
{
    struct gw_server *srv = c->srv;
    set_state(c, GW_CONN_DEAD);
    while (c->ncids > 0)
        conn_remove_cid(c, &c->cids[c->ncids - 1]);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    drop_pending(c);
    gw_backend_free(c);
    if (c->qc)
        ngtcp2_conn_del(c->qc);
    if (c->tls)
        gnutls_deinit(c->tls);
    free(c->close_pkt);
    free(c);
}

/* ---- packets in ---- */

void gw_conn_on_datagram(struct gw_conn *c, const ngtcp2_path *path, const uint8_t *data,
                         size_t len)
{
    switch (c->state) {
    case GW_CONN_DEAD:
    case GW_CONN_DRAINING:
        return;
    case GW_CONN_CLOSING:
        /* Answer late packets with our CONNECTION_CLOSE, exponentially less often
         * (RFC 9000 10.2.1 asks to limit the rate). */
        if (c->close_pkt && ++c->close_rx >= c->close_next_tx) {
            c->close_next_tx *= 2;
            (void)gw_server_send(c->srv, path, c->close_pkt, c->close_pktlen, c->close_pktlen);
        }
        return;
    default:
        break;
    }
    ngtcp2_pkt_info pi = {0};
    int rv = ngtcp2_conn_read_pkt(c->qc, path, &pi, data, len, gw_now());
    if (rv != 0) {
        if (rv == NGTCP2_ERR_DISCARD_PKT)
            return;
        gw_log(GW_LOG_DEBUG, "conn %s: ngtcp2_conn_read_pkt: %s", c->id, ngtcp2_strerror(rv));
        on_read_error(c, rv);
        return;
    }
    c->want_write = true;
}

/* ---- packets out ---- */

/* Sends a batch; on EAGAIN keeps the rest for gw_conn_flush_pending. False if blocked. */
static bool send_batch(struct gw_conn *c, const ngtcp2_path *path, const uint8_t *data, size_t len,
                       size_t segsize)
{
    struct gw_server *srv = c->srv;
    size_t sent = gw_server_send(srv, path, data, len, segsize);
    if (sent == len)
        return true;
    struct gw_pending_tx *p = &c->pending;
    p->data = malloc(len - sent);
    if (!p->data)
        return false; /* dropped: QUIC's loss recovery resends what matters */
    memcpy(p->data, data + sent, len - sent);
    p->len = len - sent;
    p->segsize = segsize;
    ngtcp2_path_storage_zero(&p->path);
    ngtcp2_path_copy(&p->path.path, path);
    srv->npending_tx++;
    gw_server_want_udp_out(srv);
    return false;
}

bool gw_conn_flush_pending(struct gw_conn *c)
{
    struct gw_pending_tx *p = &c->pending;
    if (!p->data)
        return true;
    size_t sent = gw_server_send(c->srv, &p->path.path, p->data, p->len, p->segsize);
    if (sent < p->len) {
        memmove(p->data, p->data + sent, p->len - sent);
        p->len -= sent;
        return false;
    }
    free(p->data);
    p->data = NULL;
    c->srv->npending_tx--;
    c->want_write = true;
    return true;
}

/* Writes packets until ngtcp2 has nothing more, the pass's pacing budget is used up, or
 * the socket is full. Same-sized packets for the same path go out in one GSO batch; packets
 * are as large as path MTU discovery has validated, and a PMTUD probe (larger than that)
 * goes out alone. */
static void conn_write(struct gw_conn *c)
{
    struct gw_server *srv = c->srv;
    struct gw_backend *be = &c->be;
    ngtcp2_tstamp ts = gw_now();
    size_t max_udp = ngtcp2_conn_get_max_tx_udp_payload_size(c->qc); /* probes included */
    size_t path_max = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->qc);
    if (max_udp > GW_GSO_MAX_BYTES)
        max_udp = GW_GSO_MAX_BYTES;
    if (path_max > max_udp)
        path_max = max_udp;
    size_t max_pkts = GW_GSO_MAX_BYTES / path_max;
    if (max_pkts > GW_MAX_GSO_SEGS)
        max_pkts = GW_MAX_GSO_SEGS;
    /* Pacing: a pass sends GW_PACING_QUANTA send quanta, then waits for ngtcp2's pacing
     * timer. ngtcp2 sizes one quantum as about 1 ms at the pacing rate, at most 64 KiB: with
     * the 64 KiB datagrams PMTUD reaches on loopback that was one datagram per event-loop
     * turn, a timer wake-up per 64 KiB (8,000+ per 512 MiB get, the gateway's -vv "send
     * quantum" count). Four quanta keep bursts to about 4 ms of the pacing rate (so pacing
     * still shapes the flow on a slow path) with a quarter of the wake-ups. */
    size_t budget = GW_PACING_QUANTA * ngtcp2_conn_get_send_quantum(c->qc);
    size_t pass_bytes = 0;

    uint8_t *buf = srv->txbuf;
    ngtcp2_path_storage ps, batch_ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_path_storage_zero(&batch_ps);
    size_t off = 0, nbatch = 0, segsize = 0;
    bool stream_blocked = false;
    c->want_write = false;

    for (;;) {
        /* Room for a probe when the buffer has it, and at least one packet of the path's
         * size: otherwise the batch is full. */
        size_t room = GW_GSO_MAX_BYTES - off < max_udp ? GW_GSO_MAX_BYTES - off : max_udp;
        if (room < path_max) {
            bool ok = send_batch(c, &batch_ps.path, buf, off, segsize);
            off = 0;
            nbatch = 0;
            if (!ok)
                break;
            continue;
        }
        ngtcp2_vec vec[4]; /* a packet holds one path MTU: a few chunks at most */
        size_t nvec = 0;
        uint64_t vbytes = 0;
        int64_t sid = -1;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
        bool fin = false;
        if (c->stream_id >= 0 && !stream_blocked && !be->fin_sent) {
            nvec = gw_queue_unsent(&be->to_client, vec, 4);
            for (size_t i = 0; i < nvec; i++)
                vbytes += vec[i].len;
            if (be->eof && vbytes == be->to_client.unsent) {
                fin = true;
                flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
            }
            if (nvec > 0 || fin)
                sid = c->stream_id;
        }
        ngtcp2_pkt_info pi;
        ngtcp2_ssize ndatalen = -1;
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(c->qc, &ps.path, &pi, buf + off, room,
                                                   &ndatalen, flags, sid, vec, nvec, ts);
        if (ndatalen >= 0) {
            gw_queue_mark_sent(&be->to_client, (size_t)ndatalen);
            if (fin && (uint64_t)ndatalen == vbytes)
                be->fin_sent = true;
        }
        if (n < 0) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                n == NGTCP2_ERR_STREAM_NOT_FOUND) {
                if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED)
                    c->stalls_flow++;
                stream_blocked = true;
                continue;
            }
            if (n == NGTCP2_ERR_WRITE_MORE)
                continue;
            if (nbatch)
                (void)send_batch(c, &batch_ps.path, buf, off, segsize);
            gw_log(GW_LOG_DEBUG, "conn %s: ngtcp2_conn_writev_stream: %s", c->id,
                   ngtcp2_strerror((int)n));
            schedule_close_liberr(c, (int)n);
            return;
        }
        if (n == 0) {
            if (nvec > 0 && !stream_blocked)
                c->stalls_cwnd++;
            break;
        }

        size_t pkt = (size_t)n;
        if (pkt > path_max) {
            /* A PMTUD probe: the batch first, then the probe alone (GSO segments must all
             * fit the path). On a full socket it is dropped: ngtcp2 counts it lost. */
            bool ok = nbatch == 0 || send_batch(c, &batch_ps.path, buf, off, segsize);
            if (ok)
                ok = send_batch(c, &ps.path, buf + off, pkt, pkt);
            off = 0;
            nbatch = 0;
            if (!ok)
                break;
            continue;
        }
        if (nbatch == 0) {
            ngtcp2_path_copy(&batch_ps.path, &ps.path);
            segsize = pkt;
        } else if (!ngtcp2_path_eq(&batch_ps.path, &ps.path) || pkt > segsize) {
            /* Cannot join the batch: send the batch, then start a new one with it. */
            if (!send_batch(c, &batch_ps.path, buf, off, segsize)) {
                /* The socket is full: the packet just produced is dropped, and QUIC's loss
                 * recovery sends its frames again. */
                ngtcp2_conn_update_pkt_tx_time(c->qc, ts);
                return;
            }
            memmove(buf, buf + off, pkt);
            off = 0;
            nbatch = 0;
            ngtcp2_path_copy(&batch_ps.path, &ps.path);
            segsize = pkt;
        }
        off += pkt;
        nbatch++;
        pass_bytes += pkt;
        bool budget_used = pass_bytes >= budget;
        if (nbatch == max_pkts || pkt < segsize || budget_used) {
            bool ok = send_batch(c, &batch_ps.path, buf, off, segsize);
            off = 0;
            nbatch = 0;
            if (!ok) {
                c->socket_full++;
                break;
            }
            if (budget_used) {
                c->quantum_ends++;
                break;
            }
        }
    }
    if (nbatch)
        (void)send_batch(c, &batch_ps.path, buf, off, segsize);
    ngtcp2_conn_update_pkt_tx_time(c->qc, ts);
}

void gw_conn_service(struct gw_conn *c)
{
    if (c->state >= GW_CONN_CLOSING)
        return;
    if (c->refuse_stream >= 0) {
        (void)ngtcp2_conn_shutdown_stream(c->qc, 0, c->refuse_stream, GW_APP_STREAM_REFUSED);
        c->refuse_stream = -1;
        c->want_write = true;
    }
    if (!c->close_pending && c->be.kick)
        gw_backend_pump(c);
    if (!c->close_pending && c->want_write && !c->pending.data)
        conn_write(c);
    if (c->close_pending)
        start_close(c, &c->close_err, c->close_reason);
}

/* ---- timers ---- */

ngtcp2_tstamp gw_conn_expiry(struct gw_conn *c)
{
    switch (c->state) {
    case GW_CONN_DEAD:
        return 0;
    case GW_CONN_CLOSING:
    case GW_CONN_DRAINING:
        return c->close_deadline;
    default:
        break;
    }
    /* While the socket is full nothing can be sent: waking for ngtcp2's timers (pacing
     * among them) would spin. The socket becoming writable wakes the connection. */
    if (c->pending.data)
        return UINT64_MAX;
    ngtcp2_tstamp e = ngtcp2_conn_get_expiry(c->qc);
    if (c->be.state == GW_BE_CONNECTING && c->be.connect_deadline < e)
        e = c->be.connect_deadline;
    return e;
}

void gw_conn_on_timer(struct gw_conn *c, ngtcp2_tstamp now)
{
    switch (c->state) {
    case GW_CONN_DEAD:
        return;
    case GW_CONN_CLOSING:
    case GW_CONN_DRAINING:
        if (now >= c->close_deadline)
            set_state(c, GW_CONN_DEAD);
        return;
    default:
        break;
    }
    if (c->be.state == GW_BE_CONNECTING && now >= c->be.connect_deadline)
        c->be.kick = true;
    if (ngtcp2_conn_get_expiry(c->qc) > now)
        return;
    int rv = ngtcp2_conn_handle_expiry(c->qc, now);
    if (rv == NGTCP2_ERR_IDLE_CLOSE) {
        conn_dead(c, "idle timeout");
        return;
    }
    if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        conn_dead(c, "handshake timeout");
        return;
    }
    if (rv != 0) {
        schedule_close_liberr(c, rv);
        return;
    }
    c->want_write = true;
}
