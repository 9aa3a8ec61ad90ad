/* firmnet runtime: float32 comparisons giving one byte per element (0 or 1), with the
 * broadcast walk of fn_broadcast.h (one innermost row per step). */
#include "fn_elementwise_f32.h"
#include "fn_broadcast.h"

/* One loop per comparison: o[i] = x[i * sa] OP y[i * sb]. */
#define FN_COMPARE_ROW(OP)                                                        \
    do {                                                                          \
        for (i = 0; i < n; ++i) {                                                 \
            o[i] = (uint8_t)(x[i * sa] OP y[i * sb]);                             \
        }                                                                         \
    } while (0)

fn_status fn_compare_f32(const fn_binary_f32_params *p, const float *a, const float *b, uint8_t *out)
{
    fn_broadcast_walk w;
    if (p == NULL || a == NULL || b == NULL || out == NULL || p->op < FN_COMPARE_LESS ||
        p->op > FN_COMPARE_GREATER_EQUAL || !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides)) {
        return FN_ERR_ARG;
    }
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        const float *x = a + w.a_off, *y = b + w.b_off;
        uint8_t *o = out + w.o_off;
        const ptrdiff_t n = w.row, sa = w.a_step, sb = w.b_step;
        ptrdiff_t i;
        switch (p->op) {
        case FN_COMPARE_LESS:
            FN_COMPARE_ROW(<);
            break;
        case FN_COMPARE_LESS_EQUAL:
            FN_COMPARE_ROW(<=);
            break;
        case FN_COMPARE_GREATER:
            FN_COMPARE_ROW(>);
            break;
        default:
            FN_COMPARE_ROW(>=);
            break;
        }
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
