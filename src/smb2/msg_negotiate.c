/* NEGOTIATE request encoder and response decoder, MS-SMB2 2.2.3 and 2.2.4; contracts in
 * include/smb2/msg_session.h. */
#include <string.h>

#include "smb2/msg_session.h"
#include "util/error.h"
#include "util/utf16.h"

#define NEGOTIATE_REQUEST_SIZE  36 /* fixed part, MS-SMB2 2.2.3 */
#define NEGOTIATE_RESPONSE_SIZE 64 /* fixed part; StructureSize says 65, MS-SMB2 2.2.4 */
#define CONTEXT_HEADER_SIZE     8  /* ContextType, DataLength, Reserved: MS-SMB2 2.2.3.1 */
#define CONTEXT_MAX_DATA        0xFFFF

static bool has_dialect(const struct smb2_negotiate_request *req, uint16_t dialect)
{
    for (size_t i = 0; i < req->dialect_count; i++)
        if (req->dialects[i] == dialect)
            return true;
    return false;
}

static bool bad_list(const uint16_t *list, size_t count)
{
    return count > SMB2_NEGOTIATE_MAX_ALGORITHMS || (count && !list);
}

/* Checks every argument before anything is written, so that SQ_ERR_INVAL leaves w untouched.
 * Sets *netname_size to the UTF-16 length of the netname. */
static int check_request(const struct smb2_negotiate_request *req, size_t *netname_size)
{
    *netname_size = 0;
    if (!req->dialects || req->dialect_count == 0 ||
        req->dialect_count > SMB2_NEGOTIATE_MAX_DIALECTS)
        return SQ_ERR_INVAL;
    if (!has_dialect(req, SMB2_DIALECT_0311))
        return 0;
    if ((req->preauth_salt_len && !req->preauth_salt) ||
        req->preauth_salt_len > CONTEXT_MAX_DATA - 6)
        return SQ_ERR_INVAL;
    if (bad_list(req->ciphers, req->cipher_count) ||
        bad_list(req->signing_algorithms, req->signing_algorithm_count))
        return SQ_ERR_INVAL;
    if (req->netname && req->netname[0]) {
        if (utf8_utf16le_size(req->netname, strlen(req->netname), netname_size) != 0 ||
            *netname_size > CONTEXT_MAX_DATA)
            return SQ_ERR_INVAL;
    }
    return 0;
}

/* Starts a context at the next 8-byte boundary from the header; returns the offset of its
 * DataLength field, to be patched once the data is written. */
static size_t context_begin(struct writer *w, size_t hdr, uint16_t type)
{
    writer_align(w, hdr, 8);
    writer_put_le16(w, type);
    size_t len_at = w->len;
    writer_put_le16(w, 0); /* DataLength, patched */
    writer_put_le32(w, 0); /* Reserved */
    return len_at;
}

static void context_end(struct writer *w, size_t len_at)
{
    writer_patch_le16(w, len_at, (uint16_t)(w->len - (len_at + 6)));
}

static void put_list(struct writer *w, const uint16_t *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        writer_put_le16(w, list[i]);
}

/* Appends the 3.1.1 negotiate contexts; returns how many were written. */
static uint16_t put_contexts(struct writer *w, size_t hdr, const struct smb2_negotiate_request *req)
{
    uint16_t count = 0;
    size_t at;

    at = context_begin(w, hdr, SMB2_PREAUTH_INTEGRITY_CAPABILITIES); /* 2.2.3.1.1 */
    writer_put_le16(w, 1);                                           /* HashAlgorithmCount */
    writer_put_le16(w, (uint16_t)req->preauth_salt_len);
    writer_put_le16(w, SMB2_PREAUTH_HASH_SHA512);
    writer_put_bytes(w, req->preauth_salt, req->preauth_salt_len);
    context_end(w, at);
    count++;

    if (req->cipher_count) { /* 2.2.3.1.2 */
        at = context_begin(w, hdr, SMB2_ENCRYPTION_CAPABILITIES);
        writer_put_le16(w, (uint16_t)req->cipher_count);
        put_list(w, req->ciphers, req->cipher_count);
        context_end(w, at);
        count++;
    }
    if (req->send_compression_none) { /* 2.2.3.1.3 */
        at = context_begin(w, hdr, SMB2_COMPRESSION_CAPABILITIES);
        writer_put_le16(w, 1); /* CompressionAlgorithmCount */
        writer_put_le16(w, 0); /* Padding */
        writer_put_le32(w, 0); /* Flags: SMB2_COMPRESSION_CAPABILITIES_FLAG_NONE */
        writer_put_le16(w, SMB2_COMPRESSION_NONE);
        context_end(w, at);
        count++;
    }
    if (req->netname && req->netname[0]) { /* 2.2.3.1.4 */
        at = context_begin(w, hdr, SMB2_NETNAME_NEGOTIATE_CONTEXT_ID);
        writer_put_utf16le(w, req->netname);
        context_end(w, at);
        count++;
    }
    if (req->send_transport_capabilities) { /* 2.2.3.1.5 */
        at = context_begin(w, hdr, SMB2_TRANSPORT_CAPABILITIES);
        writer_put_le32(w, req->transport_flags);
        context_end(w, at);
        count++;
    }
    if (req->signing_algorithm_count) { /* 2.2.3.1.7 */
        at = context_begin(w, hdr, SMB2_SIGNING_CAPABILITIES);
        writer_put_le16(w, (uint16_t)req->signing_algorithm_count);
        put_list(w, req->signing_algorithms, req->signing_algorithm_count);
        context_end(w, at);
        count++;
    }
    return count;
}

int smb2_negotiate_request_encode(struct writer *w, const struct smb2_negotiate_request *req)
{
    size_t netname_size;
    if (w->err)
        return w->err;
    if (w->len < SMB2_HEADER_SIZE || check_request(req, &netname_size) != 0)
        return SQ_ERR_INVAL;
    size_t hdr = w->len - SMB2_HEADER_SIZE;
    bool smb311 = has_dialect(req, SMB2_DIALECT_0311);

    writer_put_le16(w, NEGOTIATE_REQUEST_SIZE);
    writer_put_le16(w, (uint16_t)req->dialect_count);
    writer_put_le16(w, req->security_mode);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le32(w, req->capabilities);
    writer_put_bytes(w, req->client_guid, sizeof(req->client_guid));
    size_t ctx_fields = w->len;
    writer_put_le32(w, 0); /* NegotiateContextOffset, patched (or ClientStartTime = 0) */
    writer_put_le16(w, 0); /* NegotiateContextCount, patched */
    writer_put_le16(w, 0); /* Reserved2 */
    put_list(w, req->dialects, req->dialect_count);
    if (smb311) {
        writer_align(w, hdr, 8);
        size_t first = w->len - hdr;
        uint16_t count = put_contexts(w, hdr, req);
        writer_patch_le32(w, ctx_fields, (uint32_t)first);
        writer_patch_le16(w, ctx_fields + 4, count);
    }
    return writer_error(w);
}

/* Parses one context's data (a reader over exactly DataLength bytes) into out. */
static void parse_context(uint16_t type, struct reader *d, struct smb2_negotiate_response *out)
{
    switch (type) {
    case SMB2_PREAUTH_INTEGRITY_CAPABILITIES: { /* 2.2.4.1.1 */
        uint16_t count = reader_get_le16(d);
        uint16_t salt_len = reader_get_le16(d);
        out->preauth_hash_algorithm_count = count;
        if (count) {
            out->preauth_hash_algorithm = reader_get_le16(d);
            reader_skip(d, (size_t)(count - 1) * 2);
        }
        out->preauth_salt = reader_get_ptr(d, salt_len);
        out->preauth_salt_len = salt_len;
        if (!salt_len)
            out->preauth_salt = NULL;
        break;
    }
    case SMB2_ENCRYPTION_CAPABILITIES: /* 2.2.4.1.2: exactly one selected cipher */
        if (reader_get_le16(d) != 1)
            reader_fail(d);
        out->cipher = reader_get_le16(d);
        break;
    case SMB2_COMPRESSION_CAPABILITIES: { /* 2.2.4.1.3: checked, then ignored */
        uint16_t count = reader_get_le16(d);
        reader_skip(d, 2 + 4); /* Padding, Flags */
        reader_skip(d, (size_t)count * 2);
        break;
    }
    case SMB2_TRANSPORT_CAPABILITIES: /* 2.2.4.1.5 */
        out->transport_flags = reader_get_le32(d);
        break;
    case SMB2_SIGNING_CAPABILITIES: /* 2.2.4.1.7: exactly one selected algorithm */
        if (reader_get_le16(d) != 1)
            reader_fail(d);
        out->signing_algorithm = reader_get_le16(d);
        break;
    default: /* NETNAME, RDMA_TRANSFORM and unknown types: skipped */
        break;
    }
}

static int parse_contexts(struct reader *r, uint32_t offset, uint16_t count,
                          struct smb2_negotiate_response *out)
{
    if (count == 0)
        return 0;
    if (offset < SMB2_HEADER_SIZE + NEGOTIATE_RESPONSE_SIZE || offset % 8)
        return SQ_ERR_PROTO;
    reader_seek(r, offset);
    for (uint16_t i = 0; i < count && !reader_error(r); i++) {
        if (i)
            reader_align(r, 8); /* the message starts 8-aligned, so this aligns from it */
        uint16_t type = reader_get_le16(r);
        uint16_t data_len = reader_get_le16(r);
        reader_skip(r, 4); /* Reserved */
        size_t data_off = r->off;
        reader_skip(r, data_len);
        if (reader_error(r))
            break;
        if (type < 32) {
            uint32_t bit = SMB2_NEGOTIATE_CONTEXT_BIT(type);
            if (out->contexts_seen & bit)
                return SQ_ERR_PROTO;
            out->contexts_seen |= bit;
        }
        struct reader d;
        reader_sub(r, data_off, data_len, &d);
        parse_context(type, &d, out);
        if (reader_error(&d))
            return SQ_ERR_PROTO;
    }
    return reader_error(r) ? SQ_ERR_PROTO : 0;
}

int smb2_negotiate_response_decode(const uint8_t *msg, size_t len,
                                   struct smb2_negotiate_response *out)
{
    struct reader r;
    memset(out, 0, sizeof(*out));
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    out->security_mode = reader_get_le16(&r);
    out->dialect = reader_get_le16(&r);
    uint16_t ctx_count = reader_get_le16(&r); /* Reserved unless 3.1.1 */
    reader_get_bytes(&r, out->server_guid, sizeof(out->server_guid));
    out->capabilities = reader_get_le32(&r);
    out->max_transact_size = reader_get_le32(&r);
    out->max_read_size = reader_get_le32(&r);
    out->max_write_size = reader_get_le32(&r);
    out->system_time = reader_get_le64(&r);
    out->server_start_time = reader_get_le64(&r);
    uint16_t sec_off = reader_get_le16(&r);
    uint16_t sec_len = reader_get_le16(&r);
    uint32_t ctx_off = reader_get_le32(&r); /* Reserved2 unless 3.1.1 */
    if (reader_error(&r) || structure_size != NEGOTIATE_RESPONSE_SIZE + 1)
        goto bad;
    if (sec_len) {
        struct reader sec;
        if (sec_off < SMB2_HEADER_SIZE + NEGOTIATE_RESPONSE_SIZE)
            goto bad;
        reader_sub(&r, sec_off, sec_len, &sec);
        if (reader_error(&r))
            goto bad;
        out->security_buffer = sec.data;
        out->security_buffer_len = sec_len;
    }
    if (out->dialect == SMB2_DIALECT_0311) {
        out->negotiate_context_count = ctx_count;
        if (parse_contexts(&r, ctx_off, ctx_count, out) != 0)
            goto bad;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}
