/* Unit tests for the SMB2 file-operation codecs (include/smb2/msg_file.h). Every message is
 * built field by field at the offsets MS-SMB2 / MS-FSCC give; decoders are checked on valid
 * input, on every truncation, and on hostile offsets, lengths and entry chains. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A message or buffer under construction, appended field by field. */
struct mb {
    uint8_t b[4096];
    size_t len;
};

static size_t mb_u8(struct mb *m, uint8_t v)
{
    m->b[m->len] = v;
    return m->len++;
}
static size_t mb_16(struct mb *m, uint16_t v)
{
    put16(m->b + m->len, v);
    m->len += 2;
    return m->len - 2;
}
static size_t mb_32(struct mb *m, uint32_t v)
{
    put32(m->b + m->len, v);
    m->len += 4;
    return m->len - 4;
}
static size_t mb_64(struct mb *m, uint64_t v)
{
    put32(m->b + m->len, (uint32_t)v);
    put32(m->b + m->len + 4, (uint32_t)(v >> 32));
    m->len += 8;
    return m->len - 8;
}
static size_t mb_bytes(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->len, p, n);
    m->len += n;
    return m->len - n;
}
static void mb_zeros(struct mb *m, size_t n)
{
    memset(m->b + m->len, 0, n);
    m->len += n;
}
static void mb_pad_to(struct mb *m, size_t off)
{
    ck_assert_uint_le(m->len, off);
    mb_zeros(m, off - m->len);
}
static void mb_align(struct mb *m, size_t a)
{
    while (m->len % a)
        mb_u8(m, 0);
}

/* The 64-byte header of a server response (MS-SMB2 2.2.1.2). */
static void mb_header(struct mb *m, uint16_t command)
{
    m->len = 0;
    mb_32(m, SMB2_PROTOCOL_ID);
    mb_16(m, 64);
    mb_16(m, 1); /* CreditCharge */
    mb_32(m, 0); /* Status */
    mb_16(m, command);
    mb_16(m, 1); /* CreditResponse */
    mb_32(m, SMB2_FLAGS_SERVER_TO_REDIR);
    mb_32(m, 0); /* NextCommand */
    mb_64(m, 7); /* MessageId */
    mb_32(m, 0); /* Reserved */
    mb_32(m, 1); /* TreeId */
    mb_64(m, 0x1122334455667788ull);
    mb_zeros(m, 16);
    ck_assert_uint_eq(m->len, SMB2_HEADER_SIZE);
}

/* ASCII to UTF-16LE for test names. */
static size_t u16(const char *s, uint8_t *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)s[i];
        out[2 * i + 1] = 0;
    }
    return 2 * n;
}

/* A writer holding a 64-byte request header, as the encoders expect. */
static void w_header(struct writer *w, uint16_t command)
{
    writer_init(w);
    struct smb2_header h = {.command = command, .credits = 1, .message_id = 3};
    smb2_header_encode(w, &h);
    ck_assert_uint_eq(w->len, SMB2_HEADER_SIZE);
}

typedef int (*decode_fn)(const uint8_t *p, size_t len);

/* Runs decode over an exact-size heap copy (so ASan sees any over-read). */
static int run(decode_fn decode, const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p, len);
    int rc = decode(copy, len);
    free(copy);
    return rc;
}

/* The full input decodes; every shorter prefix is SQ_ERR_PROTO. */
static void check_truncations(decode_fn decode, const uint8_t *p, size_t len)
{
    ck_assert_int_eq(run(decode, p, len), 0);
    for (size_t n = 0; n < len; n++)
        if (run(decode, p, n) != SQ_ERR_PROTO)
            ck_abort_msg("truncation to %zu of %zu bytes was accepted", n, len);
}

static const struct smb2_file_id FID = {0x0102030405060708ull, 0x1112131415161718ull};

static void mb_fid(struct mb *m)
{
    mb_64(m, FID.persistent);
    mb_64(m, FID.volatile_);
}

static void assert_fid(const uint8_t *p)
{
    ck_assert_uint_eq(get64(p), FID.persistent);
    ck_assert_uint_eq(get64(p + 8), FID.volatile_);
}

static const uint8_t LEASE_KEY[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t PARENT_KEY[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                       0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t GUID[16] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
                                 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf};

/* ---- CREATE ------------------------------------------------------------------------------- */

/* Appends one create context (MS-SMB2 2.2.13.2) at the current (8-aligned) offset: name at 16,
 * data at 24 when present. Returns the context's start. */
static size_t mb_context(struct mb *m, const char *tag, const void *data, uint32_t data_len,
                         bool last)
{
    size_t start = m->len;
    size_t size = 16 + 8 + data_len;
    mb_32(m, last ? 0 : (uint32_t)((size + 7) & ~(size_t)7)); /* Next */
    mb_16(m, 16);                                             /* NameOffset */
    mb_16(m, 4);                                              /* NameLength */
    mb_16(m, 0);                                              /* Reserved */
    mb_16(m, data_len ? 24 : 0);                              /* DataOffset */
    mb_32(m, data_len);                                       /* DataLength */
    mb_bytes(m, tag, 4);
    mb_zeros(m, 4);
    if (data_len)
        mb_bytes(m, data, data_len);
    if (!last)
        mb_align(m, 8);
    return start;
}

START_TEST(create_request_layout)
{
    uint8_t name[64];
    size_t name_len = u16("dir\\f.txt", name); /* 18 bytes */
    struct smb2_lease lease = {.state = SMB2_LEASE_READ_CACHING | SMB2_LEASE_HANDLE_CACHING,
                               .flags = SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET,
                               .epoch = 3};
    memcpy(lease.key, LEASE_KEY, 16);
    memcpy(lease.parent_key, PARENT_KEY, 16);
    struct smb2_durable_v2_request durable = {.timeout_ms = 60000, .flags = 0};
    memcpy(durable.create_guid, GUID, 16);
    struct smb2_create_request req = {
        .requested_oplock_level = SMB2_OPLOCK_LEVEL_LEASE,
        .impersonation_level = SMB2_IMPERSONATION_IMPERSONATION,
        .desired_access = FILE_READ_DATA | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE,
        .file_attributes = FILE_ATTRIBUTE_NORMAL,
        .share_access = FILE_SHARE_ALL,
        .create_disposition = FILE_OPEN_IF,
        .create_options = FILE_NON_DIRECTORY_FILE,
        .name = name,
        .name_len = name_len,
        .durable = &durable,
        .lease = &lease,
        .query_maximal_access = true,
        .query_on_disk_id = true,
    };
    struct writer w;
    w_header(&w, SMB2_CREATE);
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(get16(b + 0), 57); /* StructureSize */
    ck_assert_uint_eq(b[2], 0);          /* SecurityFlags */
    ck_assert_uint_eq(b[3], 0xFF);       /* RequestedOplockLevel */
    ck_assert_uint_eq(get32(b + 4), 2);  /* ImpersonationLevel */
    ck_assert_uint_eq(get64(b + 8), 0);  /* SmbCreateFlags */
    ck_assert_uint_eq(get64(b + 16), 0); /* Reserved */
    ck_assert_uint_eq(get32(b + 24), 0x00100081u);
    ck_assert_uint_eq(get32(b + 28), 0x80);      /* FileAttributes */
    ck_assert_uint_eq(get32(b + 32), 7);         /* ShareAccess */
    ck_assert_uint_eq(get32(b + 36), 3);         /* CreateDisposition */
    ck_assert_uint_eq(get32(b + 40), 0x40);      /* CreateOptions */
    ck_assert_uint_eq(get16(b + 44), 0x78);      /* NameOffset */
    ck_assert_uint_eq(get16(b + 46), 18);        /* NameLength */
    ck_assert_uint_eq(get32(b + 48), 0x78 + 24); /* CreateContextsOffset: 0x8A aligned to 0x90 */
    ck_assert_mem_eq(w.data + 0x78, name, 18);

    /* The context list, built independently: DH2Q, RqLs v2, MxAc, QFid. */
    struct mb m = {.len = 0};
    uint8_t dh2q[32] = {0};
    put32(dh2q, 60000);
    memcpy(dh2q + 16, GUID, 16);
    mb_context(&m, "DH2Q", dh2q, 32, false);
    uint8_t rqls[52] = {0};
    memcpy(rqls, LEASE_KEY, 16);
    put32(rqls + 16, 3);
    put32(rqls + 20, 4);
    memcpy(rqls + 32, PARENT_KEY, 16);
    put16(rqls + 48, 3);
    mb_context(&m, "RqLs", rqls, 52, false);
    mb_context(&m, "MxAc", NULL, 0, false);
    mb_context(&m, "QFid", NULL, 0, true);
    ck_assert_uint_eq(get32(b + 52), m.len); /* CreateContextsLength */
    ck_assert_uint_eq(m.len, 56 + 80 + 24 + 24);
    ck_assert_uint_eq(w.len, 0x90 + m.len);
    ck_assert_mem_eq(w.data + 0x90, m.b, m.len);
    ck_assert_mem_eq(w.data + 0x78 + 18, "\0\0\0\0\0\0", 6); /* alignment padding */

    /* The list walks cleanly with the response iterator. */
    struct reader r;
    reader_init(&r, w.data + 0x90, m.len);
    struct smb2_create_context c;
    const char *tags[] = {"DH2Q", "RqLs", "MxAc", "QFid"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(smb2_create_context_next(&r, &c), 1);
        ck_assert_mem_eq(c.name, tags[i], 4);
    }
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 0);
    writer_free(&w);
}
END_TEST

START_TEST(create_request_other_contexts)
{
    uint8_t ea[32] = {0};
    struct smb2_ea one = {.name = (const uint8_t *)"user.a",
                          .name_len = 6,
                          .value = (const uint8_t *)"xy",
                          .value_len = 2};
    struct writer ew;
    writer_init_fixed(&ew, ea, sizeof(ea));
    ck_assert_int_eq(smb2_ea_list_encode(&ew, &one, 1), 0);
    ck_assert_uint_eq(ew.len, 8 + 6 + 1 + 2);

    static const uint8_t posix[16] = {0x93, 0xAD, 0x25, 0x50, 0x9C, 0xB4, 0x11, 0xE7,
                                      0xB4, 0x23, 0x83, 0xDE, 0x96, 0x8B, 0xCD, 0x7C};
    uint8_t mode[4] = {0xed, 0x01, 0, 0};
    struct smb2_create_context extra = {posix, 16, mode, 4};
    struct smb2_durable_reconnect_v2 rc = {.file_id = FID, .flags = SMB2_DHANDLE_FLAG_PERSISTENT};
    memcpy(rc.create_guid, GUID, 16);
    struct smb2_create_request req = {
        .durable_reconnect = &rc,
        .query_maximal_access = true,
        .maximal_access_timestamp = 0x0123456789abcdefull,
        .ea_buffer = ea,
        .ea_buffer_len = ew.len,
        .extra_contexts = &extra,
        .extra_context_count = 1,
    };
    struct writer w;
    w_header(&w, SMB2_CREATE);
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), 0);
    ck_assert_uint_eq(get16(w.data + 64 + 46), 0);    /* empty name */
    ck_assert_uint_eq(get32(w.data + 64 + 48), 0x78); /* contexts right after the fixed part */
    struct reader r;
    reader_init(&r, w.data + 0x78, get32(w.data + 64 + 52));
    ck_assert_uint_eq(0x78 + get32(w.data + 64 + 52), w.len);
    struct smb2_create_context c;
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 1); /* DH2C, 2.2.13.2.12 */
    ck_assert_mem_eq(c.name, "DH2C", 4);
    ck_assert_uint_eq(c.data_len, 36);
    assert_fid(c.data);
    ck_assert_mem_eq(c.data + 16, GUID, 16);
    ck_assert_uint_eq(get32(c.data + 32), 2);
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 1); /* MxAc with Timestamp */
    ck_assert_mem_eq(c.name, "MxAc", 4);
    ck_assert_uint_eq(c.data_len, 8);
    ck_assert_uint_eq(get64(c.data), 0x0123456789abcdefull);
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 1);
    ck_assert_mem_eq(c.name, "ExtA", 4);
    ck_assert_mem_eq(c.data, ea, ew.len);
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 1);
    ck_assert_uint_eq(c.name_len, 16);
    ck_assert_mem_eq(c.name, posix, 16);
    ck_assert_uint_eq(c.data - c.name, 16); /* 16-byte name: data at offset 32 */
    ck_assert_mem_eq(c.data, mode, 4);
    ck_assert_int_eq(smb2_create_context_next(&r, &c), 0);
    writer_free(&w);
}
END_TEST

START_TEST(create_request_minimal_and_invalid)
{
    struct smb2_create_request req = {.create_disposition = FILE_OPEN};
    struct writer w;
    w_header(&w, SMB2_CREATE);
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), 0);
    ck_assert_uint_eq(w.len, 64 + 56 + 1); /* the one-byte Buffer */
    ck_assert_uint_eq(get32(w.data + 64 + 48), 0);
    ck_assert_uint_eq(get32(w.data + 64 + 52), 0);
    writer_free(&w);

    uint8_t name[3] = {'a', 0, 'b'};
    req.name = name;
    req.name_len = 3; /* odd: not UTF-16 */
    w_header(&w, SMB2_CREATE);
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 64);
    req.name_len = 2;
    struct smb2_create_context bad = {NULL, 0, NULL, 0};
    req.extra_contexts = &bad;
    req.extra_context_count = 1;
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 64);
    writer_free(&w);

    writer_init(&w); /* no header in the writer */
    req.extra_context_count = 0;
    ck_assert_int_eq(smb2_create_request_encode(&w, &req), SQ_ERR_INVAL);
    writer_free(&w);
}
END_TEST

/* A CREATE response (2.2.14) with RqLs v2, DH2Q, MxAc, QFid and an unknown GUID context. */
static void build_create_response(struct mb *m, bool lease_v1)
{
    mb_header(m, SMB2_CREATE);
    mb_16(m, 89);
    mb_u8(m, SMB2_OPLOCK_LEVEL_LEASE);
    mb_u8(m, 0);                     /* Flags */
    mb_32(m, FILE_CREATED);          /* CreateAction */
    mb_64(m, 0x01d0000000000001ull); /* CreationTime */
    mb_64(m, 0x01d0000000000002ull);
    mb_64(m, 0x01d0000000000003ull);
    mb_64(m, 0x01d0000000000004ull);
    mb_64(m, 4096); /* AllocationSize */
    mb_64(m, 1234); /* EndofFile */
    mb_32(m, FILE_ATTRIBUTE_ARCHIVE);
    mb_32(m, 0); /* Reserved2 */
    mb_fid(m);
    size_t ctx_off_at = mb_32(m, 0);
    size_t ctx_len_at = mb_32(m, 0);
    ck_assert_uint_eq(m->len, 0x98);
    size_t start = m->len;

    uint8_t rqls[52] = {0};
    memcpy(rqls, LEASE_KEY, 16);
    put32(rqls + 16, 7); /* RWH */
    put32(rqls + 20, SMB2_LEASE_FLAG_BREAK_IN_PROGRESS);
    memcpy(rqls + 32, PARENT_KEY, 16);
    put16(rqls + 48, 9);
    mb_context(m, "RqLs", rqls, lease_v1 ? 32 : 52, false);
    uint8_t dh2q[8];
    put32(dh2q, 180000);
    put32(dh2q + 4, SMB2_DHANDLE_FLAG_PERSISTENT);
    mb_context(m, "DH2Q", dh2q, 8, false);
    /* Unknown context with a 16-byte name and 8-aligned data. */
    mb_32(m, 40);
    mb_16(m, 16);
    mb_16(m, 16);
    mb_16(m, 0);
    mb_16(m, 32);
    mb_32(m, 8);
    mb_bytes(m, GUID, 16);
    mb_64(m, 0xdeadbeef);
    uint8_t mxac[8];
    put32(mxac, 0);
    put32(mxac + 4, 0x001f01ff);
    mb_context(m, "MxAc", mxac, 8, false);
    uint8_t qfid[32] = {0};
    put32(qfid, 0x4242);
    put32(qfid + 8, 0x77);
    mb_context(m, "QFid", qfid, 32, true);
    put32(m->b + ctx_off_at, (uint32_t)start);
    put32(m->b + ctx_len_at, (uint32_t)(m->len - start));
}

static int dec_create(const uint8_t *p, size_t len)
{
    struct smb2_create_response o;
    return smb2_create_response_decode(p, len, &o);
}

START_TEST(create_response_valid)
{
    struct mb m;
    build_create_response(&m, false);
    struct smb2_create_response o;
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.oplock_level, 0xFF);
    ck_assert_uint_eq(o.create_action, FILE_CREATED);
    ck_assert_uint_eq(o.creation_time, 0x01d0000000000001ull);
    ck_assert_uint_eq(o.change_time, 0x01d0000000000004ull);
    ck_assert_uint_eq(o.allocation_size, 4096);
    ck_assert_uint_eq(o.end_of_file, 1234);
    ck_assert_uint_eq(o.file_attributes, FILE_ATTRIBUTE_ARCHIVE);
    ck_assert_uint_eq(o.file_id.persistent, FID.persistent);
    ck_assert_uint_eq(o.file_id.volatile_, FID.volatile_);
    ck_assert(o.has_lease);
    ck_assert_uint_eq(o.lease.version, 2);
    ck_assert_mem_eq(o.lease.key, LEASE_KEY, 16);
    ck_assert_uint_eq(o.lease.state, 7);
    ck_assert_uint_eq(o.lease.flags, SMB2_LEASE_FLAG_BREAK_IN_PROGRESS);
    ck_assert_mem_eq(o.lease.parent_key, PARENT_KEY, 16);
    ck_assert_uint_eq(o.lease.epoch, 9);
    ck_assert(o.has_durable_v2);
    ck_assert_uint_eq(o.durable_timeout_ms, 180000);
    ck_assert_uint_eq(o.durable_flags, SMB2_DHANDLE_FLAG_PERSISTENT);
    ck_assert(!o.has_durable_v1);
    ck_assert(o.has_maximal_access);
    ck_assert_uint_eq(o.maximal_access_status, 0);
    ck_assert_uint_eq(o.maximal_access, 0x001f01ff);
    ck_assert(o.has_on_disk_id);
    ck_assert_uint_eq(o.disk_file_id, 0x4242);
    ck_assert_uint_eq(o.volume_id, 0x77);
    ck_assert_ptr_eq(o.contexts, m.b + 0x98);
    ck_assert_uint_eq(o.contexts_len, m.len - 0x98);
    check_truncations(dec_create, m.b, m.len);

    build_create_response(&m, true);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.lease.version, 1);
    ck_assert_uint_eq(o.lease.state, 7);
    ck_assert_uint_eq(o.lease.epoch, 0);
    check_truncations(dec_create, m.b, m.len);

    /* No contexts: offset and length 0 (and any offset with length 0) are fine. */
    build_create_response(&m, false);
    m.len = 0x98;
    put32(m.b + 64 + 80, 0);
    put32(m.b + 64 + 84, 0);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    ck_assert(!o.has_lease);
    ck_assert_ptr_null(o.contexts);
    put32(m.b + 64 + 80, 0xFFFFFFFF);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    check_truncations(dec_create, m.b, m.len);
}
END_TEST

START_TEST(create_response_bad_structure)
{
    struct mb m;
    struct smb2_create_response o;
    const uint16_t sizes[] = {0, 88, 90, 9};
    for (size_t i = 0; i < 4; i++) {
        build_create_response(&m, false);
        put16(m.b + 64, sizes[i]);
        ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
        ck_assert(!o.has_lease);
    }
    /* CreateContextsOffset/Length: inside the fixed part, misaligned, past the end, wrapping. */
    const uint32_t offsets[] = {0x40, 0x90, 0x9c, 0xa0, 0x1000, 0xFFFFFFF8};
    for (size_t i = 0; i < 6; i++) {
        build_create_response(&m, false);
        put32(m.b + 64 + 80, offsets[i]);
        ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    }
    build_create_response(&m, false);
    put32(m.b + 64 + 84, (uint32_t)(m.len - 0x98 + 1)); /* one byte past the end */
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put32(m.b + 64 + 84, 0xFFFFFFFF - 0x97); /* offset + length wraps to 0 */
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

/* Patches one field of the first context (at 0x98) and expects the decode to fail. */
static void expect_bad_ctx(size_t field, uint32_t value, int width)
{
    struct mb m;
    build_create_response(&m, false);
    if (width == 2)
        put16(m.b + 0x98 + field, (uint16_t)value);
    else
        put32(m.b + 0x98 + field, value);
    struct smb2_create_response o;
    if (smb2_create_response_decode(m.b, m.len, &o) != SQ_ERR_PROTO)
        ck_abort_msg("context field %zu = 0x%x accepted", field, value);
}

START_TEST(create_response_bad_contexts)
{
    /* Next: misaligned, smaller than a context header, 0-step, backwards, past the end, or
     * leaving less than a context header after it. */
    expect_bad_ctx(0, 76, 4);
    expect_bad_ctx(0, 8, 4);
    expect_bad_ctx(0, 0xFFFFFFF8, 4);
    expect_bad_ctx(0, 0x10000, 4);
    /* NameOffset: inside the context header, misaligned, past the context; NameLength 0 or
     * running past the context. */
    expect_bad_ctx(4, 8, 2);
    expect_bad_ctx(4, 20, 2);
    expect_bad_ctx(4, 80, 2);
    expect_bad_ctx(6, 0, 2);
    expect_bad_ctx(6, 65, 2);
    /* DataOffset: misaligned, overlapping the name, past the context; DataLength past it or
     * wrapping. */
    expect_bad_ctx(10, 28, 2);
    expect_bad_ctx(10, 16, 2);
    expect_bad_ctx(10, 88, 2);
    expect_bad_ctx(12, 57, 4);
    expect_bad_ctx(12, 0xFFFFFFF0, 4);
    /* Known contexts with short data: RqLs of 40 bytes (neither v1 nor v2). */
    expect_bad_ctx(12, 40, 4);

    /* Next exactly at the end of the list (another context promised, none there). */
    struct mb m;
    struct smb2_create_response o;
    build_create_response(&m, false);
    size_t last = m.len - (16 + 8 + 32);
    put32(m.b + last, 56);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    /* MxAc with 4 bytes of data. */
    build_create_response(&m, false);
    size_t mxac = last - 32;
    ck_assert_mem_eq(m.b + mxac + 16, "MxAc", 4);
    put32(m.b + mxac + 12, 4);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);

    /* The iterator is sticky after an error and never loops on a garbage list. */
    uint8_t junk[64];
    memset(junk, 0, sizeof(junk));
    struct reader r;
    reader_init(&r, junk, sizeof(junk));
    struct smb2_create_context c;
    ck_assert_int_eq(smb2_create_context_next(&r, &c), SQ_ERR_PROTO); /* NameLength 0 */
    ck_assert_int_eq(smb2_create_context_next(&r, &c), SQ_ERR_PROTO);
    ck_assert_ptr_null(c.name);
}
END_TEST

/* A response with only the given contexts after the fixed part. */
static void build_create_with(struct mb *m, const char *const *tags, const uint32_t *lens, int n)
{
    build_create_response(m, false);
    m->len = 0x98;
    uint8_t data[64];
    memset(data, 0x5a, sizeof(data));
    for (int i = 0; i < n; i++)
        mb_context(m, tags[i], data, lens[i], i == n - 1);
    put32(m->b + 64 + 80, 0x98);
    put32(m->b + 64 + 84, (uint32_t)(m->len - 0x98));
}

START_TEST(create_response_durable_v1_and_duplicates)
{
    struct mb m;
    struct smb2_create_response o;
    /* DHnQ (2.2.14.2.3), then duplicates: only the first of each kind counts. */
    const char *tags[] = {"DHnQ", "MxAc", "MxAc", "QFid", "QFid", "DH2Q", "DH2Q", "RqLs", "RqLs"};
    const uint32_t lens[] = {8, 8, 8, 32, 32, 8, 8, 32, 52};
    build_create_with(&m, tags, lens, 9);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    ck_assert(o.has_durable_v1);
    ck_assert(o.has_maximal_access && o.has_on_disk_id && o.has_durable_v2 && o.has_lease);
    ck_assert_uint_eq(o.lease.version, 1);
    ck_assert_uint_eq(o.maximal_access, 0x5a5a5a5a);
    check_truncations(dec_create, m.b, m.len);

    /* Short data for each known context is an error, even for a duplicate. */
    const char *one[] = {"QFid"};
    const uint32_t short_qfid[] = {15};
    build_create_with(&m, one, short_qfid, 1);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    const char *dh2q[] = {"DH2Q"};
    const uint32_t short_dh2q[] = {4};
    build_create_with(&m, dh2q, short_dh2q, 1);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    const char *rqls[] = {"RqLs"};
    const uint32_t short_rqls[] = {31};
    build_create_with(&m, rqls, short_rqls, 1);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    const char *dup[] = {"MxAc", "MxAc"};
    const uint32_t dup_short[] = {8, 4};
    build_create_with(&m, dup, dup_short, 2);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    /* A context with no data at all is fine when unknown or DHnQ-like. */
    const char *empty[] = {"DHnQ", "Xyzw"};
    const uint32_t zero[] = {0, 0};
    build_create_with(&m, empty, zero, 2);
    ck_assert_int_eq(smb2_create_response_decode(m.b, m.len, &o), 0);
    ck_assert(o.has_durable_v1);
}
END_TEST

/* ---- CLOSE / FLUSH ------------------------------------------------------------------------ */

START_TEST(close_and_flush)
{
    struct writer w;
    w_header(&w, SMB2_CLOSE);
    struct smb2_close_request req = {SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB, FID};
    ck_assert_int_eq(smb2_close_request_encode(&w, &req), 0);
    ck_assert_uint_eq(w.len, 64 + 24);
    ck_assert_uint_eq(get16(w.data + 64), 24);
    ck_assert_uint_eq(get16(w.data + 66), 1);
    ck_assert_uint_eq(get32(w.data + 68), 0);
    assert_fid(w.data + 72);
    writer_free(&w);

    w_header(&w, SMB2_FLUSH);
    ck_assert_int_eq(smb2_flush_request_encode(&w, &FID), 0);
    ck_assert_uint_eq(w.len, 64 + 24);
    ck_assert_uint_eq(get16(w.data + 64), 24);
    ck_assert_uint_eq(get16(w.data + 66), 0);
    ck_assert_uint_eq(get32(w.data + 68), 0);
    assert_fid(w.data + 72);
    writer_free(&w);
}
END_TEST

static int dec_close(const uint8_t *p, size_t len)
{
    struct smb2_close_response o;
    return smb2_close_response_decode(p, len, &o);
}

START_TEST(close_response)
{
    struct mb m;
    mb_header(&m, SMB2_CLOSE);
    mb_16(&m, 60);
    mb_16(&m, SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB);
    mb_32(&m, 0);
    for (uint64_t i = 1; i <= 4; i++)
        mb_64(&m, 0x01d0000000000000ull + i);
    mb_64(&m, 8192);
    mb_64(&m, 5000);
    mb_32(&m, FILE_ATTRIBUTE_DIRECTORY);
    struct smb2_close_response o;
    ck_assert_int_eq(smb2_close_response_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.flags, 1);
    ck_assert_uint_eq(o.creation_time, 0x01d0000000000001ull);
    ck_assert_uint_eq(o.last_access_time, 0x01d0000000000002ull);
    ck_assert_uint_eq(o.last_write_time, 0x01d0000000000003ull);
    ck_assert_uint_eq(o.change_time, 0x01d0000000000004ull);
    ck_assert_uint_eq(o.allocation_size, 8192);
    ck_assert_uint_eq(o.end_of_file, 5000);
    ck_assert_uint_eq(o.file_attributes, FILE_ATTRIBUTE_DIRECTORY);
    check_truncations(dec_close, m.b, m.len);
    put16(m.b + 64, 59);
    ck_assert_int_eq(smb2_close_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 64, 9); /* an ERROR response is not a CLOSE response */
    ck_assert_int_eq(smb2_close_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

static int dec_flush(const uint8_t *p, size_t len)
{
    return smb2_flush_response_decode(p, len);
}
static int dec_lock(const uint8_t *p, size_t len)
{
    return smb2_lock_response_decode(p, len);
}
static int dec_set_info(const uint8_t *p, size_t len)
{
    return smb2_set_info_response_decode(p, len);
}

START_TEST(small_responses)
{
    struct mb m;
    mb_header(&m, SMB2_FLUSH);
    mb_16(&m, 4);
    mb_16(&m, 0);
    check_truncations(dec_flush, m.b, m.len);
    check_truncations(dec_lock, m.b, m.len);
    put16(m.b + 64, 2);
    ck_assert_int_eq(smb2_flush_response_decode(m.b, m.len), SQ_ERR_PROTO);
    ck_assert_int_eq(smb2_lock_response_decode(m.b, m.len), SQ_ERR_PROTO);
    m.len = 66;
    check_truncations(dec_set_info, m.b, m.len);
    put16(m.b + 64, 4);
    ck_assert_int_eq(smb2_set_info_response_decode(m.b, m.len), SQ_ERR_PROTO);
}
END_TEST

/* ---- READ / WRITE / LOCK ------------------------------------------------------------------ */

START_TEST(read_request_layout)
{
    struct smb2_read_request req = {.padding = SMB2_READ_RESPONSE_DATA_OFFSET,
                                    .flags = SMB2_READFLAG_READ_UNBUFFERED,
                                    .length = 65536,
                                    .offset = 0x100000000ull,
                                    .file_id = FID,
                                    .minimum_count = 1,
                                    .remaining_bytes = 77};
    struct writer w;
    w_header(&w, SMB2_READ);
    ck_assert_int_eq(smb2_read_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(w.len, 64 + 49);
    ck_assert_uint_eq(get16(b), 49);
    ck_assert_uint_eq(b[2], 0x50);
    ck_assert_uint_eq(b[3], 1);
    ck_assert_uint_eq(get32(b + 4), 65536);
    ck_assert_uint_eq(get64(b + 8), 0x100000000ull);
    assert_fid(b + 16);
    ck_assert_uint_eq(get32(b + 32), 1);  /* MinimumCount */
    ck_assert_uint_eq(get32(b + 36), 0);  /* Channel */
    ck_assert_uint_eq(get32(b + 40), 77); /* RemainingBytes */
    ck_assert_uint_eq(get16(b + 44), 0);
    ck_assert_uint_eq(get16(b + 46), 0);
    ck_assert_uint_eq(b[48], 0);
    writer_free(&w);
}
END_TEST

static void build_read_response(struct mb *m, uint8_t data_off, uint32_t n)
{
    mb_header(m, SMB2_READ);
    mb_16(m, 17);
    mb_u8(m, data_off);
    mb_u8(m, 0);
    mb_32(m, n);
    mb_32(m, 0); /* DataRemaining */
    mb_32(m, 0);
    mb_pad_to(m, data_off);
    for (uint32_t i = 0; i < n; i++)
        mb_u8(m, (uint8_t)i);
}

static int dec_read(const uint8_t *p, size_t len)
{
    struct smb2_read_response o;
    int rc = smb2_read_response_decode(p, len, &o);
    if (rc == 0 && o.data_len) /* touch the data so ASan checks the span */
        return o.data[o.data_len - 1] == (uint8_t)(o.data_len - 1) ? 0 : -100;
    return rc;
}

START_TEST(read_response)
{
    struct mb m;
    build_read_response(&m, 0x50, 100);
    struct smb2_read_response o;
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), 0);
    ck_assert_ptr_eq(o.data, m.b + 0x50);
    ck_assert_uint_eq(o.data_len, 100);
    check_truncations(dec_read, m.b, m.len);

    build_read_response(&m, 0x58, 10); /* padded data is fine */
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), 0);
    ck_assert_ptr_eq(o.data, m.b + 0x58);
    check_truncations(dec_read, m.b, m.len);

    /* DataOffset inside the header or the fixed part. */
    build_read_response(&m, 0x50, 100);
    m.b[66] = 0x40;
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    m.b[66] = 0x4F;
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    ck_assert_ptr_null(o.data);
    /* DataLength past the end, or wrapping with the offset. */
    m.b[66] = 0x50;
    put32(m.b + 68, 101);
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put32(m.b + 68, 0xFFFFFFFF);
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put32(m.b + 68, 0xFFFFFFB0); /* 0x50 + 0xFFFFFFB0 wraps to 0 in 32 bits */
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    /* DataLength 0: the offset is ignored. */
    put32(m.b + 68, 0);
    m.b[66] = 0xFF;
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), 0);
    ck_assert_ptr_null(o.data);
    put16(m.b + 64, 16);
    ck_assert_int_eq(smb2_read_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

START_TEST(write_request_layout)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    struct smb2_write_request req = {.offset = 4096,
                                     .file_id = FID,
                                     .remaining_bytes = 5,
                                     .flags = SMB2_WRITEFLAG_WRITE_THROUGH,
                                     .data = data,
                                     .length = sizeof(data)};
    struct writer w;
    w_header(&w, SMB2_WRITE);
    ck_assert_int_eq(smb2_write_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(w.len, 0x70 + sizeof(data));
    ck_assert_uint_eq(get16(b), 49);
    ck_assert_uint_eq(get16(b + 2), 0x70); /* DataOffset */
    ck_assert_uint_eq(get32(b + 4), 300);  /* Length */
    ck_assert_uint_eq(get64(b + 8), 4096); /* Offset */
    assert_fid(b + 16);
    ck_assert_uint_eq(get32(b + 32), 0); /* Channel */
    ck_assert_uint_eq(get32(b + 36), 5); /* RemainingBytes */
    ck_assert_uint_eq(get16(b + 40), 0);
    ck_assert_uint_eq(get16(b + 42), 0);
    ck_assert_uint_eq(get32(b + 44), 1); /* Flags */
    ck_assert_mem_eq(w.data + 0x70, data, sizeof(data));
    writer_free(&w);

    /* Header only: the caller appends the payload itself. */
    w_header(&w, SMB2_WRITE);
    ck_assert_int_eq(smb2_write_request_encode_header(&w, &req), 0);
    ck_assert_uint_eq(w.len, SMB2_WRITE_REQUEST_DATA_OFFSET);
    ck_assert_uint_eq(get32(w.data + 68), 300);
    writer_free(&w);

    req.length = 0;
    req.data = NULL;
    w_header(&w, SMB2_WRITE);
    ck_assert_int_eq(smb2_write_request_encode(&w, &req), 0);
    ck_assert_uint_eq(w.len, 0x71);
    writer_free(&w);
    req.length = 1;
    w_header(&w, SMB2_WRITE);
    ck_assert_int_eq(smb2_write_request_encode(&w, &req), SQ_ERR_INVAL);
    writer_free(&w);
}
END_TEST

static int dec_write(const uint8_t *p, size_t len)
{
    struct smb2_write_response o;
    return smb2_write_response_decode(p, len, &o);
}

START_TEST(write_response)
{
    struct mb m;
    mb_header(&m, SMB2_WRITE);
    mb_16(&m, 17);
    mb_16(&m, 0);
    mb_32(&m, 65536); /* Count */
    mb_32(&m, 0);     /* Remaining */
    mb_16(&m, 0);
    mb_16(&m, 0);
    struct smb2_write_response o;
    ck_assert_int_eq(smb2_write_response_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.count, 65536);
    check_truncations(dec_write, m.b, m.len);
    put16(m.b + 64, 16);
    ck_assert_int_eq(smb2_write_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

START_TEST(lock_request_layout)
{
    struct smb2_lock_element locks[2] = {
        {100, 10, SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY},
        {0xFFFFFFFF00000000ull, 1, SMB2_LOCKFLAG_UNLOCK},
    };
    struct smb2_lock_request req = {.lock_sequence_number = 5,
                                    .lock_sequence_index = 3,
                                    .file_id = FID,
                                    .locks = locks,
                                    .lock_count = 2};
    struct writer w;
    w_header(&w, SMB2_LOCK);
    ck_assert_int_eq(smb2_lock_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(w.len, 64 + 24 + 2 * 24);
    ck_assert_uint_eq(get16(b), 48);
    ck_assert_uint_eq(get16(b + 2), 2);
    ck_assert_uint_eq(get32(b + 4), 3u << 4 | 5); /* index 3, number 5 */
    assert_fid(b + 8);
    ck_assert_uint_eq(get64(b + 24), 100);
    ck_assert_uint_eq(get64(b + 32), 10);
    ck_assert_uint_eq(get32(b + 40), 0x12);
    ck_assert_uint_eq(get32(b + 44), 0);
    ck_assert_uint_eq(get64(b + 48), 0xFFFFFFFF00000000ull);
    ck_assert_uint_eq(get64(b + 56), 1);
    ck_assert_uint_eq(get32(b + 64), 4);
    writer_free(&w);

    w_header(&w, SMB2_LOCK);
    req.lock_count = 0;
    ck_assert_int_eq(smb2_lock_request_encode(&w, &req), SQ_ERR_INVAL);
    req.lock_count = 1;
    req.lock_sequence_number = 16;
    ck_assert_int_eq(smb2_lock_request_encode(&w, &req), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 64);
    writer_free(&w);
}
END_TEST

/* ---- IOCTL -------------------------------------------------------------------------------- */

START_TEST(ioctl_request_layout)
{
    uint8_t key[24];
    for (int i = 0; i < 24; i++)
        key[i] = (uint8_t)(0x30 + i);
    struct smb2_copychunk chunks[2] = {{0, 4096, 1024}, {1024, 8192, 512}};
    struct writer in;
    writer_init(&in);
    ck_assert_int_eq(smb2_copychunk_encode(&in, key, chunks, 2), 0);
    ck_assert_uint_eq(in.len, 32 + 2 * 24); /* SRV_COPYCHUNK_COPY, 2.2.31.1 */
    ck_assert_mem_eq(in.data, key, 24);
    ck_assert_uint_eq(get32(in.data + 24), 2);
    ck_assert_uint_eq(get32(in.data + 28), 0);
    ck_assert_uint_eq(get64(in.data + 32), 0);
    ck_assert_uint_eq(get64(in.data + 40), 4096);
    ck_assert_uint_eq(get32(in.data + 48), 1024);
    ck_assert_uint_eq(get32(in.data + 52), 0);
    ck_assert_uint_eq(get64(in.data + 56), 1024);

    struct smb2_ioctl_request req = {.ctl_code = FSCTL_SRV_COPYCHUNK_WRITE,
                                     .file_id = FID,
                                     .input = in.data,
                                     .input_len = (uint32_t)in.len,
                                     .max_output_response = 12,
                                     .flags = SMB2_0_IOCTL_IS_FSCTL};
    struct writer w;
    w_header(&w, SMB2_IOCTL);
    ck_assert_int_eq(smb2_ioctl_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(get16(b), 57);
    ck_assert_uint_eq(get16(b + 2), 0);
    ck_assert_uint_eq(get32(b + 4), 0x001480F2u);
    assert_fid(b + 8);
    ck_assert_uint_eq(get32(b + 24), 0x78); /* InputOffset */
    ck_assert_uint_eq(get32(b + 28), in.len);
    ck_assert_uint_eq(get32(b + 32), 0); /* MaxInputResponse */
    ck_assert_uint_eq(get32(b + 36), 0); /* OutputOffset */
    ck_assert_uint_eq(get32(b + 40), 0); /* OutputCount */
    ck_assert_uint_eq(get32(b + 44), 12);
    ck_assert_uint_eq(get32(b + 48), 1);
    ck_assert_uint_eq(get32(b + 52), 0);
    ck_assert_uint_eq(w.len, 0x78 + in.len);
    ck_assert_mem_eq(w.data + 0x78, in.data, in.len);
    writer_free(&w);
    writer_free(&in);

    /* No input: offset 0 and the one-byte Buffer. */
    req.input = NULL;
    req.input_len = 0;
    w_header(&w, SMB2_IOCTL);
    ck_assert_int_eq(smb2_ioctl_request_encode(&w, &req), 0);
    ck_assert_uint_eq(get32(w.data + 64 + 24), 0);
    ck_assert_uint_eq(w.len, 0x79);
    writer_free(&w);
}
END_TEST

static void build_ioctl_response(struct mb *m, uint32_t ctl, const void *out, uint32_t n)
{
    mb_header(m, SMB2_IOCTL);
    mb_16(m, 49);
    mb_16(m, 0);
    mb_32(m, ctl);
    mb_fid(m);
    mb_32(m, 0x70); /* InputOffset */
    mb_32(m, 0);    /* InputCount */
    mb_32(m, 0x70); /* OutputOffset */
    mb_32(m, n);
    mb_32(m, 0); /* Flags */
    mb_32(m, 0);
    mb_bytes(m, out, n);
}

static int dec_ioctl(const uint8_t *p, size_t len)
{
    struct smb2_ioctl_response o;
    return smb2_ioctl_response_decode(p, len, &o);
}

START_TEST(ioctl_response)
{
    uint8_t rk[28] = {0};
    for (int i = 0; i < 24; i++)
        rk[i] = (uint8_t)(0x80 + i);
    struct mb m;
    build_ioctl_response(&m, FSCTL_SRV_REQUEST_RESUME_KEY, rk, sizeof(rk));
    struct smb2_ioctl_response o;
    ck_assert_int_eq(smb2_ioctl_response_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.ctl_code, FSCTL_SRV_REQUEST_RESUME_KEY);
    ck_assert_uint_eq(o.file_id.volatile_, FID.volatile_);
    ck_assert_ptr_null(o.input);
    ck_assert_ptr_eq(o.output, m.b + 0x70);
    ck_assert_uint_eq(o.output_len, 28);
    check_truncations(dec_ioctl, m.b, m.len);
    uint8_t key[24];
    ck_assert_int_eq(smb2_resume_key_decode(o.output, o.output_len, key), 0);
    ck_assert_mem_eq(key, rk, 24);
    ck_assert_int_eq(smb2_resume_key_decode(o.output, 27, key), SQ_ERR_PROTO);
    put32(m.b + 0x70 + 24, 1); /* ContextLength past the buffer */
    ck_assert_int_eq(smb2_resume_key_decode(o.output, o.output_len, key), SQ_ERR_PROTO);

    /* Output in the fixed part, past the end, wrapping; input likewise. */
    const uint32_t bad_off[] = {0, 0x40, 0x6c, 0x71, 0xFFFFFFFF};
    for (size_t i = 0; i < 5; i++) {
        build_ioctl_response(&m, 1, rk, sizeof(rk));
        put32(m.b + 64 + 32, bad_off[i]);
        ck_assert_int_eq(smb2_ioctl_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
        build_ioctl_response(&m, 1, rk, sizeof(rk));
        put32(m.b + 64 + 24, bad_off[i]);
        put32(m.b + 64 + 28, 28);
        ck_assert_int_eq(smb2_ioctl_response_decode(m.b, m.len, &o),
                         bad_off[i] == 0x70 ? 0 : SQ_ERR_PROTO);
    }
    build_ioctl_response(&m, 1, rk, sizeof(rk));
    put32(m.b + 64 + 36, 0xFFFFFFFF - 0x6F); /* 0x70 + n wraps to 0 */
    ck_assert_int_eq(smb2_ioctl_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 64, 48);
    ck_assert_int_eq(smb2_ioctl_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

static int dec_copychunk(const uint8_t *p, size_t len)
{
    struct smb2_copychunk_response o;
    return smb2_copychunk_response_decode(p, len, &o);
}

START_TEST(fsctl_payloads)
{
    uint8_t cc[12];
    put32(cc, 16);
    put32(cc + 4, 1048576);
    put32(cc + 8, 16777216);
    struct smb2_copychunk_response ccr;
    ck_assert_int_eq(smb2_copychunk_response_decode(cc, 12, &ccr), 0);
    ck_assert_uint_eq(ccr.chunks_written, 16);
    ck_assert_uint_eq(ccr.chunk_bytes_written, 1048576);
    ck_assert_uint_eq(ccr.total_bytes_written, 16777216);
    check_truncations(dec_copychunk, cc, 12);

    struct writer w;
    writer_init(&w);
    ck_assert_int_eq(smb2_allocated_range_encode(&w, 10, 20), 0);
    ck_assert_int_eq(smb2_zero_data_encode(&w, 30, 40), 0);
    ck_assert_int_eq(smb2_set_sparse_encode(&w, true), 0);
    ck_assert_uint_eq(w.len, 33);
    ck_assert_uint_eq(get64(w.data), 10);
    ck_assert_uint_eq(get64(w.data + 8), 20);
    ck_assert_uint_eq(get64(w.data + 16), 30);
    ck_assert_uint_eq(get64(w.data + 24), 40);
    ck_assert_uint_eq(w.data[32], 1);
    ck_assert_int_eq(smb2_zero_data_encode(&w, 50, 40), SQ_ERR_INVAL);
    writer_free(&w);

    /* Allocated ranges output: two ranges, then a partial one is an error. */
    uint8_t ranges[40] = {0};
    put32(ranges, 0);
    put32(ranges + 8, 4096);
    put32(ranges + 16, 65536);
    put32(ranges + 24, 100);
    struct reader r;
    reader_init(&r, ranges, 32);
    uint64_t off, len;
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), 1);
    ck_assert_uint_eq(off, 0);
    ck_assert_uint_eq(len, 4096);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), 1);
    ck_assert_uint_eq(off, 65536);
    ck_assert_uint_eq(len, 100);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), 0);
    reader_init(&r, ranges, 40);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), 1);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), 1);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), SQ_ERR_PROTO);
    ck_assert_int_eq(smb2_allocated_range_next(&r, &off, &len), SQ_ERR_PROTO);
}
END_TEST

/* A symbolic link REPARSE_DATA_BUFFER (MS-FSCC 2.1.2.4): print name first in PathBuffer. */
static void build_symlink(struct mb *m, const char *target, uint32_t flags)
{
    uint8_t name[128];
    size_t n = u16(target, name);
    m->len = 0;
    mb_32(m, SMB2_IO_REPARSE_TAG_SYMLINK);
    mb_16(m, (uint16_t)(12 + 2 * n));
    mb_16(m, 0);
    mb_16(m, (uint16_t)n); /* SubstituteNameOffset */
    mb_16(m, (uint16_t)n); /* SubstituteNameLength */
    mb_16(m, 0);           /* PrintNameOffset */
    mb_16(m, (uint16_t)n);
    mb_32(m, flags);
    mb_bytes(m, name, n);
    mb_bytes(m, name, n);
}

static int dec_symlink(const uint8_t *p, size_t len)
{
    struct smb2_symlink_reparse o;
    int rc = smb2_symlink_reparse_decode(p, len, &o);
    if (rc == 0 && o.substitute_name_len) /* touch the span */
        return o.substitute_name[o.substitute_name_len - 1] == 0 ? 0 : -100;
    return rc;
}

START_TEST(reparse_symlink)
{
    struct mb m;
    build_symlink(&m, "..\\target", SMB2_SYMLINK_FLAG_RELATIVE);
    struct smb2_symlink_reparse o;
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), 0);
    ck_assert_uint_eq(o.flags, 1);
    ck_assert_uint_eq(o.substitute_name_len, 18);
    ck_assert_ptr_eq(o.substitute_name, m.b + 20 + 18);
    ck_assert_ptr_eq(o.print_name, m.b + 20);
    check_truncations(dec_symlink, m.b, m.len);

    /* Encode round trip. */
    struct writer w;
    writer_init(&w);
    ck_assert_int_eq(smb2_symlink_reparse_encode(&w, &o), 0);
    ck_assert_uint_eq(get32(w.data), SMB2_IO_REPARSE_TAG_SYMLINK);
    ck_assert_uint_eq(get16(w.data + 4), 12 + 36);
    ck_assert_uint_eq(get16(w.data + 8), 0);
    ck_assert_uint_eq(get16(w.data + 10), 18);
    ck_assert_uint_eq(get16(w.data + 12), 18);
    ck_assert_uint_eq(get16(w.data + 14), 18);
    ck_assert_uint_eq(get32(w.data + 16), 1);
    struct smb2_symlink_reparse o2;
    ck_assert_int_eq(smb2_symlink_reparse_decode(w.data, w.len, &o2), 0);
    ck_assert_mem_eq(o2.substitute_name, o.substitute_name, 18);
    ck_assert_mem_eq(o2.print_name, o.print_name, 18);
    writer_free(&w);

    /* Names outside PathBuffer, odd offsets, wrong tag, ReparseDataLength past the buffer. */
    build_symlink(&m, "abc", 0);
    put16(m.b + 8, 7);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    build_symlink(&m, "abc", 0);
    put16(m.b + 10, 7);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    build_symlink(&m, "abc", 0);
    put16(m.b + 12, 0xFFFE);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    build_symlink(&m, "abc", 0);
    put16(m.b + 14, 14);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    build_symlink(&m, "abc", 0);
    put32(m.b, SMB2_IO_REPARSE_TAG_MOUNT_POINT);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    struct smb2_reparse rp;
    ck_assert_int_eq(smb2_reparse_decode(m.b, m.len, &rp), 0);
    ck_assert_uint_eq(rp.tag, SMB2_IO_REPARSE_TAG_MOUNT_POINT);
    ck_assert_uint_eq(rp.data_len, m.len - 8);
    put16(m.b + 4, (uint16_t)(m.len - 7));
    ck_assert_int_eq(smb2_reparse_decode(m.b, m.len, &rp), SQ_ERR_PROTO);
    /* ReparseDataLength shorter than the symlink fields. */
    build_symlink(&m, "abc", 0);
    put16(m.b + 4, 11);
    ck_assert_int_eq(smb2_symlink_reparse_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

/* ---- QUERY_DIRECTORY ---------------------------------------------------------------------- */

START_TEST(query_directory_request_layout)
{
    uint8_t pat[8];
    size_t n = u16("*", pat);
    struct smb2_query_directory_request req = {.info_class = FILE_ID_BOTH_DIRECTORY_INFORMATION,
                                               .flags = SMB2_RESTART_SCANS,
                                               .file_index = 0,
                                               .file_id = FID,
                                               .pattern = pat,
                                               .pattern_len = (uint16_t)n,
                                               .output_buffer_length = 65536};
    struct writer w;
    w_header(&w, SMB2_QUERY_DIRECTORY);
    ck_assert_int_eq(smb2_query_directory_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(get16(b), 33);
    ck_assert_uint_eq(b[2], 37);
    ck_assert_uint_eq(b[3], 1);
    ck_assert_uint_eq(get32(b + 4), 0);
    assert_fid(b + 8);
    ck_assert_uint_eq(get16(b + 24), 0x60); /* FileNameOffset */
    ck_assert_uint_eq(get16(b + 26), 2);
    ck_assert_uint_eq(get32(b + 28), 65536);
    ck_assert_uint_eq(w.len, 0x62);
    ck_assert_mem_eq(w.data + 0x60, "*\0", 2);
    writer_free(&w);
}
END_TEST

/* One FILE_ID_BOTH_DIR_INFORMATION entry (MS-FSCC 2.4.17): 104 fixed bytes and the name. */
static size_t mb_dirent_idboth(struct mb *m, const char *name, uint64_t file_id, bool last)
{
    uint8_t n16[256];
    size_t n = u16(name, n16);
    size_t start = m->len;
    size_t next_at = mb_32(m, 0);
    mb_32(m, 0); /* FileIndex */
    for (uint64_t i = 1; i <= 4; i++)
        mb_64(m, 0x01d0000000000000ull + i);
    mb_64(m, 1000 + file_id); /* EndOfFile */
    mb_64(m, 4096);           /* AllocationSize */
    mb_32(m, FILE_ATTRIBUTE_ARCHIVE);
    mb_32(m, (uint32_t)n); /* FileNameLength */
    mb_32(m, 0);           /* EaSize */
    mb_u8(m, 4);           /* ShortNameLength */
    mb_u8(m, 0);
    uint8_t sn[24] = {'A', 0, 'B', 0};
    mb_bytes(m, sn, 24);
    mb_16(m, 0);
    mb_64(m, file_id);
    ck_assert_uint_eq(m->len - start, 104);
    mb_bytes(m, n16, n);
    if (!last) {
        mb_align(m, 8);
        put32(m->b + next_at, (uint32_t)(m->len - start));
    }
    return start;
}

static void build_dir_buffer(struct mb *m)
{
    m->len = 0;
    mb_dirent_idboth(m, ".", 5, false);
    mb_dirent_idboth(m, "hello.txt", 6, false);
    mb_dirent_idboth(m, "z", 7, true);
}

/* Iterates a whole buffer; returns the number of entries or the error. */
static int count_dirents(const uint8_t *p, size_t len, uint8_t cls)
{
    struct reader r;
    reader_init(&r, p, len);
    struct smb2_dirent d;
    int rc, n = 0;
    while ((rc = smb2_dirinfo_next(&r, cls, &d)) == 1) {
        if (d.name[d.name_len - 1] != 0) /* touch the span */
            return -100;
        if (++n > 100000)
            return -101;
    }
    return rc == 0 ? n : rc;
}

static int dec_dir_buffer(const uint8_t *p, size_t len)
{
    int n = count_dirents(p, len, FILE_ID_BOTH_DIRECTORY_INFORMATION);
    return n == 3 ? 0 : n < 0 ? n : -102;
}

static int dec_query_directory(const uint8_t *p, size_t len)
{
    struct smb2_output_buffer o;
    int rc = smb2_query_directory_response_decode(p, len, &o);
    if (rc == 0)
        rc = dec_dir_buffer(o.buffer, o.buffer_len);
    return rc;
}

START_TEST(query_directory_response)
{
    struct mb d;
    build_dir_buffer(&d);
    struct mb m;
    mb_header(&m, SMB2_QUERY_DIRECTORY);
    mb_16(&m, 9);
    mb_16(&m, 0x48);
    mb_32(&m, (uint32_t)d.len);
    mb_bytes(&m, d.b, d.len);
    struct smb2_output_buffer o;
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), 0);
    ck_assert_ptr_eq(o.buffer, m.b + 0x48);
    ck_assert_uint_eq(o.buffer_len, d.len);
    check_truncations(dec_query_directory, m.b, m.len);

    struct reader r;
    reader_init(&r, o.buffer, o.buffer_len);
    struct smb2_dirent e;
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_uint_eq(e.name_len, 2);
    ck_assert_uint_eq(e.file_id, 5);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_uint_eq(e.name_len, 18);
    ck_assert_mem_eq(e.name, "h\0e\0l\0l\0o\0", 10);
    ck_assert_uint_eq(e.file_id, 6);
    ck_assert_uint_eq(e.end_of_file, 1006);
    ck_assert_uint_eq(e.allocation_size, 4096);
    ck_assert_uint_eq(e.creation_time, 0x01d0000000000001ull);
    ck_assert_uint_eq(e.change_time, 0x01d0000000000004ull);
    ck_assert_uint_eq(e.file_attributes, FILE_ATTRIBUTE_ARCHIVE);
    ck_assert_uint_eq(e.short_name_len, 4);
    ck_assert_mem_eq(e.short_name, "A\0B\0", 4);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_uint_eq(e.file_id, 7);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e), 0);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e), 0);

    /* Every truncation of the entry buffer itself ends in an error, never a clean end. */
    for (size_t n = 1; n < d.len; n++)
        if (count_dirents(d.b, n, FILE_ID_BOTH_DIRECTORY_INFORMATION) >= 0)
            ck_abort_msg("dirent buffer truncated to %zu accepted", n);
    ck_assert_int_eq(count_dirents(d.b, 0, FILE_ID_BOTH_DIRECTORY_INFORMATION), 0);

    /* OutputBufferOffset inside the fixed part or past the end; length wrapping. */
    put16(m.b + 66, 0x46);
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 66, 0xFFFF);
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 66, 0x48);
    put32(m.b + 68, 0xFFFFFFFF - 0x47);
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put32(m.b + 68, 0); /* empty: fine, no buffer */
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), 0);
    ck_assert_ptr_null(o.buffer);
    put16(m.b + 64, 8);
    ck_assert_int_eq(smb2_query_directory_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

START_TEST(dirent_chain_attacks)
{
    struct mb d;
    const uint8_t cls = FILE_ID_BOTH_DIRECTORY_INFORMATION;
    build_dir_buffer(&d);
    size_t second = get32(d.b); /* 112 */
    ck_assert_uint_eq(second, 112);
    ck_assert_int_eq(count_dirents(d.b, d.len, cls), 3);

    const uint32_t bad_next[] = {
        113,                 /* misaligned */
        8,                   /* inside the fixed part */
        104,                 /* overlaps this entry's name */
        0xFFFFFFF8,          /* "backwards" (a huge step) */
        (uint32_t)d.len,     /* to the very end: no room for the promised entry */
        (uint32_t)d.len - 8, /* less than a fixed part left */
    };
    for (size_t i = 0; i < sizeof(bad_next) / sizeof(bad_next[0]); i++) {
        build_dir_buffer(&d);
        put32(d.b, bad_next[i]);
        if (count_dirents(d.b, d.len, cls) != SQ_ERR_PROTO)
            ck_abort_msg("NextEntryOffset %u accepted", bad_next[i]);
    }
    /* FileNameLength: zero, odd, past the entry (into the next one), huge. */
    const uint32_t bad_name[] = {0, 3, 10, 0xFFFFFFFF, 0xFFFFFF98};
    for (size_t i = 0; i < sizeof(bad_name) / sizeof(bad_name[0]); i++) {
        build_dir_buffer(&d);
        put32(d.b + 60, bad_name[i]);
        if (count_dirents(d.b, d.len, cls) != SQ_ERR_PROTO)
            ck_abort_msg("FileNameLength %u accepted", bad_name[i]);
    }
    /* The last entry's name running past the buffer. */
    build_dir_buffer(&d);
    size_t third = second + get32(d.b + second);
    put32(d.b + third + 60, 4);
    ck_assert_int_eq(count_dirents(d.b, d.len, cls), SQ_ERR_PROTO);
    /* ShortNameLength over 24. */
    build_dir_buffer(&d);
    d.b[68] = 26;
    ck_assert_int_eq(count_dirents(d.b, d.len, cls), SQ_ERR_PROTO);
    /* Unknown class, and a class whose fixed part is larger than the entries. */
    build_dir_buffer(&d);
    ck_assert_int_eq(count_dirents(d.b, d.len, 99), SQ_ERR_PROTO);
    ck_assert_int_eq(count_dirents(d.b, 0, 99), SQ_ERR_PROTO);

    /* A long chain of minimal entries terminates with the right count. */
    struct mb big = {.len = 0};
    for (int i = 0; i < 30; i++) {
        size_t start = big.len;
        mb_zeros(&big, 80);
        put32(big.b + start + 60, 2); /* FileNameLength */
        mb_16(&big, 'x');
        mb_align(&big, 8);
        if (i < 29)
            put32(big.b + start, (uint32_t)(big.len - start));
    }
    ck_assert_int_eq(count_dirents(big.b, big.len, FILE_ID_FULL_DIRECTORY_INFORMATION), 30);
    /* Read as a class with a larger fixed part, the same bytes fail cleanly. */
    ck_assert_int_eq(count_dirents(big.b, big.len, FILE_ID_BOTH_DIRECTORY_INFORMATION),
                     SQ_ERR_PROTO);
}
END_TEST

START_TEST(dirent_other_classes)
{
    /* FileIdFullDirectoryInformation (MS-FSCC 2.4): 80 fixed bytes. */
    struct mb d = {.len = 0};
    mb_32(&d, 0);
    mb_32(&d, 9); /* FileIndex */
    for (uint64_t i = 1; i <= 4; i++)
        mb_64(&d, i);
    mb_64(&d, 5); /* EndOfFile */
    mb_64(&d, 6); /* AllocationSize */
    mb_32(&d, 0x10);
    mb_32(&d, 4);          /* FileNameLength */
    mb_32(&d, 0xA000000C); /* EaSize: the reparse tag for reparse points */
    mb_32(&d, 0);          /* Reserved */
    mb_64(&d, 0x123456789ull);
    mb_bytes(&d, "d\0r\0", 4);
    struct reader r;
    reader_init(&r, d.b, d.len);
    struct smb2_dirent e;
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_FULL_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_uint_eq(e.file_index, 9);
    ck_assert_uint_eq(e.end_of_file, 5);
    ck_assert_uint_eq(e.allocation_size, 6);
    ck_assert_uint_eq(e.file_attributes, 0x10);
    ck_assert_uint_eq(e.ea_size, 0xA000000C);
    ck_assert_uint_eq(e.file_id, 0x123456789ull);
    ck_assert_ptr_eq(e.name, d.b + 80);
    ck_assert_ptr_null(e.short_name);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_FULL_DIRECTORY_INFORMATION, &e), 0);

    /* The same bytes as FileDirectoryInformation (64 fixed) and FileFullDirectoryInformation
     * (68 fixed): the name then starts earlier. */
    reader_init(&r, d.b, d.len);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_ptr_eq(e.name, d.b + 64);
    ck_assert_uint_eq(e.ea_size, 0);
    reader_init(&r, d.b, d.len);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_FULL_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_ptr_eq(e.name, d.b + 68);
    ck_assert_uint_eq(e.file_id, 0);
    for (size_t n = 0; n < d.len; n++) {
        reader_init(&r, d.b, n);
        ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_ID_FULL_DIRECTORY_INFORMATION, &e),
                         n ? SQ_ERR_PROTO : 0);
    }

    /* FileBothDirectoryInformation (94 fixed bytes: ShortNameLength at 68, ShortName at 70). */
    struct mb b = {.len = 0};
    mb_zeros(&b, 94);
    put32(b.b + 60, 2); /* FileNameLength */
    put32(b.b + 64, 0); /* EaSize */
    b.b[68] = 2;        /* ShortNameLength */
    b.b[70] = 'S';
    mb_bytes(&b, "L\0", 2);
    reader_init(&r, b.b, b.len);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_BOTH_DIRECTORY_INFORMATION, &e), 1);
    ck_assert_ptr_eq(e.short_name, b.b + 70);
    ck_assert_uint_eq(e.short_name_len, 2);
    ck_assert_ptr_eq(e.name, b.b + 94);
    ck_assert_uint_eq(e.file_id, 0);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_BOTH_DIRECTORY_INFORMATION, &e), 0);
    b.b[68] = 3; /* odd short name */
    reader_init(&r, b.b, b.len);
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_BOTH_DIRECTORY_INFORMATION, &e), SQ_ERR_PROTO);
    /* The error is sticky. */
    ck_assert_int_eq(smb2_dirinfo_next(&r, FILE_BOTH_DIRECTORY_INFORMATION, &e), SQ_ERR_PROTO);
    ck_assert_ptr_null(e.name);
}
END_TEST

/* ---- CHANGE_NOTIFY ------------------------------------------------------------------------ */

START_TEST(change_notify_request_layout)
{
    struct smb2_change_notify_request req = {.flags = SMB2_WATCH_TREE,
                                             .output_buffer_length = 4096,
                                             .file_id = FID,
                                             .completion_filter = FILE_NOTIFY_CHANGE_FILE_NAME |
                                                                  FILE_NOTIFY_CHANGE_DIR_NAME};
    struct writer w;
    w_header(&w, SMB2_CHANGE_NOTIFY);
    ck_assert_int_eq(smb2_change_notify_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(w.len, 64 + 32);
    ck_assert_uint_eq(get16(b), 32);
    ck_assert_uint_eq(get16(b + 2), 1);
    ck_assert_uint_eq(get32(b + 4), 4096);
    assert_fid(b + 8);
    ck_assert_uint_eq(get32(b + 24), 3);
    ck_assert_uint_eq(get32(b + 28), 0);
    writer_free(&w);
}
END_TEST

static void build_notify_buffer(struct mb *m)
{
    uint8_t n16[64];
    m->len = 0;
    size_t n = u16("old", n16);
    mb_32(m, 20); /* 12 + 6, aligned to 4 */
    mb_32(m, FILE_ACTION_RENAMED_OLD_NAME);
    mb_32(m, (uint32_t)n);
    mb_bytes(m, n16, n);
    mb_align(m, 4);
    n = u16("newname", n16);
    mb_32(m, 0);
    mb_32(m, FILE_ACTION_RENAMED_NEW_NAME);
    mb_32(m, (uint32_t)n);
    mb_bytes(m, n16, n);
}

static int count_notify(const uint8_t *p, size_t len)
{
    struct reader r;
    reader_init(&r, p, len);
    struct smb2_notify_info e;
    int rc, n = 0;
    while ((rc = smb2_notify_info_next(&r, &e)) == 1)
        if (e.name[e.name_len - 1] != 0 || ++n > 100000)
            return -100;
    return rc == 0 ? n : rc;
}

static int dec_change_notify(const uint8_t *p, size_t len)
{
    struct smb2_output_buffer o;
    int rc = smb2_change_notify_response_decode(p, len, &o);
    if (rc == 0) {
        rc = count_notify(o.buffer, o.buffer_len);
        rc = rc == 2 ? 0 : rc < 0 ? rc : -102;
    }
    return rc;
}

START_TEST(change_notify_response)
{
    struct mb d;
    build_notify_buffer(&d);
    struct mb m;
    mb_header(&m, SMB2_CHANGE_NOTIFY);
    mb_16(&m, 9);
    mb_16(&m, 0x48);
    mb_32(&m, (uint32_t)d.len);
    mb_bytes(&m, d.b, d.len);
    check_truncations(dec_change_notify, m.b, m.len);

    struct reader r;
    reader_init(&r, d.b, d.len);
    struct smb2_notify_info e;
    ck_assert_int_eq(smb2_notify_info_next(&r, &e), 1);
    ck_assert_uint_eq(e.action, FILE_ACTION_RENAMED_OLD_NAME);
    ck_assert_uint_eq(e.name_len, 6);
    ck_assert_ptr_eq(e.name, d.b + 12);
    ck_assert_int_eq(smb2_notify_info_next(&r, &e), 1);
    ck_assert_uint_eq(e.action, FILE_ACTION_RENAMED_NEW_NAME);
    ck_assert_uint_eq(e.name_len, 14);
    ck_assert_int_eq(smb2_notify_info_next(&r, &e), 0);
    for (size_t n = 1; n < d.len; n++)
        ck_assert_int_lt(count_notify(d.b, n), 0);

    const uint32_t bad_next[] = {22, 4, 16, 0xFFFFFFFC, (uint32_t)d.len};
    for (size_t i = 0; i < 5; i++) {
        build_notify_buffer(&d);
        put32(d.b, bad_next[i]);
        if (count_notify(d.b, d.len) != SQ_ERR_PROTO)
            ck_abort_msg("NextEntryOffset %u accepted", bad_next[i]);
    }
    const uint32_t bad_name[] = {0, 5, 10, 0xFFFFFFFF};
    for (size_t i = 0; i < 4; i++) {
        build_notify_buffer(&d);
        put32(d.b + 8, bad_name[i]);
        if (count_notify(d.b, d.len) != SQ_ERR_PROTO)
            ck_abort_msg("FileNameLength %u accepted", bad_name[i]);
    }
}
END_TEST

/* ---- QUERY_INFO / SET_INFO ---------------------------------------------------------------- */

START_TEST(query_info_request_layout)
{
    struct smb2_ea names[2] = {{.name = (const uint8_t *)"user.x", .name_len = 6},
                               {.name = (const uint8_t *)"ab", .name_len = 2}};
    struct writer in;
    writer_init(&in);
    ck_assert_int_eq(smb2_get_ea_list_encode(&in, names, 2), 0);
    /* FILE_GET_EA_INFORMATION: Next(4) Len(1) Name NUL, aligned to 4. */
    ck_assert_uint_eq(in.len, 12 + 8);
    ck_assert_uint_eq(get32(in.data), 12);
    ck_assert_uint_eq(in.data[4], 6);
    ck_assert_mem_eq(in.data + 5, "user.x\0", 7);
    ck_assert_uint_eq(get32(in.data + 12), 0);
    ck_assert_uint_eq(in.data[16], 2);
    ck_assert_mem_eq(in.data + 17, "ab\0", 3);

    struct smb2_query_info_request req = {.info_type = SMB2_0_INFO_FILE,
                                          .info_class = FILE_FULL_EA_INFORMATION,
                                          .output_buffer_length = 65536,
                                          .input = in.data,
                                          .input_len = (uint32_t)in.len,
                                          .additional_information = 0,
                                          .flags = SMB2_SL_RESTART_SCAN,
                                          .file_id = FID};
    struct writer w;
    w_header(&w, SMB2_QUERY_INFO);
    ck_assert_int_eq(smb2_query_info_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(get16(b), 41);
    ck_assert_uint_eq(b[2], 1);
    ck_assert_uint_eq(b[3], 15);
    ck_assert_uint_eq(get32(b + 4), 65536);
    ck_assert_uint_eq(get16(b + 8), 0x68); /* InputBufferOffset */
    ck_assert_uint_eq(get16(b + 10), 0);
    ck_assert_uint_eq(get32(b + 12), in.len);
    ck_assert_uint_eq(get32(b + 16), 0);
    ck_assert_uint_eq(get32(b + 20), 1);
    assert_fid(b + 24);
    ck_assert_uint_eq(w.len, 0x68 + in.len);
    ck_assert_mem_eq(w.data + 0x68, in.data, in.len);
    writer_free(&w);
    writer_free(&in);

    req.input = NULL;
    req.input_len = 0;
    req.info_type = SMB2_0_INFO_FILESYSTEM;
    req.info_class = FILE_FS_FULL_SIZE_INFORMATION;
    w_header(&w, SMB2_QUERY_INFO);
    ck_assert_int_eq(smb2_query_info_request_encode(&w, &req), 0);
    ck_assert_uint_eq(get16(w.data + 72), 0);
    ck_assert_uint_eq(w.len, 0x69);
    writer_free(&w);
}
END_TEST

static int dec_query_info(const uint8_t *p, size_t len)
{
    struct smb2_output_buffer o;
    int rc = smb2_query_info_response_decode(p, len, &o);
    if (rc == 0 && o.buffer_len)
        (void)o.buffer[o.buffer_len - 1];
    return rc;
}

START_TEST(query_info_response)
{
    struct mb m;
    mb_header(&m, SMB2_QUERY_INFO);
    mb_16(&m, 9);
    mb_16(&m, 0x48);
    mb_32(&m, 8);
    mb_64(&m, 0x42);
    struct smb2_output_buffer o;
    ck_assert_int_eq(smb2_query_info_response_decode(m.b, m.len, &o), 0);
    uint64_t ino;
    ck_assert_int_eq(smb2_file_internal_info_decode(o.buffer, o.buffer_len, &ino), 0);
    ck_assert_uint_eq(ino, 0x42);
    ck_assert_int_eq(smb2_file_internal_info_decode(o.buffer, 7, &ino), SQ_ERR_PROTO);
    check_truncations(dec_query_info, m.b, m.len);
    put16(m.b + 66, 0x40);
    ck_assert_int_eq(smb2_query_info_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 66, 0x49);
    ck_assert_int_eq(smb2_query_info_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put16(m.b + 66, 0x48);
    put32(m.b + 68, 0xFFFFFFFF);
    ck_assert_int_eq(smb2_query_info_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
    put32(m.b + 68, 8);
    put16(m.b + 64, 17);
    ck_assert_int_eq(smb2_query_info_response_decode(m.b, m.len, &o), SQ_ERR_PROTO);
}
END_TEST

static int dec_basic(const uint8_t *p, size_t len)
{
    struct smb2_file_basic_info o;
    return smb2_file_basic_info_decode(p, len, &o);
}
static int dec_standard(const uint8_t *p, size_t len)
{
    struct smb2_file_standard_info o;
    return smb2_file_standard_info_decode(p, len, &o);
}
static int dec_all(const uint8_t *p, size_t len)
{
    struct smb2_file_all_info o;
    int rc = smb2_file_all_info_decode(p, len, &o);
    if (rc == 0 && o.name_len)
        (void)o.name[o.name_len - 1];
    return rc;
}
static int dec_network_open(const uint8_t *p, size_t len)
{
    struct smb2_file_network_open_info o;
    return smb2_file_network_open_info_decode(p, len, &o);
}
static int dec_fs_full(const uint8_t *p, size_t len)
{
    struct smb2_fs_size_info o;
    return smb2_fs_full_size_info_decode(p, len, &o);
}
static int dec_fs_size(const uint8_t *p, size_t len)
{
    struct smb2_fs_size_info o;
    return smb2_fs_size_info_decode(p, len, &o);
}
static int dec_fs_attr(const uint8_t *p, size_t len)
{
    struct smb2_fs_attribute_info o;
    int rc = smb2_fs_attribute_info_decode(p, len, &o);
    if (rc == 0 && o.fs_name_len)
        (void)o.fs_name[o.fs_name_len - 1];
    return rc;
}

static void mb_basic(struct mb *m)
{
    mb_64(m, 0x01d0000000000001ull);
    mb_64(m, 0x01d0000000000002ull);
    mb_64(m, 0x01d0000000000003ull);
    mb_64(m, 0x01d0000000000004ull);
    mb_32(m, FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_ARCHIVE);
    mb_32(m, 0);
}

static void mb_standard(struct mb *m)
{
    mb_64(m, 8192); /* AllocationSize */
    mb_64(m, 7000); /* EndOfFile */
    mb_32(m, 2);    /* NumberOfLinks */
    mb_u8(m, 0);    /* DeletePending */
    mb_u8(m, 1);    /* Directory */
    mb_16(m, 0);
}

START_TEST(file_info_decoders)
{
    struct mb m = {.len = 0};
    mb_basic(&m);
    struct smb2_file_basic_info basic;
    ck_assert_int_eq(smb2_file_basic_info_decode(m.b, m.len, &basic), 0);
    ck_assert_uint_eq(basic.creation_time, 0x01d0000000000001ull);
    ck_assert_uint_eq(basic.last_access_time, 0x01d0000000000002ull);
    ck_assert_uint_eq(basic.last_write_time, 0x01d0000000000003ull);
    ck_assert_uint_eq(basic.change_time, 0x01d0000000000004ull);
    ck_assert_uint_eq(basic.file_attributes, 0x21);
    check_truncations(dec_basic, m.b, m.len);

    m.len = 0;
    mb_standard(&m);
    struct smb2_file_standard_info st;
    ck_assert_int_eq(smb2_file_standard_info_decode(m.b, m.len, &st), 0);
    ck_assert_uint_eq(st.allocation_size, 8192);
    ck_assert_uint_eq(st.end_of_file, 7000);
    ck_assert_uint_eq(st.number_of_links, 2);
    ck_assert(!st.delete_pending);
    ck_assert(st.directory);
    check_truncations(dec_standard, m.b, m.len);

    /* FileAllInformation (MS-FSCC 2.4). */
    m.len = 0;
    mb_basic(&m);
    mb_standard(&m);
    mb_64(&m, 0x99);     /* IndexNumber */
    mb_32(&m, 0);        /* EaSize */
    mb_32(&m, 0x1f01ff); /* AccessFlags */
    mb_64(&m, 0);        /* CurrentByteOffset */
    mb_32(&m, 0);        /* Mode */
    mb_32(&m, 0);        /* AlignmentRequirement */
    ck_assert_uint_eq(m.len, 96);
    uint8_t n16[64];
    size_t n = u16("\\dir\\file", n16);
    mb_32(&m, (uint32_t)n);
    mb_bytes(&m, n16, n);
    struct smb2_file_all_info all;
    ck_assert_int_eq(smb2_file_all_info_decode(m.b, m.len, &all), 0);
    ck_assert_uint_eq(all.basic.change_time, 0x01d0000000000004ull);
    ck_assert_uint_eq(all.standard.end_of_file, 7000);
    ck_assert_uint_eq(all.index_number, 0x99);
    ck_assert_uint_eq(all.access_flags, 0x1f01ff);
    ck_assert_ptr_eq(all.name, m.b + 100);
    ck_assert_uint_eq(all.name_len, n);
    check_truncations(dec_all, m.b, m.len);
    put32(m.b + 96, 0xFFFFFFFF);
    ck_assert_int_eq(smb2_file_all_info_decode(m.b, m.len, &all), SQ_ERR_PROTO);
    put32(m.b + 96, (uint32_t)n - 1);
    ck_assert_int_eq(smb2_file_all_info_decode(m.b, m.len, &all), SQ_ERR_PROTO);

    /* FileNetworkOpenInformation (2.4.29). */
    m.len = 0;
    for (uint64_t i = 1; i <= 4; i++)
        mb_64(&m, i);
    mb_64(&m, 4096);
    mb_64(&m, 10);
    mb_32(&m, FILE_ATTRIBUTE_NORMAL);
    mb_32(&m, 0);
    struct smb2_file_network_open_info no;
    ck_assert_int_eq(smb2_file_network_open_info_decode(m.b, m.len, &no), 0);
    ck_assert_uint_eq(no.change_time, 4);
    ck_assert_uint_eq(no.allocation_size, 4096);
    ck_assert_uint_eq(no.end_of_file, 10);
    ck_assert_uint_eq(no.file_attributes, 0x80);
    check_truncations(dec_network_open, m.b, m.len);
}
END_TEST

START_TEST(fs_info_decoders)
{
    struct mb m = {.len = 0};
    mb_64(&m, 1000000); /* TotalAllocationUnits */
    mb_64(&m, 250000);  /* CallerAvailableAllocationUnits */
    mb_64(&m, 300000);  /* ActualAvailableAllocationUnits */
    mb_32(&m, 8);
    mb_32(&m, 512);
    struct smb2_fs_size_info fs;
    ck_assert_int_eq(smb2_fs_full_size_info_decode(m.b, m.len, &fs), 0);
    ck_assert_uint_eq(fs.total_allocation_units, 1000000);
    ck_assert_uint_eq(fs.caller_available_units, 250000);
    ck_assert_uint_eq(fs.actual_available_units, 300000);
    ck_assert_uint_eq(fs.sectors_per_allocation_unit, 8);
    ck_assert_uint_eq(fs.bytes_per_sector, 512);
    check_truncations(dec_fs_full, m.b, m.len);

    m.len = 0;
    mb_64(&m, 1000);
    mb_64(&m, 100);
    mb_32(&m, 1);
    mb_32(&m, 4096);
    ck_assert_int_eq(smb2_fs_size_info_decode(m.b, m.len, &fs), 0);
    ck_assert_uint_eq(fs.total_allocation_units, 1000);
    ck_assert_uint_eq(fs.caller_available_units, 100);
    ck_assert_uint_eq(fs.actual_available_units, 100);
    ck_assert_uint_eq(fs.bytes_per_sector, 4096);
    check_truncations(dec_fs_size, m.b, m.len);

    m.len = 0;
    mb_32(&m, FILE_CASE_SENSITIVE_SEARCH | FILE_CASE_PRESERVED_NAMES | FILE_UNICODE_ON_DISK);
    mb_32(&m, 255);
    uint8_t n16[16];
    size_t n = u16("NTFS", n16);
    mb_32(&m, (uint32_t)n);
    mb_bytes(&m, n16, n);
    struct smb2_fs_attribute_info fa;
    ck_assert_int_eq(smb2_fs_attribute_info_decode(m.b, m.len, &fa), 0);
    ck_assert_uint_eq(fa.attributes, 7);
    ck_assert_uint_eq(fa.max_component_name_len, 255);
    ck_assert_uint_eq(fa.fs_name_len, 8);
    ck_assert_mem_eq(fa.fs_name, "N\0T\0F\0S\0", 8);
    check_truncations(dec_fs_attr, m.b, m.len);
    put32(m.b + 8, 0xFFFFFFFE); /* the libsmb2 volume-name lesson */
    ck_assert_int_eq(smb2_fs_attribute_info_decode(m.b, m.len, &fa), SQ_ERR_PROTO);
    ck_assert_ptr_null(fa.fs_name);
    put32(m.b + 8, 7);
    ck_assert_int_eq(smb2_fs_attribute_info_decode(m.b, m.len, &fa), SQ_ERR_PROTO);
}
END_TEST

static int count_eas(const uint8_t *p, size_t len)
{
    struct reader r;
    reader_init(&r, p, len);
    struct smb2_ea e;
    int rc, n = 0;
    while ((rc = smb2_ea_next(&r, &e)) == 1)
        if (++n > 100000)
            return -100;
    return rc == 0 ? n : rc;
}

START_TEST(ea_lists)
{
    const uint8_t v1[] = "value-1";
    struct smb2_ea eas[3] = {
        {0, (const uint8_t *)"user.one", 8, v1, 7},
        {FILE_NEED_EA, (const uint8_t *)"b", 1, NULL, 0},
        {0, (const uint8_t *)"user.three", 10, (const uint8_t *)"3", 1},
    };
    struct writer w;
    writer_init(&w);
    ck_assert_int_eq(smb2_ea_list_encode(&w, eas, 3), 0);
    /* Entry 1: 8 + 8 + 1 + 7 = 24 (aligned); entry 2: 8 + 1 + 1 = 10 -> 12; entry 3: 8+10+1+1. */
    ck_assert_uint_eq(w.len, 24 + 12 + 20);
    ck_assert_uint_eq(get32(w.data), 24);
    ck_assert_uint_eq(w.data[4], 0);
    ck_assert_uint_eq(w.data[5], 8);
    ck_assert_uint_eq(get16(w.data + 6), 7);
    ck_assert_mem_eq(w.data + 8, "user.one\0value-1", 16);
    ck_assert_uint_eq(get32(w.data + 24), 12);
    ck_assert_uint_eq(w.data[28], 0x80);
    ck_assert_uint_eq(w.data[29], 1);
    ck_assert_uint_eq(get16(w.data + 30), 0);
    ck_assert_mem_eq(w.data + 32, "b\0\0\0", 4);
    ck_assert_uint_eq(get32(w.data + 36), 0);

    struct reader r;
    reader_init(&r, w.data, w.len);
    struct smb2_ea e;
    ck_assert_int_eq(smb2_ea_next(&r, &e), 1);
    ck_assert_uint_eq(e.name_len, 8);
    ck_assert_mem_eq(e.name, "user.one", 8);
    ck_assert_uint_eq(e.value_len, 7);
    ck_assert_mem_eq(e.value, "value-1", 7);
    ck_assert_int_eq(smb2_ea_next(&r, &e), 1);
    ck_assert_uint_eq(e.flags, FILE_NEED_EA);
    ck_assert_ptr_null(e.value);
    ck_assert_int_eq(smb2_ea_next(&r, &e), 1);
    ck_assert_mem_eq(e.value, "3", 1);
    ck_assert_int_eq(smb2_ea_next(&r, &e), 0);
    for (size_t n = 1; n < w.len; n++)
        ck_assert_int_lt(count_eas(w.data, n), 0);

    /* Missing NUL after the name, value past the entry, misaligned and short Next. */
    uint8_t copy[64];
    memcpy(copy, w.data, w.len);
    copy[16] = 'x';
    ck_assert_int_eq(count_eas(copy, w.len), SQ_ERR_PROTO);
    memcpy(copy, w.data, w.len);
    put16(copy + 6, 8);
    ck_assert_int_eq(count_eas(copy, w.len), SQ_ERR_PROTO);
    memcpy(copy, w.data, w.len);
    put32(copy, 22);
    ck_assert_int_eq(count_eas(copy, w.len), SQ_ERR_PROTO);
    memcpy(copy, w.data, w.len);
    put32(copy, 4);
    ck_assert_int_eq(count_eas(copy, w.len), SQ_ERR_PROTO);
    memcpy(copy, w.data, w.len);
    copy[5] = 0; /* empty name */
    ck_assert_int_eq(count_eas(copy, w.len), SQ_ERR_PROTO);

    /* Encoder refuses empty lists, empty names and names with a NUL. */
    ck_assert_int_eq(smb2_ea_list_encode(&w, eas, 0), SQ_ERR_INVAL);
    struct smb2_ea bad = {0, (const uint8_t *)"a\0b", 3, NULL, 0};
    ck_assert_int_eq(smb2_ea_list_encode(&w, &bad, 1), SQ_ERR_INVAL);
    bad.name_len = 0;
    ck_assert_int_eq(smb2_get_ea_list_encode(&w, &bad, 1), SQ_ERR_INVAL);
    writer_free(&w);
}
END_TEST

START_TEST(stream_info)
{
    struct mb m = {.len = 0};
    uint8_t n16[64];
    size_t n = u16("::$DATA", n16);
    mb_32(&m, 40); /* 24 + 14 -> 40 */
    mb_32(&m, (uint32_t)n);
    mb_64(&m, 100);
    mb_64(&m, 4096);
    mb_bytes(&m, n16, n);
    mb_align(&m, 8);
    n = u16(":s:$DATA", n16);
    mb_32(&m, 0);
    mb_32(&m, (uint32_t)n);
    mb_64(&m, 5);
    mb_64(&m, 8);
    mb_bytes(&m, n16, n);
    struct reader r;
    reader_init(&r, m.b, m.len);
    struct smb2_stream_info s;
    ck_assert_int_eq(smb2_stream_info_next(&r, &s), 1);
    ck_assert_uint_eq(s.size, 100);
    ck_assert_uint_eq(s.allocation_size, 4096);
    ck_assert_uint_eq(s.name_len, 14);
    ck_assert_int_eq(smb2_stream_info_next(&r, &s), 1);
    ck_assert_uint_eq(s.size, 5);
    ck_assert_int_eq(smb2_stream_info_next(&r, &s), 0);
    for (size_t k = 1; k < m.len; k++) {
        reader_init(&r, m.b, k);
        int rc;
        while ((rc = smb2_stream_info_next(&r, &s)) == 1)
            ;
        ck_assert_int_eq(rc, SQ_ERR_PROTO);
    }
    put32(m.b, 36); /* misaligned */
    reader_init(&r, m.b, m.len);
    ck_assert_int_eq(smb2_stream_info_next(&r, &s), SQ_ERR_PROTO);
}
END_TEST

START_TEST(set_info_rename_layout)
{
    uint8_t name[64];
    size_t n = u16("dir\\new.txt", name); /* 22 bytes */
    struct writer payload;
    writer_init(&payload);
    ck_assert_int_eq(smb2_file_rename_info_encode(&payload, true, name, n), 0);
    /* FILE_RENAME_INFORMATION_TYPE_2: ReplaceIfExists(1) Reserved(7) RootDirectory(8)
     * FileNameLength(4) FileName, then the uncounted UTF-16 NUL. */
    ck_assert_uint_eq(payload.len, 20 + n + 2);
    ck_assert_uint_eq(payload.data[0], 1);
    ck_assert_mem_eq(payload.data + 1, "\0\0\0\0\0\0\0", 7);
    ck_assert_uint_eq(get64(payload.data + 8), 0);
    ck_assert_uint_eq(get32(payload.data + 16), n);
    ck_assert_mem_eq(payload.data + 20, name, n);
    ck_assert_uint_eq(get16(payload.data + 20 + n), 0);

    struct smb2_set_info_request req = {.info_type = SMB2_0_INFO_FILE,
                                        .info_class = FILE_RENAME_INFORMATION,
                                        .file_id = FID,
                                        .buffer = payload.data,
                                        .buffer_len = (uint32_t)payload.len};
    struct writer w;
    w_header(&w, SMB2_SET_INFO);
    ck_assert_int_eq(smb2_set_info_request_encode(&w, &req), 0);
    const uint8_t *b = w.data + 64;
    ck_assert_uint_eq(get16(b), 33);
    ck_assert_uint_eq(b[2], 1);
    ck_assert_uint_eq(b[3], 10);
    ck_assert_uint_eq(get32(b + 4), payload.len); /* BufferLength */
    ck_assert_uint_eq(get16(b + 8), 0x60);        /* BufferOffset */
    ck_assert_uint_eq(get16(b + 10), 0);
    ck_assert_uint_eq(get32(b + 12), 0); /* AdditionalInformation */
    assert_fid(b + 16);
    ck_assert_uint_eq(w.len, 0x60 + payload.len);
    ck_assert_mem_eq(w.data + 0x60, payload.data, payload.len);
    writer_free(&w);

    ck_assert_int_eq(smb2_file_rename_info_encode(&payload, true, name, 3), SQ_ERR_INVAL);
    ck_assert_int_eq(smb2_file_link_info_encode(&payload, false, name, 0), SQ_ERR_INVAL);
    payload.len = 0;
    ck_assert_int_eq(smb2_file_link_info_encode(&payload, false, name, 2), 0);
    ck_assert_uint_eq(payload.len, 24);
    ck_assert_uint_eq(payload.data[0], 0);
    writer_free(&payload);
}
END_TEST

START_TEST(set_info_payloads)
{
    struct writer w;
    writer_init(&w);
    struct smb2_file_basic_info bi = {.creation_time = 0,
                                      .last_access_time = UINT64_MAX,
                                      .last_write_time = 0x01d0000000000003ull,
                                      .change_time = 0,
                                      .file_attributes = FILE_ATTRIBUTE_HIDDEN};
    ck_assert_int_eq(smb2_file_basic_info_encode(&w, &bi), 0);
    ck_assert_uint_eq(w.len, 40);
    ck_assert_uint_eq(get64(w.data), 0);
    ck_assert_uint_eq(get64(w.data + 8), UINT64_MAX);
    ck_assert_uint_eq(get64(w.data + 16), 0x01d0000000000003ull);
    ck_assert_uint_eq(get64(w.data + 24), 0);
    ck_assert_uint_eq(get32(w.data + 32), 2);
    ck_assert_uint_eq(get32(w.data + 36), 0);
    struct smb2_file_basic_info back;
    ck_assert_int_eq(smb2_file_basic_info_decode(w.data, w.len, &back), 0);
    ck_assert_uint_eq(back.last_write_time, bi.last_write_time);
    w.len = 0;
    ck_assert_int_eq(smb2_file_end_of_file_info_encode(&w, 0x123456789ull), 0);
    ck_assert_int_eq(smb2_file_allocation_info_encode(&w, 8192), 0);
    ck_assert_int_eq(smb2_file_disposition_info_encode(&w, true), 0);
    ck_assert_uint_eq(w.len, 17);
    ck_assert_uint_eq(get64(w.data), 0x123456789ull);
    ck_assert_uint_eq(get64(w.data + 8), 8192);
    ck_assert_uint_eq(w.data[16], 1);
    writer_free(&w);
}
END_TEST

/* ---- OPLOCK_BREAK ------------------------------------------------------------------------- */

static int dec_break(const uint8_t *p, size_t len)
{
    struct smb2_break o;
    return smb2_oplock_break_decode(p, len, &o);
}

START_TEST(oplock_break)
{
    struct mb m;
    mb_header(&m, SMB2_OPLOCK_BREAK);
    mb_16(&m, 24);
    mb_u8(&m, SMB2_OPLOCK_LEVEL_II);
    mb_u8(&m, 0);
    mb_32(&m, 0);
    mb_fid(&m);
    struct smb2_break o;
    ck_assert_int_eq(smb2_oplock_break_decode(m.b, m.len, &o), 0);
    ck_assert_int_eq(o.kind, SMB2_BREAK_OPLOCK);
    ck_assert_uint_eq(o.oplock_level, 1);
    ck_assert_uint_eq(o.file_id.persistent, FID.persistent);
    check_truncations(dec_break, m.b, m.len);

    /* Lease break notification, 2.2.23.2. */
    mb_header(&m, SMB2_OPLOCK_BREAK);
    mb_16(&m, 44);
    mb_16(&m, 5); /* NewEpoch */
    mb_32(&m, SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED);
    mb_bytes(&m, LEASE_KEY, 16);
    mb_32(&m, 7); /* CurrentLeaseState */
    mb_32(&m, 1); /* NewLeaseState */
    mb_32(&m, 0); /* BreakReason */
    mb_32(&m, 0x12);
    mb_32(&m, 0x3);
    ck_assert_int_eq(smb2_oplock_break_decode(m.b, m.len, &o), 0);
    ck_assert_int_eq(o.kind, SMB2_BREAK_LEASE_NOTIFY);
    ck_assert_uint_eq(o.new_epoch, 5);
    ck_assert_uint_eq(o.flags, 1);
    ck_assert_mem_eq(o.lease_key, LEASE_KEY, 16);
    ck_assert_uint_eq(o.lease_state, 7);
    ck_assert_uint_eq(o.new_lease_state, 1);
    ck_assert_uint_eq(o.access_mask_hint, 0x12);
    ck_assert_uint_eq(o.share_mask_hint, 3);
    check_truncations(dec_break, m.b, m.len);

    /* Lease break response, 2.2.25.2. */
    mb_header(&m, SMB2_OPLOCK_BREAK);
    mb_16(&m, 36);
    mb_16(&m, 0);
    mb_32(&m, 0);
    mb_bytes(&m, LEASE_KEY, 16);
    mb_32(&m, 1);
    mb_64(&m, 0);
    ck_assert_int_eq(smb2_oplock_break_decode(m.b, m.len, &o), 0);
    ck_assert_int_eq(o.kind, SMB2_BREAK_LEASE_RESPONSE);
    ck_assert_uint_eq(o.lease_state, 1);
    check_truncations(dec_break, m.b, m.len);

    const uint16_t bad[] = {0, 9, 23, 25, 37, 45};
    for (size_t i = 0; i < 6; i++) {
        put16(m.b + 64, bad[i]);
        ck_assert_int_eq(smb2_oplock_break_decode(m.b, m.len, &o), SQ_ERR_PROTO);
        ck_assert_int_eq(o.kind, 0);
    }
}
END_TEST

START_TEST(break_acks_layout)
{
    struct writer w;
    w_header(&w, SMB2_OPLOCK_BREAK);
    ck_assert_int_eq(smb2_oplock_break_ack_encode(&w, SMB2_OPLOCK_LEVEL_NONE, &FID), 0);
    ck_assert_uint_eq(w.len, 64 + 24);
    ck_assert_uint_eq(get16(w.data + 64), 24);
    ck_assert_uint_eq(w.data[66], 0);
    ck_assert_uint_eq(w.data[67], 0);
    ck_assert_uint_eq(get32(w.data + 68), 0);
    assert_fid(w.data + 72);
    writer_free(&w);

    w_header(&w, SMB2_OPLOCK_BREAK);
    ck_assert_int_eq(smb2_lease_break_ack_encode(&w, LEASE_KEY, SMB2_LEASE_READ_CACHING), 0);
    ck_assert_uint_eq(w.len, 64 + 36);
    ck_assert_uint_eq(get16(w.data + 64), 36);
    ck_assert_uint_eq(get16(w.data + 66), 0);
    ck_assert_uint_eq(get32(w.data + 68), 0);
    ck_assert_mem_eq(w.data + 72, LEASE_KEY, 16);
    ck_assert_uint_eq(get32(w.data + 88), 1);
    ck_assert_uint_eq(get64(w.data + 92), 0);
    writer_free(&w);
}
END_TEST

/* Decoders never read before the body when the message is shorter than a header. */
START_TEST(short_messages)
{
    uint8_t z[200] = {0};
    for (size_t n = 0; n < sizeof(z); n++) {
        struct smb2_create_response c;
        struct smb2_read_response rd;
        struct smb2_output_buffer ob;
        struct smb2_ioctl_response io;
        struct smb2_break br;
        ck_assert_int_eq(smb2_create_response_decode(z, n, &c), SQ_ERR_PROTO);
        ck_assert_int_eq(smb2_read_response_decode(z, n, &rd), SQ_ERR_PROTO);
        ck_assert_int_eq(smb2_query_directory_response_decode(z, n, &ob), SQ_ERR_PROTO);
        ck_assert_int_eq(smb2_ioctl_response_decode(z, n, &io), SQ_ERR_PROTO);
        ck_assert_int_eq(smb2_oplock_break_decode(z, n, &br), SQ_ERR_PROTO);
    }
    struct smb2_create_response c;
    ck_assert_int_eq(smb2_create_response_decode(NULL, 0, &c), SQ_ERR_PROTO);
}
END_TEST

static Suite *msg_suite(void)
{
    Suite *s = suite_create("smb2_msg");
    TCase *t = tcase_create("file");
    tcase_add_test(t, create_request_layout);
    tcase_add_test(t, create_request_other_contexts);
    tcase_add_test(t, create_request_minimal_and_invalid);
    tcase_add_test(t, create_response_valid);
    tcase_add_test(t, create_response_bad_structure);
    tcase_add_test(t, create_response_bad_contexts);
    tcase_add_test(t, create_response_durable_v1_and_duplicates);
    tcase_add_test(t, close_and_flush);
    tcase_add_test(t, close_response);
    tcase_add_test(t, small_responses);
    tcase_add_test(t, read_request_layout);
    tcase_add_test(t, read_response);
    tcase_add_test(t, write_request_layout);
    tcase_add_test(t, write_response);
    tcase_add_test(t, lock_request_layout);
    tcase_add_test(t, ioctl_request_layout);
    tcase_add_test(t, ioctl_response);
    tcase_add_test(t, fsctl_payloads);
    tcase_add_test(t, reparse_symlink);
    tcase_add_test(t, query_directory_request_layout);
    tcase_add_test(t, query_directory_response);
    tcase_add_test(t, dirent_chain_attacks);
    tcase_add_test(t, dirent_other_classes);
    tcase_add_test(t, change_notify_request_layout);
    tcase_add_test(t, change_notify_response);
    tcase_add_test(t, query_info_request_layout);
    tcase_add_test(t, query_info_response);
    tcase_add_test(t, file_info_decoders);
    tcase_add_test(t, fs_info_decoders);
    tcase_add_test(t, ea_lists);
    tcase_add_test(t, stream_info);
    tcase_add_test(t, set_info_rename_layout);
    tcase_add_test(t, set_info_payloads);
    tcase_add_test(t, oplock_break);
    tcase_add_test(t, break_acks_layout);
    tcase_add_test(t, short_messages);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(msg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
