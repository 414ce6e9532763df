/* The audit log of smbquic-gateway (--audit FILE): one line per connection when the access
 * decision is made, one when it ends, and (rate-limited) one per failed handshake. Each line
 * is appended with a single write(2), so lines from concurrent writers never interleave.
 *
 * Line format (documented in smbquic-gateway(8)): an ISO-8601 UTC time with milliseconds,
 * then space-separated KEY=VALUE fields. A VALUE is written bare when it consists only of
 * printable ASCII other than space, '"' and '\'; otherwise it is double-quoted with '"' and
 * '\' escaped by a backslash and any other byte outside 0x20-0x7e written as \xHH. */
#ifndef SMBQUIC_GATEWAY_AUDIT_H
#define SMBQUIC_GATEWAY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

/* Opens path for appending (created 0640), or none when path is NULL. With to_stderr every
 * line is also written to stderr. Returns 0, or -1 with a reason in why. */
int gw_audit_open(const char *path, bool to_stderr, char *why, size_t why_len);
void gw_audit_close(void);
/* Opens the file again by its name (after log rotation moved it away). On failure keeps
 * writing to the old file and returns -1 with a reason. */
int gw_audit_reopen(char *why, size_t why_len);

struct gw_audit_line {
    char text[4096];
    size_t len;
    bool truncated;
};

/* Starts a line with the current time. */
void gw_audit_begin(struct gw_audit_line *line);
/* Appends " KEY=VALUE", quoting VALUE as described above. */
void gw_audit_add(struct gw_audit_line *line, const char *key, const char *value);
void gw_audit_addf(struct gw_audit_line *line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the line (and a newline) to the audit file and, if asked, to stderr. */
void gw_audit_emit(struct gw_audit_line *line);

#endif
