/* firmnet runtime: float32 select by a constant condition, a and b broadcast by strides.
 * The output is walked one innermost row at a time (fn_broadcast.h); the condition,
 * one byte per output element, is read at the output's own offset. */
#include "fn_elementwise_f32.h"
#include "fn_broadcast.h"

fn_status fn_where_f32(const fn_where_f32_params *p, const uint8_t *cond, const float *a, const float *b,
                       float *out)
{
    fn_broadcast_walk w;
    if (p == NULL || cond == NULL || a == NULL || b == NULL || out == NULL ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides)) {
        return FN_ERR_ARG;
    }
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        const uint8_t *c = cond + w.o_off;
        const float *x = a + w.a_off, *y = b + w.b_off;
        float *o = out + w.o_off;
        ptrdiff_t i;
        for (i = 0; i < w.row; ++i) {
            o[i] = c[i] ? x[i * w.a_step] : y[i * w.b_step];
        }
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
