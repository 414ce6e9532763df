/* SMB2 CREATE request/response and create contexts, MS-SMB2 2.2.13, 2.2.13.2, 2.2.14,
 * 2.2.14.2. Contracts in include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

#define CREATE_REQUEST_SIZE       57                      /* StructureSize, 2.2.13 */
#define CREATE_RESPONSE_SIZE      89                      /* StructureSize, 2.2.14 */
#define CREATE_NAME_OFFSET        (SMB2_HEADER_SIZE + 56) /* 0x78: right after the fixed part */
#define CREATE_RESPONSE_FIXED_END (SMB2_HEADER_SIZE + 88) /* 0x98 */
#define CONTEXT_HEADER_SIZE                                                                        \
    16 /* Next, NameOffset, NameLength, Reserved, DataOffset, DataLength                           \
        */
#define LEASE_V1_SIZE 32
#define LEASE_V2_SIZE 52

void smb2_file_id_encode(struct writer *w, const struct smb2_file_id *id)
{
    writer_put_le64(w, id->persistent);
    writer_put_le64(w, id->volatile_);
}

void smb2_file_id_decode(struct reader *r, struct smb2_file_id *id)
{
    id->persistent = reader_get_le64(r);
    id->volatile_ = reader_get_le64(r);
}

/* One context to encode: a name and a data body written by a callback-free switch below. */
enum ctx_kind { CTX_RAW, CTX_DH2C, CTX_DH2Q, CTX_LEASE, CTX_MXAC, CTX_QFID, CTX_EXTA };

struct ctx {
    enum ctx_kind kind;
    const uint8_t *name;
    size_t name_len;
    const uint8_t *data; /* CTX_RAW / CTX_EXTA */
    size_t data_len;
};

static size_t ctx_data_len(const struct smb2_create_request *req, const struct ctx *c)
{
    switch (c->kind) {
    case CTX_DH2C:
        return 36;
    case CTX_DH2Q:
        return 32;
    case CTX_LEASE:
        return LEASE_V2_SIZE;
    case CTX_MXAC:
        return req->maximal_access_timestamp ? 8 : 0;
    case CTX_QFID:
        return 0;
    default:
        return c->data_len;
    }
}

static void ctx_put_data(struct writer *w, const struct smb2_create_request *req,
                         const struct ctx *c)
{
    switch (c->kind) {
    case CTX_DH2C: /* 2.2.13.2.12 */
        smb2_file_id_encode(w, &req->durable_reconnect->file_id);
        writer_put_bytes(w, req->durable_reconnect->create_guid, 16);
        writer_put_le32(w, req->durable_reconnect->flags);
        break;
    case CTX_DH2Q: /* 2.2.13.2.11 */
        writer_put_le32(w, req->durable->timeout_ms);
        writer_put_le32(w, req->durable->flags);
        writer_put_zeros(w, 8);
        writer_put_bytes(w, req->durable->create_guid, 16);
        break;
    case CTX_LEASE: /* 2.2.13.2.10 */
        writer_put_bytes(w, req->lease->key, SMB2_LEASE_KEY_SIZE);
        writer_put_le32(w, req->lease->state);
        writer_put_le32(w, req->lease->flags);
        writer_put_le64(w, 0); /* LeaseDuration */
        writer_put_bytes(w, req->lease->parent_key, SMB2_LEASE_KEY_SIZE);
        writer_put_le16(w, req->lease->epoch);
        writer_put_le16(w, 0);
        break;
    case CTX_MXAC: /* 2.2.13.2.5 */
        if (req->maximal_access_timestamp)
            writer_put_le64(w, req->maximal_access_timestamp);
        break;
    case CTX_QFID:
        break;
    default:
        writer_put_bytes(w, c->data, c->data_len);
        break;
    }
}

#define MAX_CONTEXTS 6

int smb2_create_request_encode(struct writer *w, const struct smb2_create_request *req)
{
    if (w->len < SMB2_HEADER_SIZE)
        return SQ_ERR_INVAL;
    if (req->name_len > UINT16_MAX || (req->name_len & 1) || (req->name_len && !req->name))
        return SQ_ERR_INVAL;

    struct ctx list[MAX_CONTEXTS];
    size_t n = 0;
    if (req->durable_reconnect)
        list[n++] = (struct ctx){CTX_DH2C, (const uint8_t *)"DH2C", 4, NULL, 0};
    if (req->durable)
        list[n++] = (struct ctx){CTX_DH2Q, (const uint8_t *)"DH2Q", 4, NULL, 0};
    if (req->lease)
        list[n++] = (struct ctx){CTX_LEASE, (const uint8_t *)"RqLs", 4, NULL, 0};
    if (req->query_maximal_access)
        list[n++] = (struct ctx){CTX_MXAC, (const uint8_t *)"MxAc", 4, NULL, 0};
    if (req->query_on_disk_id)
        list[n++] = (struct ctx){CTX_QFID, (const uint8_t *)"QFid", 4, NULL, 0};
    if (req->ea_buffer_len)
        list[n++] =
            (struct ctx){CTX_EXTA, (const uint8_t *)"ExtA", 4, req->ea_buffer, req->ea_buffer_len};
    size_t total = n + req->extra_context_count;
    if (req->extra_context_count > SIZE_MAX / 2 ||
        (req->extra_context_count && !req->extra_contexts))
        return SQ_ERR_INVAL;

    /* Size every context first so that nothing is written for an invalid request. Each context
     * is the 16-byte header, the name padded to 8, then the data. */
    uint64_t contexts_len = 0;
    for (size_t i = 0; i < total; i++) {
        struct ctx c;
        if (i < n) {
            c = list[i];
        } else {
            const struct smb2_create_context *x = &req->extra_contexts[i - n];
            c = (struct ctx){CTX_RAW, x->name, x->name_len, x->data, x->data_len};
        }
        size_t dlen = ctx_data_len(req, &c);
        if (c.name_len == 0 || c.name_len > UINT16_MAX || !c.name || dlen > UINT32_MAX ||
            (dlen && !c.data && (c.kind == CTX_RAW || c.kind == CTX_EXTA)))
            return SQ_ERR_INVAL;
        uint64_t size = CONTEXT_HEADER_SIZE + ((c.name_len + 7) & ~(size_t)7) + dlen;
        contexts_len = ((contexts_len + 7) & ~(uint64_t)7) + size;
        if (contexts_len > UINT32_MAX / 2)
            return SQ_ERR_INVAL;
    }

    size_t hdr = w->len - SMB2_HEADER_SIZE;
    size_t name_end = CREATE_NAME_OFFSET + req->name_len;
    size_t ctx_off = total ? (name_end + 7) & ~(size_t)7 : 0;

    writer_put_le16(w, CREATE_REQUEST_SIZE);
    writer_put_u8(w, 0); /* SecurityFlags */
    writer_put_u8(w, req->requested_oplock_level);
    writer_put_le32(w, req->impersonation_level);
    writer_put_le64(w, 0); /* SmbCreateFlags */
    writer_put_le64(w, 0); /* Reserved */
    writer_put_le32(w, req->desired_access);
    writer_put_le32(w, req->file_attributes);
    writer_put_le32(w, req->share_access);
    writer_put_le32(w, req->create_disposition);
    writer_put_le32(w, req->create_options);
    writer_put_le16(w, CREATE_NAME_OFFSET);
    writer_put_le16(w, (uint16_t)req->name_len);
    writer_put_le32(w, (uint32_t)ctx_off);
    writer_put_le32(w, (uint32_t)contexts_len);
    writer_put_bytes(w, req->name, req->name_len);
    if (!total) {
        if (!req->name_len)
            writer_put_u8(w, 0); /* the Buffer is at least one byte long */
        return writer_error(w);
    }

    for (size_t i = 0; i < total; i++) {
        writer_align(w, hdr, 8);
        struct ctx c;
        if (i < n) {
            c = list[i];
        } else {
            const struct smb2_create_context *x = &req->extra_contexts[i - n];
            c = (struct ctx){CTX_RAW, x->name, x->name_len, x->data, x->data_len};
        }
        size_t dlen = ctx_data_len(req, &c);
        size_t name_pad = (c.name_len + 7) & ~(size_t)7;
        size_t size = CONTEXT_HEADER_SIZE + name_pad + dlen;
        size_t next = i + 1 < total ? (size + 7) & ~(size_t)7 : 0;
        writer_put_le32(w, (uint32_t)next);
        writer_put_le16(w, CONTEXT_HEADER_SIZE); /* NameOffset */
        writer_put_le16(w, (uint16_t)c.name_len);
        writer_put_le16(w, 0); /* Reserved */
        writer_put_le16(w, dlen ? (uint16_t)(CONTEXT_HEADER_SIZE + name_pad) : 0);
        writer_put_le32(w, (uint32_t)dlen);
        writer_put_bytes(w, c.name, c.name_len);
        writer_put_zeros(w, name_pad - c.name_len);
        ctx_put_data(w, req, &c);
    }
    return writer_error(w);
}

/* Reads one context: see the iterator contract in msg_file.h. The reader's offset is the
 * context's start (8-byte aligned relative to the list, which itself is 8-byte aligned). */
int smb2_create_context_next(struct reader *r, struct smb2_create_context *out)
{
    memset(out, 0, sizeof(*out));
    if (reader_error(r))
        return SQ_ERR_PROTO;
    size_t start = r->off;
    size_t remaining = r->len - start;
    if (remaining == 0)
        return 0;
    if ((start & 7) != 0 || remaining < CONTEXT_HEADER_SIZE)
        goto bad;
    uint32_t next = reader_get_le32(r);
    uint16_t name_off = reader_get_le16(r);
    uint16_t name_len = reader_get_le16(r);
    reader_skip(r, 2); /* Reserved */
    uint16_t data_off = reader_get_le16(r);
    uint32_t data_len = reader_get_le32(r);
    if (reader_error(r))
        goto bad;

    size_t extent = remaining;
    if (next != 0) {
        /* Next moves forward, stays aligned and leaves room for another context header. */
        if ((next & 7) != 0 || next < CONTEXT_HEADER_SIZE || next > remaining ||
            remaining - next < CONTEXT_HEADER_SIZE)
            goto bad;
        extent = next;
    }
    if (name_len == 0 || name_off < CONTEXT_HEADER_SIZE || (name_off & 7) != 0 ||
        name_off > extent || name_len > extent - name_off)
        goto bad;
    if (data_len != 0) {
        if ((data_off & 7) != 0 || data_off < (size_t)name_off + name_len || data_off > extent ||
            data_len > extent - data_off)
            goto bad;
        out->data = r->data + start + data_off;
        out->data_len = data_len;
    }
    out->name = r->data + start + name_off;
    out->name_len = name_len;
    reader_seek(r, next ? start + next : r->len);
    return 1;
bad:
    reader_fail(r);
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}

static bool tag_is(const struct smb2_create_context *c, const char *tag)
{
    return c->name_len == SMB2_CREATE_CONTEXT_TAG_LEN &&
           memcmp(c->name, tag, SMB2_CREATE_CONTEXT_TAG_LEN) == 0;
}

/* Extracts the contexts a client asked for; a known one with short data is an error. */
static int parse_context(const struct smb2_create_context *c, struct smb2_create_response *out)
{
    struct reader d;
    reader_init(&d, c->data, c->data_len);
    if (tag_is(c, SMB2_CREATE_REQUEST_LEASE)) {
        /* 2.2.14.2.10 (v1, 32 bytes) and 2.2.14.2.11 (v2, 52 bytes). */
        if (c->data_len != LEASE_V1_SIZE && c->data_len < LEASE_V2_SIZE)
            return SQ_ERR_PROTO;
        if (out->has_lease)
            return 0;
        struct smb2_lease *l = &out->lease;
        reader_get_bytes(&d, l->key, SMB2_LEASE_KEY_SIZE);
        l->state = reader_get_le32(&d);
        l->flags = reader_get_le32(&d);
        reader_skip(&d, 8); /* LeaseDuration */
        l->version = 1;
        if (c->data_len >= LEASE_V2_SIZE) {
            reader_get_bytes(&d, l->parent_key, SMB2_LEASE_KEY_SIZE);
            l->epoch = reader_get_le16(&d);
            l->version = 2;
        }
        out->has_lease = true;
    } else if (tag_is(c, SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2)) {
        if (c->data_len < 8) /* 2.2.14.2.12 */
            return SQ_ERR_PROTO;
        if (out->has_durable_v2)
            return 0;
        out->durable_timeout_ms = reader_get_le32(&d);
        out->durable_flags = reader_get_le32(&d);
        out->has_durable_v2 = true;
    } else if (tag_is(c, SMB2_CREATE_DURABLE_HANDLE_REQUEST)) {
        out->has_durable_v1 = true; /* 2.2.14.2.3: 8 reserved bytes, ignored */
    } else if (tag_is(c, SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST)) {
        if (c->data_len < 8) /* 2.2.14.2.5 */
            return SQ_ERR_PROTO;
        if (out->has_maximal_access)
            return 0;
        out->maximal_access_status = reader_get_le32(&d);
        out->maximal_access = reader_get_le32(&d);
        out->has_maximal_access = true;
    } else if (tag_is(c, SMB2_CREATE_QUERY_ON_DISK_ID)) {
        /* 2.2.14.2.9: DiskFileId, VolumeId, then 16 reserved bytes we do not require. */
        if (c->data_len < 16)
            return SQ_ERR_PROTO;
        if (out->has_on_disk_id)
            return 0;
        out->disk_file_id = reader_get_le64(&d);
        out->volume_id = reader_get_le64(&d);
        out->has_on_disk_id = true;
    }
    return reader_error(&d) ? SQ_ERR_PROTO : 0;
}

int smb2_create_response_decode(const uint8_t *msg, size_t len, struct smb2_create_response *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    out->oplock_level = reader_get_u8(&r);
    out->flags = reader_get_u8(&r);
    out->create_action = reader_get_le32(&r);
    out->creation_time = reader_get_le64(&r);
    out->last_access_time = reader_get_le64(&r);
    out->last_write_time = reader_get_le64(&r);
    out->change_time = reader_get_le64(&r);
    out->allocation_size = reader_get_le64(&r);
    out->end_of_file = reader_get_le64(&r);
    out->file_attributes = reader_get_le32(&r);
    reader_skip(&r, 4); /* Reserved2 */
    smb2_file_id_decode(&r, &out->file_id);
    uint32_t ctx_off = reader_get_le32(&r);
    uint32_t ctx_len = reader_get_le32(&r);
    if (reader_error(&r) || structure_size != CREATE_RESPONSE_SIZE)
        goto bad;

    if (ctx_len != 0) {
        if (ctx_off < CREATE_RESPONSE_FIXED_END || (ctx_off & 7) != 0 || ctx_off > len ||
            ctx_len > len - ctx_off)
            goto bad;
        out->contexts = msg + ctx_off;
        out->contexts_len = ctx_len;
        struct reader cr;
        reader_init(&cr, out->contexts, ctx_len);
        struct smb2_create_context c;
        int rc;
        while ((rc = smb2_create_context_next(&cr, &c)) == 1)
            if (parse_context(&c, out) != 0)
                goto bad;
        if (rc != 0)
            goto bad;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return SQ_ERR_PROTO;
}
