/* firmnet runtime: TFLM's int8 add/sub with the operand rescalings as two 256-entry
 * tables (see fn_elementwise_s8.h). Per element: two table loads, an add, one SMLAL
 * and a shift, the output offset and saturation; four elements per loop step. The row
 * loops are specialized (operands contiguous, one operand a scalar, any strides; no clamp
 * beyond int8, a lower bound only (a fused ReLU), both bounds) so that nothing is decided
 * per element. */
#include "fn_elementwise_s8.h"
#include "fn_broadcast.h"
#include "fn_dsp.h"

typedef struct {
    const int32_t *ta, *tb;
    int32_t m, half, e, oo, lo, hi;
} add_table_ctx;

/* v saturated to [-128, 127] as an int32 (SSAT; no sign extension of an int8 in between) */
static inline int32_t sat8_i32(int32_t v)
{
#if FN_HAVE_SSAT
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* The context goes by value: copies whose address is never taken stay in registers (the
 * int8 stores could alias anything a pointer reaches, which would reload it per element). */

/* one output byte from raw2 = ta[a] + tb[b] */
static inline FN_ALWAYS_INLINE int8_t finish(add_table_ctx c, int32_t raw2, int clamp)
{
    int32_t v = fn_rq2_hi(raw2, c.m, c.half + (raw2 >> 31), c.e) + c.oo;
    if (clamp == 2) {
        v = v < c.lo ? c.lo : v;
        v = v > c.hi ? c.hi : v;
        return (int8_t)v;
    }
    v = sat8_i32(v);
    return (int8_t)(clamp == 1 && v < c.lo ? c.lo : v);      /* 1: [lo, 127], a fused ReLU */
}

/* a and b contiguous */
static inline FN_ALWAYS_INLINE void row_both(add_table_ctx c, ptrdiff_t n, const uint8_t *a,
                                             const uint8_t *b, int8_t *out, int clamp)
{
    const int32_t *ta = c.ta, *tb = c.tb;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t r0 = ta[a[i]] + tb[b[i]];
        const int32_t r1 = ta[a[i + 1]] + tb[b[i + 1]];
        out[i] = finish(c, r0, clamp);
        out[i + 1] = finish(c, r1, clamp);
        const int32_t r2 = ta[a[i + 2]] + tb[b[i + 2]];
        const int32_t r3 = ta[a[i + 3]] + tb[b[i + 3]];
        out[i + 2] = finish(c, r2, clamp);
        out[i + 3] = finish(c, r3, clamp);
    }
    for (; i < n; ++i) {
        out[i] = finish(c, ta[a[i]] + tb[b[i]], clamp);
    }
}

/* one operand's entry fixed for the row (fixed = its table value), the other contiguous */
static inline FN_ALWAYS_INLINE void row_one(add_table_ctx c, ptrdiff_t n, int32_t fixed,
                                            const int32_t *t, const uint8_t *x, int8_t *out, int clamp)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t r0 = fixed + t[x[i]], r1 = fixed + t[x[i + 1]];
        out[i] = finish(c, r0, clamp);
        out[i + 1] = finish(c, r1, clamp);
        const int32_t r2 = fixed + t[x[i + 2]], r3 = fixed + t[x[i + 3]];
        out[i + 2] = finish(c, r2, clamp);
        out[i + 3] = finish(c, r3, clamp);
    }
    for (; i < n; ++i) {
        out[i] = finish(c, fixed + t[x[i]], clamp);
    }
}

static inline FN_ALWAYS_INLINE void row_strided(add_table_ctx c, ptrdiff_t n, const uint8_t *a,
                                                ptrdiff_t sa, const uint8_t *b, ptrdiff_t sb, int8_t *out,
                                                int clamp)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        out[i] = finish(c, c.ta[a[i * sa]] + c.tb[b[i * sb]], clamp);
    }
}

static inline FN_ALWAYS_INLINE void add_row(add_table_ctx c, ptrdiff_t n, const uint8_t *a, ptrdiff_t sa,
                                            const uint8_t *b, ptrdiff_t sb, int8_t *out, int clamp)
{
    if (sa == 1 && sb == 1) {
        row_both(c, n, a, b, out, clamp);
    } else if ((sa == 0 && sb == 1) || (sb == 0 && sa == 1)) {
        const int a_fixed = sa == 0;
        row_one(c, n, a_fixed ? c.ta[a[0]] : c.tb[b[0]], a_fixed ? c.tb : c.ta, a_fixed ? b : a, out, clamp);
    } else {
        row_strided(c, n, a, sa, b, sb, out, 2);     /* rare: one copy, both bounds (exact for any) */
    }
}

static FN_NOINLINE void walk(const fn_add_s8_table_params *p, add_table_ctx c, const uint8_t *a,
                             const uint8_t *b, int8_t *out, int clamp)
{
    fn_broadcast_walk w;
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        if (clamp == 2) {        /* an upper bound below 127 (ReLU6-like): rare, the strided loop */
            row_strided(c, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off, 2);
        } else if (clamp == 1) {
            add_row(c, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off, 1);
        } else {
            add_row(c, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off, 0);
        }
    } while (fn_broadcast_next(&w));
}

fn_status fn_add_s8_table(const fn_add_s8_table_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL || p->a_table == NULL || p->b_table == NULL ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides) || p->output_multiplier < 0 ||
        p->output_shift < -31 || p->output_shift > -1 ||
        !fn_eltwise_s8_offsets_ok(0, 0, p->output_offset, p->act_min, p->act_max)) {
        return FN_ERR_ARG;
    }
    const int32_t e = -p->output_shift;
    const add_table_ctx c = {p->a_table, p->b_table, p->output_multiplier, (int32_t)1 << (e - 1), e,
                             p->output_offset, p->act_min, p->act_max};
    const int clamp = p->act_max != 127 ? 2 : p->act_min != -128;
    walk(p, c, (const uint8_t *)a, (const uint8_t *)b, out, clamp);
    return FN_OK;
}
