/* libFuzzer target: SMB2 READ response (MS-SMB2 2.2.20): the data span must lie in the message,
 * after the fixed part. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_file.h"
#include "util/error.h"

/* Aborts unless [p, p+n) lies inside [base, base+size). */
#define INSIDE(p, n, base, size)                                                                   \
    do {                                                                                           \
        if ((n) && ((p) < (base) || (size_t)((p) - (base)) > (size) ||                             \
                    (size_t)(n) > (size) - (size_t)((p) - (base))))                                \
            abort();                                                                               \
    } while (0)

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_read_response o;
    int rc = smb2_read_response_decode(data, size, &o);
    if (rc == 0) {
        INSIDE(o.data, o.data_len, data, size);
        if (o.data_len && o.data < data + SMB2_HEADER_SIZE + 16)
            abort();
        if (o.data_len) {
            unsigned sum = 0;
            for (uint32_t i = 0; i < o.data_len; i++)
                sum += o.data[i];
            sink += sum;
        }
    } else if (rc != SQ_ERR_PROTO || o.data || o.data_len) {
        abort();
    }
    return 0;
}
