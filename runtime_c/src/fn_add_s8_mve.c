/* firmnet runtime: int8 add/sub for CPUs with MVE (fn_s8_mve.h). Operands of the output's
 * shape (no broadcasting) in the TFLM method with requant mode TFLM go 4 elements per vector:
 * TFLite's AddElementwise with each MultiplyByQuantizedMultiplier (shifts <= 0) as VQRDMULH
 * and the rounding divide VRSHL of x + (x < 0 ? -1 : 0) (fn_s8_mve.h: both exact); every
 * other call is fn_add_s8's (which checks it), the same bytes. */
#include "fn_broadcast.h"
#include "fn_elementwise_s8.h"
#include "fn_s8_mve_impl.h"

#if FN_MVE
/* 1 if the call takes the vector path: valid TFLM fields, both operands with the output's
 * row-major strides, fewer than 2^31 elements (*n). */
static int add_vector_ok(const fn_add_s8_params *p, int32_t *n)
{
    if (p->method != FN_ELTWISE_S8_TFLM || p->requant_mode != FN_REQUANT_TFLM ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides) || (p->subtract != 0 && p->subtract != 1) ||
        !fn_eltwise_s8_offsets_ok(p->a_offset, p->b_offset, p->output_offset, p->act_min, p->act_max) ||
        p->left_shift < 0 || p->left_shift > 20 || p->a_multiplier < 0 || p->a_shift < -31 || p->a_shift > 0 ||
        p->b_multiplier < 0 || p->b_shift < -31 || p->b_shift > 0 || p->output_multiplier < 0 ||
        p->output_shift < -31 || p->output_shift > 0) {
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

/* fn_mul_by_quantized_mul_tflm(x, m, shift) for shift <= 0, rneg = shift in every lane. */
static inline int32x4_t rq_right(int32x4_t x, int32_t m, int32x4_t rneg)
{
    x = vqrdmulhq_n_s32(x, m);
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, rneg), 31));
    return vrshlq_s32(x, rneg);
}
#endif

fn_status fn_add_s8_mve(const fn_add_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
#if FN_MVE
    int32_t n = 0;
    if (p != NULL && a != NULL && b != NULL && out != NULL && add_vector_ok(p, &n)) {
        const int32x4_t ra = vdupq_n_s32(p->a_shift), rb = vdupq_n_s32(p->b_shift);
        const int32x4_t ro = vdupq_n_s32(p->output_shift);
        const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
        const int32_t ls = p->left_shift, am = p->a_multiplier, bm = p->b_multiplier, om = p->output_multiplier;
        const int32_t aoff = p->a_offset, boff = p->b_offset, zo = p->output_offset, sub = p->subtract;
        for (int32_t i = 0; i < n; i += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(n - i));
            const int32x4_t x = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(a + i, pr), aoff), ls);
            const int32x4_t y = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(b + i, pr), boff), ls);
            const int32x4_t sx = rq_right(x, am, ra), sy = rq_right(y, bm, rb);
            int32x4_t r = rq_right(sub ? vsubq_s32(sx, sy) : vaddq_s32(sx, sy), om, ro);
            r = vminq_s32(vmaxq_s32(vaddq_n_s32(r, zo), lo), hi);
            vstrbq_p_s32(out + i, r, pr);
        }
        return FN_OK;
    }
#endif
    return fn_add_s8(p, a, b, out);
}
