/* ERROR response, its error contexts and the symbolic link error, MS-SMB2 2.2.2; contracts in
 * include/smb2/msg_session.h. */
#include <string.h>

#include "smb2/msg_session.h"
#include "smb2/ntstatus.h"
#include "util/error.h"

#define ERROR_RESPONSE_SIZE       8  /* fixed part; StructureSize says 9 */
#define ERROR_CONTEXT_HEADER_SIZE 8  /* ErrorDataLength, ErrorId: MS-SMB2 2.2.2.1 */
#define SYMLINK_FIXED_SIZE        28 /* up to PathBuffer, MS-SMB2 2.2.2.2.1 */
#define IO_REPARSE_TAG_SYMLINK    0xA000000Cu

/* Reads the next error context from r (over ErrorData); contexts start 8-byte aligned from the
 * start of ErrorData, which is itself 8-aligned in the message (64 + 8). */
static void next_context(struct reader *r, bool first, struct smb2_error_context *ctx)
{
    if (!first)
        reader_align(r, 8);
    uint32_t data_len = reader_get_le32(r);
    ctx->error_id = reader_get_le32(r);
    ctx->data = reader_get_ptr(r, data_len);
    ctx->len = data_len;
    if (!data_len || reader_error(r))
        ctx->data = NULL;
    if (reader_error(r))
        ctx->len = 0;
}

int smb2_error_response_decode(const uint8_t *msg, size_t len, struct smb2_error_response *out)
{
    struct reader r;
    memset(out, 0, sizeof(*out));
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    out->error_context_count = reader_get_u8(&r);
    reader_skip(&r, 1); /* Reserved */
    uint32_t byte_count = reader_get_le32(&r);
    /* A ByteCount of 0 normally comes with one padding byte (the odd StructureSize), but some
     * servers omit it: get_ptr(0) accepts both. */
    const uint8_t *data = reader_get_ptr(&r, byte_count);
    if (reader_error(&r) || structure_size != ERROR_RESPONSE_SIZE + 1)
        goto bad;
    out->error_data = byte_count ? data : NULL;
    out->error_data_len = byte_count;

    /* Every announced context must lie inside ErrorData: the count cannot walk past it. */
    struct reader d;
    reader_init(&d, out->error_data, out->error_data_len);
    for (unsigned i = 0; i < out->error_context_count; i++) {
        struct smb2_error_context ctx;
        next_context(&d, i == 0, &ctx);
        if (reader_error(&d))
            goto bad;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_error_context_get(const struct smb2_error_response *er, unsigned index,
                           struct smb2_error_context *out)
{
    struct reader d;
    memset(out, 0, sizeof(*out));
    if (index >= er->error_context_count)
        return SQ_ERR_INVAL;
    reader_init(&d, er->error_data, er->error_data_len);
    for (unsigned i = 0; i <= index; i++)
        next_context(&d, i == 0, out);
    if (reader_error(&d)) { /* only for a struct not filled by smb2_error_response_decode */
        memset(out, 0, sizeof(*out));
        return SQ_ERR_INVAL;
    }
    return 0;
}

void smb2_error_default_data(const struct smb2_error_response *er, const uint8_t **data,
                             size_t *len)
{
    *data = NULL;
    *len = 0;
    if (er->error_context_count == 0) {
        *data = er->error_data;
        *len = er->error_data_len;
        return;
    }
    for (unsigned i = 0; i < er->error_context_count; i++) {
        struct smb2_error_context ctx;
        if (smb2_error_context_get(er, i, &ctx) != 0)
            return;
        if (ctx.error_id == SMB2_ERROR_ID_DEFAULT) {
            *data = ctx.data;
            *len = ctx.len;
            return;
        }
    }
}

/* A name inside PathBuffer: offset and length in bytes, UTF-16 so even. */
static int path_name(const struct reader *path, uint16_t off, uint16_t len, const uint8_t **p,
                     size_t *p_len)
{
    *p = NULL;
    *p_len = 0;
    if (len % 2 || off > path->len || len > path->len - off)
        return SQ_ERR_PROTO;
    if (len) {
        *p = path->data + off;
        *p_len = len;
    }
    return 0;
}

int smb2_symlink_error_decode(const uint8_t *data, size_t len, struct smb2_symlink_error *out)
{
    struct reader r;
    memset(out, 0, sizeof(*out));
    reader_init(&r, data, len);
    uint32_t symlink_len = reader_get_le32(&r); /* everything after this field */
    uint32_t tag = reader_get_le32(&r);
    uint32_t reparse_tag = reader_get_le32(&r);
    reader_skip(&r, 2); /* ReparseDataLength: implied by SymLinkLength */
    out->unparsed_path_length = reader_get_le16(&r);
    uint16_t sub_off = reader_get_le16(&r);
    uint16_t sub_len = reader_get_le16(&r);
    uint16_t print_off = reader_get_le16(&r);
    uint16_t print_len = reader_get_le16(&r);
    out->flags = reader_get_le32(&r);
    if (reader_error(&r) || tag != SMB2_SYMLINK_ERROR_TAG || reparse_tag != IO_REPARSE_TAG_SYMLINK)
        goto bad;
    if (symlink_len < SYMLINK_FIXED_SIZE - 4 || symlink_len > len - 4)
        goto bad;
    struct reader path;
    reader_sub(&r, SYMLINK_FIXED_SIZE, (size_t)symlink_len + 4 - SYMLINK_FIXED_SIZE, &path);
    if (reader_error(&r) ||
        path_name(&path, sub_off, sub_len, &out->substitute_name, &out->substitute_name_len) ||
        path_name(&path, print_off, print_len, &out->print_name, &out->print_name_len))
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_error_response_symlink(const struct smb2_error_response *er,
                                struct smb2_symlink_error *out)
{
    const uint8_t *data;
    size_t len;
    smb2_error_default_data(er, &data, &len);
    return smb2_symlink_error_decode(data, len, out);
}

int smb2_error_buffer_too_small(const struct smb2_error_response *er, uint32_t *required)
{
    const uint8_t *data;
    size_t len;
    struct reader r;
    smb2_error_default_data(er, &data, &len);
    reader_init(&r, data, len);
    *required = reader_get_le32(&r);
    return reader_error(&r) ? SQ_ERR_PROTO : 0;
}

bool smb2_status_has_command_body(uint16_t command, uint32_t status)
{
    if (status == STATUS_PENDING)
        return false; /* interim response, MS-SMB2 3.3.4.2 */
    if (ntstatus_is_success(status))
        return true;
    switch (status) {
    case STATUS_MORE_PROCESSING_REQUIRED:
        return command == SMB2_SESSION_SETUP;
    case STATUS_BUFFER_OVERFLOW:
        return command == SMB2_QUERY_INFO || command == SMB2_READ || command == SMB2_IOCTL;
    default:
        return false;
    }
}
