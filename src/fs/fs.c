/* The FUSE low-level filesystem; contract in include/fs/fs.h.
 *
 * Every handler builds one SMB request or a related compound (MS-SMB2 3.2.4.1.4), submits it
 * and returns; the completion replies to FUSE. Nothing here blocks on the network, so many
 * FUSE requests are in flight on one thread. Nodes are addressed by their share-relative
 * path (SMB opens by name) and numbered by the server's file id (FileInternalInformation,
 * MS-FSCC 2.4.22), so inode numbers are stable across lookups and remounts. */
#define FUSE_USE_VERSION 314
#include "fs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <linux/falloc.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/mfsymlink.h"
#include "client/requests.h"
#include "crypto/smbcrypto.h"
#include "smb2/msg.h"
#include "smb2/ntstatus.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mountinfo.h"
#include "util/netevents.h"
#include "util/utf16.h"
#include "util/clock.h"

#define NODE_BUCKETS 4096
#define DIR_QUERY_LEN (256u * 1024u)
/* FILE_ALL_INFORMATION ends with the file's full name (MS-FSCC 2.4.2): 100 fixed bytes and up
 * to 8,142 UTF-16 units of path, more than PATH_MAX, in one credit. */
#define ALL_INFO_MAX 16384u
#define READDIR_BATCH_MAX (1024u * 1024u)
/* Sequential reads: the kernel caps a FUSE mount's readahead at 128 KiB (VM_READAHEAD_PAGES)
 * whatever max_readahead says, so each READ would be 128 KiB, one after another. A window of
 * several 1 MiB reads (max_pages) in flight is what hides the round trip: READAHEAD_MIN_KB on
 * a LAN, and on a long path the round trip measured while mounting times SQ_IO_TARGET_RATE
 * (the rate `smbquic get` aims at), up to READAHEAD_MAX_KB. Measured through a 100 ms relay
 * (udp-impair) on loopback: 8 MiB read a 256 MiB file at 92 MiB/s, which is 8 MiB per
 * round trip. Only root may change it (sysfs); a user mount keeps the kernel's default. */
#define READAHEAD_MIN_KB 8192u
#define READAHEAD_MAX_KB 65536u
/* Readahead requests are "background" ones: the kernel keeps at most max_background queued
 * and stops async readahead at congestion_threshold, so both leave room for the largest
 * window in 1 MiB reads. */
#define FUSE_MAX_BACKGROUND      (READAHEAD_MAX_KB / 1024 + 16)
#define FUSE_CONGESTION_THRESHOLD (READAHEAD_MAX_KB / 1024 + 8)


struct fs_node {
    struct fs_node *next; /* hash chain */
    fuse_ino_t ino;
    uint64_t nlookup;
    char *path; /* share-relative, '/'-separated, "" for the root */
    /* Hard links: the file's other names we found it under (a lookup by another name makes
     * that the path, and the old one goes here). When the path is unlinked or replaced, the
     * newest of these takes over, so the remaining names keep working. At most
     * NODE_ALIASES_MAX (the oldest are forgotten; a lookup by name finds them again). */
    char **aliases;
    size_t naliases;
    /* Unlinked while open: renamed to a hidden name with delete-on-close set (see
     * remove_common), so only our open handles still reach it. */
    bool unlinked;
    /* Write-behind (see "write-behind" below): WRITEs sent and answered to the kernel but not
     * yet to us, the largest end offset among them, and the requests waiting for them to
     * finish. */
    struct call *writes;
    uint64_t writes_end;
    struct parked *parked, **parked_tail;
    /* Leasing (see "leases"): the state of the lease this file's open handles share
     * (SMB2_LEASE_* caching flags), and how many times a lease of it was broken or ended. */
    uint32_t lease_state;
    uint32_t lease_generation;
    bool attrs_leased; /* attributes were given to the kernel for as long as the lease holds */
    /* A file the mount created: its creating open asked for a lease before the inode number
     * was known, under a key of its own (see "leases"), which every open through this node
     * keeps using, so they all share one lease; 0: the key is the inode number. */
    uint64_t created_lease_id;
    /* A handle the application closed, kept open while the lease allows (see "leases"). */
    struct fs_handle *kept;
};

#define NODE_ALIASES_MAX 8

/* Names given to files unlinked while open (remove_common); listings hide them. */
#define UNLINKED_PREFIX ".smbquic-unlinked-"

/* Drops the kernel's cached pages and attributes of files whose lease was broken, on a thread
 * of its own (see "leases"). */
struct inval_item {
    fuse_ino_t ino;
    bool attrs_only; /* the attributes, not the pages */
};

struct invalidator {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct inval_item *queue;
    size_t count, cap;
    bool running, stop;
    bool busy; /* inside the kernel call */
    pthread_t thread;
};

struct fs {
    struct sq_session *session;
    struct smb2_conn *conn;
    struct fuse_session *se;
    struct fs_config cfg;
    struct fs_node *nodes[NODE_BUCKETS];
    uint64_t root_server_id; /* the root's own file id, mapped to FUSE_ROOT_ID */
    int conn_error;
    int status_fd; /* listening socket for `smbquic status`, -1 when there is none */
    struct fs_handle *open_files; /* every open file and directory: unlink, fstat, reconnect */
    uint64_t unlinked_seq;
    size_t nodes_with_aliases; /* so unlinks scan the nodes only when some have */
    size_t write_behind_bytes; /* data in write-behind WRITEs, bounded by WRITE_BEHIND_MAX */
    unsigned readahead_kb;     /* the window for this mount's path (readahead_kb_for) */
    bool closing; /* the session is being closed: callbacks must not send or resume */
    /* Reconnecting (see "reconnect"): when the connection was lost, when the next attempt
     * is due, attempts so far, and how many times a new connection took over. */
    int64_t lost_at_ms, next_attempt_ms;
    unsigned attempts;
    uint64_t reconnects;
    struct attempt *attempt; /* the attempt running on its own thread, or NULL */
    pthread_t attempt_thread;
    int attempt_pipe[2];                      /* the attempt writes a byte to [1] when it ends */
    int64_t echo_sent_ms; /* check_liveness: when the unanswered ECHO went out; 0: none */
    int net_events_fd;    /* while disconnected: network changes (see "reconnect"); or -1 */
    uint64_t sent_before[SMB2_COMMAND_COUNT]; /* requests sent on the connections before */
    /* Leases (see "leases"): whether opens ask for them, the random half of every lease
     * key, the breaks the server sent, and the thread that drops what they invalidate. */
    bool leases;
    uint8_t lease_salt[SMB2_LEASE_KEY_SIZE / 2];
    size_t created_leases; /* nodes with a created_lease_id */
    uint64_t lease_breaks;
    struct invalidator inval;
    /* Handles kept after close (see "leases"), oldest first, so the first is due first. */
    struct fs_handle *kept_head, *kept_tail;
    size_t kept_count;
    /* Durable handles reclaimed after reconnects, and those opened by name instead. */
    uint64_t durable_reclaims, reopens_by_name;
    /* Write-behind WRITEs the lost connection failed, sent again once reconnected (see
     * "write-behind"), and how many were sent again so far. */
    struct call *replays;
    uint64_t writes_replayed;
    /* Kept WRITEs given up (a soft mount's wait ended, or the mount ended disconnected):
     * their descriptors report EIO. */
    uint64_t writes_not_sent;
    /* Requests the lost connection failed, to run again once reconnected (see "retry"). */
    struct parked *retries, **retries_tail;
    uint64_t requests_retried;
};

/* An open file or directory. */
struct fs_handle {
    struct smb2_file_id file_id;
    fuse_ino_t ino;
    int access_mode; /* O_RDONLY, O_WRONLY or O_RDWR as opened */
    /* The first error a write-behind WRITE through this handle met, reported once at its next
     * write, flush (close) or fsync: to the descriptor that wrote, not to a reader's close. */
    int write_error;
    struct fs_handle *prev, *next; /* fs->open_files, or the kept handles */
    int64_t close_at_ms;           /* kept handles: when it is closed after all */
    bool is_dir;
    /* The server granted durability (see "reconnect"): after a lost connection the open is
     * reclaimed by this CreateGuid rather than opened again by name. */
    bool durable;
    uint8_t create_guid[16];
    /* The flock(2) lock this open file description holds on the server (see "flock"): 0,
     * LOCK_SH or LOCK_EX. */
    int flock_held;
    char *path; /* directories: for the nodes readdirplus creates */
    /* Directory listing, read in full at the first readdir and served by offset. */
    struct dir_entry *entries;
    size_t entry_count, entry_cap;
    bool listed;
    bool prefetched; /* opendir's compound brought the first batch (open_common) */
};

struct dir_entry {
    char *name;
    struct stat st;
};

/* ---- nodes ---- */

static void handle_link(struct fs *fs, struct fs_handle *h)
{
    h->prev = NULL;
    h->next = fs->open_files;
    if (fs->open_files)
        fs->open_files->prev = h;
    fs->open_files = h;
}

static void handle_free(struct fs_handle *h)
{
    for (size_t i = 0; i < h->entry_count; i++)
        free(h->entries[i].name);
    free(h->entries);
    free(h->path);
    free(h);
}

static void handle_unlink(struct fs *fs, struct fs_handle *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else if (fs->open_files == h)
        fs->open_files = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
}

/* An open handle of ino, preferring one that can write when writable is set; NULL if none. */
static struct fs_handle *open_handle_of(struct fs *fs, fuse_ino_t ino, bool writable)
{
    struct fs_handle *any = NULL;
    for (struct fs_handle *h = fs->open_files; h; h = h->next) {
        if (h->ino != ino || h->is_dir)
            continue;
        if (!writable || h->access_mode != O_RDONLY)
            return h;
        any = any ? any : h;
    }
    return any;
}

static struct fs_node *node_find(struct fs *fs, fuse_ino_t ino)
{
    for (struct fs_node *n = fs->nodes[ino % NODE_BUCKETS]; n; n = n->next)
        if (n->ino == ino)
            return n;
    return NULL;
}

/* Maps a server file id to the FUSE inode number (the root is always FUSE_ROOT_ID). */
static fuse_ino_t ino_of(struct fs *fs, uint64_t server_id)
{
    if (server_id == fs->root_server_id)
        return FUSE_ROOT_ID;
    /* A server id of 1 would collide with the root's FUSE number; ids are 64-bit and Samba's
     * are inode numbers, so fold it to the largest value instead. */
    return server_id == FUSE_ROOT_ID ? UINT64_MAX : server_id;
}

static void node_free(struct fs_node *n)
{
    for (size_t i = 0; i < n->naliases; i++)
        free(n->aliases[i]);
    free(n->aliases);
    free(n->path);
    free(n);
}

/* Where path is among n's other names, or n->naliases. */
static size_t alias_index(const struct fs_node *n, const char *path)
{
    size_t i = 0;
    while (i < n->naliases && strcmp(n->aliases[i], path) != 0)
        i++;
    return i;
}

/* Removes aliases[i], keeping the order (newest last). */
static void alias_remove(struct fs *fs, struct fs_node *n, size_t i)
{
    free(n->aliases[i]);
    memmove(&n->aliases[i], &n->aliases[i + 1], (n->naliases - i - 1) * sizeof(char *));
    if (--n->naliases == 0) {
        free(n->aliases);
        n->aliases = NULL;
        fs->nodes_with_aliases--;
    }
}

/* Keeps old_path as another name of n (it now goes by a newer one); takes old_path. */
static void alias_add(struct fs *fs, struct fs_node *n, char *old_path)
{
    if (n->naliases == NODE_ALIASES_MAX)
        alias_remove(fs, n, 0);
    char **a = realloc(n->aliases, (n->naliases + 1) * sizeof(char *));
    if (!a) {
        free(old_path);
        return;
    }
    if (n->naliases == 0)
        fs->nodes_with_aliases++;
    n->aliases = a;
    n->aliases[n->naliases++] = old_path;
}

/* The name path no longer leads to its file (unlinked, or replaced by a rename): a node with
 * other names goes by the newest of them from now on, and loses path as an alias. */
static void nodes_name_gone(struct fs *fs, const char *path)
{
    if (fs->nodes_with_aliases == 0)
        return;
    for (size_t b = 0; b < NODE_BUCKETS; b++) {
        for (struct fs_node *n = fs->nodes[b]; n; n = n->next) {
            if (n->naliases == 0)
                continue;
            if (strcmp(n->path, path) == 0) {
                size_t newest = n->naliases - 1;
                free(n->path);
                n->path = n->aliases[newest];
                n->aliases[newest] = NULL; /* now the path: alias_remove frees NULL */
                alias_remove(fs, n, newest);
                n->unlinked = false;
            } else {
                size_t i = alias_index(n, path);
                if (i < n->naliases)
                    alias_remove(fs, n, i);
            }
        }
    }
}

/* Counts one more lookup of ino at path, creating or renaming the node. */
static struct fs_node *node_ref(struct fs *fs, fuse_ino_t ino, const char *path)
{
    struct fs_node *n = node_find(fs, ino);
    if (n) {
        /* The root stays "" even when a server-side link leads back to it; any other node
         * follows the name it was last found under (a hard link of a file unlinked while
         * open makes it reachable by name again). */
        if (ino != FUSE_ROOT_ID && strcmp(n->path, path) != 0) {
            char *p = strdup(path);
            if (p) {
                size_t i = alias_index(n, path);
                if (i < n->naliases)
                    alias_remove(fs, n, i);
                /* A hidden name of a file unlinked while open is no name to go back to. */
                if (n->unlinked)
                    free(n->path);
                else
                    alias_add(fs, n, n->path);
                n->path = p;
                n->unlinked = false;
            }
        }
        n->nlookup++;
        return n;
    }
    n = calloc(1, sizeof(*n));
    if (!n || !(n->path = strdup(path))) {
        free(n);
        return NULL;
    }
    n->ino = ino;
    n->nlookup = 1;
    n->next = fs->nodes[ino % NODE_BUCKETS];
    fs->nodes[ino % NODE_BUCKETS] = n;
    return n;
}

static void kept_close(struct fs *fs, struct fs_handle *h);

static void node_forget(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
    if (ino == FUSE_ROOT_ID)
        return;
    struct fs_node **pp = &fs->nodes[ino % NODE_BUCKETS];
    for (; *pp; pp = &(*pp)->next) {
        struct fs_node *n = *pp;
        if (n->ino != ino)
            continue;
        n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
        /* The kernel forgets an inode only after its last release, which waits for its
         * writes; a node with writes or parked requests still is kept regardless. */
        if (n->nlookup == 0 && !n->writes && !n->parked) {
            if (n->kept) /* nothing can open it again through this node */
                kept_close(fs, n->kept);
            *pp = n->next;
            if (n->naliases)
                fs->nodes_with_aliases--;
            if (n->created_lease_id)
                fs->created_leases--;
            node_free(n);
        }
        return;
    }
}

/* *path, when it is old or below it, becomes the same place below new_path. */
/* Whether p is path (its first len bytes) or below it. */
static bool path_at_or_below(const char *p, const char *path, size_t len)
{
    return strncmp(p, path, len) == 0 && (p[len] == '\0' || p[len] == '/');
}

static void path_rebase(char **path, const char *old, size_t old_len, const char *new_path)
{
    if (!path_at_or_below(*path, old, old_len))
        return;
    size_t len = strlen(new_path) + strlen(*path + old_len) + 1;
    char *p = malloc(len);
    if (!p)
        return;
    snprintf(p, len, "%s%s", new_path, *path + old_len);
    free(*path);
    *path = p;
}

/* After a rename, nodes (and other names of nodes) at or below old move to new. */
static void nodes_rename(struct fs *fs, const char *old, const char *new_path)
{
    size_t old_len = strlen(old);
    for (size_t b = 0; b < NODE_BUCKETS; b++) {
        for (struct fs_node *n = fs->nodes[b]; n; n = n->next) {
            path_rebase(&n->path, old, old_len, new_path);
            for (size_t i = 0; i < n->naliases; i++)
                path_rebase(&n->aliases[i], old, old_len, new_path);
        }
    }
}

static char *child_path(const struct fs_node *parent, const char *name)
{
    size_t len = strlen(parent->path) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s%s%s", parent->path, *parent->path ? "/" : "", name);
    return p;
}

/* ---- attributes ---- */

/* FILETIME counts 100 ns ticks since 1601 (MS-DTYP 2.3.3); times before 1970 are negative
 * time_t values, rounded down as time_t does. */
#define FILETIME_UNIX_EPOCH 116444736000000000ll
#define FILETIME_TICKS_PER_SECOND 10000000ll

static struct timespec filetime_to_timespec(uint64_t ft)
{
    if (ft > (uint64_t)INT64_MAX)
        ft = (uint64_t)INT64_MAX;
    int64_t ticks = (int64_t)ft - FILETIME_UNIX_EPOCH;
    int64_t sec = ticks / FILETIME_TICKS_PER_SECOND, rem = ticks % FILETIME_TICKS_PER_SECOND;
    if (rem < 0) {
        sec--;
        rem += FILETIME_TICKS_PER_SECOND;
    }
    return (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = (long)rem * 100};
}

/* In SET_INFO 0 means "leave unchanged" (MS-FSCC 2.4.7), so times at or before 1601 become
 * the first tick after it. */
static uint64_t timespec_to_filetime(const struct timespec *ts)
{
    const int64_t min_sec = -FILETIME_UNIX_EPOCH / FILETIME_TICKS_PER_SECOND;
    const int64_t max_sec = (INT64_MAX - FILETIME_UNIX_EPOCH) / FILETIME_TICKS_PER_SECOND - 1;
    int64_t sec = ts->tv_sec;
    if (sec <= min_sec)
        return 1;
    if (sec > max_sec)
        sec = max_sec;
    return (uint64_t)(sec * FILETIME_TICKS_PER_SECOND + ts->tv_nsec / 100 + FILETIME_UNIX_EPOCH);
}

static void fill_stat(struct fs *fs, struct stat *st, uint64_t server_id, uint32_t attributes,
                      uint64_t size, uint64_t alloc, uint32_t nlink, uint64_t atime,
                      uint64_t mtime, uint64_t ctime)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino_of(fs, server_id);
    bool dir = attributes & FILE_ATTRIBUTE_DIRECTORY;
    mode_t perm = dir ? fs->cfg.dir_mode : fs->cfg.file_mode;
    if (attributes & FILE_ATTRIBUTE_READONLY)
        perm &= ~(mode_t)0222;
    st->st_mode = (dir ? S_IFDIR : S_IFREG) | perm;
    st->st_nlink = nlink ? nlink : 1;
    st->st_uid = fs->cfg.uid;
    st->st_gid = fs->cfg.gid;
    /* Data still in write-behind WRITEs will be there: the size the server reports may not
     * count it yet, and the kernel would cut its own view of the file short. */
    struct fs_node *n = node_find(fs, st->st_ino);
    if (n && n->writes && !dir && n->writes_end > size)
        size = n->writes_end;
    st->st_size = (off_t)size;
    st->st_blocks = (blkcnt_t)((alloc + 511) / 512);
    st->st_blksize = 1024 * 1024;
    st->st_atim = filetime_to_timespec(atime);
    st->st_mtim = filetime_to_timespec(mtime);
    st->st_ctim = filetime_to_timespec(ctime);
}

/* The FileAllInformation in a QUERY_INFO response; -EIO when it does not parse. */
static int all_info_from_reply(const uint8_t *msg, size_t len, struct smb2_file_all_info *all)
{
    struct smb2_output_buffer out;
    if (smb2_query_info_response_decode(msg, len, &out) != 0 ||
        smb2_file_all_info_decode(out.buffer, out.buffer_len, all) != 0)
        return -EIO;
    return 0;
}

static int stat_from_all_info(struct fs *fs, const uint8_t *msg, size_t len, struct stat *st)
{
    struct smb2_file_all_info all;
    if (all_info_from_reply(msg, len, &all) != 0)
        return -EIO;
    fill_stat(fs, st, all.index_number, all.basic.file_attributes, all.standard.end_of_file,
              all.standard.allocation_size, all.standard.number_of_links,
              all.basic.last_access_time, all.basic.last_write_time, all.basic.change_time);
    return 0;
}

static int errno_of(uint32_t status)
{
    int e = ntstatus_to_errno(status);
    return e ? e : EIO;
}

/* ---- asynchronous calls ---- */

#define CALL_MAX 8

/* One compound in flight: copies of the replies, then `done` runs once all arrived. */
struct call {
    struct fs *fs;
    fuse_req_t req;
    size_t count, arrived;
    int err; /* first local/connection error */
    uint32_t status[CALL_MAX];
    uint8_t *msg[CALL_MAX];
    size_t len[CALL_MAX];
    void (*done)(struct call *c);
    /* Operation state. */
    char *path;
    char *path2;
    uint8_t *data; /* e.g. an xattr value to set */
    size_t data_len;
    struct fs_node *parent;
    struct fs_handle *handle;
    struct fuse_file_info fi;
    fuse_ino_t ino;
    uint64_t offset;
    size_t size;
    int flags;
    size_t query_index; /* which reply holds the QUERY_INFO for getattr_done */
    struct call *next_write; /* fs_node.writes */
    /* open, getattr: whether the file's lease allowed read caching when the request was sent,
     * and its generation then (the cache is trusted only if the lease held all along). */
    bool lease_held;
    uint32_t lease_generation;
    /* open, create: asked for a durable handle under this CreateGuid (see "reconnect"). */
    bool durable_asked;
    uint8_t create_guid[16];
    uint64_t created_lease_id; /* create: the lease was asked for under this key (see "leases") */
    /* done took the call over (a write-behind WRITE kept for replay): not freed after it. */
    bool kept;
    /* The operation to run again (with ino, fi, offset, size) when the connection's loss
     * fails the call (see "retry"); 0 for one that must not run twice. */
    int retry_op;
    /* unlink, rmdir: a run again after a lost connection, which may have removed the name:
     * finding it gone then is success (see "retry"). */
    bool rerun;
    struct call *next_replay; /* fs->replays */
    /* flock: the LOCK's MessageId (for CANCEL), and the lock to take once a conversion's
     * unlock is done (0: none), failing at once when flock_nb. */
    uint64_t message_id;
    int flock_then;
    bool flock_nb;
};

static void call_free(struct call *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->msg[i]);
    free(c->path);
    free(c->path2);
    free(c->data);
    free(c);
}

/* A new call that carries on c's FUSE request with its state (the next step of an operation
 * that needs two round trips). c keeps nothing it would free twice. NULL when out of memory
 * (then c's request is still unanswered). */
static struct call *call_continue(struct call *c, void (*done)(struct call *))
{
    struct call *next = calloc(1, sizeof(*next));
    if (!next)
        return NULL;
    next->fs = c->fs;
    next->req = c->req;
    next->done = done;
    next->query_index = 1;
    next->path = c->path;
    next->path2 = c->path2;
    next->data = c->data;
    next->data_len = c->data_len;
    next->handle = c->handle;
    next->fi = c->fi;
    next->ino = c->ino;
    next->offset = c->offset;
    next->size = c->size;
    next->flags = c->flags;
    c->path = c->path2 = NULL;
    c->data = NULL;
    return next;
}

static bool retry_later(struct call *c, int err);

static void call_reply_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct call *c = arg;
    size_t i = c->arrived++;
    if (err) {
        if (!c->err)
            c->err = err;
    } else {
        /* Replies of a compound arrive in order; which slot is found by count. */
        c->status[i] = reply->hdr.status;
        c->msg[i] = malloc(reply->len);
        if (c->msg[i]) {
            memcpy(c->msg[i], reply->msg, reply->len);
            c->len[i] = reply->len;
        } else if (!c->err) {
            c->err = SQ_ERR_NOMEM;
        }
    }
    if (c->arrived == c->count) {
        if (retry_later(c, c->err)) {
            call_free(c);
            return;
        }
        c->done(c);
        if (!c->kept)
            call_free(c);
    }
}

static struct call *call_new(struct fs *fs, fuse_req_t req, void (*done)(struct call *))
{
    struct call *c = calloc(1, sizeof(*c));
    if (c) {
        c->fs = fs;
        c->req = req;
        c->done = done;
        c->query_index = 1;
    }
    return c;
}

static void free_reqs(struct smb2_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        writer_free(&reqs[i].msg);
}

/* Submits reqs[0..n) as one compound; on failure replies EIO/ENOMEM and frees c. */
static void call_submit(struct call *c, struct smb2_request *reqs, size_t n)
{
    if (c->fs->closing) {
        free_reqs(reqs, n);
        fuse_reply_err(c->req, EIO);
        call_free(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i].tree_id = sq_session_tree_id(c->fs->session);
        reqs[i].cb = call_reply_cb;
        reqs[i].arg = c;
    }
    c->count = n;
    int rc = smb2_conn_submit(c->fs->conn, reqs, n);
    if (rc) {
        fuse_reply_err(c->req, rc == SQ_ERR_NOMEM ? ENOMEM : EIO);
        call_free(c);
    }
}

/* The first failing status of a compound as an errno, 0 when all succeeded. */
static int call_errno(const struct call *c, size_t upto)
{
    if (c->err)
        return c->err == SQ_ERR_NOMEM ? ENOMEM : EIO;
    for (size_t i = 0; i < upto && i < c->count; i++)
        if (c->status[i] != STATUS_SUCCESS)
            return errno_of(c->status[i]);
    return 0;
}

/* Fails the FUSE request for a request that could not be built. */
static void fail_build(fuse_req_t req, struct call *c, struct smb2_request *reqs, size_t n,
                       int rc)
{
    free_reqs(reqs, n);
    if (c)
        call_free(c);
    fuse_reply_err(req, rc == SQ_ERR_NOMEM ? ENOMEM : rc == SQ_ERR_INVAL ? EINVAL : EIO);
}

/* One SET_INFO of a related chain: its class and its encoded buffer. */
struct set_item {
    uint8_t info_class;
    struct writer buf;
};

/* Sends CREATE(path) + one SET_INFO per item + CLOSE as one related compound (MS-SMB2
 * 3.2.4.1.4) on c, with rc from encoding the items (the first error is kept). Frees the
 * items' buffers; on failure answers c's request. */
static void submit_set_chain(struct call *c, const char *path, uint32_t access,
                             uint32_t options, struct set_item *items, size_t n, int rc)
{
    struct smb2_request reqs[CALL_MAX];
    memset(reqs, 0, sizeof(reqs));
    if (!rc && n + 2 > CALL_MAX)
        rc = SQ_ERR_INVAL;
    if (!rc)
        rc = sq_req_create(&reqs[0], path, access, FILE_OPEN, options, 0);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = writer_error(&items[i].buf);
        if (!rc)
            rc = sq_req_set_info(&reqs[i + 1], &sq_related_file_id, true, items[i].info_class,
                                 items[i].buf.data, items[i].buf.len);
        writer_free(&items[i].buf);
    }
    if (!rc)
        rc = sq_req_close(&reqs[n + 1], &sq_related_file_id, true);
    if (rc) {
        fail_build(c->req, c, reqs, n + 2 <= CALL_MAX ? n + 2 : CALL_MAX, rc);
        return;
    }
    call_submit(c, reqs, n + 2);
}

static double attr_timeout(const struct fs *fs)
{
    return fs->cfg.cache == FS_CACHE_NONE ? 0 : fs->cfg.attr_timeout;
}

/* While a file's lease allows read caching nobody else can change its data, size or write
 * time without breaking it, so its attributes are valid until the break (as the kernel's
 * cifs client also holds): they are given for this long and dropped when the lease breaks or
 * ends (see "leases"). actimeo=0 still caches nothing. */
#define LEASED_ATTR_TIMEOUT 3600.0

/* How long the server is asked to keep a durable handle after a loss (MS-SMB2 3.2.4.3.5
 * leaves the value to the client): the most Samba grants (0 would mean its default, 60 s),
 * so that a laptop suspended for a few minutes still finds its opens. A disconnected open
 * holds no one up meanwhile: the server drops it when another client's open conflicts. */
#define DURABLE_TIMEOUT_MS 300000

static double attr_timeout_of(const struct call *c, fuse_ino_t ino)
{
    double t = attr_timeout(c->fs);
    struct fs_node *n = t > 0 && t < LEASED_ATTR_TIMEOUT ? node_find(c->fs, ino) : NULL;
    if (!n || !c->lease_held || c->lease_generation != n->lease_generation ||
        !(n->lease_state & SMB2_LEASE_READ_CACHING))
        return t;
    n->attrs_leased = true;
    return LEASED_ATTR_TIMEOUT;
}

/* CREATE + QUERY_INFO(FileAllInformation) + CLOSE: stat of a path in one round trip. */
static void stat_path(struct fs *fs, fuse_req_t req, const char *path, struct call *c)
{
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], path, FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_OPEN, 0, 0);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        fail_build(req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* SMB names are at most 255 UTF-16 code units (MS-FSCC 2.1.5.2); longer ones get
 * ENAMETOOLONG here, as from a local file system, instead of the server's "invalid name". */
static bool name_too_long(const char *name)
{
    size_t units = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;               /* continuation byte */
        units += *p >= 0xF0 ? 2 : 1; /* 4-byte sequences are surrogate pairs in UTF-16 */
    }
    return units > 255;
}

/* Starts an operation on the node ino (name == NULL) or on its child name: finds the node,
 * refuses writes on a read-only mount, and returns a call holding the path. On failure it has
 * replied to FUSE and returns NULL. */
static struct call *begin_op(fuse_req_t req, fuse_ino_t ino, const char *name, bool writes,
                             void (*done)(struct call *))
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_node *n = node_find(fs, ino);
    if (!n) {
        fuse_reply_err(req, ENOENT);
        return NULL;
    }
    if (name && name_too_long(name)) {
        fuse_reply_err(req, ENAMETOOLONG);
        return NULL;
    }
    if (writes && fs->cfg.read_only) {
        fuse_reply_err(req, EROFS);
        return NULL;
    }
    struct call *c = call_new(fs, req, done);
    if (!c || !(c->path = name ? child_path(n, name) : strdup(n->path))) {
        free(c);
        fuse_reply_err(req, ENOMEM);
        return NULL;
    }
    return c;
}

/* ---- lookup, getattr, forget ---- */

/* ---- write-behind ----
 * Without the kernel's writeback cache (it would make the kernel trust its own file sizes
 * over the server's, which is wrong while others may change the file), the kernel sends one
 * WRITE at a time per file and waits for each. Waiting a whole round trip per 1 MiB would
 * cap sequential writes far below the link. So a WRITE is answered to the kernel as soon as
 * it is on its way, as NFS clients do with unstable writes, and:
 * - at most WRITE_BEHIND_MAX bytes are in flight; beyond that a WRITE is answered when the
 *   server has answered it (back-pressure, bounded memory);
 * - an error of such a WRITE is reported at the next write, flush (close) or fsync of the
 *   file, so close(2) and fsync(2) report every failure and return only once all data is
 *   on the server;
 * - a mount that reconnects keeps a copy of each such WRITE's data until the server has
 *   answered it: a WRITE that the connection's loss failed is sent again once reconnected,
 *   through the reclaimed (or reopened) handle (replay_later); a soft mount gives up on it
 *   when it gives up waiting. WRITEs are at explicit offsets, so sending one twice (the lost
 *   connection may have delivered it) writes the same bytes again;
 * - requests whose result depends on those writes wait for them (they are "parked"): reads
 *   (the server may run requests of one connection concurrently), overlapping writes (their
 *   order matters), truncate and other size changes, flush, fsync, release; sizes reported
 *   meanwhile include the pending data (fill_stat). ---- */

#define WRITE_BEHIND_MAX (64u * 1024u * 1024u)

/* What a parked request (or one run again after a reconnect, see "retry") is. 0: none. */
enum park_op {
    PARK_OPEN = 1,
    PARK_READ,
    PARK_WRITE,
    PARK_FLUSH,
    PARK_FSYNC,
    PARK_RELEASE,
    PARK_SETATTR,
    PARK_LSEEK,
    PARK_FALLOCATE,
    PARK_COPY,
    PARK_GETATTR,
    PARK_LOOKUP,
    PARK_OPENDIR,
    PARK_STATFS,
    PARK_READDIR,
    PARK_READDIRPLUS,
    PARK_UNLINK,
    PARK_RMDIR,
    PARK_CREATE
};

/* A setattr's arguments, carried by its calls: from reading the attributes to setting them
 * (a mode change), and to running it again after a lost connection (see "retry"). */
struct setattr_args {
    struct stat attr;
    int to_set;
    bool has_fi;
    struct fuse_file_info fi;
};

/* A FUSE request waiting until its file has no write-behind WRITE in flight. */
struct parked {
    struct parked *next;
    enum park_op op;
    fuse_req_t req;
    fuse_ino_t ino, ino_out;
    struct fuse_file_info fi, fi_out;
    off_t off, off_out, length;
    size_t size;
    int flags;
    struct stat attr;
    char *data; /* PARK_WRITE: a copy of the data; PARK_LOOKUP: the name */
};

static void park(struct fs_node *n, struct parked *p)
{
    p->next = NULL;
    if (!n->parked)
        n->parked_tail = &n->parked;
    *n->parked_tail = p;
    n->parked_tail = &p->next;
}

/* Parks a request on n when n has writes in flight. True when parked (or answered with
 * ENOMEM); the handler then returns and runs again once the writes are done. */
static bool park_if_writing(fuse_req_t req, struct fs_node *n, const struct parked *args)
{
    if (!n || !n->writes)
        return false;
    struct parked *p = malloc(sizeof(*p));
    if (!p) {
        free(args->data);
        fuse_reply_err(req, ENOMEM);
        return true;
    }
    *p = *args;
    p->req = req;
    park(n, p);
    return true;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi);
static void open_common(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool dir);
static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi);
static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi);
static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi);
static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi);
static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
                               struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                               struct fuse_file_info *fi_out, size_t len, int flags);
static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
static void fs_statfs(fuse_req_t req, fuse_ino_t ino);
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi, bool plus);
static void remove_common(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir,
                          bool rerun);
static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi);
static void run_parked(struct parked *p);

/* ---- retry ----
 * Reads, attribute queries, lookups, statfs, listings, FLUSH (fsync) and opens of existing
 * files and directories change nothing on the server (an open's handle died with the lost session,
 * a truncating open truncates again; a listing starts over on the reopened directory), so one that
 * the connection's loss failed is run again once reconnected (after the handles are back and the
 * kept WRITEs were sent again, see "write-behind") instead of failing with EIO: a hard mount waits
 * through the loss for them as it does for the requests that came after it (see "reconnect"), and a
 * soft one gives up on them when it gives up waiting. So is a setattr: setting the same times,
 * size and attributes a second time changes nothing more. So are unlink and rmdir of a name
 * not open here: the lost connection may have removed it already, so a second run that finds
 * the name gone reports success (what an NFS client does with a retransmitted REMOVE: the
 * name is gone either way). So is a create without O_EXCL: it opens what the lost run
 * created (truncating it again with O_TRUNC). Requests whose second run would differ from the
 * first (a create with O_EXCL, mkdir, rename: a lock taken with one of them must not be
 * taken twice) are not run twice: the lost connection may have carried them out. */

/* The connection was lost and the mount reconnects: err (a call's first connection error)
 * does not have to be the request's outcome. */
static bool lost_for_now(struct fs *fs, int err)
{
    return err && err != SQ_ERR_NOMEM && !fs->closing && fs->cfg.reconnect &&
           smb2_conn_error(fs->conn);
}

/* Keeps c's FUSE request, to run again as c->retry_op once reconnected, when the connection's
 * loss (err) failed c. True when kept: the caller frees c without answering. */
static bool retry_later(struct call *c, int err)
{
    struct fs *fs = c->fs;
    if (!c->retry_op || !lost_for_now(fs, err))
        return false;
    struct parked *p = calloc(1, sizeof(*p));
    if (!p)
        return false;
    *p = (struct parked){.op = (enum park_op)c->retry_op,
                         .req = c->req,
                         .ino = c->ino,
                         .fi = c->fi,
                         .off = (off_t)c->offset,
                         .size = c->size,
                         .flags = c->flags};
    if (c->retry_op == PARK_SETATTR) {
        const struct setattr_args *a = (const struct setattr_args *)c->data;
        p->attr = a->attr;
        p->flags = a->to_set;
        p->fi = a->has_fi ? a->fi : (struct fuse_file_info){0};
    }
    if (c->retry_op == PARK_LOOKUP || c->retry_op == PARK_UNLINK || c->retry_op == PARK_RMDIR ||
        c->retry_op == PARK_CREATE) {
        const char *slash = strrchr(c->path, '/');
        if (!(p->data = strdup(slash ? slash + 1 : c->path))) {
            free(p);
            return false;
        }
    }
    if (!fs->retries)
        fs->retries_tail = &fs->retries;
    *fs->retries_tail = p;
    fs->retries_tail = &p->next;
    return true;
}

/* Once reconnected: runs the kept requests again, in the order they came. */
static void run_retries(struct fs *fs)
{
    struct parked *p = fs->retries;
    fs->retries = NULL;
    size_t count = 0;
    for (struct parked *next; p; p = next) {
        next = p->next;
        count++;
        run_parked(p);
    }
    if (count) {
        fs->requests_retried += count;
        sq_log(SQ_LOG_INFO,
               "ran again %zu requests (reads, lookups, attributes, opens, listings, fsyncs, "
               "unlinks, creates) the lost connection had in flight",
               count);
    }
}

/* Fails the kept requests with EIO: a soft mount's wait is over, or the mount ends. */
static void fail_retries(struct fs *fs)
{
    struct parked *p = fs->retries;
    fs->retries = NULL;
    for (struct parked *next; p; p = next) {
        next = p->next;
        fuse_reply_err(p->req, EIO);
        free(p->data);
        free(p);
    }
}

/* Runs the parked (or retried) request p and frees it. */
static void run_parked(struct parked *p)
{
    struct fuse_file_info *fi = &p->fi;
    switch ((enum park_op)p->op) {
    case PARK_OPEN:
        open_common(p->req, p->ino, fi, false);
        break;
    case PARK_READ:
        fs_read(p->req, p->ino, p->size, p->off, fi);
        break;
    case PARK_WRITE:
        fs_write(p->req, p->ino, p->data, p->size, p->off, fi);
        break;
    case PARK_FLUSH:
        fs_flush(p->req, p->ino, fi);
        break;
    case PARK_FSYNC:
        fs_fsync(p->req, p->ino, p->flags, fi);
        break;
    case PARK_RELEASE:
        fs_release(p->req, p->ino, fi);
        break;
    case PARK_SETATTR:
        fs_setattr(p->req, p->ino, &p->attr, p->flags, fi->fh ? fi : NULL);
        break;
    case PARK_LSEEK:
        fs_lseek(p->req, p->ino, p->off, p->flags, fi);
        break;
    case PARK_FALLOCATE:
        fs_fallocate(p->req, p->ino, p->flags, p->off, p->length, fi);
        break;
    case PARK_COPY:
        fs_copy_file_range(p->req, p->ino, p->off, fi, p->ino_out, p->off_out, &p->fi_out, p->size,
                           p->flags);
        break;
    case PARK_GETATTR:
        fs_getattr(p->req, p->ino, fi->fh ? fi : NULL);
        break;
    case PARK_LOOKUP:
        fs_lookup(p->req, p->ino, p->data);
        break;
    case PARK_UNLINK:
    case PARK_RMDIR:
        remove_common(p->req, p->ino, p->data, p->op == PARK_RMDIR, true);
        break;
    case PARK_CREATE:
        fs_create(p->req, p->ino, p->data, (mode_t)p->size, fi);
        break;
    case PARK_OPENDIR:
        open_common(p->req, p->ino, fi, true);
        break;
    case PARK_STATFS:
        fs_statfs(p->req, p->ino);
        break;
    case PARK_READDIR:
    case PARK_READDIRPLUS:
        readdir_common(p->req, p->ino, p->size, p->off, fi, p->op == PARK_READDIRPLUS);
        break;
    }
    free(p->data);
    free(p);
}

/* Runs the requests parked on n, in the order they came; any that meets new writes parks
 * again behind them. */
static void resume_parked(struct fs *fs, struct fs_node *n)
{
    struct parked *p = n->parked;
    n->parked = NULL;
    while (p) {
        struct parked *next = p->next;
        if (fs->closing) {
            /* The connection is being torn down: nothing more can be sent. */
            fuse_reply_err(p->req, EIO);
            free(p->data);
            free(p);
            p = next;
            continue;
        }
        run_parked(p);
        /* A handler may have parked this node's requests again: keep their order by putting
         * the rest back in front of them. */
        if (n->parked && next) {
            struct parked *tail = next;
            while (tail->next)
                tail = tail->next;
            tail->next = n->parked;
            n->parked = next;
            return;
        }
        p = next;
    }
}

static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

static bool write_overlaps(const struct fs_node *n, uint64_t off, size_t size)
{
    for (const struct call *w = n->writes; w; w = w->next_write)
        if (ranges_overlap(w->offset, w->size, off, size))
            return true;
    return false;
}

static void track_write(struct fs *fs, struct fs_node *n, struct call *c)
{
    c->next_write = n->writes;
    n->writes = c;
    if (c->offset + c->size > n->writes_end)
        n->writes_end = c->offset + c->size;
    fs->write_behind_bytes += c->size;
}

/* The WRITE c finished: forget it, and once the node has none left, run what waited. */
static void untrack_write(struct fs *fs, struct call *c)
{
    fs->write_behind_bytes -= c->size;
    struct fs_node *n = node_find(fs, c->ino);
    if (!n)
        return;
    for (struct call **pp = &n->writes; *pp; pp = &(*pp)->next_write) {
        if (*pp == c) {
            *pp = c->next_write;
            break;
        }
    }
    if (n->writes)
        return;
    n->writes_end = 0;
    resume_parked(fs, n);
}

/* The error write-behind met through h, reported once (as NFS clients do at close/fsync). */
static int take_write_error(struct fs_handle *h)
{
    int err = h ? h->write_error : 0;
    if (h)
        h->write_error = 0;
    return err;
}

/* ---- symlinks, with mfsymlinks: Minshall+French files (include/client/mfsymlink.h). Only
 * regular files of exactly MFSYMLINK_FILE_SIZE bytes are read to find out. ---- */

enum { PROBE_FOR_ENTRY, PROBE_FOR_ATTR };

static bool symlink_candidate(const struct fs *fs, const struct stat *st)
{
    return fs->cfg.mfsymlinks && S_ISREG(st->st_mode) && st->st_size == MFSYMLINK_FILE_SIZE;
}

static void as_symlink(struct stat *st, size_t target_len)
{
    st->st_mode = S_IFLNK | 0777;
    st->st_size = (off_t)target_len;
}

/* CREATE + READ of the whole link file + CLOSE of c->path. */
static void symlink_read_submit(struct call *c)
{
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], c->path, FILE_READ_DATA | FILE_READ_ATTRIBUTES |
                           SMB2_SYNCHRONIZE, FILE_OPEN, FILE_NON_DIRECTORY_FILE, 0);
    if (!rc)
        rc = smb2_request_init(&reqs[1], SMB2_READ, 0);
    if (!rc) {
        struct smb2_read_request rq = {
            .padding = SMB2_READ_RESPONSE_DATA_OFFSET,
            .length = MFSYMLINK_FILE_SIZE,
            .file_id = sq_related_file_id,
        };
        reqs[1].related = true;
        reqs[1].expected_response_len = MFSYMLINK_FILE_SIZE;
        rc = smb2_read_request_encode(&reqs[1].msg, &rq);
    }
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        fail_build(c->req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* The target from a finished symlink_read_submit, or NULL when the file is no link. */
static char *symlink_target_of(const struct call *c)
{
    struct smb2_read_response rr;
    char *target = NULL;
    if (call_errno(c, 2) == 0 && smb2_read_response_decode(c->msg[1], c->len[1], &rr) == 0)
        mfsymlink_decode(rr.data, rr.data_len, &target);
    return target;
}

static void finish_entry(struct call *c, const struct stat *st);

static void symlink_probe_done(struct call *c)
{
    struct stat st = *(const struct stat *)c->data;
    char *target = symlink_target_of(c);
    if (target)
        as_symlink(&st, strlen(target));
    free(target);
    if (c->flags == PROBE_FOR_ENTRY)
        finish_entry(c, &st);
    else
        fuse_reply_attr(c->req, &st, attr_timeout(c->fs));
}

/* With mfsymlinks, a file that may be a link is read before the reply (as an entry or as
 * attributes). True when that was started (or failed and was answered). */
static bool probe_symlink(struct call *c, const struct stat *st, int kind)
{
    if (!symlink_candidate(c->fs, st))
        return false;
    struct call *next = call_continue(c, symlink_probe_done);
    struct stat *copy = next ? malloc(sizeof(*copy)) : NULL;
    if (!copy) {
        if (next)
            call_free(next);
        fuse_reply_err(c->req, ENOMEM);
        return true;
    }
    *copy = *st;
    free(next->data);
    next->data = (uint8_t *)copy;
    next->flags = kind;
    symlink_read_submit(next);
    return true;
}

static void reply_entry_from(struct call *c, size_t query_index)
{
    struct stat st;
    int err = call_errno(c, query_index + 1);
    if (!err)
        err = -stat_from_all_info(c->fs, c->msg[query_index], c->len[query_index], &st);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    if (!probe_symlink(c, &st, PROBE_FOR_ENTRY))
        finish_entry(c, &st);
}

/* Replies with the entry for c->path, counting the lookup. */
static void finish_entry(struct call *c, const struct stat *st)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.attr = *st;
    e.ino = e.attr.st_ino;
    e.attr_timeout = attr_timeout(c->fs);
    e.entry_timeout = attr_timeout(c->fs);
    if (!node_ref(c->fs, e.ino, c->path)) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    if (fuse_reply_entry(c->req, &e) != 0)
        node_forget(c->fs, e.ino, 1); /* the kernel did not take the reference */
}

static void lookup_done(struct call *c)
{
    /* A name that is not there is known as such for actimeo=, as the names that are (a
     * negative entry; cache=none keeps none): repeated probes of missing files (a shell's
     * PATH, a build's include paths) cost no round trip each, and an O_CREAT right after
     * goes to the server as one CREATE. */
    double timeout = attr_timeout(c->fs);
    if (timeout > 0 && call_errno(c, 2) == ENOENT) {
        struct fuse_entry_param e;
        memset(&e, 0, sizeof(e)); /* ino 0: the name does not exist */
        e.entry_timeout = timeout;
        fuse_reply_entry(c->req, &e);
        return;
    }
    reply_entry_from(c, 1);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct call *c = begin_op(req, parent, name, false, lookup_done);
    if (!c)
        return;
    struct fs *fs = c->fs;
    c->ino = parent;
    c->retry_op = PARK_LOOKUP;
    stat_path(fs, req, c->path, c);
}

static void getattr_done(struct call *c)
{
    struct stat st;
    size_t q = c->query_index;
    int err = call_errno(c, q + 1);
    if (!err)
        err = -stat_from_all_info(c->fs, c->msg[q], c->len[q], &st);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct fs_node *n = node_find(c->fs, st.st_ino);
    if (n && n->unlinked)
        st.st_nlink = 0; /* as fstat(2) of an unlinked file says */
    else if (probe_symlink(c, &st, PROBE_FOR_ATTR))
        return;
    fuse_reply_attr(c->req, &st, attr_timeout_of(c, st.st_ino));
}

/* The open handle an attribute request on ino should go through instead of a CREATE by
 * path: the caller's own (fi), or for a file unlinked while open any of ours, since its
 * hidden name can no longer be opened (it is delete-pending). NULL: go by path. */
static struct fs_handle *attr_handle(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi,
                                     bool writable)
{
    if (fi && fi->fh)
        return (struct fs_handle *)(uintptr_t)fi->fh;
    struct fs_node *n = node_find(fs, ino);
    return n && n->unlinked ? open_handle_of(fs, ino, writable) : NULL;
}

/* Submits c for the FileAllInformation of its file: one QUERY_INFO on h when there is a
 * handle, else CREATE + QUERY_INFO + CLOSE by c->path; c->query_index says which reply. */
static void query_all_info(struct call *c, struct fs_handle *h)
{
    if (!h) {
        c->query_index = 1;
        stat_path(c->fs, c->req, c->path, c);
        return;
    }
    struct smb2_request r;
    int rc = sq_req_query_info(&r, &h->file_id, false, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION,
                               ALL_INFO_MAX);
    if (rc) {
        fail_build(c->req, c, &r, 1, rc);
        return;
    }
    c->query_index = 0;
    call_submit(c, &r, 1);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct call *c = begin_op(req, ino, NULL, false, getattr_done);
    if (!c)
        return;
    /* The attributes may be kept for as long as the lease holds only if it held since before
     * they were asked for (attr_timeout_of). */
    struct fs_node *n = node_find(c->fs, ino);
    c->lease_held = n && (n->lease_state & SMB2_LEASE_READ_CACHING);
    c->lease_generation = n ? n->lease_generation : 0;
    c->ino = ino;
    if (fi)
        c->fi = *fi;
    c->retry_op = PARK_GETATTR;
    query_all_info(c, attr_handle(c->fs, ino, fi, false));
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    node_forget(fuse_req_userdata(req), ino, nlookup);
    fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    struct fs *fs = fuse_req_userdata(req);
    for (size_t i = 0; i < count; i++)
        node_forget(fs, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

/* ---- setattr: size through FileEndOfFileInformation, times and attributes through
 * FileBasicInformation, then the new attributes, in one compound (MS-FSCC 2.4.14, 2.4.7) ----
 * The write bits of a regular file's mode map to FILE_ATTRIBUTE_READONLY (as cifs does). The
 * other attributes (archive, hidden, system...) must survive a chmod, and SET_INFO can only
 * replace them all, so a mode change first reads them (one more round trip). */

/* The attributes FileBasicInformation may set on a file (MS-FSA 2.1.5.14.2); the others
 * (directory, sparse, reparse point, compressed, encrypted) are the file system's own. */
#define SETTABLE_FILE_ATTRIBUTES                                                              \
    (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM |                \
     FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE |             \
     FILE_ATTRIBUTE_NOT_CONTENT_INDEXED)

static void setattr_submit(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
                           struct fuse_file_info *fi, uint32_t new_attributes);

/* A call of a setattr, carrying its arguments (struct setattr_args in data): for the second
 * step of a mode change, and to run it again after a lost connection (see "retry"). NULL
 * when the request was answered (failed). */
static struct call *begin_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr,
                                  int to_set, const struct fuse_file_info *fi,
                                  void (*done)(struct call *))
{
    struct call *c = begin_op(req, ino, NULL, true, done);
    if (!c)
        return NULL;
    struct setattr_args *a = calloc(1, sizeof(*a));
    if (!a) {
        fail_build(req, c, NULL, 0, SQ_ERR_NOMEM);
        return NULL;
    }
    *a = (struct setattr_args){.attr = *attr, .to_set = to_set, .has_fi = fi != NULL};
    if (fi)
        a->fi = *fi;
    c->data = (uint8_t *)a;
    c->ino = ino;
    c->retry_op = PARK_SETATTR;
    return c;
}

/* The current attributes arrived: the mode's write bits decide READONLY, the rest stays. */
static void setattr_attributes_known(struct call *c)
{
    const struct setattr_args *a = (const struct setattr_args *)c->data;
    int err = call_errno(c, c->count);
    struct smb2_file_all_info all;
    if (!err)
        err = -all_info_from_reply(c->msg[c->query_index], c->len[c->query_index], &all);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    uint32_t now = all.basic.file_attributes & SETTABLE_FILE_ATTRIBUTES;
    uint32_t want = (a->attr.st_mode & 0222) ? now & ~FILE_ATTRIBUTE_READONLY
                                             : now | FILE_ATTRIBUTE_READONLY;
    /* A chmod that leaves READONLY as it is (chmod 644 of a writable file; cp -a and rsync -a
     * of every writable file) changes nothing on the server: the attributes just read are the
     * reply, and a second round trip is saved. Owner and group were checked to be no-ops. */
    int only_mode = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID;
    if (want == now && !(a->to_set & ~only_mode)) {
        getattr_done(c);
        return;
    }
    if (want == 0)
        want = FILE_ATTRIBUTE_NORMAL; /* 0 would mean "leave unchanged" */
    struct fuse_file_info fi = a->fi;
    setattr_submit(c->req, c->ino, &a->attr, a->to_set, a->has_fi ? &fi : NULL,
                   want == now ? 0 : want);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    /* Owner and group do not map onto SMB without POSIX extensions: they stay as the mount
     * options say. Setting them to what is already shown is a no-op (cp -a, rsync -a as the
     * mount's owner); anything else is refused rather than silently ignored. */
    if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != fs->cfg.uid) ||
        ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != fs->cfg.gid)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    /* Whatever it changes: a size or times set after writes must not be undone by them. */
    if (park_if_writing(req, node_find(fs, ino),
                        &(struct parked){.op = PARK_SETATTR, .ino = ino,
                                         .fi = fi ? *fi : (struct fuse_file_info){0},
                                         .attr = *attr, .flags = to_set}))
        return;
    if ((to_set & FUSE_SET_ATTR_MODE) && S_ISREG(attr->st_mode)) {
        struct call *c = begin_setattr(req, ino, attr, to_set, fi, setattr_attributes_known);
        if (!c)
            return;
        /* fchmod of an open file (cp -a) reads through its handle: one request, not three. */
        struct fs_handle *h = attr_handle(fs, ino, fi, false);
        query_all_info(c, h ? h : open_handle_of(fs, ino, false));
        return;
    }
    setattr_submit(req, ino, attr, to_set, fi, 0);
}

/* new_attributes: the FileAttributes to set, 0 to leave them. */
static void setattr_submit(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
                           struct fuse_file_info *fi, uint32_t new_attributes)
{
    struct fs *fs = fuse_req_userdata(req);
    struct call *c = begin_setattr(req, ino, attr, to_set, fi, getattr_done);
    if (!c)
        return;
    struct fs_handle *h = attr_handle(fs, ino, (to_set & FUSE_SET_ATTR_SIZE) ? fi : NULL, true);
    /* Times go through a handle of ours that writes the file, when there is one: the server
     * sets the write time of a file at the close of a handle that wrote to it unless times
     * were set on that very handle (MS-FSA 2.1.5.4, 2.1.5.14.2), so `cp -p` and `cp -a`,
     * which set times before they close, would otherwise lose them. */
    if (!h && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
        struct fs_handle *w = open_handle_of(fs, ino, true);
        if (w && w->access_mode != O_RDONLY)
            h = w;
    }
    const struct smb2_file_id *target = h ? &h->file_id : &sq_related_file_id;
    bool related = h == NULL;
    struct smb2_request reqs[5];
    memset(reqs, 0, sizeof(reqs));
    struct writer eof, basic;
    writer_init(&eof);
    writer_init(&basic);
    size_t k = 0;
    int rc = 0;
    if (!h)
        rc = sq_req_create(&reqs[k++], c->path,
                           FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES |
                               ((to_set & FUSE_SET_ATTR_SIZE) ? FILE_WRITE_DATA : 0) |
                               SMB2_SYNCHRONIZE,
                           FILE_OPEN, 0, 0);
    if (!rc && (to_set & FUSE_SET_ATTR_SIZE)) {
        rc = smb2_file_end_of_file_info_encode(&eof, (uint64_t)attr->st_size);
        if (!rc)
            rc = sq_req_set_info(&reqs[k++], target, related, FILE_END_OF_FILE_INFORMATION,
                                 eof.data, eof.len);
    }
    /* A directory's mode has no SMB equivalent and is left as dir_mode= says. */
    bool set_mode = new_attributes != 0;
    if (!rc && (set_mode || (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)))) {
        struct smb2_file_basic_info bi = {0}; /* 0 = leave unchanged */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (to_set & FUSE_SET_ATTR_ATIME)
            bi.last_access_time = timespec_to_filetime(
                (to_set & FUSE_SET_ATTR_ATIME_NOW) ? &now : &attr->st_atim);
        if (to_set & FUSE_SET_ATTR_MTIME)
            bi.last_write_time = timespec_to_filetime(
                (to_set & FUSE_SET_ATTR_MTIME_NOW) ? &now : &attr->st_mtim);
        bi.file_attributes = new_attributes;
        rc = smb2_file_basic_info_encode(&basic, &bi);
        if (!rc)
            rc = sq_req_set_info(&reqs[k++], target, related, FILE_BASIC_INFORMATION,
                                 basic.data, basic.len);
    }
    if (!rc)
        rc = sq_req_query_info(&reqs[k++], target, related, SMB2_0_INFO_FILE,
                               FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc && !h)
        rc = sq_req_close(&reqs[k++], &sq_related_file_id, true);
    writer_free(&eof);
    writer_free(&basic);
    if (rc) {
        fail_build(req, c, reqs, k, rc);
        return;
    }
    /* The changes come first, then the QUERY_INFO that reports their result. */
    c->query_index = h ? k - 1 : k - 2;
    call_submit(c, reqs, k);
}

/* ---- leases ----
 *
 * Unless cache=none, every open of a file asks for a lease with read and handle caching
 * (MS-SMB2 2.2.13.2.10). While read caching holds, nobody else has written the file, so the
 * kernel's cached pages of it are current: a second open of the file keeps them
 * (keep_cache), and so does an open that takes over a kept handle (below). When another
 * client writes, truncates or replaces the file, the server breaks the lease (MS-SMB2
 * 2.2.23.2) and the mount drops the kernel's cached pages and attributes of the file at once
 * (MS-SMB2 3.2.5.19.2), so the next read goes to the server, also through descriptors opened
 * before. Without this a file kept open would show its old contents for as long as the kernel
 * kept them. Write caching is not asked for: writes are sent at once anyway (see
 * "write-behind"), so there is never dirty data to flush before an acknowledgment.
 *
 * The lease key is the file's inode number followed by a random half drawn per mount, so the
 * open handles of a file share one lease (the server keeps one per key and client) and a
 * break leads straight to its node. A file the mount creates has no inode number before its
 * CREATE is answered: that CREATE asks under a random first half and the random half marked
 * (CREATED_KEY_MARK), and the file's node keeps that key for its other opens; a break of such
 * a key finds its node by a scan.
 *
 * The kernel call that drops pages (fuse_lowlevel_notify_inval_inode) waits for pages that
 * reads in flight have locked, and only this thread answers those reads: the call runs on a
 * thread of its own (struct invalidator), fed by a queue of inode numbers. A read that was on
 * its way when the break came locked its pages before the call reaches them, so its old data
 * is dropped too. For the same reason the mount ends only once that thread is not inside the
 * call (invalidator_try_stop): until then it goes on answering FUSE. */

/* The second half of a created file's key: the mount's random half with its top bit
 * flipped, so it never equals the inode keys' half. */
#define CREATED_KEY_MARK 0x80

/* A key: the 8 bytes of v (little-endian), then the mount's random half, marked for a
 * created file's key. */
static void lease_key_make(const struct fs *fs, uint64_t v, bool created,
                           uint8_t key[SMB2_LEASE_KEY_SIZE])
{
    for (size_t i = 0; i < sizeof(uint64_t); i++)
        key[i] = (uint8_t)(v >> (8 * i));
    memcpy(key + sizeof(uint64_t), fs->lease_salt, sizeof(fs->lease_salt));
    if (created)
        key[sizeof(uint64_t)] ^= CREATED_KEY_MARK;
}

/* The key of every open of ino: its node's created-file key, else the inode number's. */
static void lease_key_of(struct fs *fs, fuse_ino_t ino, uint8_t key[SMB2_LEASE_KEY_SIZE])
{
    struct fs_node *n = node_find(fs, ino);
    if (n && n->created_lease_id)
        lease_key_make(fs, n->created_lease_id, true, key);
    else
        lease_key_make(fs, (uint64_t)ino, false, key);
}

/* Whether key is one this mount made, and then the inode it names (0 for a created file's
 * key that no node has: one the mount could not adopt, see create_done). */
static bool lease_key_ino(struct fs *fs, const uint8_t key[SMB2_LEASE_KEY_SIZE], fuse_ino_t *ino)
{
    uint8_t half[SMB2_LEASE_KEY_SIZE / 2];
    memcpy(half, key + sizeof(uint64_t), sizeof(half));
    bool created = half[0] != fs->lease_salt[0];
    half[0] ^= created ? CREATED_KEY_MARK : 0;
    if (memcmp(half, fs->lease_salt, sizeof(half)) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(uint64_t); i++)
        v |= (uint64_t)key[i] << (8 * i);
    *ino = created ? 0 : (fuse_ino_t)v;
    /* Breaks are rare, and only nodes of files this mount created have such keys: a scan. */
    for (size_t b = 0; created && fs->created_leases && b < NODE_BUCKETS; b++)
        for (struct fs_node *n = fs->nodes[b]; n; n = n->next)
            if (n->created_lease_id == v)
                *ino = n->ino;
    return true;
}

static void *invalidator_main(void *arg)
{
    struct fs *fs = arg;
    struct invalidator *v = &fs->inval;
    pthread_mutex_lock(&v->lock);
    for (;;) {
        while (!v->count && !v->stop)
            pthread_cond_wait(&v->wake, &v->lock);
        if (v->stop)
            break;
        struct inval_item it = v->queue[--v->count];
        v->busy = true;
        pthread_mutex_unlock(&v->lock);
        /* offset 0, length 0: every cached page and the attributes; a negative offset: the
         * attributes alone. ENOENT: the kernel has forgotten the inode, so it caches nothing
         * of it. */
        fuse_lowlevel_notify_inval_inode(fs->se, it.ino, it.attrs_only ? -1 : 0, 0);
        pthread_mutex_lock(&v->lock);
        v->busy = false;
    }
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

/* Has the kernel drop its cached pages and attributes of ino (only the attributes with
 * attrs_only), soon (on the invalidator's thread). If that thread cannot start, opens stop
 * asking for leases: the page cache is then dropped at every open, as without them. */
static void invalidate_cache(struct fs *fs, fuse_ino_t ino, bool attrs_only)
{
    struct invalidator *v = &fs->inval;
    if (!fs->se) /* not mounted yet: the kernel caches nothing */
        return;
    pthread_mutex_lock(&v->lock);
    if (v->stop) { /* the mount is ending */
        pthread_mutex_unlock(&v->lock);
        return;
    }
    if (!v->running) {
        if (pthread_create(&v->thread, NULL, invalidator_main, fs) != 0) {
            pthread_mutex_unlock(&v->lock);
            sq_log(SQ_LOG_WARNING, "cannot start a thread: files are no longer leased");
            fs->leases = false;
            return;
        }
        v->running = true;
    }
    bool queued = false;
    for (size_t i = 0; i < v->count && !queued; i++) {
        if (v->queue[i].ino == ino) {
            v->queue[i].attrs_only &= attrs_only;
            queued = true;
        }
    }
    if (!queued && v->count == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        struct inval_item *q = realloc(v->queue, cap * sizeof(*q));
        if (q) {
            v->queue = q;
            v->cap = cap;
        }
    }
    if (!queued && v->count < v->cap)
        v->queue[v->count++] = (struct inval_item){.ino = ino, .attrs_only = attrs_only};
    else if (!queued)
        fs->leases = false; /* out of memory: this cache may stay; keep no others */
    pthread_cond_signal(&v->wake);
    pthread_mutex_unlock(&v->lock);
}

/* The mount is ending: stops the invalidator, unless it is inside the kernel call, which
 * may wait for a read only this thread can answer; false then (answer FUSE, try again).
 * What is still queued no longer matters. */
static bool invalidator_try_stop(struct fs *fs)
{
    struct invalidator *v = &fs->inval;
    pthread_mutex_lock(&v->lock);
    bool idle = !v->busy;
    if (idle) {
        v->stop = true;
        pthread_cond_signal(&v->wake);
    }
    pthread_mutex_unlock(&v->lock);
    return idle;
}

/* After invalidator_try_stop succeeded (or before the thread could start): waits for it. */
static void invalidator_end(struct fs *fs)
{
    struct invalidator *v = &fs->inval;
    pthread_mutex_lock(&v->lock);
    bool running = v->running;
    v->stop = true;
    pthread_cond_signal(&v->wake);
    pthread_mutex_unlock(&v->lock);
    if (running)
        pthread_join(v->thread, NULL);
    v->running = false;
    free(v->queue);
    v->queue = NULL;
    v->count = v->cap = 0;
}

/* The connection is new (a reconnect): the old one's leases are gone, and breaks it may have
 * missed while it was down leave every cached file in doubt. */
static void leases_lost(struct fs *fs)
{
    for (size_t b = 0; b < NODE_BUCKETS; b++) {
        for (struct fs_node *n = fs->nodes[b]; n; n = n->next) {
            if (n->lease_state & SMB2_LEASE_READ_CACHING)
                invalidate_cache(fs, n->ino, false);
            n->lease_state = SMB2_LEASE_NONE;
            n->attrs_leased = false;
            n->lease_generation++;
        }
    }
}

/* The last open with n's lease key was closed: the lease is gone, and attributes the kernel
 * was given for as long as it held are dropped. */
static void lease_ended(struct fs *fs, struct fs_node *n)
{
    n->lease_state = SMB2_LEASE_NONE;
    n->lease_generation++;
    if (n->attrs_leased) {
        n->attrs_leased = false;
        invalidate_cache(fs, n->ino, true);
    }
}

/* Kept handles. With handle caching granted too, the handle of a file opened for reading is
 * not closed when the application closes it: it is kept for closetimeo= seconds (1 by
 * default, as the kernel's cifs client does), and an open of the file for reading meanwhile
 * takes it over with no round trip and keeps the cached pages, since the lease was held all along.
 * So a file read again soon after (a build reading a header in one step and again in the next) is
 * neither opened nor read twice. When another client's open needs the handle gone, the server
 * breaks handle caching and the mount closes the kept handle before it acknowledges (MS-SMB2
 * 3.2.5.19.2). The mount's own unlink and rename first close the handles kept at or below the
 * names they touch: a handle still open would leave an unlinked file "delete pending" and make
 * a directory's rename fail. */

static void close_unclaimed(struct fs *fs, const struct smb2_file_id *id);

static void kept_unlink(struct fs *fs, struct fs_handle *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        fs->kept_head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    else
        fs->kept_tail = h->prev;
    h->prev = h->next = NULL;
    fs->kept_count--;
}

/* Closes a kept handle on the server (unless the connection is gone) and forgets it. */
static void kept_close(struct fs *fs, struct fs_handle *h)
{
    struct fs_node *n = node_find(fs, h->ino);
    if (n && n->kept == h)
        n->kept = NULL;
    kept_unlink(fs, h);
    if (!fs->conn_error)
        close_unclaimed(fs, &h->file_id);
    handle_free(h);
    /* A lease lasts as long as an open with its key: closing the last one ends it. */
    if (n && !open_handle_of(fs, n->ino, false))
        lease_ended(fs, n);
}

/* release: keeps h open instead of closing it, when the lease allows; true if it did. Only a
 * handle opened for reading is kept: the server sets the last write time of a file written
 * through a handle when that handle is closed (Samba defers it until then), so a stat after
 * the close must not find the handle still open. */
static bool keep_handle(struct fs *fs, struct fs_handle *h)
{
    const uint32_t rh = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING;
    if (h->is_dir || h->access_mode != O_RDONLY || !fs->cfg.closetimeo_s || fs->conn_error ||
        fs->closing || h->flock_held)
        return false; /* (a lock ends with the CLOSE: see "flock") */
    struct fs_node *n = node_find(fs, h->ino);
    if (!n || n->unlinked || n->kept || (n->lease_state & rh) != rh)
        return false;
    handle_unlink(fs, h);
    h->close_at_ms = sq_monotonic_ms() + (int64_t)fs->cfg.closetimeo_s * 1000;
    h->prev = fs->kept_tail;
    if (fs->kept_tail)
        fs->kept_tail->next = h;
    else
        fs->kept_head = h;
    fs->kept_tail = h;
    fs->kept_count++;
    n->kept = h;
    return true;
}

/* open: n's kept handle (opened for reading), taken back into use by an open for reading;
 * NULL if there is none to take. */
static struct fs_handle *take_kept(struct fs *fs, struct fs_node *n, int access_mode)
{
    struct fs_handle *h = n->kept;
    if (!h || access_mode != O_RDONLY)
        return NULL;
    n->kept = NULL;
    kept_unlink(fs, h);
    handle_link(fs, h);
    return h;
}

/* Closes the kept handles whose time is up; returns the milliseconds until the next one is
 * due, or -1 when none is kept. */
static int64_t kept_expire(struct fs *fs)
{
    if (!fs->kept_head)
        return -1;
    int64_t now = sq_monotonic_ms();
    while (fs->kept_head && fs->kept_head->close_at_ms <= now)
        kept_close(fs, fs->kept_head);
    return fs->kept_head ? fs->kept_head->close_at_ms - now : -1;
}

/* Before the mount's own unlink or rename of path: closes the handles kept of files at or
 * below it, by any of their names. Sent before the unlink or rename, the CLOSEs reach the
 * server first. */
static void kept_close_at(struct fs *fs, const char *path)
{
    size_t len = strlen(path);
    struct fs_handle *next;
    for (struct fs_handle *h = fs->kept_head; h; h = next) {
        next = h->next;
        struct fs_node *n = node_find(fs, h->ino);
        bool at = !n || path_at_or_below(n->path, path, len);
        for (size_t i = 0; n && !at && i < n->naliases; i++)
            at = path_at_or_below(n->aliases[i], path, len);
        if (at)
            kept_close(fs, h);
    }
}

/* Every kept handle: closed on the server at the end of the mount, or only forgotten when
 * the connection is gone (they died with it). */
static void kept_close_all(struct fs *fs)
{
    while (fs->kept_head)
        kept_close(fs, fs->kept_head);
}

/* An OPLOCK_BREAK notification from the server (MS-SMB2 3.2.5.19.2). */
static void on_break(void *arg, const struct smb2_reply *reply)
{
    struct fs *fs = arg;
    struct smb2_break b;
    if (smb2_oplock_break_decode(reply->msg, reply->len, &b) != 0 ||
        b.kind != SMB2_BREAK_LEASE_NOTIFY) {
        sq_log(SQ_LOG_DEBUG, "ignoring an oplock break: the mount asks for no oplocks");
        return;
    }
    fs->lease_breaks++;
    fuse_ino_t ino;
    if (!lease_key_ino(fs, b.lease_key, &ino)) {
        sq_log(SQ_LOG_DEBUG, "ignoring a break of a lease this mount did not ask for");
        return;
    }
    struct fs_node *n = ino ? node_find(fs, ino) : NULL;
    const uint32_t rh = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING;
    if (n) {
        n->lease_state = b.new_lease_state;
        n->lease_generation++;
        if (n->kept && (b.new_lease_state & rh) != rh)
            kept_close(fs, n->kept);
    }
    /* Only an inode the kernel knows has a node (and cached pages): so the invalidator's
     * queue stays bounded by the nodes, whatever keys a server sends. */
    if (n && !(b.new_lease_state & SMB2_LEASE_READ_CACHING)) {
        n->attrs_leased = false;
        invalidate_cache(fs, ino, false);
    }
    if (!(b.flags & SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED) || fs->closing)
        return;
    /* Acknowledged with the new state (MS-SMB2 2.2.24.2) once the kept handle's CLOSE is on
     * its way; the mount caches no writes, so there is nothing to flush first. */
    struct smb2_request r;
    memset(&r, 0, sizeof(r));
    int rc = smb2_request_init(&r, SMB2_OPLOCK_BREAK, 0);
    if (!rc)
        rc = smb2_lease_break_ack_encode(&r.msg, b.lease_key, b.new_lease_state);
    if (rc) {
        writer_free(&r.msg);
        return;
    }
    r.tree_id = sq_session_tree_id(fs->session);
    smb2_conn_submit(fs->conn, &r, 1); /* nothing waits for the answer */
}

/* ---- open, read, write, release, fsync ---- */

static struct fs_handle *handle_of(struct fuse_file_info *fi)
{
    return (struct fs_handle *)(uintptr_t)fi->fh;
}

static int add_entries(struct fs *fs, struct fs_handle *h, const uint8_t *buf, uint32_t len);

/* Closes a file the server opened for a FUSE request that was not answered with it (failed
 * or interrupted): nobody would ever release it. Nothing waits for the answer. */
static void close_unclaimed(struct fs *fs, const struct smb2_file_id *id)
{
    struct smb2_request r;
    memset(&r, 0, sizeof(r));
    if (fs->closing || sq_req_close(&r, id, false) != 0) {
        writer_free(&r.msg);
        return;
    }
    r.tree_id = sq_session_tree_id(fs->session);
    smb2_conn_submit(fs->conn, &r, 1); /* on failure the writer is freed by submit */
}

/* opendir sent CREATE + QUERY_DIRECTORY as one compound: keep the first batch of entries for
 * the readdir that follows, so a listing costs one round trip less. A failed QUERY_DIRECTORY
 * is simply asked again by readdir, which then reports the error. */
static void prefetch_entries(struct call *c, struct fs_handle *h)
{
    if (c->count < 2 || c->err)
        return;
    struct smb2_output_buffer out;
    if (c->status[1] == STATUS_NO_MORE_FILES) {
        h->listed = h->prefetched = true;
    } else if (c->status[1] == STATUS_SUCCESS &&
               smb2_query_directory_response_decode(c->msg[1], c->len[1], &out) == 0 &&
               add_entries(c->fs, h, out.buffer, out.buffer_len) == 0) {
        h->prefetched = true;
    } else {
        for (size_t i = 0; i < h->entry_count; i++)
            free(h->entries[i].name);
        h->entry_count = 0;
    }
}

/* open_done: records the lease the server granted a file's open (see "leases"); true when
 * the kernel's cached pages of the file stayed current since before the open: read caching
 * was held then, is still held, and was not broken in between. */
static bool lease_granted(struct call *c, const struct smb2_create_response *cr)
{
    struct fs_node *n = node_find(c->fs, c->ino);
    if (!n || !cr->has_lease)
        return false;
    uint8_t key[SMB2_LEASE_KEY_SIZE];
    lease_key_of(c->fs, c->ino, key);
    if (memcmp(cr->lease.key, key, sizeof(key)) != 0)
        return false;
    n->lease_state = cr->lease.state;
    return c->lease_held && c->lease_generation == n->lease_generation &&
           (cr->lease.state & SMB2_LEASE_READ_CACHING);
}

static void open_done(struct call *c)
{
    int err = call_errno(c, 1);
    struct smb2_create_response cr;
    if (!err && smb2_create_response_decode(c->msg[0], c->len[0], &cr) != 0)
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct fs_handle *h = calloc(1, sizeof(*h));
    if (!h) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    h->file_id = cr.file_id;
    h->ino = c->ino;
    h->access_mode = c->fi.flags & O_ACCMODE;
    h->is_dir = c->flags != 0;
    if (h->is_dir && !(h->path = c->path)) {
        free(h);
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    if (h->is_dir) {
        c->path = NULL; /* now owned by the handle */
        prefetch_entries(c, h);
    }
    handle_link(c->fs, h);
    c->fi.fh = (uint64_t)(uintptr_t)h;
    if (c->fs->cfg.cache == FS_CACHE_NONE && !h->is_dir)
        c->fi.direct_io = 1;
    else if (c->fs->cfg.cache == FS_CACHE_LOOSE)
        c->fi.keep_cache = 1;
    if (!h->is_dir && c->fs->leases && lease_granted(c, &cr))
        c->fi.keep_cache = 1;
    if (c->durable_asked && cr.has_durable_v2) {
        h->durable = true;
        memcpy(h->create_guid, c->create_guid, sizeof(h->create_guid));
    }
    if (fuse_reply_open(c->req, &c->fi) != 0) {
        /* The open was interrupted: nobody will release it. Close it on the server. */
        close_unclaimed(c->fs, &h->file_id);
        handle_unlink(c->fs, h);
        handle_free(h);
    }
}

static uint32_t access_for_flags(int flags)
{
    uint32_t a = FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE;
    switch (flags & O_ACCMODE) {
    case O_RDONLY: a |= FILE_READ_DATA | FILE_READ_EA; break;
    case O_WRONLY: a |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES; break;
    default:
        a |= FILE_READ_DATA | FILE_READ_EA | FILE_WRITE_DATA | FILE_APPEND_DATA |
             FILE_WRITE_ATTRIBUTES;
        break;
    }
    return a;
}

/* open, create: adds a durable handle request under a new CreateGuid (kept in c) to a
 * leased CREATE, when the mount reconnects. Durability needs the handle caching the lease
 * asks for (MS-SMB2 3.3.5.9.10). */
static void ask_durable(struct call *c, struct smb2_durable_v2_request *durable,
                        struct sq_create_caching *caching)
{
    if (!c->fs->cfg.reconnect || crypto_random(c->create_guid, sizeof(c->create_guid)) != 0)
        return;
    *durable = (struct smb2_durable_v2_request){.timeout_ms = DURABLE_TIMEOUT_MS};
    memcpy(durable->create_guid, c->create_guid, sizeof(durable->create_guid));
    caching->durable = durable;
    c->durable_asked = true;
}

static void open_common(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool dir)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_node *n = node_find(fs, ino);
    if (!n) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (!dir && fs->cfg.read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    /* A truncating open must not overtake writes already answered to the kernel. */
    if (!dir && (fi->flags & O_TRUNC) &&
        park_if_writing(req, n, &(struct parked){.op = PARK_OPEN, .ino = ino, .fi = *fi}))
        return;
    /* A handle kept after close serves the open, with the pages cached under its lease. */
    struct fs_handle *kept =
        dir || (fi->flags & O_TRUNC) ? NULL : take_kept(fs, n, fi->flags & O_ACCMODE);
    if (kept) {
        fi->fh = (uint64_t)(uintptr_t)kept;
        fi->keep_cache = 1;
        if (fuse_reply_open(req, fi) != 0) { /* interrupted: nobody will release it */
            handle_unlink(fs, kept);
            close_unclaimed(fs, &kept->file_id);
            if (!open_handle_of(fs, ino, false))
                lease_ended(fs, n);
            handle_free(kept);
        }
        return;
    }
    struct call *c = call_new(fs, req, open_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->fi = *fi;
    c->ino = ino;
    c->flags = dir;
    c->retry_op = dir ? PARK_OPENDIR : PARK_OPEN;
    if (!(c->path = strdup(n->path))) {
        call_free(c);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    struct smb2_request r[2];
    memset(r, 0, sizeof(r));
    /* libfuse asks for atomic O_TRUNC (FUSE_CAP_ATOMIC_O_TRUNC): the open truncates, as
     * CREATE's FILE_OVERWRITE does (MS-SMB2 2.2.13). */
    bool trunc = !dir && (fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY;
    struct smb2_lease lease = {.state = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING};
    struct smb2_durable_v2_request durable;
    struct sq_create_caching caching = {0};
    if (!dir && fs->leases) {
        lease_key_of(fs, ino, lease.key);
        c->lease_held = (n->lease_state & SMB2_LEASE_READ_CACHING) != 0;
        c->lease_generation = n->lease_generation;
        caching.lease = &lease;
        ask_durable(c, &durable, &caching);
    }
    int rc =
        sq_req_create_leased(&r[0], n->path,
                             dir ? FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE
                                 : access_for_flags(fi->flags),
                             trunc ? FILE_OVERWRITE : FILE_OPEN,
                             dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE, 0, &caching);
    if (!rc && dir)
        rc = sq_req_query_directory(&r[1], &sq_related_file_id, true, true, DIR_QUERY_LEN);
    if (rc) {
        fail_build(req, c, r, 2, rc);
        return;
    }
    call_submit(c, r, dir ? 2 : 1);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    open_common(req, ino, fi, false);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    open_common(req, ino, fi, true);
}

/* READ answers straight from the connection's receive buffer: unlike call_reply_cb it does
 * not copy the (up to 1 MiB) response first. */
static void read_reply_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct call *c = arg;
    if (retry_later(c, err)) {
        call_free(c);
        return;
    }
    int e = err ? (err == SQ_ERR_NOMEM ? ENOMEM : EIO) : 0;
    struct smb2_read_response rr = {0};
    if (!e && reply->hdr.status == STATUS_END_OF_FILE) {
        fuse_reply_buf(c->req, NULL, 0);
        call_free(c);
        return;
    }
    if (!e && reply->hdr.status != STATUS_SUCCESS)
        e = errno_of(reply->hdr.status);
    if (!e && (smb2_read_response_decode(reply->msg, reply->len, &rr) != 0 ||
               rr.data_len > c->size))
        e = EIO;
    if (e)
        fuse_reply_err(c->req, e);
    else
        fuse_reply_buf(c->req, (const char *)rr.data, rr.data_len);
    call_free(c);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    if (park_if_writing(req, node_find(fs, ino),
                        &(struct parked){.op = PARK_READ, .ino = ino, .fi = *fi, .off = off,
                                         .size = size}))
        return;
    struct fs_handle *h = handle_of(fi);
    struct call *c = call_new(fs, req, NULL);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->size = size;
    c->ino = ino;
    c->fi = *fi;
    c->offset = (uint64_t)off;
    c->retry_op = PARK_READ;
    struct smb2_request r;
    int rc = smb2_request_init(&r, SMB2_READ, 0);
    if (!rc) {
        struct smb2_read_request rq = {
            .padding = SMB2_READ_RESPONSE_DATA_OFFSET,
            .length = (uint32_t)size,
            .offset = (uint64_t)off,
            .file_id = h->file_id,
        };
        r.expected_response_len = (uint32_t)size;
        rc = smb2_read_request_encode(&r.msg, &rq);
    }
    if (rc) {
        fail_build(req, c, &r, 1, rc);
        return;
    }
    r.tree_id = sq_session_tree_id(fs->session);
    r.cb = read_reply_cb;
    r.arg = c;
    c->count = 1;
    rc = smb2_conn_submit(fs->conn, &r, 1);
    if (rc) {
        fuse_reply_err(req, rc == SQ_ERR_NOMEM ? ENOMEM : EIO);
        call_free(c);
    }
}

/* Builds c's WRITE (c->size bytes of data at c->offset through c->handle) and submits it. On
 * failure the request is not sent and c is not completed. */
static int send_write(struct call *c, const uint8_t *data)
{
    struct smb2_request r;
    int rc = smb2_request_init(&r, SMB2_WRITE, 0);
    if (!rc) {
        struct smb2_write_request wq = {
            .offset = c->offset,
            .file_id = c->handle->file_id,
            .length = (uint32_t)c->size,
        };
        rc = smb2_write_request_encode_header(&r.msg, &wq);
    }
    if (rc) {
        writer_free(&r.msg);
        return rc;
    }
    /* The data goes from its buffer straight into the frame (a copy less per WRITE); the
     * connection copies it only if the request has to wait for credits. */
    r.tail = data;
    r.tail_len = c->size;
    r.tree_id = sq_session_tree_id(c->fs->session);
    r.cb = call_reply_cb;
    r.arg = c;
    c->count = 1;
    return smb2_conn_submit(c->fs->conn, &r, 1);
}

/* c's single request could not be sent (rc): c completes as failed, as if the connection had
 * answered so. */
static void complete_unsent(struct call *c, int rc)
{
    c->err = rc;
    c->count = c->arrived = 1;
    c->done(c);
    if (!c->kept)
        call_free(c);
}

/* A write-behind WRITE the connection's loss failed (not one the server refused) is kept with
 * its data and sent again once reconnected (replay_writes): it stays among the node's writes,
 * so what must wait for it (reads, fsync, close) waits on. True when kept. */
static bool replay_later(struct call *c)
{
    struct fs *fs = c->fs;
    if (!c->data || !c->err || c->err == SQ_ERR_NOMEM || fs->closing || !fs->cfg.reconnect ||
        !smb2_conn_error(fs->conn))
        return false;
    for (size_t i = 0; i < c->count; i++) {
        free(c->msg[i]);
        c->msg[i] = NULL;
    }
    c->kept = true;
    c->next_replay = fs->replays;
    fs->replays = c;
    return true;
}

/* The write-behind WRITE c is over: the kernel, if it waited for this one (over
 * WRITE_BEHIND_MAX), learns the outcome; otherwise an error is reported at the descriptor's
 * next write, flush or fsync. */
static void write_behind_done(struct call *c, int err)
{
    struct fs_handle *h = c->handle; /* release waits for this WRITE: still there */
    if (c->req) {
        if (err)
            fuse_reply_err(c->req, err);
        else
            fuse_reply_write(c->req, c->size);
        c->req = NULL;
    } else if (err && h && !h->write_error) {
        h->write_error = err;
        sq_log(SQ_LOG_WARNING, "write of %zu bytes at %llu failed: %s (reported at the "
               "next write, close or fsync)", c->size, (unsigned long long)c->offset,
               strerror(err));
    }
    untrack_write(c->fs, c);
}

/* Once reconnected, after the handles were reclaimed or opened again: sends the kept WRITEs
 * again through their handles' new ids. A handle that could not be opened again fails its
 * WRITE (EBADF, reported as any write-behind error); a connection lost again keeps them for
 * the next one. Overlapping WRITEs are never in flight together, so their order does not
 * matter. */
static void replay_writes(struct fs *fs)
{
    struct call *c = fs->replays;
    fs->replays = NULL;
    size_t count = 0;
    uint64_t bytes = 0;
    for (struct call *next; c; c = next) {
        next = c->next_replay;
        c->next_replay = NULL;
        c->kept = false;
        c->err = 0;
        c->arrived = 0;
        count++;
        bytes += c->size;
        int rc = send_write(c, c->data);
        if (rc)
            complete_unsent(c, rc);
    }
    if (count) {
        fs->writes_replayed += count;
        sq_log(SQ_LOG_INFO, "sent again %zu writes (%llu bytes) the lost connection had in flight",
               count, (unsigned long long)bytes);
    }
}

/* Fails the kept WRITEs: a soft mount's wait is over, or the mount ends disconnected. */
static void fail_replays(struct fs *fs)
{
    struct call *c = fs->replays;
    fs->replays = NULL;
    size_t count = 0;
    uint64_t bytes = 0;
    for (struct call *next; c; c = next) {
        next = c->next_replay;
        count++;
        bytes += c->size;
        /* The kernel may still cache what was written (pages, and the size under a lease):
         * the server will not have it. */
        if (c->handle)
            invalidate_cache(fs, c->handle->ino, false);
        write_behind_done(c, EIO);
        call_free(c);
    }
    if (count) {
        /* Data the application was told was written: never dropped without a word. */
        fs->writes_not_sent += count;
        sq_log(SQ_LOG_ERROR,
               "gave up on %zu writes (%llu bytes) the lost connection had in "
               "flight: the connection did not come back in time; their files report EIO at "
               "the next write, fsync or close",
               count, (unsigned long long)bytes);
    }
}

static void write_done(struct call *c)
{
    int err = call_errno(c, 1);
    struct smb2_write_response wr;
    if (!err && smb2_write_response_decode(c->msg[0], c->len[0], &wr) != 0)
        err = EIO;
    bool behind = c->flags != 0;
    if (behind && !err && wr.count != c->size)
        err = EIO; /* the kernel was told all of it was written */
    if (behind) {
        if (!replay_later(c))
            write_behind_done(c, err);
        return;
    }
    if (err)
        fuse_reply_err(c->req, err);
    else
        fuse_reply_write(c->req, wr.count);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_handle *h = handle_of(fi);
    struct fs_node *n = node_find(fs, ino);
    int pending_err = take_write_error(h);
    if (pending_err) {
        fuse_reply_err(req, pending_err);
        return;
    }
    /* cache=none promises write-through: every write waits for the server. */
    bool behind = n && fs->cfg.cache != FS_CACHE_NONE;
    /* Wait behind overlapping writes (their order matters), and behind requests already
     * waiting, so a steady writer cannot starve a reader, a close or a chmod. */
    if (behind && n->writes && (n->parked || write_overlaps(n, (uint64_t)off, size))) {
        struct parked p = {.op = PARK_WRITE, .ino = ino, .fi = *fi, .off = off, .size = size};
        if (!(p.data = malloc(size ? size : 1))) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        memcpy(p.data, buf, size);
        park_if_writing(req, n, &p);
        return;
    }
    struct call *c = call_new(fs, req, write_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->ino = ino;
    c->handle = h;
    c->offset = (uint64_t)off;
    c->size = size;
    c->flags = behind;
    /* Data the kernel was told is written must survive a lost connection (replay_later):
     * a copy, kept until the server has it. */
    if (behind && fs->cfg.reconnect) {
        if (!(c->data = malloc(size ? size : 1))) {
            call_free(c);
            fuse_reply_err(req, ENOMEM);
            return;
        }
        memcpy(c->data, buf, size);
        c->data_len = size;
    }
    bool answer_now = behind && fs->write_behind_bytes + size <= WRITE_BEHIND_MAX;
    if (behind)
        track_write(fs, n, c);
    /* Answer before submitting: a failure inside submit may complete (and free) c at once. */
    if (answer_now) {
        fuse_reply_write(req, size);
        c->req = NULL;
    }
    int rc = send_write(c, c->data ? c->data : (const uint8_t *)buf);
    if (rc)
        complete_unsent(c, rc);
}

static void reply_status_done(struct call *c)
{
    fuse_reply_err(c->req, call_errno(c, c->count));
}

static void release_common(fuse_req_t req, struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_handle *h = handle_of(fi);
    if (keep_handle(fs, h)) {
        fuse_reply_err(req, 0);
        return;
    }
    struct call *c = call_new(fs, req, reply_status_done);
    struct smb2_request r;
    int rc = c ? sq_req_close(&r, &h->file_id, false) : SQ_ERR_NOMEM;
    handle_unlink(fs, h);
    /* A lease lasts as long as an open with its key: closing the last one ends it. */
    struct fs_node *n = h->is_dir ? NULL : node_find(fs, h->ino);
    if (n && !n->kept && !open_handle_of(fs, h->ino, false))
        lease_ended(fs, n);
    handle_free(h);
    if (rc) {
        fail_build(req, c, &r, c ? 1 : 0, rc);
        return;
    }
    call_submit(c, &r, 1);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    /* The handle must outlive the WRITEs sent through it. */
    if (park_if_writing(req, node_find(fuse_req_userdata(req), ino),
                        &(struct parked){.op = PARK_RELEASE, .ino = ino, .fi = *fi}))
        return;
    release_common(req, fi);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    release_common(req, fi);
}

/* ---- flock ----
 * flock(2) locks are shared between machines: each is an SMB2 byte-range lock (MS-SMB2 2.2.26)
 * through the descriptor's own handle, which is what a flock belongs to (an open file
 * description: dup and fork share it). SMB locks are mandatory on the server, so a lock over
 * the file's data would make other clients' reads and writes fail, and a program's own writes
 * through a second descriptor too (`flock FILE -c 'echo >>FILE'`); flock is advisory. So the
 * lock is on one byte far beyond any data (FLOCK_OFFSET): every smbquic mount locks that byte,
 * and they exclude each other as flock does on one machine. Converting SH to EX or back is an
 * unlock then a lock, as Linux does it (not atomically). A blocking flock waits on the server
 * (the LOCK goes async, 3.3.4.2); a signal cancels it (SMB2 CANCEL, 3.2.4.24). Closing the
 * descriptor's last reference closes the handle, which drops the lock (so a handle holding one
 * is never kept after close). A durable handle reclaimed after a lost connection has its locks
 * still (the server keeps them with the disconnected open); a handle opened again by name has
 * none, and the mount logs which file lost its lock. A flock in flight at the loss fails with
 * EIO (whether the server granted it is unknown; running it again could wait on itself). */
#define FLOCK_OFFSET (UINT64_MAX - 1)

static void flock_interrupted(fuse_req_t req, void *data)
{
    (void)req;
    struct call *c = data;
    /* A LOCK still waiting for credits has no MessageId yet and cannot be named: it ends when
     * the server answers it (credits are short only while many requests are in flight). */
    if (c->message_id != UINT64_MAX)
        smb2_conn_cancel(c->fs->conn, c->message_id);
}

static void flock_send(struct call *c, int type, bool nb);

/* Answering a request frees it with its interrupt callback (libfuse clears it): nothing is
 * unregistered here. */
static void flock_done(struct call *c)
{
    int err = call_errno(c, 1);
    struct fs_handle *h = c->handle;
    bool unlock = c->flags == LOCK_UN;
    if (c->count == 1 && c->status[0] == STATUS_CANCELLED)
        err = EINTR;
    else if (!unlock &&
             (c->status[0] == STATUS_LOCK_NOT_GRANTED || c->status[0] == STATUS_FILE_LOCK_CONFLICT))
        err = EWOULDBLOCK; /* held by another (servers answer either, MS-SMB2 3.3.5.14) */
    if (unlock && c->status[0] == STATUS_RANGE_NOT_LOCKED)
        err = 0; /* already gone (the lock did not survive a reconnect) */
    if (!err)
        h->flock_held = unlock ? 0 : c->flags;
    else if (unlock)
        h->flock_held = 0;       /* whatever the server says, we hold nothing we know of */
    if (c->flock_then && !err) { /* a conversion's unlock is done: now the lock */
        struct call *next = call_continue(c, flock_done);
        if (!next) {
            fuse_reply_err(c->req, ENOMEM);
            return;
        }
        next->flags = c->flock_then;
        flock_send(next, c->flock_then, c->flock_nb);
        return;
    }
    fuse_reply_err(c->req, err);
}

/* Sends c's LOCK of the flock byte: LOCK_UN, or LOCK_SH/LOCK_EX (failing at once when nb). */
static void flock_send(struct call *c, int type, bool nb)
{
    struct fs_handle *h = c->handle;
    struct smb2_lock_element el = {.offset = FLOCK_OFFSET, .length = 1};
    el.flags = type == LOCK_UN   ? SMB2_LOCKFLAG_UNLOCK
               : type == LOCK_SH ? SMB2_LOCKFLAG_SHARED_LOCK
                                 : SMB2_LOCKFLAG_EXCLUSIVE_LOCK;
    if (type != LOCK_UN && nb)
        el.flags |= SMB2_LOCKFLAG_FAIL_IMMEDIATELY;
    struct smb2_lock_request lr = {.file_id = h->file_id, .locks = &el, .lock_count = 1};
    struct smb2_request r;
    memset(&r, 0, sizeof(r));
    int rc = smb2_request_init(&r, SMB2_LOCK, 0);
    if (!rc)
        rc = smb2_lock_request_encode(&r.msg, &lr);
    if (rc) {
        fail_build(c->req, c, &r, 1, rc);
        return;
    }
    /* A lock that may wait can be cancelled by a signal: CANCEL names it by MessageId, known
     * once it is sent (all ones, reserved for breaks by 2.2.1, until then). */
    c->message_id = UINT64_MAX;
    r.message_id_out = &c->message_id;
    if (type != LOCK_UN && !nb)
        fuse_req_interrupt_func(c->req, flock_interrupted, c);
    call_submit(c, &r, 1);
}

static void fs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_handle *h = handle_of(fi);
    int type = op & (LOCK_SH | LOCK_EX | LOCK_UN);
    bool nb = (op & LOCK_NB) != 0;
    if (!h || h->is_dir || (type != LOCK_SH && type != LOCK_EX && type != LOCK_UN)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (type == h->flock_held || (type == LOCK_UN && !h->flock_held)) {
        fuse_reply_err(req, 0);
        return;
    }
    struct call *c = call_new(fs, req, flock_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->ino = ino;
    c->handle = h;
    if (type != LOCK_UN && h->flock_held) { /* a conversion: unlock first (flock_done) */
        c->flock_then = type;
        c->flock_nb = nb;
        c->flags = LOCK_UN;
        flock_send(c, LOCK_UN, false);
        return;
    }
    c->flags = type;
    flock_send(c, type, nb);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_node *n = node_find(fs, ino);
    if (park_if_writing(req, n, &(struct parked){.op = PARK_FSYNC, .ino = ino, .fi = *fi,
                                                 .flags = datasync}))
        return;
    struct fs_handle *h = handle_of(fi);
    int pending_err = take_write_error(h);
    /* A descriptor that cannot write has nothing of its own to push, and SMB refuses FLUSH
     * on a handle without write access (MS-SMB2 3.3.5.11): only the errors above count. */
    if (pending_err || h->is_dir || h->access_mode == O_RDONLY) {
        fuse_reply_err(req, pending_err);
        return;
    }
    struct call *c = call_new(fs, req, reply_status_done);
    if (c) { /* FLUSH changes nothing: lost with the connection, it is sent again */
        c->ino = ino;
        c->fi = *fi;
        c->flags = datasync;
        c->retry_op = PARK_FSYNC;
    }
    struct smb2_request r;
    int rc = c ? smb2_request_init(&r, SMB2_FLUSH, 0) : SQ_ERR_NOMEM;
    if (!rc)
        rc = smb2_flush_request_encode(&r.msg, &h->file_id);
    if (rc) {
        fail_build(req, c, &r, c ? 1 : 0, rc);
        return;
    }
    call_submit(c, &r, 1);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    /* close(2): returns once the write-behind data is on the server, with its error. */
    struct fs_node *n = node_find(fuse_req_userdata(req), ino);
    if (park_if_writing(req, n, &(struct parked){.op = PARK_FLUSH, .ino = ino, .fi = *fi}))
        return;
    fuse_reply_err(req, take_write_error(handle_of(fi)));
}

/* ---- create, mkdir ---- */

/* create_done: the lease the creating open got becomes its node's (see "leases"), unless the
 * node already has opens under another key (the kernel created over a name it did not know
 * was there): then that handle's lease stays apart, its breaks acknowledged but not applied,
 * and the node's own lease keeps its cache right. True when adopted. */
static bool created_lease_adopted(struct call *c, const struct smb2_create_response *cr,
                                  fuse_ino_t ino)
{
    struct fs *fs = c->fs;
    struct fs_node *n = node_find(fs, ino);
    uint8_t key[SMB2_LEASE_KEY_SIZE];
    lease_key_make(fs, c->created_lease_id, true, key);
    if (!n || !c->created_lease_id || !cr->has_lease || memcmp(cr->lease.key, key, sizeof(key)))
        return false;
    if (n->created_lease_id != c->created_lease_id) {
        if (n->created_lease_id || n->lease_state || n->kept || open_handle_of(fs, ino, false))
            return false;
        n->created_lease_id = c->created_lease_id;
        fs->created_leases++;
    }
    n->lease_state = cr->lease.state;
    return true;
}

static void create_done(struct call *c)
{
    struct smb2_create_response cr;
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    int err = call_errno(c, 1);
    if (!err && smb2_create_response_decode(c->msg[0], c->len[0], &cr) != 0)
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    /* From here on the file is open on the server: every failure closes it again. */
    err = call_errno(c, 2);
    if (!err)
        err = -stat_from_all_info(c->fs, c->msg[1], c->len[1], &e.attr);
    if (err) {
        close_unclaimed(c->fs, &cr.file_id);
        fuse_reply_err(c->req, err);
        return;
    }
    e.ino = e.attr.st_ino;
    e.attr_timeout = attr_timeout(c->fs);
    e.entry_timeout = attr_timeout(c->fs);
    struct fs_handle *h = calloc(1, sizeof(*h));
    if (!h || !node_ref(c->fs, e.ino, c->path)) {
        free(h);
        close_unclaimed(c->fs, &cr.file_id);
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    h->file_id = cr.file_id;
    h->ino = e.ino;
    h->access_mode = c->fi.flags & O_ACCMODE;
    if (created_lease_adopted(c, &cr, e.ino) && c->durable_asked && cr.has_durable_v2) {
        h->durable = true;
        memcpy(h->create_guid, c->create_guid, sizeof(h->create_guid));
    }
    handle_link(c->fs, h);
    c->fi.fh = (uint64_t)(uintptr_t)h;
    if (c->fs->cfg.cache == FS_CACHE_NONE)
        c->fi.direct_io = 1;
    if (fuse_reply_create(c->req, &e, &c->fi) != 0) {
        handle_unlink(c->fs, h);
        close_unclaimed(c->fs, &h->file_id);
        free(h);
        struct fs_node *n = node_find(c->fs, e.ino);
        if (n && !open_handle_of(c->fs, e.ino, false))
            lease_ended(c->fs, n);
        node_forget(c->fs, e.ino, 1);
    }
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    struct call *c = begin_op(req, parent, name, true, create_done);
    if (!c)
        return;
    c->fi = *fi;
    if (!(fi->flags & O_EXCL)) { /* see "retry" */
        c->ino = parent;
        c->size = mode;
        c->retry_op = PARK_CREATE;
    }
    uint32_t disposition = (fi->flags & O_EXCL)    ? FILE_CREATE
                           : (fi->flags & O_TRUNC) ? FILE_OVERWRITE_IF
                                                   : FILE_OPEN_IF;
    struct smb2_request reqs[2];
    memset(reqs, 0, sizeof(reqs));
    /* The inode number, which other opens' keys are made of, is not known yet: the lease is
     * asked for under a random key of the file's own (see "leases"). */
    struct smb2_lease lease = {.state = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING};
    struct smb2_durable_v2_request durable;
    struct sq_create_caching caching = {0};
    if (c->fs->leases && crypto_random(&c->created_lease_id, sizeof(c->created_lease_id)) == 0) {
        c->created_lease_id |= 1; /* 0 means none */
        lease_key_make(c->fs, c->created_lease_id, true, lease.key);
        caching.lease = &lease;
        ask_durable(c, &durable, &caching);
    }
    int rc = sq_req_create_leased(
        &reqs[0], c->path, access_for_flags(fi->flags | O_RDWR) | FILE_READ_DATA, disposition,
        FILE_NON_DIRECTORY_FILE, (mode & 0222) ? FILE_ATTRIBUTE_NORMAL : FILE_ATTRIBUTE_READONLY,
        &caching);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (rc) {
        fail_build(req, c, reqs, 2, rc);
        return;
    }
    call_submit(c, reqs, 2);
}

static void mkdir_done(struct call *c)
{
    reply_entry_from(c, 1);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    struct call *c = begin_op(req, parent, name, true, mkdir_done);
    if (!c)
        return;
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], c->path, FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_CREATE,
                        FILE_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        fail_build(req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* ---- unlink, rmdir: CREATE(DELETE) + SET_INFO(disposition) + CLOSE (MS-FSCC 2.4.11) ---- */

/* The node of a file at path that we hold open, or NULL. */
static struct fs_node *open_node_at(struct fs *fs, const char *path)
{
    for (struct fs_handle *h = fs->open_files; h; h = h->next) {
        struct fs_node *n = h->is_dir ? NULL : node_find(fs, h->ino);
        if (n && !n->unlinked && strcmp(n->path, path) == 0)
            return n;
    }
    return NULL;
}

/* The hidden name a file unlinked while open gets, in its own directory. */
static char *unlinked_name(struct fs *fs, const char *path, fuse_ino_t ino)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = dir_len + sizeof(UNLINKED_PREFIX) + 48;
    char *hidden = malloc(len);
    if (hidden)
        snprintf(hidden, len, "%.*s%s%llx-%llu", (int)dir_len, path, UNLINKED_PREFIX,
                 (unsigned long long)ino, (unsigned long long)++fs->unlinked_seq);
    return hidden;
}

/* POSIX lets a file be unlinked (or replaced by a rename) while open and used through its
 * descriptors until the last close; SMB deletes a file only at its last close and, until
 * then, keeps the name taken and unopenable (STATUS_DELETE_PENDING), and refuses to replace
 * an open file. So, as NFS clients do, the file is renamed to a hidden name in the same
 * directory and marked delete-on-close, in one related chain of four requests: the name is
 * free at once, our handles keep working, and the server removes the file when the last one
 * closes, even if this process dies. Fills reqs[0..HIDE_CHAIN). */
#define HIDE_CHAIN 5

static int build_hide_and_delete(struct smb2_request *reqs, const char *path, const char *hidden)
{
    struct writer rename, basic, disp;
    writer_init(&rename);
    writer_init(&basic);
    writer_init(&disp);
    uint8_t *target = NULL;
    size_t target_len = 0;
    /* A read-only file could be renamed but not deleted (STATUS_CANNOT_DELETE), which would
     * leave it hidden for good: its attributes are cleared first, as for unlink. */
    struct smb2_file_basic_info bi = {.file_attributes = FILE_ATTRIBUTE_NORMAL};
    int rc = sq_req_create(&reqs[0], path,
                           SMB2_DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, FILE_OPEN,
                           FILE_NON_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_path_to_smb(hidden, &target, &target_len);
    if (!rc)
        rc = smb2_file_rename_info_encode(&rename, false, target, target_len);
    if (!rc)
        rc = sq_req_set_info(&reqs[1], &sq_related_file_id, true, FILE_RENAME_INFORMATION,
                             rename.data, rename.len);
    if (!rc)
        rc = smb2_file_basic_info_encode(&basic, &bi);
    if (!rc)
        rc = sq_req_set_info(&reqs[2], &sq_related_file_id, true, FILE_BASIC_INFORMATION,
                             basic.data, basic.len);
    if (!rc)
        rc = smb2_file_disposition_info_encode(&disp, true);
    if (!rc)
        rc = sq_req_set_info(&reqs[3], &sq_related_file_id, true, FILE_DISPOSITION_INFORMATION,
                             disp.data, disp.len);
    if (!rc)
        rc = sq_req_close(&reqs[4], &sq_related_file_id, true);
    free(target);
    writer_free(&rename);
    writer_free(&basic);
    writer_free(&disp);
    return rc;
}

/* Follows a hide-and-delete chain starting at reply `first` of c: once the rename worked the
 * file lives under its hidden name (whatever came after), and it is unlinked once the
 * delete-on-close is set too. 0 when all of it worked, else an errno. */
static int note_hidden(struct call *c, size_t first, fuse_ino_t ino, const char *path,
                       const char *hidden)
{
    if (c->err)
        return call_errno(c, 1);
    for (size_t i = first; i < first + 4; i++) {
        if (c->status[i] == STATUS_SUCCESS)
            continue;
        if (i > first + 1) /* renamed already */
            nodes_rename(c->fs, path, hidden);
        return errno_of(c->status[i]);
    }
    struct fs_node *n = node_find(c->fs, ino);
    nodes_rename(c->fs, path, hidden);
    if (n)
        n->unlinked = true;
    /* A file with other names goes by one of those again (and is not unlinked). */
    nodes_name_gone(c->fs, hidden);
    return 0;
}

static void unlink_open_done(struct call *c)
{
    fuse_reply_err(c->req, note_hidden(c, 0, c->ino, c->path, c->path2));
}

static void unlink_open(struct call *c, struct fs_node *n)
{
    if (!(c->path2 = unlinked_name(c->fs, c->path, n->ino))) {
        fail_build(c->req, c, NULL, 0, SQ_ERR_NOMEM);
        return;
    }
    c->ino = n->ino;
    c->done = unlink_open_done;
    struct smb2_request reqs[HIDE_CHAIN];
    memset(reqs, 0, sizeof(reqs));
    int rc = build_hide_and_delete(reqs, c->path, c->path2);
    if (rc) {
        fail_build(c->req, c, reqs, HIDE_CHAIN, rc);
        return;
    }
    call_submit(c, reqs, HIDE_CHAIN);
}

/* A read-only file (FILE_ATTRIBUTE_READONLY) cannot be deleted over SMB
 * (STATUS_CANNOT_DELETE), but POSIX needs only write access to the directory: clear the
 * attribute and delete in one more compound. c->size holds the file's attributes (from the
 * first CREATE), put back should the delete still fail (remove_readonly_done). */
static void remove_readonly_submit(struct call *c)
{
    struct set_item items[2] = {{.info_class = FILE_BASIC_INFORMATION},
                                {.info_class = FILE_DISPOSITION_INFORMATION}};
    writer_init(&items[0].buf);
    writer_init(&items[1].buf);
    uint32_t attributes = (uint32_t)c->size & SETTABLE_FILE_ATTRIBUTES & ~FILE_ATTRIBUTE_READONLY;
    struct smb2_file_basic_info bi = {.file_attributes = attributes ? attributes
                                                                    : FILE_ATTRIBUTE_NORMAL};
    int rc = smb2_file_basic_info_encode(&items[0].buf, &bi);
    if (!rc)
        rc = smb2_file_disposition_info_encode(&items[1].buf, true);
    submit_set_chain(c, c->path, SMB2_DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                     FILE_NON_DIRECTORY_FILE, items, 2, rc);
}

/* A file's name removed: nodes that went by it switch to another of their names. */
/* The errno of a removal: a run again after a lost connection that finds the name gone
 * succeeded, since the lost connection's run removed it (see "retry"). */
static int remove_errno(const struct call *c)
{
    int err = call_errno(c, c->count);
    return err == ENOENT && c->rerun ? 0 : err;
}

static void remove_file_done(struct call *c)
{
    int err = remove_errno(c);
    if (!err)
        nodes_name_gone(c->fs, c->path);
    fuse_reply_err(c->req, err);
}

/* The attributes are back (or could not be put back): the delete's error is the answer. */
static void readonly_restored_done(struct call *c)
{
    fuse_reply_err(c->req, (int)c->offset);
}

/* Step 2 of deleting a read-only file: when the read-only attribute went but the delete
 * still failed (e.g. the file is open elsewhere without delete sharing), put the attributes
 * back before answering, so a failed rm does not leave the file writable. */
static void remove_readonly_done(struct call *c)
{
    int err = call_errno(c, c->count);
    if (!c->err && c->count == 4 && c->status[1] == STATUS_SUCCESS &&
        c->status[2] != STATUS_SUCCESS) {
        struct call *next = call_continue(c, readonly_restored_done);
        if (next) {
            next->offset = (uint64_t)err;
            struct set_item item = {.info_class = FILE_BASIC_INFORMATION};
            writer_init(&item.buf);
            struct smb2_file_basic_info bi = {.file_attributes = (uint32_t)next->size &
                                                                 SETTABLE_FILE_ATTRIBUTES};
            int rc = smb2_file_basic_info_encode(&item.buf, &bi);
            submit_set_chain(next, next->path, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                             FILE_NON_DIRECTORY_FILE, &item, 1, rc);
            return;
        }
    }
    remove_file_done(c);
}

static void remove_done(struct call *c)
{
    bool file = c->flags == 0;
    struct smb2_create_response cr;
    if (file && !c->err && c->count == 3 && c->status[0] == STATUS_SUCCESS &&
        c->status[1] == STATUS_CANNOT_DELETE &&
        smb2_create_response_decode(c->msg[0], c->len[0], &cr) == 0) {
        struct call *next = call_continue(c, remove_readonly_done);
        if (!next) {
            fuse_reply_err(c->req, ENOMEM);
            return;
        }
        next->size = cr.file_attributes;
        remove_readonly_submit(next);
        return;
    }
    if (file) {
        remove_file_done(c);
        return;
    }
    fuse_reply_err(c->req, remove_errno(c));
}

/* rerun: run again after a lost connection (see "retry"). */
static void remove_common(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir, bool rerun)
{
    struct call *c = begin_op(req, parent, name, true, remove_done);
    if (!c)
        return;
    c->flags = dir;
    c->rerun = rerun;
    kept_close_at(c->fs, c->path);
    struct fs_node *open_node = dir ? NULL : open_node_at(c->fs, c->path);
    if (open_node) {
        unlink_open(c, open_node);
        return;
    }
    /* Not an open file's (its hidden rename is not run twice): run again if lost. */
    c->ino = parent;
    c->retry_op = dir ? PARK_RMDIR : PARK_UNLINK;
    struct set_item disp = {.info_class = FILE_DISPOSITION_INFORMATION};
    writer_init(&disp.buf);
    int rc = smb2_file_disposition_info_encode(&disp.buf, true);
    submit_set_chain(c, c->path, SMB2_DELETE | FILE_READ_ATTRIBUTES,
                     dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE, &disp, 1, rc);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    remove_common(req, parent, name, false, false);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    remove_common(req, parent, name, true, false);
}

/* ---- rename: CREATE(DELETE) + SET_INFO(FileRenameInformation) + CLOSE ---- */

static void rename_done(struct call *c)
{
    int err = call_errno(c, 2);
    if (!err) {
        nodes_name_gone(c->fs, c->path2); /* a replaced file keeps its other names */
        nodes_rename(c->fs, c->path, c->path2);
    }
    fuse_reply_err(c->req, err);
}

/* Replacing a file we hold open, step 2: the hide-and-delete chain of the target, then the
 * rename and close of the source opened in step 1 (by its file id). */
static void rename_over_open_done(struct call *c)
{
    const char *hidden = (const char *)c->data;
    int err = note_hidden(c, 0, c->ino, c->path2, hidden);
    for (size_t i = HIDE_CHAIN; !err && !c->err && i < HIDE_CHAIN + 1; i++)
        if (c->status[i] != STATUS_SUCCESS)
            err = errno_of(c->status[i]);
    if (!err)
        nodes_rename(c->fs, c->path, c->path2);
    fuse_reply_err(c->req, err);
}

/* Step 1 opened the source: only now, when the rename can no longer fail for want of its
 * source, is the target hidden and marked for deletion, with the rename in one compound. */
static void rename_source_opened(struct call *c)
{
    struct smb2_create_response cr;
    int err = call_errno(c, 1);
    if (!err && smb2_create_response_decode(c->msg[0], c->len[0], &cr) != 0)
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct call *next = call_continue(c, rename_over_open_done);
    if (!next) {
        close_unclaimed(c->fs, &cr.file_id);
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    struct smb2_request reqs[HIDE_CHAIN + 2];
    memset(reqs, 0, sizeof(reqs));
    struct writer info;
    writer_init(&info);
    uint8_t *target = NULL;
    size_t target_len = 0;
    int rc = build_hide_and_delete(reqs, next->path2, (const char *)next->data);
    if (!rc)
        rc = sq_path_to_smb(next->path2, &target, &target_len);
    if (!rc)
        rc = smb2_file_rename_info_encode(&info, true, target, target_len);
    if (!rc)
        rc = sq_req_set_info(&reqs[HIDE_CHAIN], &cr.file_id, false, FILE_RENAME_INFORMATION,
                             info.data, info.len);
    if (!rc)
        rc = sq_req_close(&reqs[HIDE_CHAIN + 1], &cr.file_id, false);
    free(target);
    writer_free(&info);
    if (rc) {
        close_unclaimed(next->fs, &cr.file_id);
        fail_build(next->req, next, reqs, HIDE_CHAIN + 2, rc);
        return;
    }
    call_submit(next, reqs, HIDE_CHAIN + 2);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_node *p = node_find(fs, parent), *np = node_find(fs, newparent);
    if (!p || !np) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (flags & ~(unsigned)RENAME_NOREPLACE) {
        fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE has no SMB equivalent */
        return;
    }
    if (name_too_long(newname)) {
        fuse_reply_err(req, ENAMETOOLONG);
        return;
    }
    if (fs->cfg.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    struct call *c = call_new(fs, req, rename_done);
    if (!c || !(c->path = child_path(p, name)) || !(c->path2 = child_path(np, newname))) {
        if (c)
            call_free(c);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    kept_close_at(fs, c->path);
    kept_close_at(fs, c->path2);
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], c->path, SMB2_DELETE | FILE_READ_ATTRIBUTES |
                           SMB2_SYNCHRONIZE, FILE_OPEN, 0, 0);
    /* Replacing a file we hold open: SMB refuses to replace an open file, POSIX keeps the
     * open descriptors on the old one. Open the source first (step 1), then hide the target
     * and rename (rename_source_opened). */
    struct fs_node *victim = (flags & RENAME_NOREPLACE) ? NULL : open_node_at(fs, c->path2);
    if (victim) {
        c->ino = victim->ino;
        c->done = rename_source_opened;
        c->data = (uint8_t *)unlinked_name(fs, c->path2, victim->ino);
        if (!rc && !c->data)
            rc = SQ_ERR_NOMEM;
        if (rc) {
            fail_build(req, c, reqs, 1, rc);
            return;
        }
        call_submit(c, reqs, 1);
        return;
    }
    struct writer info;
    writer_init(&info);
    uint8_t *target = NULL;
    size_t target_len = 0;
    if (!rc)
        rc = sq_path_to_smb(c->path2, &target, &target_len);
    if (!rc)
        rc = smb2_file_rename_info_encode(&info, !(flags & RENAME_NOREPLACE), target,
                                          target_len);
    if (!rc)
        rc = sq_req_set_info(&reqs[1], &sq_related_file_id, true, FILE_RENAME_INFORMATION,
                             info.data, info.len);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    free(target);
    writer_free(&info);
    if (rc) {
        fail_build(req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* ---- link: CREATE + SET_INFO(FileLinkInformation) + QUERY_INFO + CLOSE (MS-FSCC 2.4.21) ---- */

static void link_done(struct call *c)
{
    reply_entry_from(c, 2);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_node *n = node_find(fs, ino);
    if (!n || n->unlinked) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct call *c = begin_op(req, newparent, newname, true, link_done);
    if (!c)
        return;
    struct smb2_request reqs[4];
    memset(reqs, 0, sizeof(reqs));
    struct writer info;
    writer_init(&info);
    uint8_t *target = NULL;
    size_t target_len = 0;
    int rc = sq_req_create(&reqs[0], n->path, FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE,
                           FILE_OPEN, FILE_NON_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_path_to_smb(c->path, &target, &target_len);
    if (!rc)
        rc = smb2_file_link_info_encode(&info, false, target, target_len);
    if (!rc)
        rc = sq_req_set_info(&reqs[1], &sq_related_file_id, true, FILE_LINK_INFORMATION,
                             info.data, info.len);
    if (!rc)
        rc = sq_req_query_info(&reqs[2], &sq_related_file_id, true, SMB2_0_INFO_FILE,
                               FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[3], &sq_related_file_id, true);
    free(target);
    writer_free(&info);
    if (rc) {
        fail_build(req, c, reqs, 4, rc);
        return;
    }
    call_submit(c, reqs, 4);
}

/* ---- symlink, readlink ---- */

static void symlink_done(struct call *c)
{
    struct stat st;
    int err = call_errno(c, 3);
    if (!err)
        err = -stat_from_all_info(c->fs, c->msg[2], c->len[2], &st);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    as_symlink(&st, strlen(c->path2));
    finish_entry(c, &st);
}

/* CREATE(new file) + WRITE(the link file) + QUERY_INFO + CLOSE in one round trip. Without
 * mfsymlinks there is no way to store a link on a server without symlink support (Samba 4.17
 * refuses FSCTL_SET_REPARSE_POINT): EPERM, as on filesystems without symlinks. */
static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    struct fs *fs = fuse_req_userdata(req);
    if (!fs->cfg.mfsymlinks) {
        fuse_reply_err(req, EPERM);
        return;
    }
    uint8_t file[MFSYMLINK_FILE_SIZE];
    int rc = mfsymlink_encode(link, file);
    if (rc) {
        fuse_reply_err(req, rc == SQ_ERR_INVAL ? ENAMETOOLONG : EIO);
        return;
    }
    struct call *c = begin_op(req, parent, name, true, symlink_done);
    if (!c)
        return;
    if (!(c->path2 = strdup(link))) {
        fail_build(req, c, NULL, 0, SQ_ERR_NOMEM);
        return;
    }
    struct smb2_request reqs[4];
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], c->path, FILE_WRITE_DATA | FILE_READ_ATTRIBUTES |
                       SMB2_SYNCHRONIZE, FILE_CREATE, FILE_NON_DIRECTORY_FILE, 0);
    if (!rc)
        rc = smb2_request_init(&reqs[1], SMB2_WRITE, 0);
    if (!rc) {
        struct smb2_write_request wq = {
            .file_id = sq_related_file_id,
            .data = file,
            .length = MFSYMLINK_FILE_SIZE,
        };
        reqs[1].related = true;
        rc = smb2_write_request_encode(&reqs[1].msg, &wq);
    }
    if (!rc)
        rc = sq_req_query_info(&reqs[2], &sq_related_file_id, true, SMB2_0_INFO_FILE,
                               FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[3], &sq_related_file_id, true);
    if (rc) {
        fail_build(req, c, reqs, 4, rc);
        return;
    }
    call_submit(c, reqs, 4);
}

static void readlink_done(struct call *c)
{
    char *target = symlink_target_of(c);
    if (target)
        fuse_reply_readlink(c->req, target);
    else
        fuse_reply_err(c->req, EINVAL);
    free(target);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct fs *fs = fuse_req_userdata(req);
    if (!fs->cfg.mfsymlinks) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    struct call *c = begin_op(req, ino, NULL, false, readlink_done);
    if (c)
        symlink_read_submit(c);
}

/* ---- xattrs: the user.* namespace is the file's SMB extended attributes (MS-FSCC 2.4.15),
 * "user.NAME" <-> EA "NAME". Other namespaces have no SMB equivalent. SMB deletes an EA when
 * its value is empty, so an empty value cannot be stored (EINVAL). ---- */

#define XATTR_PREFIX "user."
#define XATTR_PREFIX_LEN (sizeof(XATTR_PREFIX) - 1)
/* Largest EA list read back: Windows caps a file's EAs at 64 KiB. */
#define EA_LIST_MAX 65536u

/* CREATE + QUERY_INFO(FileFullEaInformation) + CLOSE. */
static void xattr_query_submit(struct call *c)
{
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], c->path, FILE_READ_EA | FILE_READ_ATTRIBUTES |
                           SMB2_SYNCHRONIZE, FILE_OPEN, 0, 0);
    if (!rc)
        rc = sq_req_query_eas(&reqs[1], &sq_related_file_id, true, EA_LIST_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        fail_build(c->req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* The EA list of a finished xattr_query_submit call: 0 with the reader set (possibly empty),
 * or an errno. */
static int xattr_list_of(const struct call *c, struct reader *r)
{
    int err = call_errno(c, 1);
    if (err)
        return err;
    reader_init(r, NULL, 0);
    /* A file without EAs answers with an error status, not an empty list. */
    if (c->status[1] == STATUS_NO_EAS_ON_FILE || c->status[1] == STATUS_NO_MORE_EAS)
        return 0;
    if (c->status[1] == STATUS_BUFFER_OVERFLOW || c->status[1] == STATUS_BUFFER_TOO_SMALL)
        return E2BIG;
    if (c->status[1] != STATUS_SUCCESS)
        return errno_of(c->status[1]);
    struct smb2_output_buffer out;
    if (smb2_query_info_response_decode(c->msg[1], c->len[1], &out) != 0)
        return EIO;
    reader_init(r, out.buffer, out.buffer_len);
    return 0;
}

/* Finds the EA named c->path2 (compared as the server does: case-insensitively). 1 found, 0
 * not found, or -errno. */
static int xattr_find(const struct call *c, struct smb2_ea *found)
{
    struct reader r;
    int err = xattr_list_of(c, &r);
    if (err)
        return -err;
    size_t want = strlen(c->path2);
    int rc;
    while ((rc = smb2_ea_next(&r, found)) == 1)
        if (found->name_len == want && strncasecmp((const char *)found->name, c->path2, want) == 0)
            return 1;
    return rc < 0 ? -EIO : 0;
}

static void reply_sized(fuse_req_t req, size_t size, const void *data, size_t len)
{
    if (size == 0)
        fuse_reply_xattr(req, len); /* the caller asks how big a buffer it needs */
    else if (len > size)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, data, len);
}

static void getxattr_done(struct call *c)
{
    struct smb2_ea ea;
    int rc = xattr_find(c, &ea);
    if (rc < 0)
        fuse_reply_err(c->req, -rc);
    else if (rc == 0)
        fuse_reply_err(c->req, ENODATA);
    else
        reply_sized(c->req, c->size, ea.value, ea.value_len);
}

/* Starts an xattr operation on ino for name; NULL after replying when name is not user.* */
static struct call *xattr_begin(fuse_req_t req, fuse_ino_t ino, const char *name, bool writes,
                                void (*done)(struct call *), int other_namespace_errno)
{
    if (strncmp(name, XATTR_PREFIX, XATTR_PREFIX_LEN) != 0) {
        fuse_reply_err(req, other_namespace_errno);
        return NULL;
    }
    const char *ea_name = name + XATTR_PREFIX_LEN;
    if (!*ea_name || strlen(ea_name) > 255) {
        fuse_reply_err(req, *ea_name ? ERANGE : EINVAL);
        return NULL;
    }
    struct call *c = begin_op(req, ino, NULL, writes, done);
    if (c && !(c->path2 = strdup(ea_name))) {
        call_free(c);
        fuse_reply_err(req, ENOMEM);
        return NULL;
    }
    return c;
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    /* Other namespaces (security.*, system.posix_acl_*) simply have no attributes here:
     * ENODATA, answered locally so `ls -l` costs no requests. */
    struct call *c = xattr_begin(req, ino, name, false, getxattr_done, ENODATA);
    if (!c)
        return;
    c->size = size;
    xattr_query_submit(c);
}

static void listxattr_done(struct call *c)
{
    struct reader r;
    int err = xattr_list_of(c, &r);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    /* At most EA_LIST_MAX bytes of entries, each name growing by the prefix at most. */
    char *list = malloc(EA_LIST_MAX * 2);
    if (!list) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    size_t used = 0;
    struct smb2_ea ea;
    int rc;
    while ((rc = smb2_ea_next(&r, &ea)) == 1) {
        if (used + XATTR_PREFIX_LEN + ea.name_len + 1 > EA_LIST_MAX * 2)
            break;
        memcpy(list + used, XATTR_PREFIX, XATTR_PREFIX_LEN);
        memcpy(list + used + XATTR_PREFIX_LEN, ea.name, ea.name_len);
        used += XATTR_PREFIX_LEN + ea.name_len;
        list[used++] = '\0';
    }
    if (rc < 0)
        fuse_reply_err(c->req, EIO);
    else
        reply_sized(c->req, c->size, list, used);
    free(list);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct call *c = begin_op(req, ino, NULL, false, listxattr_done);
    if (!c)
        return;
    c->size = size;
    xattr_query_submit(c);
}

/* CREATE + SET_INFO(FileFullEaInformation with one entry) + CLOSE; an empty value deletes. */
static void xattr_set_submit(struct call *c)
{
    struct set_item list = {.info_class = FILE_FULL_EA_INFORMATION};
    writer_init(&list.buf);
    struct smb2_ea ea = {
        .name = (const uint8_t *)c->path2,
        .name_len = (uint8_t)strlen(c->path2),
        .value = c->data,
        .value_len = (uint16_t)c->data_len,
    };
    int rc = smb2_ea_list_encode(&list.buf, &ea, 1);
    submit_set_chain(c, c->path, FILE_WRITE_EA | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, 0,
                     &list, 1, rc);
}

static void xattr_set_done(struct call *c)
{
    fuse_reply_err(c->req, call_errno(c, 2));
}

/* XATTR_CREATE / XATTR_REPLACE / removexattr: the existence check came back. */
static void xattr_checked(struct call *c)
{
    struct smb2_ea ea;
    int rc = xattr_find(c, &ea);
    int err = rc < 0                                     ? -rc
              : rc == 1 && (c->flags & XATTR_CREATE)     ? EEXIST
              : rc == 0 && (c->flags & XATTR_REPLACE)    ? ENODATA
                                                         : 0;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct call *next = call_continue(c, xattr_set_done);
    if (!next) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    xattr_set_submit(next);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    if (size == 0 || size > UINT16_MAX) {
        fuse_reply_err(req, size ? E2BIG : EINVAL);
        return;
    }
    struct call *c = xattr_begin(req, ino, name, true, xattr_checked, EOPNOTSUPP);
    if (!c)
        return;
    if (!(c->data = malloc(size))) {
        fail_build(req, c, NULL, 0, SQ_ERR_NOMEM);
        return;
    }
    memcpy(c->data, value, size);
    c->data_len = size;
    c->flags = flags;
    if (flags & (XATTR_CREATE | XATTR_REPLACE)) {
        xattr_query_submit(c); /* then xattr_checked */
        return;
    }
    c->done = xattr_set_done;
    xattr_set_submit(c);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct call *c = xattr_begin(req, ino, name, true, xattr_checked, ENODATA);
    if (!c)
        return;
    /* Removing what is not there is ENODATA, which SMB would not say: look first. */
    c->flags = XATTR_REPLACE;
    xattr_query_submit(c);
}

/* ---- copy_file_range: a server-side copy, FSCTL_SRV_REQUEST_RESUME_KEY on the source then
 * FSCTL_SRV_COPYCHUNK_WRITE on the target (MS-SMB2 3.2.4.20.2, 3.3.5.15.6) ---- */

/* Samba's and Windows' defaults (MS-SMB2 3.3.3: ServerSideCopyMaxChunkSize 1 MiB,
 * ServerSideCopyMaxNumberofChunks 16, ServerSideCopyMaxDataSize 16 MiB): one request copies
 * at most this much and the kernel comes back for the rest. */
#define COPYCHUNK_SIZE (1024u * 1024u)
#define COPYCHUNK_COUNT 16u

static void copy_done(struct call *c)
{
    int err = call_errno(c, 1);
    struct smb2_ioctl_response io;
    struct smb2_copychunk_response cr;
    if (!err && (smb2_ioctl_response_decode(c->msg[0], c->len[0], &io) != 0 ||
                 smb2_copychunk_response_decode(io.output, io.output_len, &cr) != 0 ||
                 cr.total_bytes_written > c->size))
        err = EIO;
    if (err)
        fuse_reply_err(c->req, err);
    else
        fuse_reply_write(c->req, cr.total_bytes_written);
}

struct copy_state {
    struct smb2_file_id out_id;
    uint64_t off_in, off_out, len;
};

/* The source's resume key and size came back: copy what lies before its end. */
static void copy_keyed(struct call *c)
{
    const struct copy_state *cs = (const struct copy_state *)c->data;
    int err = call_errno(c, 2);
    struct smb2_ioctl_response io;
    struct smb2_output_buffer out;
    struct smb2_file_standard_info std;
    uint8_t key[SMB2_RESUME_KEY_SIZE];
    if (!err && (smb2_ioctl_response_decode(c->msg[1], c->len[1], &io) != 0 ||
                 smb2_resume_key_decode(io.output, io.output_len, key) != 0 ||
                 smb2_query_info_response_decode(c->msg[0], c->len[0], &out) != 0 ||
                 smb2_file_standard_info_decode(out.buffer, out.buffer_len, &std) != 0))
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    uint64_t len = cs->off_in < std.end_of_file ? std.end_of_file - cs->off_in : 0;
    if (len > cs->len)
        len = cs->len;
    if (len > (uint64_t)COPYCHUNK_SIZE * COPYCHUNK_COUNT)
        len = (uint64_t)COPYCHUNK_SIZE * COPYCHUNK_COUNT;
    if (len == 0) {
        fuse_reply_write(c->req, 0);
        return;
    }
    struct smb2_copychunk chunks[COPYCHUNK_COUNT];
    uint32_t n = 0;
    for (uint64_t done = 0; done < len; n++) {
        uint32_t part = len - done > COPYCHUNK_SIZE ? COPYCHUNK_SIZE : (uint32_t)(len - done);
        chunks[n] = (struct smb2_copychunk){cs->off_in + done, cs->off_out + done, part};
        done += part;
    }
    struct call *next = call_continue(c, copy_done);
    if (!next) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    next->size = (size_t)len; /* what copy_done may be told was written */
    struct writer in;
    writer_init(&in);
    struct smb2_request r;
    memset(&r, 0, sizeof(r));
    int rc = smb2_copychunk_encode(&in, key, chunks, n);
    if (!rc)
        rc = sq_req_fsctl(&r, &cs->out_id, FSCTL_SRV_COPYCHUNK_WRITE, in.data, in.len, 12);
    writer_free(&in);
    if (rc) {
        fail_build(next->req, next, &r, 1, rc);
        return;
    }
    call_submit(next, &r, 1);
}

static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
                               struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                               struct fuse_file_info *fi_out, size_t len, int flags)
{
    struct fs *fs = fuse_req_userdata(req);
    if (flags != 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (fs->cfg.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    struct parked p = {.op = PARK_COPY, .ino = ino_in, .fi = *fi_in, .off = off_in,
                       .ino_out = ino_out, .fi_out = *fi_out, .off_out = off_out, .size = len,
                       .flags = flags};
    if (park_if_writing(req, node_find(fs, ino_in), &p) ||
        park_if_writing(req, node_find(fs, ino_out), &p))
        return;
    struct fs_handle *in = handle_of(fi_in), *out = handle_of(fi_out);
    struct call *c = call_new(fs, req, copy_keyed);
    struct copy_state *cs = calloc(1, sizeof(*cs));
    if (!c || !cs) {
        free(cs);
        if (c)
            call_free(c);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    *cs = (struct copy_state){out->file_id, (uint64_t)off_in, (uint64_t)off_out, len};
    c->data = (uint8_t *)cs;
    struct smb2_request reqs[2];
    memset(reqs, 0, sizeof(reqs));
    /* The IOCTL goes last: Samba answers STATUS_INTERNAL_ERROR when a request that it
     * completes asynchronously (its resume key is one) is not the last of a compound. */
    int rc = sq_req_query_info(&reqs[0], &in->file_id, false, SMB2_0_INFO_FILE,
                               FILE_STANDARD_INFORMATION, 64);
    if (!rc)
        rc = sq_req_fsctl(&reqs[1], &in->file_id, FSCTL_SRV_REQUEST_RESUME_KEY, NULL, 0, 32);
    if (rc) {
        fail_build(req, c, reqs, 2, rc);
        return;
    }
    call_submit(c, reqs, 2);
}

/* ---- lseek SEEK_DATA / SEEK_HOLE: FSCTL_QUERY_ALLOCATED_RANGES (MS-FSCC 2.3.39); the
 * kernel answers the other whences itself ---- */

#define RANGES_MAX_OUTPUT (64u * 1024u)

static void lseek_done(struct call *c)
{
    int err = call_errno(c, 1);
    struct smb2_output_buffer out;
    struct smb2_file_standard_info std = {0};
    struct smb2_ioctl_response io;
    if (!err && (smb2_query_info_response_decode(c->msg[0], c->len[0], &out) != 0 ||
                 smb2_file_standard_info_decode(out.buffer, out.buffer_len, &std) != 0))
        err = EIO;
    /* A partial list (STATUS_BUFFER_OVERFLOW) still starts at the offset asked about. */
    if (!err && c->status[1] != STATUS_SUCCESS && c->status[1] != STATUS_BUFFER_OVERFLOW)
        err = errno_of(c->status[1]);
    if (!err && smb2_ioctl_response_decode(c->msg[1], c->len[1], &io) != 0)
        err = EIO;
    uint64_t off = c->offset, size = std.end_of_file;
    if (!err && off >= size)
        err = ENXIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct reader r;
    reader_init(&r, io.output, io.output_len);
    uint64_t start, length, pos = off;
    bool data = c->flags == SEEK_DATA, gap = false;
    int rc;
    while ((rc = smb2_allocated_range_next(&r, &start, &length)) == 1) {
        uint64_t end = start + length < start ? UINT64_MAX : start + length;
        if (end <= pos)
            continue;
        if (data) { /* the first allocated byte at or after off, if before the end */
            uint64_t at = start > pos ? start : pos;
            if (at >= size)
                break;
            fuse_reply_lseek(c->req, (off_t)at);
            return;
        }
        if (start > pos) {
            gap = true; /* pos lies in a hole */
            break;
        }
        pos = end;  /* skip this range; a hole starts after it unless the next adjoins */
    }
    if (rc < 0) {
        fuse_reply_err(c->req, EIO);
        return;
    }
    /* A partial list (STATUS_BUFFER_OVERFLOW) that ran out while still in data says nothing
     * of what follows: call the rest data, which POSIX allows (a hole only at the end). */
    bool partial = c->status[1] == STATUS_BUFFER_OVERFLOW;
    if (data)
        fuse_reply_err(c->req, ENXIO); /* only holes up to the end */
    else
        fuse_reply_lseek(c->req, (off_t)(pos < size && (gap || !partial) ? pos : size));
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    if ((whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (park_if_writing(req, node_find(fs, ino),
                        &(struct parked){.op = PARK_LSEEK, .ino = ino, .fi = *fi, .off = off,
                                         .flags = whence}))
        return;
    struct fs_handle *h = handle_of(fi);
    struct call *c = call_new(fs, req, lseek_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->offset = (uint64_t)off;
    c->flags = whence;
    struct smb2_request reqs[2];
    memset(reqs, 0, sizeof(reqs));
    struct writer in;
    writer_init(&in);
    int rc = sq_req_query_info(&reqs[0], &h->file_id, false, SMB2_0_INFO_FILE,
                               FILE_STANDARD_INFORMATION, 64);
    if (!rc)
        rc = smb2_allocated_range_encode(&in, (uint64_t)off, (uint64_t)INT64_MAX - (uint64_t)off);
    if (!rc)
        rc = sq_req_fsctl(&reqs[1], &h->file_id, FSCTL_QUERY_ALLOCATED_RANGES, in.data, in.len,
                          RANGES_MAX_OUTPUT);
    writer_free(&in);
    if (rc) {
        fail_build(req, c, reqs, 2, rc);
        return;
    }
    call_submit(c, reqs, 2);
}

/* ---- fallocate: mode 0 and KEEP_SIZE through FileAllocationInformation and
 * FileEndOfFileInformation (MS-FSCC 2.4.4, 2.4.14), PUNCH_HOLE and ZERO_RANGE through
 * FSCTL_SET_ZERO_DATA (MS-FSCC 2.3.85), the file made sparse first for a hole ---- */

static void fallocate_done(struct call *c)
{
    fuse_reply_err(c->req, call_errno(c, c->count));
}

/* The file's size came back: c->offset/c->size is the range, c->flags the mode. */
static void fallocate_sized(struct call *c)
{
    int err = call_errno(c, 1);
    struct smb2_output_buffer out;
    struct smb2_file_standard_info std;
    if (!err && (smb2_query_info_response_decode(c->msg[0], c->len[0], &out) != 0 ||
                 smb2_file_standard_info_decode(out.buffer, out.buffer_len, &std) != 0))
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    const struct smb2_file_id *id = &c->handle->file_id;
    uint64_t start = c->offset, end = c->offset + c->size, size = std.end_of_file;
    bool keep_size = c->flags & FALLOC_FL_KEEP_SIZE;
    bool zero = c->flags & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE);
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    struct writer w[3];
    for (int i = 0; i < 3; i++)
        writer_init(&w[i]);
    size_t k = 0;
    int rc = 0;
    if (c->flags & FALLOC_FL_PUNCH_HOLE) {
        rc = smb2_set_sparse_encode(&w[k], true);
        if (!rc)
            rc = sq_req_fsctl(&reqs[k], id, FSCTL_SET_SPARSE, w[k].data, w[k].len, 0);
        k++;
    }
    /* Zeroing stops at the end of the file: past it there is nothing to zero. */
    if (!rc && zero && start < size) {
        rc = smb2_zero_data_encode(&w[k], start, end < size ? end : size);
        if (!rc)
            rc = sq_req_fsctl(&reqs[k], id, FSCTL_SET_ZERO_DATA, w[k].data, w[k].len, 0);
        k++;
    }
    if (!rc && !zero && end > size) {
        /* Reserve the space; without KEEP_SIZE the size grows to cover the range (reading
         * zeros). The allocation is a hint to the server, as on Windows. */
        rc = smb2_file_allocation_info_encode(&w[k], end);
        if (!rc)
            rc = sq_req_set_info(&reqs[k], id, false, FILE_ALLOCATION_INFORMATION, w[k].data,
                                 w[k].len);
        k++;
    }
    if (!rc && !keep_size && end > size) {
        rc = smb2_file_end_of_file_info_encode(&w[k], end);
        if (!rc)
            rc = sq_req_set_info(&reqs[k], id, false, FILE_END_OF_FILE_INFORMATION, w[k].data,
                                 w[k].len);
        k++;
    }
    for (int i = 0; i < 3; i++)
        writer_free(&w[i]);
    if (!rc && k == 0) {
        fuse_reply_err(c->req, 0); /* nothing to do: already allocated and sized */
        return;
    }
    struct call *next = rc ? NULL : call_continue(c, fallocate_done);
    if (rc || !next) {
        fail_build(c->req, NULL, reqs, k, rc ? rc : SQ_ERR_NOMEM);
        return;
    }
    call_submit(next, reqs, k);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi)
{
    struct fs *fs = fuse_req_userdata(req);
    const int supported[] = {0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE};
    bool ok = false;
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++)
        ok = ok || mode == supported[i];
    if (!ok) {
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    if (offset < 0 || length <= 0 || offset > INT64_MAX - length) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (fs->cfg.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (park_if_writing(req, node_find(fs, ino),
                        &(struct parked){.op = PARK_FALLOCATE, .ino = ino, .fi = *fi,
                                         .off = offset, .length = length, .flags = mode}))
        return;
    struct call *c = call_new(fs, req, fallocate_sized);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->handle = handle_of(fi);
    c->offset = (uint64_t)offset;
    c->size = (size_t)length;
    c->flags = mode;
    struct smb2_request r;
    int rc = sq_req_query_info(&r, &c->handle->file_id, false, SMB2_0_INFO_FILE,
                               FILE_STANDARD_INFORMATION, 64);
    if (rc) {
        fail_build(req, c, &r, 1, rc);
        return;
    }
    call_submit(c, &r, 1);
}

/* ---- readdir / readdirplus: the whole listing at offset 0, QUERY_DIRECTORY after
 * QUERY_DIRECTORY until STATUS_NO_MORE_FILES (MS-SMB2 3.2.4.17) ---- */

static void readdir_serve(fuse_req_t req, struct fs *fs, struct fs_handle *h, size_t size,
                          off_t off, bool plus);

/* Forgets h's listing (complete or not): the next readdir at 0 scans from the start. */
static void dir_entries_clear(struct fs_handle *h)
{
    for (size_t i = 0; i < h->entry_count; i++)
        free(h->entries[i].name);
    h->entry_count = 0;
    h->listed = false;
    h->prefetched = false;
}

static int add_entries(struct fs *fs, struct fs_handle *h, const uint8_t *buf, uint32_t len)
{
    struct reader r;
    reader_init(&r, buf, len);
    struct smb2_dirent e;
    int rc;
    while ((rc = smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e)) == 1) {
        char *name;
        if (utf16le_to_utf8(e.name, e.name_len, &name) != 0)
            return -EIO;
        if (strncmp(name, UNLINKED_PREFIX, sizeof(UNLINKED_PREFIX) - 1) == 0) {
            free(name); /* unlinked while open: gone as far as POSIX is concerned */
            continue;
        }
        if (h->entry_count == h->entry_cap) {
            size_t cap = h->entry_cap ? h->entry_cap * 2 : 64;
            struct dir_entry *p = realloc(h->entries, cap * sizeof(*p));
            if (!p) {
                free(name);
                return -ENOMEM;
            }
            h->entries = p;
            h->entry_cap = cap;
        }
        struct dir_entry *d = &h->entries[h->entry_count++];
        d->name = name;
        fill_stat(fs, &d->st, e.file_id, e.file_attributes, e.end_of_file, e.allocation_size, 1,
                  e.last_access_time, e.last_write_time, e.change_time);
    }
    return rc < 0 ? -EIO : 0;
}

static int submit_query_directory(struct call *c, bool restart);

static void query_directory_done(struct call *c)
{
    struct fs_handle *h = c->handle;
    int err = c->err ? EIO : 0;
    if (!err && c->status[0] == STATUS_NO_MORE_FILES) {
        h->listed = true;
        readdir_serve(c->req, c->fs, h, c->size, (off_t)c->offset, c->flags);
        return;
    }
    if (!err && c->status[0] != STATUS_SUCCESS)
        err = errno_of(c->status[0]);
    struct smb2_output_buffer out;
    if (!err && smb2_query_directory_response_decode(c->msg[0], c->len[0], &out) != 0)
        err = EIO;
    if (!err)
        err = -add_entries(c->fs, h, out.buffer, out.buffer_len);
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    /* Continue the listing with a fresh call that inherits the FUSE request. */
    struct call *next = call_new(c->fs, c->req, query_directory_done);
    if (!next) {
        fuse_reply_err(c->req, ENOMEM);
        return;
    }
    next->handle = h;
    next->size = c->size;
    next->offset = c->offset;
    next->flags = c->flags;
    next->ino = c->ino;
    next->fi = c->fi;
    next->retry_op = c->retry_op;
    submit_query_directory(next, false);
}

static int submit_query_directory(struct call *c, bool restart)
{
    struct smb2_request r;
    int rc = sq_req_query_directory(&r, &c->handle->file_id, false, restart, DIR_QUERY_LEN);
    if (rc) {
        fail_build(c->req, c, &r, 1, rc);
        return rc;
    }
    call_submit(c, &r, 1);
    return 0;
}

static void readdir_serve(fuse_req_t req, struct fs *fs, struct fs_handle *h, size_t size,
                          off_t off, bool plus)
{
    char *buf = calloc(1, size ? size : 1);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    /* Lookups counted for this reply, taken back if the kernel does not take the reply. */
    fuse_ino_t *counted = plus ? malloc(size / 24 * sizeof(*counted) + sizeof(*counted)) : NULL;
    size_t n_counted = 0;
    if (plus && !counted) {
        free(buf);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    for (size_t i = (size_t)off; i < h->entry_count; i++) {
        struct dir_entry *d = &h->entries[i];
        size_t n;
        bool dot = strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0;
        /* With mfsymlinks, a 1067-byte file may be a link: give no type or attributes, so
         * the kernel looks it up (and lookup reads it) before showing it. */
        bool unsure = symlink_candidate(fs, &d->st);
        struct stat unknown = {.st_ino = d->st.st_ino};
        if (plus) {
            struct fuse_entry_param e;
            memset(&e, 0, sizeof(e));
            e.attr = unsure ? unknown : d->st;
            if (!dot && !unsure) {
                e.ino = d->st.st_ino;
                e.attr_timeout = attr_timeout(fs);
                e.entry_timeout = attr_timeout(fs);
            }
            n = fuse_add_direntry_plus(req, buf + used, size - used, d->name, &e,
                                       (off_t)(i + 1));
            if (n > size - used)
                break;
            /* A readdirplus entry counts as a lookup (fuse_lowlevel.h): the kernel will
             * forget it. */
            if (!dot && !unsure) {
                struct fs_node dir = {.path = h->path};
                char *path = child_path(&dir, d->name);
                if (!path || !node_ref(fs, e.ino, path)) {
                    free(path);
                    break;
                }
                free(path);
                counted[n_counted++] = e.ino;
            }
        } else {
            n = fuse_add_direntry(req, buf + used, size - used, d->name, unsure ? &unknown : &d->st,
                                  (off_t)(i + 1));
            if (n > size - used)
                break;
        }
        used += n;
    }
    if (fuse_reply_buf(req, buf, used) != 0)
        for (size_t i = 0; i < n_counted; i++)
            node_forget(fs, counted[i], 1);
    free(counted);
    free(buf);
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi, bool plus)
{
    struct fs *fs = fuse_req_userdata(req);
    struct fs_handle *h = handle_of(fi);
    bool prefetched = h->prefetched && off == 0;
    h->prefetched = false; /* a later rewind lists afresh */
    if (h->listed && (off != 0 || prefetched)) {
        readdir_serve(req, fs, h, size, off, plus);
        return;
    }
    if (off == 0 && !prefetched)
        dir_entries_clear(h);
    struct call *c = call_new(fs, req, query_directory_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->handle = h;
    c->size = size;
    c->offset = (uint64_t)off;
    c->flags = plus;
    /* Lost with the connection: the listing starts over (at 0 the entries gathered so far are
     * dropped, and the reopened directory is scanned from its start). */
    c->ino = ino;
    c->fi = *fi;
    c->retry_op = plus ? PARK_READDIRPLUS : PARK_READDIR;
    submit_query_directory(c, off == 0 && !prefetched);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    readdir_common(req, ino, size, off, fi, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    readdir_common(req, ino, size, off, fi, true);
}

/* ---- statfs: FileFsFullSizeInformation of the share (MS-FSCC 2.5.4) ---- */

static void statfs_done(struct call *c)
{
    int err = call_errno(c, 2);
    struct smb2_output_buffer out;
    struct smb2_fs_size_info si;
    if (!err && (smb2_query_info_response_decode(c->msg[1], c->len[1], &out) != 0 ||
                 smb2_fs_full_size_info_decode(out.buffer, out.buffer_len, &si) != 0))
        err = EIO;
    if (err) {
        fuse_reply_err(c->req, err);
        return;
    }
    struct statvfs sv;
    memset(&sv, 0, sizeof(sv));
    unsigned long unit = (unsigned long)si.sectors_per_allocation_unit * si.bytes_per_sector;
    sv.f_bsize = unit ? unit : 4096;
    sv.f_frsize = sv.f_bsize;
    sv.f_blocks = si.total_allocation_units;
    sv.f_bfree = si.actual_available_units;
    sv.f_bavail = si.caller_available_units;
    sv.f_namemax = 255;
    fuse_reply_statfs(c->req, &sv);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct fs *fs = fuse_req_userdata(req);
    struct call *c = call_new(fs, req, statfs_done);
    if (!c) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    c->ino = ino;
    c->retry_op = PARK_STATFS;
    struct smb2_request reqs[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], "", FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_OPEN,
                        FILE_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILESYSTEM,
                               FILE_FS_FULL_SIZE_INFORMATION, 64);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        fail_build(req, c, reqs, 3, rc);
        return;
    }
    call_submit(c, reqs, 3);
}

/* ---- init ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
    struct fs *fs = userdata;
    /* Large requests: the kernel sends up to max_write bytes per WRITE and reads ahead in
     * big chunks; each becomes one multi-credit SMB request (MS-SMB2 3.2.4.1.5). */
    conn->max_write = 1024 * 1024;
    /* The kernel takes the smaller of this and the window tune_readahead set. */
    conn->max_readahead = fs->readahead_kb * 1024;
    conn->max_background = FUSE_MAX_BACKGROUND;
    conn->congestion_threshold = FUSE_CONGESTION_THRESHOLD;
    /* Mounts are nosuid and modes do not map to SMB, so there are no setuid bits or file
     * capabilities to drop on write: without this the kernel asks for security.capability
     * (a GETXATTR round trip to us) before every write(2). */
    if (conn->capable & FUSE_CAP_HANDLE_KILLPRIV)
        conn->want |= FUSE_CAP_HANDLE_KILLPRIV;
    /* readdirplus fills attributes from the listing in one pass; always, not adaptively,
     * so `ls -l` of a big directory costs a handful of QUERY_DIRECTORY round trips. */
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .flock = fs_flock,
    .fsync = fs_fsync,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .create = fs_create,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .rename = fs_rename,
    .statfs = fs_statfs,
    .link = fs_link,
    .symlink = fs_symlink,
    .readlink = fs_readlink,
    .setxattr = fs_setxattr,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .removexattr = fs_removexattr,
    .copy_file_range = fs_copy_file_range,
    .lseek = fs_lseek,
    .fallocate = fs_fallocate,
};

/* ---- status: `smbquic status MOUNTPOINT` asks the serving process over an abstract unix
 * socket keyed by the mount's device number (include/util/mountinfo.h). The answer is made
 * from what this thread already knows, so it sends nothing to the server and the request
 * counters it reports are not disturbed by asking. ---- */

struct find_dev {
    const char *mountpoint;
    unsigned major, minor;
    bool found;
};

static bool note_our_dev(const struct sq_mount_entry *e, void *arg)
{
    struct find_dev *f = arg;
    /* Keep going: when mounts are stacked on the path, the last one listed is the newest,
     * ours. */
    if (strcmp(e->target, f->mountpoint) == 0 && strcmp(e->type, "fuse.smbquic") == 0) {
        f->major = e->major;
        f->minor = e->minor;
        f->found = true;
    }
    return false;
}

/* The mount's device number, from mountinfo rather than stat(2): a stat of our own mount
 * point would be a FUSE request to this very thread, which is not serving yet. */
static bool our_dev(const struct fs *fs, struct find_dev *f)
{
    *f = (struct find_dev){.mountpoint = fs->cfg.mountpoint};
    sq_mountinfo_each(note_our_dev, f);
    if (!f->found)
        sq_log(SQ_LOG_WARNING, "%s not found in mountinfo: no `smbquic status`, default readahead",
               fs->cfg.mountpoint);
    return f->found;
}


/* The readahead window for a path with this round trip (see READAHEAD_MIN_KB). */
static unsigned readahead_kb_for(uint64_t rtt_us)
{
    uint64_t kb = sq_io_bytes_in_flight(rtt_us) / 1024;
    kb = (kb + 1023) / 1024 * 1024; /* whole 1 MiB reads */
    return kb < READAHEAD_MIN_KB ? READAHEAD_MIN_KB : kb > READAHEAD_MAX_KB ? READAHEAD_MAX_KB
                                                                            : (unsigned)kb;
}

static void tune_readahead(const struct fs *fs, const struct find_dev *f)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", f->major, f->minor);
    FILE *out = fopen(path, "we");
    if (!out)
        return;
    fprintf(out, "%u\n", fs->readahead_kb);
    if (fclose(out) != 0)
        sq_log(SQ_LOG_DEBUG, "cannot set %s: %s", path, strerror(errno));
}

/* Listens for status requests; failing to is logged, never fatal for the mount. */
#define STATUS_BIND_TRIES 30 /* every 100 ms */

static void status_listen(struct fs *fs, const struct find_dev *f)
{
    struct sockaddr_un addr;
    socklen_t len = sq_status_address(f->major, f->minor, &addr);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* A mount that just ended on the same device number may still hold the address for a
     * moment (it lets it go as soon as it sees the unmount). */
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, len);
    for (int i = 0; rc != 0 && fd >= 0 && errno == EADDRINUSE && i < STATUS_BIND_TRIES; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        rc = bind(fd, (struct sockaddr *)&addr, len);
    }
    if (rc != 0 || listen(fd, 8) != 0) {
        sq_log(SQ_LOG_WARNING, "status: cannot listen: %s; `smbquic status` will not work",
               strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    fs->status_fd = fd;
}

static void lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The status text: "key: value" lines as `smbquic info` prints them, then one counter per
 * SMB2 command of the requests sent since the mount (so round trips per operation can be
 * measured by taking the difference around it). */
static char *status_text(struct fs *fs, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (!out)
        return NULL;
    const struct sq_session_info *i = sq_session_info(fs->session);
    fprintf(out, "mountpoint: %s\n", fs->cfg.mountpoint);
    fprintf(out, "server: %s\n", fs->cfg.fsname ? fs->cfg.fsname : "");
    fprintf(out, "state: %s\n",
            !fs->conn_error     ? "connected"
            : fs->cfg.reconnect ? "reconnecting"
                                : "disconnected");
    if (fs->conn_error)
        fprintf(out, "error: %s\n", sq_strerror(fs->conn_error));
    fprintf(out, "reconnects: %llu\n", (unsigned long long)fs->reconnects);
    fprintf(out, "transport: %s\n", i->transport);
    fprintf(out, "peer: %s\n", i->peer);
    if (strcmp(i->transport, "quic") == 0) {
        fprintf(out, "connection_id: %s\n", i->connection_id);
        fprintf(out, "server_cert_sha256: %s\n", i->cert_sha256);
        fprintf(out, "server_spki_sha256: %s\n", i->spki_sha256);
        fprintf(out, "local_address: %s\n", i->local_address);
        fprintf(out, "migrations: %llu\n", (unsigned long long)*i->migrations);
    }
    fprintf(out, "dialect: %s\n", sq_dialect_name(i->dialect));
    fprintf(out, "cipher: %s\n", i->encrypted ? i->cipher : "none");
    fprintf(out, "signing: %s\n", i->signing);
    fprintf(out, "auth: %s\n", i->auth);
    fprintf(out, "cache: %s\n", fs->cfg.cache == FS_CACHE_NONE    ? "none"
                                : fs->cfg.cache == FS_CACHE_LOOSE ? "loose"
                                                                  : "strict");
    fprintf(out, "leases: %s\n", fs->leases ? "yes" : "no");
    fprintf(out, "lease_breaks: %llu\n", (unsigned long long)fs->lease_breaks);
    fprintf(out, "kept_handles: %zu\n", fs->kept_count);
    size_t durable = 0;
    for (const struct fs_handle *h = fs->open_files; h; h = h->next)
        durable += h->durable;
    fprintf(out, "durable_handles: %zu\n", durable);
    fprintf(out, "durable_reclaims: %llu\n", (unsigned long long)fs->durable_reclaims);
    fprintf(out, "reopens_by_name: %llu\n", (unsigned long long)fs->reopens_by_name);
    fprintf(out, "writes_replayed: %llu\n", (unsigned long long)fs->writes_replayed);
    fprintf(out, "writes_not_sent: %llu\n", (unsigned long long)fs->writes_not_sent);
    fprintf(out, "requests_retried: %llu\n", (unsigned long long)fs->requests_retried);
    fprintf(out, "requests_in_flight: %zu\n", smb2_conn_pending_count(fs->conn));
    uint64_t total = 0;
    for (uint16_t cmd = 0; cmd < SMB2_COMMAND_COUNT; cmd++)
        total += fs->sent_before[cmd] + smb2_conn_sent_count(fs->conn, cmd);
    fprintf(out, "requests: %llu\n", (unsigned long long)total);
    for (uint16_t cmd = 0; cmd < SMB2_COMMAND_COUNT; cmd++) {
        char name[32];
        snprintf(name, sizeof(name), "%s", smb2_command_name(cmd));
        lowercase(name);
        fprintf(out, "requests_%s: %llu\n", name,
                (unsigned long long)(fs->sent_before[cmd] + smb2_conn_sent_count(fs->conn, cmd)));
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Answers every waiting status request: root, the mount's owner and the uid= user may ask. */
static void status_serve(struct fs *fs)
{
    for (;;) {
        int fd = accept4(fs->status_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: no more; other errors: the next poll tries again */
        struct ucred cred;
        socklen_t cred_len = sizeof(cred);
        bool allowed = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 &&
                       (cred.uid == 0 || cred.uid == geteuid() || cred.uid == fs->cfg.uid);
        size_t len = 0;
        char *text = allowed ? status_text(fs, &len) : NULL;
        const char *msg = text ? text : allowed ? "error: out of memory\n" : "error: permission denied\n";
        if (!text)
            len = strlen(msg);
        /* The socket buffer (over 100 KiB) takes the few hundred bytes at once; a client too
         * slow to take them gets what fits rather than stalling the mount. */
        (void)!send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(text);
        close(fd);
    }
}

/* ---- serving ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

/* Learns the root's server file id so it maps to FUSE_ROOT_ID (one synchronous round trip
 * before serving). */
static int learn_root(struct fs *fs)
{
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    memset(reqs, 0, sizeof(reqs));
    int rc = sq_req_create(&reqs[0], "", FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_OPEN,
                        FILE_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION, ALL_INFO_MAX);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        free_reqs(reqs, 3);
        return rc;
    }
    rc = sq_session_call(fs->session, reqs, 3, replies);
    if (!rc && (replies[0].status || replies[1].status))
        rc = SQ_ERR_STATUS;
    if (!rc) {
        struct smb2_output_buffer out;
        struct smb2_file_all_info all;
        if (smb2_query_info_response_decode(replies[1].msg, replies[1].len, &out) != 0 ||
            smb2_file_all_info_decode(out.buffer, out.buffer_len, &all) != 0)
            rc = SQ_ERR_PROTO;
        else
            fs->root_server_id = all.index_number;
    }
    for (int i = 0; i < 3; i++)
        sq_reply_clear(&replies[i]);
    return rc;
}

/* Handles the kernel never released (SIGTERM with files open); the server closed them at
 * logoff. */
static void free_open_files(struct fs *fs)
{
    while (fs->open_files) {
        struct fs_handle *h = fs->open_files;
        handle_unlink(fs, h);
        handle_free(h);
    }
}

static void free_nodes(struct fs *fs)
{
    for (size_t b = 0; b < NODE_BUCKETS; b++) {
        while (fs->nodes[b]) {
            struct fs_node *n = fs->nodes[b];
            fs->nodes[b] = n->next;
            node_free(n);
        }
    }
}

/* Before logging off: lets every request still in flight finish (write-behind data above
 * all), for at most DRAIN_SECONDS if the server stops answering. */
#define DRAIN_SECONDS 60

static void drain(struct fs *fs)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (smb2_conn_pending_count(fs->conn) > 0 && !fs->conn_error) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= DRAIN_SECONDS) {
            sq_log(SQ_LOG_ERROR, "%zu requests still unanswered after %d s; giving up on them",
                   smb2_conn_pending_count(fs->conn), DRAIN_SECONDS);
            return;
        }
        struct pollfd pfd[SQ_SESSION_POLLFDS];
        sq_session_pollfds(fs->session, pfd);
        int64_t t = sq_session_timeout_us(fs->session);
        int n =
            poll(pfd, SQ_SESSION_POLLFDS, t >= 0 && t < 1000000 ? (int)((t + 999) / 1000) : 1000);
        if (n < 0 && errno != EINTR)
            return;
        if (sq_session_io(fs->session, pfd) != 0)
            fs->conn_error = smb2_conn_error(fs->conn);
    }
    fail_replays(fs); /* still disconnected: nothing will send them */
    fail_retries(fs);
    if (fs->write_behind_bytes)
        sq_log(SQ_LOG_ERROR, "%zu bytes of written data could not be sent", fs->write_behind_bytes);
}

/* ---- reconnect ----
 *
 * A lost connection (the server or the gateway restarted, the path was down for longer than
 * the QUIC idle timeout, a TCP reset) fails every request in flight: their FUSE requests get
 * EIO, except write-behind WRITEs, which are kept and sent again after the reconnect (see
 * "write-behind"; what cannot be sent is reported at the descriptor's next write, fsync or
 * close, never dropped silently). Then fs_serve stops reading /dev/fuse, so new requests wait
 * in the kernel (a signal ends such a wait with EINTR: nothing hangs unkillably), and opens a
 * new session with the mount's options on a thread of its own (see struct attempt): at once,
 * then backing off from RECONNECT_BACKOFF_MIN_MS to RECONNECT_BACKOFF_MAX_MS. A hard mount waits as
 * long as that takes; a soft one reads /dev/fuse again SOFT_WAIT_MS after the loss and fails what
 * comes with EIO until a connection is back. The new session has the mount's ClientGuid and
 * names the lost one as its PreviousSessionId (MS-SMB2 3.2.4.2.3): after a silent loss the server
 * still holds the old session with its opens, and ends it now instead of when it notices. Once
 * connected, the durable handles (every file open asks for one, see DURABLE_TIMEOUT_MS) are
 * reclaimed (MS-SMB2 3.2.4.4): the server's open itself, with its share modes. Every other open
 * file and directory, and those the server did not keep, is opened again by its current name with
 * the access it had (the old session's file ids died with it, MS-SMB2 3.2.7.1); the same compound
 * asks for the file's id, so that a file created under the name meanwhile is not taken for it.
 * Then the waiting requests are served. A handle that cannot be opened again (its file was
 * deleted, renamed or replaced meanwhile, or was itself unlinked while open) keeps an id the server
 * does not know: operations through it fail with EBADF, its kept WRITEs too. Handles kept after close are forgotten at
 * the loss: the server drops their disconnected opens when another client's open conflicts (an
 * smbclient delete went through at once) or at their timeout. */
#define RECONNECT_BACKOFF_MIN_MS 1000
#define RECONNECT_BACKOFF_MAX_MS 10000
#define SOFT_WAIT_MS             30000
#define RECONNECT_LOG_FIRST      5
#define RECONNECT_LOG_EVERY      30

/* While disconnected the mount watches the network: a new address or route (Wi-Fi back, a
 * VPN up) brings the next attempt forward to NETWORK_SETTLE_MS after it, instead of waiting
 * out the backoff. An attempt under way is left to finish. */
#define NETWORK_SETTLE_MS 300

static void network_changed(struct fs *fs)
{
    int64_t soon = sq_monotonic_ms() + NETWORK_SETTLE_MS;
    if (fs->attempt || !fs->cfg.reconnect || fs->next_attempt_ms <= soon)
        return;
    sq_log(SQ_LOG_INFO, "the network changed: trying to reconnect now");
    fs->next_attempt_ms = soon;
}

/* The connection died (fs->conn_error is set): schedule the first attempt, and start
 * watching the network (network_changed). */
static void connection_lost(struct fs *fs)
{
    fs->lost_at_ms = sq_monotonic_ms();
    fs->next_attempt_ms = fs->lost_at_ms;
    fs->attempts = 0;
    if (fs->cfg.reconnect && fs->net_events_fd < 0)
        fs->net_events_fd = sq_network_events_open();
    kept_close_all(fs); /* only forgotten: they died with the connection */
    sq_log(SQ_LOG_ERROR, "connection to the server lost: %s%s", sq_strerror(fs->conn_error),
           fs->cfg.reconnect ? "; reconnecting" : "");
}

/* While disconnected: whether FUSE requests are read (and fail with EIO) or wait in the
 * kernel for the connection to come back. */
static bool holding_requests(const struct fs *fs)
{
    if (!fs->conn_error || !fs->cfg.reconnect)
        return false;
    return fs->cfg.hard || sq_monotonic_ms() - fs->lost_at_ms < SOFT_WAIT_MS;
}

/* Liveness (echo_interval=, as mount.cifs has it). A connection can die without a word: a
 * TCP peer gone without a reset keeps the socket open for a quarter of an hour, and requests
 * and an idle mount would wait all that time. So after echo_interval seconds in which the
 * server sent nothing, the mount sends an SMB2 ECHO (MS-SMB2 2.2.28; the server answers it at
 * once, MS-SMB2 3.3.5.17); if the server then stays silent for another echo_interval, the
 * connection counts as lost and is reconnected. */
static void echo_done(void *arg, int err, const struct smb2_reply *reply)
{
    (void)err;
    (void)reply;
    ((struct fs *)arg)->echo_sent_ms = 0;
}

/* 0, or SQ_ERR_TIMEOUT when the server has been silent too long (the caller fails the
 * connection). */
static int check_liveness(struct fs *fs)
{
    if (!fs->cfg.echo_interval_s)
        return 0;
    int64_t interval_ms = (int64_t)fs->cfg.echo_interval_s * 1000;
    int64_t silent_ms = sq_session_silent_ms(fs->session);
    if (silent_ms < interval_ms)
        return 0;
    if (fs->echo_sent_ms) {
        if (sq_monotonic_ms() - fs->echo_sent_ms < interval_ms)
            return 0;
        sq_log(SQ_LOG_WARNING, "the server has sent nothing for %lld s, an echo included",
               (long long)(silent_ms / 1000));
        return SQ_ERR_TIMEOUT;
    }
    struct smb2_request r;
    memset(&r, 0, sizeof(r));
    if (smb2_request_init(&r, SMB2_ECHO, 0) != 0 || smb2_echo_request_encode(&r.msg) != 0) {
        writer_free(&r.msg);
        return 0;
    }
    r.cb = echo_done;
    r.arg = fs;
    if (smb2_conn_submit(fs->conn, &r, 1) == 0) {
        fs->echo_sent_ms = sq_monotonic_ms();
    }
    return 0;
}

struct reopen {
    struct fs *fs;
    struct fs_handle *h;
    struct smb2_file_id lost_id; /* the handle's id on the lost session */
    bool opened; /* the CREATE succeeded: file_id is open on the server */
    struct smb2_file_id file_id;
    size_t *left;
    bool *all_done;
};

static void reopen_failed(struct reopen *r, const char *why)
{
    struct fs_node *n = node_find(r->fs, r->h->ino);
    sq_log(SQ_LOG_WARNING,
           "after reconnecting, cannot open %s again: %s; its open descriptors "
           "fail with EBADF",
           n && n->path[0] ? n->path : "the share's root", why);
}

static void reopen_one_done(struct reopen *r)
{
    if (--*r->left == 0)
        *r->all_done = true;
}

/* The CREATE that reclaims a durable handle (MS-SMB2 3.2.4.4; the server's side is
 * 3.3.5.9.12). When the server no longer has it (its timeout passed, another client's open broke
 * it, the server restarted), the handle is opened by name in the second round instead. */
static void reclaim_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct reopen *r = arg;
    struct smb2_create_response cr;
    char buf[NTSTATUS_FORMAT_SIZE];
    if (!err) {
        if (reply->hdr.status == STATUS_SUCCESS &&
            smb2_create_response_decode(reply->msg, reply->len, &cr) == 0) {
            r->h->file_id = cr.file_id;
            r->fs->durable_reclaims++;
        } else {
            struct fs_node *n = node_find(r->fs, r->h->ino);
            sq_log(SQ_LOG_INFO,
                   "the server did not keep the durable handle of %s (%s): "
                   "opening it by name",
                   n && n->path[0] ? n->path : "a file",
                   reply->hdr.status == STATUS_SUCCESS ? "malformed CREATE response"
                                                       : ntstatus_str(reply->hdr.status, buf));
            r->h->durable = false;
        }
    }
    reopen_one_done(r);
}

/* The CREATE of a reopen compound. */
static void reopen_create_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct reopen *r = arg;
    struct smb2_create_response cr;
    char buf[NTSTATUS_FORMAT_SIZE];
    if (err)
        return; /* the connection failed: reopen_handles reports it */
    if (reply->hdr.status != STATUS_SUCCESS)
        reopen_failed(r, ntstatus_str(reply->hdr.status, buf));
    else if (smb2_create_response_decode(reply->msg, reply->len, &cr) != 0)
        reopen_failed(r, "malformed CREATE response");
    else {
        r->opened = true;
        r->file_id = cr.file_id;
    }
}

/* Its QUERY_INFO (FileInternalInformation): the file opened by name must be the one the
 * handle had (same server file id, our inode number), not another file created under the
 * name meanwhile. */
static void reopen_identity_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct reopen *r = arg;
    struct smb2_output_buffer out;
    uint64_t index;
    if (!err && r->opened) {
        if (reply->hdr.status == STATUS_SUCCESS &&
            smb2_query_info_response_decode(reply->msg, reply->len, &out) == 0 &&
            smb2_file_internal_info_decode(out.buffer, out.buffer_len, &index) == 0 &&
            ino_of(r->fs, index) == r->h->ino) {
            r->h->file_id = r->file_id;
            r->fs->reopens_by_name++;
            /* A listing under way belonged to the old handle's scan: the new one starts at
             * the directory's beginning, so what was gathered goes (a complete listing is
             * kept and served as before). */
            if (r->h->is_dir && !r->h->listed)
                dir_entries_clear(r->h);
            if (r->h->flock_held) {
                /* A new open holds no lock; another client may have the file locked now. */
                struct fs_node *n = node_find(r->fs, r->h->ino);
                sq_log(SQ_LOG_WARNING,
                       "the flock lock on %s was lost with the connection (the server did not "
                       "keep the open); the process holding it is not told",
                       n && n->path[0] ? n->path : "?");
                r->h->flock_held = 0;
            }
        } else {
            reopen_failed(r, "another file has its name now");
            close_unclaimed(r->fs, &r->file_id);
        }
    }
    reopen_one_done(r);
}

/* The requests that open r's handle again: a durable one by its CreateGuid (with its lease
 * key, which the server checks, MS-SMB2 3.3.5.9.12), otherwise by name with the identity
 * check. One that cannot be built is reported and skipped; returns the error of one that
 * could not be sent. */
static int submit_reopen(struct fs *fs, struct reopen *r, const struct fs_node *n, bool reclaim)
{
    struct fs_handle *h = r->h;
    struct smb2_request q[2];
    memset(q, 0, sizeof(q));
    size_t count = reclaim ? 1 : 2;
    uint32_t access = h->is_dir ? FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE
                                : access_for_flags(h->access_mode);
    uint32_t options = h->is_dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE;
    int rc;
    if (reclaim) {
        struct smb2_lease lease = {.state = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING};
        struct smb2_durable_reconnect_v2 dh2c = {.file_id = r->lost_id};
        lease_key_of(fs, h->ino, lease.key);
        memcpy(dh2c.create_guid, h->create_guid, sizeof(dh2c.create_guid));
        struct sq_create_caching caching = {.lease = &lease, .durable_reconnect = &dh2c};
        rc = sq_req_create_leased(&q[0], n->path, access, FILE_OPEN, options, 0, &caching);
    } else {
        rc = sq_req_create(&q[0], n->path, access, FILE_OPEN, options, 0);
        if (!rc)
            rc = sq_req_query_info(&q[1], &sq_related_file_id, true, SMB2_0_INFO_FILE,
                                   FILE_INTERNAL_INFORMATION, 64);
    }
    if (rc) {
        free_reqs(q, 2);
        reopen_failed(r, sq_strerror(rc));
        return 0;
    }
    for (size_t k = 0; k < count; k++) {
        q[k].tree_id = sq_session_tree_id(fs->session);
        q[k].arg = r;
    }
    q[0].cb = reclaim ? reclaim_cb : reopen_create_cb;
    q[1].cb = reopen_identity_cb;
    (*r->left)++;
    rc = smb2_conn_submit(fs->conn, q, count);
    if (rc)
        (*r->left)--;
    return rc;
}

/* Sends one round of reopens, all in flight at once, and waits for them: the durable
 * handles' reclaims (reclaim), or every handle still without an id by name. 0, or the error
 * that broke the new connection. */
static int reopen_round(struct fs *fs, struct reopen *ctx, size_t count, bool reclaim)
{
    size_t left = 0;
    bool all_done = false;
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        struct reopen *r = &ctx[i];
        struct fs_handle *h = r->h;
        if (reclaim ? !h->durable : h->file_id.persistent || h->file_id.volatile_)
            continue;
        r->left = &left;
        r->all_done = &all_done;
        struct fs_node *n = node_find(fs, h->ino);
        if (!n) {
            if (!reclaim)
                reopen_failed(r, "no name known for it");
            continue;
        }
        rc = submit_reopen(fs, r, n, reclaim);
    }
    if (left) {
        int run_rc = sq_session_run_until(fs->session, &all_done);
        rc = rc ? rc : run_rc;
    }
    return rc;
}

/* Opens every handle again on the new session (the lost session's ids died with it, MS-SMB2
 * 3.2.7.1): first the durable ones are reclaimed (MS-SMB2 3.2.4.4), keeping the server's
 * open itself with its share modes, byte-range locks and delete-on-close; then the others
 * are opened by name, as a related compound each with QUERY_INFO of the file id. 0, or the
 * error that broke the new connection too. */
static int reopen_handles(struct fs *fs)
{
    size_t count = 0;
    for (struct fs_handle *h = fs->open_files; h; h = h->next)
        count++;
    if (!count)
        return 0;
    struct reopen *ctx = calloc(count, sizeof(*ctx));
    if (!ctx)
        return SQ_ERR_NOMEM;
    size_t i = 0;
    for (struct fs_handle *h = fs->open_files; h; h = h->next, i++) {
        ctx[i] = (struct reopen){.fs = fs, .h = h, .lost_id = h->file_id};
        /* Until it is open again, the handle's old id must not reach the new session. */
        memset(&h->file_id, 0, sizeof(h->file_id));
    }
    int rc = reopen_round(fs, ctx, count, true);
    if (!rc)
        rc = reopen_round(fs, ctx, count, false);
    /* No callback may run after ctx is freed: a failed connection has run them all. */
    if (rc)
        smb2_conn_fail(fs->conn, rc);
    free(ctx);
    return rc;
}

/* One attempt to connect again runs on a thread of its own, so that the filesystem keeps
 * answering (`smbquic status`, an unmount, a soft mount's EIO) while the attempt waits for the
 * server, bounded only by the new session's own timeouts. The new session belongs to that
 * thread until the attempt ends and then, through pthread_join, to the filesystem's thread:
 * each session has one owner at a time, and the thread touches nothing else but the
 * reconnect callback's argument, which the filesystem's thread never uses. */
struct attempt {
    int (*reconnect)(void *arg, uint64_t previous_session_id, struct sq_session **out, char *why,
                     size_t why_len);
    void *arg;
    uint64_t previous_session_id;
    int done_fd;
    int rc;
    struct sq_session *session;
    char why[512];
};

static void *attempt_main(void *p)
{
    struct attempt *a = p;
    a->rc = a->reconnect(a->arg, a->previous_session_id, &a->session, a->why, sizeof(a->why));
    uint8_t done = 1;
    while (write(a->done_fd, &done, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void schedule_next_attempt(struct fs *fs, const char *why)
{
    int64_t backoff = RECONNECT_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < fs->attempts && backoff < RECONNECT_BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > RECONNECT_BACKOFF_MAX_MS)
        backoff = RECONNECT_BACKOFF_MAX_MS;
    fs->next_attempt_ms = sq_monotonic_ms() + backoff;
    /* A long outage must not fill the journal: the first few attempts, then one in
     * RECONNECT_LOG_EVERY (about every five minutes). */
    if (fs->attempts <= RECONNECT_LOG_FIRST || fs->attempts % RECONNECT_LOG_EVERY == 0)
        sq_log(SQ_LOG_WARNING, "reconnect attempt %u failed: %s; next in %lld s", fs->attempts, why,
               (long long)(backoff / 1000));
    if (fs->attempts == RECONNECT_LOG_FIRST)
        sq_log(SQ_LOG_WARNING,
               "still reconnecting; from now on one failed attempt in %d is "
               "logged",
               RECONNECT_LOG_EVERY);
}

static void start_attempt(struct fs *fs)
{
    fs->attempts++;
    struct attempt *a = calloc(1, sizeof(*a));
    if (!a) {
        schedule_next_attempt(fs, "out of memory");
        return;
    }
    *a = (struct attempt){.reconnect = fs->cfg.reconnect,
                          .arg = fs->cfg.reconnect_arg,
                          .previous_session_id = smb2_conn_session_id(fs->conn),
                          .done_fd = fs->attempt_pipe[1]};
    /* Signals are for the filesystem's thread (its ppoll): the attempt's thread blocks them
     * all from its first instruction. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&fs->attempt_thread, NULL, attempt_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(a);
        schedule_next_attempt(fs, strerror(rc));
        return;
    }
    fs->attempt = a;
}

/* Collects the attempt's result (its thread has said it is done) and, when it connected,
 * makes its session the filesystem's. */
static void finish_attempt(struct fs *fs, bool adopt)
{
    uint8_t byte;
    while (read(fs->attempt_pipe[0], &byte, 1) < 0 && errno == EINTR)
        ;
    pthread_join(fs->attempt_thread, NULL);
    struct attempt *a = fs->attempt;
    fs->attempt = NULL;
    if (a->rc) {
        if (adopt)
            schedule_next_attempt(fs, a->why);
        free(a);
        return;
    }
    struct sq_session *s = a->session;
    free(a);
    if (!adopt) { /* the mount is ending: nothing would use it */
        sq_session_close(s);
        return;
    }
    /* The old session is dead: closing it sends nothing, it frees. Its request counts carry
     * over to `smbquic status`. */
    for (uint16_t cmd = 0; cmd < SMB2_COMMAND_COUNT; cmd++)
        fs->sent_before[cmd] += smb2_conn_sent_count(fs->conn, cmd);
    sq_session_close(fs->session);
    fs->session = s;
    fs->conn = sq_session_conn(s);
    fs->conn_error = 0;
    smb2_conn_set_break_callback(fs->conn, on_break, fs);
    leases_lost(fs);
    int rc = reopen_handles(fs);
    if (rc) {
        fs->conn_error = smb2_conn_error(fs->conn) ? smb2_conn_error(fs->conn) : rc;
        connection_lost(fs);
        return;
    }
    fs->reconnects++;
    replay_writes(fs);
    run_retries(fs);
    if (fs->net_events_fd >= 0) { /* the new transport watches the network itself */
        close(fs->net_events_fd);
        fs->net_events_fd = -1;
    }
    const struct sq_session_info *i = sq_session_info(s);
    bool quic = strcmp(i->transport, "quic") == 0;
    sq_log(SQ_LOG_INFO, "reconnected to %s over %s%s%s after %.1f s (attempt %u)",
           fs->cfg.fsname ? fs->cfg.fsname : "the server", i->transport,
           quic ? ", connection " : "", quic ? i->connection_id : "",
           (double)(sq_monotonic_ms() - fs->lost_at_ms) / 1000.0, fs->attempts);
}

/* At the end of the mount: an attempt still running is waited for (its own timeouts bound
 * it), as its thread uses the reconnect argument, which the caller frees after us. */
static void end_attempt(struct fs *fs)
{
    if (!fs->attempt)
        return;
    sq_log(SQ_LOG_INFO, "waiting for the reconnect attempt under way to end");
    finish_attempt(fs, false);
}

int fs_serve(struct sq_session *s, const struct fs_config *cfg, void (*ready)(void *arg),
             void *arg, char *why, size_t why_len)
{
    struct fs *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        sq_session_close(s);
        snprintf(why, why_len, "out of memory");
        return SQ_ERR_NOMEM;
    }
    fs->session = s;
    fs->conn = sq_session_conn(s);
    fs->cfg = *cfg;
    fs->status_fd = -1;
    fs->net_events_fd = -1;
    pthread_mutex_init(&fs->inval.lock, NULL);
    pthread_cond_init(&fs->inval.wake, NULL);
    fs->leases =
        cfg->cache != FS_CACHE_NONE && crypto_random(fs->lease_salt, sizeof(fs->lease_salt)) == 0;
    smb2_conn_set_break_callback(fs->conn, on_break, fs);
    fs->attempt_pipe[0] = fs->attempt_pipe[1] = -1;
    if (fs->cfg.reconnect && pipe2(fs->attempt_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        sq_log(SQ_LOG_WARNING, "pipe: %s; a lost connection will not be reconnected",
               strerror(errno));
        fs->cfg.reconnect = NULL;
    }
    /* Negotiation, authentication and the tree connect gave the transport round trips to
     * measure. */
    uint64_t rtt_us = sq_session_rtt_us(s);
    fs->readahead_kb = readahead_kb_for(rtt_us);
    sq_log(SQ_LOG_DEBUG, "readahead window %u KiB (round trip %.1f ms)", fs->readahead_kb,
           (double)rtt_us / 1000.0);
    int rc = learn_root(fs);
    if (rc) {
        snprintf(why, why_len, "cannot read the share's root directory: %s", sq_strerror(rc));
        goto out;
    }
    if (!node_ref(fs, FUSE_ROOT_ID, "")) {
        rc = SQ_ERR_NOMEM;
        snprintf(why, why_len, "out of memory");
        goto out;
    }

    char fsname_opt[512], opts[256];
    snprintf(fsname_opt, sizeof(fsname_opt), "-ofsname=%s,subtype=smbquic",
             cfg->fsname ? cfg->fsname : "smbquic");
    snprintf(opts, sizeof(opts), "-odefault_permissions%s%s", cfg->allow_other ? ",allow_other" : "",
             cfg->read_only ? ",ro" : "");
    char *argv[] = {"mount.smbquic", fsname_opt, opts, cfg->debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(cfg->debug ? 4 : 3, argv);
    fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
    fuse_opt_free_args(&args);
    if (!fs->se) {
        rc = SQ_ERR_INVAL;
        snprintf(why, why_len, "cannot create the FUSE session (bad mount options?)");
        goto out;
    }
    if (fuse_session_mount(fs->se, cfg->mountpoint) != 0) {
        rc = SQ_ERR_IO;
        snprintf(why, why_len, "cannot mount on %s (is /dev/fuse available, and the mount point "
                               "an existing directory?)",
                 cfg->mountpoint);
        fuse_session_destroy(fs->se);
        fs->se = NULL;
        goto out;
    }
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fuse_fd = fuse_session_fd(fs->se);
    fcntl(fuse_fd, F_SETFL, fcntl(fuse_fd, F_GETFL) | O_NONBLOCK);
    sq_log(SQ_LOG_INFO, "mounted %s on %s", cfg->fsname ? cfg->fsname : "", cfg->mountpoint);
    struct find_dev dev;
    if (our_dev(fs, &dev)) {
        status_listen(fs, &dev);
        tune_readahead(fs, &dev);
    }
    if (ready)
        ready(arg);

    /* Large I/O allocates and frees megabyte buffers for every request (write-behind holds
     * up to 64 MiB). With glibc's defaults freed blocks went back to the system at once and
     * every new one page-faulted again per 4 KiB: 20,000-55,000 faults per 1 GiB written.
     * They stay in the heap while I/O runs, and go back after a second without any event. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
    bool heap_trimmed = true;
    struct fuse_buf buf = {.mem = NULL};
    sigset_t unblocked;
    sigemptyset(&unblocked);
    for (;;) {
        /* Unmounted, or a signal: the end, once the invalidator is not inside a kernel call
         * (see "leases"); meanwhile FUSE is answered as before. */
        bool ending = fuse_session_exited(fs->se) || stop_signal;
        if (ending && invalidator_try_stop(fs))
            break;
        /* The session's descriptors first, then /dev/fuse, the status socket, the pipe of a
         * reconnect attempt under way and, while disconnected, network changes. */
        enum { FUSE_SLOT = SQ_SESSION_POLLFDS, STATUS_SLOT, ATTEMPT_SLOT, NET_SLOT, POLL_SLOTS };
        struct pollfd pfd[POLL_SLOTS];
        bool down = fs->conn_error != 0;
        int64_t t;
        if (down && (fs->replays || fs->retries) && !holding_requests(fs)) {
            fail_replays(fs); /* a soft mount's wait is over */
            fail_retries(fs);
        }
        if (down) { /* a dead connection's descriptors may report errors forever */
            for (int i = 0; i < SQ_SESSION_POLLFDS; i++)
                pfd[i] = (struct pollfd){.fd = -1};
            int64_t wait_ms = fs->next_attempt_ms - sq_monotonic_ms();
            t = !fs->cfg.reconnect || fs->attempt ? -1 : wait_ms > 0 ? wait_ms * 1000 : 0;
        } else {
            sq_session_pollfds(fs->session, pfd);
            t = sq_session_timeout_us(fs->session);
            int64_t kept_ms = kept_expire(fs); /* its CLOSEs go out in this pass */
            if (kept_ms >= 0 && (t < 0 || kept_ms * 1000 < t))
                t = kept_ms * 1000;
        }
        pfd[FUSE_SLOT].fd = fuse_fd;
        /* While requests wait for a reconnect, only an unmount (POLLERR) wakes us for FUSE. */
        pfd[FUSE_SLOT].events = holding_requests(fs) ? 0 : POLLIN;
        pfd[FUSE_SLOT].revents = 0;
        pfd[STATUS_SLOT].fd = fs->status_fd; /* poll(2) ignores a negative fd */
        pfd[STATUS_SLOT].events = POLLIN;
        pfd[STATUS_SLOT].revents = 0;
        pfd[ATTEMPT_SLOT].fd = fs->attempt ? fs->attempt_pipe[0] : -1;
        pfd[ATTEMPT_SLOT].events = POLLIN;
        pfd[ATTEMPT_SLOT].revents = 0;
        pfd[NET_SLOT].fd = down ? fs->net_events_fd : -1;
        pfd[NET_SLOT].events = POLLIN;
        pfd[NET_SLOT].revents = 0;
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        if (ending && (t < 0 || t > 10000))
            t = 10000; /* the invalidator's call ends without waking us */
        if (t >= 0 && t < 1000000) {
            ts.tv_sec = 0;
            ts.tv_nsec = (long)t * 1000;
        }
        int n = ppoll(pfd, POLL_SLOTS, &ts, &unblocked);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0) {
            heap_trimmed = false;
        } else if (n == 0 && ts.tv_sec == 1 && !heap_trimmed) {
            malloc_trim(0); /* a full second without events: idle */
            heap_trimmed = true;
        }
        /* FUSE requests first: their SMB requests then go out in this same pass. */
        /* After umount the kernel ends the device: POLLERR/POLLHUP, then ENODEV on read. */
        if (n > 0 && (pfd[FUSE_SLOT].revents & (POLLIN | POLLERR | POLLHUP))) {
            for (int i = 0; i < 64 && !fuse_session_exited(fs->se); i++) {
                int res = fuse_session_receive_buf(fs->se, &buf);
                if (res == -EAGAIN || res == -EINTR || res == 0)
                    break;
                if (res < 0) {
                    if (res != -ENODEV)
                        sq_log(SQ_LOG_ERROR, "reading from /dev/fuse: %s", strerror(-res));
                    fuse_session_exit(fs->se); /* ENODEV: unmounted */
                    break;
                }
                fuse_session_process_buf(fs->se, &buf);
            }
        }
        if (n > 0 && (pfd[STATUS_SLOT].revents & POLLIN))
            status_serve(fs);
        if (n > 0 && (pfd[NET_SLOT].revents & POLLIN) && sq_network_events_drain(fs->net_events_fd))
            network_changed(fs);
        int io_rc = down ? 0 : sq_session_io(fs->session, pfd);
        if (!down && !io_rc && (io_rc = check_liveness(fs)) != 0)
            smb2_conn_fail(fs->conn, io_rc);
        if (io_rc) {
            /* Every pending FUSE request got EIO from its callback (see "reconnect"). */
            fs->conn_error = smb2_conn_error(fs->conn) ? smb2_conn_error(fs->conn) : io_rc;
            connection_lost(fs);
        } else if (fs->attempt && (pfd[ATTEMPT_SLOT].revents & POLLIN)) {
            finish_attempt(fs, true);
        } else if (down && fs->cfg.reconnect && !fs->attempt && !stop_signal &&
                   sq_monotonic_ms() >= fs->next_attempt_ms) {
            start_attempt(fs);
        }
    }
    invalidator_end(fs);
    /* The status address names the mount's device number, which the kernel may give to the
     * next mount as soon as this one is gone: free it first. */
    if (fs->status_fd >= 0)
        close(fs->status_fd);
    fs->status_fd = -1;
    end_attempt(fs);
    if (stop_signal)
        sq_log(SQ_LOG_INFO, "signal %d: unmounting %s", (int)stop_signal, cfg->mountpoint);
    kept_close_all(fs);
    drain(fs);
    free(buf.mem);
    /* Log off while the FUSE session still exists: requests drain() gave up on are failed
     * by the close, and their callbacks answer FUSE requests (harmlessly, once unmounted). */
    fs->closing = true;
    sq_session_close(fs->session);
    s = fs->session = NULL;
    fuse_session_unmount(fs->se);
    fuse_session_destroy(fs->se);
    fs->se = NULL;
    rc = 0;
out:
    free_open_files(fs);
    free_nodes(fs);
    sq_session_close(s);
    for (int i = 0; i < 2; i++)
        if (fs->attempt_pipe[i] >= 0)
            close(fs->attempt_pipe[i]);
    if (fs->net_events_fd >= 0)
        close(fs->net_events_fd);
    invalidator_end(fs);
    pthread_cond_destroy(&fs->inval.wake);
    pthread_mutex_destroy(&fs->inval.lock);
    free(fs);
    return rc;
}
