/* Bounded reader and growable writer: every byte from the network passes through
 * struct reader. Errors are sticky: after the first out-of-bounds access every getter
 * returns zero (or NULL) and reader_error() stays set, so a forgotten check can never turn
 * into an out-of-bounds read. Lengths are compared as `n > len - off`, never `off + n > len`,
 * so no addition can wrap. */
#ifndef SMBQUIC_UTIL_BUF_H
#define SMBQUIC_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reader {
    const uint8_t *data;
    size_t len;
    size_t off;
    int err; /* 0 or SQ_ERR_PROTO; sticky */
};

void reader_init(struct reader *r, const void *data, size_t len);

/* Getters consume bytes; on short input they return 0 and set r->err. */
uint8_t reader_get_u8(struct reader *r);
uint16_t reader_get_le16(struct reader *r);
uint32_t reader_get_le32(struct reader *r);
uint64_t reader_get_le64(struct reader *r);
uint32_t reader_get_be24(struct reader *r);
uint32_t reader_get_be32(struct reader *r);
/* Copies n bytes to out; on short input zero-fills out and sets the error. */
void reader_get_bytes(struct reader *r, void *out, size_t n);
/* Returns a pointer to the next n bytes and consumes them, or NULL (and sets the error). */
const uint8_t *reader_get_ptr(struct reader *r, size_t n);
void reader_skip(struct reader *r, size_t n);
/* Moves to the absolute offset off (off == len is allowed). */
void reader_seek(struct reader *r, size_t off);
/* Skips padding so that the offset is a multiple of align (a power of two). Running out of
 * bytes while aligning at the very end is not an error: trailing padding is optional. */
void reader_align(struct reader *r, size_t align);
/* Makes *sub a reader over [off, off+n) of r's buffer (absolute offsets). Sets r's error and
 * leaves *sub empty with the error set when the range does not fit. */
void reader_sub(struct reader *r, size_t off, size_t n, struct reader *sub);

static inline size_t reader_remaining(const struct reader *r)
{
    return r->err ? 0 : r->len - r->off;
}
static inline int reader_error(const struct reader *r)
{
    return r->err;
}
/* Marks the reader failed (for semantic errors found by the caller). */
void reader_fail(struct reader *r);

/* Growable (or fixed-capacity) writer. Errors are sticky as for the reader:
 * SQ_ERR_NOMEM when growing fails, SQ_ERR_INVAL when a fixed buffer is full. */
struct writer {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err;
    bool fixed; /* data is caller-owned and never reallocated */
};

void writer_init(struct writer *w);
void writer_init_fixed(struct writer *w, void *buf, size_t cap);
/* Frees the buffer of a growable writer and wipes nothing: use writer_wipe_free for secrets. */
void writer_free(struct writer *w);
void writer_wipe_free(struct writer *w);
/* Makes room for n more bytes; returns 0 or the sticky error. */
int writer_reserve(struct writer *w, size_t n);
void writer_put_u8(struct writer *w, uint8_t v);
void writer_put_le16(struct writer *w, uint16_t v);
void writer_put_le32(struct writer *w, uint32_t v);
void writer_put_le64(struct writer *w, uint64_t v);
void writer_put_be24(struct writer *w, uint32_t v);
void writer_put_bytes(struct writer *w, const void *p, size_t n);
void writer_put_zeros(struct writer *w, size_t n);
/* Pads with zeros until len is a multiple of align, counting from byte `base`. */
void writer_align(struct writer *w, size_t base, size_t align);
/* Returns a pointer to n new bytes at the end (uninitialised) or NULL on error. */
uint8_t *writer_extend(struct writer *w, size_t n);
/* Overwrite already-written bytes (for lengths and offsets known only later). */
void writer_patch_le16(struct writer *w, size_t off, uint16_t v);
void writer_patch_le32(struct writer *w, size_t off, uint32_t v);
static inline int writer_error(const struct writer *w)
{
    return w->err;
}

#endif
