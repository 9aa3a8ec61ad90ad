/* firmnet runtime: resizing the two spatial axes of an NHWC tensor (ONNX Resize). The
 * compiler maps output coordinates to input coordinates (every ONNX coordinate
 * transformation and nearest rounding mode) and passes the result as per-axis tables,
 * so the kernels only gather and blend. */
#ifndef FN_RESIZE_H
#define FN_RESIZE_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t elem_size;            /* bytes per element (1 for int8, 4 for float32) */
    const int32_t *y_index;       /* [out_h]: input row of each output row, in [0, in_h) */
    const int32_t *x_index;       /* [out_w]: input column of each output column, in [0, in_w) */
} fn_resize_nearest_params;

/* Nearest-neighbour resize, a gather of whole pixels (any element type):
 *   output[b][oy][ox][:] = input[b][y_index[oy]][x_index[ox]][:]
 *   input [batch, in_h, in_w, channels], output [batch, out_h, out_w, channels]
 * NCHW data runs as batch * C images of one channel. output must not overlap input.
 * Returns FN_ERR_ARG for a NULL pointer or table, a size < 1, an elem_size < 1, a
 * table entry out of range, or an output of 2^31 or more bytes. */
fn_status fn_resize_nearest(const fn_resize_nearest_params *p, const void *input, void *output);

typedef struct {
    int32_t batch, in_h, in_w, channels;
    int32_t out_h, out_w;
    const int32_t *y0, *y1;       /* [out_h]: the two input rows blended into each output row */
    const float *wy0, *wy1;       /* [out_h]: their weights */
    const int32_t *x0, *x1;       /* [out_w]: the two input columns of each output column */
    const float *wx0, *wx1;       /* [out_w] */
} fn_resize_bilinear_f32_params;

/* Bilinear resize (float32):
 *   out = (in[y0][x0] * wx0 + in[y0][x1] * wx1) * wy0 + (in[y1][x0] * wx0 + in[y1][x1] * wx1) * wy1
 * evaluated in float32 in exactly this order (per output row oy and column ox).
 * Same layouts, overlap rule and return codes as fn_resize_nearest. */
fn_status fn_resize_bilinear_f32(const fn_resize_bilinear_f32_params *p, const float *input, float *output);

#endif
