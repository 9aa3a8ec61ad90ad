/* firmnet runtime: int8 fully connected layer with TFLite's integer arithmetic.
 * The input offset, the requantization block, the overflow argument and the output stage are those of
 * fn_conv_s8.h (included).
 *
 * fn_fc_s8 is portable C99; fn_fc_s8_dsp (fn_s8_dsp.h) computes the same bytes on CPUs
 * with the DSP extension (Cortex-M4, M7, M33, M55): 4 weight rows per pass, each word of 4
 * inputs widened once with the input offset (SXTAB16) for the 4 rows, weights widened with
 * SXTB16, two MACs per SMLAD; every product and partial sum is the integer the portable
 * kernel computes (|x + input_offset| <= 255 fits a halfword, and fn_conv_s8.h's overflow
 * argument holds in any order). tests/test_dsp_kernels.py runs both on the emulated M4. */
#ifndef FN_FC_S8_H
#define FN_FC_S8_H

#include "fn_common.h"
#include "fn_conv_s8.h"

typedef struct {
    int32_t batch, in_features, out_features;
    int32_t input_offset;                  /* -(input zero point) */
    fn_requant_acc_s8 requant;             /* arrays of out_features entries, or 1 */
} fn_fc_s8_params;

/* output[b][o] = fn_output_stage_s8(sum_i (input[b][i] + input_offset) * weights[o][i]
 *                                   + bias[o])
 * (TFLite reference_integer_ops::FullyConnectedPerChannel / FullyConnected with a zero
 * weights offset), the bias added modulo 2^32 after the sum.
 *   input   [batch, in_features]          int8
 *   weights [out_features, in_features]   int8, zero point 0
 *   bias    [out_features] int32, or NULL
 *   output  [batch, out_features]         int8
 * Constraints: every size >= 1; in_features <= FN_S8_MAX_DEPTH; input_offset and the
 * requant block in the ranges fn_conv_s8.h and fn_fixedpoint.h state. output must not overlap input, weights,
 * bias or the parameter arrays.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for a NULL input, weights or
 * output pointer or a NULL array requant.mode reads, a size < 1, in_features above
 * FN_S8_MAX_DEPTH, or a requantization field out of its range. */
fn_status fn_fc_s8(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output);

#endif
