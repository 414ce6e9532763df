/* libFuzzer target: the 4-byte bodies (LOGOFF, TREE_DISCONNECT, ECHO responses), UTF-8 <->
 * UTF-16LE conversion both ways with round-trip checks, and the NTSTATUS lookups. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_session.h"
#include "smb2/ntstatus.h"
#include "util/error.h"
#include "util/utf16.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void utf8_side(const uint8_t *data, size_t size)
{
    uint8_t *u16;
    size_t u16_len, expect;
    int rc = utf8_to_utf16le((const char *)data, size, &u16, &u16_len);
    if ((rc == 0) != (utf8_utf16le_size((const char *)data, size, &expect) == 0))
        abort();
    if (rc != 0) {
        if (rc != SQ_ERR_INVAL || u16)
            abort();
        return;
    }
    char *back;
    if (u16_len != expect || utf16le_to_utf8(u16, u16_len, &back) != 0)
        abort();
    if (strlen(back) != size || memcmp(back, data, size) != 0)
        abort();
    free(back);

    /* The writer produces the same bytes, and nothing on a full fixed buffer. */
    struct writer w;
    writer_init(&w);
    writer_put_utf16le_len(&w, (const char *)data, size);
    if (writer_error(&w) || w.len != u16_len || (u16_len && memcmp(w.data, u16, u16_len)))
        abort();
    writer_free(&w);
    uint8_t small[16];
    writer_init_fixed(&w, small, sizeof(small));
    writer_put_utf16le_len(&w, (const char *)data, size);
    if (u16_len > sizeof(small) ? writer_error(&w) != SQ_ERR_INVAL || w.len != 0
                                : writer_error(&w) != 0 || w.len != u16_len)
        abort();
    free(u16);
}

static void utf16_side(const uint8_t *data, size_t size)
{
    char *s;
    if (utf16le_to_utf8(data, size, &s) != 0)
        return;
    uint8_t *u16;
    size_t u16_len;
    if (utf8_to_utf16le(s, strlen(s), &u16, &u16_len) != 0)
        abort();
    if (u16_len != size || memcmp(u16, data, size) != 0)
        abort();
    free(u16);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink += (unsigned)smb2_logoff_response_decode(data, size);
    sink += (unsigned)smb2_tree_disconnect_response_decode(data, size);
    sink += (unsigned)smb2_echo_response_decode(data, size);
    utf8_side(data, size);
    utf16_side(data, size);
    if (size >= 4) {
        uint32_t status = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                          (uint32_t)data[3] << 24;
        char buf[NTSTATUS_FORMAT_SIZE];
        const char *n = ntstatus_name(status);
        const char *d = ntstatus_description(status);
        if ((n == NULL) != (d == NULL))
            abort();
        ntstatus_format(status, buf);
        if (strlen(buf) != 10)
            abort();
        sink += (unsigned)strlen(ntstatus_str(status, buf));
        sink += (unsigned)ntstatus_to_errno(status);
    }
    return 0;
}
