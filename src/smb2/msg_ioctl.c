/* SMB2 IOCTL request/response (MS-SMB2 2.2.31/2.2.32) and the FSCTL payloads a filesystem uses:
 * server-side copy (2.2.31.1, 2.2.32.1, 2.2.32.3), allocated ranges, zero data, sparse and
 * symbolic-link reparse points (MS-FSCC 2.3, 2.1.2). Contracts in include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

#define IOCTL_REQUEST_SIZE       57
#define IOCTL_RESPONSE_SIZE      49
#define IOCTL_INPUT_OFFSET       (SMB2_HEADER_SIZE + 56) /* 0x78 */
#define IOCTL_RESPONSE_FIXED_END (SMB2_HEADER_SIZE + 48)
#define SYMLINK_FIXED_SIZE       12 /* name offsets and lengths, Flags */

int smb2_ioctl_request_encode(struct writer *w, const struct smb2_ioctl_request *req)
{
    if (req->input_len && !req->input)
        return SQ_ERR_INVAL;
    writer_put_le16(w, IOCTL_REQUEST_SIZE);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le32(w, req->ctl_code);
    smb2_file_id_encode(w, &req->file_id);
    writer_put_le32(w, req->input_len ? IOCTL_INPUT_OFFSET : 0);
    writer_put_le32(w, req->input_len);
    writer_put_le32(w, req->max_input_response);
    writer_put_le32(w, 0); /* OutputOffset */
    writer_put_le32(w, 0); /* OutputCount */
    writer_put_le32(w, req->max_output_response);
    writer_put_le32(w, req->flags);
    writer_put_le32(w, 0); /* Reserved2 */
    if (req->input_len)
        writer_put_bytes(w, req->input, req->input_len);
    else
        writer_put_u8(w, 0); /* the Buffer is at least one byte long */
    return writer_error(w);
}

/* A buffer given by (offset from the header, length): inside msg and after the fixed part. */
static int buffer_in_msg(const uint8_t *msg, size_t len, uint32_t off, uint32_t n,
                         const uint8_t **p, uint32_t *plen)
{
    *p = NULL;
    *plen = 0;
    if (n == 0)
        return 0;
    if (off < IOCTL_RESPONSE_FIXED_END || off > len || n > len - off)
        return SQ_ERR_PROTO;
    *p = msg + off;
    *plen = n;
    return 0;
}

int smb2_ioctl_response_decode(const uint8_t *msg, size_t len, struct smb2_ioctl_response *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    reader_skip(&r, 2); /* Reserved */
    out->ctl_code = reader_get_le32(&r);
    smb2_file_id_decode(&r, &out->file_id);
    uint32_t in_off = reader_get_le32(&r);
    uint32_t in_len = reader_get_le32(&r);
    uint32_t out_off = reader_get_le32(&r);
    uint32_t out_len = reader_get_le32(&r);
    out->flags = reader_get_le32(&r);
    reader_skip(&r, 4); /* Reserved2 */
    if (reader_error(&r) || structure_size != IOCTL_RESPONSE_SIZE ||
        buffer_in_msg(msg, len, in_off, in_len, &out->input, &out->input_len) != 0 ||
        buffer_in_msg(msg, len, out_off, out_len, &out->output, &out->output_len) != 0) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_resume_key_decode(const uint8_t *p, size_t len, uint8_t key[SMB2_RESUME_KEY_SIZE])
{
    struct reader r;
    reader_init(&r, p, len);
    reader_get_bytes(&r, key, SMB2_RESUME_KEY_SIZE);
    uint32_t context_len = reader_get_le32(&r);
    reader_skip(&r, context_len); /* Context: reserved, but must fit */
    if (reader_error(&r)) {
        memset(key, 0, SMB2_RESUME_KEY_SIZE);
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_copychunk_encode(struct writer *w, const uint8_t key[SMB2_RESUME_KEY_SIZE],
                          const struct smb2_copychunk *chunks, uint32_t count)
{
    if (count && !chunks)
        return SQ_ERR_INVAL;
    writer_put_bytes(w, key, SMB2_RESUME_KEY_SIZE);
    writer_put_le32(w, count);
    writer_put_le32(w, 0); /* Reserved */
    for (uint32_t i = 0; i < count; i++) {
        writer_put_le64(w, chunks[i].source_offset);
        writer_put_le64(w, chunks[i].target_offset);
        writer_put_le32(w, chunks[i].length);
        writer_put_le32(w, 0); /* Reserved */
    }
    return writer_error(w);
}

int smb2_copychunk_response_decode(const uint8_t *p, size_t len,
                                   struct smb2_copychunk_response *out)
{
    struct reader r;
    reader_init(&r, p, len);
    out->chunks_written = reader_get_le32(&r);
    out->chunk_bytes_written = reader_get_le32(&r);
    out->total_bytes_written = reader_get_le32(&r);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_allocated_range_encode(struct writer *w, uint64_t offset, uint64_t length)
{
    writer_put_le64(w, offset);
    writer_put_le64(w, length);
    return writer_error(w);
}

int smb2_allocated_range_next(struct reader *r, uint64_t *offset, uint64_t *length)
{
    *offset = 0;
    *length = 0;
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t remaining = reader_remaining(r);
    if (remaining == 0)
        return 0;
    if (remaining < 16) { /* a partial FILE_ALLOCATED_RANGE_BUFFER */
        reader_fail(r);
        return SQ_ERR_PROTO;
    }
    *offset = reader_get_le64(r);
    *length = reader_get_le64(r);
    return 1;
}

int smb2_zero_data_encode(struct writer *w, uint64_t offset, uint64_t beyond_final_zero)
{
    if (beyond_final_zero < offset)
        return SQ_ERR_INVAL;
    writer_put_le64(w, offset);
    writer_put_le64(w, beyond_final_zero);
    return writer_error(w);
}

int smb2_set_sparse_encode(struct writer *w, bool sparse)
{
    writer_put_u8(w, sparse ? 1 : 0);
    return writer_error(w);
}

int smb2_reparse_decode(const uint8_t *p, size_t len, struct smb2_reparse *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, p, len);
    out->tag = reader_get_le32(&r);
    uint16_t data_len = reader_get_le16(&r);
    reader_skip(&r, 2); /* Reserved */
    const uint8_t *data = reader_get_ptr(&r, data_len);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    out->data = data_len ? data : NULL;
    out->data_len = data_len;
    return 0;
}

/* A name inside PathBuffer: offset and length are relative to PathBuffer (MS-FSCC 2.1.2.4). */
static int path_name(const uint8_t *path, size_t path_len, uint16_t off, uint16_t n,
                     const uint8_t **p)
{
    *p = NULL;
    if ((off & 1) || (n & 1) || off > path_len || n > path_len - off)
        return SQ_ERR_PROTO;
    if (n)
        *p = path + off;
    return 0;
}

int smb2_symlink_reparse_decode(const uint8_t *p, size_t len, struct smb2_symlink_reparse *out)
{
    memset(out, 0, sizeof(*out));
    struct smb2_reparse rp;
    if (smb2_reparse_decode(p, len, &rp) != 0 || rp.tag != SMB2_IO_REPARSE_TAG_SYMLINK)
        return SQ_ERR_PROTO;
    struct reader r;
    reader_init(&r, rp.data, rp.data_len);
    uint16_t sub_off = reader_get_le16(&r);
    uint16_t sub_len = reader_get_le16(&r);
    uint16_t print_off = reader_get_le16(&r);
    uint16_t print_len = reader_get_le16(&r);
    out->flags = reader_get_le32(&r);
    size_t path_len = reader_remaining(&r);
    const uint8_t *path = reader_get_ptr(&r, path_len);
    if (reader_error(&r) ||
        path_name(path, path_len, sub_off, sub_len, &out->substitute_name) != 0 ||
        path_name(path, path_len, print_off, print_len, &out->print_name) != 0) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    out->substitute_name_len = sub_len;
    out->print_name_len = print_len;
    return 0;
}

int smb2_symlink_reparse_encode(struct writer *w, const struct smb2_symlink_reparse *in)
{
    size_t data_len =
        SYMLINK_FIXED_SIZE + (size_t)in->substitute_name_len + (size_t)in->print_name_len;
    if (data_len > UINT16_MAX || (in->substitute_name_len & 1) || (in->print_name_len & 1) ||
        (in->substitute_name_len && !in->substitute_name) ||
        (in->print_name_len && !in->print_name))
        return SQ_ERR_INVAL;
    writer_put_le32(w, SMB2_IO_REPARSE_TAG_SYMLINK);
    writer_put_le16(w, (uint16_t)data_len);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le16(w, 0); /* SubstituteNameOffset */
    writer_put_le16(w, in->substitute_name_len);
    writer_put_le16(w, in->substitute_name_len); /* PrintNameOffset */
    writer_put_le16(w, in->print_name_len);
    writer_put_le32(w, in->flags);
    writer_put_bytes(w, in->substitute_name, in->substitute_name_len);
    writer_put_bytes(w, in->print_name, in->print_name_len);
    return writer_error(w);
}
