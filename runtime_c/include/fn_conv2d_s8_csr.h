/* firmnet runtime: int8 2-D convolution (one group, NHWC) with CSR weights (fn_csr.h): per
 * output channel, the list of its nonzero weights with their (tap, input channel) offsets.
 *
 * Row o of the matrix is output channel o; an entry's column is its input's offset from the
 * window's first input: col = ky * dilation_h * in_w * in_c + kx * dilation_w * in_c + c
 * (kernels/params_csr.py conv_matrix makes the matrix from the OHWI filter). A window inside
 * the input reads input[window origin + col]; a window that reaches into the padding decodes
 * (ky * dilation_h, kx * dilation_w, c) from col and skips the taps outside.
 *
 * The same int32 accumulator as fn_conv2d_s8, so the same output bytes: the compiler folds
 * the input offset over every tap into the bias (bias'[o] = bias[o] + input_offset *
 * SUM w[o]); a padded tap then adds w * (-input_offset) (the input zero point), which is what
 * that fold counted for it and fn_conv2d_s8 does not add: SUM over in-bounds taps of
 * (x + input_offset) * w + bias, modulo 2^32. Output stage: fn_conv_s8.h's. */
#ifndef FN_CONV2D_S8_CSR_H
#define FN_CONV2D_S8_CSR_H

#include "fn_common.h"
#include "fn_conv_s8.h"
#include "fn_csr.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;             /* bottom/right padding is implied by out_h/out_w */
    int32_t in_features, out_features;     /* the matrix (fn_csr.h): column span, out_c */
    int32_t entries;
    const uint8_t *col_delta;              /* [entries], or NULL */
    const uint16_t *col_index;             /* [entries], or NULL */
    const uint16_t *row_start16;           /* [out_features + 1], or NULL */
    const uint32_t *row_start32;           /* [out_features + 1], or NULL */
    int32_t input_offset;                  /* -(input zero point): the padded taps' correction */
    fn_requant_acc_s8 requant;             /* arrays of out_features entries, or 1 (fn_fixedpoint.h) */
} fn_conv2d_s8_csr_params;

/*   input   [batch, in_h, in_w, in_c]                  int8
 *   values  [entries]                                   int8
 *   bias    [out_features] int32, the folded bias above, or NULL
 *   output  [batch, out_h, out_w, out_features]         int8
 * Constraints: every size, stride and dilation >= 1; pads >= 0; (kernel_w - 1) * dilation_w
 * < in_w (a window row fits an input row: the column decodes uniquely); in_features ==
 * ((kernel_h - 1) * dilation_h * in_w + (kernel_w - 1) * dilation_w + 1) * in_c; the matrix
 * as fn_csr.h states; kernel_h * kernel_w * in_c <= FN_S8_MAX_DEPTH; out_h, out_w those of
 * the geometry (the compiler's; the kernel checks only that the coordinates stay below
 * 2^31); the requantization fields as fn_conv_s8.h states. output must not overlap the other arguments.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for a NULL input, values or output
 * pointer, a NULL array the requantization mode reads, or a field out of the ranges above. */
fn_status fn_conv2d_s8_csr(const fn_conv2d_s8_csr_params *p, const int8_t *input, const int8_t *values,
                           const int32_t *bias, int8_t *output);

#endif
