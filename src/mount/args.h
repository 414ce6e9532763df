/* mount.smbquic's command line: the mount(8) helper convention
 *   mount.smbquic SPEC DIR [-sfnvF] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]
 * (options may come before or after SPEC and DIR), and hiding secrets from the process list. */
#ifndef SMBQUIC_MOUNT_ARGS_H
#define SMBQUIC_MOUNT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct mount_args {
    const char *spec;     /* //SERVER/SHARE */
    const char *dir;      /* the mount point as given */
    bool sloppy;          /* -s: skip unknown options with a warning */
    bool fake;            /* -f: mount(8)'s "fake": check everything, mount nothing */
    bool no_mtab;         /* -n: nothing to do, we never write /etc/mtab */
    int verbose;          /* -v, repeatable */
    bool foreground;      /* -F or --foreground (mount(8) never passes -F to helpers) */
    const char *mount_ns; /* -N: a PID or a path of a mount namespace file */
    const char *type;     /* -t: smbquic (or fuse.smbquic), checked */
    bool help, version;
    /* The -o arguments, pointing into argv so secrets in them can be hidden afterwards;
     * count entries of an array the caller frees (free(options)). */
    char **options;
    size_t count;
};

/* Parses argv (not changing it). Returns 0 (fill *a), or -1 with a one-line message in why
 * (the caller exits with status 1, incorrect invocation). */
int mount_args_parse(int argc, char **argv, struct mount_args *a, char *why, size_t why_len);

/* Removes password=/pass= items from a comma-separated option string in place: the rest
 * moves left and the freed tail is filled with NUL bytes, so /proc/PID/cmdline (which reads
 * argv's memory) no longer shows the value. Returns how many items were removed. */
size_t mount_args_hide_passwords(char *options);

/* Overwrites the value of environment variable name in the process's own memory (what
 * /proc/PID/environ reads) and removes it from the environment. */
void mount_args_wipe_env(const char *name);

#endif
