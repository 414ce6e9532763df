/* mount.smbquic: the mount(8) helper that mounts an SMB 3.1.1 share over QUIC or TCP with the
 * FUSE filesystem of src/fs (see man/mount.smbquic.8).
 *
 * The connection is set up before anything is mounted and before the helper detaches, so a
 * failure is one line on stderr and a non-zero exit with nothing left behind. Then a child
 * process mounts and serves the share; the parent returns only when the mount is in place
 * (the child reports through a pipe) or has clearly failed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "client/options.h"
#include "client/session.h"
#include "crypto/smbcrypto.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mountinfo.h"
#include "util/clock.h"
#ifdef SMBQUIC_HAVE_FS
#include "fs/fs.h"
#endif

#ifndef SMBQUIC_VERSION
#define SMBQUIC_VERSION "unknown"
#endif

#define PROGRAM "mount.smbquic"

/* mount(8)'s RETURN CODES, which mount(8) passes on from its helpers. */
enum mount_exit {
    MOUNT_EXIT_OK = 0,
    MOUNT_EXIT_USAGE = 1,     /* incorrect invocation or permissions */
    MOUNT_EXIT_SYSTEM = 2,    /* system error (out of memory, cannot fork) */
    MOUNT_EXIT_INTERRUPT = 8, /* user interrupt */
    MOUNT_EXIT_FAIL = 32,     /* mount failure */
};

/* How long the parent waits for the child to have the mount in place. The connection is
 * already up by then: this covers FUSE setup and the first directory read. */
#define READY_TIMEOUT_MS 30000
/* How long a child that is told to stop (SIGTERM) may take before it is killed. */
#define STOP_TIMEOUT_MS 5000

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr, "mount.smbquic: <message>", then the exit status to return. */
static int fail(int status, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One line, whatever a server or the system put in the message. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s: %s\n", PROGRAM, line);
    return status;
}

static void usage(FILE *out)
{
    fputs("usage: " PROGRAM " //SERVER/SHARE DIR [-sfnvF] [-N NAMESPACE] [-o OPTIONS]\n"
          "\n"
          "  -o OPTIONS    comma-separated mount options (see mount.smbquic(8)): username=,\n"
          "                domain=, password=, credentials=FILE, uid=, gid=, file_mode=,\n"
          "                dir_mode=, ro, rw, allow_other, port=, transport=quic|tcp|auto, sign,\n"
          "                seal, sec=krb5|ntlmssp, servername=, cafile=, pin=, cert=, key=,\n"
          "                cache=strict|loose|none, actimeo=, closetimeo=, hard, soft,\n"
          "                echo_interval=, mfsymlinks, noexec, foreground\n"
          "  -F, --foreground  stay in the foreground, log to stderr, run until unmounted\n"
          "  -f            fake (as mount -f): check the options, mount nothing\n"
          "  -s            sloppy: skip unknown options with a warning\n"
          "  -n            accepted (no /etc/mtab is written anyway)\n"
          "  -v            verbose (twice: protocol and FUSE detail)\n"
          "  -N NAMESPACE  mount in that mount namespace (a PID or a namespace file)\n"
          "The password comes from credentials=FILE, the PASSWD environment variable or\n"
          "password= (removed from the process's command line at once).\n",
          out);
}

/* Hides password= items of every -o argument from /proc/PID/cmdline. The parsed -o pointers
 * cover every form getopt accepts (-o X, -oX, --options=X); when parsing stopped early, the
 * remaining separate arguments are scanned too. */
static void hide_argv_passwords(int argc, char **argv, const struct mount_args *a)
{
    for (size_t i = 0; a->options && i < a->count; i++)
        mount_args_hide_passwords(a->options[i]);
    for (int i = 1; i < argc; i++) {
        if (argv[i] == a->spec || argv[i] == a->dir)
            continue;
        if (strncmp(argv[i], "-o", 2) == 0)
            mount_args_hide_passwords(argv[i] + 2);
        else if (strncmp(argv[i], "--options=", 10) == 0)
            mount_args_hide_passwords(argv[i] + 10);
        else
            mount_args_hide_passwords(argv[i]);
    }
}

static int enter_mount_namespace(const char *ns, char *why, size_t why_len)
{
    char path[64];
    const char *file = ns;
    if (*ns && strspn(ns, "0123456789") == strlen(ns)) {
        snprintf(path, sizeof(path), "/proc/%s/ns/mnt", ns);
        file = path;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "-N %s: %s", ns, strerror(errno));
        return -1;
    }
    int rc = setns(fd, CLONE_NEWNS);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        snprintf(why, why_len, "-N %s: cannot enter the mount namespace: %s", ns, strerror(saved));
        return -1;
    }
    return 0;
}

/* "//server/share" as /proc/mounts shows it and mount(8) compares it with fstab. */
static int make_fsname(const struct sq_options *o, char *out, size_t len)
{
    bool v6 = strchr(o->server, ':') != NULL;
    int n = snprintf(out, len, "//%s%s%s/%s", v6 ? "[" : "", o->server, v6 ? "]" : "", o->share);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

#ifdef SMBQUIC_HAVE_FS

/* True when /etc/fuse.conf lets users other than root use allow_other (fusermount3(1)). */
static bool fuse_conf_allows_other(void)
{
    FILE *f = fopen("/etc/fuse.conf", "re");
    if (!f)
        return false;
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *p = line + strspn(line, " \t");
        size_t len = strcspn(p, " \t\r\n#");
        found = len == 16 && strncmp(p, "user_allow_other", 16) == 0;
    }
    fclose(f);
    return found;
}

/* libfuse opens /dev/fuse itself before anything else (fusermount3 is its fallback only when
 * mount(2) is not allowed). */
static int check_dev_fuse(char *why, size_t why_len)
{
    if (access("/dev/fuse", R_OK | W_OK) == 0)
        return 0;
    int saved = errno;
    snprintf(why, why_len, "cannot open /dev/fuse: %s%s", strerror(saved),
             saved == ENOENT ? " (is the fuse module loaded?)" : "");
    return -1;
}

static void log_connected(const struct sq_session *s, const char *fsname)
{
    const struct sq_session_info *i = sq_session_info(s);
    char extra[256] = "";
    size_t n = 0;
    if (i->cert_sha256 && *i->cert_sha256)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", certificate sha256 %s",
                              i->cert_sha256);
    if (i->connection_id && *i->connection_id && n < sizeof(extra))
        snprintf(extra + n, sizeof(extra) - n, ", connection id %s", i->connection_id);
    sq_log(SQ_LOG_INFO, "connected to %s at %s over %s: SMB %s, cipher %s, signing %s%s", fsname,
           i->peer, i->transport, sq_dialect_name(i->dialect), i->encrypted ? i->cipher : "none",
           i->signing, extra);
}

/* What the ready callback needs: the pipe to the waiting parent (-1 in the foreground) and
 * the per-mount flags FUSE's own mount does not set. */
struct ready_ctx {
    int fd;
    bool quiet_stderr; /* daemon: stderr goes to the parent until the mount is in place */
    const char *mountpoint;
    bool noexec;
    bool read_only;
    bool failed;
    char why[256];
};

/* noexec is a flag of the mount, not of the filesystem: set it with a bind remount, which
 * changes only the mount's flags and sends nothing to the filesystem (mount(2), MS_BIND with
 * MS_REMOUNT). nosuid and nodev are kept; the atime mode is left as it is. */
static int set_mount_flags(struct ready_ctx *r)
{
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (r->read_only)
        flags |= MS_RDONLY;
    if (mount(NULL, r->mountpoint, NULL, flags, NULL) != 0) {
        snprintf(r->why, sizeof(r->why), "cannot make %s noexec: %s", r->mountpoint,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void report(int fd, char code, const char *why)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "%c%s", code, why ? why : "");
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    /* At most PIPE_BUF bytes: one atomic write. */
    while (write(fd, msg, len) < 0 && errno == EINTR)
        ;
}

/* Ends the child's stderr to the parent: from now on nothing it writes there is about the
 * mount. */
static void quiet_stderr(struct ready_ctx *r)
{
    if (!r->quiet_stderr)
        return;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDERR_FILENO);
        close(null);
    }
    r->quiet_stderr = false;
}

/* Called by fs_serve once the mount is in place, before the first request is served. */
static void on_ready(void *arg)
{
    struct ready_ctx *r = arg;
    if (r->noexec && set_mount_flags(r) != 0) {
        r->failed = true;
        /* Take the mount away again: fs_serve sees the FUSE device end and returns. */
        umount2(r->mountpoint, MNT_DETACH);
    }
    quiet_stderr(r);
    if (r->fd >= 0) {
        report(r->fd, r->failed ? 'E' : 'R', r->failed ? r->why : NULL);
        close(r->fd);
        r->fd = -1;
    }
}

/* The mount's options, kept (password included) for reconnecting; wiped when it ends. */
static struct sq_options *session_options;

/* fs_config.reconnect: a new session with the options the mount was made with (its
 * ClientGuid among them), replacing the lost one. */
static int reconnect_session(void *arg, uint64_t previous_session_id, struct sq_session **out,
                             char *why, size_t why_len)
{
    struct sq_options *o = arg;
    struct sq_failure f = {0};
    o->previous_session_id = previous_session_id;
    int rc = sq_session_open(o, out, &f);
    if (rc)
        snprintf(why, why_len, "%s", f.detail);
    return rc;
}

/* Serves the mount until it is unmounted; the exit status of the serving process. */
static int serve(struct sq_session *s, const struct fs_config *cfg, struct ready_ctx *r)
{
    log_connected(s, cfg->fsname);
    char why[256] = "";
    int rc = fs_serve(s, cfg, on_ready, r, why, sizeof(why));
    if (rc) {
        sq_log(SQ_LOG_ERROR, "mount failed: %s", why);
        quiet_stderr(r);
        if (r->fd >= 0)
            report(r->fd, 'E', why);
        return MOUNT_EXIT_FAIL;
    }
    if (r->failed) {
        sq_log(SQ_LOG_ERROR, "mount failed: %s", r->why);
        return MOUNT_EXIT_FAIL;
    }
    if (r->fd >= 0) { /* fs_serve returned without calling ready: it never mounted */
        quiet_stderr(r);
        report(r->fd, 'E', "the filesystem stopped before the mount was in place");
    }
    sq_log(SQ_LOG_INFO, "unmounted %s from %s; disconnected", cfg->fsname, cfg->mountpoint);
    return MOUNT_EXIT_OK;
}

static int run_foreground(struct sq_session *s, const struct fs_config *cfg, struct ready_ctx *r)
{
    log_connected(s, cfg->fsname);
    char why[256] = "";
    int rc = fs_serve(s, cfg, on_ready, r, why, sizeof(why));
    if (rc)
        return fail(MOUNT_EXIT_FAIL, "mount failed: %s", why);
    if (r->failed)
        return fail(MOUNT_EXIT_FAIL, "mount failed: %s", r->why);
    sq_log(SQ_LOG_INFO, "unmounted %s from %s; disconnected", cfg->fsname, cfg->mountpoint);
    return MOUNT_EXIT_OK;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = sig;
}

struct mount_wanted {
    const char *mountpoint, *fsname;
};

static bool is_our_mount(const struct sq_mount_entry *e, void *arg)
{
    const struct mount_wanted *w = arg;
    return strcmp(e->target, w->mountpoint) == 0 && strcmp(e->type, "fuse.smbquic") == 0 &&
           strcmp(e->source, w->fsname) == 0;
}

/* True when a fuse.smbquic mount of fsname is on mountpoint (proc(5), mountinfo). */
static bool mounted_here(const char *mountpoint, const char *fsname)
{
    struct mount_wanted w = {mountpoint, fsname};
    return sq_mountinfo_each(is_our_mount, &w);
}

/* Stops a child that did not report in time (or when the user interrupted the mount), and
 * makes sure it leaves no mount behind. */
static void stop_child(pid_t child, const char *mountpoint, const char *fsname)
{
    kill(child, SIGTERM); /* fs_serve unmounts and returns */
    int64_t deadline = sq_monotonic_ms() + STOP_TIMEOUT_MS;
    int status;
    pid_t w;
    while ((w = waitpid(child, &status, WNOHANG)) == 0 && sq_monotonic_ms() < deadline)
        usleep(20 * 1000);
    if (w == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    if (!mounted_here(mountpoint, fsname))
        return;
    if (umount2(mountpoint, MNT_DETACH) == 0)
        return;
    /* Not root: the mount was made through fusermount3, which also takes it away. */
    pid_t p = fork();
    if (p == 0) {
        execlp("fusermount3", "fusermount3", "-u", "-z", "--", mountpoint, (char *)NULL);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, &status, 0);
}

/* What the child wrote on stderr while mounting (libfuse's and fusermount3's messages):
 * the last part is kept. */
struct child_stderr {
    char text[1024];
    size_t len;
};

static void read_stderr(int fd, struct child_stderr *e)
{
    char buf[sizeof(e->text) / 2];
    ssize_t got;
    while ((got = read(fd, buf, sizeof(buf))) > 0) {
        size_t n = (size_t)got;
        if (e->len + n >= sizeof(e->text)) { /* keep the newest: drop from the front */
            size_t drop = e->len + n - (sizeof(e->text) - 1);
            memmove(e->text, e->text + drop, e->len - drop);
            e->len -= drop;
        }
        memcpy(e->text + e->len, buf, n);
        e->len += n;
    }
    e->text[e->len] = '\0';
}

/* The last non-empty line of what the child wrote on stderr, or NULL. */
static const char *last_line(struct child_stderr *e)
{
    char *end = e->text + e->len;
    while (end > e->text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        *--end = '\0';
    if (end == e->text)
        return NULL;
    char *nl = strrchr(e->text, '\n');
    return nl ? nl + 1 : e->text;
}

static int fail_child(const char *why, struct child_stderr *e)
{
    const char *detail = last_line(e);
    if (detail && !strstr(why, detail))
        return fail(MOUNT_EXIT_FAIL, "mount failed: %s (%s)", why, detail);
    return fail(MOUNT_EXIT_FAIL, "mount failed: %s", why);
}

/* The parent's side: waits until the child reports the mount in place ('R') or a failure
 * ('E' and the message) on status_fd, or exits; err_fd carries the child's stderr. */
static int wait_for_child(pid_t child, int status_fd, int err_fd, const char *mountpoint,
                          const char *fsname)
{
    struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: poll returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    fcntl(err_fd, F_SETFL, fcntl(err_fd, F_GETFL) | O_NONBLOCK);
    struct child_stderr err = {.len = 0};
    int64_t deadline = sq_monotonic_ms() + READY_TIMEOUT_MS;
    char msg[512];
    size_t n = 0;
    for (;;) {
        if (interrupted) {
            stop_child(child, mountpoint, fsname);
            return fail(MOUNT_EXIT_INTERRUPT, "mount failed: interrupted (signal %d)",
                        (int)interrupted);
        }
        int64_t left = deadline - sq_monotonic_ms();
        if (left <= 0) {
            stop_child(child, mountpoint, fsname);
            read_stderr(err_fd, &err);
            return fail_child("the filesystem was not ready within 30 s", &err);
        }
        struct pollfd pfd[2] = {{.fd = status_fd, .events = POLLIN},
                                {.fd = err_fd, .events = POLLIN}};
        int rc = poll(pfd, err_fd >= 0 ? 2 : 1, (int)left);
        if (rc <= 0)
            continue; /* EINTR or the deadline: checked above */
        if (pfd[1].revents & POLLIN)
            read_stderr(err_fd, &err);
        else if (pfd[1].revents & (POLLHUP | POLLERR))
            err_fd = -1; /* closed: poll the status pipe alone */
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t got = read(status_fd, msg + n, sizeof(msg) - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        if (msg[0] == 'R')
            return MOUNT_EXIT_OK; /* the child serves on, detached */
        if (n == sizeof(msg) - 1)
            break;
    }
    msg[n] = '\0';
    /* What libfuse or fusermount3 said before the child reported is in the pipe already;
     * anything later (the child exiting) is not about the mount. */
    if (err_fd >= 0)
        read_stderr(err_fd, &err);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (n > 0 && msg[0] == 'E')
        return fail_child(msg + 1, &err);
    /* The child died without a word (a crash): leave nothing mounted. */
    if (mounted_here(mountpoint, fsname))
        stop_child(child, mountpoint, fsname);
    char why[128];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "the filesystem process was killed by %s",
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, sizeof(why), "the filesystem process exited with status %d",
                 WEXITSTATUS(status));
    return fail_child(why, &err);
}

static int run_daemon(struct sq_session *s, const struct fs_config *cfg, struct ready_ctx *r,
                      int verbose)
{
    int fds[2], errs[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        sq_session_close(s);
        return fail(MOUNT_EXIT_SYSTEM, "mount failed: pipe: %s", strerror(errno));
    }
    if (pipe2(errs, O_CLOEXEC) != 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        sq_session_close(s);
        return fail(MOUNT_EXIT_SYSTEM, "mount failed: pipe: %s", strerror(saved));
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        close(errs[0]);
        close(errs[1]);
        sq_session_close(s);
        return fail(MOUNT_EXIT_SYSTEM, "mount failed: fork: %s", strerror(saved));
    }
    if (child == 0) {
        close(fds[0]);
        close(errs[0]);
        /* A daemon: its own session (no controlling terminal, no signals from the shell
         * that ran mount), no working directory to keep busy, stdio on /dev/null; stderr
         * goes to the parent until the mount is in place, so that what libfuse or
         * fusermount3 say about a failed mount can be shown (on_ready ends that). */
        setsid();
        if (chdir("/") != 0)
            _exit(MOUNT_EXIT_SYSTEM);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            close(null);
        }
        dup2(errs[1], STDERR_FILENO);
        close(errs[1]);
        r->quiet_stderr = true;
        sq_log_init(PROGRAM, true);
        sq_log_set_level(verbose > 1 ? SQ_LOG_DEBUG : SQ_LOG_INFO);
        r->fd = fds[1];
        int code = serve(s, cfg, r);
        if (session_options)
            sq_options_free(session_options);
        exit(code);
    }
    /* The parent: the session now belongs to the child; never touch it here (closing it
     * would log off the child's session on the shared socket). */
    close(fds[1]);
    close(errs[1]);
    int rc = wait_for_child(child, fds[0], errs[0], cfg->mountpoint, cfg->fsname);
    close(fds[0]);
    close(errs[0]);
    /* The session is the child's, mounted or not: the parent's copy must never be used (a
     * LOGOFF sent from here would reuse the child's keys and nonces) nor freed by exit
     * handlers. The parent just goes, after wiping its copy of the password. */
    if (session_options)
        sq_options_free(session_options);
    _exit(rc);
}

#endif /* SMBQUIC_HAVE_FS */

int main(int argc, char **argv)
{
    struct mount_args a;
    char why[512] = "";
    sq_log_init(PROGRAM, false);
    int rc = mount_args_parse(argc, argv, &a, why, sizeof(why));
    if (rc) {
        hide_argv_passwords(argc, argv, &a);
        free(a.options);
        return fail(MOUNT_EXIT_USAGE, "%s", why);
    }
    if (a.help || a.version) {
        hide_argv_passwords(argc, argv, &a);
        free(a.options);
        if (a.help)
            usage(stdout);
        else
            printf(PROGRAM " %s (%s)\n", SMBQUIC_VERSION,
#ifdef SMBQUIC_HAVE_FS
                   "filesystem: FUSE"
#else
                   "built without the filesystem: cannot mount"
#endif
            );
        return MOUNT_EXIT_OK;
    }

    struct sq_options o;
    sq_options_init(&o);
    /* sq_options_init copied $PASSWD: the daemon must not keep it in /proc/PID/environ. */
    mount_args_wipe_env("PASSWD");
    o.mount.enabled = true;
    o.mount.sloppy = a.sloppy;
    o.verbose = a.verbose;
    if (a.verbose)
        sq_log_set_level(a.verbose > 1 ? SQ_LOG_DEBUG : SQ_LOG_INFO);
    rc = 0;
    for (size_t i = 0; i < a.count && !rc; i++)
        rc = sq_options_parse(&o, a.options[i], why, sizeof(why));
    hide_argv_passwords(argc, argv, &a);
    free(a.options);
    a.options = NULL;
    if (rc) {
        sq_options_free(&o);
        return fail(rc == SQ_ERR_NOMEM ? MOUNT_EXIT_SYSTEM : MOUNT_EXIT_USAGE, "options failed: %s",
                    why);
    }
    bool foreground = a.foreground || o.mount.foreground;

    char fsname[1024];
    rc = sq_options_parse_unc(&o, a.spec, true, why, sizeof(why));
    if (!rc && o.path && *o.path) {
        snprintf(why, sizeof(why),
                 "'%s': mounting a directory inside a share is not supported; mount "
                 "//SERVER/SHARE",
                 a.spec);
        rc = SQ_ERR_INVAL;
    }
    if (!rc && make_fsname(&o, fsname, sizeof(fsname)) != 0) {
        snprintf(why, sizeof(why), "'%s' is too long", a.spec);
        rc = SQ_ERR_INVAL;
    }
    /* FUSE takes the name inside its own comma-separated option list. */
    if (!rc && strchr(fsname, ',')) {
        snprintf(why, sizeof(why), "'%s': a comma cannot appear in a server or share name", a.spec);
        rc = SQ_ERR_INVAL;
    }
    if (!rc)
        rc = sq_options_validate(&o, why, sizeof(why));
    if (!rc && o.mount.noexec && geteuid() != 0) {
        snprintf(why, sizeof(why),
                 "noexec needs root (mounts by other users are made by "
                 "fusermount3, which does not set it)");
        rc = SQ_ERR_INVAL;
    }
    if (rc) {
        sq_options_free(&o);
        return fail(MOUNT_EXIT_USAGE, "options failed: %s", why);
    }

    if (a.mount_ns && enter_mount_namespace(a.mount_ns, why, sizeof(why)) != 0) {
        sq_options_free(&o);
        return fail(MOUNT_EXIT_FAIL, "mount namespace failed: %s", why);
    }
    char mountpoint[PATH_MAX];
    struct stat st;
    if (!realpath(a.dir, mountpoint) || stat(mountpoint, &st) != 0) {
        int saved = errno;
        sq_options_free(&o);
        return fail(MOUNT_EXIT_FAIL, "mount point failed: %s: %s", a.dir, strerror(saved));
    }
    if (!S_ISDIR(st.st_mode)) {
        sq_options_free(&o);
        return fail(MOUNT_EXIT_FAIL, "mount point failed: %s: not a directory", a.dir);
    }

#ifndef SMBQUIC_HAVE_FS
    /* Before connecting: a pointless authentication could count towards a lockout. */
    (void)foreground;
    sq_options_free(&o);
    return fail(MOUNT_EXIT_FAIL, "mount failed: this " PROGRAM
                                 " was built without the filesystem (libfuse 3 was missing)");
#else
    /* What libfuse and fusermount3 would refuse, said plainly and before authenticating. */
    if (o.mount.allow_other && geteuid() != 0 && !fuse_conf_allows_other()) {
        sq_options_free(&o);
        return fail(MOUNT_EXIT_USAGE, "options failed: allow_other needs 'user_allow_other' in "
                                      "/etc/fuse.conf when the mount is not made by root");
    }
    if (check_dev_fuse(why, sizeof(why)) != 0) {
        sq_options_free(&o);
        return fail(MOUNT_EXIT_FAIL, "mount failed: %s", why);
    }

    if (a.fake) {
        /* mount(8)'s -f: everything but the mount. It is not "foreground" (use -F). */
        if (a.verbose)
            fprintf(stderr, "%s: -f (fake): would mount %s on %s\n", PROGRAM, fsname, mountpoint);
        sq_options_free(&o);
        return MOUNT_EXIT_OK;
    }

    struct sq_failure f = {0};
    struct sq_session *s = NULL;
    /* One ClientGuid for the mount's life, its reconnects included (struct sq_options). */
    o.has_client_guid = crypto_random(o.client_guid, sizeof(o.client_guid)) == 0;
    rc = sq_session_open(&o, &s, &f);
    if (rc) {
        sq_options_free(&o);
        return fail(f.stage == SQ_STAGE_OPTIONS ? MOUNT_EXIT_USAGE : MOUNT_EXIT_FAIL, "%s",
                    f.detail);
    }
    struct fs_config cfg = {
        .mountpoint = mountpoint,
        .fsname = fsname,
        .uid = o.mount.uid,
        .gid = o.mount.gid,
        .file_mode = o.mount.file_mode,
        .dir_mode = o.mount.dir_mode,
        .read_only = o.mount.read_only,
        .allow_other = o.mount.allow_other,
        .cache = o.mount.cache == SQ_CACHE_NONE ? FS_CACHE_NONE
                 : o.mount.cache == SQ_CACHE_LOOSE ? FS_CACHE_LOOSE
                                                   : FS_CACHE_STRICT,
        .attr_timeout = o.mount.actimeo,
        .mfsymlinks = o.mount.mfsymlinks,
        .debug = a.verbose > 1,
    };
    struct ready_ctx r = {
        .fd = -1,
        .mountpoint = mountpoint,
        .noexec = o.mount.noexec,
        .read_only = o.mount.read_only,
    };
    /* Reconnecting needs the options, the password among them (as the kernel's cifs keeps
     * it): they stay in this process until the mount ends and are wiped then. */
    cfg.hard = o.mount.hard;
    cfg.echo_interval_s = o.mount.echo_interval;
    cfg.closetimeo_s = o.mount.closetimeo;
    cfg.reconnect = reconnect_session;
    cfg.reconnect_arg = &o;
    session_options = &o;
    if (foreground) {
        sq_log_set_level(a.verbose > 1 ? SQ_LOG_DEBUG : SQ_LOG_INFO);
        rc = run_foreground(s, &cfg, &r);
        sq_options_free(&o);
        return rc;
    }
    return run_daemon(s, &cfg, &r, a.verbose);
#endif
}
