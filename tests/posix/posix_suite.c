/* posix_suite: what POSIX programs expect of a directory on a mounted share, case by case.
 *
 *   posix_suite [--server SDIR] [--timeout SECONDS] [-l] DIR [CASE|GLOB...]
 *
 * Each case runs in DIR/CASE (made afresh, removed again when the case passes, kept for a
 * look when it fails) as its working directory and prints one line:
 *
 *   ok CASE
 *   FAIL CASE: WHAT: expected X, got Y (posix_suite.c:LINE)
 *
 * with errno values by name (ENOENT, not 2). A case stops at its first failed check; the
 * others still run. SDIR is DIR as the server sees it (Samba's share directory): cases that
 * can also check what reached the server do so when it is given. Cases are chosen by name or
 * fnmatch(3) pattern ("xattr*"); -l lists them. A case that takes longer than --timeout
 * (default 90 s; a request that never returns) fails and ends the run.
 *
 * Exit status: 0 when every case passed, 1 when one failed, 2 on a usage error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define KiB 1024L
#define MiB (1024L * 1024L)

static const char *current_case;
static char fail_msg[4096];
static int fail_line;
static char *server_dir;   /* SDIR/CASE of the running case, NULL without --server */
static char *server_base;  /* SDIR */

/* ---- reporting ---- */

static const char *errname(int e)
{
    const char *n = e ? strerrorname_np(e) : "no error";
    return n ? n : "unknown errno";
}

static int failf(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(int line, const char *fmt, ...)
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

#define FAIL(...) return failf(__LINE__, __VA_ARGS__)

/* TRY(helper(__LINE__, ...)): a helper that reported a failure ends the case. */
#define TRY(expr)                                                                              \
    do {                                                                                       \
        if ((expr) != 0)                                                                       \
            return -1;                                                                         \
    } while (0)

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond))                                                                           \
            FAIL(__VA_ARGS__);                                                                 \
    } while (0)

/* SYS(call): call must not return -1; yields its value. */
#define SYS(call)                                                                              \
    ({                                                                                         \
        errno = 0;                                                                             \
        long sys_r_ = (long)(call);                                                            \
        if (sys_r_ == -1)                                                                      \
            FAIL("%s: expected success, got -1 (%s)", #call, errname(errno));                  \
        sys_r_;                                                                                \
    })

/* EXPECT_ERR(call, E1[, E2...]): call must return -1 with one of the errno values. */
#define EXPECT_ERR(call, ...)                                                                  \
    do {                                                                                       \
        static const int want_[] = {__VA_ARGS__};                                              \
        errno = 0;                                                                             \
        long r_ = (long)(call);                                                                \
        if (!errno_matches(r_, errno, want_, sizeof(want_) / sizeof(want_[0])))                \
            return failf(__LINE__, "%s: expected -1 (%s), got %s", #call,                     \
                         errnames(want_, sizeof(want_) / sizeof(want_[0])),                    \
                         result_str(r_, errno));                                               \
    } while (0)

/* EQ(got, want): integers. */
#define EQ(got, want)                                                                          \
    do {                                                                                       \
        long long g_ = (long long)(got), w_ = (long long)(want);                               \
        if (g_ != w_)                                                                          \
            FAIL("%s: expected %lld, got %lld", #got, w_, g_);                                 \
    } while (0)

static bool errno_matches(long r, int e, const int *want, size_t n)
{
    if (r != -1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (want[i] == e)
            return true;
    return false;
}

static const char *errnames(const int *e, size_t n)
{
    static char buf[256];
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < sizeof(buf); i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " or " : "",
                                errname(e[i]));
    return buf;
}

static const char *result_str(long r, int e)
{
    static char buf[128];
    if (r == -1)
        snprintf(buf, sizeof(buf), "-1 (%s)", errname(e));
    else
        snprintf(buf, sizeof(buf), "%ld (success)", r);
    return buf;
}

static const char *hex(const unsigned char *p, size_t n)
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
static int bytes_equal(int line, const char *what, const unsigned char *got, size_t got_len,
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
static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)(x >> 24);
    }
}

static unsigned char *pattern(size_t len, uint64_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    if (!p) {
        fprintf(stderr, "posix_suite: out of memory\n");
        exit(2);
    }
    fill(p, len, seed);
    return p;
}

static int write_all(int fd, const void *buf, size_t len)
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
static unsigned char *pread_all(int fd, size_t *len)
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

static unsigned char *read_path(const char *path, size_t *len)
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
static int make_file(int line, const char *name, const void *data, size_t len)
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

#define MAKE(name, data, len) TRY(make_file(__LINE__, (name), (data), (len)))
#define MAKES(name, str) MAKE((name), (str), strlen(str))

/* file_is(LINE, name, want, len): name (opened afresh) holds exactly want. */
static int file_is(int line, const char *name, const void *want, size_t len)
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
static int server_is(int line, const char *name, const void *want, size_t len)
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

#define CONTENT(name, want, len)                                                               \
    do {                                                                                       \
        TRY(file_is(__LINE__, (name), (want), (len)));                                         \
        TRY(server_is(__LINE__, (name), (want), (len)));                                       \
    } while (0)
#define CONTENTS(name, str) CONTENT((name), (str), strlen(str))

static long long size_of(const char *name)
{
    struct stat st;
    return stat(name, &st) == 0 ? (long long)st.st_size : -1;
}

static bool is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The names in a directory. */
struct names {
    char **v;
    size_t n, cap;
    size_t dots; /* "." and ".." seen */
    unsigned char *types;
};

static void names_free(struct names *s)
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
static int list_dir(const char *path, struct names *s)
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
static int dir_has(int line, const char *path, const char *const *want, size_t n)
{
    struct names s;
    if (list_dir(path, &s) != 0)
        return failf(line, "readdir(%s): expected success, got -1 (%s)", path, errname(errno));
    char **w = malloc((n ? n : 1) * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = (char *)(uintptr_t)want[i];
    qsort(w, n, sizeof(*w), cmp_str);
    char **got = s.v;
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

#define DIR_HAS(path, ...)                                                                     \
    do {                                                                                       \
        const char *const want_[] = {__VA_ARGS__};                                             \
        TRY(dir_has(__LINE__, (path), want_, sizeof(want_) / sizeof(want_[0])));               \
    } while (0)
#define DIR_EMPTY(path) TRY(dir_has(__LINE__, (path), NULL, 0))

/* server_dir_has: as DIR_HAS, in the server's copy of the case directory (with --server). */
#define SERVER_DIR_HAS(...)                                                                    \
    do {                                                                                       \
        static const char *const want_[] = {__VA_ARGS__};                                      \
        if (server_dir)                                                                        \
            TRY(dir_has(__LINE__, server_dir, want_, sizeof(want_) / sizeof(want_[0])));       \
    } while (0)

static ino_t ino_of(const char *name)
{
    struct stat st;
    return lstat(name, &st) == 0 ? st.st_ino : 0;
}

/* ---- lookup, create, open flags ---- */

static int case_stat_missing(void)
{
    struct stat st;
    EXPECT_ERR(stat("missing", &st), ENOENT);
    EXPECT_ERR(lstat("missing", &st), ENOENT);
    EXPECT_ERR(open("missing", O_RDONLY), ENOENT);
    EXPECT_ERR(access("missing", F_OK), ENOENT);
    EXPECT_ERR(stat("missing/child", &st), ENOENT);
    EXPECT_ERR(open("missing/child", O_WRONLY | O_CREAT, 0644), ENOENT);
    EXPECT_ERR(mkdir("missing/child", 0755), ENOENT);
    EXPECT_ERR(unlink("missing"), ENOENT);
    EXPECT_ERR(rmdir("missing"), ENOENT);
    EXPECT_ERR(rename("missing", "other"), ENOENT);
    EXPECT_ERR(truncate("missing", 0), ENOENT);
    MAKES("file", "x");
    EXPECT_ERR(stat("file/child", &st), ENOTDIR);
    EXPECT_ERR(open("file/child", O_WRONLY | O_CREAT, 0644), ENOTDIR);
    EXPECT_ERR(mkdir("file/child", 0755), ENOTDIR);
    /* A name looked up while missing is found once created (no stale negative entry). */
    EXPECT_ERR(stat("later", &st), ENOENT);
    MAKES("later", "y");
    SYS(stat("later", &st));
    EQ(st.st_size, 1);
    return 0;
}

static int case_create_excl(void)
{
    int fd = (int)SYS(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
    SYS(write(fd, "abc", 3));
    SYS(close(fd));
    EXPECT_ERR(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_ERR(open("f", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    SYS(mkdir("d", 0755));
    EXPECT_ERR(open("d", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    EXPECT_ERR(mkdir("f", 0755), EEXIST);
    EXPECT_ERR(mkdir("d", 0755), EEXIST);
    /* O_CREAT without O_EXCL opens the existing file and keeps its data. */
    fd = (int)SYS(open("f", O_RDWR | O_CREAT, 0644));
    char buf[8] = {0};
    EQ(SYS(read(fd, buf, sizeof(buf))), 3);
    CHECK(memcmp(buf, "abc", 3) == 0, "O_CREAT on an existing file: expected \"abc\", got \"%.3s\"", buf);
    SYS(close(fd));
    CONTENTS("f", "abc");
    return 0;
}

static int case_open_trunc(void)
{
    unsigned char *data = pattern(1000, 1);
    MAKE("f", data, 1000);
    int fd = (int)SYS(open("f", O_WRONLY | O_TRUNC));
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, 0);
    EQ(size_of("f"), 0);
    SYS(close(fd));
    CONTENT("f", "", 0);
    MAKE("f", data, 1000);
    fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_TRUNC, 0644));
    SYS(write(fd, "new", 3));
    SYS(close(fd));
    CONTENTS("f", "new");
    /* O_TRUNC of an empty file, and of a file opened elsewhere. */
    int keep = (int)SYS(open("f", O_RDONLY));
    fd = (int)SYS(open("f", O_WRONLY | O_TRUNC));
    SYS(close(fd));
    SYS(fstat(keep, &st));
    EQ(st.st_size, 0);
    char c;
    EQ(SYS(pread(keep, &c, 1, 0)), 0);
    SYS(close(keep));
    CONTENT("f", "", 0);
    free(data);
    return 0;
}

static int case_open_append(void)
{
    MAKES("f", "abc");
    int fd = (int)SYS(open("f", O_WRONLY | O_APPEND));
    SYS(lseek(fd, 0, SEEK_SET));
    EQ(SYS(write(fd, "def", 3)), 3);
    EQ(SYS(lseek(fd, 0, SEEK_CUR)), 6);
    /* Linux: pwrite on an O_APPEND descriptor appends too (pwrite(2), BUGS). */
    EQ(SYS(pwrite(fd, "ghi", 3, 0)), 3);
    CONTENTS("f", "abcdefghi");
    /* Another descriptor extends the file; the next append lands after that. */
    int other = (int)SYS(open("f", O_WRONLY));
    EQ(SYS(pwrite(other, "XYZW", 4, 9)), 4);
    SYS(close(other));
    EQ(SYS(write(fd, "jk", 2)), 2);
    SYS(close(fd));
    CONTENTS("f", "abcdefghiXYZWjk");
    /* O_RDWR|O_APPEND reads from anywhere, writes at the end. */
    fd = (int)SYS(open("f", O_RDWR | O_APPEND));
    char buf[4] = {0};
    SYS(lseek(fd, 0, SEEK_SET));
    EQ(SYS(read(fd, buf, 3)), 3);
    CHECK(memcmp(buf, "abc", 3) == 0, "read at 0 of an O_APPEND descriptor: expected \"abc\", got \"%.3s\"", buf);
    EQ(SYS(write(fd, "!", 1)), 1);
    SYS(close(fd));
    CONTENTS("f", "abcdefghiXYZWjk!");
    /* O_CREAT|O_APPEND of a new file. */
    fd = (int)SYS(open("g", O_WRONLY | O_CREAT | O_APPEND, 0644));
    SYS(write(fd, "1", 1));
    SYS(lseek(fd, 0, SEEK_SET));
    SYS(write(fd, "2", 1));
    SYS(close(fd));
    CONTENTS("g", "12");
    return 0;
}

static int case_open_dir_flags(void)
{
    SYS(mkdir("d", 0755));
    MAKES("f", "x");
    EXPECT_ERR(open("d", O_WRONLY), EISDIR);
    EXPECT_ERR(open("d", O_RDWR), EISDIR);
    EXPECT_ERR(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
    errno = 0;
    DIR *dp = opendir("f");
    CHECK(!dp && errno == ENOTDIR, "opendir(regular file): expected NULL (ENOTDIR), got %s (%s)",
          dp ? "a stream" : "NULL", errname(errno));
    int fd = (int)SYS(open("d", O_RDONLY | O_DIRECTORY));
    struct stat st;
    SYS(fstat(fd, &st));
    CHECK(S_ISDIR(st.st_mode), "fstat of a directory: expected S_IFDIR, got mode %o", st.st_mode);
    char c;
    EXPECT_ERR(read(fd, &c, 1), EISDIR);
    SYS(close(fd));
    return 0;
}

static int case_name_max(void)
{
    char name[300];
    memset(name, 'n', 255);
    name[255] = '\0';
    MAKES(name, "255");
    EQ(size_of(name), 3);
    /* 85 three-byte characters: 255 bytes of UTF-8, 85 UTF-16 units. */
    char wide[300] = "";
    for (int i = 0; i < 85; i++)
        strcat(wide, "\xe2\x82\xac"); /* U+20AC EURO SIGN */
    MAKES(wide, "euro");
    DIR_HAS(".", name, wide);
    name[255] = 'n';
    name[256] = '\0';
    EXPECT_ERR(open(name, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
    struct stat st;
    EXPECT_ERR(stat(name, &st), ENAMETOOLONG);
    return 0;
}

/* ---- read, write ---- */

static int case_rw_small(void)
{
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    EQ(SYS(write(fd, "hello", 5)), 5);
    char buf[128];
    EQ(SYS(pread(fd, buf, sizeof(buf), 0)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0, "pread: expected \"hello\", got \"%.5s\"", buf);
    EQ(SYS(pread(fd, buf, sizeof(buf), 2)), 3); /* short read at EOF */
    EQ(SYS(pread(fd, buf, sizeof(buf), 5)), 0); /* at EOF */
    EQ(SYS(pread(fd, buf, sizeof(buf), 1000)), 0); /* past EOF */
    EQ(SYS(read(fd, buf, sizeof(buf))), 0); /* the position is at the end */
    SYS(lseek(fd, 1, SEEK_SET));
    EQ(SYS(read(fd, buf, 2)), 2);
    CHECK(memcmp(buf, "el", 2) == 0, "read after lseek(1): expected \"el\", got \"%.2s\"", buf);
    /* A write past the end leaves a gap that reads as zeros. */
    EQ(SYS(pwrite(fd, "Z", 1, 10000)), 1);
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, 10001);
    SYS(close(fd));
    unsigned char *want = calloc(1, 10001);
    memcpy(want, "hello", 5);
    want[10000] = 'Z';
    CONTENT("f", want, 10001);
    free(want);
    /* Zero-length operations. */
    fd = (int)SYS(open("f", O_RDWR));
    EQ(SYS(write(fd, buf, 0)), 0);
    EQ(SYS(read(fd, buf, 0)), 0);
    SYS(close(fd));
    EQ(size_of("f"), 10001);
    return 0;
}

static int case_rw_unaligned(void)
{
    const size_t len = 300001;
    unsigned char *want = pattern(len, 2);
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    static const size_t chunks[] = {1, 4095, 4097, 65537, 3, 131072, 511};
    size_t off = 0;
    for (size_t i = 0; off < len; i++) {
        size_t n = i < sizeof(chunks) / sizeof(chunks[0]) ? chunks[i] : len - off;
        if (n > len - off)
            n = len - off;
        if (write_all(fd, want + off, n) != 0)
            FAIL("write %zu bytes at %zu: expected success, got -1 (%s)", n, off, errname(errno));
        off += n;
    }
    /* Overwrite unaligned ranges. */
    static const struct {
        size_t off, len;
    } spans[] = {{12345, 7777}, {4095, 2}, {0, 1}, {len - 1, 1}, {65535, 65538}, {131071, 1}};
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        fill(want + spans[i].off, spans[i].len, 100 + i);
        EQ(SYS(pwrite(fd, want + spans[i].off, spans[i].len, (off_t)spans[i].off)),
           (long long)spans[i].len);
    }
    /* Unaligned reads. */
    unsigned char *buf = malloc(len);
    static const struct {
        size_t off, len;
    } reads[] = {{1, 4094}, {4095, 4097}, {131071, 131073}, {299999, 100}, {7, 1}, {0, 300001}};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        size_t want_n = reads[i].off + reads[i].len > len ? len - reads[i].off : reads[i].len;
        ssize_t n = SYS(pread(fd, buf, reads[i].len, (off_t)reads[i].off));
        char what[64];
        snprintf(what, sizeof(what), "pread(%zu, %zu)", reads[i].off, reads[i].len);
        TRY(bytes_equal(__LINE__, what, buf, (size_t)n, want + reads[i].off, want_n));
    }
    SYS(close(fd));
    CONTENT("f", want, len);
    free(buf);
    free(want);
    return 0;
}

static int case_rw_large(void)
{
    const size_t len = 4 * MiB;
    unsigned char *want = pattern(len, 3);
    int fd = (int)SYS(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
    EQ(SYS(write(fd, want, len)), (long long)len); /* one 4 MiB write(2) */
    SYS(close(fd));
    EQ(size_of("f"), (long long)len);
    unsigned char *buf = malloc(len + 1);
    fd = (int)SYS(open("f", O_RDONLY));
    size_t off = 0;
    while (off < len) { /* reads of 1 MiB + 3 */
        ssize_t n = SYS(read(fd, buf + off, (size_t)(MiB + 3)));
        CHECK(n > 0, "read at %zu of %zu: expected data, got end of file", off, len);
        off += (size_t)n;
    }
    EQ(SYS(read(fd, buf, 1)), 0);
    TRY(bytes_equal(__LINE__, "4 MiB read back in 1 MiB + 3 pieces", buf, off, want, len));
    EQ(SYS(pread(fd, buf, len + 1, 0)), (long long)len); /* one 4 MiB pread(2) */
    TRY(bytes_equal(__LINE__, "4 MiB read back by one pread", buf, len, want, len));
    SYS(close(fd));
    TRY(server_is(__LINE__, "f", want, len));
    free(buf);
    free(want);
    return 0;
}

static int case_rw_large_offset(void)
{
    const off_t at = 5LL * 1024 * MiB + 123; /* past 4 GiB: 64-bit offsets all the way */
    unsigned char *want = pattern(4096, 4), buf[4096];
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    EQ(SYS(pwrite(fd, want, 4096, at)), 4096);
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, at + 4096);
    SYS(close(fd));
    fd = (int)SYS(open("f", O_RDONLY));
    EQ(SYS(pread(fd, buf, 4096, at)), 4096);
    TRY(bytes_equal(__LINE__, "data at 5 GiB", buf, 4096, want, 4096));
    EQ(SYS(pread(fd, buf, 4096, 1024 * MiB)), 4096);
    CHECK(is_zero(buf, 4096), "the gap at 1 GiB: expected zeros, got %s", hex(buf, 16));
    SYS(close(fd));
    EQ(size_of("f"), at + 4096);
    if (server_dir) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/f", server_dir);
        EQ(size_of(p), at + 4096);
    }
    free(want);
    return 0;
}

static int case_o_direct(void)
{
    void *buf, *back;
    CHECK(posix_memalign(&buf, 4096, 64 * KiB) == 0 && posix_memalign(&back, 4096, 64 * KiB) == 0,
          "posix_memalign failed");
    fill(buf, 64 * KiB, 5);
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0644));
    EQ(SYS(pwrite(fd, buf, 64 * KiB, 0)), 64 * KiB);
    EQ(SYS(pread(fd, back, 64 * KiB, 0)), 64 * KiB);
    TRY(bytes_equal(__LINE__, "O_DIRECT read back", back, 64 * KiB, buf, 64 * KiB));
    SYS(close(fd));
    CONTENT("f", buf, 64 * KiB);
    free(buf);
    free(back);
    return 0;
}

static int case_ftruncate(void)
{
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    SYS(ftruncate(fd, 100000));
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, 100000);
    EQ(size_of("f"), 100000);
    unsigned char *zeros = calloc(1, 100000);
    CONTENT("f", zeros, 100000);
    unsigned char *data = pattern(100000, 6);
    EQ(SYS(pwrite(fd, data, 100000, 0)), 100000);
    SYS(ftruncate(fd, 10)); /* shrink */
    SYS(fstat(fd, &st));
    EQ(st.st_size, 10);
    CONTENT("f", data, 10);
    SYS(ftruncate(fd, 50000)); /* grow again: the old bytes must not come back */
    memset(data + 10, 0, 50000 - 10);
    CONTENT("f", data, 50000);
    SYS(truncate("f", 20)); /* by path, with the file open */
    EQ(size_of("f"), 20);
    SYS(fstat(fd, &st));
    EQ(st.st_size, 20);
    SYS(truncate("f", 30000));
    memset(data + 10, 0, 30000 - 10);
    CONTENT("f", data, 30000);
    SYS(ftruncate(fd, 0));
    CONTENT("f", "", 0);
    SYS(close(fd));
    /* By path, with no descriptor open. */
    MAKE("g", data, 1000);
    SYS(truncate("g", 999));
    CONTENT("g", data, 999);
    SYS(truncate("g", 0));
    CONTENT("g", "", 0);
    SYS(mkdir("d", 0755));
    EXPECT_ERR(truncate("d", 0), EISDIR);
    free(zeros);
    free(data);
    return 0;
}

/* ---- times, modes ---- */

static int ts_is(int line, const char *what, struct timespec got, time_t sec, long nsec)
{
    if (got.tv_sec != sec || got.tv_nsec != nsec)
        return failf(line, "%s: expected %lld.%09ld, got %lld.%09ld", what, (long long)sec, nsec,
                     (long long)got.tv_sec, got.tv_nsec);
    return 0;
}

#define TS_IS(what, got, sec, nsec) TRY(ts_is(__LINE__, (what), (got), (sec), (nsec)))

static int case_utimensat(void)
{
    MAKES("f", "data");
    /* SMB times count 100 ns: these are exact. */
    struct timespec ts[2] = {{1000000000, 123456700}, {1234567890, 500000000}};
    struct stat st;
    SYS(utimensat(AT_FDCWD, "f", ts, 0));
    SYS(stat("f", &st));
    TS_IS("atime", st.st_atim, 1000000000, 123456700);
    TS_IS("mtime", st.st_mtim, 1234567890, 500000000);
    if (server_dir) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/f", server_dir);
        SYS(stat(p, &st));
        TS_IS("mtime on the server", st.st_mtim, 1234567890, 500000000);
    }
    /* UTIME_OMIT keeps one. */
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1500000000, 0}};
    SYS(utimensat(AT_FDCWD, "f", omit, 0));
    SYS(stat("f", &st));
    TS_IS("atime after UTIME_OMIT", st.st_atim, 1000000000, 123456700);
    TS_IS("mtime", st.st_mtim, 1500000000, 0);
    /* UTIME_NOW (and touch's NULL). */
    time_t before = time(NULL);
    SYS(utimensat(AT_FDCWD, "f", NULL, 0));
    time_t after = time(NULL);
    SYS(stat("f", &st));
    CHECK(st.st_mtim.tv_sec >= before - 2 && st.st_mtim.tv_sec <= after + 2,
          "mtime after utimensat(NULL): expected about %lld, got %lld", (long long)before,
          (long long)st.st_mtim.tv_sec);
    /* futimens on an open descriptor (what cp -p and tar do). */
    int fd = (int)SYS(open("f", O_WRONLY));
    struct timespec fts[2] = {{1111111111, 100}, {1222222222, 999999900}};
    SYS(futimens(fd, fts));
    SYS(close(fd));
    SYS(stat("f", &st));
    TS_IS("atime after futimens", st.st_atim, 1111111111, 100);
    TS_IS("mtime after futimens", st.st_mtim, 1222222222, 999999900);
    /* A directory. */
    SYS(mkdir("d", 0755));
    SYS(utimensat(AT_FDCWD, "d", ts, 0));
    SYS(stat("d", &st));
    TS_IS("mtime of a directory", st.st_mtim, 1234567890, 500000000);
    return 0;
}

static int case_utimensat_range(void)
{
    MAKES("f", "data");
    struct stat st;
    /* After 2038 (64-bit time), and before 1970 (tar archives of old files). */
    struct timespec late[2] = {{4102444800, 0}, {4102444800, 0}}; /* 2100-01-01 */
    SYS(utimensat(AT_FDCWD, "f", late, 0));
    SYS(stat("f", &st));
    TS_IS("mtime in 2100", st.st_mtim, 4102444800, 0);
    struct timespec early[2] = {{-315619200, 0}, {-315619200, 0}}; /* 1960-01-01 */
    SYS(utimensat(AT_FDCWD, "f", early, 0));
    SYS(stat("f", &st));
    TS_IS("mtime in 1960", st.st_mtim, -315619200, 0);
    struct timespec epoch[2] = {{0, 0}, {0, 0}};
    SYS(utimensat(AT_FDCWD, "f", epoch, 0));
    SYS(stat("f", &st));
    TS_IS("mtime at the epoch", st.st_mtim, 0, 0);
    return 0;
}

static int case_mtime_on_write(void)
{
    MAKES("f", "data");
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    SYS(utimensat(AT_FDCWD, "f", old, 0));
    time_t before = time(NULL);
    int fd = (int)SYS(open("f", O_WRONLY));
    SYS(pwrite(fd, "more", 4, 4));
    SYS(close(fd));
    struct stat st;
    SYS(stat("f", &st));
    CHECK(st.st_mtim.tv_sec >= before - 2, "mtime after a write: expected about %lld, got %lld",
          (long long)before, (long long)st.st_mtim.tv_sec);
    /* A directory's mtime moves when an entry is added. */
    SYS(mkdir("d", 0755));
    SYS(utimensat(AT_FDCWD, "d", old, 0));
    MAKES("d/new", "x");
    SYS(stat("d", &st));
    CHECK(st.st_mtim.tv_sec >= before - 2,
          "directory mtime after creating an entry: expected about %lld, got %lld",
          (long long)before, (long long)st.st_mtim.tv_sec);
    return 0;
}

static int case_chmod_readonly(void)
{
    MAKES("f", "data");
    struct stat st;
    SYS(chmod("f", 0444));
    SYS(stat("f", &st));
    CHECK((st.st_mode & 0222) == 0, "mode after chmod 0444: expected no write bits, got %o",
          st.st_mode & 07777);
    /* The server enforces the read-only attribute, even for root (as with cifs). */
    EXPECT_ERR(open("f", O_WRONLY), EACCES);
    SYS(chmod("f", 0644));
    SYS(stat("f", &st));
    CHECK((st.st_mode & 0200) != 0, "mode after chmod 0644: expected the owner write bit, got %o",
          st.st_mode & 07777);
    int fd = (int)SYS(open("f", O_WRONLY | O_APPEND));
    SYS(write(fd, "!", 1));
    SYS(close(fd));
    CONTENTS("f", "data!");
    /* fchmod on an open descriptor. */
    fd = (int)SYS(open("f", O_RDONLY));
    SYS(fchmod(fd, 0400));
    SYS(fstat(fd, &st));
    CHECK((st.st_mode & 0222) == 0, "mode after fchmod 0400: expected no write bits, got %o",
          st.st_mode & 07777);
    SYS(fchmod(fd, 0600));
    SYS(close(fd));
    return 0;
}

/* open(O_CREAT, 0444) gives a writable descriptor and a read-only file (git's object files). */
static int case_create_readonly(void)
{
    int fd = (int)SYS(open("f", O_WRONLY | O_CREAT | O_EXCL, 0444));
    EQ(SYS(write(fd, "object", 6)), 6);
    SYS(close(fd));
    CONTENTS("f", "object");
    struct stat st;
    SYS(stat("f", &st));
    CHECK((st.st_mode & 0222) == 0, "mode of a file created 0444: expected no write bits, got %o",
          st.st_mode & 07777);
    return 0;
}

/* A read-only file can be removed and renamed (POSIX asks for write access to the directory
 * only): git, rm -f and editors do this all day. */
static int case_unlink_readonly(void)
{
    MAKES("f", "data");
    SYS(chmod("f", 0444));
    SYS(unlink("f"));
    struct stat st;
    EXPECT_ERR(stat("f", &st), ENOENT);
    DIR_EMPTY(".");
    return 0;
}

static int case_rename_readonly(void)
{
    MAKES("a", "A");
    SYS(chmod("a", 0444));
    SYS(rename("a", "b"));
    CONTENTS("b", "A");
    MAKES("c", "C"); /* over a read-only file */
    SYS(rename("c", "b"));
    CONTENTS("b", "C");
    DIR_HAS(".", "b");
    return 0;
}

/* ---- directories ---- */

static int case_mkdir_rmdir(void)
{
    SYS(mkdir("d", 0755));
    struct stat st;
    SYS(stat("d", &st));
    CHECK(S_ISDIR(st.st_mode), "stat of a new directory: expected S_IFDIR, got mode %o", st.st_mode);
    DIR_EMPTY("d");
    SYS(mkdir("d/a", 0755));
    SYS(mkdir("d/a/b", 0755));
    SYS(mkdir("d/a/b/c", 0755));
    MAKES("d/a/b/c/f", "deep");
    CONTENTS("d/a/b/c/f", "deep");
    SYS(unlink("d/a/b/c/f"));
    SYS(rmdir("d/a/b/c"));
    SYS(rmdir("d/a/b"));
    SYS(rmdir("d/a"));
    DIR_EMPTY("d");
    SYS(rmdir("d"));
    EXPECT_ERR(stat("d", &st), ENOENT);
    EXPECT_ERR(rmdir("d"), ENOENT);
    DIR_EMPTY(".");
    if (server_dir)
        TRY(dir_has(__LINE__, server_dir, NULL, 0));
    return 0;
}

static int case_rmdir_notempty(void)
{
    SYS(mkdir("d", 0755));
    MAKES("d/f", "x");
    EXPECT_ERR(rmdir("d"), ENOTEMPTY);
    CONTENTS("d/f", "x");
    SYS(unlink("d/f"));
    SYS(mkdir("d/sub", 0755));
    EXPECT_ERR(rmdir("d"), ENOTEMPTY);
    SYS(rmdir("d/sub"));
    SYS(rmdir("d"));
    return 0;
}

static int case_rmdir_file(void)
{
    MAKES("f", "x");
    EXPECT_ERR(rmdir("f"), ENOTDIR);
    CONTENTS("f", "x");
    return 0;
}

static int case_unlink_dir(void)
{
    SYS(mkdir("d", 0755));
    EXPECT_ERR(unlink("d"), EISDIR, EPERM);
    struct stat st;
    SYS(stat("d", &st));
    return 0;
}

/* ---- rename ---- */

static int case_rename_file(void)
{
    MAKES("a", "content A");
    ino_t ino = ino_of("a");
    SYS(rename("a", "b"));
    struct stat st;
    EXPECT_ERR(stat("a", &st), ENOENT);
    CONTENTS("b", "content A");
    EQ(ino_of("b"), ino);
    DIR_HAS(".", "b");
    SERVER_DIR_HAS("b");
    SYS(rename("b", "b")); /* onto itself: nothing happens */
    CONTENTS("b", "content A");
    return 0;
}

static int case_rename_replace(void)
{
    MAKES("a", "content A");
    MAKES("b", "content B, longer");
    ino_t ino = ino_of("a");
    SYS(rename("a", "b"));
    CONTENTS("b", "content A");
    EQ(ino_of("b"), ino);
    struct stat st;
    EXPECT_ERR(stat("a", &st), ENOENT);
    DIR_HAS(".", "b");
    SERVER_DIR_HAS("b");
    /* Over a file someone holds open: that one keeps reading the old data. */
    MAKES("c", "content C");
    int fd = (int)SYS(open("b", O_RDONLY));
    SYS(rename("c", "b"));
    char buf[16] = {0};
    EQ(SYS(pread(fd, buf, sizeof(buf), 0)), 9);
    CHECK(memcmp(buf, "content A", 9) == 0, "the replaced file through its open descriptor: "
          "expected \"content A\", got \"%.9s\"", buf);
    SYS(close(fd));
    CONTENTS("b", "content C");
    DIR_HAS(".", "b");
    return 0;
}

static int case_rename_noreplace(void)
{
    MAKES("a", "A");
    MAKES("b", "B");
    EXPECT_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE), EEXIST);
    CONTENTS("a", "A");
    CONTENTS("b", "B");
    SYS(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
    CONTENTS("c", "A");
    DIR_HAS(".", "b", "c");
    return 0;
}

static int case_rename_dir(void)
{
    SYS(mkdir("d", 0755));
    SYS(mkdir("d/sub", 0755));
    MAKES("d/f1", "one");
    MAKES("d/sub/f2", "two");
    ino_t ino_d = ino_of("d"), ino_f2 = ino_of("d/sub/f2");
    SYS(rename("d", "e"));
    struct stat st;
    EXPECT_ERR(stat("d", &st), ENOENT);
    EXPECT_ERR(stat("d/f1", &st), ENOENT);
    CONTENTS("e/f1", "one");
    CONTENTS("e/sub/f2", "two");
    EQ(ino_of("e"), ino_d);
    EQ(ino_of("e/sub/f2"), ino_f2);
    DIR_HAS("e", "f1", "sub");
    DIR_HAS(".", "e");
    /* New entries land in the renamed directory. */
    MAKES("e/sub/f3", "three");
    DIR_HAS("e/sub", "f2", "f3");
    return 0;
}

static int case_rename_dir_replace(void)
{
    SYS(mkdir("a", 0755));
    MAKES("a/f", "in a");
    SYS(mkdir("empty", 0755));
    SYS(rename("a", "empty")); /* over an empty directory: allowed */
    CONTENTS("empty/f", "in a");
    struct stat st;
    EXPECT_ERR(stat("a", &st), ENOENT);
    SYS(mkdir("b", 0755));
    EXPECT_ERR(rename("b", "empty"), ENOTEMPTY, EEXIST);
    MAKES("file", "x");
    EXPECT_ERR(rename("file", "b"), EISDIR);
    EXPECT_ERR(rename("b", "file"), ENOTDIR);
    EXPECT_ERR(rename("b", "b/inside"), EINVAL);
    DIR_HAS(".", "b", "empty", "file");
    return 0;
}

static int case_rename_into_dir(void)
{
    SYS(mkdir("x", 0755));
    SYS(mkdir("y", 0755));
    MAKES("y/in-y", "y's");
    MAKES("f", "f's");
    SYS(rename("f", "x/f"));
    SYS(rename("y", "x/y"));
    CONTENTS("x/f", "f's");
    CONTENTS("x/y/in-y", "y's");
    DIR_HAS(".", "x");
    DIR_HAS("x", "f", "y");
    SYS(rename("x/f", "f2")); /* and out again, under another name */
    CONTENTS("f2", "f's");
    DIR_HAS(".", "x", "f2");
    DIR_HAS("x", "y");
    return 0;
}

static int case_rename_open(void)
{
    int fd = (int)SYS(open("a", O_RDWR | O_CREAT | O_EXCL, 0644));
    SYS(write(fd, "before ", 7));
    SYS(rename("a", "b"));
    SYS(write(fd, "after", 5));
    SYS(fsync(fd));
    SYS(mkdir("d", 0755));
    SYS(rename("b", "d/c"));
    SYS(write(fd, "!", 1));
    SYS(close(fd));
    CONTENTS("d/c", "before after!");
    DIR_HAS(".", "d");
    return 0;
}

/* ---- readdir ---- */

static int case_readdir_big(void)
{
    enum { N = 2000 };
    SYS(mkdir("big", 0755));
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "big/entry-%05d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            FAIL("creating %s: expected success, got -1 (%s)", name, errname(errno));
        close(fd);
    }
    for (int pass = 0; pass < 2; pass++) {
        struct names s;
        if (list_dir("big", &s) != 0)
            FAIL("readdir(big): expected success, got -1 (%s)", errname(errno));
        unsigned char seen[N] = {0};
        int extra = -1;
        for (size_t i = 0; i < s.n; i++) {
            int k;
            char tail;
            if (sscanf(s.v[i], "entry-%5d%c", &k, &tail) != 1 || k < 0 || k >= N ||
                (pass == 1 && k % 2 == 0)) {
                extra = (int)i;
                break;
            }
            if (seen[k]++) {
                int rc = failf(__LINE__, "readdir pass %d: \"%s\" listed twice", pass + 1, s.v[i]);
                names_free(&s);
                return rc;
            }
            if (s.types[i] != DT_REG && s.types[i] != DT_UNKNOWN) {
                int rc = failf(__LINE__, "d_type of %s: expected DT_REG, got %u", s.v[i], s.types[i]);
                names_free(&s);
                return rc;
            }
        }
        size_t want = pass == 0 ? N : N / 2;
        if (extra >= 0) {
            int rc = failf(__LINE__, "readdir pass %d: unexpected name \"%s\"", pass + 1, s.v[extra]);
            names_free(&s);
            return rc;
        }
        size_t n = s.n, dots = s.dots;
        names_free(&s);
        EQ(n, want);
        EQ(dots, 2);
        if (pass == 0) /* remove every even one, then list again */
            for (int i = 0; i < N; i += 2) {
                snprintf(name, sizeof(name), "big/entry-%05d", i);
                SYS(unlink(name));
            }
    }
    /* telldir/seekdir: reading on from a remembered position gives the same names. */
    DIR *d = opendir("big");
    CHECK(d, "opendir(big): expected success, got NULL (%s)", errname(errno));
    struct dirent *e;
    for (int i = 0; i < 300 && (e = readdir(d)); i++)
        ;
    long pos = telldir(d);
    char after[3][NAME_MAX + 1];
    for (int i = 0; i < 3; i++) {
        e = readdir(d);
        snprintf(after[i], sizeof(after[i]), "%s", e ? e->d_name : "(end)");
    }
    for (int i = 0; i < 200 && readdir(d); i++)
        ;
    seekdir(d, pos);
    for (int i = 0; i < 3; i++) {
        e = readdir(d);
        if (!e || strcmp(e->d_name, after[i]) != 0) {
            int rc = failf(__LINE__, "readdir after seekdir(telldir()): expected \"%s\", got \"%s\"",
                           after[i], e ? e->d_name : "(end)");
            closedir(d);
            return rc;
        }
    }
    closedir(d);
    return 0;
}

static const char *const utf8_names[] = {
    "café",
    "naïve résumé",
    "日本語のファイル名",
    "Ελληνικά",
    "עברית",
    "Привет мир",
    "emoji 😀 smile",           /* outside the BMP: a UTF-16 surrogate pair */
    "𝄞 clef",
    "e\xcc\x81 combining",       /* decomposed (NFD): kept as written, not normalised */
    "\xc3\xa9 precomposed",      /* the same letter, NFC */
    "mixed ASCII-ü-中-🎉.txt",
    "spaces  inside",
    "#hash %percent &amp; 'quote' (paren) [bracket] {brace} ~tilde !bang @at $dollar +plus =eq ,comma ;semi",
    "ß ẞ ǅ ﬁ",
};

static int case_readdir_utf8(void)
{
    const size_t n = sizeof(utf8_names) / sizeof(utf8_names[0]);
    for (size_t i = 0; i < n; i++)
        MAKES(utf8_names[i], utf8_names[i]);
    SYS(mkdir("目录 dir ✓", 0755));
    MAKES("目录 dir ✓/ファイル", "inner");
    const char *all[sizeof(utf8_names) / sizeof(utf8_names[0]) + 1];
    memcpy(all, utf8_names, sizeof(utf8_names));
    all[n] = "目录 dir ✓";
    TRY(dir_has(__LINE__, ".", all, n + 1));
    if (server_dir)
        TRY(dir_has(__LINE__, server_dir, all, n + 1));
    for (size_t i = 0; i < n; i++)
        CONTENTS(utf8_names[i], utf8_names[i]);
    CONTENTS("目录 dir ✓/ファイル", "inner");
    DIR_HAS("目录 dir ✓", "ファイル");
    SYS(rename("café", "кафе ☕"));
    CONTENTS("кафе ☕", "café");
    struct stat st;
    EXPECT_ERR(stat("café", &st), ENOENT);
    return 0;
}

/* rewinddir(3) shows the directory as it is now (POSIX), not as it was at opendir. */
static int case_readdir_rewind(void)
{
    MAKES("one", "1");
    DIR *d = opendir(".");
    CHECK(d, "opendir(.): expected success, got NULL (%s)", errname(errno));
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        count++;
    MAKES("two", "2");
    SYS(unlink("one"));
    rewinddir(d);
    bool saw_one = false, saw_two = false;
    while ((e = readdir(d))) {
        saw_one |= strcmp(e->d_name, "one") == 0;
        saw_two |= strcmp(e->d_name, "two") == 0;
    }
    closedir(d);
    CHECK(saw_two && !saw_one, "after rewinddir: expected \"two\" and not \"one\", got %s",
          saw_one && saw_two ? "both" : saw_one ? "only \"one\" (the old listing)" : "neither");
    DIR_HAS(".", "two");
    return 0;
}

static int case_statfs(void)
{
    struct statvfs v;
    SYS(statvfs(".", &v));
    CHECK(v.f_bsize > 0 && v.f_frsize > 0, "f_bsize %lu, f_frsize %lu: expected both > 0",
          v.f_bsize, v.f_frsize);
    CHECK(v.f_blocks > 0, "f_blocks: expected > 0, got %llu", (unsigned long long)v.f_blocks);
    CHECK(v.f_bfree <= v.f_blocks && v.f_bavail <= v.f_bfree,
          "expected f_bavail <= f_bfree <= f_blocks, got %llu, %llu, %llu",
          (unsigned long long)v.f_bavail, (unsigned long long)v.f_bfree,
          (unsigned long long)v.f_blocks);
    CHECK(v.f_namemax >= 255, "f_namemax: expected >= 255, got %lu", v.f_namemax);
    long double m_total = (long double)v.f_blocks * v.f_frsize;
    long double m_avail = (long double)v.f_bavail * v.f_frsize;
    if (server_dir) {
        struct statvfs s;
        SYS(statvfs(server_dir, &s));
        long double total = (long double)s.f_blocks * s.f_frsize;
        long double avail = (long double)s.f_bavail * s.f_frsize;
        /* Others write on the same disk meanwhile: 2% (at least 512 MiB) slack. */
        long double slack = total / 50 > 512.0L * MiB ? total / 50 : 512.0L * MiB;
        CHECK(m_total > total - slack && m_total < total + slack,
              "total bytes: expected about %.0Lf (the server's disk), got %.0Lf", total, m_total);
        CHECK(m_avail > avail - slack && m_avail < avail + slack,
              "available bytes: expected about %.0Lf (the server's disk), got %.0Lf", avail,
              m_avail);
    }
    struct statvfs v2;
    int fd = (int)SYS(open(".", O_RDONLY | O_DIRECTORY));
    SYS(fstatvfs(fd, &v2));
    SYS(close(fd));
    EQ(v2.f_blocks, v.f_blocks);
    return 0;
}

/* ---- unlink while open, links ---- */

static int case_unlink_open(void)
{
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    EQ(SYS(write(fd, "before", 6)), 6);
    int fd2 = (int)SYS(open("f", O_RDONLY));
    SYS(unlink("f"));
    struct stat st;
    EXPECT_ERR(stat("f", &st), ENOENT);
    EXPECT_ERR(open("f", O_RDONLY), ENOENT);
    DIR_EMPTY(".");
    /* The descriptors still work. */
    char buf[32] = {0};
    EQ(SYS(pread(fd, buf, sizeof(buf), 0)), 6);
    CHECK(memcmp(buf, "before", 6) == 0, "reading the unlinked file: expected \"before\", got \"%.6s\"", buf);
    EQ(SYS(pwrite(fd, "after", 5, 6)), 5);
    SYS(fsync(fd));
    memset(buf, 0, sizeof(buf));
    EQ(SYS(pread(fd2, buf, sizeof(buf), 0)), 11);
    CHECK(memcmp(buf, "beforeafter", 11) == 0,
          "reading the unlinked file through a second descriptor: expected \"beforeafter\", got \"%.11s\"", buf);
    SYS(fstat(fd, &st));
    EQ(st.st_size, 11);
    SYS(ftruncate(fd, 3));
    /* The name is free for a new file. */
    int nfd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    EQ(SYS(write(nfd, "new", 3)), 3);
    SYS(close(nfd));
    DIR_HAS(".", "f");
    CONTENTS("f", "new");
    memset(buf, 0, sizeof(buf));
    EQ(SYS(pread(fd, buf, sizeof(buf), 0)), 3);
    CHECK(memcmp(buf, "bef", 3) == 0, "the unlinked file after the new one came: expected \"bef\", got \"%.3s\"", buf);
    SYS(close(fd2));
    SYS(close(fd));
    CONTENTS("f", "new");
    DIR_HAS(".", "f");
    SERVER_DIR_HAS("f"); /* the old file is gone from the server once closed */
    /* mkstemp's pattern: create, unlink at once, use as scratch space. */
    fd = (int)SYS(open("tmp", O_RDWR | O_CREAT | O_EXCL, 0600));
    SYS(unlink("tmp"));
    unsigned char *data = pattern(300000, 7), *back = malloc(300000);
    EQ(SYS(pwrite(fd, data, 300000, 0)), 300000);
    EQ(SYS(pread(fd, back, 300000, 0)), 300000);
    TRY(bytes_equal(__LINE__, "scratch file after unlink", back, 300000, data, 300000));
    SYS(close(fd));
    DIR_HAS(".", "f");
    SERVER_DIR_HAS("f");
    /* The directory that held it can go once it is closed. */
    SYS(mkdir("d", 0755));
    fd = (int)SYS(open("d/x", O_RDWR | O_CREAT | O_EXCL, 0644));
    SYS(unlink("d/x"));
    DIR_EMPTY("d");
    SYS(close(fd));
    SYS(rmdir("d"));
    free(data);
    free(back);
    return 0;
}

/* fstat of an open, unlinked file says st_nlink 0 (what lsof and `ls -l /proc/PID/fd` show). */
static int case_unlink_open_nlink(void)
{
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    SYS(unlink("f"));
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_nlink, 0);
    SYS(close(fd));
    return 0;
}

static int case_link(void)
{
    MAKES("a", "shared");
    SYS(link("a", "b"));
    struct stat sa, sb;
    SYS(stat("a", &sa));
    SYS(stat("b", &sb));
    EQ(sa.st_nlink, 2);
    EQ(sb.st_nlink, 2);
    EQ(sb.st_ino, sa.st_ino);
    int fd = (int)SYS(open("b", O_WRONLY | O_APPEND));
    SYS(write(fd, "+", 1));
    SYS(close(fd));
    CONTENTS("a", "shared+");
    DIR_HAS(".", "a", "b");
    SYS(mkdir("sub", 0755));
    SYS(link("b", "sub/c"));
    SYS(stat("a", &sa));
    EQ(sa.st_nlink, 3);
    SYS(unlink("a"));
    SYS(stat("b", &sb));
    EQ(sb.st_nlink, 2);
    CONTENTS("b", "shared+");
    CONTENTS("sub/c", "shared+");
    EXPECT_ERR(link("b", "sub/c"), EEXIST);
    EXPECT_ERR(link("missing", "x"), ENOENT);
    EXPECT_ERR(link("sub", "sub2"), EPERM); /* no hard links to directories */
    DIR_HAS(".", "b", "sub");
    return 0;
}

static int readlink_is(int line, const char *name, const char *want)
{
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(name, buf, sizeof(buf) - 1);
    if (n < 0)
        return failf(line, "readlink(%s): expected \"%s\", got -1 (%s)", name, want, errname(errno));
    buf[n] = '\0';
    if (strcmp(buf, want) != 0)
        return failf(line, "readlink(%s): expected \"%s\", got \"%s\"", name, want, buf);
    return 0;
}

#define READLINK_IS(name, want) TRY(readlink_is(__LINE__, (name), (want)))

static int case_symlink(void)
{
    static const char *const targets[] = {
        "target/with/../path", "/nonexistent/absolute/target", "ünïcode/目标 😀", "a",
        "../../outside/the/share", "trailing/",
    };
    char name[32];
    struct stat st;
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        snprintf(name, sizeof(name), "l%zu", i);
        SYS(symlink(targets[i], name));
        READLINK_IS(name, targets[i]);
        SYS(lstat(name, &st));
        CHECK(S_ISLNK(st.st_mode), "lstat(%s): expected S_IFLNK, got mode %o", name, st.st_mode);
        EQ(st.st_size, (long long)strlen(targets[i]));
    }
    EXPECT_ERR(stat("l0", &st), ENOENT); /* dangling */
    /* A link to a file is followed. */
    MAKES("t", "through the link");
    SYS(symlink("t", "lt"));
    SYS(stat("lt", &st));
    CHECK(S_ISREG(st.st_mode), "stat through a link: expected S_IFREG, got mode %o", st.st_mode);
    EQ(st.st_ino, ino_of("t"));
    CONTENTS("lt", "through the link");
    int fd = (int)SYS(open("lt", O_WRONLY | O_APPEND));
    SYS(write(fd, "!", 1));
    SYS(close(fd));
    CONTENTS("t", "through the link!");
    struct names s;
    SYS(list_dir(".", &s));
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.v[i], "lt") == 0 && s.types[i] != DT_LNK && s.types[i] != DT_UNKNOWN) {
            unsigned t = s.types[i];
            names_free(&s);
            FAIL("d_type of a symlink: expected DT_LNK, got %u", t);
        }
    names_free(&s);
    EXPECT_ERR(symlink("x", "t"), EEXIST);
    EXPECT_ERR(readlink("t", name, sizeof(name)), EINVAL);
    /* unlink removes the link, not its target; rename keeps the target string. */
    SYS(unlink("lt"));
    CONTENTS("t", "through the link!");
    SYS(rename("l3", "renamed"));
    READLINK_IS("renamed", "a");
    if (server_dir) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/renamed", server_dir);
        TRY(readlink_is(__LINE__, p, "a"));
    }
    return 0;
}

static int case_symlink_dir(void)
{
    SYS(mkdir("d", 0755));
    MAKES("d/f", "in d");
    SYS(symlink("d", "ld"));
    struct stat st;
    SYS(stat("ld", &st));
    CHECK(S_ISDIR(st.st_mode), "stat through a link to a directory: expected S_IFDIR, got mode %o",
          st.st_mode);
    SYS(lstat("ld", &st));
    CHECK(S_ISLNK(st.st_mode), "lstat: expected S_IFLNK, got mode %o", st.st_mode);
    DIR_HAS("ld", "f");
    CONTENTS("ld/f", "in d");
    EXPECT_ERR(rmdir("ld"), ENOTDIR);
    SYS(unlink("ld"));
    DIR_HAS(".", "d");
    return 0;
}

/* ---- extended attributes ---- */

static bool list_has(const char *list, ssize_t len, const char *name)
{
    for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1)
        if (strcmp(list + off, name) == 0)
            return true;
    return false;
}

static int getxattr_is(int line, const char *path, const char *name, const void *want, size_t len)
{
    char buf[8192];
    ssize_t n = getxattr(path, name, NULL, 0);
    if (n < 0)
        return failf(line, "getxattr(%s, %s, size 0): expected %zu, got -1 (%s)", path, name, len,
                     errname(errno));
    if ((size_t)n != len)
        return failf(line, "getxattr(%s, %s, size 0): expected %zu, got %zd", path, name, len, n);
    n = getxattr(path, name, buf, sizeof(buf));
    if (n < 0)
        return failf(line, "getxattr(%s, %s): expected %zu bytes, got -1 (%s)", path, name, len,
                     errname(errno));
    char what[128];
    snprintf(what, sizeof(what), "value of %s", name);
    return bytes_equal(line, what, (unsigned char *)buf, (size_t)n, want, len);
}

#define XATTR_IS(path, name, want, len) TRY(getxattr_is(__LINE__, (path), (name), (want), (len)))

static int case_xattr(void)
{
    MAKES("f", "x");
    char buf[256], list[4096];
    EXPECT_ERR(getxattr("f", "user.missing", buf, sizeof(buf)), ENODATA);
    SYS(setxattr("f", "user.test", "value", 5, 0));
    XATTR_IS("f", "user.test", "value", 5);
    EXPECT_ERR(getxattr("f", "user.test", buf, 2), ERANGE);
    ssize_t n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(list_has(list, n, "user.test"), "listxattr: expected user.test among %zd bytes of names", n);
    ssize_t need = SYS(listxattr("f", NULL, 0));
    EQ(need, n);
    SYS(setxattr("f", "user.second", "2", 1, 0));
    n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(list_has(list, n, "user.test") && list_has(list, n, "user.second"),
          "listxattr: expected user.test and user.second");
    /* Through an open descriptor. */
    int fd = (int)SYS(open("f", O_RDWR));
    SYS(fsetxattr(fd, "user.fd", "via fd", 6, 0));
    n = SYS(fgetxattr(fd, "user.fd", buf, sizeof(buf)));
    EQ(n, 6);
    SYS(close(fd));
    SYS(removexattr("f", "user.test"));
    EXPECT_ERR(getxattr("f", "user.test", buf, sizeof(buf)), ENODATA);
    EXPECT_ERR(removexattr("f", "user.test"), ENODATA);
    n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(!list_has(list, n, "user.test"), "listxattr after removexattr: still lists user.test");
    CHECK(list_has(list, n, "user.second"), "listxattr after removexattr: user.second is gone too");
    XATTR_IS("f", "user.second", "2", 1);
    /* Data and attributes are independent. */
    CONTENTS("f", "x");
    if (server_dir) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/f", server_dir);
        XATTR_IS(p, "user.second", "2", 1); /* Samba keeps SMB EAs as user.* xattrs */
    }
    return 0;
}

static int case_xattr_flags(void)
{
    MAKES("f", "x");
    SYS(setxattr("f", "user.a", "one", 3, XATTR_CREATE));
    EXPECT_ERR(setxattr("f", "user.a", "two", 3, XATTR_CREATE), EEXIST);
    XATTR_IS("f", "user.a", "one", 3);
    EXPECT_ERR(setxattr("f", "user.nothere", "v", 1, XATTR_REPLACE), ENODATA);
    char buf[16];
    EXPECT_ERR(getxattr("f", "user.nothere", buf, sizeof(buf)), ENODATA);
    SYS(setxattr("f", "user.a", "replaced", 8, XATTR_REPLACE));
    XATTR_IS("f", "user.a", "replaced", 8);
    SYS(setxattr("f", "user.a", "set", 3, 0)); /* no flag: replaces */
    XATTR_IS("f", "user.a", "set", 3);
    return 0;
}

static int case_xattr_values(void)
{
    MAKES("f", "x");
    static const unsigned char bin[] = {0, 1, 2, 0, 255, 254, 0, '\n', 0x80, 0};
    SYS(setxattr("f", "user.binary", bin, sizeof(bin), 0));
    XATTR_IS("f", "user.binary", bin, sizeof(bin));
    unsigned char *big = pattern(4000, 8);
    SYS(setxattr("f", "user.big", big, 4000, 0));
    XATTR_IS("f", "user.big", big, 4000);
    free(big);
    /* An empty value is a value (getfattr shows it; SMB would read it as "delete"). */
    SYS(setxattr("f", "user.empty", "", 0, 0));
    XATTR_IS("f", "user.empty", "", 0);
    char list[4096];
    ssize_t n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(list_has(list, n, "user.empty"), "listxattr: expected user.empty (empty value) to be listed");
    return 0;
}

static int case_xattr_names(void)
{
    MAKES("f", "x");
    SYS(setxattr("f", "user.MixedCase.Name", "v", 1, 0));
    char list[4096];
    ssize_t n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(list_has(list, n, "user.MixedCase.Name"),
          "listxattr: expected user.MixedCase.Name spelled as set");
    XATTR_IS("f", "user.MixedCase.Name", "v", 1);
    SYS(mkdir("d", 0755)); /* on a directory too */
    SYS(setxattr("d", "user.dir", "on a dir", 8, 0));
    XATTR_IS("d", "user.dir", "on a dir", 8);
    SYS(removexattr("d", "user.dir"));
    char buf[16];
    EXPECT_ERR(getxattr("d", "user.dir", buf, sizeof(buf)), ENODATA);
    return 0;
}

/* ---- copy_file_range ---- */

static int copy_all(int line, int in, int out, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, len - done, 0);
        if (n < 0)
            return failf(line, "copy_file_range after %zu of %zu bytes: expected success, got -1 (%s)",
                         done, len, errname(errno));
        if (n == 0)
            return failf(line, "copy_file_range: expected %zu more bytes, got end of file",
                         len - done);
        done += (size_t)n;
    }
    return 0;
}

static int case_copy_file_range(void)
{
    const size_t len = MiB + 123;
    unsigned char *data = pattern(len, 9);
    MAKE("src", data, len);
    int in = (int)SYS(open("src", O_RDONLY));
    int out = (int)SYS(open("dst", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TRY(copy_all(__LINE__, in, out, len));
    EQ(SYS(copy_file_range(in, NULL, out, NULL, 1000, 0)), 0); /* at the end of src */
    EQ(SYS(lseek(in, 0, SEEK_CUR)), (long long)len);
    SYS(close(out));
    SYS(close(in));
    CONTENT("dst", data, len);
    free(data);
    return 0;
}

static int case_copy_file_range_offsets(void)
{
    unsigned char *src = pattern(100000, 10), *dst = pattern(100000, 11);
    MAKE("src", src, 100000);
    MAKE("dst", dst, 100000);
    int in = (int)SYS(open("src", O_RDONLY));
    int out = (int)SYS(open("dst", O_WRONLY));
    loff_t off_in = 1000, off_out = 5000;
    size_t done = 0;
    while (done < 70000) {
        ssize_t n = SYS(copy_file_range(in, &off_in, out, &off_out, 70000 - done, 0));
        CHECK(n > 0, "copy_file_range with offsets: expected bytes, got 0 after %zu", done);
        done += (size_t)n;
    }
    EQ(off_in, 71000);
    EQ(off_out, 75000);
    EQ(SYS(lseek(in, 0, SEEK_CUR)), 0); /* with offsets given the positions stay */
    EQ(SYS(lseek(out, 0, SEEK_CUR)), 0);
    memcpy(dst + 5000, src + 1000, 70000);
    /* Past the end of the destination: it grows. */
    off_in = 0;
    off_out = 150000;
    EQ(SYS(copy_file_range(in, &off_in, out, &off_out, 10, 0)), 10);
    unsigned char *want = calloc(1, 150010);
    memcpy(want, dst, 100000);
    memcpy(want + 150000, src, 10);
    SYS(close(out));
    SYS(close(in));
    CONTENT("dst", want, 150010);
    CONTENT("src", src, 100000);
    free(src);
    free(dst);
    free(want);
    return 0;
}

static int case_copy_file_range_large(void)
{
    const size_t len = 20 * MiB;
    unsigned char *data = pattern(len, 12);
    MAKE("src", data, len);
    int in = (int)SYS(open("src", O_RDONLY));
    int out = (int)SYS(open("dst", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TRY(copy_all(__LINE__, in, out, len));
    SYS(close(out));
    SYS(close(in));
    EQ(size_of("dst"), (long long)len);
    CONTENT("dst", data, len);
    free(data);
    return 0;
}

static int case_copy_file_range_same_file(void)
{
    unsigned char *data = pattern(200000, 13);
    MAKE("f", data, 100000);
    int fd = (int)SYS(open("f", O_RDWR));
    loff_t off_in = 0, off_out = 100000;
    size_t done = 0;
    while (done < 100000) {
        ssize_t n = SYS(copy_file_range(fd, &off_in, fd, &off_out, 100000 - done, 0));
        CHECK(n > 0, "copy_file_range within a file: expected bytes, got 0 after %zu", done);
        done += (size_t)n;
    }
    SYS(close(fd));
    memcpy(data + 100000, data, 100000);
    CONTENT("f", data, 200000);
    free(data);
    return 0;
}

/* ---- holes, fallocate ---- */

static int case_seek_dense(void)
{
    const size_t len = MiB + 7;
    unsigned char *data = pattern(len, 14);
    MAKE("f", data, len);
    int fd = (int)SYS(open("f", O_RDONLY));
    EQ(SYS(lseek(fd, 0, SEEK_DATA)), 0);
    EQ(SYS(lseek(fd, 0, SEEK_HOLE)), (long long)len);
    EQ(SYS(lseek(fd, 100, SEEK_DATA)), 100);
    EQ(SYS(lseek(fd, 100, SEEK_HOLE)), (long long)len);
    EXPECT_ERR(lseek(fd, (off_t)len, SEEK_DATA), ENXIO);
    EXPECT_ERR(lseek(fd, (off_t)len, SEEK_HOLE), ENXIO);
    EXPECT_ERR(lseek(fd, (off_t)len + 5000, SEEK_DATA), ENXIO);
    SYS(close(fd));
    free(data);
    return 0;
}

static int case_seek_sparse(void)
{
    const off_t size = 16 * MiB;
    unsigned char *data = pattern(64 * KiB, 15);
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    EQ(SYS(pwrite(fd, data, 64 * KiB, 0)), 64 * KiB);
    SYS(ftruncate(fd, size)); /* the rest is a hole */
    EQ(SYS(lseek(fd, 0, SEEK_DATA)), 0);
    off_t hole = (off_t)SYS(lseek(fd, 0, SEEK_HOLE));
    CHECK(hole >= 64 * KiB && hole <= MiB,
          "SEEK_HOLE from 0 with 64 KiB of data then 16 MiB of hole: expected 65536 (at most 1 MiB), got %lld",
          (long long)hole);
    EXPECT_ERR(lseek(fd, MiB, SEEK_DATA), ENXIO); /* only hole up to the end */
    EQ(SYS(lseek(fd, MiB, SEEK_HOLE)), MiB);
    /* Data again at 8 MiB. */
    EQ(SYS(pwrite(fd, data, 4096, 8 * MiB)), 4096);
    EQ(SYS(lseek(fd, MiB, SEEK_DATA)), 8 * MiB);
    off_t end = (off_t)SYS(lseek(fd, 8 * MiB, SEEK_HOLE));
    CHECK(end >= 8 * MiB + 4096 && end <= 9 * MiB,
          "SEEK_HOLE from the data at 8 MiB: expected 8 MiB + 4096 (at most 9 MiB), got %lld",
          (long long)end);
    unsigned char buf[4096];
    EQ(SYS(pread(fd, buf, sizeof(buf), 4 * MiB)), 4096);
    CHECK(is_zero(buf, sizeof(buf)), "the hole at 4 MiB: expected zeros, got %s", hex(buf, 16));
    SYS(close(fd));
    free(data);
    return 0;
}

static int case_fallocate(void)
{
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
    SYS(fallocate(fd, 0, 0, MiB));
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, MiB);
    EQ(size_of("f"), MiB);
    unsigned char *want = calloc(1, 2 * MiB);
    CONTENT("f", want, MiB);
    fill(want, 100, 16);
    EQ(SYS(pwrite(fd, want, 100, 0)), 100);
    SYS(fallocate(fd, 0, 0, 2 * MiB)); /* over data: kept */
    SYS(fstat(fd, &st));
    EQ(st.st_size, 2 * MiB);
    SYS(fallocate(fd, 0, 50, 20)); /* inside: nothing changes */
    SYS(fstat(fd, &st));
    EQ(st.st_size, 2 * MiB);
    SYS(close(fd));
    CONTENT("f", want, 2 * MiB);
    free(want);
    return 0;
}

static int case_fallocate_keep_size(void)
{
    unsigned char *data = pattern(1000, 17);
    MAKE("f", data, 1000);
    int fd = (int)SYS(open("f", O_RDWR));
    SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4 * MiB));
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, 1000);
    SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8 * MiB, MiB)); /* wholly past the end */
    SYS(fstat(fd, &st));
    EQ(st.st_size, 1000);
    SYS(close(fd));
    EQ(size_of("f"), 1000);
    CONTENT("f", data, 1000);
    free(data);
    return 0;
}

static int case_fallocate_punch_hole(void)
{
    const size_t len = 2 * MiB;
    unsigned char *want = pattern(len, 18);
    MAKE("f", want, len);
    int fd = (int)SYS(open("f", O_RDWR));
    SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 512 * KiB, MiB));
    memset(want + 512 * KiB, 0, MiB);
    SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 5000)); /* unaligned */
    memset(want + 1000, 0, 5000);
    SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)len - 10, 100)); /* over the end */
    memset(want + len - 10, 0, 10);
    struct stat st;
    SYS(fstat(fd, &st));
    EQ(st.st_size, (long long)len);
    unsigned char *buf = malloc(len);
    EQ(SYS(pread(fd, buf, len, 0)), (long long)len);
    TRY(bytes_equal(__LINE__, "after punching holes (same descriptor)", buf, len, want, len));
    SYS(close(fd));
    CONTENT("f", want, len);
    free(buf);
    free(want);
    return 0;
}

static int case_seek_punched(void)
{
    const size_t len = 3 * MiB;
    unsigned char *data = pattern(len, 19);
    MAKE("f", data, len);
    int fd = (int)SYS(open("f", O_RDWR));
    SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MiB, MiB));
    EQ(SYS(lseek(fd, 0, SEEK_HOLE)), MiB);
    EQ(SYS(lseek(fd, MiB, SEEK_DATA)), 2 * MiB);
    EQ(SYS(lseek(fd, 2 * MiB, SEEK_HOLE)), (long long)len);
    SYS(close(fd));
    free(data);
    return 0;
}

/* ---- mmap, fsync ---- */

static int case_mmap_read(void)
{
    const size_t len = 3 * 4096 + 100;
    unsigned char *data = pattern(len, 20);
    MAKE("f", data, len);
    int fd = (int)SYS(open("f", O_RDONLY));
    unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap(PROT_READ, MAP_SHARED): expected success, got %s", errname(errno));
    TRY(bytes_equal(__LINE__, "MAP_SHARED mapping", m, len, data, len));
    /* The rest of the last page reads as zeros. */
    CHECK(is_zero(m + len, 4096 - 100), "the tail of the last mapped page: expected zeros, got %s",
          hex(m + len, 16));
    munmap(m, len);
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(m != MAP_FAILED, "mmap(MAP_PRIVATE): expected success, got %s", errname(errno));
    TRY(bytes_equal(__LINE__, "MAP_PRIVATE mapping", m, len, data, len));
    m[0] ^= 0xff; /* a private change never reaches the file */
    munmap(m, len);
    SYS(close(fd));
    CONTENT("f", data, len);
    free(data);
    return 0;
}

static int case_mmap_write(void)
{
    const size_t len = 2 * 4096 + 10;
    unsigned char *want = pattern(len, 21);
    MAKE("f", want, len);
    int fd = (int)SYS(open("f", O_RDWR));
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap(PROT_WRITE, MAP_SHARED): expected success, got %s", errname(errno));
    static const size_t at[] = {0, 4095, 4096, 4097, 2 * 4096 + 9};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
        m[at[i]] = want[at[i]] = (unsigned char)(0xa0 + i);
    SYS(msync(m, len, MS_SYNC));
    unsigned char *buf = malloc(len);
    EQ(SYS(pread(fd, buf, len, 0)), (long long)len);
    TRY(bytes_equal(__LINE__, "read(2) after msync", buf, len, want, len));
    TRY(server_is(__LINE__, "f", want, len)); /* msync(MS_SYNC) reached the server */
    munmap(m, len);
    /* Grow the file and write the new part through a mapping. */
    SYS(ftruncate(fd, 4 * 4096));
    unsigned char *grown = calloc(1, 4 * 4096);
    memcpy(grown, want, len);
    m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap of the grown file: expected success, got %s", errname(errno));
    fill(m + 3 * 4096, 4096, 22);
    fill(grown + 3 * 4096, 4096, 22);
    SYS(msync(m, 4 * 4096, MS_SYNC));
    munmap(m, 4 * 4096);
    SYS(close(fd));
    CONTENT("f", grown, 4 * 4096);
    free(buf);
    free(want);
    free(grown);
    return 0;
}

/* Changes through a mapping reach the server by close(2) at the latest, msync or not. */
static int case_mmap_write_close(void)
{
    const size_t len = 5 * 4096;
    unsigned char *want = pattern(len, 23);
    MAKE("f", want, len);
    int fd = (int)SYS(open("f", O_RDWR));
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap(PROT_WRITE, MAP_SHARED): expected success, got %s", errname(errno));
    fill(m + 4096 + 17, 8000, 24);
    fill(want + 4096 + 17, 8000, 24);
    munmap(m, len);
    SYS(close(fd));
    CONTENT("f", want, len);
    free(want);
    return 0;
}

static int case_fsync(void)
{
    unsigned char *data = pattern(256 * KiB, 25);
    int fd = (int)SYS(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
    EQ(SYS(write(fd, data, 256 * KiB)), 256 * KiB);
    SYS(fsync(fd));
    TRY(server_is(__LINE__, "f", data, 256 * KiB)); /* on the server while still open */
    EQ(SYS(write(fd, data, 100)), 100);
    SYS(fdatasync(fd));
    SYS(syncfs(fd));
    SYS(close(fd));
    fd = (int)SYS(open("f", O_RDONLY));
    SYS(fsync(fd)); /* on a read-only descriptor */
    SYS(close(fd));
    SYS(mkdir("d", 0755));
    fd = (int)SYS(open("d", O_RDONLY | O_DIRECTORY));
    SYS(fsync(fd)); /* a directory (after creating entries, as databases do) */
    SYS(close(fd));
    unsigned char *want = malloc(256 * KiB + 100);
    memcpy(want, data, 256 * KiB);
    memcpy(want + 256 * KiB, data, 100);
    CONTENT("f", want, 256 * KiB + 100);
    free(want);
    free(data);
    return 0;
}

/* ---- inode numbers ---- */

static int case_inode_stable(void)
{
    MAKES("a", "A");
    MAKES("b", "B");
    SYS(mkdir("d", 0755));
    struct stat s1, s2;
    SYS(stat("a", &s1));
    SYS(stat("a", &s2));
    EQ(s2.st_ino, s1.st_ino);
    EQ(s2.st_dev, s1.st_dev);
    CHECK(s1.st_ino != ino_of("b") && s1.st_ino != ino_of("d") && ino_of("b") != ino_of("d"),
          "three entries: expected three inode numbers, got %llu, %llu, %llu",
          (unsigned long long)s1.st_ino, (unsigned long long)ino_of("b"),
          (unsigned long long)ino_of("d"));
    int fd = (int)SYS(open("a", O_RDONLY));
    SYS(fstat(fd, &s2));
    EQ(s2.st_ino, s1.st_ino);
    SYS(rename("a", "d/moved"));
    SYS(fstat(fd, &s2));
    EQ(s2.st_ino, s1.st_ino);
    SYS(close(fd));
    EQ(ino_of("d/moved"), s1.st_ino);
    ino_t dino = ino_of("d");
    SYS(rename("d", "e"));
    EQ(ino_of("e"), dino);
    EQ(ino_of("e/moved"), s1.st_ino);
    /* readdir's d_ino agrees with stat. */
    DIR *dp = opendir("e");
    CHECK(dp, "opendir(e): expected success, got NULL (%s)", errname(errno));
    struct dirent *e;
    ino_t seen = 0;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, "moved") == 0)
            seen = e->d_ino;
    closedir(dp);
    EQ(seen, s1.st_ino);
    /* The case directory's inode, asked by path and by "." from inside. */
    SYS(stat("e/.", &s2));
    EQ(s2.st_ino, dino);
    return 0;
}

/* ---- the list ---- */

struct test_case {
    const char *name;
    int (*fn)(void);
};

static const struct test_case cases[] = {
    {"stat_missing", case_stat_missing},
    {"create_excl", case_create_excl},
    {"open_trunc", case_open_trunc},
    {"open_append", case_open_append},
    {"open_dir_flags", case_open_dir_flags},
    {"name_max", case_name_max},
    {"rw_small", case_rw_small},
    {"rw_unaligned", case_rw_unaligned},
    {"rw_large", case_rw_large},
    {"rw_large_offset", case_rw_large_offset},
    {"o_direct", case_o_direct},
    {"ftruncate", case_ftruncate},
    {"utimensat", case_utimensat},
    {"utimensat_range", case_utimensat_range},
    {"mtime_on_write", case_mtime_on_write},
    {"chmod_readonly", case_chmod_readonly},
    {"create_readonly", case_create_readonly},
    {"unlink_readonly", case_unlink_readonly},
    {"rename_readonly", case_rename_readonly},
    {"mkdir_rmdir", case_mkdir_rmdir},
    {"rmdir_notempty", case_rmdir_notempty},
    {"rmdir_file", case_rmdir_file},
    {"unlink_dir", case_unlink_dir},
    {"rename_file", case_rename_file},
    {"rename_replace", case_rename_replace},
    {"rename_noreplace", case_rename_noreplace},
    {"rename_dir", case_rename_dir},
    {"rename_dir_replace", case_rename_dir_replace},
    {"rename_into_dir", case_rename_into_dir},
    {"rename_open", case_rename_open},
    {"readdir_big", case_readdir_big},
    {"readdir_utf8", case_readdir_utf8},
    {"readdir_rewind", case_readdir_rewind},
    {"statfs", case_statfs},
    {"unlink_open", case_unlink_open},
    {"unlink_open_nlink", case_unlink_open_nlink},
    {"link", case_link},
    {"symlink", case_symlink},
    {"symlink_dir", case_symlink_dir},
    {"xattr", case_xattr},
    {"xattr_flags", case_xattr_flags},
    {"xattr_values", case_xattr_values},
    {"xattr_names", case_xattr_names},
    {"copy_file_range", case_copy_file_range},
    {"copy_file_range_offsets", case_copy_file_range_offsets},
    {"copy_file_range_large", case_copy_file_range_large},
    {"copy_file_range_same_file", case_copy_file_range_same_file},
    {"seek_dense", case_seek_dense},
    {"seek_sparse", case_seek_sparse},
    {"seek_punched", case_seek_punched},
    {"fallocate", case_fallocate},
    {"fallocate_keep_size", case_fallocate_keep_size},
    {"fallocate_punch_hole", case_fallocate_punch_hole},
    {"mmap_read", case_mmap_read},
    {"mmap_write", case_mmap_write},
    {"mmap_write_close", case_mmap_write_close},
    {"fsync", case_fsync},
    {"inode_stable", case_inode_stable},
};

#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

/* ---- running ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static unsigned case_timeout = 90;

static void on_alarm(int sig)
{
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "FAIL %s: timed out after %u s (a request never returned?)\n",
                     current_case ? current_case : "?", case_timeout);
    (void)!write(STDOUT_FILENO, msg, (size_t)n);
    _exit(1);
}

static int run_case(const char *base, const struct test_case *tc)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/%s", base, tc->name);
    remove_tree(dir);
    fail_msg[0] = '\0';
    current_case = tc->name;
    if (mkdir(dir, 0755) != 0 || chdir(dir) != 0) {
        printf("FAIL %s: mkdir/chdir %s: %s\n", tc->name, dir, errname(errno));
        fflush(stdout);
        return -1;
    }
    free(server_dir);
    server_dir = NULL;
    if (server_base && asprintf(&server_dir, "%s/%s", server_base, tc->name) < 0)
        server_dir = NULL;
    alarm(case_timeout);
    int rc = tc->fn();
    alarm(0);
    close_range(3, ~0u, 0); /* descriptors a failed case left open */
    if (chdir(base) != 0) {
        printf("FAIL %s: chdir back to %s: %s\n", tc->name, base, errname(errno));
        fflush(stdout);
        return -1;
    }
    if (rc == 0) {
        printf("ok %s\n", tc->name);
        remove_tree(dir);
    } else {
        printf("FAIL %s: %s (posix_suite.c:%d)\n", tc->name,
               fail_msg[0] ? fail_msg : "failed without a message", fail_line);
    }
    fflush(stdout);
    current_case = NULL;
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: posix_suite [--server SDIR] [--timeout SECONDS] [-l] DIR [CASE|GLOB...]\n");
}

int main(int argc, char **argv)
{
    const char *base = NULL;
    char **want = NULL;
    int want_count = 0;
    bool list = false;
    want = calloc((size_t)argc, sizeof(*want));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0 || strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            server_base = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            case_timeout = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        } else if (!base && !list) {
            base = argv[i];
        } else {
            want[want_count++] = argv[i];
        }
    }
    /* Every name asked for must match some case (a typo must not pass as "nothing failed"). */
    for (int w = 0; w < want_count; w++) {
        bool any = false;
        for (size_t i = 0; i < CASE_COUNT; i++)
            any |= fnmatch(want[w], cases[i].name, 0) == 0;
        if (!any) {
            fprintf(stderr, "posix_suite: no case matches '%s' (-l lists them)\n", want[w]);
            return 2;
        }
    }
    if (list) {
        for (size_t i = 0; i < CASE_COUNT; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (!base) {
        usage(stderr);
        return 2;
    }
    char *abs_base = realpath(base, NULL);
    if (!abs_base) {
        fprintf(stderr, "posix_suite: %s: %s\n", base, strerror(errno));
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    int ran = 0, failed = 0;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        bool selected = want_count == 0;
        for (int w = 0; w < want_count && !selected; w++)
            selected = fnmatch(want[w], cases[i].name, 0) == 0;
        if (!selected)
            continue;
        ran++;
        if (run_case(abs_base, &cases[i]) != 0)
            failed++;
    }
    printf("# %d cases, %d failed\n", ran, failed);
    free(server_dir);
    free(abs_base);
    free(want);
    return failed ? 1 : 0;
}
