/* posix_suite's checks and helpers: failure messages, files, directory listings. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "posix_suite.h"

char fail_msg[4096];
int fail_line;
char *server_dir;

/* ---- reporting ---- */

const char *errname(int e)
{
    const char *n = e ? strerrorname_np(e) : "no error";
    return n ? n : "unknown errno";
}

int failf(int line, const char *fmt, ...)
{
    if (fail_msg[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
        va_end(ap);
        fail_line = line;
    }
    return -1;
}

bool errno_matches(long r, int e, const int *want, size_t n)
{
    if (r != -1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (want[i] == e)
            return true;
    return false;
}

const char *errnames(const int *e, size_t n)
{
    static char buf[256];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < sizeof(buf); i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " or " : "",
                                errname(e[i]));
    return buf;
}

const char *result_str(long r, int e)
{
    static char buf[128];
    if (r == -1)
        snprintf(buf, sizeof(buf), "-1 (%s)", errname(e));
    else
        snprintf(buf, sizeof(buf), "%ld (success)", r);
    return buf;
}

const char *hex(const unsigned char *p, size_t n)
{
    static char buf[3 * 16 + 1];
    size_t off = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%02x", p[i]);
    if (n == 0)
        snprintf(buf, sizeof(buf), "(nothing)");
    return buf;
}

/* Compares got against want; reports the first differing offset. */
int bytes_equal(int line, const char *what, const unsigned char *got, size_t got_len,
                       const unsigned char *want, size_t want_len)
{
    size_t n = got_len < want_len ? got_len : want_len;
    size_t i = 0;
    while (i < n && got[i] == want[i])
        i++;
    if (i < n) {
        char want_hex[64];
        snprintf(want_hex, sizeof(want_hex), "%s", hex(want + i, want_len - i));
        return failf(line, "%s: bytes differ from offset %zu: expected %s..., got %s...", what,
                     i, want_hex, hex(got + i, got_len - i));
    }
    if (got_len != want_len)
        return failf(line, "%s: expected %zu bytes, got %zu (the first %zu agree)", what,
                     want_len, got_len, n);
    return 0;
}

/* ---- helpers ---- */

/* Deterministic, non-repeating bytes (a shifted copy never matches). */
void fill(unsigned char *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 24);
    }
}

/* The buffers case_alloc handed out to the running case. */
static void **case_buffers;
static size_t case_buffer_count, case_buffer_cap;

void *case_alloc(size_t len)
{
    void *p;
    if (case_buffer_count == case_buffer_cap) {
        case_buffer_cap = case_buffer_cap ? case_buffer_cap * 2 : 16;
        case_buffers = realloc(case_buffers, case_buffer_cap * sizeof(*case_buffers));
    }
    if (!case_buffers || posix_memalign(&p, 4096, len ? len : 1) != 0) {
        fprintf(stderr, "posix_suite: out of memory\n");
        exit(2);
    }
    memset(p, 0, len);
    case_buffers[case_buffer_count++] = p;
    return p;
}

void case_free_all(void)
{
    for (size_t i = 0; i < case_buffer_count; i++)
        free(case_buffers[i]);
    case_buffer_count = 0;
}

unsigned char *pattern(size_t len, uint64_t seed)
{
    unsigned char *p = case_alloc(len);
    fill(p, len, seed);
    return p;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads all of fd from offset 0 (pread); returns a malloc'd buffer, NULL with errno set. */
unsigned char *pread_all(int fd, size_t *len)
{
    size_t cap = 64 * KiB, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            unsigned char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
        }
        ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
        if (r < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

unsigned char *read_path(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    unsigned char *buf = pread_all(fd, len);
    int e = errno;
    close(fd);
    errno = e;
    return buf;
}

/* make_file(LINE, name, data, len): create or truncate name and write data through it. */
int make_file(int line, const char *name, const void *data, size_t len)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return failf(line, "open(\"%s\", O_WRONLY|O_CREAT|O_TRUNC): expected success, got -1 (%s)",
                     name, errname(errno));
    if (write_all(fd, data, len) != 0) {
        int e = errno;
        close(fd);
        return failf(line, "write %zu bytes to %s: expected success, got -1 (%s)", len, name,
                     errname(e));
    }
    if (close(fd) != 0)
        return failf(line, "close(%s) after writing: expected success, got -1 (%s)", name,
                     errname(errno));
    return 0;
}

/* file_is(LINE, name, want, len): name (opened afresh) holds exactly want. */
int file_is(int line, const char *name, const void *want, size_t len)
{
    size_t got_len;
    unsigned char *got = read_path(name, &got_len);
    if (!got)
        return failf(line, "reading %s: expected success, got -1 (%s)", name, errname(errno));
    char what[PATH_MAX + 32];
    snprintf(what, sizeof(what), "content of %s", name);
    int rc = bytes_equal(line, what, got, got_len, want, len);
    free(got);
    return rc;
}

/* server_is(LINE, name, want, len): with --server, the server's copy holds exactly want. */
int server_is(int line, const char *name, const void *want, size_t len)
{
    if (!server_dir)
        return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", server_dir, name);
    size_t got_len;
    unsigned char *got = read_path(path, &got_len);
    if (!got)
        return failf(line, "reading the server's copy %s: expected success, got -1 (%s)", path,
                     errname(errno));
    char what[PATH_MAX + 32];
    snprintf(what, sizeof(what), "the server's copy of %s", name);
    int rc = bytes_equal(line, what, got, got_len, want, len);
    free(got);
    return rc;
}

long long size_of(const char *name)
{
    struct stat st;
    return stat(name, &st) == 0 ? (long long)st.st_size : -1;
}

bool is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    free(s->types);
    memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list_dir: every name readdir(3) returns for path (unsorted, duplicates kept); -1 with errno. */
int list_dir(const char *path, struct names *s)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            s->dots++;
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->v = realloc(s->v, s->cap * sizeof(*s->v));
            s->types = realloc(s->types, s->cap);
            if (!s->v || !s->types) {
                fprintf(stderr, "posix_suite: out of memory\n");
                exit(2);
            }
        }
        s->types[s->n] = e->d_type;
        s->v[s->n++] = strdup(e->d_name);
        errno = 0;
    }
    int e2 = errno;
    closedir(d);
    if (e2) {
        names_free(s);
        errno = e2;
        return -1;
    }
    return 0;
}

/* dir_has(LINE, path, want, n): readdir of path returns exactly the names want[0..n), each
 * once (order free). */
int dir_has(int line, const char *path, const char *const *want, size_t n)
{
    struct names s;
    if (list_dir(path, &s) != 0)
        return failf(line, "readdir(%s): expected success, got -1 (%s)", path, errname(errno));
    char **w = malloc((n ? n : 1) * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = (char *)(uintptr_t)want[i];
    if (n)
        qsort(w, n, sizeof(*w), cmp_str);
    char **got = s.v;
    if (s.n)
        qsort(got, s.n, sizeof(*got), cmp_str);
    int rc = 0;
    size_t i = 0, j = 0;
    while (rc == 0 && (i < n || j < s.n)) {
        int c = i == n ? 1 : j == s.n ? -1 : strcmp(w[i], got[j]);
        if (j > 0 && j < s.n && c >= 0 && strcmp(got[j - 1], got[j]) == 0)
            rc = failf(line, "readdir(%s): \"%s\" listed twice", path, got[j]);
        else if (c < 0)
            rc = failf(line, "readdir(%s): expected \"%s\" among %zu names, it is missing", path,
                       w[i], s.n);
        else if (c > 0)
            rc = failf(line, "readdir(%s): expected %zu names, got also \"%s\"", path, n, got[j]);
        else {
            i++;
            j++;
        }
    }
    free(w);
    names_free(&s);
    return rc;
}

ino_t ino_of(const char *name)
{
    struct stat st;
    return lstat(name, &st) == 0 ? st.st_ino : 0;
}

