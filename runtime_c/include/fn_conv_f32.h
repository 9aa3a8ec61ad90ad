/* firmnet runtime: float32 convolution (NHWC activations, OHWI filters). */
#ifndef FN_CONV_F32_H
#define FN_CONV_F32_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    int32_t groups;
    float act_min, act_max;      /* fused activation: out = min(max(acc, act_min), act_max) */
} fn_conv2d_f32_params;

/* 2-D convolution with groups (groups == in_c == out_c / m is depthwise).
 *   input  [batch, in_h, in_w, in_c]
 *   filter [out_c, kernel_h, kernel_w, in_c / groups]
 *   bias   [out_c], or NULL for none
 *   output [batch, out_h, out_w, out_c]
 * Constraints: every size >= 1; pads >= 0; in_c and out_c divisible by groups.
 * Padded input positions contribute nothing (zero padding).
 * Accumulation order: bias first, then ky, kx, input channel ascending.
 * output must not overlap input.
 * Returns FN_ERR_ARG for a NULL pointer (bias excepted), a size, stride or dilation < 1,
 * negative pads, groups not dividing in_c/out_c, or geometry whose coordinates would
 * overflow int32 ((out - 1) * stride + (kernel - 1) * dilation or in + pads >= 2^31). */
fn_status fn_conv2d_f32(const fn_conv2d_f32_params *p, const float *input,
                        const float *filter, const float *bias, float *output);

#endif
