/* fsrand: random operations on one file, checked against a model kept in memory (after fsx).
 *
 *   fsrand [--ops N] [--seed S] [--maxlen BYTES] [--maxop BYTES] [--check-every N]
 *          [--server FILE] [--no-mmap] [--no-direct] [--no-open-trunc] PATH
 *
 * Creates PATH (truncating it) and applies N (default 20000) operations chosen by a seeded
 * generator (default seed 1, so a run repeats exactly): write, read, O_DIRECT read (past the
 * page cache, to the server), mmap read, mmap write (msync or not), append (through an
 * O_APPEND descriptor), truncate (grow and shrink), fsync, and close and reopen of every
 * descriptor (the page cache is dropped on open, so reads come from the server again; one
 * reopen in four with O_TRUNC, unless --no-open-trunc). Offsets
 * and lengths are random and mostly unaligned; the file never grows past --maxlen (default
 * 4 MiB), one operation moves at most --maxop bytes (default 256 KiB). Every read is compared
 * with the model, the size after every operation, and every --check-every operations (default
 * 1000) and at the end the whole file after fsync: through the mount and, with --server, the
 * server's own copy of the file (Samba's share directory).
 *
 * Each written byte depends on the operation number and the file offset, so a mismatch can
 * name the operation whose data is there instead (lost later write, stale cache, shifted
 * data). On a mismatch or a failed call it prints the seed, the offset, expected and found
 * bytes, and the last operations, and exits 1. Exit 2: usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum op_type { OP_WRITE, OP_READ, OP_DREAD, OP_MAPREAD, OP_MAPWRITE, OP_APPEND, OP_TRUNCATE,
               OP_FSYNC, OP_REOPEN, OP_TYPES };

static const char *const op_names[OP_TYPES] = {"write", "read", "dread", "mapread", "mapwrite",
                                               "append", "truncate", "fsync", "reopen"};

/* How often each operation is drawn (out of the sum). */
static const unsigned op_weight[OP_TYPES] = {24, 18, 8, 8, 8, 10, 8, 2, 1};

struct op {
    uint64_t n;
    enum op_type type;
    uint64_t off, len;
    uint64_t size_after;
    int flag; /* mapwrite: msync'd; reopen: nothing */
};

#define LOG_LEN 64

static struct {
    const char *path;
    const char *server;
    uint64_t ops, seed, maxlen, maxop, check_every;
    bool mmap_ops, direct_ops, open_trunc;
    int fd, afd, dfd;
    unsigned char *model; /* maxlen bytes, zero past size */
    uint64_t size;
    unsigned char *buf;   /* maxop (page aligned, for O_DIRECT) */
    struct op log[LOG_LEN];
    uint64_t done;        /* operations finished */
    uint64_t rng;
    long page;
} g;

/* ---- randomness and data ---- */

static uint64_t rnd(void)
{
    uint64_t z = (g.rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* A length: mostly small and odd, sometimes up to maxop. */
static uint64_t rnd_len(void)
{
    switch (below(4)) {
    case 0: return 1 + below(64);
    case 1: return 1 + below(4096);
    case 2: return 1 + below(g.maxop / 4 ? g.maxop / 4 : 1);
    default: return 1 + below(g.maxop);
    }
}

/* The byte operation n writes at file offset off. */
static unsigned char data_byte(uint64_t n, uint64_t off)
{
    uint32_t x = (uint32_t)off * 2654435761u ^ (uint32_t)(off >> 32) ^ (uint32_t)n * 2246822519u;
    x ^= x >> 15;
    x *= 2654435761u;
    x ^= x >> 13;
    return (unsigned char)(x >> 24);
}

static void gen(unsigned char *dst, uint64_t n, uint64_t off, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        dst[i] = data_byte(n, off + i);
}

/* ---- reporting ---- */

static struct op *log_op(uint64_t n)
{
    return &g.log[n % LOG_LEN];
}

static void print_tail(uint64_t mark)
{
    uint64_t first = g.done + 1 > LOG_LEN ? g.done + 1 - LOG_LEN : 1;
    printf("fsrand: the last operations (* = covers offset %" PRIu64 "):\n", mark);
    for (uint64_t n = first; n <= g.done + 1 && n <= g.ops; n++) {
        const struct op *o = log_op(n);
        if (o->n != n)
            continue;
        bool covers = (o->type == OP_WRITE || o->type == OP_MAPWRITE || o->type == OP_APPEND ||
                       o->type == OP_READ || o->type == OP_DREAD || o->type == OP_MAPREAD) &&
                      mark >= o->off && mark < o->off + o->len;
        if (o->type == OP_TRUNCATE || (o->type == OP_REOPEN && o->flag))
            covers = mark >= o->off; /* zeroed or cut from there */
        printf("  %c #%-7" PRIu64 " %-8s off %-9" PRIu64 " (0x%06" PRIx64 ") len %-7" PRIu64
               " size after %" PRIu64 "%s\n",
               covers ? '*' : ' ', n, op_names[o->type], o->off, o->off, o->len, o->size_after,
               o->type == OP_MAPWRITE ? (o->flag ? " (msync)" : " (no msync)")
               : o->type == OP_REOPEN && o->flag ? " (O_TRUNC)" : "");
    }
}

static void die_with_tail(uint64_t mark) __attribute__((noreturn));
static void die_with_tail(uint64_t mark)
{
    print_tail(mark);
    printf("fsrand: FAILED: %s, seed %" PRIu64 " (rerun: fsrand --seed %" PRIu64 " --ops %" PRIu64
           " --maxlen %" PRIu64 " --maxop %" PRIu64 "%s%s%s PATH)\n",
           g.path, g.seed, g.seed, g.ops, g.maxlen, g.maxop, g.mmap_ops ? "" : " --no-mmap",
           g.direct_ops ? "" : " --no-direct", g.open_trunc ? "" : " --no-open-trunc");
    fflush(stdout);
    exit(1);
}

static void sys_fail(const char *what) __attribute__((noreturn));
static void sys_fail(const char *what)
{
    int e = errno;
    const struct op *o = log_op(g.done + 1);
    printf("fsrand: op #%" PRIu64 " (%s off %" PRIu64 " len %" PRIu64 "): %s failed: %s (%s)\n",
           g.done + 1, op_names[o->type], o->off, o->len, what, strerrorname_np(e) ? strerrorname_np(e) : "?",
           strerror(e));
    die_with_tail(o->off);
}

static void hexline(const char *label, const unsigned char *p, size_t n)
{
    printf("    %s", label);
    for (size_t i = 0; i < n && i < 16; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

/* Which operation's data is at off (got[0..n)): a later write lost, or data moved. */
static void explain(uint64_t off, const unsigned char *got, size_t n)
{
    if (n > 8)
        n = 8;
    bool zeros = true;
    for (size_t i = 0; i < n; i++)
        zeros &= got[i] == 0;
    if (zeros) {
        printf("    the bytes found are zeros (a lost write, or a hole where data should be)\n");
        return;
    }
    for (uint64_t k = g.done + 1; k >= 1; k--) {
        size_t i = 0;
        while (i < n && data_byte(k, off + i) == got[i])
            i++;
        if (i == n) {
            printf("    the bytes found are what op #%" PRIu64 " wrote at this offset (stale data: "
                   "a later write there was lost or not seen)\n", k);
            return;
        }
    }
    for (uint64_t k = g.done + 1; k >= 1 && k + LOG_LEN > g.done + 1; k--)
        for (int64_t d = -8192; d <= 8192; d++) {
            if ((int64_t)off + d < 0)
                continue;
            size_t i = 0;
            while (i < n && data_byte(k, (uint64_t)((int64_t)off + d) + i) == got[i])
                i++;
            if (i == n) {
                printf("    the bytes found are op #%" PRIu64 "'s data for offset %" PRIu64
                       " (shifted by %" PRId64 ")\n", k, (uint64_t)((int64_t)off + d), d);
                return;
            }
        }
    printf("    the bytes found match no recent operation's data\n");
}

/* Compares got[0..n) at file offset off with the model. */
static void compare(const char *what, uint64_t off, const unsigned char *got, uint64_t n,
                    uint64_t want_n)
{
    uint64_t m = n < want_n ? n : want_n;
    uint64_t i = 0;
    while (i < m && got[i] == g.model[off + i])
        i++;
    if (i == m && n == want_n)
        return;
    printf("fsrand: MISMATCH in %s at op #%" PRIu64 ", seed %" PRIu64 ":\n", what, g.done + 1, g.seed);
    if (i < m) {
        uint64_t end = i;
        while (end < m && got[end] != g.model[off + end])
            end++;
        printf("    file offset %" PRIu64 " (0x%" PRIx64 "): %" PRIu64 " bytes differ from there"
               " (the read covered %" PRIu64 "..%" PRIu64 ", model size %" PRIu64 ")\n",
               off + i, off + i, end - i, off, off + n, g.size);
        hexline("expected:", g.model + off + i, (size_t)(m - i));
        hexline("found:   ", got + i, (size_t)(m - i));
        explain(off + i, got + i, (size_t)(m - i));
        die_with_tail(off + i);
    }
    printf("    read %" PRIu64 " bytes at %" PRIu64 ", expected %" PRIu64 " (model size %" PRIu64 ")\n",
           n, off, want_n, g.size);
    die_with_tail(off + m);
}

static void check_size(const char *when)
{
    struct stat st;
    if (fstat(g.fd, &st) != 0)
        sys_fail("fstat");
    if ((uint64_t)st.st_size != g.size) {
        printf("fsrand: MISMATCH at op #%" PRIu64 ", seed %" PRIu64 ": size %s: expected %" PRIu64
               ", got %lld\n", g.done + 1, g.seed, when, g.size, (long long)st.st_size);
        die_with_tail(g.size);
    }
}

/* ---- descriptors ---- */

static void open_all(bool truncate)
{
    g.fd = open(g.path, O_RDWR | O_CREAT | (truncate ? O_TRUNC : 0), 0644);
    if (g.fd < 0)
        sys_fail("open O_RDWR");
    g.afd = open(g.path, O_WRONLY | O_APPEND);
    if (g.afd < 0)
        sys_fail("open O_WRONLY|O_APPEND");
    g.dfd = -1;
    if (g.direct_ops) {
        g.dfd = open(g.path, O_RDONLY | O_DIRECT);
        if (g.dfd < 0) {
            int e = errno;
            printf("fsrand: open O_DIRECT: %s: direct reads turned off (--no-direct)\n", strerror(e));
            g.direct_ops = false;
        }
    }
}

static void close_all(void)
{
    if (close(g.fd) != 0)
        sys_fail("close O_RDWR descriptor");
    if (close(g.afd) != 0)
        sys_fail("close O_APPEND descriptor");
    if (g.dfd >= 0 && close(g.dfd) != 0)
        sys_fail("close O_DIRECT descriptor");
    g.fd = g.afd = g.dfd = -1;
}

static uint64_t read_at(int fd, unsigned char *dst, uint64_t len, uint64_t off, const char *what)
{
    uint64_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
        if (r < 0)
            sys_fail(what);
        if (r == 0)
            break;
        got += (uint64_t)r;
    }
    return got;
}

static void write_at(int fd, const unsigned char *src, uint64_t len, uint64_t off, const char *what)
{
    uint64_t put = 0;
    while (put < len) {
        ssize_t r = pwrite(fd, src + put, len - put, (off_t)(off + put));
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            sys_fail(what);
        }
        put += (uint64_t)r;
    }
}

/* The whole file, through the mount (after fsync) and on the server. */
static void check_all(const char *when)
{
    if (fsync(g.fd) != 0)
        sys_fail("fsync before a full check");
    check_size(when);
    unsigned char *all = malloc(g.maxlen + 1);
    if (!all) {
        printf("fsrand: out of memory\n");
        exit(2);
    }
    uint64_t n = read_at(g.fd, all, g.maxlen + 1, 0, "pread of the whole file");
    char what[128];
    snprintf(what, sizeof(what), "the whole file (%s)", when);
    compare(what, 0, all, n, g.size);
    if (g.server) {
        int sfd = open(g.server, O_RDONLY);
        if (sfd < 0)
            sys_fail("open of the server's copy");
        n = read_at(sfd, all, g.maxlen + 1, 0, "read of the server's copy");
        close(sfd);
        snprintf(what, sizeof(what), "the server's copy (%s)", when);
        compare(what, 0, all, n, g.size);
    }
    free(all);
}

/* ---- operations ---- */

static void op_write(struct op *o)
{
    o->off = below(g.size + g.maxop < g.maxlen ? g.size + g.maxop : g.maxlen);
    o->len = rnd_len();
    if (o->off + o->len > g.maxlen)
        o->len = g.maxlen - o->off;
    gen(g.buf, o->n, o->off, o->len);
    write_at(g.fd, g.buf, o->len, o->off, "pwrite");
    memcpy(g.model + o->off, g.buf, o->len);
    if (o->off + o->len > g.size)
        g.size = o->off + o->len;
}

static void op_read(struct op *o, int fd)
{
    o->off = below(g.size + 1);
    o->len = rnd_len();
    if (below(20) == 0)
        o->off = g.size + below(4096); /* at or past the end */
    uint64_t want = o->off >= g.size ? 0 : (g.size - o->off < o->len ? g.size - o->off : o->len);
    uint64_t n = read_at(fd, g.buf, o->len, o->off, fd == g.dfd ? "pread (O_DIRECT)" : "pread");
    compare(fd == g.dfd ? "an O_DIRECT read" : "a read", o->off, g.buf, n, want);
}

static void op_mapread(struct op *o)
{
    if (g.size == 0) {
        op_read(o, g.fd);
        return;
    }
    o->off = below(g.size);
    o->len = rnd_len();
    if (o->off + o->len > g.size)
        o->len = g.size - o->off;
    uint64_t base = o->off & ~(uint64_t)(g.page - 1);
    size_t maplen = (size_t)(o->off - base + o->len);
    unsigned char *m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, g.fd, (off_t)base);
    if (m == MAP_FAILED)
        sys_fail("mmap PROT_READ");
    compare("an mmap read", o->off, m + (o->off - base), o->len, o->len);
    munmap(m, maplen);
}

static void op_mapwrite(struct op *o)
{
    o->off = below(g.maxlen);
    o->len = rnd_len();
    if (o->off + o->len > g.maxlen)
        o->len = g.maxlen - o->off;
    if (o->off + o->len > g.size) { /* a mapping cannot grow the file: truncate first */
        if (ftruncate(g.fd, (off_t)(o->off + o->len)) != 0)
            sys_fail("ftruncate (to grow for mmap write)");
        g.size = o->off + o->len;
    }
    uint64_t base = o->off & ~(uint64_t)(g.page - 1);
    size_t maplen = (size_t)(o->off - base + o->len);
    unsigned char *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, (off_t)base);
    if (m == MAP_FAILED)
        sys_fail("mmap PROT_WRITE MAP_SHARED");
    gen(m + (o->off - base), o->n, o->off, o->len);
    gen(g.model + o->off, o->n, o->off, o->len);
    o->flag = below(2) == 0;
    if (o->flag && msync(m, maplen, MS_SYNC) != 0)
        sys_fail("msync");
    munmap(m, maplen);
}

static void op_append(struct op *o)
{
    o->off = g.size;
    o->len = rnd_len();
    if (g.size + o->len > g.maxlen) {
        /* Full: shrink first (as its own step of this operation). */
        uint64_t to = below(g.maxlen / 2);
        if (ftruncate(g.fd, (off_t)to) != 0)
            sys_fail("ftruncate (to make room for an append)");
        memset(g.model + to, 0, g.size - to);
        g.size = to;
        o->off = to;
        if (o->off + o->len > g.maxlen)
            o->len = g.maxlen - o->off;
    }
    gen(g.buf, o->n, o->off, o->len);
    if (lseek(g.afd, (off_t)below(g.size + 1), SEEK_SET) < 0) /* O_APPEND ignores the position */
        sys_fail("lseek on the O_APPEND descriptor");
    uint64_t put = 0;
    while (put < o->len) {
        ssize_t r = write(g.afd, g.buf + put, o->len - put);
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            sys_fail("write (O_APPEND)");
        }
        put += (uint64_t)r;
    }
    memcpy(g.model + o->off, g.buf, o->len);
    g.size += o->len;
}

static void op_truncate(struct op *o)
{
    uint64_t to;
    switch (below(4)) {
    case 0: to = 0; break;
    case 1: to = g.size > 0 ? below(g.size) : 0; break; /* shrink */
    case 2: to = g.size + below(g.maxlen - g.size + 1); break; /* grow */
    default: to = below(g.maxlen + 1); break;
    }
    o->off = to;
    o->len = 0;
    if (ftruncate(g.fd, (off_t)to) != 0)
        sys_fail("ftruncate");
    if (to < g.size)
        memset(g.model + to, 0, g.size - to);
    g.size = to;
}

static void run(void)
{
    unsigned total = 0;
    for (int t = 0; t < OP_TYPES; t++)
        total += op_weight[t];
    open_all(true);
    for (uint64_t n = 1; n <= g.ops; n++) {
        struct op *o = log_op(n);
        memset(o, 0, sizeof(*o));
        o->n = n;
        unsigned r = (unsigned)below(total);
        enum op_type t = 0;
        while (r >= op_weight[t])
            r -= op_weight[t++];
        if ((t == OP_MAPREAD || t == OP_MAPWRITE) && !g.mmap_ops)
            t = t == OP_MAPREAD ? OP_READ : OP_WRITE;
        if (t == OP_DREAD && !g.direct_ops)
            t = OP_READ;
        o->type = t;
        switch (t) {
        case OP_WRITE: op_write(o); break;
        case OP_READ: op_read(o, g.fd); break;
        case OP_DREAD: op_read(o, g.dfd); break;
        case OP_MAPREAD: op_mapread(o); break;
        case OP_MAPWRITE: op_mapwrite(o); break;
        case OP_APPEND: op_append(o); break;
        case OP_TRUNCATE: op_truncate(o); break;
        case OP_FSYNC:
            if (fsync(g.fd) != 0)
                sys_fail("fsync");
            break;
        case OP_REOPEN:
            close_all();
            /* Sometimes with O_TRUNC, as `>` in a shell does to an existing file. */
            o->flag = g.open_trunc && below(4) == 0;
            open_all(o->flag);
            if (o->flag) {
                memset(g.model, 0, g.size);
                g.size = 0;
            }
            break;
        default: break;
        }
        o->size_after = g.size;
        check_size("after the operation");
        if (t == OP_REOPEN && below(2) == 0)
            check_all("right after a reopen");
        if (g.check_every && n % g.check_every == 0)
            check_all("periodic check");
        g.done = n;
        if (n % 5000 == 0) {
            printf("fsrand: %" PRIu64 " operations, size %" PRIu64 "\n", n, g.size);
            fflush(stdout);
        }
    }
    check_all("at the end");
    close_all();
    open_all(false);
    check_all("after the last close and reopen");
    close_all();
}

static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    default: break;
    }
    if (*end) {
        fprintf(stderr, "fsrand: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    g.ops = 20000;
    g.seed = 1;
    g.maxlen = 4 << 20;
    g.maxop = 256 << 10;
    g.check_every = 1000;
    g.mmap_ops = g.direct_ops = g.open_trunc = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--ops") == 0 && has_value)
            g.ops = parse_size(argv[++i]);
        else if (strcmp(a, "--seed") == 0 && has_value)
            g.seed = parse_size(argv[++i]);
        else if (strcmp(a, "--maxlen") == 0 && has_value)
            g.maxlen = parse_size(argv[++i]);
        else if (strcmp(a, "--maxop") == 0 && has_value)
            g.maxop = parse_size(argv[++i]);
        else if (strcmp(a, "--check-every") == 0 && has_value)
            g.check_every = parse_size(argv[++i]);
        else if (strcmp(a, "--server") == 0 && has_value)
            g.server = argv[++i];
        else if (strcmp(a, "--no-mmap") == 0)
            g.mmap_ops = false;
        else if (strcmp(a, "--no-direct") == 0)
            g.direct_ops = false;
        else if (strcmp(a, "--no-open-trunc") == 0)
            g.open_trunc = false;
        else if (a[0] != '-' && !g.path)
            g.path = a;
        else {
            fprintf(stderr, "usage: fsrand [--ops N] [--seed S] [--maxlen BYTES] [--maxop BYTES] "
                            "[--check-every N] [--server FILE] [--no-mmap] [--no-direct] "
                            "[--no-open-trunc] PATH\n");
            return 2;
        }
    }
    if (!g.path || g.maxlen == 0 || g.maxop == 0) {
        fprintf(stderr, "fsrand: a PATH, and --maxlen and --maxop above 0, are needed\n");
        return 2;
    }
    if (g.maxop > g.maxlen)
        g.maxop = g.maxlen;
    g.page = sysconf(_SC_PAGESIZE);
    g.rng = g.seed;
    g.model = calloc(1, g.maxlen);
    void *buf;
    if (!g.model || posix_memalign(&buf, (size_t)g.page, g.maxop + 4096 + (size_t)g.page) != 0) {
        fprintf(stderr, "fsrand: out of memory\n");
        return 2;
    }
    g.buf = buf;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("fsrand: %s: %" PRIu64 " operations, seed %" PRIu64 ", maxlen %" PRIu64 ", maxop %" PRIu64
           "%s%s\n", g.path, g.ops, g.seed, g.maxlen, g.maxop, g.mmap_ops ? "" : ", no mmap",
           g.direct_ops ? "" : ", no O_DIRECT");
    run();
    printf("fsrand: %s: %" PRIu64 " operations, seed %" PRIu64 ": ok (final size %" PRIu64 ")\n",
           g.path, g.ops, g.seed, g.size);
    free(g.model);
    free(g.buf);
    return 0;
}
