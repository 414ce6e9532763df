/* rtnetlink change events; contract in include/util/netevents.h. */
#include "util/netevents.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

int sq_network_events_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa = {
        .nl_family = AF_NETLINK,
        .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                     RTMGRP_IPV6_ROUTE,
    };
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int err = errno; /* for the caller's message */
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

bool sq_network_events_drain(int fd)
{
    uint8_t discard[8192];
    bool changed = false;
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, discard, sizeof(discard), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != ENOBUFS)
            break;
        changed = true;
    }
    return changed;
}
