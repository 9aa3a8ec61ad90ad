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
        fn_b1_row(&p->out, input + (size_t)b * (size_t)n, weights, n, m, p->in_bits, out);
        out += row_bytes;
    }
    return FN_OK;
}
