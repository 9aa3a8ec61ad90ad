/* firmnet runtime: int8 concatenation with per-input requantization.
 *
 * For each of `outer` blocks, each input's block is copied (COPY spec) or requantized
 * element by element into the output, in input order. */
#include "fn_elementwise_s8.h"

#include <string.h>

fn_status fn_concat_s8(const fn_concat_s8_params *p, const int8_t *const *inputs, int8_t *output)
{
    if (p == NULL || inputs == NULL || output == NULL || p->in_block_elems == NULL ||
        p->requant == NULL || p->n_inputs < 1 || p->outer < 0) {
        return FN_ERR_ARG;
    }
    for (int32_t k = 0; k < p->n_inputs; ++k) {
        if (p->in_block_elems[k] < 0 || !fn_requant_s8_ok(&p->requant[k]) ||
            (inputs[k] == NULL && p->in_block_elems[k] > 0 && p->outer > 0)) {
            return FN_ERR_ARG;
        }
    }
    int8_t *out = output;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t k = 0; k < p->n_inputs; ++k) {
            const int32_t n = p->in_block_elems[k];
            if (n == 0) {
                continue;
            }
            const fn_requant_s8 *q = &p->requant[k];
            const int8_t *src = inputs[k] + (size_t)o * (size_t)n;
            if (q->method == FN_S8_REQUANT_COPY) {
                memcpy(out, src, (size_t)n);
            } else {
                for (int32_t i = 0; i < n; ++i) {
                    out[i] = (int8_t)fn_requant_s8_value(q, src[i]);
                }
            }
            out += n;
        }
    }
    return FN_OK;
}
