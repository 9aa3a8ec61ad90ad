/* firmnet runtime: float32 element-wise activations followed by a clamp.
 * The op is dispatched once; each op has its own loop. */
#include "fn_elementwise_f32.h"
#include "fn_clamp.h"

fn_status fn_unary_f32(const fn_unary_f32_params *p, const float *input, float *output)
{
    int32_t i, n;
    float lo, hi, alpha, beta;

    if (p == NULL || input == NULL || output == NULL || p->count < 1) {
        return FN_ERR_ARG;
    }
    n = p->count;
    lo = p->act_min;
    hi = p->act_max;
    alpha = p->alpha;
    beta = p->beta;

    switch (p->op) {
    case FN_UNARY_IDENTITY:
        for (i = 0; i < n; ++i) {
            output[i] = fn_clampf(input[i], lo, hi);
        }
        break;
    case FN_UNARY_LEAKY_RELU:
        for (i = 0; i < n; ++i) {
            const float x = input[i];
            output[i] = fn_clampf(x >= 0.0f ? x : alpha * x, lo, hi);
        }
        break;
    case FN_UNARY_SIGMOID:
        for (i = 0; i < n; ++i) {
            output[i] = fn_clampf(fn_sigmoidf(input[i]), lo, hi);
        }
        break;
    case FN_UNARY_TANH:
        for (i = 0; i < n; ++i) {
            output[i] = fn_clampf(fn_tanhf(input[i]), lo, hi);
        }
        break;
    case FN_UNARY_HARD_SIGMOID:
        for (i = 0; i < n; ++i) {
            const float h = fn_clampf(alpha * input[i] + beta, 0.0f, 1.0f);
            output[i] = fn_clampf(h, lo, hi);
        }
        break;
    case FN_UNARY_HARD_SWISH:
        for (i = 0; i < n; ++i) {
            const float x = input[i];
            const float h = fn_clampf(x * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
            output[i] = fn_clampf(x * h, lo, hi);
        }
        break;
    default:
        return FN_ERR_ARG;
    }
    return FN_OK;
}
