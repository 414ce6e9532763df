/* mount.smbquic's command line; contract in args.h. */
#include "args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/smbcrypto.h"

extern char **environ;

int mount_args_parse(int argc, char **argv, struct mount_args *a, char *why, size_t why_len)
{
    static const struct option long_options[] = {
        {"options", required_argument, NULL, 'o'}, {"verbose", no_argument, NULL, 'v'},
        {"foreground", no_argument, NULL, 'F'},    {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->options = calloc((size_t)argc + 1, sizeof(char *));
    if (!a->options) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    /* mount(8) puts the flags after SPEC and DIR. The leading '-' returns operands in order
     * (as 1) whatever POSIXLY_CORRECT says; ':' reports a missing argument as ':'. */
    optind = 0; /* glibc: full re-initialisation (the unit tests parse several times) */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "-:sfnvFN:o:t:hV", long_options, NULL)) != -1) {
        switch (opt) {
        case 1:
            if (!a->spec) {
                a->spec = optarg;
            } else if (!a->dir) {
                a->dir = optarg;
            } else {
                snprintf(why, why_len, "unexpected argument '%s'", optarg);
                return -1;
            }
            break;
        case 's':
            a->sloppy = true;
            break;
        case 'f':
            a->fake = true;
            break;
        case 'n':
            a->no_mtab = true;
            break;
        case 'v':
            a->verbose++;
            break;
        case 'F':
            a->foreground = true;
            break;
        case 'N':
            a->mount_ns = optarg;
            break;
        case 'o':
            a->options[a->count++] = optarg;
            break;
        case 't':
            a->type = optarg;
            break;
        case 'h':
            a->help = true;
            break;
        case 'V':
            a->version = true;
            break;
        case ':':
            snprintf(why, why_len, "option '%s' needs an argument", argv[optind - 1]);
            return -1;
        default:
            if (optopt)
                snprintf(why, why_len, "unknown flag '-%c'", optopt);
            else
                snprintf(why, why_len, "unknown flag '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (a->help || a->version)
        return 0;
    if (a->type && strcmp(a->type, "smbquic") != 0 && strcmp(a->type, "fuse.smbquic") != 0) {
        snprintf(why, why_len, "-t %s: this helper mounts only type smbquic", a->type);
        return -1;
    }
    if (!a->spec || !a->dir) {
        snprintf(why, why_len, "usage: mount.smbquic //SERVER/SHARE DIR [-sfnvF] [-o OPTIONS]");
        return -1;
    }
    return 0;
}

static bool is_password_item(const char *item, size_t len)
{
    return (len >= 9 && strncmp(item, "password=", 9) == 0) ||
           (len >= 5 && strncmp(item, "pass=", 5) == 0);
}

size_t mount_args_hide_passwords(char *options)
{
    size_t total = strlen(options), out = 0, removed = 0;
    const char *p = options;
    const char *end = options + total;
    while (p < end) {
        size_t len = strcspn(p, ",");
        if (is_password_item(p, len)) {
            removed++;
        } else if (len > 0) {
            if (out > 0)
                options[out++] = ',';
            memmove(options + out, p, len);
            out += len;
        }
        p += len + (p + len < end ? 1 : 0);
    }
    /* Empty items are dropped too: harmless, and the result needs no more room. */
    crypto_wipe(options + out, total - out);
    return removed;
}

void mount_args_wipe_env(const char *name)
{
    size_t len = strlen(name), n = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            n++;
    if (n == 0)
        return;
    char **entries = calloc(n, sizeof(char *));
    n = 0;
    for (char **e = environ; entries && e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            entries[n++] = *e;
    unsetenv(name); /* drops every entry of that name from environ, freeing none */
    for (size_t i = 0; i < n; i++)
        crypto_wipe(entries[i], strlen(entries[i]));
    free(entries);
}
