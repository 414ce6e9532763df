/* libFuzzer target: SMB2 IOCTL response (MS-SMB2 2.2.32) and the FSCTL output decoders:
 * resume key, copychunk response, allocated ranges, reparse data and symbolic links (with an
 * encode/decode round trip), on the response's output and on the raw input. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void payloads(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    uint8_t key[SMB2_RESUME_KEY_SIZE];
    (void)smb2_resume_key_decode(p, n, key);
    struct smb2_copychunk_response cc;
    (void)smb2_copychunk_response_decode(p, n, &cc);

    struct reader r;
    reader_init(&r, p, n);
    uint64_t off, len;
    int rc;
    size_t count = 0;
    while ((rc = smb2_allocated_range_next(&r, &off, &len)) == 1)
        if (++count > n / 16)
            abort();
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();

    struct smb2_reparse rp;
    if (smb2_reparse_decode(p, n, &rp) == 0)
        INSIDE(rp.data, rp.data_len, base, size);
    struct smb2_symlink_reparse sl;
    if (smb2_symlink_reparse_decode(p, n, &sl) == 0) {
        INSIDE(sl.substitute_name, sl.substitute_name_len, base, size);
        INSIDE(sl.print_name, sl.print_name_len, base, size);
        struct writer w;
        writer_init(&w);
        if (smb2_symlink_reparse_encode(&w, &sl) == 0) {
            struct smb2_symlink_reparse back;
            if (smb2_symlink_reparse_decode(w.data, w.len, &back) != 0 ||
                back.substitute_name_len != sl.substitute_name_len ||
                back.print_name_len != sl.print_name_len || back.flags != sl.flags ||
                (sl.substitute_name_len &&
                 memcmp(back.substitute_name, sl.substitute_name, sl.substitute_name_len)) ||
                (sl.print_name_len && memcmp(back.print_name, sl.print_name, sl.print_name_len)))
                abort();
        }
        writer_free(&w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_ioctl_response o;
    int rc = smb2_ioctl_response_decode(data, size, &o);
    if (rc == 0) {
        INSIDE(o.input, o.input_len, data, size);
        INSIDE(o.output, o.output_len, data, size);
        payloads(o.output, o.output_len, data, size);
        payloads(o.input, o.input_len, data, size);
    } else if (rc != SQ_ERR_PROTO || o.output || o.input) {
        abort();
    }
    payloads(data, size, data, size);
    return 0;
}
