/* Bounded reader and growable writer; contracts in include/util/buf.h. */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "util/error.h"

void reader_init(struct reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->off = 0;
    r->err = 0;
}

void reader_fail(struct reader *r)
{
    r->err = SQ_ERR_PROTO;
}

/* Returns a pointer to n bytes and advances, or NULL with the sticky error set. */
static const uint8_t *take(struct reader *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->off) {
        r->err = SQ_ERR_PROTO;
        return NULL;
    }
    const uint8_t *p = r->data + r->off;
    r->off += n;
    return p;
}

uint8_t reader_get_u8(struct reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t reader_get_le16(struct reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t reader_get_le32(struct reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
             : 0;
}

uint64_t reader_get_le64(struct reader *r)
{
    uint64_t lo = reader_get_le32(r);
    uint64_t hi = reader_get_le32(r);
    return r->err ? 0 : lo | hi << 32;
}

uint32_t reader_get_be24(struct reader *r)
{
    const uint8_t *p = take(r, 3);
    return p ? (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2] : 0;
}

uint32_t reader_get_be32(struct reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

void reader_get_bytes(struct reader *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p)
        memcpy(out, p, n);
    else if (n)
        memset(out, 0, n);
}

const uint8_t *reader_get_ptr(struct reader *r, size_t n)
{
    return take(r, n);
}

void reader_skip(struct reader *r, size_t n)
{
    (void)take(r, n);
}

void reader_seek(struct reader *r, size_t off)
{
    if (r->err)
        return;
    if (off > r->len) {
        r->err = SQ_ERR_PROTO;
        return;
    }
    r->off = off;
}

void reader_align(struct reader *r, size_t align)
{
    if (r->err || align < 2)
        return;
    size_t pad = (align - (r->off & (align - 1))) & (align - 1);
    if (pad > r->len - r->off)
        r->off = r->len;
    else
        r->off += pad;
}

void reader_sub(struct reader *r, size_t off, size_t n, struct reader *sub)
{
    reader_init(sub, NULL, 0);
    if (r->err || off > r->len || n > r->len - off) {
        r->err = SQ_ERR_PROTO;
        sub->err = SQ_ERR_PROTO;
        return;
    }
    reader_init(sub, r->data + off, n);
}

void writer_init(struct writer *w)
{
    memset(w, 0, sizeof(*w));
}

void writer_init_fixed(struct writer *w, void *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->data = buf;
    w->cap = cap;
    w->fixed = true;
}

void writer_free(struct writer *w)
{
    if (!w->fixed)
        free(w->data);
    memset(w, 0, sizeof(*w));
}

void writer_wipe_free(struct writer *w)
{
    if (w->data)
        gnutls_memset(w->data, 0, w->cap);
    writer_free(w);
}

int writer_reserve(struct writer *w, size_t n)
{
    if (w->err)
        return w->err;
    if (n <= w->cap - w->len)
        return 0;
    if (w->fixed) {
        w->err = SQ_ERR_INVAL;
        return w->err;
    }
    if (n > SIZE_MAX / 2 - w->len) {
        w->err = SQ_ERR_NOMEM;
        return w->err;
    }
    size_t want = w->len + n;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(w->data, cap);
    if (!p) {
        w->err = SQ_ERR_NOMEM;
        return w->err;
    }
    w->data = p;
    w->cap = cap;
    return 0;
}

uint8_t *writer_extend(struct writer *w, size_t n)
{
    if (writer_reserve(w, n))
        return NULL;
    uint8_t *p = w->data + w->len;
    w->len += n;
    return p;
}

void writer_put_u8(struct writer *w, uint8_t v)
{
    uint8_t *p = writer_extend(w, 1);
    if (p)
        p[0] = v;
}

void writer_put_le16(struct writer *w, uint16_t v)
{
    uint8_t *p = writer_extend(w, 2);
    if (p) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

void writer_put_le32(struct writer *w, uint32_t v)
{
    uint8_t *p = writer_extend(w, 4);
    if (p)
        for (int i = 0; i < 4; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

void writer_put_le64(struct writer *w, uint64_t v)
{
    uint8_t *p = writer_extend(w, 8);
    if (p)
        for (int i = 0; i < 8; i++)
            p[i] = (uint8_t)(v >> (8 * i));
}

void writer_put_be24(struct writer *w, uint32_t v)
{
    uint8_t *p = writer_extend(w, 3);
    if (p) {
        p[0] = (uint8_t)(v >> 16);
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)v;
    }
}

void writer_put_bytes(struct writer *w, const void *src, size_t n)
{
    if (!n)
        return;
    uint8_t *p = writer_extend(w, n);
    if (p)
        memcpy(p, src, n);
}

void writer_put_zeros(struct writer *w, size_t n)
{
    if (!n)
        return;
    uint8_t *p = writer_extend(w, n);
    if (p)
        memset(p, 0, n);
}

void writer_align(struct writer *w, size_t base, size_t align)
{
    if (w->err || align < 2 || w->len < base)
        return;
    size_t rel = w->len - base;
    writer_put_zeros(w, (align - (rel & (align - 1))) & (align - 1));
}

void writer_patch_le16(struct writer *w, size_t off, uint16_t v)
{
    if (w->err || off > w->len || 2 > w->len - off)
        return;
    w->data[off] = (uint8_t)v;
    w->data[off + 1] = (uint8_t)(v >> 8);
}

void writer_patch_le32(struct writer *w, size_t off, uint32_t v)
{
    if (w->err || off > w->len || 4 > w->len - off)
        return;
    for (int i = 0; i < 4; i++)
        w->data[off + i] = (uint8_t)(v >> (8 * i));
}
