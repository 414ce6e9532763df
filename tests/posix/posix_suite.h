/* posix_suite: what the cases share (posix_check.c) and their tables (cases_*.c).
 *
 * A case is `static int case_NAME(void)`, run with an empty directory of its own as the
 * working directory; it returns 0 when every check held, or -1 once the first failed check
 * recorded its message with failf ("WHAT: expected X, got Y", errno values by name). The
 * macros below are the checks; each ends the case when it fails. Helpers that take a LINE
 * report a failure as being at that line of the calling case. */
#ifndef SMBQUIC_TESTS_POSIX_SUITE_H
#define SMBQUIC_TESTS_POSIX_SUITE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define KiB 1024L
#define MiB (1024L * 1024L)

/* The running case's directory as the server sees it (SDIR/CASE with --server), or NULL. */
extern char *server_dir;

/* The running case's first failure ("" while none) and the line of the case it names. */
extern char fail_msg[4096];
extern int fail_line;

struct test_case {
    const char *name;
    int (*fn)(void);
};

/* The cases of one cases_*.c file, in the order they run. */
struct case_group {
    const char *file;
    const struct test_case *cases;
    size_t count;
};

extern const struct case_group cases_files, cases_dirs, cases_data;

/* ---- checks ---- */

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

#define MAKE(name, data, len) TRY(make_file(__LINE__, (name), (data), (len)))

#define MAKES(name, str) MAKE((name), (str), strlen(str))

#define CONTENT(name, want, len)                                                               \
    do {                                                                                       \
        TRY(file_is(__LINE__, (name), (want), (len)));                                         \
        TRY(server_is(__LINE__, (name), (want), (len)));                                       \
    } while (0)

#define CONTENTS(name, str) CONTENT((name), (str), strlen(str))

/* FILE_IS: as CONTENTS, through the mount only (a path through a symlink). */
#define FILE_IS(name, str) TRY(file_is(__LINE__, (name), (str), strlen(str)))

#define DIR_HAS(path, ...)                                                                     \
    do {                                                                                       \
        const char *const want_[] = {__VA_ARGS__};                                             \
        TRY(dir_has(__LINE__, (path), want_, sizeof(want_) / sizeof(want_[0])));               \
    } while (0)

#define DIR_EMPTY(path) TRY(dir_has(__LINE__, (path), NULL, 0))

/* SERVER_DIR_HAS: as DIR_HAS, in the server's copy of the case directory (with --server). */
#define SERVER_DIR_HAS(...)                                                                    \
    do {                                                                                       \
        static const char *const want_[] = {__VA_ARGS__};                                      \
        if (server_dir)                                                                        \
            TRY(dir_has(__LINE__, server_dir, want_, sizeof(want_) / sizeof(want_[0])));       \
    } while (0)

/* ---- reporting (a case keeps its first failure) ---- */

int failf(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *errname(int e);                        /* "ENOENT" */
bool errno_matches(long r, int e, const int *want, size_t n);
const char *errnames(const int *e, size_t n);      /* "EISDIR or EPERM" */
const char *result_str(long r, int e);             /* "-1 (EACCES)", "3 (success)" */
const char *hex(const unsigned char *p, size_t n); /* up to 16 bytes */
int bytes_equal(int line, const char *what, const unsigned char *got, size_t got_len,
                const unsigned char *want, size_t want_len);

/* ---- files ---- */

/* Zeroed, page-aligned memory that lives until the running case ends (failed or not). */
void *case_alloc(size_t len);
void case_free_all(void);
void fill(unsigned char *buf, size_t len, uint64_t seed); /* bytes that never repeat */
unsigned char *pattern(size_t len, uint64_t seed);         /* case_alloc'd, filled */
int write_all(int fd, const void *buf, size_t len);
unsigned char *pread_all(int fd, size_t *len);             /* malloc'd; NULL and errno */
unsigned char *read_path(const char *path, size_t *len);
int make_file(int line, const char *name, const void *data, size_t len);
int file_is(int line, const char *name, const void *want, size_t len);
int server_is(int line, const char *name, const void *want, size_t len);
long long size_of(const char *name); /* -1 when stat fails */
bool is_zero(const unsigned char *p, size_t n);
ino_t ino_of(const char *name); /* lstat's st_ino, 0 when it fails */

/* ---- directories ---- */

/* The names in a directory. */
struct names {
    char **v;
    size_t n, cap;
    size_t dots; /* "." and ".." seen */
    unsigned char *types;
};

void names_free(struct names *s);
int list_dir(const char *path, struct names *s);
int dir_has(int line, const char *path, const char *const *want, size_t n);

#endif
