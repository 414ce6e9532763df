/* libFuzzer target: SMB2 SESSION_SETUP response (MS-SMB2 2.2.6), and the request encoder with
 * the input as the security token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_session.h"
#include "util/error.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_session_setup_response r;
    if (smb2_session_setup_response_decode(data, size, &r) == 0) {
        if (r.security_buffer_len) {
            size_t off = (size_t)(r.security_buffer - data);
            if (r.security_buffer < data || off < 72 || off > size ||
                r.security_buffer_len > size - off)
                abort();
            sink += r.security_buffer[0] + r.security_buffer[r.security_buffer_len - 1];
        } else if (r.security_buffer) {
            abort();
        }
    } else if (r.security_buffer || r.session_flags) {
        abort();
    }

    struct smb2_session_setup_request req = {
        .flags = size ? data[0] : 0,
        .security_mode = 1,
        .security_buffer = data,
        .security_buffer_len = size,
    };
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, 64);
    int rc = smb2_session_setup_request_encode(&w, &req);
    if (rc == 0) {
        if (size > 0xFFFF || w.len != 64 + 24 + (size ? size : 1) ||
            (size && memcmp(w.data + 88, data, size) != 0))
            abort();
    } else if (rc != SQ_ERR_INVAL || size <= 0xFFFF) {
        abort();
    }
    writer_free(&w);
    return 0;
}
