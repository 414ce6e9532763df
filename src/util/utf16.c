/* Strict UTF-8 <-> UTF-16LE conversion; contracts in include/util/utf16.h. */
#include "util/utf16.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Decodes one code point from s[*i..len), advancing *i. Returns the code point, or -1 for
 * invalid UTF-8 (RFC 3629 section 3: no overlong forms, no surrogates, nothing above
 * U+10FFFF) or for U+0000. */
static int32_t utf8_next(const uint8_t *s, size_t len, size_t *i)
{
    uint8_t c = s[*i];
    uint32_t cp, min;
    size_t need;

    if (c < 0x80) {
        (*i)++;
        return c ? (int32_t)c : -1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1; /* continuation byte, 0xC0/0xC1 or 0xF5..0xFF */
    }
    if (need > len - *i - 1)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        uint8_t b = s[*i + k];
        if ((b & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += need + 1;
    return (int32_t)cp;
}

/* Writes the UTF-16LE form of cp to out; returns the number of bytes (2 or 4). */
static size_t utf16_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x10000) {
        out[0] = (uint8_t)cp;
        out[1] = (uint8_t)(cp >> 8);
        return 2;
    }
    cp -= 0x10000;
    uint16_t hi = (uint16_t)(0xD800 | (cp >> 10));
    uint16_t lo = (uint16_t)(0xDC00 | (cp & 0x3FF));
    out[0] = (uint8_t)hi;
    out[1] = (uint8_t)(hi >> 8);
    out[2] = (uint8_t)lo;
    out[3] = (uint8_t)(lo >> 8);
    return 4;
}

/* Validates len bytes of UTF-8 and sets *size to the length of its UTF-16LE form. */
static bool utf16_size(const uint8_t *s, size_t len, size_t *size)
{
    size_t i = 0, n = 0;
    while (i < len) {
        int32_t cp = utf8_next(s, len, &i);
        if (cp < 0)
            return false;
        n += cp < 0x10000 ? 2 : 4;
    }
    *size = n;
    return true;
}

/* Encodes already validated UTF-8 into out (sized by utf16_size). */
static void utf16_fill(const uint8_t *s, size_t len, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < len)
        o += utf16_encode((uint32_t)utf8_next(s, len, &i), out + o);
}

int utf8_utf16le_size(const char *s, size_t len, size_t *size)
{
    *size = 0;
    if ((!s && len) || !utf16_size((const uint8_t *)s, len, size))
        return SQ_ERR_INVAL;
    return 0;
}

int utf8_to_utf16le(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    size_t n;
    *out = NULL;
    *out_len = 0;
    if ((!s && len) || !utf16_size((const uint8_t *)s, len, &n))
        return SQ_ERR_INVAL;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return SQ_ERR_NOMEM;
    utf16_fill((const uint8_t *)s, len, buf);
    *out = buf;
    *out_len = n;
    return 0;
}

void writer_put_utf16le_len(struct writer *w, const char *utf8, size_t len)
{
    size_t n;
    if (w->err)
        return;
    if ((!utf8 && len) || !utf16_size((const uint8_t *)utf8, len, &n)) {
        w->err = SQ_ERR_INVAL;
        return;
    }
    if (!n)
        return;
    uint8_t *p = writer_extend(w, n);
    if (p)
        utf16_fill((const uint8_t *)utf8, len, p);
}

void writer_put_utf16le(struct writer *w, const char *utf8)
{
    if (!utf8) {
        if (!w->err)
            w->err = SQ_ERR_INVAL;
        return;
    }
    writer_put_utf16le_len(w, utf8, strlen(utf8));
}

int utf16le_to_utf8(const uint8_t *p, size_t len, char **out)
{
    *out = NULL;
    if (len % 2 || (!p && len))
        return SQ_ERR_PROTO;
    /* Each 2-byte unit yields at most 3 bytes; a 4-byte surrogate pair yields 4. */
    size_t units = len / 2;
    if (units > (SIZE_MAX - 1) / 3)
        return SQ_ERR_NOMEM;
    char *buf = malloc(units * 3 + 1);
    if (!buf)
        return SQ_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < units; i++) {
        uint32_t cp = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
        if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            goto bad;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 1 >= units)
                goto bad;
            uint32_t lo = (uint32_t)p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
            if (lo < 0xDC00 || lo > 0xDFFF)
                goto bad;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i++;
        }
        if (cp < 0x80) {
            buf[o++] = (char)cp;
        } else if (cp < 0x800) {
            buf[o++] = (char)(0xC0 | cp >> 6);
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[o++] = (char)(0xE0 | cp >> 12);
            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            buf[o++] = (char)(0xF0 | cp >> 18);
            buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    buf[o] = '\0';
    *out = buf;
    return 0;
bad:
    free(buf);
    return SQ_ERR_PROTO;
}
