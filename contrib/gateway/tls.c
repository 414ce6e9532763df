/* GnuTLS for the gateway: one server credential, one TLS 1.3 session per QUIC connection
 * (RFC 9001), ALPN "smb" mandatory, no session tickets and hence never 0-RTT. */
#include "gateway.h"

#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdio.h>
#include <string.h>

/* TLS 1.3 only, and only the AEADs QUIC defines with the ngtcp2 GnuTLS backend (RFC 9001
 * 5.3). The TLS 1.3 middlebox compatibility mode has no place in QUIC (RFC 9001 8.4). */
#define GW_PRIORITY                                                                                \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"      \
    "%DISABLE_TLS13_COMPAT_MODE"

static unsigned char alpn_smb[] = "smb";

/* Warns about server certificates clients will refuse (PROTOCOL.md: EKU serverAuth, DNS SANs). */
static void check_server_cert(const char *cert_file)
{
    gnutls_datum_t pem = {NULL, 0};
    if (gnutls_load_file(cert_file, &pem) < 0)
        return;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) {
        gnutls_free(pem.data);
        return;
    }
    if (gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) == 0) {
        bool server_auth = false, dns = false;
        for (unsigned i = 0;; i++) {
            char oid[128];
            size_t size = sizeof(oid);
            int rv = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
            if (rv == GNUTLS_E_SHORT_MEMORY_BUFFER)
                continue;
            if (rv < 0)
                break;
            if (strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) == 0)
                server_auth = true;
        }
        for (unsigned i = 0;; i++) {
            char name[256];
            size_t size = sizeof(name);
            int rv = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &size, NULL);
            if (rv == GNUTLS_E_SHORT_MEMORY_BUFFER)
                continue;
            if (rv < 0)
                break;
            if (rv == GNUTLS_SAN_DNSNAME)
                dns = true;
        }
        time_t now = time(NULL);
        if (!server_auth)
            gw_log(GW_LOG_WARN, "%s: no EKU serverAuth: clients will refuse it", cert_file);
        if (!dns)
            gw_log(GW_LOG_WARN, "%s: no DNS subjectAltName: clients will refuse it", cert_file);
        if (gnutls_x509_crt_get_expiration_time(crt) < now)
            gw_log(GW_LOG_WARN, "%s: expired", cert_file);
        if (gnutls_x509_crt_get_activation_time(crt) > now)
            gw_log(GW_LOG_WARN, "%s: not yet valid", cert_file);
    }
    gnutls_x509_crt_deinit(crt);
    gnutls_free(pem.data);
}

int gw_tls_init(struct gw_tls *tls, const char *cert_file, const char *key_file, char *why,
                size_t why_len)
{
    memset(tls, 0, sizeof(*tls));
    int rv = gnutls_certificate_allocate_credentials(&tls->cred);
    if (rv < 0) {
        snprintf(why, why_len, "gnutls_certificate_allocate_credentials: %s", gnutls_strerror(rv));
        return -1;
    }
    /* The certificate file may hold the chain (leaf first). */
    rv = gnutls_certificate_set_x509_key_file2(tls->cred, cert_file, key_file, GNUTLS_X509_FMT_PEM,
                                               NULL, 0);
    if (rv < 0) {
        snprintf(why, why_len, "cannot load --cert %s / --key %s: %s", cert_file, key_file,
                 gnutls_strerror(rv));
        gw_tls_free(tls);
        return -1;
    }
    const char *err_pos = NULL;
    rv = gnutls_priority_init2(&tls->priority, GW_PRIORITY, &err_pos, 0);
    if (rv < 0) {
        snprintf(why, why_len, "gnutls_priority_init2 at '%s': %s", err_pos ? err_pos : "?",
                 gnutls_strerror(rv));
        gw_tls_free(tls);
        return -1;
    }
    check_server_cert(cert_file);
    return 0;
}

void gw_tls_free(struct gw_tls *tls)
{
    if (tls->priority)
        gnutls_priority_deinit(tls->priority);
    if (tls->cred)
        gnutls_certificate_free_credentials(tls->cred);
    memset(tls, 0, sizeof(*tls));
}

/* The client's Finished (TLS 1.3: after its Certificate and CertificateVerify, so the client
 * has proven possession of the certificate's key): time for the access decision. Failing
 * here aborts the handshake before it completes, so no SMB byte reaches the backend. */
static int finished_hook(gnutls_session_t session, unsigned int htype, unsigned when,
                         unsigned int incoming, const gnutls_datum_t *msg)
{
    (void)when;
    (void)msg;
    if (htype != GNUTLS_HANDSHAKE_FINISHED || !incoming)
        return 0;
    ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
    struct gw_conn *c = ref->user_data;
    return gw_conn_on_client_finished(c) == 0 ? 0 : GNUTLS_E_CERTIFICATE_ERROR;
}

int gw_tls_session_new(struct gw_tls *tls, struct gw_conn *c)
{
    gnutls_session_t s;
    /* No GNUTLS_ENABLE_EARLY_DATA and no ticket key: no resumption, never 0-RTT (SMB
     * requests are not idempotent). */
    int rv = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET);
    if (rv < 0) {
        gw_log(GW_LOG_WARN, "gnutls_init: %s", gnutls_strerror(rv));
        return -1;
    }
    if ((rv = gnutls_priority_set(s, tls->priority)) < 0 ||
        (rv = ngtcp2_crypto_gnutls_configure_server_session(s)) < 0 ||
        (rv = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls->cred)) < 0) {
        gw_log(GW_LOG_WARN, "TLS session setup: %s",
               rv == -1 ? "ngtcp2_crypto_gnutls_configure_server_session failed"
                        : gnutls_strerror(rv));
        gnutls_deinit(s);
        return -1;
    }
    /* Always ask (never GNUTLS_CERT_REQUIRE): a client without a certificate must get the
     * policy's access_denied alert from finished_hook, not GnuTLS's certificate_required. */
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    gnutls_datum_t alpn = {alpn_smb, sizeof(alpn_smb) - 1};
    rv = gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (rv < 0) {
        gw_log(GW_LOG_WARN, "gnutls_alpn_set_protocols: %s", gnutls_strerror(rv));
        gnutls_deinit(s);
        return -1;
    }
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_PRE,
                                       finished_hook);
    gnutls_session_set_ptr(s, &c->conn_ref);
    c->tls = s;
    ngtcp2_conn_set_tls_native_handle(c->qc, s);
    return 0;
}
