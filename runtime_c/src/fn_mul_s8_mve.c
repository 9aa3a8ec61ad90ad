/* firmnet runtime: int8 mul for CPUs with MVE (fn_s8_mve.h). Operands of the output's shape
 * (no broadcasting) in the TFLM method with requant mode TFLM go 8 elements per step:
 * TFLite's MulElementwise, prod = (a + a_offset) * (b + b_offset) (|prod| <= 255 * 255), then
 * fn_mul_by_quantized_mul_tflm as VSHL by max(shift, 0) (|prod * 2^14| < 2^31: exact), VQRDMULH
 * and the rounding divide VRSHL of x + (x < 0 ? -1 : 0) by min(shift, 0) (fn_s8_mve.h: both
 * exact); every other call is fn_mul_s8's (which checks it), the same bytes. */
#include "fn_broadcast.h"
#include "fn_elementwise_s8.h"
#include "fn_s8_mve_impl.h"

#if FN_MVE
/* 1 if the call takes the vector path: valid TFLM fields, both operands with the output's
 * row-major strides, fewer than 2^31 elements (*n). */
static int mul_vector_ok(const fn_mul_s8_params *p, int32_t *n)
{
    if (p->method != FN_ELTWISE_S8_TFLM || p->requant_mode != FN_REQUANT_TFLM ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides) ||
        !fn_eltwise_s8_offsets_ok(p->a_offset, p->b_offset, p->output_offset, p->act_min, p->act_max) ||
        p->multiplier < 0 || p->shift < -31 || p->shift > 14) {
        return 0;
    }
    int64_t count = 1;
    for (int32_t d = p->ndim - 1; d >= 0; --d) {
        if (p->a_strides[d] != count || p->b_strides[d] != count) {
            return 0;
        }
        count *= p->out_shape[d];
        if (count > INT32_MAX) {
            return 0;
        }
    }
    *n = (int32_t)count;
    return 1;
}

/* fn_mul_by_quantized_mul_tflm(prod, m, shift) + zo clamped to [lo, hi] in 4 lanes: left =
 * max(shift, 0), rneg = min(shift, 0) in every lane */
static inline int32x4_t mul_stage(int32x4_t prod, int32_t left, int32_t m, int32x4_t rneg, int32_t zo, int32x4_t lo,
                                  int32x4_t hi)
{
    int32x4_t r = vqrdmulhq_n_s32(vshlq_r_s32(prod, left), m);
    r = vrshlq_s32(vqaddq_s32(r, vshrq_n_s32(vandq_s32(r, rneg), 31)), rneg);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(r, zo), lo), hi);
}
#endif

fn_status fn_mul_s8_mve(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
#if FN_MVE
    int32_t n = 0;
    if (p != NULL && a != NULL && b != NULL && out != NULL && mul_vector_ok(p, &n)) {
        const int32_t left = p->shift > 0 ? p->shift : 0, m = p->multiplier;
        const int32x4_t rneg = vdupq_n_s32(p->shift > 0 ? 0 : p->shift);
        const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
        const int32_t aoff = p->a_offset, boff = p->b_offset, zo = p->output_offset;
        int32_t i = 0;
        /* 8 elements per step: 16-bit operands (|x + offset| <= 255), their products in even and
         * odd 32-bit lanes (VMULLB, VMULLT), narrowed back in place (VMOVNB, VMOVNT) */
        for (; i + 8 <= n; i += 8) {
            const int16x8_t x = vaddq_n_s16(vldrbq_s16(a + i), (int16_t)aoff);
            const int16x8_t y = vaddq_n_s16(vldrbq_s16(b + i), (int16_t)boff);
            const int32x4_t even = mul_stage(vmullbq_int_s16(x, y), left, m, rneg, zo, lo, hi);
            const int32x4_t odd = mul_stage(vmulltq_int_s16(x, y), left, m, rneg, zo, lo, hi);
            vstrbq_s16(out + i, vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), even), odd));
        }
        /* the last 1..7: 4 lanes of 32 bits, predicated */
        for (; i < n; i += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(n - i));
            const int32x4_t x = vaddq_n_s32(vldrbq_z_s32(a + i, pr), aoff);
            const int32x4_t y = vaddq_n_s32(vldrbq_z_s32(b + i, pr), boff);
            vstrbq_p_s32(out + i, mul_stage(vmulq_s32(x, y), left, m, rneg, zo, lo, hi), pr);
        }
        return FN_OK;
    }
#endif
    return fn_mul_s8(p, a, b, out);
}
