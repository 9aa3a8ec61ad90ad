/* firmnet runtime: concatenation as interleaved block copies. */
#include <string.h>

#include "fn_tensor.h"

fn_status fn_concat(const fn_concat_params *p, const void *const *inputs, void *output)
{
    uint8_t *out = (uint8_t *)output;
    int32_t k, o;

    if (p == NULL || inputs == NULL || output == NULL || p->n_inputs < 1 || p->outer < 1 ||
        p->in_block_bytes == NULL) {
        return FN_ERR_ARG;
    }
    for (k = 0; k < p->n_inputs; ++k) {
        if (p->in_block_bytes[k] < 0 || (p->in_block_bytes[k] > 0 && inputs[k] == NULL)) {
            return FN_ERR_ARG;
        }
    }
    for (o = 0; o < p->outer; ++o) {
        for (k = 0; k < p->n_inputs; ++k) {
            const ptrdiff_t bytes = p->in_block_bytes[k];
            if (bytes > 0) {
                memcpy(out, (const uint8_t *)inputs[k] + (ptrdiff_t)o * bytes, (size_t)bytes);
                out += bytes;
            }
        }
    }
    return FN_OK;
}
