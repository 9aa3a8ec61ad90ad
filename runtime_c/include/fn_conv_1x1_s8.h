/* firmnet runtime: int8 pointwise (1x1) convolution, stride 1, no padding, groups 1.
 *
 * The same layer as fn_conv2d_s8 (fn_conv_s8.h: same params struct, same arithmetic,
 * same output stage, same results byte for byte), as a matrix product: with
 * P = batch * in_h * in_w pixels, input is [P][in_c], the filter [out_c][in_c] and
 * the output [P][out_c]:
 *   out[p][c] = fn_output_stage_s8(SUM_i (input[p][i] + input_offset) * filter[c][i]
 *                                  + bias[c])
 * with the bias added modulo 2^32. The kernel computes 2 output channels x 2 pixels per
 * inner loop (each loaded input and weight word serves two accumulators).
 *
 * fn_conv2d_1x1_s8 is portable C99; fn_conv2d_1x1_s8_dsp (fn_s8_dsp.h) computes the same
 * bytes on CPUs with the DSP extension (Cortex-M4, M7, M33, M35P, M55) with ACLE intrinsics
 * of <arm_acle.h>: SXTAB16 adds the input offset to two sign-extended input bytes at once,
 * SXTB16 sign-extends two weights, SMLAD does two MACs.
 * Exactness: (x + input_offset) is in [-255, 255], so it is exact in the 16-bit lanes of
 * SXTAB16, and each SMLAD product is the int32 product TFLite computes. Every partial sum,
 * whatever its order, is a sum of at most in_c <= FN_S8_MAX_DEPTH such products, so its
 * magnitude is at most 255 * 128 * 2^16 = 2139095040 < 2^31: no intermediate overflow on
 * either variant (the argument of fn_conv_s8.h), and the sums equal TFLite's. */
#ifndef FN_CONV_1X1_S8_H
#define FN_CONV_1X1_S8_H

#include "fn_common.h"
#include "fn_conv_s8.h"

/* int8 1x1 convolution.
 *   input  [batch, in_h, in_w, in_c]    int8
 *   filter [out_c, 1, 1, in_c]          int8 (OHWI, as fn_conv2d_s8), zero point 0
 *   bias   [out_c] int32 (scale s_in * s_w[c]), or NULL for none
 *   output [batch, in_h, in_w, out_c]   int8
 * Constraints: every size >= 1; kernel_h = kernel_w = 1; stride_h = stride_w = 1;
 * dilation_h, dilation_w >= 1 (no effect on a 1x1 kernel); pad_top = pad_left = 0;
 * out_h = in_h and out_w = in_w (so no bottom/right padding either); groups = 1;
 * in_c <= FN_S8_MAX_DEPTH; batch * in_h * in_w < 2^31; filter_offset = NULL (weights
 * without zero points; fn_conv2d_s8 takes the others); the requantization fields as
 * fn_conv_s8.h states. output must not overlap input, filter, bias or the parameter
 * arrays. No alignment is required of any pointer.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for: a NULL params, input,
 * filter or output pointer, or a NULL array that the requant_mode reads; any of the
 * constraints above violated; any requantization field out of its range (every
 * multiplier, shift and scale entry in use is checked). */
fn_status fn_conv2d_1x1_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output);

#endif
