/* Option parsing; contract in include/client/options.h. */
#include "client/options.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/smbcrypto.h"
#include "smb2/proto.h"
#include "util/error.h"
#include "util/log.h"

static void free_secret(char **s)
{
    if (*s) {
        crypto_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

static int set_string(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return SQ_ERR_NOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

static int set_password(struct sq_options *o, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return SQ_ERR_NOMEM;
    free_secret(&o->password);
    o->password = copy;
    return 0;
}

void sq_options_init(struct sq_options *o)
{
    memset(o, 0, sizeof(*o));
    o->transport = SQ_TRANSPORT_QUIC;
    o->dialect = SMB2_DIALECT_0311;
    o->sec = AUTH_MECH_ANY;
    o->mount.uid = getuid();
    o->mount.gid = getgid();
    o->mount.file_mode = 0644;
    o->mount.dir_mode = 0755;
    o->mount.cache = SQ_CACHE_STRICT;
    o->mount.actimeo = 1.0;
    o->mount.echo_interval = 60;
    o->mount.closetimeo = 1;
    const char *user = getenv("USER");
    if (user && *user)
        o->username = strdup(user);
    /* As mount.cifs does: the password may come from $PASSWD. */
    const char *pw = getenv("PASSWD");
    if (pw)
        o->password = strdup(pw);
}

void sq_options_free(struct sq_options *o)
{
    free(o->server);
    free(o->share);
    free(o->path);
    free(o->username);
    free(o->domain);
    free(o->servername);
    free(o->cafile);
    free(o->cert);
    free(o->key);
    free_secret(&o->password);
    memset(o, 0, sizeof(*o));
}

const char *sq_dialect_name(uint16_t dialect)
{
    switch (dialect) {
    case SMB2_DIALECT_0311: return "3.1.1";
    case SMB2_DIALECT_0302: return "3.0.2";
    case SMB2_DIALECT_0300: return "3.0";
    case SMB2_DIALECT_0210: return "2.1";
    case SMB2_DIALECT_0202: return "2.0.2";
    }
    return "unknown";
}

int sq_options_parse_unc(struct sq_options *o, const char *unc, bool share_required, char *why,
                         size_t why_len)
{
    if (!((unc[0] == '/' && unc[1] == '/') || (unc[0] == '\\' && unc[1] == '\\'))) {
        snprintf(why, why_len, "'%s' is not of the form //SERVER/SHARE[/PATH]", unc);
        return SQ_ERR_INVAL;
    }
    char *copy = strdup(unc + 2);
    if (!copy)
        return SQ_ERR_NOMEM;
    for (char *p = copy; *p; p++)
        if (*p == '\\')
            *p = '/';
    char *server = copy, *rest = NULL;
    if (server[0] == '[') { /* [IPv6 address] */
        char *close = strchr(server, ']');
        if (!close) {
            free(copy);
            snprintf(why, why_len, "unterminated '[' in '%s'", unc);
            return SQ_ERR_INVAL;
        }
        *close = '\0';
        server++;
        rest = close + 1;
        if (*rest == '/')
            rest++;
        else if (*rest)
            server = NULL;
    } else {
        rest = strchr(server, '/');
        if (rest)
            *rest++ = '\0';
    }
    if (!server || !*server) {
        free(copy);
        snprintf(why, why_len, "no server name in '%s'", unc);
        return SQ_ERR_INVAL;
    }
    char *share = rest && *rest ? rest : NULL;
    char *path = NULL;
    if (share) {
        path = strchr(share, '/');
        if (path)
            *path++ = '\0';
    }
    if (share_required && (!share || !*share)) {
        free(copy);
        snprintf(why, why_len, "no share name in '%s' (expected //SERVER/SHARE)", unc);
        return SQ_ERR_INVAL;
    }
    int rc = set_string(&o->server, server);
    if (!rc && share)
        rc = set_string(&o->share, share);
    /* Normalise the path: backslash separators (MS-SMB2 2.2.13), no empty components. */
    if (!rc) {
        char *norm = calloc(1, path ? strlen(path) + 1 : 1);
        if (!norm)
            rc = SQ_ERR_NOMEM;
        size_t n = 0;
        for (char *tok = path ? strtok(path, "/") : NULL; norm && tok; tok = strtok(NULL, "/")) {
            if (n)
                norm[n++] = '\\';
            memcpy(norm + n, tok, strlen(tok));
            n += strlen(tok);
        }
        if (norm) {
            free(o->path);
            o->path = norm;
        }
    }
    free(copy);
    return rc;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* pin=sha256:HEX (the certificate) or pin=spki-sha256:HEX (its public key, *spki set) with
 * 64 hex digits; colons between bytes are allowed (as certtool and openssl print
 * fingerprints). */
static int parse_pin(const char *value, uint8_t out[32], bool *spki)
{
    *spki = strncasecmp(value, "spki-", 5) == 0;
    if (*spki)
        value += 5;
    if (strncasecmp(value, "sha256:", 7) != 0)
        return -1;
    const char *p = value + 7;
    size_t n = 0;
    while (*p && n < 64) {
        if (*p == ':') {
            p++;
            continue;
        }
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            return -1;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
        p++;
    }
    return n == 64 && *p == '\0' ? 0 : -1;
}

/* Options mount(8) passes to helpers that have no meaning for the connection itself. */
static bool is_mount_only_option(const char *name)
{
    static const char *const ignored[] = {"_netdev", "nofail", "auto", "noauto", "user",
                                          "users", "defaults", "nouser", NULL};
    for (int i = 0; ignored[i]; i++)
        if (strcmp(name, ignored[i]) == 0)
            return true;
    return strncmp(name, "x-", 2) == 0;
}

/* mount.smbquic's own options (struct sq_mount_options) and the VFS flags mount(8) passes to
 * every helper. */
static const char *const mount_option_names[] = {
    "uid",         "gid",     "file_mode",  "dir_mode",   "ro",         "rw",
    "allow_other", "cache",   "actimeo",    "hard",       "soft",       "echo_interval",
    "exec",        "noexec",  "foreground", "forceuid",   "forcegid",   "remount",
    "sync",        "dirsync", "mand",       "mfsymlinks", "closetimeo", NULL};

/* Accepted and ignored when mounting: a FUSE mount is always nosuid,nodev (suid and dev are
 * not granted); access times, i_version and lazytime are the server's business over SMB. */
static const char *const ignored_vfs_flags[] = {
    "nosuid",        "nodev",    "suid",       "dev",      "async",      "atime",
    "noatime",       "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
    "nostrictatime", "lazytime", "nolazytime", "iversion", "noiversion", "nomand",
    "silent",        "loud",     NULL};

static bool in_list(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* uid=/gid= take a number or a name, as mount.cifs does. */
static int parse_id(const char *name, const char *value, bool group, unsigned long *out, char *why,
                    size_t why_len)
{
    if (*value >= '0' && *value <= '9') {
        /* (uid_t)-1 means "no change" to chown(2): never an owner. */
        if (parse_uint(value, 0xfffffffeUL, out))
            return 0;
    } else if (group) {
        struct group *gr = getgrnam(value);
        if (gr) {
            *out = gr->gr_gid;
            return 0;
        }
        snprintf(why, why_len, "bad %s '%s' (no such group)", name, value);
        return SQ_ERR_INVAL;
    } else {
        struct passwd *pw = getpwnam(value);
        if (pw) {
            *out = pw->pw_uid;
            return 0;
        }
        snprintf(why, why_len, "bad %s '%s' (no such user)", name, value);
        return SQ_ERR_INVAL;
    }
    snprintf(why, why_len, "bad %s '%s'", name, value);
    return SQ_ERR_INVAL;
}

static int parse_mode(const char *name, const char *value, mode_t *out, char *why, size_t why_len)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, 8);
    if (errno || end == value || *end || *value == '-' || *value == '+' || v > 07777) {
        snprintf(why, why_len, "bad %s '%s' (an octal mode such as 0644)", name, value);
        return SQ_ERR_INVAL;
    }
    *out = (mode_t)v;
    return 0;
}

/* Seconds as a plain decimal number ("1", "0.5"): no sign, exponent, hex, inf or nan. */
static bool parse_seconds(const char *value, double max, double *out)
{
    size_t digits = strspn(value, "0123456789");
    const char *p = value + digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac;
        p += 1 + frac;
    }
    if (digits == 0 || *p)
        return false;
    double v = strtod(value, NULL);
    if (!isfinite(v) || v > max)
        return false;
    *out = v;
    return true;
}

/* Returns 0 after parsing one of mount_option_names, or SQ_ERR_INVAL with a message. */
static int parse_mount_option(struct sq_mount_options *m, const char *name, const char *value,
                              char *why, size_t why_len)
{
    static const char *const with_value[] = {"uid",           "gid",        "file_mode",
                                             "dir_mode",      "cache",      "actimeo",
                                             "echo_interval", "closetimeo", NULL};
    if (!m->enabled) {
        snprintf(why, why_len, "option '%s' is a mount option (see mount.smbquic(8))", name);
        return SQ_ERR_INVAL;
    }
    bool wants_value = in_list(with_value, name);
    if (wants_value && (!value || !*value)) {
        snprintf(why, why_len, "option '%s' needs a value", name);
        return SQ_ERR_INVAL;
    }
    if (!wants_value && value) {
        snprintf(why, why_len, "option '%s' takes no value", name);
        return SQ_ERR_INVAL;
    }
    unsigned long n;
    if (strcmp(name, "uid") == 0) {
        if (parse_id(name, value, false, &n, why, why_len))
            return SQ_ERR_INVAL;
        m->uid = (uid_t)n;
    } else if (strcmp(name, "gid") == 0) {
        if (parse_id(name, value, true, &n, why, why_len))
            return SQ_ERR_INVAL;
        m->gid = (gid_t)n;
    } else if (strcmp(name, "file_mode") == 0) {
        return parse_mode(name, value, &m->file_mode, why, why_len);
    } else if (strcmp(name, "dir_mode") == 0) {
        return parse_mode(name, value, &m->dir_mode, why, why_len);
    } else if (strcmp(name, "cache") == 0) {
        if (strcmp(value, "strict") == 0)
            m->cache = SQ_CACHE_STRICT;
        else if (strcmp(value, "loose") == 0)
            m->cache = SQ_CACHE_LOOSE;
        else if (strcmp(value, "none") == 0)
            m->cache = SQ_CACHE_NONE;
        else {
            snprintf(why, why_len, "bad cache '%s' (strict, loose or none)", value);
            return SQ_ERR_INVAL;
        }
    } else if (strcmp(name, "actimeo") == 0) {
        /* The kernel's own cifs client caps actimeo at about 25 days. */
        if (!parse_seconds(value, 25 * 86400.0, &m->actimeo)) {
            snprintf(why, why_len, "bad actimeo '%s' (seconds, 0 to 2160000)", value);
            return SQ_ERR_INVAL;
        }
    } else if (strcmp(name, "echo_interval") == 0) {
        /* The range mount.cifs accepts. */
        if (!parse_uint(value, 600, &n) || n == 0) {
            snprintf(why, why_len, "bad echo_interval '%s' (seconds, 1 to 600)", value);
            return SQ_ERR_INVAL;
        }
        m->echo_interval = (unsigned)n;
    } else if (strcmp(name, "closetimeo") == 0) {
        /* As the kernel's cifs client names it; up to an hour, since a kept handle can make
         * a rename of its directory by another client fail until it is closed. */
        if (!parse_uint(value, 3600, &n)) {
            snprintf(why, why_len, "bad closetimeo '%s' (seconds, 0 to 3600)", value);
            return SQ_ERR_INVAL;
        }
        m->closetimeo = (unsigned)n;
    } else if (strcmp(name, "ro") == 0 || strcmp(name, "rw") == 0) {
        m->read_only = name[1] == 'o';
    } else if (strcmp(name, "allow_other") == 0) {
        m->allow_other = true;
    } else if (strcmp(name, "hard") == 0 || strcmp(name, "soft") == 0) {
        m->hard = name[0] == 'h';
    } else if (strcmp(name, "exec") == 0 || strcmp(name, "noexec") == 0) {
        m->noexec = name[0] == 'n';
    } else if (strcmp(name, "mfsymlinks") == 0) {
        m->mfsymlinks = true;
    } else if (strcmp(name, "foreground") == 0) {
        m->foreground = true;
    } else if (strcmp(name, "forceuid") == 0 || strcmp(name, "forcegid") == 0) {
        /* What uid= and gid= always do here (mount.cifs needs these to override the server). */
    } else if (strcmp(name, "remount") == 0) {
        snprintf(why, why_len, "remount is not supported: unmount and mount again");
        return SQ_ERR_INVAL;
    } else if (strcmp(name, "sync") == 0 || strcmp(name, "dirsync") == 0) {
        snprintf(why, why_len, "option '%s' is not supported (cache=none writes through)", name);
        return SQ_ERR_INVAL;
    } else {
        snprintf(why, why_len, "option '%s' is not supported", name);
        return SQ_ERR_INVAL;
    }
    return 0;
}

static int parse_one(struct sq_options *o, char *opt, char *why, size_t why_len)
{
    char *value = strchr(opt, '=');
    if (value)
        *value++ = '\0';
    const char *name = opt;
    unsigned long n;
    int rc = 0;

#define NEEDS_VALUE()                                                                           \
    do {                                                                                        \
        if (!value) {                                                                           \
            snprintf(why, why_len, "option '%s' needs a value", name);                          \
            return SQ_ERR_INVAL;                                                                \
        }                                                                                       \
    } while (0)

    if (strcmp(name, "port") == 0) {
        NEEDS_VALUE();
        if (!parse_uint(value, 65535, &n) || n == 0) {
            snprintf(why, why_len, "bad port '%s'", value);
            return SQ_ERR_INVAL;
        }
        o->port = (uint16_t)n;
    } else if (strcmp(name, "transport") == 0) {
        NEEDS_VALUE();
        if (strcmp(value, "quic") == 0)
            o->transport = SQ_TRANSPORT_QUIC;
        else if (strcmp(value, "tcp") == 0)
            o->transport = SQ_TRANSPORT_TCP;
        else if (strcmp(value, "auto") == 0)
            o->transport = SQ_TRANSPORT_AUTO;
        else {
            snprintf(why, why_len, "bad transport '%s' (quic, tcp or auto)", value);
            return SQ_ERR_INVAL;
        }
    } else if (strcmp(name, "username") == 0 || strcmp(name, "user") == 0) {
        if (!value) {
            /* "user" alone is mount(8)'s option letting users mount; "username" needs one. */
            if (is_mount_only_option(name))
                return 0;
            NEEDS_VALUE();
        }
        rc = set_string(&o->username, value);
    } else if (strcmp(name, "domain") == 0 || strcmp(name, "dom") == 0 ||
               strcmp(name, "workgroup") == 0) {
        NEEDS_VALUE();
        rc = set_string(&o->domain, value);
    } else if (strcmp(name, "password") == 0 || strcmp(name, "pass") == 0) {
        NEEDS_VALUE();
        rc = set_password(o, value);
    } else if (strcmp(name, "credentials") == 0 || strcmp(name, "cred") == 0) {
        NEEDS_VALUE();
        rc = sq_options_read_credentials(o, value, why, why_len);
    } else if (strcmp(name, "sign") == 0) {
        o->sign = true;
    } else if (strcmp(name, "seal") == 0) {
        o->seal = true;
    } else if (strcmp(name, "guest") == 0) {
        o->guest = true;
    } else if (strcmp(name, "sec") == 0) {
        NEEDS_VALUE();
        if (strcmp(value, "krb5") == 0 || strcmp(value, "krb5i") == 0)
            o->sec = AUTH_MECH_KRB5;
        else if (strcmp(value, "ntlmssp") == 0 || strcmp(value, "ntlmsspi") == 0 ||
                 strcmp(value, "ntlmv2") == 0)
            o->sec = AUTH_MECH_NTLMSSP;
        else {
            snprintf(why, why_len, "bad sec '%s' (krb5 or ntlmssp)", value);
            return SQ_ERR_INVAL;
        }
    } else if (strcmp(name, "vers") == 0) {
        NEEDS_VALUE();
        if (strcmp(value, "3.1.1") == 0 || strcmp(value, "3.11") == 0)
            o->dialect = SMB2_DIALECT_0311;
        else if (strcmp(value, "3.0.2") == 0 || strcmp(value, "3.02") == 0)
            o->dialect = SMB2_DIALECT_0302;
        else if (strcmp(value, "3.0") == 0 || strcmp(value, "3") == 0)
            o->dialect = SMB2_DIALECT_0300;
        else {
            /* SMB1 and SMB 2.x are never offered: they lack the protections we require. */
            snprintf(why, why_len, "unsupported vers '%s' (3.1.1, 3.0.2 or 3.0)", value);
            return SQ_ERR_INVAL;
        }
    } else if (strcmp(name, "servername") == 0) {
        NEEDS_VALUE();
        rc = set_string(&o->servername, value);
    } else if (strcmp(name, "cafile") == 0) {
        NEEDS_VALUE();
        rc = set_string(&o->cafile, value);
    } else if (strcmp(name, "cert") == 0) {
        NEEDS_VALUE();
        rc = set_string(&o->cert, value);
    } else if (strcmp(name, "key") == 0) {
        NEEDS_VALUE();
        rc = set_string(&o->key, value);
    } else if (strcmp(name, "pin") == 0) {
        NEEDS_VALUE();
        uint8_t pin[32];
        bool spki;
        if (parse_pin(value, pin, &spki) != 0) {
            snprintf(why, why_len,
                     "bad pin '%s' (expected sha256: or spki-sha256: and 64 hex "
                     "digits, colons allowed)",
                     value);
            return SQ_ERR_INVAL;
        }
        memcpy(o->pin, pin, sizeof(pin));
        o->has_pin = true;
        o->pin_spki = spki;
    } else if (strcmp(name, "quic_tls_only") == 0) {
        o->quic_tls_only = true;
    } else if (strcmp(name, "verbose") == 0) {
        o->verbose++;
    } else if (is_mount_only_option(name)) {
        /* accepted silently, as mount(8) helpers do */
    } else if (in_list(mount_option_names, name)) {
        return parse_mount_option(&o->mount, name, value, why, why_len);
    } else if (o->mount.enabled && in_list(ignored_vfs_flags, name)) {
        /* accepted silently (see ignored_vfs_flags) */
    } else if (o->mount.enabled && o->mount.sloppy) {
        sq_log(SQ_LOG_WARNING, "ignoring unknown option '%s' (-s)", name);
    } else {
        snprintf(why, why_len, "unknown option '%s'", name);
        return SQ_ERR_INVAL;
    }
#undef NEEDS_VALUE
    if (rc == SQ_ERR_NOMEM)
        snprintf(why, why_len, "out of memory");
    return rc;
}

int sq_options_parse(struct sq_options *o, const char *opts, char *why, size_t why_len)
{
    char *copy = strdup(opts);
    if (!copy)
        return SQ_ERR_NOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *opt = strtok_r(copy, ",", &save); opt && !rc; opt = strtok_r(NULL, ",", &save))
        rc = parse_one(o, opt, why, why_len);
    crypto_wipe(copy, strlen(opts)); /* it may have held a password */
    free(copy);
    return rc;
}

int sq_options_read_credentials(struct sq_options *o, const char *file, char *why,
                                size_t why_len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open credentials file %s: %s", file, strerror(errno));
        return SQ_ERR_INVAL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(why, why_len, "credentials file %s is not a regular file", file);
        return SQ_ERR_INVAL;
    }
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        close(fd);
        snprintf(why, why_len,
                 "credentials file %s is readable or writable by group or others "
                 "(mode %04o); chmod 600 it",
                 file, (unsigned)(st.st_mode & 07777));
        return SQ_ERR_INVAL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return SQ_ERR_NOMEM;
    }
    char line[1024];
    int rc = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(why, why_len, "credentials file %s: line without '='", file);
            rc = SQ_ERR_INVAL;
            break;
        }
        *eq = '\0';
        const char *key = p, *value = eq + 1;
        if (strcmp(key, "username") == 0 || strcmp(key, "user") == 0)
            rc = set_string(&o->username, value);
        else if (strcmp(key, "password") == 0 || strcmp(key, "pass") == 0)
            rc = set_password(o, value);
        else if (strcmp(key, "domain") == 0 || strcmp(key, "dom") == 0)
            rc = set_string(&o->domain, value);
        else {
            snprintf(why, why_len, "credentials file %s: unknown key '%s'", file, key);
            rc = SQ_ERR_INVAL;
        }
    }
    crypto_wipe(line, sizeof(line));
    fclose(f);
    return rc;
}

int sq_options_validate(const struct sq_options *o, char *why, size_t why_len)
{
    /* MS-SMB2 2.1: QUIC always carries SMB 3.1.1; lower dialects only when asked, over TCP. */
    if (o->dialect != SMB2_DIALECT_0311 && o->transport != SQ_TRANSPORT_TCP) {
        snprintf(why, why_len, "vers=%s is only allowed with transport=tcp",
                 sq_dialect_name(o->dialect));
        return SQ_ERR_INVAL;
    }
    if (!o->server) {
        snprintf(why, why_len, "no server given");
        return SQ_ERR_INVAL;
    }
    if ((o->cert == NULL) != (o->key == NULL)) {
        snprintf(why, why_len, "a client certificate needs both cert= and key=");
        return SQ_ERR_INVAL;
    }
    /* Over TCP nothing but SMB encryption protects the data: refuse the option rather than
     * let the user believe it does something there. */
    if (o->quic_tls_only && o->transport == SQ_TRANSPORT_TCP) {
        snprintf(why, why_len, "quic_tls_only applies only to SMB over QUIC, not transport=tcp");
        return SQ_ERR_INVAL;
    }
    return 0;
}
