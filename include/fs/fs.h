/* The FUSE filesystem (libfuse 3 low-level API) over one SMB session: every FUSE request
 * becomes asynchronous SMB requests on the session's connection and is answered from their
 * completions, on one thread that also drives the transport (shared/ARCHITECTURE.md "One
 * owner"). Only src/fs includes FUSE. */
#ifndef SMBQUIC_FS_FS_H
#define SMBQUIC_FS_FS_H

#include <stdbool.h>
#include <sys/types.h>

#include "client/session.h"

enum fs_cache_mode {
    FS_CACHE_STRICT = 0, /* default: page cache kept only while it cannot be stale */
    FS_CACHE_LOOSE,
    FS_CACHE_NONE,       /* direct I/O, no attribute caching beyond actimeo */
};

struct fs_config {
    const char *mountpoint;
    const char *fsname;       /* "//server/share", shown in /proc/mounts */
    uid_t uid;                /* owner shown for every file (uid=) */
    gid_t gid;                /* gid= */
    mode_t file_mode;         /* file_mode=, default 0644 */
    mode_t dir_mode;          /* dir_mode=, default 0755 */
    bool read_only;           /* ro */
    bool allow_other;         /* allow_other */
    enum fs_cache_mode cache; /* cache= */
    double attr_timeout;      /* actimeo= seconds, default 1 */
    bool mfsymlinks;          /* mfsymlinks: symlinks as Minshall+French XSym files */
    bool debug;               /* libfuse debug output (-v -v) */
    bool hard;                /* hard: wait for a lost connection as long as it takes */
    unsigned echo_interval_s; /* echo_interval=: silence before an SMB2 ECHO; 0: none */
    unsigned closetimeo_s;    /* closetimeo=: how long a read handle is kept after close */
    /* Opens a new session to the same share after the connection was lost, with the same
     * ClientGuid, naming the lost session as the one it replaces; 0 with *out set, or a
     * negative sq_error with why filled. fs_serve calls it on a thread of its own (one
     * attempt at a time, with backoff between them), and reconnect_arg is that thread's
     * alone while it runs. NULL: a lost connection stays lost. */
    int (*reconnect)(void *arg, uint64_t previous_session_id, struct sq_session **out, char *why,
                     size_t why_len);
    void *reconnect_arg;
};

/* Mounts cfg->mountpoint and serves it until it is unmounted or SIGTERM/SIGINT/SIGHUP
 * arrives; then flushes, closes every handle and unmounts. ready(arg) is called once, right
 * after the mount is in place and before the first request is served (the mount helper uses
 * it to detach from its parent). Takes over the session (closes it before returning).
 * Returns 0 after a clean unmount, or a negative sq_error with why filled when the mount
 * could not be set up. */
int fs_serve(struct sq_session *s, const struct fs_config *cfg, void (*ready)(void *arg),
             void *arg, char *why, size_t why_len);

#endif
