/* firmnet runtime: int8 add/sub with broadcasting by strides.
 *
 * The output is walked in row-major order, one innermost-dimension row at a time
 * (rows of the whole tensor when both operands are contiguous or scalar); each row
 * runs one method's loop. The per-element arithmetic is stated in fn_elementwise_s8.h.
 * In TFLM mode the compiler runs fn_add_s8_table instead (fn_add_s8_table.c) wherever its
 * output shift is not 0; these loops serve the single-rounding and onnxruntime modes. */
#include "fn_elementwise_s8.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"

/* mode is a constant at every call (add_tflm is inlined per mode): no per-element switch */
static inline int32_t rq(int32_t x, int single, int32_t multiplier, int32_t shift)
{
    return single ? fn_mul_by_quantized_mul_single(x, multiplier, shift)
                  : fn_mul_by_quantized_mul_tflm(x, multiplier, shift);
}

/* TFLite's AddElementwise / SubElementwise for one pair (single: requant mode SINGLE). */
static inline int32_t add_tflm(const fn_add_s8_params *p, int32_t a, int32_t b, int single)
{
    const int mode = single;
    const int32_t x = (a + p->a_offset) * ((int32_t)1 << p->left_shift);
    const int32_t y = (b + p->b_offset) * ((int32_t)1 << p->left_shift);
    const int32_t sx = rq(x, mode, p->a_multiplier, p->a_shift);
    const int32_t sy = rq(y, mode, p->b_multiplier, p->b_shift);
    const int32_t raw = p->subtract ? sx - sy : sx + sy;
    return rq(raw, mode, p->output_multiplier, p->output_shift) + p->output_offset;
}

/* onnxruntime DequantizeLinear -> Add/Sub -> QuantizeLinear, each step rounded. */
static int32_t add_ort_float(const fn_add_s8_params *p, int32_t a, int32_t b)
{
    volatile float da = p->a_scale * (float)(a + p->a_offset);
    volatile float db = p->b_scale * (float)(b + p->b_offset);
    const float s = p->subtract ? da - db : da + db;
    return fn_quantize_ort_f32(s, p->output_scale, p->output_offset);
}

/* out[i] = a[i*sa] OP b[i*sb] for i < n. */
static void add_row(const fn_add_s8_params *p, ptrdiff_t n, const int8_t *a, ptrdiff_t sa,
                    const int8_t *b, ptrdiff_t sb, int8_t *out)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    ptrdiff_t i;
    if (p->method == FN_ELTWISE_S8_TFLM && p->requant_mode == FN_REQUANT_SINGLE) {
        for (i = 0; i < n; ++i) {
            out[i] = (int8_t)fn_clamp_i32(add_tflm(p, a[i * sa], b[i * sb], 1), lo, hi);
        }
    } else if (p->method == FN_ELTWISE_S8_TFLM) {
        for (i = 0; i < n; ++i) {
            out[i] = (int8_t)fn_clamp_i32(add_tflm(p, a[i * sa], b[i * sb], 0), lo, hi);
        }
    } else if (p->method == FN_ELTWISE_S8_ORT_QLINEAR) {
        /* MLAS QLinearAdd (AVX2): the operand that is one scalar for the row is folded
         * into the fixed part first; onnxruntime passes input 0 as that scalar when its
         * row stride is 0, else input 1 (always, when both vary). */
        const float ra = p->a_ratio, rb = p->b_ratio;
        if (sa == 0) {
            const float fixed = fn_fmaf((float)a[0], ra, p->fixed_ba);
            for (i = 0; i < n; ++i) {
                const float c = fn_fmaf((float)b[i * sb], rb, fixed);
                out[i] = (int8_t)fn_clamp_i32(fn_round_even_sat_f32(c, -128, 127), lo, hi);
            }
        } else {
            for (i = 0; i < n; ++i) {
                const float t = fn_fmaf((float)b[i * sb], rb, p->fixed_ab);
                const float c = fn_fmaf((float)a[i * sa], ra, t);
                out[i] = (int8_t)fn_clamp_i32(fn_round_even_sat_f32(c, -128, 127), lo, hi);
            }
        }
    } else {
        for (i = 0; i < n; ++i) {
            out[i] = (int8_t)fn_clamp_i32(add_ort_float(p, a[i * sa], b[i * sb]), lo, hi);
        }
    }
}

static int params_ok(const fn_add_s8_params *p)
{
    if (!fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides) ||
        (p->subtract != 0 && p->subtract != 1) ||
        !fn_eltwise_s8_offsets_ok(p->a_offset, p->b_offset, p->output_offset, p->act_min, p->act_max)) {
        return 0;
    }
    switch (p->method) {
    case FN_ELTWISE_S8_TFLM:
        return (p->requant_mode == FN_REQUANT_TFLM || p->requant_mode == FN_REQUANT_SINGLE) &&
               p->left_shift >= 0 && p->left_shift <= 20 &&
               p->a_multiplier >= 0 && p->a_shift >= -31 && p->a_shift <= 0 &&
               p->b_multiplier >= 0 && p->b_shift >= -31 && p->b_shift <= 0 &&
               p->output_multiplier >= 0 && p->output_shift >= -31 && p->output_shift <= 0;
    case FN_ELTWISE_S8_ORT_QLINEAR:
        return p->requant_mode == FN_REQUANT_ORT && p->subtract == 0 &&
               p->a_ratio >= 0.0f && p->a_ratio <= 3.40282347e38f &&
               p->b_ratio >= 0.0f && p->b_ratio <= 3.40282347e38f &&
               p->fixed_ab > -16777216.0f && p->fixed_ab < 16777216.0f &&
               p->fixed_ba > -16777216.0f && p->fixed_ba < 16777216.0f;
    case FN_ELTWISE_S8_ORT_FLOAT:
        return p->requant_mode == FN_REQUANT_ORT && fn_scale_ok(p->a_scale) && fn_scale_ok(p->b_scale) &&
               fn_scale_ok(p->output_scale);
    default:
        return 0;
    }
}

fn_status fn_add_s8(const fn_add_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p == NULL || a == NULL || b == NULL || out == NULL || !params_ok(p)) {
        return FN_ERR_ARG;
    }
    fn_broadcast_walk w;
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        add_row(p, w.row, a + w.a_off, w.a_step, b + w.b_off, w.b_step, out + w.o_off);
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
