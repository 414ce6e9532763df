/* fsync_writer: appends numbered records to a file and logs how much of it is safe.
 *
 *   fsync_writer write FILE LOG [--batch N] [--pause-ms MS] [--ack-writes]
 *   fsync_writer verify FILE LOG
 *
 * write: creates FILE (truncating it) and appends 4096-byte records, N (default 16) per
 * batch; after each batch it calls fsync(2), or every fourth batch close(2) and opens the
 * file again (relative to a descriptor of its directory, so it keeps working after a lazy
 * unmount detached the mount point). When that call succeeds it appends "ACK BYTES" to LOG
 * (on local disk): those bytes were acknowledged as stored. On SIGTERM or SIGINT it finishes
 * the batch, closes, logs, and exits 0; when a write, fsync or close fails it logs
 * "ERR CALL ERRNO" and exits 3 (expected once the mount is gone). With --ack-writes there is
 * no fsync or close between batches: a batch counts once its write(2) calls returned (what
 * a filesystem that promises to flush dirty data at unmount must keep).
 *
 * verify: FILE (e.g. the server's copy) must hold at least the bytes of LOG's last ACK, each
 * record as written; prints what it found and exits 0, or 1 naming the first bad offset. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECORD 4096u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Record r: its number in the first 8 bytes, then bytes that depend on r and the position. */
static void make_record(unsigned char *p, uint64_t r)
{
    memcpy(p, &r, sizeof(r));
    uint32_t x = (uint32_t)r * 2654435761u + 1;
    for (size_t i = sizeof(r); i < RECORD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static int log_line(int log_fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int log_line(int log_fd, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return write(log_fd, line, (size_t)n) == n ? 0 : -1;
}

static int fail(int log_fd, const char *call)
{
    int e = errno;
    log_line(log_fd, "ERR %s %s\n", call, strerrorname_np(e) ? strerrorname_np(e) : "?");
    fprintf(stderr, "fsync_writer: %s: %s\n", call, strerror(e));
    return 3;
}

static int do_write(const char *file, const char *log_path, unsigned batch, unsigned pause_ms,
                    bool ack_writes)
{
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (log_fd < 0) {
        perror(log_path);
        return 2;
    }
    char dir_buf[PATH_MAX], name_buf[PATH_MAX];
    snprintf(dir_buf, sizeof(dir_buf), "%s", file);
    snprintf(name_buf, sizeof(name_buf), "%s", file);
    int dir_fd = open(dirname(dir_buf), O_PATH | O_DIRECTORY);
    const char *name = basename(name_buf);
    if (dir_fd < 0)
        return fail(log_fd, "open directory");
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0)
        return fail(log_fd, "open");
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    unsigned char rec[RECORD];
    uint64_t r = 0;
    for (uint64_t b = 0;; b++) {
        for (unsigned i = 0; i < batch; i++, r++) {
            make_record(rec, r);
            if (write(fd, rec, RECORD) != (ssize_t)RECORD)
                return fail(log_fd, "write");
        }
        bool closing = stop || (!ack_writes && b % 4 == 3);
        if (closing) {
            if (close(fd) != 0)
                return fail(log_fd, "close");
        } else if (!ack_writes && fsync(fd) != 0) {
            return fail(log_fd, "fsync");
        }
        if (log_line(log_fd, "ACK %" PRIu64 "\n", r * RECORD) != 0)
            return 2;
        if (stop)
            return 0;
        if (closing) {
            fd = openat(dir_fd, name, O_WRONLY | O_APPEND);
            if (fd < 0)
                return fail(log_fd, "reopen");
        }
        if (pause_ms) {
            struct timespec ts = {pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

static int do_verify(const char *file, const char *log_path)
{
    FILE *lf = fopen(log_path, "r");
    if (!lf) {
        perror(log_path);
        return 2;
    }
    char line[128];
    uint64_t acked = 0, v;
    while (fgets(line, sizeof(line), lf))
        if (sscanf(line, "ACK %" SCNu64, &v) == 1 && v > acked)
            acked = v;
    fclose(lf);
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        printf("verify: %s: %s (acknowledged: %" PRIu64 " bytes)\n", file, strerror(errno), acked);
        return 1;
    }
    unsigned char want[RECORD], got[RECORD];
    uint64_t off = 0, intact_extra = 0;
    int rc = 0;
    for (uint64_t r = 0;; r++) {
        ssize_t n = pread(fd, got, RECORD, (off_t)off);
        if (n < 0) {
            printf("verify: reading %s at %" PRIu64 ": %s\n", file, off, strerror(errno));
            rc = 1;
            break;
        }
        if (n == 0)
            break;
        make_record(want, r);
        size_t i = 0;
        while (i < (size_t)n && got[i] == want[i])
            i++;
        if (i < (size_t)n) {
            if (off + i < acked) {
                printf("verify: %s: acknowledged data damaged at offset %" PRIu64
                       " (record %" PRIu64 "): expected %02x, found %02x\n",
                       file, off + i, r, want[i], got[i]);
                rc = 1;
            }
            off += i;
            break;
        }
        off += (uint64_t)n;
        if ((size_t)n < RECORD)
            break;
    }
    close(fd);
    if (off > acked)
        intact_extra = off - acked;
    if (rc == 0 && off < acked) {
        printf("verify: %s: only %" PRIu64 " bytes, but %" PRIu64 " were acknowledged "
               "(%" PRIu64 " lost)\n", file, off, acked, acked - off);
        return 1;
    }
    if (rc == 0)
        printf("verify: %s: the %" PRIu64 " acknowledged bytes are intact (%" PRIu64
               " more bytes intact after them)\n", file, acked, intact_extra);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned batch = 16, pause_ms = 2;
    bool ack_writes = false;
    if (argc >= 4 && strcmp(argv[1], "write") == 0) {
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
                batch = (unsigned)strtoul(argv[++i], NULL, 10);
            else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc)
                pause_ms = (unsigned)strtoul(argv[++i], NULL, 10);
            else if (strcmp(argv[i], "--ack-writes") == 0)
                ack_writes = true;
            else
                argc = 0; /* usage */
        }
        if (argc)
            return do_write(argv[2], argv[3], batch ? batch : 1, pause_ms, ack_writes);
    }
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return do_verify(argv[2], argv[3]);
    fprintf(stderr, "usage: fsync_writer write FILE LOG [--batch N] [--pause-ms MS] [--ack-writes]\n"
                    "       fsync_writer verify FILE LOG\n");
    return 2;
}
