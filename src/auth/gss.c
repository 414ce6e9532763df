/* GSSAPI SPNEGO initiator for SMB SESSION_SETUP (MS-SMB2 3.2.5.3, RFC 4178).
 * See include/auth/gss.h for the contract and shared/PROTOCOL.md "NTLMv2 and Kerberos through
 * MIT GSSAPI SPNEGO" for what was verified against Samba. */
#include "auth/gss.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>

#include "util/error.h"

/* RFC 4178 section 3: the SPNEGO pseudo-mechanism, 1.3.6.1.5.5.2. */
static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
/* RFC 1964 / RFC 4121: Kerberos V5, 1.2.840.113554.1.2.2. */
static gss_OID_desc krb5_oid = {9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
/* MS-NLMP: NTLMSSP, 1.3.6.1.4.1.311.2.2.10 (the OID gss-ntlmssp registers). */
static gss_OID_desc ntlmssp_oid = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
/* GSS_C_INQ_SSPI_SESSION_KEY, 1.2.840.113554.1.2.2.5.5: the SSPI-style session key that
 * MS-SMB2 3.2.5.3 calls Session.SessionKey (first element: the key; Kerberos adds its enctype
 * as a second element). */
static gss_OID_desc session_key_oid = {11, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x05\x05"};

/* What Samba's SMB client (gensec_gssapi) asks for: mutual authentication, replay and
 * sequence detection, and integrity (Samba asks for it whenever it wants a session key or
 * signing; SPNEGO's mechListMIC, RFC 4178 5, needs it too). gss-ntlmssp 1.2.0 sends the same
 * NEGOTIATE flags (SIGN, KEY_EXCH, ...) with or without it, but other mechanisms may not.
 * MS-SMB2 3.2.4.2.3 says MutualAuth and Delegate; we leave delegation out: against a server
 * trusted for delegation it makes krb5 forward the TGT, which fails (KDC_ERR_BADOPTION)
 * unless the ticket is forwardable, and it hands the user's TGT to the server. */
#define AUTH_REQ_FLAGS                                                                             \
    (GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG)

#define AUTH_ERR_MAX 1024

struct auth_ctx {
    char *server;
    char *username;
    char *domain;
    char *password; /* NULL once credentials are acquired */
    size_t password_len;
    enum auth_mech_pref mech;

    gss_cred_id_t cred;
    gss_name_t target;
    gss_ctx_id_t ctx;
    bool started;
    bool complete;
    bool failed;
    const char *mech_name;
    char err[AUTH_ERR_MAX];
};

static void wipe_password(struct auth_ctx *a)
{
    if (a->password != NULL) {
        gnutls_memset(a->password, 0, a->password_len);
        free(a->password);
        a->password = NULL;
        a->password_len = 0;
    }
}

static void err_append(struct auth_ctx *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void err_append(struct auth_ctx *a, const char *fmt, ...)
{
    size_t used = strlen(a->err);
    va_list ap;

    if (used + 1 >= sizeof(a->err))
        return;
    va_start(ap, fmt);
    vsnprintf(a->err + used, sizeof(a->err) - used, fmt, ap);
    va_end(ap);
}

static void err_display(struct auth_ctx *a, OM_uint32 code, int type, gss_OID mech)
{
    OM_uint32 minor, message_context = 0;
    gss_buffer_desc text;
    bool first = true;

    do {
        OM_uint32 major = gss_display_status(&minor, code, type, mech, &message_context, &text);
        if (GSS_ERROR(major))
            break;
        err_append(a, "%s%.*s", first ? "" : ", ", (int)text.length, (const char *)text.value);
        gss_release_buffer(&minor, &text);
        first = false;
    } while (message_context != 0);
}

/* Records "what: major text (minor text)" from gss_display_status for auth_last_error. */
static void set_gss_error(struct auth_ctx *a, const char *what, OM_uint32 major, OM_uint32 minor,
                          gss_OID mech)
{
    a->err[0] = '\0';
    err_append(a, "%s: ", what);
    err_display(a, major, GSS_C_GSS_CODE, GSS_C_NO_OID);
    if (minor != 0) {
        err_append(a, " (");
        err_display(a, minor, GSS_C_MECH_CODE, mech);
        err_append(a, ")");
    }
}

static bool oid_equal(const gss_OID_desc *x, const gss_OID_desc *y)
{
    return x->length == y->length && memcmp(x->elements, y->elements, x->length) == 0;
}

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    return *out == NULL ? SQ_ERR_NOMEM : 0;
}

int auth_new(const struct auth_params *p, struct auth_ctx **out)
{
    struct auth_ctx *a;
    int r;

    *out = NULL;
    if (p == NULL || p->server == NULL || p->server[0] == '\0')
        return SQ_ERR_INVAL;
    if (p->mech != AUTH_MECH_ANY && p->mech != AUTH_MECH_KRB5 && p->mech != AUTH_MECH_NTLMSSP)
        return SQ_ERR_INVAL;
    /* NTLM needs a user name to go with the password. */
    if (p->password != NULL && p->mech != AUTH_MECH_KRB5 &&
        (p->username == NULL || p->username[0] == '\0'))
        return SQ_ERR_INVAL;

    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return SQ_ERR_NOMEM;
    a->cred = GSS_C_NO_CREDENTIAL;
    a->target = GSS_C_NO_NAME;
    a->ctx = GSS_C_NO_CONTEXT;
    a->mech = p->mech;
    a->mech_name = "unknown";

    if ((r = dup_opt(p->server, &a->server)) != 0 ||
        (r = dup_opt(p->username, &a->username)) != 0 || (r = dup_opt(p->domain, &a->domain)) != 0)
        goto fail;
    /* Kerberos uses the credential cache; the password is only for NTLM. */
    if (p->password != NULL && p->mech != AUTH_MECH_KRB5) {
        if ((r = dup_opt(p->password, &a->password)) != 0)
            goto fail;
        a->password_len = strlen(a->password);
    }
    *out = a;
    return 0;

fail:
    auth_free(a);
    return r;
}

void auth_free(struct auth_ctx *a)
{
    OM_uint32 minor;

    if (a == NULL)
        return;
    wipe_password(a);
    if (a->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &a->ctx, GSS_C_NO_BUFFER);
    if (a->cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&minor, &a->cred);
    if (a->target != GSS_C_NO_NAME)
        gss_release_name(&minor, &a->target);
    free(a->server);
    free(a->username);
    free(a->domain);
    gnutls_memset(a, 0, sizeof(*a));
    free(a);
}

/* The initiator's name as gss-ntlmssp and krb5 parse GSS_C_NT_USER_NAME: "DOMAIN\user" for
 * NTLM when a domain is given (gss-ntlmssp splits it into domain and user), else the name as
 * given ("user" or "user@REALM"), which krb5 matches against the credential cache. */
static int import_user(struct auth_ctx *a, bool with_domain, gss_name_t *out)
{
    OM_uint32 major, minor;
    gss_buffer_desc buf;
    char *name = NULL;

    *out = GSS_C_NO_NAME;
    if (a->username == NULL)
        return 0;
    if (with_domain && a->domain != NULL && a->domain[0] != '\0' &&
        strpbrk(a->username, "\\@") == NULL) {
        if (asprintf(&name, "%s\\%s", a->domain, a->username) < 0)
            return SQ_ERR_NOMEM;
    } else {
        name = strdup(a->username);
        if (name == NULL)
            return SQ_ERR_NOMEM;
    }
    buf.value = name;
    buf.length = strlen(name);
    major = gss_import_name(&minor, &buf, GSS_C_NT_USER_NAME, out);
    free(name);
    if (GSS_ERROR(major)) {
        set_gss_error(a, "cannot import the user name", major, minor, GSS_C_NO_OID);
        return SQ_ERR_AUTH;
    }
    return 0;
}

/* No password: Kerberos only, from the default ccache or client keytab. Probing for a krb5
 * credential first turns the mechglue's "SPNEGO cannot find mechanisms to negotiate" into a
 * clear message. With a ccache this never touches the network; with only a client keytab krb5
 * asks the KDC for a TGT here (and blocks while it waits). */
static int probe_krb5(struct auth_ctx *a, gss_name_t user)
{
    gss_OID_set_desc mechs = {1, &krb5_oid};
    gss_cred_id_t probe = GSS_C_NO_CREDENTIAL;
    OM_uint32 major, minor;
    char what[256];

    major = gss_acquire_cred(&minor, user, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &probe, NULL,
                             NULL);
    if (!GSS_ERROR(major)) {
        gss_release_cred(&minor, &probe);
        return 0;
    }
    snprintf(what, sizeof(what), "no Kerberos ticket for %.200s and no password given",
             a->username != NULL ? a->username : "the default principal");
    set_gss_error(a, what, major, minor, &krb5_oid);
    return SQ_ERR_AUTH;
}

static int acquire_creds(struct auth_ctx *a)
{
    gss_OID_set_desc spnego_set = {1, &spnego_oid};
    gss_OID_set_desc neg_set;
    gss_key_value_element_desc elements[2];
    gss_key_value_set_desc store;
    gss_name_t user = GSS_C_NO_NAME;
    OM_uint32 major, minor;
    bool use_krb5 = a->mech == AUTH_MECH_KRB5 || (a->mech == AUTH_MECH_ANY && a->password == NULL);
    bool have_password = a->password != NULL;
    int r;

    if ((r = import_user(a, !use_krb5, &user)) != 0)
        goto out;

    if (a->password != NULL) {
        /* gss-ntlmssp's own cred-store keys. The generic "password" key (and
         * gss_acquire_cred_with_password) would also make krb5 send an AS-REQ to the default
         * realm, which blocks for as long as no KDC answers. */
        elements[0].key = "ntlmssp_password";
        elements[0].value = a->password;
        store.count = 1;
        if (a->domain != NULL && a->domain[0] != '\0') {
            elements[1].key = "ntlmssp_domain";
            elements[1].value = a->domain;
            store.count = 2;
        }
        store.elements = elements;
        major = gss_acquire_cred_from(&minor, user, GSS_C_INDEFINITE, &spnego_set, GSS_C_INITIATE,
                                      &store, &a->cred, NULL, NULL);
        /* gss-ntlmssp keeps only the NT hash: our copy is no longer needed. */
        wipe_password(a);
    } else {
        if (use_krb5 && (r = probe_krb5(a, user)) != 0)
            goto out;
        major = gss_acquire_cred(&minor, user, GSS_C_INDEFINITE, &spnego_set, GSS_C_INITIATE,
                                 &a->cred, NULL, NULL);
    }
    if (GSS_ERROR(major)) {
        if (!have_password && a->mech == AUTH_MECH_NTLMSSP)
            set_gss_error(a, "no NTLM credentials and no password given", major, minor,
                          GSS_C_NO_OID);
        else
            set_gss_error(a, "cannot acquire credentials", major, minor, GSS_C_NO_OID);
        r = SQ_ERR_AUTH;
        goto out;
    }

    /* The initiator chooses the mechanism list it proposes (RFC 4178 3.2); MIT's
     * gss_set_neg_mechs restricts it (sec=krb5, sec=ntlmssp). Acquiring for the single mechanism
     * instead would leave SPNEGO with no credential to negotiate with. A missing password means
     * Kerberos in AUTH_MECH_ANY too. */
    if (a->mech != AUTH_MECH_ANY || use_krb5) {
        neg_set.count = 1;
        neg_set.elements = use_krb5 ? &krb5_oid : &ntlmssp_oid;
        major = gss_set_neg_mechs(&minor, a->cred, &neg_set);
        if (GSS_ERROR(major)) {
            set_gss_error(a, "cannot restrict SPNEGO mechanisms", major, minor, GSS_C_NO_OID);
            r = SQ_ERR_AUTH;
            goto out;
        }
    }
    r = 0;

out:
    wipe_password(a);
    if (user != GSS_C_NO_NAME)
        gss_release_name(&minor, &user);
    return r;
}

static int import_target(struct auth_ctx *a)
{
    OM_uint32 major, minor;
    gss_buffer_desc buf;
    char *spn;

    /* The SMB service principal cifs/server, the service class Windows and Samba clients use
     * (from implementations); GSS_C_NT_HOSTBASED_SERVICE takes "service@host" (RFC 2743
     * 4.1). */
    if (asprintf(&spn, "cifs@%s", a->server) < 0)
        return SQ_ERR_NOMEM;
    buf.value = spn;
    buf.length = strlen(spn);
    major = gss_import_name(&minor, &buf, GSS_C_NT_HOSTBASED_SERVICE, &a->target);
    free(spn);
    if (GSS_ERROR(major)) {
        set_gss_error(a, "cannot import the server name", major, minor, GSS_C_NO_OID);
        return SQ_ERR_AUTH;
    }
    return 0;
}

static void find_mech_name(struct auth_ctx *a)
{
    OM_uint32 major, minor;
    gss_OID mech = GSS_C_NO_OID;

    major = gss_inquire_context(&minor, a->ctx, NULL, NULL, NULL, &mech, NULL, NULL, NULL);
    if (GSS_ERROR(major) || mech == GSS_C_NO_OID)
        return;
    if (oid_equal(mech, &krb5_oid))
        a->mech_name = "kerberos";
    else if (oid_equal(mech, &ntlmssp_oid))
        a->mech_name = "ntlmssp";
}

static int fail(struct auth_ctx *a, int r)
{
    OM_uint32 minor;

    a->failed = true;
    wipe_password(a);
    if (a->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &a->ctx, GSS_C_NO_BUFFER);
    return r;
}

int auth_step(struct auth_ctx *a, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
              bool *complete)
{
    gss_buffer_desc in_tok = GSS_C_EMPTY_BUFFER, out_tok = GSS_C_EMPTY_BUFFER;
    OM_uint32 major, minor, tmp, ret_flags = 0;
    gss_OID actual_mech = GSS_C_NO_OID;
    int r;

    if (out != NULL)
        *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (complete != NULL)
        *complete = false;
    if (a == NULL || out == NULL || out_len == NULL || complete == NULL ||
        (in == NULL && in_len != 0))
        return SQ_ERR_INVAL;
    if (a->failed)
        return SQ_ERR_AUTH;
    if (a->complete) {
        /* Keep the context: its session key is still needed. */
        snprintf(a->err, sizeof(a->err), "the security context is already established");
        return SQ_ERR_INVAL;
    }

    if (!a->started) {
        if ((r = acquire_creds(a)) != 0 || (r = import_target(a)) != 0)
            return fail(a, r);
        /* MS-SMB2 3.2.4.2.3 lets the client ignore the NEGOTIATE response's
         * GSSNegotiateToken and start a normal SPNEGO exchange with its own NegTokenInit
         * (RFC 4178 3.2): any input on the first call is ignored. */
    } else {
        /* Every later step needs the server's token, including the final STATUS_SUCCESS
         * response's one that carries the server's mechListMIC (RFC 4178 5). */
        if (in_len == 0) {
            snprintf(a->err, sizeof(a->err),
                     "the server sent no security token but authentication is not complete");
            return fail(a, SQ_ERR_AUTH);
        }
        in_tok.value = (void *)(uintptr_t)in;
        in_tok.length = in_len;
    }
    a->started = true;

    major = gss_init_sec_context(&minor, a->cred, &a->ctx, a->target, &spnego_oid, AUTH_REQ_FLAGS,
                                 GSS_C_INDEFINITE, GSS_C_NO_CHANNEL_BINDINGS,
                                 in_tok.length != 0 ? &in_tok : GSS_C_NO_BUFFER, &actual_mech,
                                 &out_tok, &ret_flags, NULL);
    if (GSS_ERROR(major)) {
        set_gss_error(a, "gss_init_sec_context", major, minor, actual_mech);
        gss_release_buffer(&tmp, &out_tok);
        return fail(a, SQ_ERR_AUTH);
    }

    if (out_tok.length != 0) {
        *out = malloc(out_tok.length);
        if (*out == NULL) {
            gss_release_buffer(&tmp, &out_tok);
            return fail(a, SQ_ERR_NOMEM);
        }
        memcpy(*out, out_tok.value, out_tok.length);
        *out_len = out_tok.length;
    }
    gss_release_buffer(&tmp, &out_tok);

    if (major == GSS_S_COMPLETE) {
        a->complete = true;
        find_mech_name(a);
    }
    *complete = a->complete;
    return 0;
}

int auth_session_key(struct auth_ctx *a, uint8_t *key, size_t key_cap, size_t *key_len)
{
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    OM_uint32 major, minor;
    int r = SQ_ERR_AUTH;
    size_t i;

    if (key_len != NULL)
        *key_len = 0;
    if (a == NULL || key == NULL || key_len == NULL)
        return SQ_ERR_INVAL;
    if (!a->complete || a->failed) {
        snprintf(a->err, sizeof(a->err), "no session key: authentication is not complete");
        return SQ_ERR_AUTH;
    }

    /* MS-SMB2 3.2.5.3: Session.SessionKey is the key the GSS mechanism established. */
    major = gss_inquire_sec_context_by_oid(&minor, a->ctx, &session_key_oid, &set);
    if (GSS_ERROR(major)) {
        set_gss_error(a, "cannot get the session key", major, minor, GSS_C_NO_OID);
        return SQ_ERR_AUTH;
    }
    if (set == GSS_C_NO_BUFFER_SET || set->count == 0 || set->elements[0].length == 0) {
        snprintf(a->err, sizeof(a->err), "the mechanism returned no session key");
    } else if (set->elements[0].length > key_cap) {
        snprintf(a->err, sizeof(a->err), "session key of %zu bytes does not fit in %zu",
                 set->elements[0].length, key_cap);
    } else {
        memcpy(key, set->elements[0].value, set->elements[0].length);
        *key_len = set->elements[0].length;
        r = 0;
    }
    if (set != GSS_C_NO_BUFFER_SET) {
        for (i = 0; i < set->count; i++)
            gnutls_memset(set->elements[i].value, 0, set->elements[i].length);
        gss_release_buffer_set(&minor, &set);
    }
    return r;
}

const char *auth_mech_name(const struct auth_ctx *a)
{
    if (a == NULL || !a->complete)
        return "unknown";
    return a->mech_name;
}

const char *auth_last_error(const struct auth_ctx *a)
{
    if (a == NULL)
        return "no authentication context";
    return a->err;
}
