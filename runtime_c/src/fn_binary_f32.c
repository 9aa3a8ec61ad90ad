/* firmnet runtime: float32 add/sub/mul/div with broadcasting by strides.
 *
 * The output is walked in row-major order; the innermost dimension is one "row"
 * handled by a loop specialised for the common stride pairs (1,1), (0,1), (1,0).
 * Whole-tensor fast paths: both operands contiguous (same shape), or one operand a
 * scalar and the other contiguous. Each operation is one IEEE-754 float operation,
 * so results equal numpy's float32 arithmetic exactly. */
#include "fn_elementwise_f32.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"

/* One loop per stride pattern, for one expression EXPR(x, y). */
#define FN_BINARY_ROW(EXPR)                                                       \
    do {                                                                          \
        if (sa == 1 && sb == 1) {                                                 \
            for (i = 0; i < n; ++i) {                                             \
                out[i] = fn_clampf(EXPR(a[i], b[i]), lo, hi);                     \
            }                                                                     \
        } else if (sa == 0 && sb == 1) {                                          \
            const float x = a[0];                                                 \
            for (i = 0; i < n; ++i) {                                             \
                out[i] = fn_clampf(EXPR(x, b[i]), lo, hi);                        \
            }                                                                     \
        } else if (sa == 1 && sb == 0) {                                          \
            const float y = b[0];                                                 \
            for (i = 0; i < n; ++i) {                                             \
                out[i] = fn_clampf(EXPR(a[i], y), lo, hi);                        \
            }                                                                     \
        } else {                                                                  \
            for (i = 0; i < n; ++i) {                                             \
                out[i] = fn_clampf(EXPR(a[i * sa], b[i * sb]), lo, hi);           \
            }                                                                     \
        }                                                                         \
    } while (0)

#define FN_ADD(x, y) ((x) + (y))
#define FN_SUB(x, y) ((x) - (y))
#define FN_MUL(x, y) ((x) * (y))
#define FN_DIV(x, y) ((x) / (y))

/* out[i] = a[i*sa] OP b[i*sb] for i < n. */
static void binary_row(int32_t op, ptrdiff_t n, const float *a, ptrdiff_t sa,
                       const float *b, ptrdiff_t sb, float *out, float lo, float hi)
{
    ptrdiff_t i;
    switch (op) {
    case FN_BINARY_ADD:
        FN_BINARY_ROW(FN_ADD);
        break;
    case FN_BINARY_SUB:
        FN_BINARY_ROW(FN_SUB);
        break;
    case FN_BINARY_MUL:
        FN_BINARY_ROW(FN_MUL);
        break;
    default:
        FN_BINARY_ROW(FN_DIV);
        break;
    }
}

fn_status fn_binary_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out)
{
    int32_t ndim, d;
    ptrdiff_t count = 1;
    int a_contig = 1, b_contig = 1, a_zero = 1, b_zero = 1;

    if (p == NULL || a == NULL || b == NULL || out == NULL || p->op < FN_BINARY_ADD ||
        p->op > FN_BINARY_DIV || !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides)) {
        return FN_ERR_ARG;
    }
    ndim = p->ndim;
    /* Walking dims from the innermost: is each operand contiguous, or all-broadcast? */
    for (d = ndim - 1; d >= 0; --d) {
        if (p->out_shape[d] > 1) {
            a_contig = a_contig && p->a_strides[d] == count;
            b_contig = b_contig && p->b_strides[d] == count;
            a_zero = a_zero && p->a_strides[d] == 0;
            b_zero = b_zero && p->b_strides[d] == 0;
        }
        count *= p->out_shape[d];
    }

    if ((a_contig || a_zero) && (b_contig || b_zero)) {
        binary_row(p->op, count, a, a_zero ? 0 : 1, b, b_zero ? 0 : 1, out, p->act_min, p->act_max);
        return FN_OK;
    }

    /* General case: one row per step. */
    fn_broadcast_walk w;
    fn_broadcast_start(&w, ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        binary_row(p->op, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off,
                   p->act_min, p->act_max);
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
