/* posix_suite: what POSIX programs expect of a directory on a mounted share, case by case.
 *
 *   posix_suite [--server SDIR] [--timeout SECONDS] [-l] DIR [CASE|GLOB...]
 *
 * Each case runs in DIR/CASE (made afresh, removed again when the case passes, kept for a
 * look when it fails) as its working directory and prints one line:
 *
 *   ok CASE
 *   FAIL CASE: WHAT: expected X, got Y (cases_FILE.c:LINE)
 *
 * with errno values by name (ENOENT, not 2). A case stops at its first failed check; the
 * others still run. SDIR is DIR as the server sees it (Samba's share directory): cases that
 * can also check what reached the server do so when it is given. Cases are chosen by name or
 * fnmatch(3) pattern ("xattr*"); -l lists them. A case that takes longer than --timeout
 * (default 90 s; a request that never returns) fails and ends the run.
 *
 * Exit status: 0 when every case passed, 1 when one failed, 2 on a usage error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix_suite.h"

static const struct case_group *const groups[] = {&cases_files, &cases_dirs, &cases_data};
#define GROUP_COUNT (sizeof(groups) / sizeof(groups[0]))

static const char *current_case;
static char *server_base; /* SDIR */

/* ---- running ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static unsigned case_timeout = 90;

static void on_alarm(int sig)
{
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "FAIL %s: timed out after %u s (a request never returned?)\n",
                     current_case ? current_case : "?", case_timeout);
    (void)!write(STDOUT_FILENO, msg, (size_t)n);
    _exit(1);
}

static int run_case(const char *base, const char *file, const struct test_case *tc)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", base, tc->name);
    remove_tree(dir);
    fail_msg[0] = '\0';
    current_case = tc->name;
    if (mkdir(dir, 0755) != 0 || chdir(dir) != 0) {
        printf("FAIL %s: mkdir/chdir %s: %s\n", tc->name, dir, errname(errno));
        fflush(stdout);
        return -1;
    }
    free(server_dir);
    server_dir = NULL;
    if (server_base && asprintf(&server_dir, "%s/%s", server_base, tc->name) < 0)
        server_dir = NULL;
    alarm(case_timeout);
    int rc = tc->fn();
    alarm(0);
    close_range(3, ~0u, 0); /* descriptors a failed case left open */
    case_free_all();
    if (chdir(base) != 0) {
        printf("FAIL %s: chdir back to %s: %s\n", tc->name, base, errname(errno));
        fflush(stdout);
        return -1;
    }
    if (rc == 0) {
        printf("ok %s\n", tc->name);
        remove_tree(dir);
    } else {
        printf("FAIL %s: %s (%s:%d)\n", tc->name,
               fail_msg[0] ? fail_msg : "failed without a message", file, fail_line);
    }
    fflush(stdout);
    current_case = NULL;
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: posix_suite [--server SDIR] [--timeout SECONDS] [-l] DIR [CASE|GLOB...]\n");
}

int main(int argc, char **argv)
{
    const char *base = NULL;
    char **want = NULL;
    int want_count = 0;
    bool list = false;
    want = calloc((size_t)argc, sizeof(*want));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0 || strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            server_base = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            case_timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else if (!base && !list) {
            base = argv[i];
        } else {
            want[want_count++] = argv[i];
        }
    }
    /* Every name asked for must match some case (a typo must not pass as "nothing failed"). */
    for (int w = 0; w < want_count; w++) {
        bool any = false;
        for (size_t g = 0; g < GROUP_COUNT; g++)
            for (size_t i = 0; i < groups[g]->count; i++)
                any |= fnmatch(want[w], groups[g]->cases[i].name, 0) == 0;
        if (!any) {
            fprintf(stderr, "posix_suite: no case matches '%s' (-l lists them)\n", want[w]);
            return 2;
        }
    }
    if (list) {
        for (size_t g = 0; g < GROUP_COUNT; g++)
            for (size_t i = 0; i < groups[g]->count; i++)
                printf("%s\n", groups[g]->cases[i].name);
        return 0;
    }
    if (!base) {
        usage(stderr);
        return 2;
    }
    char *abs_base = realpath(base, NULL);
    if (!abs_base) {
        fprintf(stderr, "posix_suite: %s: %s\n", base, strerror(errno));
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    int ran = 0, failed = 0;
    for (size_t g = 0; g < GROUP_COUNT; g++) {
        for (size_t i = 0; i < groups[g]->count; i++) {
            const struct test_case *tc = &groups[g]->cases[i];
            bool selected = want_count == 0;
            for (int w = 0; w < want_count && !selected; w++)
                selected = fnmatch(want[w], tc->name, 0) == 0;
            if (!selected)
                continue;
            ran++;
            if (run_case(abs_base, groups[g]->file, tc) != 0)
                failed++;
        }
    }
    printf("# %d cases, %d failed\n", ran, failed);
    free(server_dir);
    free(abs_base);
    free(want);
    return failed ? 1 : 0;
}
