/* firmnet runtime: float32 3x3 convolution (stride 1, dilation 1, one group, NHWC) by Winograd's
 * minimal filtering, F(2x2,3x3) and F(4x4,3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016). Each output tile of m x m pixels (m = 2 or 4) is computed from an input
 * tile of a x a pixels (a = m + 2) as
 *     Y = A^T [ sum over input channels c of U_c (.) V_c ] A + bias,  V_c = B^T d_c B,
 * then clamped to [act_min, act_max]; (.) is the elementwise product of a x a matrices.
 * U = G g G^T, the filter transform, is done at compile time (kernels/params_winograd_f32.py).
 *
 * Transforms (interpolation points):
 *   F(2x2,3x3): points 0, 1, -1, infinity. B^T, G, A^T hold only 0, +-1 and +-1/2: B^T and A^T
 *               need additions only.
 *   F(4x4,3x3): points 0, 1, -1, 2, -2, infinity, Lavin and Gray's set (small integers keep
 *               B^T and A^T exact in float; other sets, e.g. with +-1/2, were not measured
 *               here). B^T holds 0, +-1, +-2, +-4, -5; A^T 0, +-1, +-2, +-4, +-8;
 *               G the fractions 1/4, 1/6, 1/12, 1/24 (rounded once to float32 in U).
 *
 * Accuracy, measured by bench/winograd_float.py against the direct convolution in float64 on a
 * VGG-style model's six 3x3 layers (3 to 64 input channels, the model's weights, standard-normal
 * inputs): the largest |error| / sum |w x| of an output is
 *   fn_conv2d_f32 (direct)      2.2e-7
 *   fn_conv2d_f32_winograd_f2   2.8e-7
 *   fn_conv2d_f32_winograd_f4   4.3e-6
 * An output's rounding error comes from every input of its tile, not only from its 3x3 window,
 * so a bound in the window's sum |w x| does not exist (a zero window beside large inputs). The
 * bound tests/test_kernels_winograd_f32.py checks (hypothesis, four data families: normal inputs,
 * magnitudes spread over e^-10..e^10, one binade, spread weights) is, with
 * E = sum over c of (max |x_c| over the input tile) * (sum |w_oc,c| over the 3x3 taps),
 *   |error| <= K * (in_c + 2) * eps32 * (E + |bias|),   K = 1.5 (F2), 32 (F4)
 * (eps32 = 2^-23): about twice the largest ratio measured over 8,000 random layers (0.64, 15.5).
 * Inputs and outputs are finite: a NaN or infinity in an input tile may reach every output of
 * that tile.
 *
 * Padding is zero padding; tiles reaching past the input read zeros there, and tiles reaching past
 * the output (out_h or out_w not a multiple of m) write only their outputs inside it. */
#ifndef FN_CONV2D_F32_WINOGRAD_H
#define FN_CONV2D_F32_WINOGRAD_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    float act_min, act_max;      /* fused activation: out = min(max(y, act_min), act_max) */
    int32_t out_stride;          /* floats from one output pixel to the next: 0 = out_c (dense), or
                                  * >= out_c when the output is a slice of a wider tensor's channels
                                  * (a concat's input written in place, concat_views.py) */
} fn_conv2d_f32_winograd_params;

/*   input     [batch, in_h, in_w, in_c]
 *   u         [out_c, a * a, in_c], the transformed filters: u[o][i * a + j][c] = (G g G^T)[i][j]
 *             for filter o's input channel c (a = 4 for F2, 6 for F4)
 *   bias      [out_c], or NULL for none
 *   output    [batch, out_h, out_w, out_c], pixel (n, y, x) at ((n * out_h + y) * out_w + x) * out_stride
 *             when out_stride > 0 (only the out_c floats of each pixel are written)
 *   scratch   ..._scratch_size(p) bytes, aligned for float: two tiles' transformed inputs (every
 *             input channel; tiles are taken two side by side) and their summed products for
 *             four output channels
 * Constraints: every size >= 1; pad_top, pad_left >= 0 and the implied bottom and right pads
 * (out_h + 2 - in_h - pad_top, out_w + 2 - in_w - pad_left) >= 0; out_stride 0 or >= out_c; the
 * coordinates fit int32.
 * output must not overlap input or scratch.
 * Returns FN_OK, or FN_ERR_ARG for a NULL pointer (bias excepted) or a field out of range. */
fn_status fn_conv2d_f32_winograd_f2(const fn_conv2d_f32_winograd_params *p, const float *input, const float *u,
                                    const float *bias, float *output, void *scratch);
fn_status fn_conv2d_f32_winograd_f4(const fn_conv2d_f32_winograd_params *p, const float *input, const float *u,
                                    const float *bias, float *output, void *scratch);

/* Scratch bytes of a call: (2 * a * a * in_c + 8 * a * a) floats; 0 for a shape it does not take. */
size_t fn_conv2d_f32_winograd_f2_scratch_size(const fn_conv2d_f32_winograd_params *p);
size_t fn_conv2d_f32_winograd_f4_scratch_size(const fn_conv2d_f32_winograd_params *p);

#endif
