/* firmnet runtime: int8 mul with broadcasting by strides.
 *
 * Same walk as fn_add_s8.c: one innermost-dimension row at a time, each row running
 * one method's loop; the per-element arithmetic is stated in fn_elementwise_s8.h. */
#include "fn_elementwise_s8.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"
#include "fn_dsp.h"

/* TFLM mode's constants: rq(prod, m, shift) = fn_rq2_hi(prod * 2^l2, m, hi, e) with
 * l2 = shift + 1 and e = 0 for shift >= 0 (SRDHM only: hi = 0), l2 = 1 and e = -shift
 * for shift < 0 (hi = 2^(e-1) - [prod < 0], the rounding divide folded in; see
 * fn_add_s8_table). |prod| <= 255 * 255 and shift <= 14: |prod * 2^l2| < 2^31. */
typedef struct {
    int32_t ao, bo, m, l2, half, e, oo, lo, hi;
} mul_tflm_ctx;      /* passed by value: register copies (int8 stores may alias what pointers reach) */

static inline FN_ALWAYS_INLINE int8_t mul_finish(mul_tflm_ctx c, int32_t prod, int right, int clamp)
{
    const int32_t x2 = (int32_t)((uint32_t)prod << c.l2);     /* exact: |prod * 2^l2| < 2^31 */
    int32_t v = fn_rq2_hi(x2, c.m, right ? c.half + (prod >> 31) : 0, right ? c.e : 0) + c.oo;
    if (clamp == 2) {
        v = v < c.lo ? c.lo : v;
        v = v > c.hi ? c.hi : v;
        return (int8_t)v;
    }
    v = fn_sat8(v);
    return (int8_t)(clamp == 1 && v < c.lo ? c.lo : v);      /* 1: [lo, 127], a fused ReLU */
}

#if FN_DSP
/* the low 16-bit lane, sign-extended (with a top lane's >> 16: SMULBB, SMULTT) */
static inline int32_t lo16(int32_t v)
{
    return (int16_t)(uint16_t)((uint32_t)v & 0xFFFFu);
}
#endif

/* the common rows (right shift, no clamp or a lower bound only): operands contiguous, or one
 * fixed for the row and the other contiguous */
static inline FN_ALWAYS_INLINE void mul_tflm_row(mul_tflm_ctx c, ptrdiff_t n, const int8_t *a, ptrdiff_t sa,
                                                 const int8_t *b, int8_t *out, int clamp)
{
    const int32_t ao = c.ao, bo = c.bo;
    ptrdiff_t i = 0;
    if (sa == 1) {
#if FN_DSP
        /* four lanes per step: SXTAB16 sign-extends two bytes and adds the offset to both */
        const int32_t ao2 = (int32_t)(((uint32_t)ao & 0xFFFFu) | ((uint32_t)ao << 16));
        const int32_t bo2 = (int32_t)(((uint32_t)bo & 0xFFFFu) | ((uint32_t)bo << 16));
        for (; i + 4 <= n; i += 4) {
            const int32_t va = fn_load4(a + i), vb = fn_load4(b + i);
            const int32_t a02 = __sxtab16(ao2, va), b02 = __sxtab16(bo2, vb);
            const int32_t a13 = fn_sxtab16_ror8(ao2, va), b13 = fn_sxtab16_ror8(bo2, vb);
            out[i] = mul_finish(c, lo16(a02) * lo16(b02), 1, clamp);
            out[i + 1] = mul_finish(c, lo16(a13) * lo16(b13), 1, clamp);
            out[i + 2] = mul_finish(c, (a02 >> 16) * (b02 >> 16), 1, clamp);
            out[i + 3] = mul_finish(c, (a13 >> 16) * (b13 >> 16), 1, clamp);
        }
#else
        for (; i + 4 <= n; i += 4) {
            const int32_t p0 = (a[i] + ao) * (b[i] + bo), p1 = (a[i + 1] + ao) * (b[i + 1] + bo);
            out[i] = mul_finish(c, p0, 1, clamp);
            out[i + 1] = mul_finish(c, p1, 1, clamp);
            const int32_t p2 = (a[i + 2] + ao) * (b[i + 2] + bo), p3 = (a[i + 3] + ao) * (b[i + 3] + bo);
            out[i + 2] = mul_finish(c, p2, 1, clamp);
            out[i + 3] = mul_finish(c, p3, 1, clamp);
        }
#endif
        for (; i < n; ++i) {
            out[i] = mul_finish(c, (a[i] + ao) * (b[i] + bo), 1, clamp);
        }
    } else {
        /* sa == 0: a fixed for the row (the caller swaps the operands when b is) */
        const int32_t f = a[0] + ao;
        for (; i < n; ++i) {
            out[i] = mul_finish(c, f * (b[i] + bo), 1, clamp);
        }
    }
}

/* any row: both bounds (exact for any clamp), any strides */
static inline FN_ALWAYS_INLINE void mul_generic_row(mul_tflm_ctx c, ptrdiff_t n, const int8_t *a, ptrdiff_t sa,
                                                    const int8_t *b, ptrdiff_t sb, int8_t *out, int right)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        out[i] = mul_finish(c, (a[i * sa] + c.ao) * (b[i * sb] + c.bo), right, 2);
    }
}

/* TFLite's MulElementwise in TFLM mode over the whole walk, the rounding and clamp
 * variants chosen once per call */
static FN_NOINLINE void mul_tflm(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    const int right = p->shift < 0;
    const int32_t e = right ? -p->shift : 0;
    const mul_tflm_ctx c = {p->a_offset, p->b_offset, p->multiplier, right ? 1 : p->shift + 1,
                            right ? (int32_t)1 << (e - 1) : 0, e, p->output_offset, p->act_min, p->act_max};
    const int clamp = p->act_max != 127 ? 2 : p->act_min != -128;
    fn_broadcast_walk w;
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        const int8_t *ra = a + w.a_off, *rb = b + w.b_off;
        int8_t *ro = out + w.o_off;
        const ptrdiff_t sa = w.a_step, sb = w.b_step;
        if (right && clamp < 2 && (sa == 1 || sa == 0) && (sb == 1 || sb == 0) && sa + sb >= 1) {
            /* the fast rows: b fixed is a fixed with the operands (and offsets) swapped */
            mul_tflm_ctx cc = c;
            if (sb == 0 && sa == 1) {
                cc.ao = c.bo;
                cc.bo = c.ao;
                const int8_t *t = ra;
                ra = rb;
                rb = t;
            }
            const ptrdiff_t s0 = sa == 1 && sb == 1;
            if (clamp == 0) {
                mul_tflm_row(cc, w.row, ra, s0, rb, ro, 0);
            } else {
                mul_tflm_row(cc, w.row, ra, s0, rb, ro, 1);
            }
        } else if (right) {
            mul_generic_row(c, w.row, ra, sa, rb, sb, ro, 1);
        } else {
            /* a left shift (s_a * s_b >= s_out / 2): rare */
            mul_generic_row(c, w.row, ra, sa, rb, sb, ro, 0);
        }
    } while (fn_broadcast_next(&w));
}

/* out[i] = a[i*sa] * b[i*sb] for i < n. */
static void mul_row(const fn_mul_s8_params *p, ptrdiff_t n, const int8_t *a, ptrdiff_t sa,
                    const int8_t *b, ptrdiff_t sb, int8_t *out)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t ao = p->a_offset, bo = p->b_offset;
    ptrdiff_t i;
    if (p->method == FN_ELTWISE_S8_TFLM) {
        /* TFLite's MulElementwise (SINGLE mode here; TFLM mode: mul_tflm); |prod| <= 255 * 255 */
        const int32_t m = p->multiplier, s = p->shift, oo = p->output_offset;
        if (p->requant_mode == FN_REQUANT_SINGLE) {
            for (i = 0; i < n; ++i) {
                const int32_t prod = (a[i * sa] + ao) * (b[i * sb] + bo);
                out[i] = (int8_t)fn_clamp_i32(fn_mul_by_quantized_mul_single(prod, m, s) + oo, lo, hi);
            }
        } else {
            for (i = 0; i < n; ++i) {
                const int32_t prod = (a[i * sa] + ao) * (b[i * sb] + bo);
                out[i] = (int8_t)fn_clamp_i32(fn_mul_by_quantized_mul_tflm(prod, m, s) + oo, lo, hi);
            }
        }
    } else if (p->method == FN_ELTWISE_S8_ORT_QLINEAR) {
        /* MLAS QLinearMul (SSE2): float(prod) * ratio, rounded, + float(zp_out), rounded */
        const int32_t shift = p->ort_zero_shift;
        const float ratio = p->ratio, zp = (float)(p->output_offset + shift);
        for (i = 0; i < n; ++i) {
            volatile float t = (float)((a[i * sa] + ao) * (b[i * sb] + bo)) * ratio;
            const float c = t + zp;
            out[i] = (int8_t)fn_clamp_i32(fn_round_even_sat_f32(c, -128 + shift, 127 + shift) - shift, lo, hi);
        }
    } else {
        /* DequantizeLinear -> Mul -> QuantizeLinear */
        for (i = 0; i < n; ++i) {
            volatile float da = p->a_scale * (float)(a[i * sa] + ao);
            volatile float db = p->b_scale * (float)(b[i * sb] + bo);
            const float prod = da * db;
            out[i] = (int8_t)fn_clamp_i32(fn_quantize_ort_f32(prod, p->output_scale, p->output_offset), lo, hi);
        }
    }
}

static int params_ok(const fn_mul_s8_params *p)
{
    if (!fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides) ||
        !fn_eltwise_s8_offsets_ok(p->a_offset, p->b_offset, p->output_offset, p->act_min, p->act_max)) {
        return 0;
    }
    switch (p->method) {
    case FN_ELTWISE_S8_TFLM:
        return (p->requant_mode == FN_REQUANT_TFLM || p->requant_mode == FN_REQUANT_SINGLE) &&
               p->multiplier >= 0 && p->shift >= -31 && p->shift <= 14;
    case FN_ELTWISE_S8_ORT_QLINEAR:
        return p->requant_mode == FN_REQUANT_ORT && p->ratio >= 0.0f && p->ratio <= 3.40282347e38f &&
               (p->ort_zero_shift == 0 || p->ort_zero_shift == 128);
    case FN_ELTWISE_S8_ORT_FLOAT:
        return p->requant_mode == FN_REQUANT_ORT && fn_scale_ok(p->a_scale) && fn_scale_ok(p->b_scale) &&
               fn_scale_ok(p->output_scale);
    default:
        return 0;
    }
}

fn_status fn_mul_s8(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL || !params_ok(p)) {
        return FN_ERR_ARG;
    }
    if (p->method == FN_ELTWISE_S8_TFLM && p->requant_mode == FN_REQUANT_TFLM) {
        mul_tflm(p, a, b, out);
        return FN_OK;
    }
    fn_broadcast_walk w;
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        mul_row(p, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off);
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
