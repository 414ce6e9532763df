/* Strict UTF-8 <-> UTF-16LE conversion for SMB names and paths.
 *
 * Both directions reject what iconv would let through: overlong UTF-8, UTF-8-encoded
 * surrogates, code points above U+10FFFF, truncated sequences, unpaired UTF-16 surrogates and
 * NUL characters (a NUL inside a name would truncate it on one side and not the other). */
#ifndef SMBQUIC_UTIL_UTF16_H
#define SMBQUIC_UTIL_UTF16_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Converts len bytes of UTF-8 at s to UTF-16LE in a new malloc'd buffer (*out, *out_len bytes;
 * the caller frees *out; *out is non-NULL even for empty input). Returns 0, SQ_ERR_INVAL for
 * invalid UTF-8 or a NUL byte, or SQ_ERR_NOMEM; on error *out is NULL and *out_len 0. */
int utf8_to_utf16le(const char *s, size_t len, uint8_t **out, size_t *out_len);

/* Converts len bytes of UTF-16LE at p (from the network) to a new malloc'd NUL-terminated
 * UTF-8 string (*out, freed by the caller). Returns 0, SQ_ERR_PROTO for an odd length, an
 * unpaired surrogate or a NUL code unit, or SQ_ERR_NOMEM; on error *out is NULL. */
int utf16le_to_utf8(const uint8_t *p, size_t len, char **out);

/* Validates len bytes of UTF-8 (as utf8_to_utf16le does) and sets *size to the length in
 * bytes of its UTF-16LE form. Returns 0 or SQ_ERR_INVAL. */
int utf8_utf16le_size(const char *s, size_t len, size_t *size);

/* Appends the UTF-16LE form of the NUL-terminated UTF-8 string utf8 (without a terminator) to
 * w. On invalid UTF-8 nothing is appended and w->err becomes SQ_ERR_INVAL (if it was not
 * already set); a NULL string counts as invalid. */
void writer_put_utf16le(struct writer *w, const char *utf8);
/* The same for len bytes of UTF-8 (a NUL byte among them is invalid). */
void writer_put_utf16le_len(struct writer *w, const char *utf8, size_t len);

#endif
