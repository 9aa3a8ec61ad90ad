/* firmnet runtime: float32 fully connected layer.
 *
 * Four output features at a time share each input load; every accumulator
 * still adds bias first, then i ascending (the header's order). */
#include "fn_fc_f32.h"
#include "fn_clamp.h"

fn_status fn_fc_f32(const fn_fc_f32_params *p, const float *input,
                    const float *weights, const float *bias, float *output)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1) {
        return FN_ERR_ARG;
    }

    const int32_t n_in = p->in_features;
    const int32_t n_out = p->out_features;
    const size_t row = (size_t)n_in;
    const float act_min = p->act_min, act_max = p->act_max;

    const float *x = input;
    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        int32_t o = 0;
        for (; o + 4 <= n_out; o += 4) {
            float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
            if (bias != NULL) {
                acc0 = bias[o];
                acc1 = bias[o + 1];
                acc2 = bias[o + 2];
                acc3 = bias[o + 3];
            }
            const float *w0 = weights + (size_t)o * row;
            const float *w1 = w0 + row;
            const float *w2 = w1 + row;
            const float *w3 = w2 + row;
            for (int32_t i = 0; i < n_in; ++i) {
                const float xi = x[i];
                acc0 += xi * w0[i];
                acc1 += xi * w1[i];
                acc2 += xi * w2[i];
                acc3 += xi * w3[i];
            }
            out[o] = fn_clampf(acc0, act_min, act_max);
            out[o + 1] = fn_clampf(acc1, act_min, act_max);
            out[o + 2] = fn_clampf(acc2, act_min, act_max);
            out[o + 3] = fn_clampf(acc3, act_min, act_max);
        }
        for (; o < n_out; ++o) {
            float acc = bias != NULL ? bias[o] : 0.0f;
            const float *w = weights + (size_t)o * row;
            for (int32_t i = 0; i < n_in; ++i) {
                acc += x[i] * w[i];
            }
            out[o] = fn_clampf(acc, act_min, act_max);
        }
        x += row;
        out += n_out;
    }
    return FN_OK;
}
