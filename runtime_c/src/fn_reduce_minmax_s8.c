/* firmnet runtime: int8 max or min over any axes (see fn_reduce.h). */
#include "fn_reduce.h"

fn_status fn_reduce_minmax_s8(const fn_reduce_params *p, const int8_t *input, int8_t *output)
{
    int32_t o0, o1, o2, o3, r0, r1, r2, r3, k;
    int is_max;
    if (p == NULL || input == NULL || output == NULL || (p->op != FN_REDUCE_MAX && p->op != FN_REDUCE_MIN)) {
        return FN_ERR_ARG;
    }
    for (k = 0; k < 4; ++k) {
        if (p->out_shape[k] < 1 || p->red_shape[k] < 1) {
            return FN_ERR_ARG;
        }
    }
    is_max = p->op == FN_REDUCE_MAX;
    for (o0 = 0; o0 < p->out_shape[0]; ++o0) {
        for (o1 = 0; o1 < p->out_shape[1]; ++o1) {
            for (o2 = 0; o2 < p->out_shape[2]; ++o2) {
                for (o3 = 0; o3 < p->out_shape[3]; ++o3) {
                    const int8_t *base = input + (ptrdiff_t)o0 * p->out_stride[0] +
                                         (ptrdiff_t)o1 * p->out_stride[1] + (ptrdiff_t)o2 * p->out_stride[2] +
                                         (ptrdiff_t)o3 * p->out_stride[3];
                    int8_t acc = base[0];
                    for (r0 = 0; r0 < p->red_shape[0]; ++r0) {
                        for (r1 = 0; r1 < p->red_shape[1]; ++r1) {
                            for (r2 = 0; r2 < p->red_shape[2]; ++r2) {
                                const int8_t *row = base + (ptrdiff_t)r0 * p->red_stride[0] +
                                                    (ptrdiff_t)r1 * p->red_stride[1] + (ptrdiff_t)r2 * p->red_stride[2];
                                for (r3 = 0; r3 < p->red_shape[3]; ++r3) {
                                    const int8_t v = row[(ptrdiff_t)r3 * p->red_stride[3]];
                                    acc = (is_max ? v > acc : v < acc) ? v : acc;
                                }
                            }
                        }
                    }
                    *output++ = acc;
                }
            }
        }
    }
    return FN_OK;
}
