/* firmnet runtime: int8 activations and softmax with onnxruntime's arithmetic (requant_mode ort).
 *
 * The parameters, tables included, are built at compile time by
 * python/firmnet/reference/ort_s8.py, whose docstring derives every table entry and names
 * the onnxruntime kernels followed. Tensors are int8 (uint8 models' tensors carried as
 * value - 128). Every kernel reads an element before it writes the output at the same index,
 * so input == output (in place) is allowed; otherwise they must not overlap.
 * Return codes: FN_OK, or FN_ERR_ARG when a pointer is NULL or a field is outside the range
 * written beside it (checked once, before the loop). */
#ifndef FN_ACTIVATION_ORT_S8_H
#define FN_ACTIVATION_ORT_S8_H

#include "fn_common.h"

typedef struct {
    int32_t count;                    /* number of elements, >= 0 */
    const int8_t *table;              /* 256 entries: table[x + 128] is the output for input x */
} fn_lut_s8_params;

/* Any int8 -> int8 function of one value, as a table computed at compile time:
 * onnxruntime's QLinearSigmoid / QLinearLeakyRelu tables and its float Tanh,
 * HardSigmoid and HardSwish between DequantizeLinear and QuantizeLinear. */
fn_status fn_lut_s8(const fn_lut_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t outer, axis_len, inner;   /* tensor viewed as [outer, axis_len, inner]; each >= 1 */
    float y_steps;                    /* floorf(1.0f / output_scale), in [1, 2^24] */
    int32_t output_zero_point;        /* -128..127 */
    const float *table;               /* 256 entries: table[d] = exp of the input d steps below
                                         the lane's maximum (scaled so no lane sum overflows) */
} fn_softmax_ort_s8_params;

/* Softmax along the middle axis, onnxruntime's QLinearSoftmax: per lane, e = table[max - x],
 * sum = float32 sum of e in axis order, out = min(nearbyint(e / sum * y_steps) + zp, 127)
 * (float32 quotient, then product). Any output quantization. In place allowed. */
fn_status fn_softmax_ort_s8(const fn_softmax_ort_s8_params *p, const int8_t *input, int8_t *output);

#endif
