/* posix_suite cases: directories, rename, readdir, statfs, unlink of open files, hard and symbolic links. */
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
    unsigned char *data = pattern(300000, 7), *back = case_alloc(300000);
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

/* The file system knows a hard-linked file by the name it was last found under; removing,
 * replacing or moving that name must leave the file's other names working (at once, while
 * the kernel still trusts its cached entries). */
static int case_link_newest_name(void)
{
    struct stat st;
    MAKES("a", "data");
    SYS(link("a", "b"));
    SYS(stat("b", &st));
    SYS(unlink("b"));
    CONTENTS("a", "data");
    SYS(stat("a", &st));
    EQ(st.st_nlink, 1);

    SYS(link("a", "c"));
    SYS(stat("c", &st));
    MAKES("x", "other");
    SYS(rename("x", "c")); /* replaces the newest name */
    CONTENTS("a", "data");
    CONTENTS("c", "other");
    SYS(stat("a", &st));
    EQ(st.st_nlink, 1);

    SYS(mkdir("d", 0755));
    SYS(link("a", "d/e"));
    SYS(stat("d/e", &st));
    SYS(stat("a", &st)); /* now "a" is the newest name, "d/e" the other */
    SYS(rename("d", "d2"));
    SYS(unlink("a"));
    CONTENTS("d2/e", "data");
    SYS(stat("d2/e", &st));
    EQ(st.st_nlink, 1);
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

/* How links are stored is the mount's business (test_posix.sh mounts with mfsymlinks, the
 * only way against Samba, and checks the stored format itself). */
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
    FILE_IS("lt", "through the link");
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
    FILE_IS("ld/f", "in d");
    EXPECT_ERR(rmdir("ld"), ENOTDIR);
    SYS(unlink("ld"));
    DIR_HAS(".", "d");
    return 0;
}

/* ---- the list ---- */

static const struct test_case list[] = {
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
    {"link_newest_name", case_link_newest_name},
    {"symlink", case_symlink},
    {"symlink_dir", case_symlink_dir},
};

const struct case_group cases_dirs = {"cases_dirs.c", list, sizeof(list) / sizeof(list[0])};
