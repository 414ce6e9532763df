/* libFuzzer target: SMB2 LOCK response (MS-SMB2 2.2.27) and LOCK requests (2.2.26) whose lock
 * elements come from the input, checked against the spec's layout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc = smb2_lock_response_decode(data, size);
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();

    struct smb2_lock_element locks[64];
    size_t n = size / 20 > 64 ? 64 : size / 20;
    for (size_t i = 0; i < n; i++) {
        locks[i].offset = le64(data + 20 * i);
        locks[i].length = le64(data + 20 * i + 8);
        locks[i].flags = (uint32_t)le64(data + 20 * i + 12);
    }
    struct smb2_lock_request req = {.lock_sequence_number = size ? data[0] & 0xF : 0,
                                    .lock_sequence_index = (uint32_t)size & 0x0FFFFFFF,
                                    .locks = locks,
                                    .lock_count = (uint16_t)n};
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, SMB2_HEADER_SIZE);
    rc = smb2_lock_request_encode(&w, &req);
    if (n == 0) {
        if (rc != SQ_ERR_INVAL || w.len != SMB2_HEADER_SIZE)
            abort();
    } else {
        if (rc != 0 || w.len != SMB2_HEADER_SIZE + 24 + 24 * n)
            abort();
        for (size_t i = 0; i < n; i++) {
            const uint8_t *e = w.data + SMB2_HEADER_SIZE + 24 + 24 * i;
            if (le64(e) != locks[i].offset || le64(e + 8) != locks[i].length ||
                (uint32_t)le64(e + 16) != locks[i].flags)
                abort();
        }
    }
    writer_free(&w);
    return 0;
}
