/* libFuzzer target: SMB2 TREE_CONNECT response (MS-SMB2 2.2.10), and the request encoder with
 * the input as the UTF-8 share path: an accepted path must come back unchanged from its
 * UTF-16 form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb2/msg_session.h"
#include "util/error.h"
#include "util/utf16.h"

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smb2_tree_connect_response r;
    if (smb2_tree_connect_response_decode(data, size, &r) == 0)
        sink += r.share_type + r.share_flags + r.capabilities + r.maximal_access;
    else if (r.share_type || r.share_flags || r.capabilities || r.maximal_access)
        abort();

    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    struct smb2_tree_connect_request req = {.flags = 0, .path = path};
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, 64);
    int rc = smb2_tree_connect_request_encode(&w, &req);
    size_t utf16_size;
    bool valid =
        path[0] && utf8_utf16le_size(path, strlen(path), &utf16_size) == 0 && utf16_size <= 0xFFFF;
    if ((rc == 0) != valid || (rc && rc != SQ_ERR_INVAL))
        abort();
    if (rc == 0) {
        uint16_t len = (uint16_t)(w.data[70] | w.data[71] << 8);
        char *back;
        if (w.data[68] != 72 || w.data[69] != 0 || len != utf16_size || w.len != 72u + len ||
            utf16le_to_utf8(w.data + 72, len, &back) != 0)
            abort();
        if (strcmp(back, path) != 0)
            abort();
        free(back);
    }
    writer_free(&w);
    free(path);
    return 0;
}
