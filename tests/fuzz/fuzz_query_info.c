/* libFuzzer target: SMB2 QUERY_INFO response (MS-SMB2 2.2.38) and every information decoder
 * (MS-FSCC 2.4, 2.5), on the response's buffer and on the raw input; the EA list also goes
 * through an encode/decode round trip. */
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

static void eas(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    struct smb2_ea list[32];
    size_t count = 0;
    struct reader r;
    reader_init(&r, p, n);
    struct smb2_ea e;
    int rc;
    while ((rc = smb2_ea_next(&r, &e)) == 1) {
        INSIDE(e.name, (size_t)e.name_len + 1, base, size);
        INSIDE(e.value, e.value_len, base, size);
        if (e.name_len == 0 || e.name[e.name_len] != 0)
            abort();
        if (count < 32)
            list[count++] = e;
    }
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();
    if (rc != 0 || count == 0 || count == 32)
        return;
    for (size_t i = 0; i < count; i++)
        if (memchr(list[i].name, 0, list[i].name_len))
            abort(); /* the decoder refuses embedded NULs */
    struct writer w;
    writer_init(&w);
    if (smb2_ea_list_encode(&w, list, count) != 0)
        abort();
    reader_init(&r, w.data, w.len);
    for (size_t i = 0; i < count; i++) {
        if (smb2_ea_next(&r, &e) != 1 || e.name_len != list[i].name_len ||
            e.value_len != list[i].value_len || e.flags != list[i].flags ||
            memcmp(e.name, list[i].name, e.name_len) != 0 ||
            (e.value_len && memcmp(e.value, list[i].value, e.value_len) != 0))
            abort();
    }
    if (smb2_ea_next(&r, &e) != 0)
        abort();
    writer_free(&w);
}

static void infos(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    struct smb2_file_basic_info basic;
    (void)smb2_file_basic_info_decode(p, n, &basic);
    struct smb2_file_standard_info st;
    (void)smb2_file_standard_info_decode(p, n, &st);
    uint64_t ino;
    (void)smb2_file_internal_info_decode(p, n, &ino);
    struct smb2_file_all_info all;
    if (smb2_file_all_info_decode(p, n, &all) == 0)
        INSIDE(all.name, all.name_len, base, size);
    struct smb2_file_network_open_info no;
    (void)smb2_file_network_open_info_decode(p, n, &no);
    struct smb2_fs_size_info fs;
    (void)smb2_fs_full_size_info_decode(p, n, &fs);
    (void)smb2_fs_size_info_decode(p, n, &fs);
    struct smb2_fs_attribute_info fa;
    if (smb2_fs_attribute_info_decode(p, n, &fa) == 0)
        INSIDE(fa.fs_name, fa.fs_name_len, base, size);

    struct reader r;
    reader_init(&r, p, n);
    struct smb2_stream_info s;
    int rc;
    while ((rc = smb2_stream_info_next(&r, &s)) == 1) {
        INSIDE(s.name, s.name_len, base, size);
        sink += s.name[s.name_len - 1];
    }
    if (rc != 0 && rc != SQ_ERR_PROTO)
        abort();
    eas(p, n, base, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_output_buffer o;
    if (smb2_query_info_response_decode(data, size, &o) == 0) {
        INSIDE(o.buffer, o.buffer_len, data, size);
        infos(o.buffer, o.buffer_len, data, size);
    }
    infos(data, size, data, size);
    return 0;
}
