/* The monotonic clock in milliseconds, for timeouts and intervals: CLOCK_MONOTONIC is never
 * set back or forward by the user or NTP steps (and stands still while the machine sleeps). */
#ifndef SMBQUIC_UTIL_CLOCK_H
#define SMBQUIC_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t sq_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
