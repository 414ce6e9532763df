/* Fuzzes smb2_header_decode (MS-SMB2 2.2.1): arbitrary bytes must decode or fail without
 * reading past the input, a success consumes exactly 64 bytes, and re-encoding a decoded
 * header reproduces the input (except the sync form's Reserved field, which the encoder
 * writes as Windows does). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/proto.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r;
    struct smb2_header h;
    reader_init(&r, data, size);
    if (smb2_header_decode(&r, &h) != 0)
        return 0;
    if (size < SMB2_HEADER_SIZE || r.off != SMB2_HEADER_SIZE || reader_error(&r))
        abort();

    uint8_t out[SMB2_HEADER_SIZE];
    struct writer w;
    writer_init_fixed(&w, out, sizeof(out));
    smb2_header_encode(&w, &h);
    if (writer_error(&w) || w.len != SMB2_HEADER_SIZE)
        abort();
    bool async = (h.flags & SMB2_FLAGS_ASYNC_COMMAND) != 0;
    for (size_t i = 0; i < SMB2_HEADER_SIZE; i++) {
        if (!async && i >= 32 && i < 36)
            continue; /* Reserved (ProcessId) */
        if (out[i] != data[i])
            abort();
    }
    if (async && h.tree_id != 0)
        abort();
    return 0;
}
