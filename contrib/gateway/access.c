#include "access.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rule_kind {
    RULE_ALLOW_SHA256,
    RULE_DENY_SHA256,
    RULE_ALLOW_ISSUER,
    RULE_DENY_ISSUER,
    RULE_REQUIRE,
};

static const char *const rule_names[] = {
    [RULE_ALLOW_SHA256] = "allow sha256", [RULE_DENY_SHA256] = "deny sha256",
    [RULE_ALLOW_ISSUER] = "allow issuer", [RULE_DENY_ISSUER] = "deny issuer",
    [RULE_REQUIRE] = "require",
};

struct rule {
    enum rule_kind kind;
    unsigned line;
    uint8_t sha256[32];
    gnutls_x509_trust_list_t issuers; /* the CA certificates of an issuer rule */
};

struct gw_access {
    struct rule *rules;
    size_t count;
    bool require;
    bool has_allow;
};

/* The peer's chain is short in practice; more than this is refused as unparsable. */
#define MAX_CHAIN   16
#define MAX_LINE    4096
#define EKU_CLIENT  "1.3.6.1.5.5.7.3.2"
#define VERIFY_TIME (GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS)

static void set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* 64 hex digits, optionally separated by ':' (as `openssl x509 -fingerprint` prints). */
static int parse_sha256(const char *text, uint8_t out[32])
{
    size_t n = 0;
    int high = -1;
    for (const char *p = text; *p; p++) {
        if (*p == ':')
            continue;
        int v = hex_value((unsigned char)*p);
        if (v < 0)
            return -1;
        if (high < 0) {
            high = v;
            continue;
        }
        if (n == 32)
            return -1;
        out[n++] = (uint8_t)(high << 4 | v);
        high = -1;
    }
    return n == 32 && high < 0 ? 0 : -1;
}

static int load_issuer(const char *access_path, const char *file, gnutls_x509_trust_list_t *out,
                       char *why, size_t why_len)
{
    char path[4096];
    const char *slash = strrchr(access_path, '/');
    if (file[0] != '/' && slash) {
        int dir_len = (int)(slash - access_path);
        if (snprintf(path, sizeof(path), "%.*s/%s", dir_len, access_path, file) >=
            (int)sizeof(path)) {
            set_why(why, why_len, "issuer path too long");
            return -1;
        }
    } else if (snprintf(path, sizeof(path), "%s", file) >= (int)sizeof(path)) {
        set_why(why, why_len, "issuer path too long");
        return -1;
    }

    gnutls_datum_t pem = {NULL, 0};
    int rv = gnutls_load_file(path, &pem);
    if (rv < 0) {
        set_why(why, why_len, "cannot read %s: %s", path, gnutls_strerror(rv));
        return -1;
    }
    gnutls_x509_crt_t *cas = NULL;
    unsigned ncas = 0;
    rv = gnutls_x509_crt_list_import2(&cas, &ncas, &pem, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(pem.data);
    if (rv < 0 || ncas == 0) {
        set_why(why, why_len, "%s holds no PEM certificate: %s", path,
                rv < 0 ? gnutls_strerror(rv) : "empty");
        if (rv >= 0)
            gnutls_free(cas);
        return -1;
    }
    gnutls_x509_trust_list_t list;
    rv = gnutls_x509_trust_list_init(&list, 0);
    if (rv < 0) {
        for (unsigned i = 0; i < ncas; i++)
            gnutls_x509_crt_deinit(cas[i]);
        gnutls_free(cas);
        set_why(why, why_len, "gnutls_x509_trust_list_init: %s", gnutls_strerror(rv));
        return -1;
    }
    /* The list takes the certificates; only the array is ours to free. */
    rv = gnutls_x509_trust_list_add_cas(list, cas, ncas, 0);
    gnutls_free(cas);
    if (rv < 0) {
        gnutls_x509_trust_list_deinit(list, 1);
        set_why(why, why_len, "%s: %s", path, gnutls_strerror(rv));
        return -1;
    }
    *out = list;
    return 0;
}

/* Splits line into at most max words; a word starting with '#' ends the line. */
static size_t split_words(char *line, char **words, size_t max, bool *too_many)
{
    size_t n = 0;
    *too_many = false;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (w[0] == '#')
            break;
        if (n == max) {
            *too_many = true;
            break;
        }
        words[n++] = w;
    }
    return n;
}

static int parse_line(struct gw_access *a, const char *path, unsigned lineno, char *line, char *why,
                      size_t why_len)
{
    char *w[4];
    bool too_many;
    size_t n = split_words(line, w, 4, &too_many);
    if (n == 0)
        return 0;
    if (too_many) {
        set_why(why, why_len, "%s:%u: too many words", path, lineno);
        return -1;
    }
    struct rule r;
    memset(&r, 0, sizeof(r));
    r.line = lineno;
    if (strcmp(w[0], "require") == 0) {
        if (n != 1) {
            set_why(why, why_len, "%s:%u: 'require' takes no argument", path, lineno);
            return -1;
        }
        r.kind = RULE_REQUIRE;
    } else if (strcmp(w[0], "allow") == 0 || strcmp(w[0], "deny") == 0) {
        bool allow = w[0][0] == 'a';
        if (n != 3) {
            set_why(why, why_len, "%s:%u: expected '%s sha256 HEX' or '%s issuer FILE'", path,
                    lineno, w[0], w[0]);
            return -1;
        }
        if (strcmp(w[1], "sha256") == 0) {
            r.kind = allow ? RULE_ALLOW_SHA256 : RULE_DENY_SHA256;
            if (parse_sha256(w[2], r.sha256) != 0) {
                set_why(why, why_len, "%s:%u: '%s' is not a SHA-256 (64 hex digits)", path, lineno,
                        w[2]);
                return -1;
            }
        } else if (strcmp(w[1], "issuer") == 0) {
            char inner[512];
            r.kind = allow ? RULE_ALLOW_ISSUER : RULE_DENY_ISSUER;
            if (load_issuer(path, w[2], &r.issuers, inner, sizeof(inner)) != 0) {
                set_why(why, why_len, "%s:%u: %s", path, lineno, inner);
                return -1;
            }
        } else {
            set_why(why, why_len, "%s:%u: unknown match '%s' (sha256 or issuer)", path, lineno,
                    w[1]);
            return -1;
        }
    } else {
        set_why(why, why_len, "%s:%u: unknown rule '%s' (allow, deny or require)", path, lineno,
                w[0]);
        return -1;
    }

    struct rule *grown = realloc(a->rules, (a->count + 1) * sizeof(*grown));
    if (!grown) {
        if (r.issuers)
            gnutls_x509_trust_list_deinit(r.issuers, 1);
        set_why(why, why_len, "out of memory");
        return -1;
    }
    a->rules = grown;
    a->rules[a->count++] = r;
    if (r.kind == RULE_REQUIRE)
        a->require = true;
    if (r.kind == RULE_ALLOW_SHA256 || r.kind == RULE_ALLOW_ISSUER)
        a->has_allow = true;
    return 0;
}

int gw_access_load(const char *path, struct gw_access **out, char *why, size_t why_len)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        set_why(why, why_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct gw_access *a = calloc(1, sizeof(*a));
    if (!a) {
        fclose(f);
        set_why(why, why_len, "out of memory");
        return -1;
    }
    char line[MAX_LINE];
    unsigned lineno = 0;
    int rv = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
            set_why(why, why_len, "%s:%u: line too long", path, lineno);
            rv = -1;
            break;
        }
        if (parse_line(a, path, lineno, line, why, why_len) != 0) {
            rv = -1;
            break;
        }
    }
    if (rv == 0 && ferror(f)) {
        set_why(why, why_len, "%s: read error", path);
        rv = -1;
    }
    fclose(f);
    if (rv != 0) {
        gw_access_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void gw_access_free(struct gw_access *access)
{
    if (!access)
        return;
    for (size_t i = 0; i < access->count; i++)
        if (access->rules[i].issuers)
            gnutls_x509_trust_list_deinit(access->rules[i].issuers, 1);
    free(access->rules);
    free(access);
}

size_t gw_access_rule_count(const struct gw_access *access)
{
    return access ? access->count : 0;
}

static void to_hex(const uint8_t *data, size_t len, char *out, size_t out_len)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 2 < out_len; i++) {
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 0xf];
    }
    out[o] = '\0';
}

static void set_dash(struct gw_cert_info *info)
{
    info->present = false;
    strcpy(info->subject, "-");
    strcpy(info->issuer, "-");
    strcpy(info->serial, "-");
    strcpy(info->sha256, "-");
}

static void copy_datum(const gnutls_datum_t *d, char *out, size_t out_len)
{
    size_t n = d->size < out_len - 1 ? d->size : out_len - 1;
    memcpy(out, d->data, n);
    out[n] = '\0';
}

void gw_cert_describe(const gnutls_datum_t *chain, unsigned n, struct gw_cert_info *info)
{
    set_dash(info);
    if (n == 0)
        return;
    uint8_t digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[0].data, chain[0].size, digest) == 0)
        to_hex(digest, sizeof(digest), info->sha256, sizeof(info->sha256));
    info->present = true;

    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0) {
        gnutls_x509_crt_deinit(crt);
        return;
    }
    gnutls_datum_t dn = {NULL, 0};
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
        copy_datum(&dn, info->subject, sizeof(info->subject));
        gnutls_free(dn.data);
    }
    if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0) {
        copy_datum(&dn, info->issuer, sizeof(info->issuer));
        gnutls_free(dn.data);
    }
    uint8_t serial[40];
    size_t serial_len = sizeof(serial);
    if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) == 0)
        to_hex(serial, serial_len, info->serial, sizeof(info->serial));
    gnutls_x509_crt_deinit(crt);
}

static bool has_client_auth(gnutls_x509_crt_t crt)
{
    for (unsigned i = 0;; i++) {
        char oid[128];
        size_t size = sizeof(oid);
        int rv = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
        if (rv == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue; /* not ours: an OID longer than any we look for */
        if (rv < 0)
            return false;
        if (strcmp(oid, EKU_CLIENT) == 0)
            return true;
    }
}

static bool rule_matches(const struct rule *r, const uint8_t digest[32], gnutls_x509_crt_t *crts,
                         unsigned ncrts)
{
    switch (r->kind) {
    case RULE_ALLOW_SHA256:
    case RULE_DENY_SHA256:
        return memcmp(r->sha256, digest, 32) == 0;
    case RULE_ALLOW_ISSUER:
    case RULE_DENY_ISSUER: {
        /* A deny matches even an expired chain: refusing must never depend on the clock. The
         * leaf's own validity is checked separately before any allow rule. */
        unsigned flags = r->kind == RULE_DENY_ISSUER ? VERIFY_TIME : 0;
        unsigned status = 0;
        int rv = gnutls_x509_trust_list_verify_crt2(r->issuers, crts, ncrts, NULL, 0, flags,
                                                    &status, NULL);
        return rv == 0 && status == 0;
    }
    case RULE_REQUIRE:
        return false;
    }
    return false;
}

static void decide(struct gw_decision *out, bool allowed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void decide(struct gw_decision *out, bool allowed, const char *fmt, ...)
{
    va_list ap;
    out->allowed = allowed;
    va_start(ap, fmt);
    vsnprintf(out->rule, sizeof(out->rule), fmt, ap);
    va_end(ap);
}

static const struct rule *find_rule(const struct gw_access *a, enum rule_kind kind)
{
    for (size_t i = 0; i < a->count; i++)
        if (a->rules[i].kind == kind)
            return &a->rules[i];
    return NULL;
}

void gw_access_decide(const struct gw_access *a, const gnutls_datum_t *chain, unsigned n,
                      time_t now, struct gw_decision *out)
{
    if (!a) {
        decide(out, true, "default");
        return;
    }
    if (n == 0) {
        const struct rule *req = find_rule(a, RULE_REQUIRE);
        if (req)
            decide(out, false, "%u:require", req->line);
        else
            decide(out, !a->has_allow, "default");
        return;
    }
    if (n > MAX_CHAIN) {
        decide(out, false, "cert:chain-too-long");
        return;
    }

    gnutls_x509_crt_t crts[MAX_CHAIN];
    unsigned ncrts = 0;
    for (; ncrts < n; ncrts++) {
        if (gnutls_x509_crt_init(&crts[ncrts]) < 0)
            break;
        if (gnutls_x509_crt_import(crts[ncrts], &chain[ncrts], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crts[ncrts]);
            break;
        }
    }
    uint8_t digest[32];
    if (ncrts != n ||
        gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[0].data, chain[0].size, digest) != 0) {
        decide(out, false, "cert:unparsable");
        goto done;
    }

    for (size_t i = 0; i < a->count; i++) {
        const struct rule *r = &a->rules[i];
        if ((r->kind == RULE_DENY_SHA256 || r->kind == RULE_DENY_ISSUER) &&
            rule_matches(r, digest, crts, ncrts)) {
            decide(out, false, "%u:%s", r->line, rule_names[r->kind]);
            goto done;
        }
    }

    time_t not_before = gnutls_x509_crt_get_activation_time(crts[0]);
    time_t not_after = gnutls_x509_crt_get_expiration_time(crts[0]);
    if (not_before == (time_t)-1 || not_after == (time_t)-1) {
        decide(out, false, "cert:unparsable");
        goto done;
    }
    if (now < not_before) {
        decide(out, false, "cert:not-yet-valid");
        goto done;
    }
    if (now > not_after) {
        decide(out, false, "cert:expired");
        goto done;
    }
    if (!has_client_auth(crts[0])) {
        decide(out, false, "cert:no-clientAuth-EKU");
        goto done;
    }

    if (!a->has_allow) {
        decide(out, true, "default");
        goto done;
    }
    for (size_t i = 0; i < a->count; i++) {
        const struct rule *r = &a->rules[i];
        if ((r->kind == RULE_ALLOW_SHA256 || r->kind == RULE_ALLOW_ISSUER) &&
            rule_matches(r, digest, crts, ncrts)) {
            decide(out, true, "%u:%s", r->line, rule_names[r->kind]);
            goto done;
        }
    }
    decide(out, false, "default");
done:
    for (unsigned i = 0; i < ncrts; i++)
        gnutls_x509_crt_deinit(crts[i]);
}
