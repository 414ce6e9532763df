#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static enum sq_log_level max_level = SQ_LOG_WARNING;
static const char *log_ident = "smbquic";
static bool use_syslog;

void sq_log_set_level(enum sq_log_level level)
{
    max_level = level;
}

void sq_log_init(const char *ident, bool to_syslog)
{
    log_ident = ident;
    use_syslog = to_syslog;
    if (to_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

bool sq_log_enabled(enum sq_log_level level)
{
    return level <= max_level;
}

void sq_log(enum sq_log_level level, const char *fmt, ...)
{
    if (level > max_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (use_syslog) {
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(priorities[level], "%s", line);
    } else {
        fprintf(stderr, "%s: %s\n", log_ident, line);
    }
}
