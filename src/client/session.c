/* Session establishment and teardown; contract in include/client/session.h. */
#include "client/session_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/gss.h"
#include "client/policy.h"
#include "client/requests.h"
#include "crypto/smbcrypto.h"
#include "smb2/msg.h"
#include "smb2/ntstatus.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_TCP_PORT 445
#define DEFAULT_QUIC_PORT 443
/* transport=auto waits this long for QUIC before it tries TCP. */
#define AUTO_QUIC_TIMEOUT_MS 3000
#define CONNECT_TIMEOUT_MS 10000
#define RESPONSE_TIMEOUT_MS 60000

int sq_fail(struct sq_failure *f, enum sq_stage stage, const char *stage_name, int err,
            uint32_t status, const char *fmt, ...)
{
    f->stage = stage;
    f->stage_name = stage_name;
    f->err = err;
    f->status = status;
    if (err == SQ_ERR_STATUS) {
        char code[32];
        const char *name = ntstatus_name(status);
        if (!name) {
            ntstatus_format(status, code);
            name = code;
        }
        const char *hint = ntstatus_description(status);
        snprintf(f->detail, sizeof(f->detail), "%s failed: %s (%s)", stage_name, name,
                 hint ? hint : "error from the server");
    } else {
        char what[400] = "";
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(what, sizeof(what), fmt, ap);
            va_end(ap);
        } else {
            snprintf(what, sizeof(what), "%s", sq_strerror(err));
        }
        snprintf(f->detail, sizeof(f->detail), "%s failed: %s", stage_name, what);
    }
    return err;
}

struct smb2_conn *sq_session_conn(struct sq_session *s)
{
    return s->conn;
}

uint64_t sq_session_rtt_us(struct sq_session *s)
{
    return s->transport && s->transport->ops->rtt_us ? s->transport->ops->rtt_us(s->transport) : 0;
}

int64_t sq_session_silent_ms(const struct sq_session *s)
{
    return sq_monotonic_ms() - s->last_input_ms;
}

uint32_t sq_session_tree_id(const struct sq_session *s)
{
    return s->tree_id;
}

const struct sq_session_info *sq_session_info(const struct sq_session *s)
{
    return &s->info;
}

static enum crypto_cipher cipher_from_wire(uint16_t id)
{
    switch (id) {
    case SMB2_ENCRYPTION_AES128_CCM: return CRYPTO_CIPHER_AES_128_CCM;
    case SMB2_ENCRYPTION_AES128_GCM: return CRYPTO_CIPHER_AES_128_GCM;
    case SMB2_ENCRYPTION_AES256_CCM: return CRYPTO_CIPHER_AES_256_CCM;
    case SMB2_ENCRYPTION_AES256_GCM: return CRYPTO_CIPHER_AES_256_GCM;
    }
    return CRYPTO_CIPHER_NONE;
}

/* ---- NEGOTIATE, MS-SMB2 3.2.4.2.2 / 3.2.5.2 ---- */

static int negotiate(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    static const char stage[] = "negotiate";
    /* Strongest first; the server picks (Samba by its own order). GCM/GMAC are several
     * times faster than CCM/CMAC on current CPUs. */
    static const uint16_t ciphers[] = {SMB2_ENCRYPTION_AES256_GCM, SMB2_ENCRYPTION_AES128_GCM,
                                       SMB2_ENCRYPTION_AES256_CCM, SMB2_ENCRYPTION_AES128_CCM};
    static const uint16_t signing[] = {SMB2_SIGNING_AES_GMAC, SMB2_SIGNING_AES_CMAC,
                                       SMB2_SIGNING_HMAC_SHA256};
    uint8_t salt[32];
    uint16_t dialect = o->dialect;
    struct smb2_negotiate_request nr = {
        .dialects = &dialect,
        .dialect_count = 1,
        /* We always sign; "required" tells the server so (MS-SMB2 3.2.4.2.2.2). */
        .security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED | SMB2_NEGOTIATE_SIGNING_REQUIRED,
        .capabilities = SMB2_GLOBAL_CAP_LEASING | SMB2_GLOBAL_CAP_LARGE_MTU |
                        SMB2_GLOBAL_CAP_ENCRYPTION,
        .preauth_salt = salt,
        .preauth_salt_len = sizeof(salt),
        .ciphers = ciphers,
        .cipher_count = 4,
        .signing_algorithms = signing,
        .signing_algorithm_count = 3,
        .netname = o->server,
        /* MS-SMB2 2.2.3.1.5: sent on QUIC; the flag offers to skip SMB encryption because
         * TLS already protects the connection, only when the user chose quic_tls_only. */
        .send_transport_capabilities = strcmp(s->info.transport, "quic") == 0,
        .transport_flags = o->quic_tls_only ? SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY : 0,
    };
    int rc = crypto_random(salt, sizeof(salt));
    if (o->has_client_guid)
        memcpy(nr.client_guid, o->client_guid, sizeof(nr.client_guid));
    else if (!rc)
        rc = crypto_random(nr.client_guid, sizeof(nr.client_guid));
    memcpy(s->client_guid, nr.client_guid, 16);
    s->client_security_mode = nr.security_mode;
    s->client_capabilities = nr.capabilities;
    s->offered_dialect = dialect;
    struct smb2_request req;
    if (!rc)
        rc = smb2_request_init(&req, SMB2_NEGOTIATE, 0);
    if (!rc)
        rc = smb2_negotiate_request_encode(&req.msg, &nr);
    if (rc) {
        writer_free(&req.msg);
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, rc, 0, NULL);
    }
    struct sq_reply reply;
    rc = sq_session_call(s, &req, 1, &reply);
    if (rc) {
        sq_reply_clear(&reply);
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, rc, 0,
                       rc == SQ_ERR_CLOSED ? "the server closed the connection (does it "
                                             "speak SMB %s?)"
                                           : "%s",
                       rc == SQ_ERR_CLOSED ? sq_dialect_name(o->dialect) : sq_strerror(rc));
    }
    if (reply.status != STATUS_SUCCESS) {
        rc = sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_STATUS, reply.status, NULL);
        sq_reply_clear(&reply);
        return rc;
    }
    struct smb2_negotiate_response resp;
    rc = smb2_negotiate_response_decode(reply.msg, reply.len, &resp);
    if (rc) {
        sq_reply_clear(&reply);
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, rc, 0, "malformed NEGOTIATE response");
    }
    struct smb2_negotiated n = {
        .dialect = resp.dialect,
        .security_mode = resp.security_mode,
        .capabilities = resp.capabilities,
        .max_transact_size = resp.max_transact_size,
        .max_read_size = resp.max_read_size,
        .max_write_size = resp.max_write_size,
    };
    memcpy(n.server_guid, resp.server_guid, 16);
    sq_reply_clear(&reply);

    if (n.dialect != o->dialect)
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_POLICY, 0,
                       "the server chose dialect 0x%04x, we offered only SMB %s", n.dialect,
                       sq_dialect_name(o->dialect));
    if (n.dialect == SMB2_DIALECT_0311) {
        /* MS-SMB2 3.2.5.2: exactly one hash algorithm, SHA-512. */
        if (!(resp.contexts_seen & SMB2_NEGOTIATE_CONTEXT_BIT(SMB2_PREAUTH_INTEGRITY_CAPABILITIES)) ||
            resp.preauth_hash_algorithm_count != 1 ||
            resp.preauth_hash_algorithm != SMB2_PREAUTH_HASH_SHA512)
            return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_PROTO, 0,
                           "the server did not select SHA-512 pre-authentication integrity");
        n.cipher = cipher_from_wire(resp.cipher);
        if (resp.cipher && n.cipher == CRYPTO_CIPHER_NONE)
            return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_PROTO, 0,
                           "the server selected cipher 0x%04x, which we did not offer",
                           resp.cipher);
        /* Without a SIGNING_CAPABILITIES answer, 3.1.1 signs with AES-CMAC (3.2.5.2). */
        n.signing_alg = CRYPTO_SIGN_AES_CMAC;
        if (resp.contexts_seen & SMB2_NEGOTIATE_CONTEXT_BIT(SMB2_SIGNING_CAPABILITIES)) {
            if (resp.signing_algorithm > SMB2_SIGNING_AES_GMAC)
                return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_PROTO, 0,
                               "the server selected signing algorithm 0x%04x, which we did "
                               "not offer",
                               resp.signing_algorithm);
            n.signing_alg = (enum crypto_signing_alg)resp.signing_algorithm;
        }
    } else {
        /* SMB 3.0/3.0.2: AES-CMAC signing, AES-128-CCM when the server can encrypt. */
        n.signing_alg = CRYPTO_SIGN_AES_CMAC;
        n.cipher = (n.capabilities & SMB2_GLOBAL_CAP_ENCRYPTION) ? CRYPTO_CIPHER_AES_128_CCM
                                                                 : CRYPTO_CIPHER_NONE;
    }
    s->info.transport_security_only =
        o->quic_tls_only && strcmp(s->info.transport, "quic") == 0 &&
        (resp.transport_flags & SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY);
    if (o->seal && n.cipher == CRYPTO_CIPHER_NONE)
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_POLICY, 0,
                       "encryption is required (seal) but the server offers no common cipher");
    smb2_conn_set_negotiated(s->conn, &n);
    s->info.dialect = n.dialect;
    memcpy(s->info.server_guid, n.server_guid, 16);
    s->info.max_read = n.max_read_size;
    s->info.max_write = n.max_write_size;
    s->info.max_transact = n.max_transact_size;
    s->info.signing = crypto_signing_alg_name(n.signing_alg);
    s->info.cipher = crypto_cipher_name(n.cipher);
    sq_log(SQ_LOG_INFO, "negotiated SMB %s, cipher %s, signing %s, max read/write %u/%u",
           sq_dialect_name(n.dialect), s->info.cipher, s->info.signing, n.max_read_size,
           n.max_write_size);
    return 0;
}

/* ---- SESSION_SETUP, MS-SMB2 3.2.4.2.3 / 3.2.5.3 ---- */

static int send_session_setup(struct sq_session *s, uint64_t previous_session_id,
                              const uint8_t *token, size_t token_len, struct sq_reply *reply)
{
    struct smb2_session_setup_request sr = {
        .security_mode = SMB2_NEGOTIATE_SIGNING_ENABLED | SMB2_NEGOTIATE_SIGNING_REQUIRED,
        .previous_session_id = previous_session_id,
        .security_buffer = token,
        .security_buffer_len = token_len,
    };
    struct smb2_request req;
    int rc = smb2_request_init(&req, SMB2_SESSION_SETUP, 0);
    if (!rc)
        rc = smb2_session_setup_request_encode(&req.msg, &sr);
    if (rc) {
        writer_free(&req.msg);
        return rc;
    }
    return sq_session_call(s, &req, 1, reply);
}

static int session_setup(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    static const char stage[] = "session setup";
    if (o->guest)
        return sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_UNSUPPORTED, 0,
                       "guest sessions are not supported yet");
    struct auth_params ap = {
        .server = o->server,
        .username = o->username,
        .domain = o->domain,
        .password = o->password,
        .mech = o->sec,
    };
    struct auth_ctx *auth = NULL;
    int rc = auth_new(&ap, &auth);
    if (rc)
        return sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, rc, 0, NULL);

    smb2_conn_session_begin(s->conn);
    uint8_t *token = NULL;
    size_t token_len = 0;
    bool complete = false;
    struct sq_reply reply = {0};
    rc = auth_step(auth, NULL, 0, &token, &token_len, &complete);
    if (rc) {
        rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_AUTH, 0, "%s",
                     auth_last_error(auth));
        goto out;
    }
    for (;;) {
        rc = send_session_setup(s, o->previous_session_id, token, token_len, &reply);
        free(token);
        token = NULL;
        if (rc) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, rc, 0, NULL);
            goto out;
        }
        if (reply.status != STATUS_SUCCESS && reply.status != STATUS_MORE_PROCESSING_REQUIRED) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_STATUS, reply.status, NULL);
            goto out;
        }
        struct smb2_session_setup_response sr;
        struct reader hr;
        struct smb2_header hdr;
        reader_init(&hr, reply.msg, reply.len);
        if (smb2_header_decode(&hr, &hdr) != 0 ||
            smb2_session_setup_response_decode(reply.msg, reply.len, &sr) != 0) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_PROTO, 0,
                         "malformed SESSION_SETUP response");
            goto out;
        }
        if (smb2_conn_session_id(s->conn) == 0)
            smb2_conn_session_set_id(s->conn, hdr.session_id);
        else if (hdr.session_id != smb2_conn_session_id(s->conn)) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_PROTO, 0,
                         "the server changed the session id during setup");
            goto out;
        }
        if (complete && reply.status == STATUS_MORE_PROCESSING_REQUIRED) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_PROTO, 0,
                         "the server wants another round after authentication completed");
            goto out;
        }
        if (!complete) {
            /* Feed every server token, including the one in the final success response:
             * it carries the server's mechListMIC (shared/PROTOCOL.md). */
            rc = auth_step(auth, sr.security_buffer, sr.security_buffer_len, &token, &token_len,
                           &complete);
            if (rc) {
                rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_AUTH, 0, "%s",
                             auth_last_error(auth));
                goto out;
            }
        }
        if (reply.status == STATUS_MORE_PROCESSING_REQUIRED) {
            sq_reply_clear(&reply);
            continue;
        }

        /* STATUS_SUCCESS: policy checks, then keys, then the signature of this response. */
        if (!complete || token_len) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_AUTH, 0,
                         "the server accepted the session but GSSAPI authentication did not "
                         "complete");
            goto out;
        }
        /* Never accept a guest or anonymous session we did not ask for: it has no session key
         * and no signing (CVE-2016-2119). */
        if (sr.session_flags & (SMB2_SESSION_FLAG_IS_GUEST | SMB2_SESSION_FLAG_IS_NULL)) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_POLICY, 0,
                         "the server offered a %s session; refusing it",
                         (sr.session_flags & SMB2_SESSION_FLAG_IS_GUEST) ? "guest"
                                                                         : "anonymous");
            goto out;
        }
        uint8_t key[64];
        size_t key_len = 0;
        rc = auth_session_key(auth, key, sizeof(key), &key_len);
        if (!rc)
            rc = smb2_conn_session_keys(s->conn, key, key_len);
        crypto_wipe(key, sizeof(key));
        if (rc) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, rc, 0,
                         "cannot derive session keys: %s", sq_strerror(rc));
            goto out;
        }
        /* MS-SMB2 3.2.5.3.1: the final response of a 3.x session setup is signed with the new
         * signing key; verify it, so a man in the middle cannot fake success. */
        struct smb2_reply r = {.hdr = hdr, .msg = reply.msg, .len = reply.len};
        rc = smb2_conn_verify_reply(s->conn, &r);
        if (rc) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_SIGNATURE, 0,
                         "the server's final SESSION_SETUP response is not correctly signed");
            goto out;
        }
        bool encrypt = o->seal || (sr.session_flags & SMB2_SESSION_FLAG_ENCRYPT_DATA);
        const struct smb2_negotiated *n = smb2_conn_negotiated(s->conn);
        if (encrypt && n->cipher == CRYPTO_CIPHER_NONE) {
            rc = sq_fail(f, SQ_STAGE_SESSION_SETUP, stage, SQ_ERR_POLICY, 0,
                         "the server requires encryption but negotiated no cipher");
            goto out;
        }
        smb2_conn_session_set_policy(s->conn, true, encrypt);
        s->info.session_flags = sr.session_flags;
        s->info.auth = auth_mech_name(auth);
        s->info.encrypted = encrypt;
        s->logged_on = true;
        sq_log(SQ_LOG_INFO, "session 0x%016llx established with %s%s, requests %s",
               (unsigned long long)smb2_conn_session_id(s->conn), s->info.auth,
               strcmp(s->info.auth, "ntlmssp") == 0 ? " (NTLM: Kerberos was not used)" : "",
               encrypt ? "encrypted" : "signed");
        rc = 0;
        break;
    }
out:
    free(token);
    sq_reply_clear(&reply);
    auth_free(auth);
    return rc;
}

/* ---- TREE_CONNECT, MS-SMB2 3.2.4.2.4 / 3.2.5.5 ---- */

static int tree_connect(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    static const char stage[] = "tree connect";
    size_t len = strlen(o->server) + strlen(o->share) + 4;
    char *unc = malloc(len);
    if (!unc)
        return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, SQ_ERR_NOMEM, 0, NULL);
    snprintf(unc, len, "\\\\%s\\%s", o->server, o->share);
    struct smb2_tree_connect_request tr = {.path = unc};
    struct smb2_request req;
    int rc = smb2_request_init(&req, SMB2_TREE_CONNECT, 0);
    if (!rc)
        rc = smb2_tree_connect_request_encode(&req.msg, &tr);
    free(unc);
    if (rc) {
        writer_free(&req.msg);
        return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, rc, 0, "bad share name");
    }
    struct sq_reply reply;
    rc = sq_session_call(s, &req, 1, &reply);
    if (rc) {
        sq_reply_clear(&reply);
        return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, rc, 0, NULL);
    }
    if (reply.status != STATUS_SUCCESS) {
        rc = sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, SQ_ERR_STATUS, reply.status, NULL);
        sq_reply_clear(&reply);
        return rc;
    }
    struct smb2_tree_connect_response tresp;
    struct reader hr;
    struct smb2_header hdr;
    reader_init(&hr, reply.msg, reply.len);
    rc = smb2_header_decode(&hr, &hdr);
    if (!rc)
        rc = smb2_tree_connect_response_decode(reply.msg, reply.len, &tresp);
    sq_reply_clear(&reply);
    if (rc)
        return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, SQ_ERR_PROTO, 0,
                       "malformed TREE_CONNECT response");
    s->tree_id = hdr.tree_id;
    s->tree_connected = true;
    s->info.share_type = tresp.share_type;
    s->info.share_flags = tresp.share_flags;
    if (tresp.share_flags & SMB2_SHAREFLAG_ENCRYPT_DATA) {
        /* MS-SMB2 3.2.5.5: the share requires encryption. */
        if (smb2_conn_negotiated(s->conn)->cipher == CRYPTO_CIPHER_NONE)
            return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, SQ_ERR_POLICY, 0,
                           "the share requires encryption but no cipher was negotiated");
        rc = smb2_conn_tree_set_encrypt(s->conn, s->tree_id, true);
        if (rc)
            return sq_fail(f, SQ_STAGE_TREE_CONNECT, stage, rc, 0, NULL);
        s->info.encrypted = true;
    }
    sq_log(SQ_LOG_INFO, "connected to share \\\\%s\\%s (tree 0x%08x%s)", o->server, o->share,
           s->tree_id, s->info.encrypted ? ", encrypted" : "");
    return 0;
}

/* ---- FSCTL_VALIDATE_NEGOTIATE_INFO, MS-SMB2 3.2.5.5 / 2.2.31.4 / 2.2.32.6 ----
 * SMB 3.0 and 3.0.2 have no pre-auth integrity, so a man in the middle could have altered
 * the NEGOTIATE exchange (e.g. to drop the server's signing requirement). Once signing works
 * we ask the server, in a signed request, what it saw and compare. 3.1.1 does not need this. */
static int validate_negotiate(struct sq_session *s, struct sq_failure *f)
{
    static const char stage[] = "negotiate";
    const struct smb2_negotiated *n = smb2_conn_negotiated(s->conn);
    struct writer in;
    writer_init(&in);
    writer_put_le32(&in, s->client_capabilities);
    writer_put_bytes(&in, s->client_guid, 16);
    writer_put_le16(&in, s->client_security_mode);
    writer_put_le16(&in, 1);
    writer_put_le16(&in, s->offered_dialect);
    struct smb2_request req;
    int rc = writer_error(&in);
    if (!rc)
        rc = smb2_request_init(&req, SMB2_IOCTL, s->tree_id);
    if (!rc) {
        const struct smb2_file_id none = {UINT64_MAX, UINT64_MAX};
        struct smb2_ioctl_request io = {
            .ctl_code = FSCTL_VALIDATE_NEGOTIATE_INFO,
            .file_id = none,
            .input = in.data,
            .input_len = (uint32_t)in.len,
            .max_output_response = 24,
            .flags = SMB2_0_IOCTL_IS_FSCTL,
        };
        rc = smb2_ioctl_request_encode(&req.msg, &io);
        if (rc)
            writer_free(&req.msg);
    }
    writer_free(&in);
    if (rc)
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, rc, 0, NULL);
    struct sq_reply reply;
    rc = sq_session_call(s, &req, 1, &reply);
    if (rc) {
        sq_reply_clear(&reply);
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, rc, 0,
                       "validating the negotiation failed: %s", sq_strerror(rc));
    }
    struct smb2_ioctl_response io;
    bool ok = reply.status == STATUS_SUCCESS &&
              smb2_ioctl_response_decode(reply.msg, reply.len, &io) == 0 && io.output_len >= 24;
    if (ok) {
        struct reader r;
        reader_init(&r, io.output, io.output_len);
        uint32_t caps = reader_get_le32(&r);
        uint8_t guid[16];
        reader_get_bytes(&r, guid, 16);
        uint16_t mode = reader_get_le16(&r);
        uint16_t dialect = reader_get_le16(&r);
        ok = !reader_error(&r) && caps == n->capabilities &&
             memcmp(guid, n->server_guid, 16) == 0 && mode == n->security_mode &&
             dialect == n->dialect;
    }
    sq_reply_clear(&reply);
    if (!ok)
        return sq_fail(f, SQ_STAGE_NEGOTIATE, stage, SQ_ERR_POLICY, 0,
                       "the NEGOTIATE exchange was altered in transit (VALIDATE_NEGOTIATE_INFO "
                       "mismatch)");
    sq_log(SQ_LOG_INFO, "negotiation validated (FSCTL_VALIDATE_NEGOTIATE_INFO)");
    return 0;
}

/* ---- open / close ---- */

static int connect_tcp(struct sq_session *s, const struct sq_options *o, uint16_t port,
                       struct sq_failure *f)
{
    char why[256] = "";
    sq_log(SQ_LOG_INFO, "connecting to %s port %u over tcp", o->server, port);
    int rc = transport_tcp_connect(o->server, port, CONNECT_TIMEOUT_MS, &s->transport, why,
                                   sizeof(why));
    if (rc == SQ_ERR_RESOLVE)
        return sq_fail(f, SQ_STAGE_RESOLVE, "name resolution", rc, 0, "%s", why);
    if (rc)
        return sq_fail(f, SQ_STAGE_CONNECT, "connect", rc, 0, "%s", why);
    return 0;
}

/* A QUIC connect's failure as the user sees it: the stage named by the transport. */
static int quic_stage_fail(struct sq_failure *f, enum transport_quic_stage stage, int rc,
                           const char *why)
{
    switch (stage) {
    case QUIC_STAGE_RESOLVE:
        return sq_fail(f, SQ_STAGE_RESOLVE, "name resolution", rc, 0, "%s", why);
    case QUIC_STAGE_UDP:
        return sq_fail(f, SQ_STAGE_CONNECT, "udp", rc, 0, "%s", why);
    case QUIC_STAGE_CERTIFICATE:
        return sq_fail(f, SQ_STAGE_CERTIFICATE, "certificate", rc, 0, "%s", why);
    case QUIC_STAGE_CLIENT_CERTIFICATE:
        return sq_fail(f, SQ_STAGE_CERTIFICATE, "client certificate", rc, 0, "%s", why);
    case QUIC_STAGE_HANDSHAKE:
        break;
    }
    return sq_fail(f, SQ_STAGE_CONNECT, "quic handshake", rc, 0, "%s", why);
}

static int connect_quic(struct sq_session *s, const struct sq_options *o, int timeout_ms,
                        bool wait_confirmed, struct sq_failure *f)
{
    char why[768] = "";
    uint16_t port = o->port ? o->port : DEFAULT_QUIC_PORT;
    struct transport_quic_params qp = {
        .host = o->server,
        .port = port,
        .servername = o->servername,
        .cafile = o->cafile,
        .pin = o->has_pin ? o->pin : NULL,
        .pin_spki = o->pin_spki,
        .cert_file = o->cert,
        .key_file = o->key,
        .timeout_ms = timeout_ms,
        .wait_confirmed = wait_confirmed,
    };
    enum transport_quic_stage stage = QUIC_STAGE_HANDSHAKE;
    sq_log(SQ_LOG_INFO, "connecting to %s port %u over quic", o->server, port);
    int rc = transport_quic_connect(&qp, &s->transport, &stage, why, sizeof(why));
    if (!rc)
        return 0;
    return quic_stage_fail(f, stage, rc, why);
}

/* wait_confirmed: see transport_quic_params (smbquic check wants each stage exact). */
static int connect_transport(struct sq_session *s, const struct sq_options *o,
                             bool wait_confirmed, struct sq_failure *f)
{
    int rc;
    if (o->transport == SQ_TRANSPORT_TCP) {
        rc = connect_tcp(s, o, o->port ? o->port : DEFAULT_TCP_PORT, f);
    } else if (o->transport == SQ_TRANSPORT_QUIC) {
        rc = connect_quic(s, o, CONNECT_TIMEOUT_MS, wait_confirmed, f);
    } else {
        /* auto: QUIC first with a short bound, then TCP 445 (port= applies to QUIC). A
         * certificate failure is not a reason to go around TLS: it stays fatal. */
        rc = connect_quic(s, o, AUTO_QUIC_TIMEOUT_MS, wait_confirmed, f);
        if (rc && f->stage != SQ_STAGE_CERTIFICATE && f->stage != SQ_STAGE_RESOLVE) {
            sq_log(SQ_LOG_WARNING, "QUIC failed (%s); trying TCP port %u", f->detail,
                   DEFAULT_TCP_PORT);
            rc = connect_tcp(s, o, DEFAULT_TCP_PORT, f);
        }
    }
    if (rc)
        return rc;
    s->info.transport = s->transport->ops->name;
    snprintf(s->info.peer, sizeof(s->info.peer), "%s", s->transport->peer);
    s->info.connection_id = s->transport->connection_id;
    s->info.cert_subject = s->transport->cert_subject;
    s->info.cert_issuer = s->transport->cert_issuer;
    s->info.cert_sha256 = s->transport->cert_sha256;
    s->info.spki_sha256 = s->transport->spki_sha256;
    s->info.local_address = s->transport->local_address;
    s->info.migrations = &s->transport->migrations;
    sq_log(SQ_LOG_INFO, "connected to %s over %s", s->info.peer, s->info.transport);
    return 0;
}

int sq_session_open(const struct sq_options *o, struct sq_session **out, struct sq_failure *f)
{
    return sq_session_open_observed(o, out, f, NULL, NULL);
}

/* ---- system policy (include/client/policy.h) ---- */

static int policy_refuse(struct sq_failure *f, const struct sq_policy_match *m,
                         enum sq_policy_requirement r, const char *what)
{
    const struct sq_policy_rule *rule = m->by[r];
    return sq_fail(f, SQ_STAGE_OPTIONS, "system policy", SQ_ERR_POLICY, 0,
                   "%s (%s of %s, line %u of %s)", what, sq_policy_requirement_name(r),
                   rule->pattern, rule->line, SQ_POLICY_FILE);
}

/* The options the connection uses: the user's, made as strict as the system policy's rules
 * for this server and share require; or a refusal naming the rule when the user asked for
 * something the policy forbids. *m says which rules of *policy (the caller frees it) applied. */
static int apply_policy(const struct sq_options *o, struct sq_options *eff,
                        struct sq_policy *policy, struct sq_policy_match *m, struct sq_failure *f)
{
    char why[384];
    memset(m, 0, sizeof(*m));
    int rc = sq_policy_load(SQ_POLICY_FILE, policy, why, sizeof(why));
    if (rc) /* fail closed: a policy that cannot be read protects nothing */
        return sq_fail(f, SQ_STAGE_OPTIONS, "system policy", rc, 0, "%s", why);
    sq_policy_match(policy, o->server, o->servername, o->share, m);
    *eff = *o;
    if (m->requires & (1u << SQ_POLICY_QUIC)) {
        if (o->transport == SQ_TRANSPORT_TCP)
            rc = policy_refuse(f, m, SQ_POLICY_QUIC, "transport=tcp is refused: QUIC only");
        eff->transport = SQ_TRANSPORT_QUIC; /* auto: no fallback to TCP 445 */
    }
    if (!rc && (m->requires & (1u << SQ_POLICY_MIN_DIALECT)) && o->dialect < m->min_dialect) {
        char what[96];
        snprintf(what, sizeof(what), "vers=%s is refused: SMB %s at least",
                 sq_dialect_name(o->dialect), sq_dialect_name(m->min_dialect));
        rc = policy_refuse(f, m, SQ_POLICY_MIN_DIALECT, what);
    }
    if (!rc && (m->requires & (1u << SQ_POLICY_CLIENT_CERT)) && !o->cert)
        rc = policy_refuse(f, m, SQ_POLICY_CLIENT_CERT,
                           "a client certificate (cert=, key=) is required");
    if (!rc && (m->requires & (1u << SQ_POLICY_MUTUAL_AUTH))) {
        if (o->guest || o->sec == AUTH_MECH_NTLMSSP)
            rc = policy_refuse(f, m, SQ_POLICY_MUTUAL_AUTH,
                               o->guest ? "guest is refused: Kerberos only"
                                        : "sec=ntlmssp is refused: Kerberos only");
        eff->sec = AUTH_MECH_KRB5;
    }
    if (m->requires & (1u << SQ_POLICY_INTEGRITY))
        eff->sign = true;
    /* SMB encryption reaches the SMB server itself; QUIC's TLS may end at a gateway before
     * it, so quic_tls_only does not meet this rule. */
    if (m->requires & (1u << SQ_POLICY_PRIVACY)) {
        eff->seal = true;
        eff->quic_tls_only = false;
    }
    return rc;
}

/* After a failure once connected: names the policy's requirements that applied, since they,
 * not the user's options, may be what the server could not meet. */
static void policy_note(struct sq_failure *f, const struct sq_policy_match *m)
{
    if (!m->requires || f->stage == SQ_STAGE_OPTIONS)
        return;
    size_t len = strlen(f->detail);
    int n =
        snprintf(f->detail + len, sizeof(f->detail) - len, " [system policy %s:", SQ_POLICY_FILE);
    for (int r = 0; r < SQ_POLICY_REQUIREMENTS && n > 0; r++) {
        len = strlen(f->detail);
        if (m->by[r] && len < sizeof(f->detail))
            n = snprintf(f->detail + len, sizeof(f->detail) - len, " %s (%s, line %u)",
                         sq_policy_requirement_name(r), m->by[r]->pattern, m->by[r]->line);
    }
    len = strlen(f->detail);
    if (len + 1 < sizeof(f->detail))
        snprintf(f->detail + len, sizeof(f->detail) - len, "]");
}

int sq_session_open_observed(const struct sq_options *user_options, struct sq_session **out,
                             struct sq_failure *f, sq_stage_observer observer, void *arg)
{
    char why[256];
    int rc = sq_options_validate(user_options, why, sizeof(why));
    if (rc)
        return sq_fail(f, SQ_STAGE_OPTIONS, "options", rc, 0, "%s", why);
    if (!user_options->share)
        return sq_fail(f, SQ_STAGE_OPTIONS, "options", SQ_ERR_INVAL, 0, "no share given");
    struct sq_options effective;
    struct sq_policy policy;
    struct sq_policy_match applied;
    rc = apply_policy(user_options, &effective, &policy, &applied, f);
    if (rc) {
        sq_policy_free(&policy);
        return rc;
    }
    const struct sq_options *o = &effective;
    struct sq_session *s = calloc(1, sizeof(*s));
    if (!s) {
        sq_policy_free(&policy);
        return sq_fail(f, SQ_STAGE_CONNECT, "connect", SQ_ERR_NOMEM, 0, NULL);
    }
    s->response_timeout_ms = RESPONSE_TIMEOUT_MS;
    s->info.auth = "none";
    s->last_input_ms = sq_monotonic_ms();
    rc = smb2_conn_new(NULL, &s->conn);
    if (rc) {
        free(s);
        sq_policy_free(&policy);
        return sq_fail(f, SQ_STAGE_CONNECT, "connect", rc, 0, NULL);
    }
#define OBSERVE(stage)                                                                             \
    do {                                                                                           \
        if (!rc && observer)                                                                       \
            observer(arg, (stage), s);                                                             \
    } while (0)
    rc = connect_transport(s, o, observer != NULL, f);
    OBSERVE(SQ_STAGE_CONNECT);
    if (!rc && strcmp(s->info.transport, "quic") == 0)
        OBSERVE(SQ_STAGE_CERTIFICATE);
    if (!rc) {
        rc = negotiate(s, o, f);
        /* NEGOTIATE left with our TLS Finished: a server that refused the handshake (our
         * client certificate) ended the connection instead of answering. Say so as a failed
         * connect would, not as a negotiate failure. */
        enum transport_quic_stage qstage;
        char refusal[512];
        if (rc && transport_quic_refused(s->transport, &qstage, refusal, sizeof(refusal)))
            rc = quic_stage_fail(f, qstage, rc, refusal);
    }
    OBSERVE(SQ_STAGE_NEGOTIATE);
    if (!rc)
        rc = session_setup(s, o, f);
    OBSERVE(SQ_STAGE_SESSION_SETUP);
    if (!rc)
        rc = tree_connect(s, o, f);
    if (!rc && (o->dialect == SMB2_DIALECT_0300 || o->dialect == SMB2_DIALECT_0302))
        rc = validate_negotiate(s, f);
    OBSERVE(SQ_STAGE_TREE_CONNECT);
#undef OBSERVE
    /* A QUIC server (or a gateway before the SMB server) that ends the connection says why
     * in its CONNECTION_CLOSE: "SMB server unreachable" tells more than a bare close. Only
     * for a failed SMB stage: a refused handshake (a connect or certificate stage) has said
     * so in its own words already. */
    char closed_why[200];
    if (rc == SQ_ERR_CLOSED && f->stage >= SQ_STAGE_NEGOTIATE &&
        transport_quic_peer_closed(s->transport, closed_why, sizeof(closed_why)))
        sq_fail(f, f->stage, f->stage_name, rc, 0, "%s", closed_why);
    if (rc)
        policy_note(f, &applied);
    sq_policy_free(&policy);
    if (rc) {
        sq_session_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Leaves the share and the session in one round trip: TREE_DISCONNECT and LOGOFF go out as
 * one (unrelated) compound, MS-SMB2 3.2.4.1.4, since neither needs the other's answer; a
 * CLOSE of the caller's last open file can lead the compound (the server processes a
 * compound in order, 3.3.5.2.7, so the handle is closed before the tree goes). Whatever fails
 * after the CLOSE is best effort: the server cleans up when the connection closes. Returns
 * the CLOSE's outcome as sq_session_call does (0 when no CLOSE was asked for). */
static int leave_server(struct sq_session *s, const struct smb2_file_id *close_id,
                        uint32_t *close_status)
{
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    size_t count = 0;
    int rc = 0;
    memset(reqs, 0, sizeof(reqs));
    memset(replies, 0, sizeof(replies));
    if (close_id)
        rc = sq_req_close(&reqs[count++], close_id, false);
    if (!rc && s->tree_connected) {
        rc = smb2_request_init(&reqs[count], SMB2_TREE_DISCONNECT, s->tree_id);
        if (!rc)
            rc = smb2_tree_disconnect_request_encode(&reqs[count].msg);
        count++;
    }
    if (!rc && s->logged_on) {
        rc = smb2_request_init(&reqs[count], SMB2_LOGOFF, s->tree_id);
        if (!rc)
            rc = smb2_logoff_request_encode(&reqs[count].msg);
        count++;
    }
    s->tree_connected = false;
    s->logged_on = false;
    if (rc) {
        for (size_t i = 0; i < count; i++)
            writer_free(&reqs[i].msg);
        return rc;
    }
    if (count == 0)
        return 0;
    int call_rc = sq_session_call(s, reqs, count, replies);
    if (close_id) {
        /* The CLOSE's reply can have arrived even when the connection broke afterwards. */
        rc = replies[0].done ? replies[0].err : call_rc ? call_rc : SQ_ERR_CLOSED;
        *close_status = replies[0].done && !replies[0].err ? replies[0].status : 0;
    }
    for (size_t i = close_id ? 1 : 0; i < count; i++) {
        if (replies[i].done && !replies[i].err && replies[i].status) {
            char buf[NTSTATUS_FORMAT_SIZE];
            sq_log(SQ_LOG_DEBUG, "%s refused: %s",
                   reqs[i].command == SMB2_LOGOFF ? "LOGOFF" : "TREE_DISCONNECT",
                   ntstatus_str(replies[i].status, buf));
        }
    }
    for (size_t i = 0; i < count; i++)
        sq_reply_clear(&replies[i]);
    return rc;
}

static void log_disconnect(const struct sq_session *s)
{
    /* A dead connection logs nothing here: its loss was logged, and no LOGOFF goes out. */
    if (s->logged_on && !(s->conn && smb2_conn_error(s->conn)))
        sq_log(SQ_LOG_INFO, "disconnecting session 0x%016llx",
               (unsigned long long)smb2_conn_session_id(s->conn));
}

int sq_session_close_file_and_leave(struct sq_session *s, const struct smb2_file_id *id,
                                    uint32_t *close_status)
{
    *close_status = 0;
    if (smb2_conn_error(s->conn))
        return smb2_conn_error(s->conn);
    log_disconnect(s);
    return leave_server(s, id, close_status);
}

void sq_session_close(struct sq_session *s)
{
    if (!s)
        return;
    log_disconnect(s);
    if (s->conn && s->transport && !smb2_conn_error(s->conn))
        (void)leave_server(s, NULL, NULL);
    smb2_conn_free(s->conn);
    transport_close(s->transport);
    free(s);
}
