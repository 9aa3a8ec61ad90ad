/* firmnet runtime: binary fully connected layer (XNOR-popcount), contract in fn_binary_b1.h. */
#include "fn_binary_b1_impl.h"

fn_status fn_fc_b1(const fn_fc_b1_params *p, const uint32_t *input, const uint32_t *weights, void *output)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL || !fn_bout_ok(&p->out)) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_words < 1 || p->in_bits < 1 || p->out_features < 1
        || p->in_bits > 32 * p->in_words) {
        return FN_ERR_ARG;
    }
    const int32_t n = p->in_words, m = p->out_features;
    const size_t row_bytes = fn_bout_row_bytes(p->out.kind, m);
    unsigned char *out = (unsigned char *)output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const uint32_t *x = input + (size_t)b * (size_t)n;
        uint32_t word = 0;
        for (int32_t o = 0; o < m; ++o) {
            const int32_t mismatches = fn_b1_mismatches(x, weights + (size_t)o * (size_t)n, NULL, 0, n);
            fn_bout_put(&p->out, out, o, m, p->in_bits - 2 * mismatches, &word);
        }
        out += row_bytes;
    }
    return FN_OK;
}
