/* firmnet runtime: int8 RELU, RELU6 and RELU_N1_TO_1 as standalone ops, bit-exact with
 * TensorFlow Lite Micro.
 *
 * One kernel: requantize from the input to the output quantization, then clamp. The three
 * ops differ only in their parameters, which python/firmnet/reference/relu_s8.py computes
 * as TFLM's Prepare does (relu_s8_params, relu6_s8_params, relu_n1_to_1_s8_params) and
 * which tests/test_kernels_relu_s8.py checks against the tflite-micro Python package:
 *   RELU          TFLM activations_common.cc CalculateReluOpData<int8_t> (act range [0, +inf))
 *                 + ReluQuantized: (multiplier, shift) = QuantizeMultiplier(double(s_in) /
 *                 double(s_out)), act_min = output_zero_point, act_max = 127.
 *   RELU6         TFLM Relu6Prepare + Relu6Quantized: NO requantization; the input bytes are
 *                 clamped to [zp_in, six], six = clamp(round(6.0f / s_in) + zp_in, -128, 127),
 *                 and the output quantization is ignored (encoded here as multiplier 2^30,
 *                 shift 1, output_zero_point = zp_in: an exact identity).
 *   RELU_N1_TO_1  no TFLM kernel (TFLM refuses the model); CalculateReluOpData's arithmetic
 *                 with the act range [-1, 1]: RELU's requantization, act_min = clamp(zp_out +
 *                 round(-1.0f / s_out)), act_max = clamp(zp_out + round(1.0f / s_out)) to int8
 *                 (TFLite's QuantizedReluX(-1, 1), whose scale ratio is float32, not double).
 *
 * out = clamp(output_zero_point + MultiplyByQuantizedMultiplier(x - input_zero_point,
 *             multiplier, shift), act_min, act_max)          (TFLM's double rounding)
 * The identity requantization (multiplier 2^30, shift 1) takes a shortcut with the same result.
 * Each element is read before the output at its index is written, so input == output (in
 * place) is allowed; otherwise they must not overlap.
 * Return codes: FN_OK, or FN_ERR_ARG when a pointer is NULL or a field is outside the range
 * written beside it (the only checks made; they are done before the loop).
 * The builders refuse: a scale ratio whose left shift overflows (below), undefined
 * behaviour in TFLM; a clamp bound |round(a / scale)| >= 2^30 (TFLM's float-to-int
 * conversion near overflow); non-positive or non-finite scales, zero points outside int8. */
#ifndef FN_RELU_S8_H
#define FN_RELU_S8_H

#include "fn_common.h"

typedef struct {
    int32_t count;                    /* number of elements, >= 1 */
    int32_t input_zero_point;         /* -128..127 */
    int32_t output_zero_point;        /* -128..127 */
    int32_t multiplier;               /* Q31 mantissa of s_in / s_out, >= 0 (QuantizeMultiplier
                                         gives 0 or a value in [2^30, 2^31)) */
    int32_t shift;                    /* its exponent, -31..30; when > 0,
                                         max|x - input_zero_point| * 2^shift <= 2^31 - 129 */
    int32_t act_min;                  /* -128 <= act_min <= act_max <= 127 */
    int32_t act_max;
} fn_relu_s8_params;

/* Requantize and clamp (TFLM RELU / RELU6 int8; RELU_N1_TO_1 as described above). */
fn_status fn_relu_s8(const fn_relu_s8_params *p, const int8_t *input, int8_t *output);

#endif
