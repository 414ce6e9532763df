/* A fault for the tests to give a real smbd (LD_PRELOAD, see SAMBA_PRELOAD in samba.sh):
 * closing a descriptor opened for writing on a file whose name starts with "close-fails-"
 * closes it and then reports ENOSPC, as a full quota or a network file system can at close.
 * smbd answers that CLOSE with STATUS_DISK_FULL (Samba's fd_close maps the errno), the only
 * way the tests have to make a server refuse a CLOSE. Every other close is passed through. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAILING_PREFIX "close-fails-"

static bool should_fail(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    /* smbd also holds O_PATH descriptors for the same file: only a write handle fails. */
    if (flags < 0 || (flags & O_PATH) || (flags & O_ACCMODE) == O_RDONLY)
        return false;
    char link[64], target[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    return strncmp(base, FAILING_PREFIX, strlen(FAILING_PREFIX)) == 0;
}

int close(int fd)
{
    bool fail = should_fail(fd);
    int saved = errno;
    if (syscall(SYS_close, fd) != 0)
        return -1;
    if (fail) {
        errno = ENOSPC;
        return -1;
    }
    errno = saved;
    return 0;
}
