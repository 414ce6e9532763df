/* System policy (UNC hardening); contract in include/client/policy.h, format in
 * smbquic-policy(5). */
#include "client/policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smb2/proto.h"
#include "util/error.h"

/* A line longer than this is refused: no rule needs it, and it bounds every copy below. */
#define POLICY_LINE_MAX 1024

static const char *const requirement_names[SQ_POLICY_REQUIREMENTS] = {
    [SQ_POLICY_INTEGRITY] = "RequireIntegrity",
    [SQ_POLICY_PRIVACY] = "RequirePrivacy",
    [SQ_POLICY_MUTUAL_AUTH] = "RequireMutualAuthentication",
    [SQ_POLICY_QUIC] = "RequireQuic",
    [SQ_POLICY_CLIENT_CERT] = "RequireClientCertificate",
    [SQ_POLICY_MIN_DIALECT] = "MinimumDialect",
};

const char *sq_policy_requirement_name(enum sq_policy_requirement r)
{
    return r < SQ_POLICY_REQUIREMENTS ? requirement_names[r] : "?";
}

void sq_policy_free(struct sq_policy *p)
{
    for (size_t i = 0; i < p->count; i++) {
        free(p->rules[i].server);
        free(p->rules[i].share);
        free(p->rules[i].pattern);
    }
    free(p->rules);
    p->rules = NULL;
    p->count = 0;
}

static int line_error(char *why, size_t why_len, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int line_error(char *why, size_t why_len, unsigned line, const char *fmt, ...)
{
    int n = snprintf(why, why_len, "line %u: ", line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < why_len)
        vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
    va_end(ap);
    return SQ_ERR_INVAL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

static char *lowercase_dup(const char *s, size_t len)
{
    char *d = strndup(s, len);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* //SERVER/SHARE or \\SERVER\SHARE, each part a name or "*". */
static int parse_pattern(const char *pat, struct sq_policy_rule *r, unsigned line, char *why,
                         size_t why_len)
{
    if (!((pat[0] == '/' && pat[1] == '/') || (pat[0] == '\\' && pat[1] == '\\')))
        return line_error(why, why_len, line, "'%s' is not a //SERVER/SHARE pattern", pat);
    const char *server = pat + 2;
    size_t server_len = strcspn(server, "/\\");
    const char *share = server + server_len;
    if (!server_len || !*share)
        return line_error(why, why_len, line, "'%s' is not a //SERVER/SHARE pattern", pat);
    share++;
    size_t share_len = strlen(share);
    if (!share_len || strcspn(share, "/\\") != share_len)
        return line_error(why, why_len, line, "'%s' is not a //SERVER/SHARE pattern", pat);
    /* "*" stands alone: a part such as "fs*" would suggest globbing that is not done. */
    if ((memchr(server, '*', server_len) && server_len != 1) ||
        (strchr(share, '*') && share_len != 1))
        return line_error(why, why_len, line, "'%s': * must be a whole server or share name", pat);
    r->server = lowercase_dup(server, server_len);
    r->share = lowercase_dup(share, share_len);
    r->pattern = strdup(pat);
    return r->server && r->share && r->pattern ? 0 : SQ_ERR_NOMEM;
}

static int parse_setting(char *setting, struct sq_policy_rule *r, char *why, size_t why_len)
{
    char *eq = strchr(setting, '=');
    if (!eq)
        return line_error(why, why_len, r->line, "'%s' is not SETTING=VALUE", setting);
    *eq = '\0';
    char *name = trim(setting), *value = trim(eq + 1);
    for (int i = 0; i < SQ_POLICY_REQUIREMENTS; i++) {
        if (strcasecmp(name, requirement_names[i]) != 0)
            continue;
        if (i == SQ_POLICY_MIN_DIALECT) {
            uint16_t d = strcmp(value, "3.1.1") == 0   ? SMB2_DIALECT_0311
                         : strcmp(value, "3.0.2") == 0 ? SMB2_DIALECT_0302
                         : strcmp(value, "3.0") == 0   ? SMB2_DIALECT_0300
                                                       : 0;
            if (!d)
                return line_error(why, why_len, r->line,
                                  "MinimumDialect=%s: use 3.0, 3.0.2 or 3.1.1", value);
            r->min_dialect = d > r->min_dialect ? d : r->min_dialect;
            r->requires |= 1u << i;
        } else if (strcmp(value, "1") == 0) {
            r->requires |= 1u << i;
        } else if (strcmp(value, "0") != 0) {
            return line_error(why, why_len, r->line, "%s=%s: use 1 or 0", requirement_names[i],
                              value);
        }
        return 0;
    }
    return line_error(why, why_len, r->line, "unknown setting '%s'", name);
}

/* One non-empty, non-comment line (trimmed, NUL-terminated) into r. The pattern ends at the
 * first blank, or is in double quotes (a share name may hold blanks). */
static int parse_rule(char *text, struct sq_policy_rule *r, char *why, size_t why_len)
{
    char *pattern = text, *settings;
    if (*text == '"') {
        pattern = text + 1;
        settings = strchr(pattern, '"');
        if (!settings)
            return line_error(why, why_len, r->line, "the pattern's closing quote is missing");
        *settings++ = '\0';
        if (*settings && *settings != ' ' && *settings != '\t')
            return line_error(why, why_len, r->line, "no blank after the quoted pattern");
    } else {
        settings = text + strcspn(text, " \t");
        if (*settings)
            *settings++ = '\0';
    }
    int rc = parse_pattern(pattern, r, r->line, why, why_len);
    if (rc)
        return rc;
    settings = trim(settings);
    if (!*settings)
        return line_error(why, why_len, r->line, "'%s' has no settings", pattern);
    for (char *next; settings; settings = next) {
        next = strchr(settings, ',');
        if (next)
            *next++ = '\0';
        rc = parse_setting(settings, r, why, why_len);
        if (rc)
            return rc;
    }
    return 0;
}

int sq_policy_parse(const char *text, size_t len, struct sq_policy *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    char buf[POLICY_LINE_MAX + 1];
    unsigned line = 0;
    int rc = 0;
    size_t cap = 0;
    for (size_t pos = 0; pos < len && !rc;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *start = text + pos;
        pos += line_len + (nl ? 1 : 0);
        line++;
        if (line_len > POLICY_LINE_MAX) {
            rc = line_error(why, why_len, line, "longer than %d bytes", POLICY_LINE_MAX);
            break;
        }
        if (memchr(start, '\0', line_len)) {
            rc = line_error(why, why_len, line, "contains a NUL byte");
            break;
        }
        memcpy(buf, start, line_len);
        buf[line_len] = '\0';
        char *t = trim(buf);
        if (!*t || *t == '#' || *t == ';')
            continue;
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct sq_policy_rule *n = realloc(out->rules, ncap * sizeof(*n));
            if (!n) {
                rc = SQ_ERR_NOMEM;
                break;
            }
            out->rules = n;
            cap = ncap;
        }
        struct sq_policy_rule *r = &out->rules[out->count++];
        memset(r, 0, sizeof(*r));
        r->line = line;
        rc = parse_rule(t, r, why, why_len);
    }
    if (rc) {
        if (rc == SQ_ERR_NOMEM)
            snprintf(why, why_len, "out of memory");
        sq_policy_free(out);
    }
    return rc;
}

int sq_policy_load(const char *path, struct sq_policy *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    /* A symbolic link is followed (configuration management makes them); the file it leads
     * to is checked below like any other. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return SQ_ERR_IO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        rc = SQ_ERR_IO;
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s is not a regular file", path);
        rc = SQ_ERR_INVAL;
    } else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        /* Whoever can write it could loosen it. */
        snprintf(why, why_len, "%s may be written by others than root (owner uid %u, mode %04o)",
                 path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        rc = SQ_ERR_INVAL;
    } else if (st.st_size > SQ_POLICY_MAX_BYTES) {
        snprintf(why, why_len, "%s is larger than %d bytes", path, SQ_POLICY_MAX_BYTES);
        rc = SQ_ERR_INVAL;
    }
    char *text = rc ? NULL : malloc((size_t)st.st_size + 1);
    if (!rc && !text)
        rc = SQ_ERR_NOMEM;
    size_t got = 0;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, why_len, "%s: %s", path, n ? strerror(errno) : "shorter than it was");
            rc = SQ_ERR_IO;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!rc) {
        char line_why[256];
        rc = sq_policy_parse(text, got, out, line_why, sizeof(line_why));
        if (rc)
            snprintf(why, why_len, "%s: %s", path, line_why);
    }
    free(text);
    return rc;
}

static bool name_matches(const char *pattern, const char *name)
{
    return name && (strcmp(pattern, "*") == 0 || strcasecmp(pattern, name) == 0);
}

void sq_policy_match(const struct sq_policy *p, const char *server, const char *also_server,
                     const char *share, struct sq_policy_match *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < p->count; i++) {
        const struct sq_policy_rule *r = &p->rules[i];
        if (!(name_matches(r->server, server) || name_matches(r->server, also_server)) ||
            !name_matches(r->share, share))
            continue;
        for (int k = 0; k < SQ_POLICY_REQUIREMENTS; k++) {
            if (!(r->requires & (1u << k)))
                continue;
            bool stricter = k == SQ_POLICY_MIN_DIALECT && r->min_dialect > m->min_dialect;
            if (!m->by[k] || stricter)
                m->by[k] = r;
        }
        m->requires |= r->requires;
        if (r->min_dialect > m->min_dialect)
            m->min_dialect = r->min_dialect;
    }
}
