/* libFuzzer target: SMB2 CLOSE, FLUSH and SET_INFO responses (MS-SMB2 2.2.16, 2.2.18, 2.2.40). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_close_response o;
    int rc = smb2_close_response_decode(data, size, &o);
    if (rc != 0 && (rc != SQ_ERR_PROTO || o.flags || o.end_of_file))
        abort();
    if (rc == 0 && size < SMB2_HEADER_SIZE + 60)
        abort();
    rc = smb2_flush_response_decode(data, size);
    if (rc == 0 && size < SMB2_HEADER_SIZE + 4)
        abort();
    rc = smb2_set_info_response_decode(data, size);
    if (rc == 0 && size < SMB2_HEADER_SIZE + 2)
        abort();
    return 0;
}
