/* smbquic: command-line SMB 3.1.1 client (see man/smbquic.1). */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "client/options.h"
#include "client/requests.h"
#include "client/session.h"
#include "util/error.h"
#include "util/log.h"

/* Exit statuses, documented in smbquic(1). */
enum exit_status {
    EXIT_OK = 0,
    EXIT_OPERATION = 1, /* the server refused the operation */
    EXIT_USAGE = 2,     /* bad command line or options */
    EXIT_CONNECT = 3,   /* name resolution or transport */
    EXIT_SECURITY = 4,  /* negotiate or security policy */
    EXIT_AUTH = 5,      /* authentication */
    EXIT_SHARE = 6,     /* tree connect */
    EXIT_CERTIFICATE = 7, /* server certificate, or the server's client-certificate policy */
};

static void usage(FILE *out)
{
    fputs("usage: smbquic COMMAND ARGS [-o OPTIONS] [-v]\n"
          "\n"
          "commands:\n"
          "  check //SERVER/SHARE               test each connection stage, explain failures\n"
          "  info  //SERVER/SHARE               show what was negotiated\n"
          "  ls    [-l] //SERVER/SHARE[/PATH]    list a directory\n"
          "  stat  //SERVER/SHARE/PATH           show a file's attributes\n"
          "  get   //SERVER/SHARE/PATH LOCAL     copy a file from the share\n"
          "  put   LOCAL //SERVER/SHARE/PATH     copy a file to the share\n"
          "  mv    //SERVER/SHARE/OLD NEW        rename within the share\n"
          "  rm    //SERVER/SHARE/PATH           remove a file\n"
          "  mkdir //SERVER/SHARE/PATH           create a directory\n"
          "  rmdir //SERVER/SHARE/PATH           remove an empty directory\n"
          "  status MOUNTPOINT                   show a mount's connection and request counts\n"
          "\n"
          "options (-o, comma separated): port=N, transport=quic|tcp|auto, username=USER,\n"
          "  domain=DOMAIN, credentials=FILE, sign, seal, sec=krb5|ntlmssp,\n"
          "  vers=3.1.1|3.0.2|3.0 (below 3.1.1 only with transport=tcp),\n"
          "  servername=NAME, cafile=FILE, pin=sha256:HEX, pin=spki-sha256:HEX, cert=FILE,\n"
          "  key=FILE, quic_tls_only\n"
          "The password comes from credentials=FILE or the PASSWD environment variable.\n"
          "See smbquic(1).\n",
          out);
}

static int exit_for_stage(enum sq_stage stage)
{
    switch (stage) {
    case SQ_STAGE_OPTIONS: return EXIT_USAGE;
    case SQ_STAGE_RESOLVE:
    case SQ_STAGE_CONNECT: return EXIT_CONNECT;
    case SQ_STAGE_CERTIFICATE: return EXIT_CERTIFICATE;
    case SQ_STAGE_NEGOTIATE: return EXIT_SECURITY;
    case SQ_STAGE_SESSION_SETUP: return EXIT_AUTH;
    case SQ_STAGE_TREE_CONNECT: return EXIT_SHARE;
    case SQ_STAGE_OPERATION: return EXIT_OPERATION;
    }
    return EXIT_OPERATION;
}

/* Overwrites password values in argv so they do not show in /proc/PID/cmdline. */
static void hide_passwords(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        for (char *p = argv[i]; (p = strstr(p, "pass")) != NULL; p++) {
            char *eq = strchr(p, '=');
            char *comma = strchr(p, ',');
            if (!eq || (comma && comma < eq))
                continue;
            if (strncmp(p, "password=", 9) != 0 && strncmp(p, "pass=", 5) != 0)
                continue;
            for (char *v = eq + 1; *v && *v != ','; v++)
                *v = '*';
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"options", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* Transfers allocate and free megabyte buffers for every request; keeping them in the
     * heap instead of fresh mmaps avoids a page fault per 4 KiB of every request. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
    struct sq_options o;
    sq_options_init(&o);
    char why[512] = "";
    bool long_format = false;
    int opt, rc;
    char **option_strings = calloc((size_t)argc + 1, sizeof(char *));
    int n_option_strings = 0;
    if (!option_strings)
        return EXIT_USAGE;
    while ((opt = getopt_long(argc, argv, "o:vlh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'o': option_strings[n_option_strings++] = optarg; break;
        case 'v': o.verbose++; break;
        case 'l': long_format = true; break;
        case 'h':
            usage(stdout);
            sq_options_free(&o);
            free(option_strings);
            return EXIT_OK;
        default:
            usage(stderr);
            sq_options_free(&o);
            free(option_strings);
            return EXIT_USAGE;
        }
    }
    for (int i = 0; i < n_option_strings; i++) {
        rc = sq_options_parse(&o, option_strings[i], why, sizeof(why));
        if (rc) {
            fprintf(stderr, "smbquic: options failed: %s\n", why);
            hide_passwords(argc, argv);
            sq_options_free(&o);
            free(option_strings);
            return EXIT_USAGE;
        }
    }
    hide_passwords(argc, argv);
    free(option_strings);
    sq_log_init("smbquic", false);
    if (o.verbose)
        sq_log_set_level(o.verbose > 1 ? SQ_LOG_DEBUG : SQ_LOG_INFO);

    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1) {
        usage(stderr);
        sq_options_free(&o);
        return EXIT_USAGE;
    }
    const char *cmd = args[0];
    if (strcmp(cmd, "status") == 0) {
        sq_options_free(&o);
        if (nargs != 2) {
            fprintf(stderr, "smbquic: status: wrong number of arguments\n");
            usage(stderr);
            return EXIT_USAGE;
        }
        return cmd_status(args[1]);
    }
    const char *unc = NULL, *local = NULL, *new_path = NULL;
    int want = 2;
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "mv") == 0) {
        want = 3;
        unc = nargs > 1 ? args[1] : NULL;
        local = new_path = nargs > 2 ? args[2] : NULL;
    } else if (strcmp(cmd, "put") == 0) {
        want = 3;
        local = nargs > 1 ? args[1] : NULL;
        unc = nargs > 2 ? args[2] : NULL;
    } else if (strcmp(cmd, "check") == 0 || strcmp(cmd, "info") == 0 || strcmp(cmd, "ls") == 0 ||
               strcmp(cmd, "stat") == 0 || strcmp(cmd, "rm") == 0 ||
               strcmp(cmd, "mkdir") == 0 || strcmp(cmd, "rmdir") == 0) {
        unc = nargs > 1 ? args[1] : NULL;
    } else {
        fprintf(stderr, "smbquic: unknown command '%s'\n", cmd);
        usage(stderr);
        sq_options_free(&o);
        return EXIT_USAGE;
    }
    if (nargs != want) {
        fprintf(stderr, "smbquic: %s: wrong number of arguments\n", cmd);
        usage(stderr);
        sq_options_free(&o);
        return EXIT_USAGE;
    }
    rc = sq_options_parse_unc(&o, unc, true, why, sizeof(why));
    bool needs_path = strcmp(cmd, "info") != 0 && strcmp(cmd, "ls") != 0 &&
                      strcmp(cmd, "check") != 0;
    if (!rc && needs_path && (!o.path || !*o.path)) {
        snprintf(why, sizeof(why), "'%s' names no path inside the share", unc);
        rc = SQ_ERR_INVAL;
    }
    char *new_smb_path = NULL;
    if (!rc && new_path) {
        if (strcmp(cmd, "mv") == 0) {
            /* NEW is a path in the same share, with or without the //SERVER/SHARE prefix. */
            struct sq_options tmp;
            memset(&tmp, 0, sizeof(tmp));
            char full[4096];
            if (new_path[0] == '/' && new_path[1] == '/')
                snprintf(full, sizeof(full), "%s", new_path);
            else
                snprintf(full, sizeof(full), "//%s/%s/%s", o.server, o.share, new_path);
            rc = sq_options_parse_unc(&tmp, full, true, why, sizeof(why));
            if (!rc && (strcmp(tmp.server, o.server) != 0 || strcmp(tmp.share, o.share) != 0)) {
                snprintf(why, sizeof(why), "mv works within one share");
                rc = SQ_ERR_INVAL;
            }
            if (!rc && (!tmp.path || !*tmp.path)) {
                snprintf(why, sizeof(why), "'%s' names no path inside the share", new_path);
                rc = SQ_ERR_INVAL;
            }
            if (!rc)
                new_smb_path = strdup(tmp.path);
            sq_options_free(&tmp);
        }
    }
    /* Paths are checked once here, so the commands can build requests without failing on
     * them later (MS-SMB2 names are UTF-16: the path must be valid UTF-8). */
    uint8_t *probe = NULL;
    size_t probe_len;
    if (!rc && o.path && sq_path_to_smb(o.path, &probe, &probe_len) != 0) {
        snprintf(why, sizeof(why), "'%s' is not valid UTF-8", unc);
        rc = SQ_ERR_INVAL;
    }
    free(probe);
    probe = NULL;
    if (!rc && new_smb_path && sq_path_to_smb(new_smb_path, &probe, &probe_len) != 0) {
        snprintf(why, sizeof(why), "'%s' is not valid UTF-8", new_path);
        rc = SQ_ERR_INVAL;
    }
    free(probe);
    if (rc) {
        fprintf(stderr, "smbquic: options failed: %s\n", why);
        free(new_smb_path);
        sq_options_free(&o);
        return EXIT_USAGE;
    }

    struct sq_failure f = {0};
    struct sq_session *s = NULL;
    if (strcmp(cmd, "check") == 0) {
        rc = cmd_check(&o, &f);
        sq_options_free(&o);
        fflush(stdout);
        if (rc && f.stage == SQ_STAGE_OPTIONS)
            fprintf(stderr, "smbquic: %s\n", f.detail);
        return rc ? exit_for_stage(f.stage) : EXIT_OK;
    }
    rc = sq_session_open(&o, &s, &f);
    if (!rc) {
        if (strcmp(cmd, "info") == 0)
            rc = cmd_info(s, &o, &f);
        else if (strcmp(cmd, "ls") == 0)
            rc = cmd_ls(s, &o, long_format, &f);
        else if (strcmp(cmd, "stat") == 0)
            rc = cmd_stat(s, &o, &f);
        else if (strcmp(cmd, "rm") == 0)
            rc = cmd_rm(s, &o, &f);
        else if (strcmp(cmd, "mkdir") == 0)
            rc = cmd_mkdir(s, &o, &f);
        else if (strcmp(cmd, "rmdir") == 0)
            rc = cmd_rmdir(s, &o, &f);
        else if (strcmp(cmd, "get") == 0)
            rc = cmd_get(s, &o, local, &f);
        else if (strcmp(cmd, "put") == 0)
            rc = cmd_put(s, &o, local, &f);
        else if (strcmp(cmd, "mv") == 0)
            rc = cmd_mv(s, &o, new_smb_path, &f);
        sq_session_close(s);
    }
    free(new_smb_path);
    sq_options_free(&o);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "smbquic: cannot write output\n");
        return EXIT_OPERATION;
    }
    if (rc) {
        fprintf(stderr, "smbquic: %s\n", f.detail);
        /* A response that failed its signature or decryption means tampering or a broken
         * server, whatever the stage: report it as a security failure. */
        if (f.err == SQ_ERR_SIGNATURE || f.err == SQ_ERR_DECRYPT)
            return EXIT_SECURITY;
        return exit_for_stage(f.stage);
    }
    return EXIT_OK;
}
