/* firmnet runtime: int8 softmax, TFLM's reference arithmetic (see fn_activation_s8.h).
 *
 * Two passes over each lane after its maximum: the first sums the exponentials,
 * the second recomputes each exponential and scales it by the reciprocal of the
 * sum, as TFLM does (no scratch memory). Inputs are read before the output at the
 * same index is written, so the kernel works in place. */
#include "fn_activation_s8.h"
#include "fn_gemmlowp.h"

enum {
    SCALED_DIFF_INTEGER_BITS = 5,     /* exp input in Q5.26 */
    ACCUMULATION_INTEGER_BITS = 12    /* sum of exps in Q12.19 */
};

/* exp(d * beta * input_scale) in Q0.31 for one d = x - max, d >= diff_min. */
static int32_t exp_of_diff(const fn_softmax_s8_params *p, int32_t diff)
{
    /* TFLM MultiplyByQuantizedMultiplierGreaterThanOne: |diff| * 2^shift <= 31 * 2^26
     * because diff >= diff_min, so the shift cannot overflow */
    int32_t scaled = (int32_t)((uint32_t)diff << p->input_left_shift);
    int32_t rescaled = fn_sat_rounding_doubling_high_mul(scaled, p->input_multiplier);
    return fn_gl_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
}

/* round(x / 2^exponent), ties up, for x >= 0 and 0 <= exponent <= 34. */
static int32_t rounding_divide_nonneg(int32_t x, int32_t exponent)
{
    if (exponent <= 31) {
        return fn_rounding_divide_by_pot(x, exponent);
    }
    return (int32_t)(((int64_t)x + ((int64_t)1 << (exponent - 1))) >> exponent);
}

static uint32_t count_leading_zeros(uint32_t x)
{
    uint32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

fn_status fn_softmax_s8(const fn_softmax_s8_params *p, const int8_t *input, int8_t *output)
{
    int32_t o, i, j, n, inner;
    if (p == NULL || input == NULL || output == NULL || p->outer < 1 || p->axis_len < 1 ||
        p->axis_len > FN_SOFTMAX_S8_MAX_AXIS || p->inner < 1 || p->input_left_shift < 0 ||
        p->input_left_shift > 31 || p->diff_min > 0) {
        return FN_ERR_ARG;
    }
    n = p->axis_len;
    inner = p->inner;
    for (o = 0; o < p->outer; ++o) {
        const ptrdiff_t base = (ptrdiff_t)o * n * inner;
        for (i = 0; i < inner; ++i) {
            const int8_t *x = input + base + i;
            int8_t *y = output + base + i;
            int32_t max_in_row = INT8_MIN, sum_of_exps = 0, shifted_scale, exponent;
            uint32_t headroom_plus_one;
            for (j = 0; j < n; ++j) {
                const int32_t v = x[(ptrdiff_t)j * inner];
                max_in_row = v > max_in_row ? v : max_in_row;
            }
            for (j = 0; j < n; ++j) {
                const int32_t diff = (int32_t)x[(ptrdiff_t)j * inner] - max_in_row;
                if (diff >= p->diff_min) {
                    /* at most FN_SOFTMAX_S8_MAX_AXIS terms of at most 2^19: no overflow */
                    sum_of_exps += fn_gl_rescale(exp_of_diff(p, diff), 0, ACCUMULATION_INTEGER_BITS);
                }
            }
            /* TFLite GetReciprocal: 1 / sum as a Q0.31 value in (1/2, 1] times 2^-num_bits_over_unit
             * (the maximum contributes 2^19, so sum > 0 and headroom_plus_one is 1..12) */
            headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
            shifted_scale = fn_gl_one_over_one_plus_x_for_x_in_0_1(
                (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - 0x80000000u));
            /* num_bits_over_unit + 31 - 8 output bits: 23..34; TFLM stops above 31 */
            exponent = (ACCUMULATION_INTEGER_BITS - (int32_t)headroom_plus_one) + 31 - 8;
            for (j = 0; j < n; ++j) {
                const int32_t diff = (int32_t)x[(ptrdiff_t)j * inner] - max_in_row;
                int32_t out = INT8_MIN;
                if (diff >= p->diff_min) {
                    const int32_t prob = fn_gl_mul(shifted_scale, exp_of_diff(p, diff));
                    out = rounding_divide_nonneg(prob, exponent) + INT8_MIN;
                    out = out > INT8_MAX ? INT8_MAX : out;
                }
                y[(ptrdiff_t)j * inner] = (int8_t)out;
            }
        }
    }
    return FN_OK;
}
