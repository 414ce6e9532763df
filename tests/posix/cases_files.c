/* posix_suite cases: lookup, create and open flags, reads and writes, truncation, times, modes. */
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
    unsigned char *want = case_alloc(10001);
    memcpy(want, "hello", 5);
    want[10000] = 'Z';
    CONTENT("f", want, 10001);
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
    unsigned char *buf = case_alloc(len);
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
    unsigned char *buf = case_alloc(len + 1);
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
    return 0;
}

static int case_o_direct(void)
{
    unsigned char *buf = case_alloc(64 * KiB), *back = case_alloc(64 * KiB); /* page aligned */
    fill(buf, 64 * KiB, 5);
    int fd = (int)SYS(open("f", O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0644));
    EQ(SYS(pwrite(fd, buf, 64 * KiB, 0)), 64 * KiB);
    EQ(SYS(pread(fd, back, 64 * KiB, 0)), 64 * KiB);
    TRY(bytes_equal(__LINE__, "O_DIRECT read back", back, 64 * KiB, buf, 64 * KiB));
    SYS(close(fd));
    CONTENT("f", buf, 64 * KiB);
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
    unsigned char *zeros = case_alloc(100000);
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

/* ---- the list ---- */

static const struct test_case list[] = {
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
};

const struct case_group cases_files = {"cases_files.c", list, sizeof(list) / sizeof(list[0])};
