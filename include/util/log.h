/* Diagnostics: one line per event, to stderr (foreground) or syslog (daemons). Never pass
 * passwords, keys or tickets to these functions. */
#ifndef SMBQUIC_UTIL_LOG_H
#define SMBQUIC_UTIL_LOG_H

#include <stdbool.h>

enum sq_log_level {
    SQ_LOG_ERROR = 0,
    SQ_LOG_WARNING = 1,
    SQ_LOG_INFO = 2,  /* connection events: shown with -v */
    SQ_LOG_DEBUG = 3, /* protocol detail: -vv */
};

/* Messages above level are dropped (the default level is SQ_LOG_WARNING). */
void sq_log_set_level(enum sq_log_level level);
/* Prefix for stderr lines ("smbquic"); with to_syslog, lines go to syslog(3) instead. */
void sq_log_init(const char *ident, bool to_syslog);
bool sq_log_enabled(enum sq_log_level level);
void sq_log(enum sq_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
