/* firmnet runtime: the steps the int8 logistic and tanh kernels share (internal
 * header, included by fn_logistic_s8.c and fn_tanh_s8.c). TFLM's
 * reference_integer_ops::Logistic and Tanh check the same fields, saturate outside the
 * same input radius, rescale the input to Q4.27 the same way and round the Q0.31 result
 * the same way; they differ only in the gemmlowp function between those steps and in
 * the output's scale and zero point (fn_activation_s8.h). Each kernel keeps its own loop
 * so that its gemmlowp function is inlined with its constant arguments. */
#ifndef FN_LOGISTIC_TANH_S8_H
#define FN_LOGISTIC_TANH_S8_H

#include "fn_activation_s8.h"
#include "fn_gemmlowp.h"

/* The rescaled input is Q4.27. */
#define FN_LOGISTIC_TANH_S8_INPUT_INTEGER_BITS 4

/* 1 if the pointers are non-NULL and the fields in the ranges fn_activation_s8.h states. */
static inline int fn_logistic_tanh_s8_ok(const fn_logistic_s8_params *p, const int8_t *input,
                                         const int8_t *output)
{
    return p != NULL && input != NULL && output != NULL && p->count >= 1 &&
           p->input_zero_point >= INT8_MIN && p->input_zero_point <= INT8_MAX &&
           p->input_range_radius >= 0 && p->input_left_shift >= 0 &&
           (p->input_range_radius == 0 || p->input_left_shift <= 30);
}

/* The input step for x: returns 1 with *q4 = (x - input_zero_point) rescaled to Q4.27
 * when |x - input_zero_point| < input_range_radius; else returns 0 with *out the
 * saturated output, -128 (at or below -radius) or 127. */
static inline int fn_logistic_tanh_s8_input(const fn_logistic_s8_params *p, int8_t x, int32_t *q4,
                                            int32_t *out)
{
    const int32_t v = (int32_t)x - p->input_zero_point;
    if (v <= -p->input_range_radius) {
        *out = INT8_MIN;
        return 0;
    }
    if (v >= p->input_range_radius) {
        *out = INT8_MAX;
        return 0;
    }
    /* |v| < radius: v * 2^shift stays below 15 * 2^27, no overflow */
    *q4 = fn_mul_by_quantized_mul_tflm(v, p->input_multiplier, p->input_left_shift);
    return 1;
}

/* The output step: round(q0 / 2^output_shift) + output_offset, clamped to int8. */
static inline int32_t fn_logistic_tanh_s8_output(int32_t q0, int32_t output_shift, int32_t output_offset)
{
    const int32_t out = fn_rounding_divide_by_pot(q0, output_shift) + output_offset;
    return out > INT8_MAX ? INT8_MAX : (out < INT8_MIN ? INT8_MIN : out);
}

#endif
