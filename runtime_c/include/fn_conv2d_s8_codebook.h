/* firmnet runtime: int8 2-D convolution (NHWC, one group, any filter size, stride,
 * dilation and padding) with palettized weights (fn_codebook.h): the OHWI filter's rows
 * (one per output channel, depth kernel_h * kernel_w * in_c, tap (ky, kx, c) at
 * (ky * kernel_w + kx) * in_c + c) as packed indices into an int8 codebook, each weight
 * looked up where it is multiplied. The accumulator is fn_conv2d_s8's (fn_conv_s8.h: taps
 * in the padding skipped, (x + input_offset) * w summed in int32, bias added modulo 2^32),
 * the output stage fn_conv_s8.h's, so the bytes are fn_conv2d_s8's on the decoded filter.
 * 1x1 unpadded stride-1 layers are faster as fn_fc_s8_codebook over the pixels. */
#ifndef FN_CONV2D_S8_CODEBOOK_H
#define FN_CONV2D_S8_CODEBOOK_H

#include "fn_codebook.h"
#include "fn_common.h"
#include "fn_conv_s8.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    int32_t input_offset;        /* -(input zero point) */
    int32_t bits;                /* index bits: 2, 4 or 8 */
    int32_t per_channel;         /* 1: one codebook per output channel */
    fn_requant_acc_s8 requant;   /* arrays of out_c entries, or 1 */
} fn_conv2d_s8_codebook_params;

/*   input     [batch, in_h, in_w, in_c]   int8
 *   codebook  [(per_channel ? out_c : 1) << bits]   int8
 *   indices   [out_c * fn_codebook_row_bytes(kernel_h * kernel_w * in_c, bits)]   uint8
 *   bias      [out_c] int32, or NULL
 *   output    [batch, out_h, out_w, out_c]   int8
 * Constraints: every size >= 1; pads >= 0; kernel_h * kernel_w * in_c <= FN_S8_MAX_DEPTH;
 * bits 2, 4 or 8; input_offset and the requant block in their ranges (fn_conv_s8.h,
 * fn_fixedpoint.h). output must not overlap the other arguments. No scratch.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for a NULL input, codebook,
 * indices or output pointer or a NULL array the requantization mode reads, geometry
 * fn_conv2d_s8 refuses, other bits, or a field out of its range. */
fn_status fn_conv2d_s8_codebook(const fn_conv2d_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                                const uint8_t *indices, const int32_t *bias, int8_t *output);

#endif
