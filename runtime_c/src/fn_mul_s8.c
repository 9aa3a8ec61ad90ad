/* firmnet runtime: int8 mul with broadcasting by strides.
 *
 * Same walk as fn_add_s8.c: one innermost-dimension row at a time, each row running
 * one method's loop; the per-element arithmetic is stated in fn_elementwise_s8.h. */
#include "fn_elementwise_s8.h"

static int32_t clamp_act(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

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
                out[i] = (int8_t)clamp_act(fn_mul_by_quantized_mul_single(prod, m, s) + oo, lo, hi);
            }
        } else {
            for (i = 0; i < n; ++i) {
                const int32_t prod = (a[i * sa] + ao) * (b[i * sb] + bo);
                out[i] = (int8_t)clamp_act(fn_mul_by_quantized_mul_tflm(prod, m, s) + oo, lo, hi);
            }
        }
    } else if (p->method == FN_ELTWISE_S8_ORT_QLINEAR) {
        /* MLAS QLinearMul (SSE2): float(prod) * ratio, rounded, + float(zp_out), rounded */
        const float ratio = p->ratio, zp = (float)p->output_offset;
        for (i = 0; i < n; ++i) {
            volatile float t = (float)((a[i * sa] + ao) * (b[i * sb] + bo)) * ratio;
            const float c = t + zp;
            out[i] = (int8_t)clamp_act(fn_round_even_sat_f32(c, -128, 127), lo, hi);
        }
    } else {
        /* DequantizeLinear -> Mul -> QuantizeLinear */
        for (i = 0; i < n; ++i) {
            volatile float da = p->a_scale * (float)(a[i * sa] + ao);
            volatile float db = p->b_scale * (float)(b[i * sb] + bo);
            const float prod = da * db;
            out[i] = (int8_t)clamp_act(fn_quantize_ort_f32(prod, p->output_scale, p->output_offset), lo, hi);
        }
    }
}

static int params_ok(const fn_mul_s8_params *p)
{
    if (p->ndim < 1 || p->ndim > FN_MAX_DIMS ||
        p->a_offset < -127 || p->a_offset > 128 || p->b_offset < -127 || p->b_offset > 128 ||
        p->output_offset < -128 || p->output_offset > 127 ||
        p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max) {
        return 0;
    }
    for (int32_t d = 0; d < p->ndim; ++d) {
        if (p->out_shape[d] < 1 || p->a_strides[d] < 0 || p->b_strides[d] < 0) {
            return 0;
        }
    }
    switch (p->method) {
    case FN_ELTWISE_S8_TFLM:
        return (p->requant_mode == FN_REQUANT_TFLM || p->requant_mode == FN_REQUANT_SINGLE) &&
               p->multiplier >= 0 && p->shift >= -31 && p->shift <= 14;
    case FN_ELTWISE_S8_ORT_QLINEAR:
        return p->requant_mode == FN_REQUANT_ORT && p->ratio >= 0.0f && p->ratio <= 3.40282347e38f;
    case FN_ELTWISE_S8_ORT_FLOAT:
        return p->requant_mode == FN_REQUANT_ORT && p->a_scale > 0.0f && p->b_scale > 0.0f &&
               p->output_scale > 0.0f && p->a_scale <= 3.40282347e38f && p->b_scale <= 3.40282347e38f &&
               p->output_scale <= 3.40282347e38f;
    default:
        return 0;
    }
}

fn_status fn_mul_s8(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL || !params_ok(p)) {
        return FN_ERR_ARG;
    }
    const int32_t ndim = p->ndim;
    const ptrdiff_t row = p->out_shape[ndim - 1];
    const ptrdiff_t sa = p->a_strides[ndim - 1], sb = p->b_strides[ndim - 1];
    ptrdiff_t a_off = 0, b_off = 0, o_off = 0;
    int32_t idx[FN_MAX_DIMS] = {0};

    /* Odometer over dims 0..ndim-2, one row per step. */
    for (;;) {
        mul_row(p, row, a + a_off, sa, b + b_off, sb, out + o_off);
        o_off += row;
        int32_t d;
        for (d = ndim - 2; d >= 0; --d) {
            a_off += p->a_strides[d];
            b_off += p->b_strides[d];
            if (++idx[d] < p->out_shape[d]) {
                break;
            }
            a_off -= (ptrdiff_t)p->a_strides[d] * p->out_shape[d];
            b_off -= (ptrdiff_t)p->b_strides[d] * p->out_shape[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return FN_OK;
        }
    }
}
