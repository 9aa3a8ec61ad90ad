/* firmnet runtime: float32 2-D convolution (NHWC, one group, any filter size, stride,
 * dilation and padding) with palettized weights (fn_codebook.h; the OHWI filter's rows as
 * fn_conv2d_s8_codebook.h lays them out), each weight looked up where it is multiplied.
 * 1x1 unpadded stride-1 layers are faster as fn_fc_f32_codebook over the pixels. */
#ifndef FN_CONV2D_F32_CODEBOOK_H
#define FN_CONV2D_F32_CODEBOOK_H

#include "fn_codebook.h"
#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    int32_t bits;                /* index bits: 2, 4 or 8 */
    int32_t per_channel;         /* 1: one codebook per output channel */
    float act_min, act_max;      /* fused activation clamp */
} fn_conv2d_f32_codebook_params;

/* output = clamp(bias[o] + SUM over the in-bounds taps of x * w), added in fn_conv2d_f32's
 * order (bias first, then ky, kx, input channel ascending): fn_conv2d_f32's result on the
 * decoded filter.
 *   input     [batch, in_h, in_w, in_c]   float
 *   codebook  [(per_channel ? out_c : 1) << bits]   float
 *   indices   [out_c * fn_codebook_row_bytes(kernel_h * kernel_w * in_c, bits)]   uint8
 *   bias      [out_c], or NULL
 *   output    [batch, out_h, out_w, out_c]   float
 * Constraints: every size >= 1; pads >= 0; kernel_h * kernel_w * in_c < 2^28; bits 2, 4 or 8.
 * output must not overlap input.
 * No scratch. Returns FN_OK, or FN_ERR_ARG for a NULL pointer (bias excepted), geometry
 * fn_conv2d_f32 refuses or other bits. */
fn_status fn_conv2d_f32_codebook(const fn_conv2d_f32_codebook_params *p, const float *input, const float *codebook,
                                 const uint8_t *indices, const float *bias, float *output);

#endif
