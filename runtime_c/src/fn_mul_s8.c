/* firmnet runtime: int8 mul with broadcasting by strides.
 *
 * Same walk as fn_add_s8.c: one innermost-dimension row at a time, each row running
 * one method's loop; the per-element arithmetic is stated in fn_elementwise_s8.h. */
#include "fn_elementwise_s8.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"

/* out[i] = a[i*sa] * b[i*sb] for i < n. */
static void mul_row(const fn_mul_s8_params *p, ptrdiff_t n, const int8_t *a, ptrdiff_t sa,
                    const int8_t *b, ptrdiff_t sb, int8_t *out)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t ao = p->a_offset, bo = p->b_offset;
    ptrdiff_t i;
    if (p->method == FN_ELTWISE_S8_TFLM) {
        /* TFLite's MulElementwise; |prod| <= 255 * 255 */
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
    fn_broadcast_walk w;
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        mul_row(p, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off);
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
