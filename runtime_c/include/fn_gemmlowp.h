/* firmnet runtime: the gemmlowp fixed-point math used by TFLite's int8 softmax,
 * logistic, tanh and hard-swish reference kernels (internal header).
 *
 * A value in format Qm (m integer bits) is an int32 raw r meaning r / 2^(31 - m),
 * range [-2^m, 2^m). gemmlowp encodes m in a template parameter; here it is an
 * explicit argument. Each function below computes, bit for bit, what the gemmlowp
 * function named beside it returns for int32 raw values (and int16 for the *16
 * helpers), including its wrap-around on addition and subtraction, which gemmlowp
 * leaves to the compiler and we do through uint32_t. Shift amounts stay in range;
 * right shifts of negative values are arithmetic (see fn_fixedpoint.h).
 *
 * Accuracy (largest error over dense random grids, tests/test_kernels_activation_s8.py):
 *   fn_gl_exp_on_negative_values                       2^-22.06 (2.3e-7)
 *   fn_gl_one_over_one_plus_x_for_x_in_0_1             2^-28.2
 *   fn_gl_one_minus_x_over_one_plus_x_for_x_in_0_1     2^-27.2
 *   fn_gl_logistic 2^-23.75, fn_gl_tanh 2^-22.75
 * (absolute errors against the exact function of the input's real value) */
#ifndef FN_GEMMLOWP_H
#define FN_GEMMLOWP_H

#include "fn_fixedpoint.h"

/* a + b, a - b, -a with two's-complement wrap-around (gemmlowp Add, Sub, Neg). */
static inline int32_t fn_gl_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t fn_gl_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t fn_gl_neg(int32_t a)
{
    return (int32_t)(0u - (uint32_t)a);
}

/* Product of two fixed-point values: Qa * Qb -> Q(a+b) (gemmlowp operator*). */
static inline int32_t fn_gl_mul(int32_t a, int32_t b)
{
    return fn_sat_rounding_doubling_high_mul(a, b);
}

/* round((a + b) / 2), ties away from zero (gemmlowp RoundingHalfSum, int32). */
static inline int32_t fn_gl_rounding_half_sum(int32_t a, int32_t b)
{
    int64_t sum = (int64_t)a + (int64_t)b;
    int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* x * 2^exponent, saturating for exponent > 0 and rounding (ties away from zero)
 * for exponent < 0 (gemmlowp SaturatingRoundingMultiplyByPOT); -31 <= exponent <= 30. */
static inline int32_t fn_gl_sat_rounding_mul_by_pot(int32_t x, int32_t exponent)
{
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    if (exponent < 0) {
        return fn_rounding_divide_by_pot(x, -exponent);
    }
    threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* Changes a value from Q(src_bits) to Q(dst_bits) (gemmlowp Rescale). */
static inline int32_t fn_gl_rescale(int32_t x, int32_t src_bits, int32_t dst_bits)
{
    return fn_gl_sat_rounding_mul_by_pot(x, src_bits - dst_bits);
}

/* exp(a) for a Q0 value a in [-1/4, 0) (gemmlowp
 * exp_on_interval_between_negative_one_quarter_and_0_excl): a Taylor expansion
 * around -1/8 to the fourth power. Result in Q0. */
static inline int32_t fn_gl_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    int32_t x = fn_gl_add(a, (int32_t)1 << 28);   /* a + 1/8 */
    int32_t x2 = fn_gl_mul(x, x);
    int32_t x3 = fn_gl_mul(x2, x);
    int32_t x4 = fn_gl_mul(x2, x2);
    int32_t x4_over_4 = fn_rounding_divide_by_pot(x4, 2);
    int32_t poly = fn_rounding_divide_by_pot(
        fn_gl_add(fn_gl_mul(fn_gl_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return fn_gl_add(constant_term, fn_gl_mul(constant_term, fn_gl_add(x, poly)));
}

/* exp(a) for a value a <= 0 in Q(integer_bits), 0 <= integer_bits <= 29; result
 * in Q0 (gemmlowp exp_on_negative_values). exp(0) gives INT32_MAX. */
static inline int32_t fn_gl_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in Q0 for k = -2..4: one factor per set bit of the remainder */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = fn_gl_sub(a & mask, one_quarter);
    const int32_t remainder = fn_gl_sub(a_mod_quarter_minus_one_quarter, a);
    int32_t result = fn_gl_exp_on_interval_between_negative_one_quarter_and_0_excl(
        fn_gl_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    int32_t k;
    for (k = -2; k <= 4; ++k) {
        if (integer_bits > k) {
            const int32_t bit = (int32_t)((uint32_t)1 << (fractional_bits + k));
            if ((remainder & bit) != 0) {
                result = fn_gl_mul(result, barrel[k + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -(int32_t)((uint32_t)1 << (36 - integer_bits));   /* -32 */
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* One step of gemmlowp's Newton-Raphson division: x ~ 1 / half_denominator in Q2. */
static inline int32_t fn_gl_newton_reciprocal_q2(int32_t half_denominator)
{
    const int32_t constant_48_over_17 = 1515870810;       /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540;  /* Q2 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = fn_gl_add(constant_48_over_17, fn_gl_mul(half_denominator, constant_neg_32_over_17));
    int32_t i;
    for (i = 0; i < 3; ++i) {
        int32_t one_minus_half_denominator_times_x = fn_gl_sub(one_q2, fn_gl_mul(half_denominator, x));
        x = fn_gl_add(x, fn_gl_rescale(fn_gl_mul(x, one_minus_half_denominator_times_x), 4, 2));
    }
    return x;
}

/* 1 / (1 + a) for a Q0 value a in [0, 1); result in Q0
 * (gemmlowp one_over_one_plus_x_for_x_in_0_1). */
static inline int32_t fn_gl_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    int32_t x = fn_gl_newton_reciprocal_q2(fn_gl_rounding_half_sum(a, INT32_MAX));
    return fn_gl_rescale(x, 1, 0);   /* the Q2 raw read as Q1 is x / 2; then to Q0 */
}

/* (1 - a) / (1 + a) for a Q0 value a in [0, 1); result in Q0
 * (gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1). */
static inline int32_t fn_gl_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    int32_t x = fn_gl_newton_reciprocal_q2(fn_gl_rounding_half_sum(a, INT32_MAX));
    return fn_gl_rescale(fn_gl_sub(x, (int32_t)1 << 29), 2, 0);
}

/* 1 / (1 + exp(-a)) for a in Q(integer_bits), 0 <= integer_bits <= 29; result in Q0
 * (gemmlowp logistic). logistic(0) is exactly 1/2. */
static inline int32_t fn_gl_logistic(int32_t a, int32_t integer_bits)
{
    int32_t abs_input = a > 0 ? a : fn_gl_neg(a);
    int32_t result_if_positive = fn_gl_one_over_one_plus_x_for_x_in_0_1(
        fn_gl_exp_on_negative_values(fn_gl_neg(abs_input), integer_bits));
    if (a == 0) {
        return (int32_t)1 << 30;
    }
    return a > 0 ? result_if_positive : fn_gl_sub(INT32_MAX, result_if_positive);
}

/* tanh(a) for a in Q(integer_bits), 0 <= integer_bits <= 28; result in Q0 (gemmlowp tanh). */
static inline int32_t fn_gl_tanh(int32_t a, int32_t integer_bits)
{
    int32_t n = a < 0 ? a : fn_gl_neg(a);   /* -|a| */
    /* exp(2n): the same raw value read with one more integer bit */
    int32_t t = fn_gl_one_minus_x_over_one_plus_x_for_x_in_0_1(fn_gl_exp_on_negative_values(n, integer_bits + 1));
    if (a == 0) {
        return 0;
    }
    return a < 0 ? fn_gl_neg(t) : t;
}

/* int16 specializations (TFLite's int8 hard-swish works in 16-bit fixed point). */

/* gemmlowp SaturatingRoundingDoublingHighMul<int16_t>: round(a * b / 2^15), ties away
 * from zero; -32768 * -32768 saturates to 32767. */
static inline int16_t fn_gl_sat_rounding_doubling_high_mul16(int16_t a, int16_t b)
{
    int32_t ab, nudge;
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    ab = (int32_t)a * (int32_t)b;
    nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT<int16_t>, 0 <= exponent <= 31, as TFLite compiles it:
 * the mask (2^exponent - 1) is truncated to 16 bits, so for exponent >= 16 the result is
 * 1 for x >= 0 and -1 for x < 0 (not a rounding division any more). */
static inline int16_t fn_gl_rounding_divide_by_pot16(int16_t x, int32_t exponent)
{
    int32_t mask = (int32_t)((((int64_t)1 << exponent) - 1) & 0xFFFF);
    int32_t remainder, threshold;
    if (mask >= 0x8000) {
        mask -= 0x10000;                     /* the int16 value of the truncated mask */
    }
    remainder = (int32_t)x & mask;
    threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int16_t)(((int32_t)x >> exponent) + (remainder > threshold ? 1 : 0));
}

#endif
