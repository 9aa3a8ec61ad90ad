/* firmnet runtime: int8 nonlinear activations, bit-exact with TensorFlow Lite Micro.
 *
 * Each kernel computes, bit for bit, what TFLM's int8 reference kernel computes, with
 * the integer parameters TFLM's Prepare precomputes (checked against the tflite-micro
 * Python package by tests/test_kernels_activation_s8.py). Those parameters come from
 * python/firmnet/reference/activation_s8.py
 * (softmax_s8_params, logistic_s8_params, tanh_s8_params, hard_swish_s8_params),
 * which also refuses the quantizations listed below. The fixed-point math is in
 * fn_gemmlowp.h.
 *
 * Tensors are int8 with a per-tensor scale and zero point. Every kernel reads an
 * element before it writes the output at the same index, so input == output (in
 * place) is allowed; otherwise input and output must not overlap.
 * Return codes: FN_OK, or FN_ERR_ARG when a pointer is NULL or a field is outside
 * the range written beside it (the only checks made; they are done before the loop). */
#ifndef FN_ACTIVATION_S8_H
#define FN_ACTIVATION_S8_H

#include "fn_common.h"

/* Largest softmax axis: the Q12.19 sum of exponentials (each at most 2^19) cannot overflow. */
#define FN_SOFTMAX_S8_MAX_AXIS 4095

typedef struct {
    int32_t outer, axis_len, inner;   /* tensor viewed as [outer, axis_len, inner]; each >= 1,
                                         axis_len <= FN_SOFTMAX_S8_MAX_AXIS */
    int32_t input_multiplier;         /* Q31 multiplier of beta * input_scale * 2^26, in [2^30, 2^31) */
    int32_t input_left_shift;         /* its left shift, 1..31 */
    int32_t diff_min;                 /* -floor(31 * 2^26 / 2^input_left_shift), <= 0 */
} fn_softmax_s8_params;

/* Softmax along the middle axis (TFLM SOFTMAX, int8 -> int8: softmax_common.cc
 * CalculateSoftmaxParams + reference_ops::Softmax<int8_t, int8_t>; TFLM's axis is the
 * last one, i.e. inner == 1; inner > 1 runs the same arithmetic on strided lanes).
 * Output quantization: scale 1/256 and zero point -128 exactly (TFLM requires it).
 * Per lane: d = x - max(x); where d >= diff_min, exp(d * beta * input_scale) is
 * computed in Q5.26 -> Q0.31 (gemmlowp exp_on_negative_values), summed in Q12.19, and
 * the output is round(exp * reciprocal(sum) / 2^exponent) - 128, clamped; elsewhere -128.
 * Beyond TFLM: TFLM aborts (TFLITE_CHECK) when a lane's Q12.19 sum reaches 2^28 (real
 * sum of exponentials >= 512, possible only with >= 512 elements near the maximum);
 * this kernel continues the same rounding division (exponent up to 34) instead.
 * softmax_s8_params refuses: another output quantization; beta * input_scale * 2^26 <= 1
 * (TFLM's QuantizeMultiplierGreaterThanOne aborts); axis_len > FN_SOFTMAX_S8_MAX_AXIS. */
fn_status fn_softmax_s8(const fn_softmax_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t count;                    /* number of elements, >= 1 */
    int32_t input_zero_point;         /* -128..127 */
    int32_t input_range_radius;       /* floor(15 * 2^27 / 2^input_left_shift), >= 0 */
    int32_t input_multiplier;         /* Q31 mantissa of input_scale * 2^27, in [2^30, 2^31) */
    int32_t input_left_shift;         /* its exponent, >= 0; <= 30 when input_range_radius > 0 */
} fn_logistic_s8_params;

/* Logistic (TFLM LOGISTIC, int8: logistic_common.cc CalculateArithmeticOpDataLogistic +
 * reference_integer_ops::Logistic). Output quantization: scale 1/256, zero point -128
 * (TFLM checks only the zero point; its kernel assumes the scale).
 * v = x - input_zero_point; v <= -radius gives -128, v >= radius gives 127; otherwise
 * v is rescaled to Q4.27 (MultiplyByQuantizedMultiplier), gemmlowp logistic gives Q0.31,
 * and the output is round(. / 2^23) - 128, clamped to [-128, 127].
 * logistic_s8_params refuses: another output quantization; input scale below 2^-28 or
 * from 2^35 on (TFLM's CalculateInputRadius would shift by a negative or >= 64 amount). */
fn_status fn_logistic_s8(const fn_logistic_s8_params *p, const int8_t *input, int8_t *output);

typedef fn_logistic_s8_params fn_tanh_s8_params;   /* same fields, same meaning */

/* Tanh (TFLM TANH, int8: tanh.cc CalculateArithmeticOpData + reference_integer_ops::Tanh).
 * Output quantization: scale 1/128, zero point 0 (TFLM checks neither; its kernel
 * assumes both). As logistic, with gemmlowp tanh, and the output round(. / 2^24)
 * clamped to [-128, 127]; v <= -radius gives -128, v >= radius gives 127.
 * tanh_s8_params refuses: another output quantization; input scales as logistic. */
fn_status fn_tanh_s8(const fn_tanh_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t count;                                  /* number of elements, >= 1 */
    int32_t input_zero_point;                       /* -128..127 */
    int32_t output_zero_point;                      /* -128..127 */
    int16_t reluish_multiplier_fixedpoint_int16;    /* Q15 mantissa of (input_scale / 128) / (3 / 32768) */
    int16_t output_multiplier_fixedpoint_int16;     /* Q15 mantissa of (input_scale / 128) / output_scale */
    int32_t reluish_multiplier_exponent;            /* -31..31 */
    int32_t output_multiplier_exponent;             /* -31..0 */
} fn_hard_swish_s8_params;

/* Hard swish x * relu6(x + 3) / 6 (TFLM HARD_SWISH, int8: hard_swish_common.cc
 * HardSwishPrepare + reference_ops::HardSwish<int8_t>), in 16-bit fixed point.
 * Any output quantization whose multiplier (input_scale / 128) / output_scale is
 * below 1 (TFLM requires output_multiplier_exponent <= 0). Reproduces TFLM's int16
 * details exactly: a rounding right shift by 16 or more gives +-1 (gemmlowp's int16
 * mask truncation), and adding the output zero point wraps in int16 before the clamp.
 * hard_swish_s8_params refuses: output_multiplier_exponent > 0 (TFLM refuses it too);
 * reluish_multiplier_exponent > 31 (input scale about 2.5e7 and more: TFLM's shift overflows). */
fn_status fn_hard_swish_s8(const fn_hard_swish_s8_params *p, const int8_t *input, int8_t *output);

#endif
