/* libFuzzer target: SMB2 CHANGE_NOTIFY response (MS-SMB2 2.2.36) and FILE_NOTIFY_INFORMATION
 * chains (MS-FSCC 2.7.1), both inside a response and as raw bytes. */
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

static void walk(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    struct reader r;
    reader_init(&r, p, n);
    struct smb2_notify_info e;
    int rc;
    size_t count = 0;
    while ((rc = smb2_notify_info_next(&r, &e)) == 1) {
        INSIDE(e.name, e.name_len, base, size);
        if (e.name_len == 0 || (e.name_len & 1) || ++count > n)
            abort();
        sink += e.name[e.name_len - 1];
    }
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_output_buffer o;
    if (smb2_change_notify_response_decode(data, size, &o) == 0) {
        INSIDE(o.buffer, o.buffer_len, data, size);
        walk(o.buffer, o.buffer_len, data, size);
    }
    walk(data, size, data, size);
    return 0;
}
