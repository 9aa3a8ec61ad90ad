/* firmnet runtime: float32 log-softmax along the middle axis of [outer, axis_len, inner].
 *
 * Per (outer, inner) lane: the max m, then s = sum(exp(x - m)), then
 * y = (x - m) - log(s). Every element is read before it is written at the same index,
 * so the kernel also works in place (input == output). */
#include "fn_elementwise_f32.h"

fn_status fn_log_softmax_f32(const fn_softmax_f32_params *p, const float *input, float *output)
{
    int32_t o, i, j, n, inner;
    if (p == NULL || input == NULL || output == NULL || p->outer < 1 || p->axis_len < 1 || p->inner < 1) {
        return FN_ERR_ARG;
    }
    n = p->axis_len;
    inner = p->inner;
    for (o = 0; o < p->outer; ++o) {
        const ptrdiff_t base = (ptrdiff_t)o * n * inner;
        for (i = 0; i < inner; ++i) {
            const float *x = input + base + i;
            float *y = output + base + i;
            const float m = fn_lane_max_f32(x, n, inner);
            float sum = 0.0f, log_sum;
            for (j = 0; j < n; ++j) {
                sum += fn_expf(x[(ptrdiff_t)j * inner] - m);
            }
            log_sum = fn_logf(sum);
            for (j = 0; j < n; ++j) {
                y[(ptrdiff_t)j * inner] = (x[(ptrdiff_t)j * inner] - m) - log_sum;
            }
        }
    }
    return FN_OK;
}
