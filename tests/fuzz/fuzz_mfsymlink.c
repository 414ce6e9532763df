/* libFuzzer target: Minshall+French symlink files (include/client/mfsymlink.h), the contents
 * of any 1067-byte file on a share mounted with mfsymlinks. A decoded target must round-trip
 * through the encoder to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/mfsymlink.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target = NULL;
    int rc = mfsymlink_decode(data, size, &target);
    if (rc != 0) {
        if (target || (rc != SQ_ERR_PROTO && rc != SQ_ERR_NOMEM))
            abort();
        return 0;
    }
    size_t len = strlen(target);
    if (size != MFSYMLINK_FILE_SIZE || len == 0 || len > MFSYMLINK_TARGET_MAX)
        abort();
    /* The encoder writes the same header and target; what follows may differ only in the
     * padding a foreign writer chose, so compare up to the end of the target. */
    uint8_t again[MFSYMLINK_FILE_SIZE];
    if (mfsymlink_encode(target, again) != 0 || memcmp(again, data, 43 + len) != 0)
        abort();
    free(target);
    return 0;
}
