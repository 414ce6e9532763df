/* SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, ECHO and CANCEL codecs,
 * MS-SMB2 2.2.5 - 2.2.12, 2.2.28 - 2.2.30; contracts in include/smb2/msg_session.h. */
#include <string.h>

#include "smb2/msg_session.h"
#include "util/error.h"
#include "util/utf16.h"

#define SESSION_SETUP_REQUEST_SIZE  24 /* fixed part; StructureSize says 25 */
#define SESSION_SETUP_RESPONSE_SIZE 8  /* fixed part; StructureSize says 9 */
#define TREE_CONNECT_REQUEST_SIZE   8  /* fixed part; StructureSize says 9 */
#define TREE_CONNECT_RESPONSE_SIZE  16
#define SMALL_BODY_SIZE             4 /* LOGOFF, TREE_DISCONNECT, ECHO, CANCEL */

/* Positions a reader at the body of msg and reads StructureSize. */
static uint16_t body_start(struct reader *r, const uint8_t *msg, size_t len)
{
    reader_init(r, msg, len);
    reader_seek(r, SMB2_HEADER_SIZE);
    return reader_get_le16(r);
}

int smb2_session_setup_request_encode(struct writer *w,
                                      const struct smb2_session_setup_request *req)
{
    if (w->err)
        return w->err;
    if (w->len < SMB2_HEADER_SIZE || req->security_buffer_len > UINT16_MAX ||
        (req->security_buffer_len && !req->security_buffer))
        return SQ_ERR_INVAL;
    size_t hdr = w->len - SMB2_HEADER_SIZE;
    writer_put_le16(w, SESSION_SETUP_REQUEST_SIZE + 1);
    writer_put_u8(w, req->flags);
    writer_put_u8(w, req->security_mode);
    writer_put_le32(w, req->capabilities);
    writer_put_le32(w, 0);                                    /* Channel */
    writer_put_le16(w, (uint16_t)(w->len + 2 + 2 + 8 - hdr)); /* SecurityBufferOffset */
    writer_put_le16(w, (uint16_t)req->security_buffer_len);
    writer_put_le64(w, req->previous_session_id);
    if (req->security_buffer_len)
        writer_put_bytes(w, req->security_buffer, req->security_buffer_len);
    else
        writer_put_u8(w, 0); /* the odd StructureSize counts one byte of Buffer */
    return writer_error(w);
}

int smb2_session_setup_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_session_setup_response *out)
{
    struct reader r;
    memset(out, 0, sizeof(*out));
    uint16_t structure_size = body_start(&r, msg, len);
    out->session_flags = reader_get_le16(&r);
    uint16_t sec_off = reader_get_le16(&r);
    uint16_t sec_len = reader_get_le16(&r);
    if (reader_error(&r) || structure_size != SESSION_SETUP_RESPONSE_SIZE + 1)
        goto bad;
    if (sec_len) {
        struct reader sec;
        if (sec_off < SMB2_HEADER_SIZE + SESSION_SETUP_RESPONSE_SIZE)
            goto bad;
        reader_sub(&r, sec_off, sec_len, &sec);
        if (reader_error(&r))
            goto bad;
        out->security_buffer = sec.data;
        out->security_buffer_len = sec_len;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

static int small_request(struct writer *w)
{
    if (w->err)
        return w->err;
    if (w->len < SMB2_HEADER_SIZE)
        return SQ_ERR_INVAL;
    writer_put_le16(w, SMALL_BODY_SIZE);
    writer_put_le16(w, 0); /* Reserved */
    return writer_error(w);
}

static int small_response(const uint8_t *msg, size_t len)
{
    struct reader r;
    uint16_t structure_size = body_start(&r, msg, len);
    reader_skip(&r, 2); /* Reserved */
    if (reader_error(&r) || structure_size != SMALL_BODY_SIZE)
        return SQ_ERR_PROTO;
    return 0;
}

int smb2_logoff_request_encode(struct writer *w)
{
    return small_request(w);
}

int smb2_logoff_response_decode(const uint8_t *msg, size_t len)
{
    return small_response(msg, len);
}

int smb2_tree_disconnect_request_encode(struct writer *w)
{
    return small_request(w);
}

int smb2_tree_disconnect_response_decode(const uint8_t *msg, size_t len)
{
    return small_response(msg, len);
}

int smb2_echo_request_encode(struct writer *w)
{
    return small_request(w);
}

int smb2_echo_response_decode(const uint8_t *msg, size_t len)
{
    return small_response(msg, len);
}

int smb2_cancel_request_encode(struct writer *w)
{
    return small_request(w);
}

int smb2_tree_connect_request_encode(struct writer *w, const struct smb2_tree_connect_request *req)
{
    size_t path_size;
    if (w->err)
        return w->err;
    if (w->len < SMB2_HEADER_SIZE || !req->path || !req->path[0] ||
        (req->flags & SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT) ||
        utf8_utf16le_size(req->path, strlen(req->path), &path_size) != 0 || path_size > UINT16_MAX)
        return SQ_ERR_INVAL;
    size_t hdr = w->len - SMB2_HEADER_SIZE;
    writer_put_le16(w, TREE_CONNECT_REQUEST_SIZE + 1);
    writer_put_le16(w, req->flags);
    writer_put_le16(w, (uint16_t)(w->len + 2 + 2 - hdr)); /* PathOffset */
    writer_put_le16(w, (uint16_t)path_size);
    writer_put_utf16le(w, req->path);
    return writer_error(w);
}

int smb2_tree_connect_response_decode(const uint8_t *msg, size_t len,
                                      struct smb2_tree_connect_response *out)
{
    struct reader r;
    memset(out, 0, sizeof(*out));
    uint16_t structure_size = body_start(&r, msg, len);
    out->share_type = reader_get_u8(&r);
    reader_skip(&r, 1); /* Reserved */
    out->share_flags = reader_get_le32(&r);
    out->capabilities = reader_get_le32(&r);
    out->maximal_access = reader_get_le32(&r);
    if (reader_error(&r) || structure_size != TREE_CONNECT_RESPONSE_SIZE) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}
