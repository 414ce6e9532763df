/* `smbquic status MOUNTPOINT`: asks the process serving a mount.smbquic mount what it is
 * connected to and how many SMB requests it has sent (the serving side is status_serve in
 * src/fs/fs.c). Needs no credentials and sends nothing to the server. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "commands.h"
#include "util/mountinfo.h"

struct find_mount {
    unsigned major, minor;
    bool found;
};

static bool is_smbquic_mount(const struct sq_mount_entry *e, void *arg)
{
    struct find_mount *f = arg;
    if (e->major == f->major && e->minor == f->minor && strcmp(e->type, "fuse.smbquic") == 0)
        f->found = true;
    return f->found;
}

struct find_target {
    char path[PATH_MAX];
    struct find_mount found;
};

static bool is_smbquic_target(const struct sq_mount_entry *e, void *arg)
{
    struct find_target *t = arg;
    if (strcmp(e->type, "fuse.smbquic") == 0 && strcmp(e->target, t->path) == 0)
        t->found = (struct find_mount){.major = e->major, .minor = e->minor, .found = true};
    return false; /* on to the end: the newest mount on the path is the one seen there */
}

/* The mount whose mount point is path as written (absolute, without trailing slashes), found
 * in mountinfo without touching the mount: stat(2) of a mount waiting for its connection to
 * come back would wait with it, and that is when its status matters most. */
static bool find_by_mount_point(const char *path, struct find_mount *out)
{
    struct find_target t = {.found.found = false};
    if (path[0] == '/') {
        snprintf(t.path, sizeof(t.path), "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)) ||
            (size_t)snprintf(t.path, sizeof(t.path), "%s/%s", cwd, path) >= sizeof(t.path))
            return false;
    }
    size_t n = strlen(t.path);
    while (n > 1 && t.path[n - 1] == '/')
        t.path[--n] = '\0';
    sq_mountinfo_each(is_smbquic_target, &t);
    *out = t.found;
    return t.found.found;
}

static int ask_status(const char *mountpoint, const struct find_mount *f);

int cmd_status(const char *mountpoint)
{
    struct find_mount f;
    if (find_by_mount_point(mountpoint, &f))
        return ask_status(mountpoint, &f);
    struct stat st;
    if (stat(mountpoint, &st) != 0) {
        if (errno == ENOTCONN)
            fprintf(stderr, "smbquic: status: %s: the process serving this mount has gone "
                            "(unmount it with umount -l)\n", mountpoint);
        else
            fprintf(stderr, "smbquic: status: %s: %s\n", mountpoint, strerror(errno));
        return 1;
    }
    f = (struct find_mount){.major = major(st.st_dev), .minor = minor(st.st_dev)};
    sq_mountinfo_each(is_smbquic_mount, &f);
    if (!f.found) {
        fprintf(stderr, "smbquic: status: %s is not on an smbquic mount\n", mountpoint);
        return 2;
    }
    return ask_status(mountpoint, &f);
}

/* Asks the process serving mount f and prints its answer. */
static int ask_status(const char *mountpoint, const struct find_mount *f)
{
    struct sockaddr_un addr;
    socklen_t len = sq_status_address(f->major, f->minor, &addr);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, len) != 0) {
        fprintf(stderr, "smbquic: status: the process serving %s does not answer: %s\n",
                mountpoint, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    /* The server writes the whole answer and closes; a bound on what is read keeps a
     * misbehaving peer from making this unbounded. */
    char text[65536];
    size_t used = 0;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (;;) {
        ssize_t n = read(fd, text + used, sizeof(text) - 1 - used);
        if (n > 0) {
            used += (size_t)n;
            if (used == sizeof(text) - 1)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "smbquic: status: reading the answer: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
        break;
    }
    close(fd);
    text[used] = '\0';
    if (used == 0 || strncmp(text, "error: ", 7) == 0) {
        fprintf(stderr, "smbquic: status: %s", used ? text + 7 : "no answer\n");
        return 1;
    }
    fputs(text, stdout);
    return 0;
}
