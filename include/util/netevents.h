/* Address, link and route changes from rtnetlink: what the QUIC transport watches to move
 * its connection (roaming), and what a disconnected mount watches to try again at once. */
#ifndef SMBQUIC_UTIL_NETEVENTS_H
#define SMBQUIC_UTIL_NETEVENTS_H

#include <stdbool.h>

/* A non-blocking socket on the rtnetlink multicast groups for links, addresses and routes
 * (no privilege needed), or -1 with errno set. */
int sq_network_events_open(void);

/* Reads what the socket holds (bounded: poll(2) reports what is left); true if anything
 * changed. The messages are not parsed: any of them only means "look again", and ENOBUFS
 * (events lost to a full buffer) counts as a change as well. */
bool sq_network_events_drain(int fd);

#endif
