/* Reading /proc/self/mountinfo (proc(5)), and the address on which a mount's serving process
 * answers `smbquic status`. */
#ifndef SMBQUIC_UTIL_MOUNTINFO_H
#define SMBQUIC_UTIL_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sq_mount_entry {
    unsigned major, minor;  /* st_dev of files on the mount */
    char target[PATH_MAX];  /* mount point, unescaped */
    char type[64];          /* e.g. "fuse.smbquic" */
    char source[1024];      /* e.g. "//server/share", unescaped */
};

/* Calls visit for each mount of this mount namespace in mountinfo order (older mounts first)
 * until it returns true. Returns true when visit stopped the walk, false at the end or when
 * mountinfo cannot be read. */
bool sq_mountinfo_each(bool (*visit)(const struct sq_mount_entry *e, void *arg), void *arg);

/* Unescapes a mountinfo field (octal escapes such as \040 for a space) in place. */
void sq_mountinfo_unescape(char *s);

/* The abstract AF_UNIX address (unix(7)) where the process serving the mount with device
 * number major:minor answers status requests. Abstract, so no file is left behind and it
 * vanishes with the process; keyed by the device number, so `smbquic status` finds it from
 * any path on the mount (stat(2) st_dev). Returns the address length for bind/connect. */
socklen_t sq_status_address(unsigned major, unsigned minor, struct sockaddr_un *addr);

#endif
