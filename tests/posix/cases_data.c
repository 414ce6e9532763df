/* posix_suite cases: extended attributes, copy_file_range, holes and fallocate, mmap, fsync, inode numbers. */
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
    /* An empty value is a value on Linux, but SMB reads an empty EA value as "delete"
     * (MS-FSCC 2.4.15): the mount refuses it with EINVAL (mount.smbquic(8)) rather than
     * silently deleting, and the attribute is not created. */
    EXPECT_ERR(setxattr("f", "user.empty", "", 0, 0), EINVAL);
    char list[4096];
    ssize_t n = SYS(listxattr("f", list, sizeof(list)));
    CHECK(!list_has(list, n, "user.empty"), "listxattr: user.empty must not exist after EINVAL");
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
    unsigned char *want = case_alloc(150010);
    memcpy(want, dst, 100000);
    memcpy(want + 150000, src, 10);
    SYS(close(out));
    SYS(close(in));
    CONTENT("dst", want, 150010);
    CONTENT("src", src, 100000);
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
    /* A file made sparse only by ftruncate has no SMB sparse attribute, and Samba then reports
     * it fully allocated (so does any server that does not track holes): POSIX allows the
     * only hole to be at the end, and mount.smbquic(8) says so. Holes the server reports
     * (seek_punched) must be found. */
    if (hole == size) {
        unsigned char buf[4096];
        EQ(SYS(pread(fd, buf, sizeof(buf), 4 * MiB)), 4096);
        CHECK(is_zero(buf, sizeof(buf)), "the hole at 4 MiB: expected zeros, got %s", hex(buf, 16));
        SYS(close(fd));
        return 0;
    }
    CHECK(hole >= 64 * KiB && hole <= MiB,
          "SEEK_HOLE from 0 with 64 KiB of data then 16 MiB of hole: expected 65536 (at most 1 MiB) or the end, got %lld",
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
    unsigned char *want = case_alloc(2 * MiB);
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
    unsigned char *buf = case_alloc(len);
    EQ(SYS(pread(fd, buf, len, 0)), (long long)len);
    TRY(bytes_equal(__LINE__, "after punching holes (same descriptor)", buf, len, want, len));
    SYS(close(fd));
    CONTENT("f", want, len);
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
    unsigned char *buf = case_alloc(len);
    EQ(SYS(pread(fd, buf, len, 0)), (long long)len);
    TRY(bytes_equal(__LINE__, "read(2) after msync", buf, len, want, len));
    TRY(server_is(__LINE__, "f", want, len)); /* msync(MS_SYNC) reached the server */
    munmap(m, len);
    /* Grow the file and write the new part through a mapping. */
    SYS(ftruncate(fd, 4 * 4096));
    unsigned char *grown = case_alloc(4 * 4096);
    memcpy(grown, want, len);
    m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap of the grown file: expected success, got %s", errname(errno));
    fill(m + 3 * 4096, 4096, 22);
    fill(grown + 3 * 4096, 4096, 22);
    SYS(msync(m, 4 * 4096, MS_SYNC));
    munmap(m, 4 * 4096);
    SYS(close(fd));
    CONTENT("f", grown, 4 * 4096);
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
    unsigned char *want = case_alloc(256 * KiB + 100);
    memcpy(want, data, 256 * KiB);
    memcpy(want + 256 * KiB, data, 100);
    CONTENT("f", want, 256 * KiB + 100);
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

static const struct test_case list[] = {
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

const struct case_group cases_data = {"cases_data.c", list, sizeof(list) / sizeof(list[0])};
