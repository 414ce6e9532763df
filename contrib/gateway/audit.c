#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int audit_fd = -1;
static bool audit_stderr;
static char audit_path[4096];

static int open_audit(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int gw_audit_open(const char *path, bool to_stderr, char *why, size_t why_len)
{
    audit_stderr = to_stderr;
    if (!path)
        return 0;
    if (strlen(path) >= sizeof(audit_path)) {
        snprintf(why, why_len, "path too long");
        return -1;
    }
    audit_fd = open_audit(path);
    if (audit_fd < 0) {
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    strcpy(audit_path, path);
    return 0;
}

int gw_audit_reopen(char *why, size_t why_len)
{
    if (audit_fd < 0)
        return 0;
    int fd = open_audit(audit_path);
    if (fd < 0) {
        snprintf(why, why_len, "cannot reopen %s: %s (still writing to the old file)", audit_path,
                 strerror(errno));
        return -1;
    }
    close(audit_fd);
    audit_fd = fd;
    return 0;
}

void gw_audit_close(void)
{
    if (audit_fd >= 0)
        close(audit_fd);
    audit_fd = -1;
}

static void put(struct gw_audit_line *line, char c)
{
    /* Keep one byte for the newline added by gw_audit_emit. */
    if (line->len + 2 >= sizeof(line->text)) {
        line->truncated = true;
        return;
    }
    line->text[line->len++] = c;
}

void gw_audit_begin(struct gw_audit_line *line)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    line->truncated = false;
    line->len = strftime(line->text, sizeof(line->text), "%Y-%m-%dT%H:%M:%S", &tm);
    line->len += (size_t)snprintf(line->text + line->len, sizeof(line->text) - line->len, ".%03ldZ",
                                  ts.tv_nsec / 1000000);
}

static bool bare(const char *value)
{
    if (!*value)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            return false;
    return true;
}

void gw_audit_add(struct gw_audit_line *line, const char *key, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    put(line, ' ');
    for (const char *k = key; *k; k++)
        put(line, *k);
    put(line, '=');
    if (bare(value)) {
        for (const char *v = value; *v; v++)
            put(line, *v);
        return;
    }
    put(line, '"');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') {
            put(line, '\\');
            put(line, (char)*p);
        } else if (*p < 0x20 || *p >= 0x7f) {
            put(line, '\\');
            put(line, 'x');
            put(line, hex[*p >> 4]);
            put(line, hex[*p & 0xf]);
        } else {
            put(line, (char)*p);
        }
    }
    put(line, '"');
}

void gw_audit_addf(struct gw_audit_line *line, const char *key, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    gw_audit_add(line, key, value);
}

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a full disk must not stop the gateway; nothing more to do here */
        data += n;
        len -= (size_t)n;
    }
}

void gw_audit_emit(struct gw_audit_line *line)
{
    if (line->truncated && line->len >= 3)
        memcpy(line->text + line->len - 3, "...", 3);
    line->text[line->len] = '\n';
    if (audit_fd >= 0)
        write_all(audit_fd, line->text, line->len + 1);
    if (audit_stderr) {
        char prefixed[sizeof(line->text) + 32];
        int n = snprintf(prefixed, sizeof(prefixed), "smbquic-gateway: audit: %.*s\n",
                         (int)line->len, line->text);
        if (n > 0)
            write_all(STDERR_FILENO, prefixed,
                      (size_t)n < sizeof(prefixed) ? (size_t)n : sizeof(prefixed) - 1);
    }
}
