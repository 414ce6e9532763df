/* SMB2 QUERY_INFO and SET_INFO (MS-SMB2 2.2.37-2.2.40) and the MS-FSCC information structures
 * a filesystem reads and writes through them (MS-FSCC 2.4, 2.5). Contracts in
 * include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

#define QUERY_INFO_REQUEST_SIZE       41
#define QUERY_INFO_INPUT_OFFSET       (SMB2_HEADER_SIZE + 40) /* 0x68 */
#define SET_INFO_REQUEST_SIZE         33
#define SET_INFO_BUFFER_OFFSET        (SMB2_HEADER_SIZE + 32) /* 0x60 */
#define SET_INFO_RESPONSE_SIZE        2

#define EA_FIXED_SIZE     8
#define STREAM_FIXED_SIZE 24

int smb2_query_info_request_encode(struct writer *w, const struct smb2_query_info_request *req)
{
    if (req->input_len && !req->input)
        return SQ_ERR_INVAL;
    writer_put_le16(w, QUERY_INFO_REQUEST_SIZE);
    writer_put_u8(w, req->info_type);
    writer_put_u8(w, req->info_class);
    writer_put_le32(w, req->output_buffer_length);
    writer_put_le16(w, req->input_len ? QUERY_INFO_INPUT_OFFSET : 0);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le32(w, req->input_len);
    writer_put_le32(w, req->additional_information);
    writer_put_le32(w, req->flags);
    smb2_file_id_encode(w, &req->file_id);
    if (req->input_len)
        writer_put_bytes(w, req->input, req->input_len);
    else
        writer_put_u8(w, 0); /* the Buffer is at least one byte long */
    return writer_error(w);
}

int smb2_query_info_response_decode(const uint8_t *msg, size_t len, struct smb2_output_buffer *out)
{
    /* MS-SMB2 2.2.38: the same shape as QUERY_DIRECTORY's and CHANGE_NOTIFY's responses. */
    return smb2_output_buffer_response_decode(msg, len, out);
}

int smb2_set_info_request_encode(struct writer *w, const struct smb2_set_info_request *req)
{
    if (req->buffer_len && !req->buffer)
        return SQ_ERR_INVAL;
    writer_put_le16(w, SET_INFO_REQUEST_SIZE);
    writer_put_u8(w, req->info_type);
    writer_put_u8(w, req->info_class);
    writer_put_le32(w, req->buffer_len);
    writer_put_le16(w, SET_INFO_BUFFER_OFFSET);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le32(w, req->additional_information);
    smb2_file_id_encode(w, &req->file_id);
    if (req->buffer_len)
        writer_put_bytes(w, req->buffer, req->buffer_len);
    else
        writer_put_u8(w, 0); /* the Buffer is at least one byte long */
    return writer_error(w);
}

int smb2_set_info_response_decode(const uint8_t *msg, size_t len)
{
    struct reader r;
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    return reader_error(&r) || structure_size != SET_INFO_RESPONSE_SIZE ? SQ_ERR_PROTO : 0;
}

/* Reads the 40-byte FILE_BASIC_INFORMATION body (MS-FSCC 2.4.7). */
static void get_basic(struct reader *r, struct smb2_file_basic_info *out)
{
    out->creation_time = reader_get_le64(r);
    out->last_access_time = reader_get_le64(r);
    out->last_write_time = reader_get_le64(r);
    out->change_time = reader_get_le64(r);
    out->file_attributes = reader_get_le32(r);
    reader_skip(r, 4); /* Reserved */
}

/* Reads the 24-byte FILE_STANDARD_INFORMATION body (MS-FSCC 2.4). */
static void get_standard(struct reader *r, struct smb2_file_standard_info *out)
{
    out->allocation_size = reader_get_le64(r);
    out->end_of_file = reader_get_le64(r);
    out->number_of_links = reader_get_le32(r);
    out->delete_pending = reader_get_u8(r) != 0;
    out->directory = reader_get_u8(r) != 0;
    reader_skip(r, 2); /* Reserved */
}

int smb2_file_basic_info_decode(const uint8_t *p, size_t len, struct smb2_file_basic_info *out)
{
    struct reader r;
    reader_init(&r, p, len);
    get_basic(&r, out);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_file_basic_info_encode(struct writer *w, const struct smb2_file_basic_info *in)
{
    writer_put_le64(w, in->creation_time);
    writer_put_le64(w, in->last_access_time);
    writer_put_le64(w, in->last_write_time);
    writer_put_le64(w, in->change_time);
    writer_put_le32(w, in->file_attributes);
    writer_put_le32(w, 0); /* Reserved */
    return writer_error(w);
}

int smb2_file_standard_info_decode(const uint8_t *p, size_t len,
                                   struct smb2_file_standard_info *out)
{
    struct reader r;
    reader_init(&r, p, len);
    get_standard(&r, out);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_file_internal_info_decode(const uint8_t *p, size_t len, uint64_t *index_number)
{
    struct reader r;
    reader_init(&r, p, len);
    *index_number = reader_get_le64(&r);
    return reader_error(&r) ? SQ_ERR_PROTO : 0;
}

int smb2_file_all_info_decode(const uint8_t *p, size_t len, struct smb2_file_all_info *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, p, len);
    get_basic(&r, &out->basic);
    get_standard(&r, &out->standard);
    out->index_number = reader_get_le64(&r);          /* FileInternalInformation */
    out->ea_size = reader_get_le32(&r);               /* FileEaInformation */
    out->access_flags = reader_get_le32(&r);          /* FileAccessInformation */
    out->current_byte_offset = reader_get_le64(&r);   /* FilePositionInformation */
    out->mode = reader_get_le32(&r);                  /* FileModeInformation */
    out->alignment_requirement = reader_get_le32(&r); /* FileAlignmentInformation */
    uint32_t name_len = reader_get_le32(&r);          /* FileNameInformation */
    const uint8_t *name = reader_get_ptr(&r, name_len);
    if (reader_error(&r) || (name_len & 1)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    out->name = name_len ? name : NULL;
    out->name_len = name_len;
    return 0;
}

int smb2_file_network_open_info_decode(const uint8_t *p, size_t len,
                                       struct smb2_file_network_open_info *out)
{
    struct reader r;
    reader_init(&r, p, len);
    out->creation_time = reader_get_le64(&r);
    out->last_access_time = reader_get_le64(&r);
    out->last_write_time = reader_get_le64(&r);
    out->change_time = reader_get_le64(&r);
    out->allocation_size = reader_get_le64(&r);
    out->end_of_file = reader_get_le64(&r);
    out->file_attributes = reader_get_le32(&r);
    reader_skip(&r, 4); /* Reserved */
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_fs_full_size_info_decode(const uint8_t *p, size_t len, struct smb2_fs_size_info *out)
{
    struct reader r;
    reader_init(&r, p, len);
    out->total_allocation_units = reader_get_le64(&r);
    out->caller_available_units = reader_get_le64(&r);
    out->actual_available_units = reader_get_le64(&r);
    out->sectors_per_allocation_unit = reader_get_le32(&r);
    out->bytes_per_sector = reader_get_le32(&r);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_fs_size_info_decode(const uint8_t *p, size_t len, struct smb2_fs_size_info *out)
{
    struct reader r;
    reader_init(&r, p, len);
    out->total_allocation_units = reader_get_le64(&r);
    out->caller_available_units = reader_get_le64(&r);
    out->actual_available_units = out->caller_available_units;
    out->sectors_per_allocation_unit = reader_get_le32(&r);
    out->bytes_per_sector = reader_get_le32(&r);
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_fs_attribute_info_decode(const uint8_t *p, size_t len, struct smb2_fs_attribute_info *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, p, len);
    out->attributes = reader_get_le32(&r);
    out->max_component_name_len = reader_get_le32(&r);
    uint32_t name_len = reader_get_le32(&r);
    const uint8_t *name = reader_get_ptr(&r, name_len);
    if (reader_error(&r) || (name_len & 1)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    out->fs_name = name_len ? name : NULL;
    out->fs_name_len = name_len;
    return 0;
}

/* Checks the link to the next entry of a NextEntryOffset chain and returns this entry's extent,
 * or 0 when Next is misaligned, does not move past `fixed`, or leaves no room for another
 * entry of at least `fixed` bytes (so a chain can neither loop nor end mid-entry). */
static size_t chain_extent(uint32_t next, size_t remaining, size_t fixed, size_t align)
{
    if (next == 0)
        return remaining;
    if ((next & (align - 1)) != 0 || next < fixed || next > remaining || remaining - next < fixed)
        return 0;
    return next;
}

int smb2_ea_list_encode(struct writer *w, const struct smb2_ea *eas, size_t count)
{
    if (count == 0 || !eas)
        return SQ_ERR_INVAL;
    for (size_t i = 0; i < count; i++)
        if (eas[i].name_len == 0 || !eas[i].name || memchr(eas[i].name, 0, eas[i].name_len) ||
            (eas[i].value_len && !eas[i].value))
            return SQ_ERR_INVAL;
    for (size_t i = 0; i < count; i++) {
        const struct smb2_ea *ea = &eas[i];
        size_t size = EA_FIXED_SIZE + (size_t)ea->name_len + 1 + ea->value_len;
        size_t next = i + 1 < count ? (size + 3) & ~(size_t)3 : 0;
        writer_put_le32(w, (uint32_t)next);
        writer_put_u8(w, ea->flags);
        writer_put_u8(w, ea->name_len);
        writer_put_le16(w, ea->value_len);
        writer_put_bytes(w, ea->name, ea->name_len);
        writer_put_u8(w, 0); /* the name's terminating NUL */
        writer_put_bytes(w, ea->value, ea->value_len);
        if (next)
            writer_put_zeros(w, next - size);
    }
    return writer_error(w);
}

int smb2_ea_next(struct reader *r, struct smb2_ea *out)
{
    memset(out, 0, sizeof(*out));
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t start = r->off;
    size_t remaining = r->len - start;
    if (remaining == 0)
        return 0;
    if (remaining < EA_FIXED_SIZE)
        goto bad;
    uint32_t next = reader_get_le32(r);
    uint8_t flags = reader_get_u8(r);
    uint8_t name_len = reader_get_u8(r);
    uint16_t value_len = reader_get_le16(r);
    /* Entries are 4-byte aligned (MS-FSCC 2.4.15); the name, its NUL and the value must fit. */
    size_t extent = chain_extent(next, remaining, EA_FIXED_SIZE, 4);
    size_t need = EA_FIXED_SIZE + (size_t)name_len + 1 + value_len;
    if (reader_error(r) || extent == 0 || name_len == 0 || need > extent)
        goto bad;
    /* The name is NUL-terminated and holds no other NUL (it becomes a C string upstream). */
    const uint8_t *name = r->data + start + EA_FIXED_SIZE;
    if (name[name_len] != 0 || memchr(name, 0, name_len))
        goto bad;
    out->flags = flags;
    out->name = name;
    out->name_len = name_len;
    out->value = value_len ? name + name_len + 1 : NULL;
    out->value_len = value_len;
    reader_seek(r, next ? start + next : r->len);
    return 1;
bad:
    reader_fail(r);
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_get_ea_list_encode(struct writer *w, const struct smb2_ea *names, size_t count)
{
    if (count == 0 || !names)
        return SQ_ERR_INVAL;
    for (size_t i = 0; i < count; i++)
        if (names[i].name_len == 0 || !names[i].name || memchr(names[i].name, 0, names[i].name_len))
            return SQ_ERR_INVAL;
    for (size_t i = 0; i < count; i++) {
        /* FILE_GET_EA_INFORMATION: NextEntryOffset, EaNameLength, EaName and its NUL. */
        size_t size = 5 + (size_t)names[i].name_len + 1;
        size_t next = i + 1 < count ? (size + 3) & ~(size_t)3 : 0;
        writer_put_le32(w, (uint32_t)next);
        writer_put_u8(w, names[i].name_len);
        writer_put_bytes(w, names[i].name, names[i].name_len);
        writer_put_u8(w, 0);
        if (next)
            writer_put_zeros(w, next - size);
    }
    return writer_error(w);
}

int smb2_stream_info_next(struct reader *r, struct smb2_stream_info *out)
{
    memset(out, 0, sizeof(*out));
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t start = r->off;
    size_t remaining = r->len - start;
    if (remaining == 0)
        return 0;
    if (remaining < STREAM_FIXED_SIZE)
        goto bad;
    uint32_t next = reader_get_le32(r);
    uint32_t name_len = reader_get_le32(r);
    out->size = reader_get_le64(r);
    out->allocation_size = reader_get_le64(r);
    size_t extent = chain_extent(next, remaining, STREAM_FIXED_SIZE, 8);
    if (reader_error(r) || extent == 0 || name_len == 0 || (name_len & 1) ||
        name_len > extent - STREAM_FIXED_SIZE)
        goto bad;
    out->name = r->data + start + STREAM_FIXED_SIZE;
    out->name_len = name_len;
    reader_seek(r, next ? start + next : r->len);
    return 1;
bad:
    reader_fail(r);
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

int smb2_file_end_of_file_info_encode(struct writer *w, uint64_t end_of_file)
{
    writer_put_le64(w, end_of_file);
    return writer_error(w);
}

int smb2_file_allocation_info_encode(struct writer *w, uint64_t allocation_size)
{
    writer_put_le64(w, allocation_size);
    return writer_error(w);
}

int smb2_file_disposition_info_encode(struct writer *w, bool delete_pending)
{
    writer_put_u8(w, delete_pending ? 1 : 0);
    return writer_error(w);
}

/* FILE_RENAME_INFORMATION_TYPE_2 and FILE_LINK_INFORMATION_TYPE_2 share this layout. */
static int rename_like_encode(struct writer *w, bool replace_if_exists, const uint8_t *name,
                              size_t name_len)
{
    if (name_len == 0 || !name || (name_len & 1) || name_len > UINT32_MAX - 2)
        return SQ_ERR_INVAL;
    writer_put_u8(w, replace_if_exists ? 1 : 0);
    writer_put_zeros(w, 7); /* Reserved */
    writer_put_le64(w, 0);  /* RootDirectory: always 0 over the network */
    writer_put_le32(w, (uint32_t)name_len);
    writer_put_bytes(w, name, name_len);
    writer_put_le16(w, 0); /* UTF-16 NUL, not counted */
    return writer_error(w);
}

int smb2_file_rename_info_encode(struct writer *w, bool replace_if_exists, const uint8_t *name,
                                 size_t name_len)
{
    return rename_like_encode(w, replace_if_exists, name, name_len);
}

int smb2_file_link_info_encode(struct writer *w, bool replace_if_exists, const uint8_t *name,
                               size_t name_len)
{
    return rename_like_encode(w, replace_if_exists, name, name_len);
}
