/* firmnet runtime: int8 hard swish, TFLM's reference arithmetic in 16-bit fixed point
 * (see fn_activation_s8.h). The int16 steps keep TFLite's exact types: every
 * intermediate is an int16 value. */
#include "fn_activation_s8.h"
#include "fn_gemmlowp.h"

/* value * 2^amount saturated to int16 (TFLite SaturatingLeftShift), 0 <= amount <= 30. */
static int16_t saturating_left_shift16(int16_t value, int32_t amount)
{
    int64_t r = (int64_t)value * ((int64_t)1 << amount);
    r = r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : r);
    return (int16_t)r;
}

/* a * b / 2^15 truncated toward zero, -32768 * -32768 saturating (TFLite
 * SaturatingDoublingHighMul, like ARM SQDMULH). */
static int16_t saturating_doubling_high_mul16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* The int16 value of v (two's-complement wrap-around, as TFLite's int16 store). */
static int16_t wrap16(int32_t v)
{
    uint32_t u = (uint32_t)v & 0xFFFFu;
    return (int16_t)(u >= 0x8000u ? (int32_t)u - 0x10000 : (int32_t)u);
}

fn_status fn_hard_swish_s8(const fn_hard_swish_s8_params *p, const int8_t *input, int8_t *output)
{
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->input_zero_point < INT8_MIN ||
        p->input_zero_point > INT8_MAX || p->output_zero_point < INT8_MIN || p->output_zero_point > INT8_MAX ||
        p->reluish_multiplier_exponent < -31 || p->reluish_multiplier_exponent > 31 ||
        p->output_multiplier_exponent < -31 || p->output_multiplier_exponent > 0) {
        return FN_ERR_ARG;
    }
    for (k = 0; k < p->count; ++k) {
        /* |x - zp| <= 255, so x * 2^7 fits int16 */
        const int16_t hires = (int16_t)(((int32_t)input[k] - p->input_zero_point) * (1 << 7));
        const int16_t preshift_output = fn_gl_sat_rounding_doubling_high_mul16(
            hires, p->output_multiplier_fixedpoint_int16);
        int16_t reluish = hires, value;
        int32_t out;
        /* rescale x so that 3.0 is 32768, saturating: shift left all but one bit first,
         * so that only the last shift can saturate the result */
        if (p->reluish_multiplier_exponent > 0) {
            reluish = saturating_left_shift16(reluish, p->reluish_multiplier_exponent - 1);
        }
        reluish = fn_gl_sat_rounding_doubling_high_mul16(reluish, p->reluish_multiplier_fixedpoint_int16);
        if (p->reluish_multiplier_exponent > 0) {
            reluish = saturating_left_shift16(reluish, 1);
        }
        if (p->reluish_multiplier_exponent < 0) {
            reluish = fn_gl_rounding_divide_by_pot16(reluish, -p->reluish_multiplier_exponent);
        }
        /* [-1, 1] -> [0, 1] in Q0.15 */
        reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);
        value = saturating_doubling_high_mul16(reluish, preshift_output);
        value = fn_gl_rounding_divide_by_pot16(value, -p->output_multiplier_exponent);
        value = wrap16((int32_t)value + p->output_zero_point);
        out = value > INT8_MAX ? INT8_MAX : (value < INT8_MIN ? INT8_MIN : value);
        output[k] = (int8_t)out;
    }
    return FN_OK;
}
