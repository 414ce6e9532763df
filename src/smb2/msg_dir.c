/* SMB2 QUERY_DIRECTORY and CHANGE_NOTIFY (MS-SMB2 2.2.33-2.2.36), the directory information
 * classes of MS-FSCC 2.4 and FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1). Contracts in
 * include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

#define QUERY_DIRECTORY_REQUEST_SIZE 33
#define QUERY_DIRECTORY_NAME_OFFSET  (SMB2_HEADER_SIZE + 32) /* 0x60 */
#define CHANGE_NOTIFY_REQUEST_SIZE   32
#define OUTPUT_RESPONSE_SIZE         9 /* QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO responses */
#define OUTPUT_RESPONSE_FIXED_END    (SMB2_HEADER_SIZE + 8)
#define NOTIFY_FIXED_SIZE            12
#define SHORT_NAME_SIZE              24

int smb2_query_directory_request_encode(struct writer *w,
                                        const struct smb2_query_directory_request *req)
{
    if ((req->pattern_len & 1) || (req->pattern_len && !req->pattern))
        return SQ_ERR_INVAL;
    writer_put_le16(w, QUERY_DIRECTORY_REQUEST_SIZE);
    writer_put_u8(w, req->info_class);
    writer_put_u8(w, req->flags);
    writer_put_le32(w, req->file_index);
    smb2_file_id_encode(w, &req->file_id);
    writer_put_le16(w, req->pattern_len ? QUERY_DIRECTORY_NAME_OFFSET : 0);
    writer_put_le16(w, req->pattern_len);
    writer_put_le32(w, req->output_buffer_length);
    if (req->pattern_len)
        writer_put_bytes(w, req->pattern, req->pattern_len);
    else
        writer_put_u8(w, 0); /* the Buffer is at least one byte long */
    return writer_error(w);
}

/* The shared response shape: StructureSize 9, OutputBufferOffset (2), OutputBufferLength (4). */
int smb2_output_buffer_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_output_buffer *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    uint16_t off = reader_get_le16(&r);
    uint32_t n = reader_get_le32(&r);
    if (reader_error(&r) || structure_size != OUTPUT_RESPONSE_SIZE)
        return SQ_ERR_PROTO;
    if (n == 0)
        return 0;
    if (off < OUTPUT_RESPONSE_FIXED_END || off > len || n > len - off)
        return SQ_ERR_PROTO;
    out->buffer = msg + off;
    out->buffer_len = n;
    return 0;
}

int smb2_query_directory_response_decode(const uint8_t *msg, size_t len,
                                         struct smb2_output_buffer *out)
{
    return smb2_output_buffer_response_decode(msg, len, out);
}

/* Fixed sizes of the supported classes (the FileName follows). */
static size_t dirinfo_fixed_size(uint8_t info_class)
{
    switch (info_class) {
    case FILE_DIRECTORY_INFORMATION: /* FileDirectoryInformation */
        return 64;
    case FILE_FULL_DIRECTORY_INFORMATION: /* FileFullDirectoryInformation */
        return 68;
    case FILE_ID_FULL_DIRECTORY_INFORMATION: /* FileIdFullDirectoryInformation */
        return 80;
    case FILE_BOTH_DIRECTORY_INFORMATION: /* FileBothDirectoryInformation */
        return 94;
    case FILE_ID_BOTH_DIRECTORY_INFORMATION: /* FileIdBothDirectoryInformation */
        return 104;
    default:
        return 0;
    }
}

/* Validates the chain step shared by the NextEntryOffset lists: returns the entry's extent
 * (Next, or all that remains for the last entry) or 0 for a malformed link. Next must be
 * aligned, move forward past the fixed part and leave room for the next entry's fixed part. */
static size_t chain_extent(uint32_t next, size_t remaining, size_t fixed, size_t align)
{
    if (next == 0)
        return remaining;
    if ((next & (align - 1)) != 0 || next < fixed || next > remaining || remaining - next < fixed)
        return 0;
    return next;
}

int smb2_dirinfo_next(struct reader *r, uint8_t info_class, struct smb2_dirent *out)
{
    memset(out, 0, sizeof(*out));
    size_t fixed = dirinfo_fixed_size(info_class);
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t start = r->off;
    size_t remaining = r->len - start;
    if (remaining == 0 && fixed != 0)
        return 0;
    if (fixed == 0 || remaining < fixed)
        goto bad;

    uint32_t next = reader_get_le32(r);
    out->file_index = reader_get_le32(r);
    out->creation_time = reader_get_le64(r);
    out->last_access_time = reader_get_le64(r);
    out->last_write_time = reader_get_le64(r);
    out->change_time = reader_get_le64(r);
    out->end_of_file = reader_get_le64(r);
    out->allocation_size = reader_get_le64(r);
    out->file_attributes = reader_get_le32(r);
    uint32_t name_len = reader_get_le32(r);
    if (info_class != FILE_DIRECTORY_INFORMATION)
        out->ea_size = reader_get_le32(r);
    if (info_class == FILE_ID_FULL_DIRECTORY_INFORMATION) {
        reader_skip(r, 4); /* Reserved */
        out->file_id = reader_get_le64(r);
    } else if (info_class == FILE_BOTH_DIRECTORY_INFORMATION ||
               info_class == FILE_ID_BOTH_DIRECTORY_INFORMATION) {
        uint8_t short_len = reader_get_u8(r);
        reader_skip(r, 1); /* Reserved1 */
        const uint8_t *short_name = reader_get_ptr(r, SHORT_NAME_SIZE);
        if (short_len > SHORT_NAME_SIZE || (short_len & 1))
            goto bad;
        out->short_name = short_len ? short_name : NULL;
        out->short_name_len = short_len;
        if (info_class == FILE_ID_BOTH_DIRECTORY_INFORMATION) {
            reader_skip(r, 2); /* Reserved2 */
            out->file_id = reader_get_le64(r);
        }
    }
    if (reader_error(r))
        goto bad;

    /* Entries are 8-byte aligned (MS-FSCC 2.4); FileNameLength must fit in this entry
     * (libsmb2 trusted it) and name a non-empty UTF-16 string. */
    size_t extent = chain_extent(next, remaining, fixed, 8);
    if (extent == 0 || name_len == 0 || (name_len & 1) || name_len > extent - fixed)
        goto bad;
    out->name = r->data + start + fixed;
    out->name_len = name_len;
    reader_seek(r, next ? start + next : r->len);
    return 1;
bad:
    reader_fail(r);
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_change_notify_request_encode(struct writer *w,
                                      const struct smb2_change_notify_request *req)
{
    writer_put_le16(w, CHANGE_NOTIFY_REQUEST_SIZE);
    writer_put_le16(w, req->flags);
    writer_put_le32(w, req->output_buffer_length);
    smb2_file_id_encode(w, &req->file_id);
    writer_put_le32(w, req->completion_filter);
    writer_put_le32(w, 0); /* Reserved */
    return writer_error(w);
}

int smb2_change_notify_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_output_buffer *out)
{
    return smb2_output_buffer_response_decode(msg, len, out);
}

int smb2_notify_info_next(struct reader *r, struct smb2_notify_info *out)
{
    memset(out, 0, sizeof(*out));
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t start = r->off;
    size_t remaining = r->len - start;
    if (remaining == 0)
        return 0;
    if (remaining < NOTIFY_FIXED_SIZE)
        goto bad;
    uint32_t next = reader_get_le32(r);
    out->action = reader_get_le32(r);
    uint32_t name_len = reader_get_le32(r);
    size_t extent = chain_extent(next, remaining, NOTIFY_FIXED_SIZE, 4);
    if (reader_error(r) || extent == 0 || name_len == 0 || (name_len & 1) ||
        name_len > extent - NOTIFY_FIXED_SIZE)
        goto bad;
    out->name = r->data + start + NOTIFY_FIXED_SIZE;
    out->name_len = name_len;
    reader_seek(r, next ? start + next : r->len);
    return 1;
bad:
    reader_fail(r);
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}
