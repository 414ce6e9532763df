/* libFuzzer target: SMB2 CREATE response and create-context lists (MS-SMB2 2.2.14, 2.2.13.2).
 * Checks that every span a decoder returns lies inside the input, and that a request encoded
 * from fuzz bytes walks back cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

#define INSIDE(p, n, base, size)                                                                   \
    do {                                                                                           \
        if ((n) && ((p) < (base) || (size_t)((p) - (base)) > (size) ||                             \
                    (size_t)(n) > (size) - (size_t)((p) - (base))))                                \
            abort();                                                                               \
    } while (0)

static volatile unsigned sink;

static void walk_contexts(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    struct reader r;
    reader_init(&r, p, n);
    struct smb2_create_context c;
    int rc;
    while ((rc = smb2_create_context_next(&r, &c)) == 1) {
        INSIDE(c.name, c.name_len, base, size);
        INSIDE(c.data, c.data_len, base, size);
        sink += c.name[c.name_len - 1];
        if (c.data_len)
            sink += c.data[c.data_len - 1];
    }
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_create_response o;
    int rc = smb2_create_response_decode(data, size, &o);
    if (rc == 0) {
        INSIDE(o.contexts, o.contexts_len, data, size);
        walk_contexts(o.contexts, o.contexts_len, data, size);
        if (o.has_lease && o.lease.version != 1 && o.lease.version != 2)
            abort();
    } else if (rc != SQ_ERR_PROTO || o.has_lease || o.contexts) {
        abort();
    }
    walk_contexts(data, size, data, size);

    /* Encode a request with the input as a raw context body and (even part of it) as name. */
    struct smb2_create_context extra = {data, (uint16_t)(size < 16 ? size : 16), data,
                                        (uint32_t)size};
    struct smb2_lease lease = {0};
    memcpy(lease.key, data, size < 16 ? size : 16);
    struct smb2_create_request req = {
        .name = data,
        .name_len = (size & ~(size_t)1) > 512 ? 512 : size & ~(size_t)1,
        .lease = &lease,
        .query_maximal_access = size & 1,
        .query_on_disk_id = (size >> 1) & 1,
        .extra_contexts = &extra,
        .extra_context_count = size ? 1 : 0,
    };
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, SMB2_HEADER_SIZE);
    if (smb2_create_request_encode(&w, &req) == 0) {
        uint32_t off = (uint32_t)w.data[64 + 48] | (uint32_t)w.data[64 + 49] << 8 |
                       (uint32_t)w.data[64 + 50] << 16 | (uint32_t)w.data[64 + 51] << 24;
        uint32_t len = (uint32_t)w.data[64 + 52] | (uint32_t)w.data[64 + 53] << 8 |
                       (uint32_t)w.data[64 + 54] << 16 | (uint32_t)w.data[64 + 55] << 24;
        if (off > w.len || len != w.len - off || (off & 7))
            abort();
        struct reader r;
        reader_init(&r, w.data + off, len);
        struct smb2_create_context c;
        int n = 0;
        while ((rc = smb2_create_context_next(&r, &c)) == 1)
            n++;
        int want = 1 + (int)(size & 1) + (int)((size >> 1) & 1) + (size ? 1 : 0);
        if (rc != 0 || n != want)
            abort();
    }
    writer_free(&w);
    return 0;
}
