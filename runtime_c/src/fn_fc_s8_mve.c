/* firmnet runtime: int8 fully connected layer for CPUs with MVE (fn_s8_mve.h; the loops:
 * fn_s8_mve_impl.h). Where FN_MVE is 0 the portable kernel fn_fc_s8 runs after the
 * variant's own checks: the same bytes. */
#include "fn_s8_mve_impl.h"

fn_status fn_fc_s8_mve(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || scratch == NULL || fn_fc_s8_mve_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
#if FN_MVE
    if (input == NULL || weights == NULL || output == NULL || p->batch < 1 || p->in_features < 1 ||
        p->out_features < 1 || p->in_features > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, p->out_features)) {
        return FN_ERR_ARG;
    }
    const int32_t k = p->in_features, n_out = p->out_features;
    fn_mve_out o;
    fn_mve_out_init(&o, (int32_t *)scratch, n_out, weights, (size_t)k, k, p->input_offset, bias, &p->requant);
    for (int32_t b = 0; b < p->batch; ++b) {
        fn_mve_row(&o, input + (size_t)b * (size_t)k, weights, (size_t)k, k, n_out, output + (size_t)b * (size_t)n_out);
    }
    return FN_OK;
#else
    return fn_fc_s8(p, input, weights, bias, output);
#endif
}
