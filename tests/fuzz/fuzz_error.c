/* libFuzzer target: SMB2 ERROR response (MS-SMB2 2.2.2) with 3.1.1 error contexts, the
 * Symbolic Link Error Response (2.2.2.2.1) and the STATUS_BUFFER_TOO_SMALL data, both inside a
 * response and as raw bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_session.h"
#include "smb2/ntstatus.h"
#include "util/error.h"
#include "util/utf16.h"

/* Aborts unless [p, p+n) lies inside [base, base+size); an empty span must be NULL. */
#define INSIDE(p, n, base, size)                                                                   \
    do {                                                                                           \
        if ((n) && (!(p) || (p) < (base) || (size_t)((p) - (base)) > (size) ||                     \
                    (size_t)(n) > (size) - (size_t)((p) - (base))))                                \
            abort();                                                                               \
        if (!(n) && (p))                                                                           \
            abort();                                                                               \
    } while (0)

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void name(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    INSIDE(p, n, base, size);
    if (n & 1)
        abort();
    char *s;
    if (utf16le_to_utf8(p, n, &s) == 0) {
        sink += (unsigned)strlen(s);
        free(s);
    }
}

static void check_symlink(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    struct smb2_symlink_error sl;
    if (smb2_symlink_error_decode(p, n, &sl) != 0) {
        if (sl.substitute_name || sl.print_name || sl.flags)
            abort();
        return;
    }
    name(sl.substitute_name, sl.substitute_name_len, base, size);
    name(sl.print_name, sl.print_name_len, base, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_error_response er;
    if (smb2_error_response_decode(data, size, &er) == 0) {
        INSIDE(er.error_data, er.error_data_len, data, size);
        for (unsigned i = 0; i < er.error_context_count; i++) {
            struct smb2_error_context ctx;
            if (smb2_error_context_get(&er, i, &ctx) != 0)
                abort(); /* the decoder validated every announced context */
            INSIDE(ctx.data, ctx.len, er.error_data, er.error_data_len);
            if (ctx.len)
                sink += ctx.data[ctx.len - 1];
        }
        struct smb2_error_context ctx;
        if (smb2_error_context_get(&er, er.error_context_count, &ctx) != SQ_ERR_INVAL)
            abort();
        const uint8_t *p;
        size_t n;
        smb2_error_default_data(&er, &p, &n);
        INSIDE(p, n, data, size);
        check_symlink(p, n, data, size);
        struct smb2_symlink_error sl;
        (void)smb2_error_response_symlink(&er, &sl);
        uint32_t required;
        if (smb2_error_buffer_too_small(&er, &required) == 0)
            sink += required;
    } else if (er.error_data || er.error_context_count) {
        abort();
    }
    check_symlink(data, size, data, size);
    if (size >= 6)
        sink += smb2_status_has_command_body((uint16_t)(data[0] | data[1] << 8),
                                             (uint32_t)data[2] | (uint32_t)data[3] << 8 |
                                                 (uint32_t)data[4] << 16 | (uint32_t)data[5] << 24);
    return 0;
}
