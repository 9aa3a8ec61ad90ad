/* firmnet runtime: float32 min, max and prelu with broadcasting by strides: selections
 * (prelu: one multiply), exact. A separate file from fn_binary_f32.c so that models
 * with only add/sub/mul/div do not link these loops. The output is walked one innermost
 * row at a time (fn_broadcast.h). */
#include "fn_elementwise_f32.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"

/* NaN-propagating selections (numpy.minimum/maximum): the first operand if it wins or is NaN */
#define FN_MIN(x, y) (((x) < (y) || (x) != (x)) ? (x) : (y))
#define FN_MAX(x, y) (((x) > (y) || (x) != (x)) ? (x) : (y))
#define FN_PRELU(x, y) ((x) < 0.0f ? (x) * (y) : (x))

/* One loop per op: o[i] = clamp(EXPR(x[i * sa], y[i * sb])). */
#define FN_SELECT_ROW(EXPR)                                                       \
    do {                                                                          \
        for (i = 0; i < n; ++i) {                                                 \
            o[i] = fn_clampf(EXPR(x[i * sa], y[i * sb]), lo, hi);                 \
        }                                                                         \
    } while (0)

fn_status fn_binary_select_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out)
{
    fn_broadcast_walk w;
    if (p == NULL || a == NULL || b == NULL || out == NULL || p->op < FN_BINARY_MIN || p->op > FN_BINARY_PRELU ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides)) {
        return FN_ERR_ARG;
    }
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        const float *x = a + w.a_off, *y = b + w.b_off;
        float *o = out + w.o_off;
        const ptrdiff_t n = w.row, sa = w.a_step, sb = w.b_step;
        const float lo = p->act_min, hi = p->act_max;
        ptrdiff_t i;
        switch (p->op) {
        case FN_BINARY_MIN:
            FN_SELECT_ROW(FN_MIN);
            break;
        case FN_BINARY_MAX:
            FN_SELECT_ROW(FN_MAX);
            break;
        default:
            FN_SELECT_ROW(FN_PRELU);
            break;
        }
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
