/* libFuzzer target: SMB2 OPLOCK_BREAK messages from the server (MS-SMB2 2.2.23, 2.2.25). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_break o;
    int rc = smb2_oplock_break_decode(data, size, &o);
    if (rc == 0) {
        size_t need = o.kind == SMB2_BREAK_OPLOCK           ? 24
                      : o.kind == SMB2_BREAK_LEASE_NOTIFY   ? 44
                      : o.kind == SMB2_BREAK_LEASE_RESPONSE ? 36
                                                            : SIZE_MAX;
        if (need == SIZE_MAX || size < SMB2_HEADER_SIZE + need)
            abort();
    } else if (rc != SQ_ERR_PROTO || o.kind != 0) {
        abort();
    }
    return 0;
}
