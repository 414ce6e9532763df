/* libFuzzer target: SMB2 WRITE response (MS-SMB2 2.2.22) and a WRITE request carrying the
 * input as payload (2.2.21), checked field by field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_write_response o;
    int rc = smb2_write_response_decode(data, size, &o);
    if (rc != 0 && (rc != SQ_ERR_PROTO || o.count || o.remaining))
        abort();

    struct smb2_write_request req = {.offset = size, .data = data, .length = (uint32_t)size};
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, SMB2_HEADER_SIZE);
    if (smb2_write_request_encode(&w, &req) != 0)
        abort();
    size_t want = SMB2_WRITE_REQUEST_DATA_OFFSET + (size ? size : 1);
    if (w.len != want || le32(w.data + 64 + 4) != size ||
        (w.data[64 + 2] | w.data[64 + 3] << 8) != SMB2_WRITE_REQUEST_DATA_OFFSET ||
        (size && memcmp(w.data + SMB2_WRITE_REQUEST_DATA_OFFSET, data, size) != 0))
        abort();
    writer_free(&w);
    return 0;
}
