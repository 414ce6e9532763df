/* SMB2 CLOSE, FLUSH, READ, WRITE and LOCK, MS-SMB2 2.2.15-2.2.22, 2.2.26, 2.2.27. Contracts in
 * include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

#define CLOSE_REQUEST_SIZE      24
#define CLOSE_RESPONSE_SIZE     60
#define FLUSH_REQUEST_SIZE      24
#define FLUSH_RESPONSE_SIZE     4
#define READ_REQUEST_SIZE       49
#define READ_RESPONSE_SIZE      17
#define READ_RESPONSE_FIXED_END (SMB2_HEADER_SIZE + 16)
#define WRITE_REQUEST_SIZE      49
#define WRITE_RESPONSE_SIZE     17
#define LOCK_REQUEST_SIZE       48
#define LOCK_RESPONSE_SIZE      4

/* Opens a reader on a response body: positioned after StructureSize, which must match. */
static int body_open(const uint8_t *msg, size_t len, uint16_t structure_size, struct reader *r)
{
    reader_init(r, msg, len);
    reader_seek(r, SMB2_HEADER_SIZE);
    uint16_t size = reader_get_le16(r);
    return reader_error(r) || size != structure_size ? SQ_ERR_PROTO : 0;
}

int smb2_close_request_encode(struct writer *w, const struct smb2_close_request *req)
{
    writer_put_le16(w, CLOSE_REQUEST_SIZE);
    writer_put_le16(w, req->flags);
    writer_put_le32(w, 0); /* Reserved */
    smb2_file_id_encode(w, &req->file_id);
    return writer_error(w);
}

int smb2_close_response_decode(const uint8_t *msg, size_t len, struct smb2_close_response *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    if (body_open(msg, len, CLOSE_RESPONSE_SIZE, &r) != 0)
        return SQ_ERR_PROTO;
    out->flags = reader_get_le16(&r);
    reader_skip(&r, 4); /* Reserved */
    out->creation_time = reader_get_le64(&r);
    out->last_access_time = reader_get_le64(&r);
    out->last_write_time = reader_get_le64(&r);
    out->change_time = reader_get_le64(&r);
    out->allocation_size = reader_get_le64(&r);
    out->end_of_file = reader_get_le64(&r);
    out->file_attributes = reader_get_le32(&r);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_flush_request_encode(struct writer *w, const struct smb2_file_id *file_id)
{
    writer_put_le16(w, FLUSH_REQUEST_SIZE);
    writer_put_le16(w, 0); /* Reserved1 */
    writer_put_le32(w, 0); /* Reserved2 */
    smb2_file_id_encode(w, file_id);
    return writer_error(w);
}

/* FLUSH and LOCK responses: StructureSize 4 and a 2-byte Reserved field. */
static int small_response(const uint8_t *msg, size_t len, uint16_t structure_size)
{
    struct reader r;
    if (body_open(msg, len, structure_size, &r) != 0)
        return SQ_ERR_PROTO;
    reader_skip(&r, (size_t)structure_size - 2);
    return reader_error(&r) ? SQ_ERR_PROTO : 0;
}

int smb2_flush_response_decode(const uint8_t *msg, size_t len)
{
    return small_response(msg, len, FLUSH_RESPONSE_SIZE);
}

int smb2_read_request_encode(struct writer *w, const struct smb2_read_request *req)
{
    writer_put_le16(w, READ_REQUEST_SIZE);
    writer_put_u8(w, req->padding);
    writer_put_u8(w, req->flags);
    writer_put_le32(w, req->length);
    writer_put_le64(w, req->offset);
    smb2_file_id_encode(w, &req->file_id);
    writer_put_le32(w, req->minimum_count);
    writer_put_le32(w, SMB2_CHANNEL_NONE);
    writer_put_le32(w, req->remaining_bytes);
    writer_put_le16(w, 0); /* ReadChannelInfoOffset */
    writer_put_le16(w, 0); /* ReadChannelInfoLength */
    writer_put_u8(w, 0);   /* Buffer: one byte, 2.2.19 */
    return writer_error(w);
}

int smb2_read_response_decode(const uint8_t *msg, size_t len, struct smb2_read_response *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    if (body_open(msg, len, READ_RESPONSE_SIZE, &r) != 0)
        return SQ_ERR_PROTO;
    uint8_t data_off = reader_get_u8(&r);
    reader_skip(&r, 1); /* Reserved */
    uint32_t data_len = reader_get_le32(&r);
    out->data_remaining = reader_get_le32(&r);
    out->flags = reader_get_le32(&r);
    if (reader_error(&r))
        goto bad;
    if (data_len != 0) {
        if (data_off < READ_RESPONSE_FIXED_END || data_off > len || data_len > len - data_off)
            goto bad;
        out->data = msg + data_off;
        out->data_len = data_len;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_write_request_encode_header(struct writer *w, const struct smb2_write_request *req)
{
    writer_put_le16(w, WRITE_REQUEST_SIZE);
    writer_put_le16(w, SMB2_WRITE_REQUEST_DATA_OFFSET);
    writer_put_le32(w, req->length);
    writer_put_le64(w, req->offset);
    smb2_file_id_encode(w, &req->file_id);
    writer_put_le32(w, SMB2_CHANNEL_NONE);
    writer_put_le32(w, req->remaining_bytes);
    writer_put_le16(w, 0); /* WriteChannelInfoOffset */
    writer_put_le16(w, 0); /* WriteChannelInfoLength */
    writer_put_le32(w, req->flags);
    if (req->length == 0)
        writer_put_u8(w, 0); /* the Buffer is at least one byte long */
    return writer_error(w);
}

int smb2_write_request_encode(struct writer *w, const struct smb2_write_request *req)
{
    if (req->length && !req->data)
        return SQ_ERR_INVAL;
    if (writer_reserve(w, 48 + (size_t)(req->length ? req->length : 1)) != 0)
        return writer_error(w);
    smb2_write_request_encode_header(w, req);
    writer_put_bytes(w, req->data, req->length);
    return writer_error(w);
}

int smb2_write_response_decode(const uint8_t *msg, size_t len, struct smb2_write_response *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    if (body_open(msg, len, WRITE_RESPONSE_SIZE, &r) != 0)
        return SQ_ERR_PROTO;
    reader_skip(&r, 2); /* Reserved */
    out->count = reader_get_le32(&r);
    out->remaining = reader_get_le32(&r);
    reader_skip(&r, 4); /* WriteChannelInfoOffset, WriteChannelInfoLength */
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_lock_request_encode(struct writer *w, const struct smb2_lock_request *req)
{
    if (req->lock_count == 0 || !req->locks || req->lock_sequence_number > 0xF ||
        req->lock_sequence_index > 0x0FFFFFFF)
        return SQ_ERR_INVAL;
    writer_put_le16(w, LOCK_REQUEST_SIZE);
    writer_put_le16(w, req->lock_count);
    /* LockSequenceNumber in the low 4 bits, LockSequenceIndex in the high 28 (2.2.26). */
    writer_put_le32(w, req->lock_sequence_index << 4 | req->lock_sequence_number);
    smb2_file_id_encode(w, &req->file_id);
    for (uint16_t i = 0; i < req->lock_count; i++) {
        writer_put_le64(w, req->locks[i].offset);
        writer_put_le64(w, req->locks[i].length);
        writer_put_le32(w, req->locks[i].flags);
        writer_put_le32(w, 0); /* Reserved */
    }
    return writer_error(w);
}

int smb2_lock_response_decode(const uint8_t *msg, size_t len)
{
    return small_response(msg, len, LOCK_RESPONSE_SIZE);
}
