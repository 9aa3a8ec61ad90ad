/* firmnet runtime: int8 fully connected layer for CPUs with MVE (fn_s8_mve.h; the loops:
 * fn_s8_mve_impl.h). Per block of 4 output rows its output-stage table (80 bytes, on the
 * stack: no scratch), then every input row through fn_mve_dot_1x4 and fn_mve_stage4. Where
 * FN_MVE is 0 the portable kernel fn_fc_s8 runs after the variant's own checks: the same
 * bytes. */
#include "fn_s8_mve_impl.h"

fn_status fn_fc_s8_mve(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output)
{
    if (p == NULL) {
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
    const size_t kk = (size_t)k;
    fn_mve_out o;
    fn_mve_out_init(&o, NULL, n_out, weights, kk, k, p->input_offset, bias, &p->requant);
    int32_t e[20];
    const int32x4_t lo = vdupq_n_s32(o.act_min), hi = vdupq_n_s32(o.act_max);
    for (int32_t c = 0; c < n_out; c += 4) {
        const int left = fn_mve_block_init(e, c, n_out, weights, kk, k, p->input_offset, bias, &p->requant);
        const int32_t m = n_out - c < 4 ? n_out - c : 4;
        const int8_t *const w0 = weights + (size_t)c * kk, *const wl = weights + (size_t)(n_out - 1) * kk;
        const int8_t *const w1 = m > 1 ? w0 + kk : wl, *const w2 = m > 2 ? w0 + 2 * kk : wl;
        const int8_t *const w3 = m > 3 ? w0 + 3 * kk : wl;
        for (int32_t b = 0; b < p->batch; ++b) {
            int8_t *const out = output + (size_t)b * (size_t)n_out;
            const int32x4_t acc = fn_mve_dot_1x4(input + (size_t)b * kk, w0, w1, w2, w3, k);
            if (o.vec) {
                vstrbq_p_s32(out + c, fn_mve_stage4(acc, e, left, o.output_offset, lo, hi), vctp32q((uint32_t)m));
            } else {
                fn_mve_finish4_general(&o, c, m, vaddq_s32(acc, vld1q_s32(e + FN_TAB_CORR)), out);
            }
        }
    }
    return FN_OK;
#else
    return fn_fc_s8(p, input, weights, bias, output);
#endif
}
