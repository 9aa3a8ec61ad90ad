/* firmnet runtime: float32 reduction over any axes (see fn_reduce.h). */
#include "fn_reduce.h"

fn_status fn_reduce_f32(const fn_reduce_params *p, const float *input, float *output)
{
    int32_t o0, o1, o2, o3, r0, r1, r2, r3, k;
    int32_t count = 1;
    if (p == NULL || input == NULL || output == NULL || p->op < FN_REDUCE_MEAN || p->op > FN_REDUCE_MIN) {
        return FN_ERR_ARG;
    }
    for (k = 0; k < 4; ++k) {
        if (p->out_shape[k] < 1 || p->red_shape[k] < 1) {
            return FN_ERR_ARG;
        }
        count *= p->red_shape[k];
    }
    for (o0 = 0; o0 < p->out_shape[0]; ++o0) {
        for (o1 = 0; o1 < p->out_shape[1]; ++o1) {
            for (o2 = 0; o2 < p->out_shape[2]; ++o2) {
                for (o3 = 0; o3 < p->out_shape[3]; ++o3) {
                    const float *base = input + (ptrdiff_t)o0 * p->out_stride[0] + (ptrdiff_t)o1 * p->out_stride[1] +
                                        (ptrdiff_t)o2 * p->out_stride[2] + (ptrdiff_t)o3 * p->out_stride[3];
                    float acc = base[0];
                    int first = 1;
                    for (r0 = 0; r0 < p->red_shape[0]; ++r0) {
                        for (r1 = 0; r1 < p->red_shape[1]; ++r1) {
                            for (r2 = 0; r2 < p->red_shape[2]; ++r2) {
                                const float *row = base + (ptrdiff_t)r0 * p->red_stride[0] +
                                                   (ptrdiff_t)r1 * p->red_stride[1] + (ptrdiff_t)r2 * p->red_stride[2];
                                for (r3 = 0; r3 < p->red_shape[3]; ++r3) {
                                    const float v = row[(ptrdiff_t)r3 * p->red_stride[3]];
                                    if (first) {
                                        first = 0;
                                        continue;   /* acc starts as the first value */
                                    }
                                    if (p->op == FN_REDUCE_MAX) {
                                        acc = (v > acc || v != v) && acc == acc ? v : acc;
                                    } else if (p->op == FN_REDUCE_MIN) {
                                        acc = (v < acc || v != v) && acc == acc ? v : acc;
                                    } else {
                                        acc += v;
                                    }
                                }
                            }
                        }
                    }
                    *output++ = p->op == FN_REDUCE_MEAN ? acc / (float)count : acc;
                }
            }
        }
    }
    return FN_OK;
}
