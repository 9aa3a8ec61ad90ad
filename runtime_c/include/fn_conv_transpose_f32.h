/* firmnet runtime: float32 transposed 2-D convolution (NHWC activations). */
#ifndef FN_CONV_TRANSPOSE_F32_H
#define FN_CONV_TRANSPOSE_F32_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    /* Rows/columns cropped from the top/left of the full result (ONNX pads begin); may be
     * negative (then the first -pad_top output rows receive no taps: bias only). Bottom and
     * right cropping and output_padding are implied by out_h/out_w. */
    int32_t pad_top, pad_left;
    int32_t groups;
    float act_min, act_max;      /* fused activation: out = min(max(acc, act_min), act_max) */
} fn_conv_transpose2d_f32_params;

/* Transposed convolution (ONNX ConvTranspose), computed in gather form: output pixel
 * (oy, ox) reads input pixel (iy, ix) through tap (ky, kx) when
 *     oy + pad_top = iy * stride_h + ky * dilation_h,  ox + pad_left = ix * stride_w + kx * dilation_w.
 *   input  [batch, in_h, in_w, in_c]
 *   filter [out_c, kernel_h, kernel_w, in_c / groups]  (ONNX's [in_c, out_c / groups, kh, kw]
 *          repacked by the compiler: filter[g*ocg + o][ky][kx][i] = W[g*icg + i][o][ky][kx])
 *   bias   [out_c], or NULL for none
 *   output [batch, out_h, out_w, out_c]
 * Every output element is written once: no scratch, no zero-initialised output.
 * Accumulation order: bias first, then ky, kx, input channel ascending (taps that hit
 * no input pixel are skipped). output must not overlap input.
 * Returns FN_ERR_ARG for a NULL pointer (bias excepted), a size, stride or dilation < 1,
 * a kernel larger than 32 along an axis (the tap lists live on the stack, 384 bytes),
 * groups not dividing in_c/out_c, or geometry whose coordinates could overflow int32
 * (|pad| or (out - 1) + |pad| + (kernel - 1) * dilation >= 2^30). */
fn_status fn_conv_transpose2d_f32(const fn_conv_transpose2d_f32_params *p, const float *input,
                                  const float *filter, const float *bias, float *output);

#endif
