/* firmnet runtime: int8 reductions, bit-exact with TensorFlow Lite Micro.
 *
 * fn_mean_s8 computes, bit for bit, TFLM's int8 MEAN (reduce_common.cc PrepareMeanOrSum,
 * EvalMean -> EvalIntegerMean -> reference_ops::QuantizedMeanOrSum; TFLM takes this one
 * path for every axis set, keep_dims value, and equal or different quantizations), with
 * the integer parameters of python/firmnet/reference/reduce_s8.py (mean_s8_params), which
 * also refuses the cases listed below. Checked against the tflite-micro Python package by
 * tests/test_kernels_reduce_s8.py.
 *
 * Return codes: FN_OK, or FN_ERR_ARG when a pointer is NULL or a field is outside the range
 * written beside it (the only checks made; they are done before the loop). */
#ifndef FN_REDUCE_S8_H
#define FN_REDUCE_S8_H

#include "fn_common.h"
#include "fn_fixedpoint.h"   /* fn_requant_mode */

typedef struct {
    int32_t dims[4];                  /* input shape, row-major, each >= 1, product <= 2^31 - 1;
                                         lower ranks are padded with leading 1s */
    int32_t reduce[4];                /* per axis: 1 = averaged over, 0 = kept (0 or 1) */
    int32_t input_zero_point;         /* -128..127 */
    int32_t output_zero_point;        /* -128..127 */
    int32_t multiplier;               /* QuantizeMultiplier(s_in / s_out) with 1/n folded in, >= 0 */
    int32_t shift;                    /* its exponent, -31..30; when > 0, n * max|x - zp_in|
                                         (at most 2^31) * 2^shift <= 2^31 - 129 */
    int32_t requant_mode;             /* fn_requant_mode (fn_fixedpoint.h) */
    int32_t count;                    /* n, the number of reduced elements per output (ORT mode) */
    int32_t compute_sum;              /* 1: SUM (ORT mode; the other modes leave 1/n out of
                                         multiplier instead), 0: MEAN */
    int32_t ort_rows;                 /* ORT mode: 1 = add the dequantized values in onnxruntime's
                                         order (below), 0 = exact integer sum */
    float input_scale;                /* ORT mode and fn_mean_s8_f32: s_in; ORT mode: s_out (positive, finite) */
    float output_scale;
    const float *table;               /* ORT mode and fn_mean_s8_f32: NULL, or 256 entries: the value of
                                         input x is table[x + 128] instead of its dequantization */
} fn_mean_s8_params;

/* Mean over the axes flagged in reduce (TFLM MEAN, int8). The output holds the kept axes
 * in row-major order (keep_dims only changes the shape, not the bytes); no axis flagged
 * gives a plain requantization. Per output element, over its n reduced inputs:
 *   sum = sum(x - input_zero_point)                (int32, wrapping around as TFLM's does)
 *   out = clamp(MultiplyByQuantizedMultiplier(sum, multiplier, shift) + output_zero_point,
 *               -128, 127)
 * where (multiplier, shift) fold 1/n into QuantizeMultiplier(double(s_in) / double(s_out)):
 * k = min(floor(log2 n), 32, 31 + s), multiplier = (m << k) / n, shift = s - k.
 * Output == input (in place) is allowed: each output element is written after its inputs
 * are read, and at an index no later input read uses. Otherwise they must not overlap.
 * With requant_mode FN_REQUANT_SINGLE the multiply rounds once (fn_mul_by_quantized_mul_single);
 * FN_REQUANT_ORT follows onnxruntime's float graph DequantizeLinear -> ReduceMean/ReduceSum
 * -> QuantizeLinear with the exact integer sum: v = (float)sum * input_scale (MEAN: then
 * / (float)count), out = fn_quantize_ort_f32(v, output_scale, output_zero_point); exact for
 * n * 255 < 2^24. With ort_rows the sum is instead onnxruntime's: each dequantized value
 * (float)(x - input_zero_point) * input_scale, added in the order of its x86-64 ReduceMean/
 * ReduceSum over contiguous rows (Eigen's 4-lane vectorized sum, reference/reduce_s8.py
 * eigen_row_sums); the compiler sets it only where the output elements are onnxruntime's rows
 * in its order and each row's inputs are visited in its order (reduced axes trailing in the
 * model's layout). Over 1000 random global average poolings: 8706 of 8706 outputs equal
 * onnxruntime's with ort_rows, 8699 without.
 * mean_s8_params refuses: rank above 4; an axis out of range; a scale ratio so large that
 * the sum's left shift overflows int32 (undefined behaviour in TFLM). */
fn_status fn_mean_s8(const fn_mean_s8_params *p, const int8_t *input, int8_t *output);

/* The same mean (or sum) with a float output: what DequantizeLinear -> ReduceMean/ReduceSum
 * computes where the model quantizes nothing after it. Per output element, v as in
 * FN_REQUANT_ORT above before its quantization: the exact integer sum, (float)sum *
 * input_scale (MEAN: / (float)count); with ort_rows (ORT mode) onnxruntime's float sum of the
 * dequantized values. With a table, each value is table[x + 128] (a function of the
 * dequantized input computed at compile time, e.g. HardSwish -> ReduceMean) and the sum is
 * float: onnxruntime's order with ort_rows, else one by one in row-major order of the block.
 * fn_mean_s8 takes a table in ORT mode the same way. count * 255 < 2^24: the integer sum is
 * exact in float. The output is float, so it must not overlap the input. Reads dims, reduce,
 * input_zero_point, requant_mode, count, compute_sum, ort_rows, input_scale and table. */
fn_status fn_mean_s8_f32(const fn_mean_s8_params *p, const int8_t *input, float *output);

#endif
