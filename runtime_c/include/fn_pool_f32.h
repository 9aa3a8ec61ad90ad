/* firmnet runtime: float32 2-D max and average pooling (NHWC). */
#ifndef FN_POOL_F32_H
#define FN_POOL_F32_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    /* Explicit padding. Windows that reach past in_h + pad_bottom (ceil mode)
     * are cut there; for average pooling with count_include_pad the divisor is
     * the window size after that cut (onnxruntime's rule). */
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t count_include_pad;   /* average pooling only: 1 = divide by padded window size */
    float act_min, act_max;      /* fused activation clamp */
    int32_t out_stride;          /* floats from one output pixel to the next: 0 = channels (dense), or
                                  * >= channels when the output is a slice of a wider tensor's channels
                                  * (a concat's input written in place, concat_views.py) */
} fn_pool2d_f32_params;

/* Max over the window's in-bounds elements (padding never wins).
 *   input [batch, in_h, in_w, channels], output [batch, out_h, out_w, channels]; with out_stride > 0,
 *   output pixel (n, y, x) at ((n * out_h + y) * out_w + x) * out_stride (its channels floats only
 *   are written)
 * Constraint: every window holds at least one in-bounds element. output accumulates
 * in place, so it must not overlap input. A NaN input propagates only when it is the
 * window's first in-bounds element (NaN handling is otherwise unspecified).
 * Returns FN_ERR_ARG for a NULL pointer, a size, stride or dilation < 1, negative pads
 * a window made only of padding, or 0 < out_stride < channels. count_include_pad is ignored. */
fn_status fn_maxpool2d_f32(const fn_pool2d_f32_params *p, const float *input, float *output);

/* Mean over the window: sum of in-bounds elements divided by their count, or
 * by the padded window size if count_include_pad (any non-zero value). dilation must be 1.
 * Summation order: ky, kx ascending. Same constraints and return codes as max pooling,
 * and FN_ERR_ARG for a dilation other than 1. */
fn_status fn_avgpool2d_f32(const fn_pool2d_f32_params *p, const float *input, float *output);

#endif
