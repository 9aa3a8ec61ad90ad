/* firmnet runtime: int8 fully connected layer.
 *
 * Four output features at a time: each input value, with the input offset added,
 * is loaded once for four accumulators that read four weight rows sequentially. */
#include "fn_fc_s8.h"

fn_status fn_fc_s8(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1 ||
        p->in_features > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    if (!fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                               p->requant_mode, p->per_channel, p->out_features,
                               p->multiplier, p->shift, p->scale)) {
        return FN_ERR_ARG;
    }

    const int32_t k_in = p->in_features, n_out = p->out_features;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                       p->scale, p->output_offset, p->act_min, p->act_max};
    const size_t k = (size_t)k_in;

    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *x = input + (size_t)b * k;
        int8_t *out = output + (size_t)b * (size_t)n_out;
        int32_t o = 0;
        for (; o + 4 <= n_out; o += 4) {
            const int8_t *w0 = weights + (size_t)o * k;
            const int8_t *w1 = w0 + k;
            const int8_t *w2 = w1 + k;
            const int8_t *w3 = w2 + k;
            int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
            for (size_t i = 0; i < k; ++i) {
                const int32_t xv = (int32_t)x[i] + input_offset;
                acc0 += xv * w0[i];
                acc1 += xv * w1[i];
                acc2 += xv * w2[i];
                acc3 += xv * w3[i];
            }
            out[o] = fn_finish_channel_s8(&stage, o, acc0);
            out[o + 1] = fn_finish_channel_s8(&stage, o + 1, acc1);
            out[o + 2] = fn_finish_channel_s8(&stage, o + 2, acc2);
            out[o + 3] = fn_finish_channel_s8(&stage, o + 3, acc3);
        }
        for (; o < n_out; ++o) {
            const int8_t *w = weights + (size_t)o * k;
            int32_t acc = 0;
            for (size_t i = 0; i < k; ++i) {
                acc += ((int32_t)x[i] + input_offset) * w[i];
            }
            out[o] = fn_finish_channel_s8(&stage, o, acc);
        }
    }
    return FN_OK;
}
