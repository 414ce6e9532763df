/* libFuzzer target: SMB2 QUERY_DIRECTORY response (MS-SMB2 2.2.34) and the directory
 * information iterators of every supported class (MS-FSCC 2.4), inside a response and raw. */
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

static const uint8_t classes[] = {
    FILE_DIRECTORY_INFORMATION,         FILE_FULL_DIRECTORY_INFORMATION,
    FILE_BOTH_DIRECTORY_INFORMATION,    FILE_ID_FULL_DIRECTORY_INFORMATION,
    FILE_ID_BOTH_DIRECTORY_INFORMATION, FILE_NAMES_INFORMATION,
};

static void walk(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    for (size_t c = 0; c < sizeof(classes); c++) {
        struct reader r;
        reader_init(&r, p, n);
        struct smb2_dirent d;
        int rc;
        size_t count = 0;
        while ((rc = smb2_dirinfo_next(&r, classes[c], &d)) == 1) {
            INSIDE(d.name, d.name_len, base, size);
            INSIDE(d.short_name, d.short_name_len, base, size);
            if (d.name_len == 0 || (d.name_len & 1) || d.short_name_len > 24 || ++count > n)
                abort();
            sink += d.name[0] + d.name[d.name_len - 1];
        }
        if (rc != 0 && rc != SQ_ERR_PROTO)
            abort();
        if (classes[c] == FILE_NAMES_INFORMATION && rc != SQ_ERR_PROTO)
            abort(); /* not a supported class: always refused */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_output_buffer o;
    if (smb2_query_directory_response_decode(data, size, &o) == 0) {
        INSIDE(o.buffer, o.buffer_len, data, size);
        walk(o.buffer, o.buffer_len, data, size);
    }
    walk(data, size, data, size);
    return 0;
}
