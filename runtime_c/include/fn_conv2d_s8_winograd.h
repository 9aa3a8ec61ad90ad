/* firmnet runtime: int8 3x3 stride-1 convolution by Winograd F(2x2, 3x3), the same bytes as
 * fn_conv2d_s8 (fn_conv_s8.h) for the layers it takes.
 *
 * Arithmetic, per 2x2 output tile and output channel o (Lavin and Gray's F(2x2, 3x3) with the
 * filter transform scaled by 2 so that every matrix is an integer one):
 *   d = the 4x4 input tile (x + input_offset), 0 outside the image   |d| <= 255
 *   V = B^T d B         per input channel, int16, at run time          |V| <= 4 * 255 = 1020
 *   U = (2G) g (2G)^T   per (o, input channel), int16, at compile time |U| <= 9 * 128 = 1152
 *   M = SUM over input channels of U (.) V    (elementwise)            int32, modulo 2^32
 *   Y = A^T M A = 4 * (the 2x2 sums of fn_conv2d_s8), exactly, modulo 2^32
 *   sum = Y / 4 (exact), then bias and the output stage of fn_conv_s8.h (fn_finish_one_s8)
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], 2G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2],
 * A^T = [1 1 1 0; 0 1 -1 -1]. Taps in the padding (any pad, either side) and tile positions
 * past the last output row or column read d = 0 (the input zero point), which is what
 * fn_conv2d_s8's skipped taps add; outputs past out_h, out_w are not written.
 *
 * The int32 bound. M and Y are summed on uint32_t, modulo 2^32 (defined behaviour; SMLAD on
 * the DSP path wraps the same way), so their partial sums may leave the int32 range; since
 * Y = 4 * sum holds modulo 2^32, Y read as int32 is 4 * sum exactly when |4 * sum| < 2^31.
 * |sum| <= 9 * in_c * 255 * 128 (fn_conv_s8.h's product bound), so the kernel is exact for
 * in_c <= FN_WINO_S8_MAX_IN_C = 1827: 4 * 9 * 1827 * 32640 = 2146798080 < 2^31 - 1, and
 * in_c = 1828 would allow 2147973120. (Without the modulo sums, M itself, up to in_c * 1020 *
 * 1152, stays in int32 only up to 1827 channels too, but Y's partial sums of 9 M entries
 * would bound in_c by 203.) Above the bound the kernel refuses the call.
 *
 * Cost, against the direct kernel: 16 products per tile and (input, output) channel pair
 * instead of 36, plus per tile and input channel the input transform (32 additions, shared
 * by all output channels) and per tile and output channel the output transform (24
 * additions, shared by all input channels). On mps2-an386 (bench/winograd.py, ResNet-8's
 * layers) the DSP variant takes 1.50x fewer instructions than fn_conv2d_s8_dsp at 32x32x3
 * -> 16, 1.86x fewer at 32x32x16 -> 16, and 3.6-3.8x fewer than fn_conv2d_s8 at 16x16x32 ->
 * 32 and 8x8x64 -> 64.
 * Depthwise 3x3 does not gain: with one input channel per output channel neither transform
 * is shared. This kernel's fitted per-tile-and-channel costs (kernels/conv2d_s8_winograd.py:
 * 172 instructions for the input transform, 197 for the output transform, the stage and the
 * product loop's per-position overhead) come to about 370 before any product, against about
 * 190 for the tile's 36 products in fn_depthwise_conv2d_s8_rows_dsp (5.2 per MAC,
 * bench/kernels_qemu.py), so firmnet has no Winograd depthwise kernel.
 *
 * Layout of U (kernels/params_winograd.py makes it from the OHWI int8 filter) and of the
 * transformed tiles: interleaved by pairs, so that one 8-byte load gives a channel pair of both
 * tiles (or both filters). With in_c_pad = in_c rounded up to an even number and out_c_pad
 * likewise, U is int16 [out_c_pad / 2][16][in_c_pad / 2][2][2]: per pair of output channels,
 * per position k = 4 * i + j of U[i][j], per pair of input channels (c, c + 1): output channel
 * o's two values, then o + 1's. The padding channels are 0 (an odd out_c's last partner
 * computes, unwritten). 32 bytes per (output, input) channel pair against the direct kernel's 9.
 * The two tiles' V are [16][in_c_pad / 2][2][2] the same way (tile 0's pair, then tile 1's).
 *
 * Scratch: the transformed input tiles of two neighbouring tiles, 2 * 16 * in_c_pad int16,
 * then the 4 input rows of the current tile row with their padding as int8, zero-point
 * filled (x + input_offset = 0) outside the image: 4 * (2 * ceil(out_w / 2) + 2) * in_c bytes
 * (fn_conv2d_s8_winograd_scratch_size), 8-byte aligned. The padded rows let every tile read
 * 16 taps without bounds checks. On the stack: M of 2 tiles x 2 output channels (256 bytes;
 * in the scratch it cost 0.5 % more instructions), in all 600 bytes for the kernel's frame and
 * 248 for the DSP input transform's (arm-none-eabi-gcc 12.2 -O2 -fstack-usage, Cortex-M4). */
#ifndef FN_CONV2D_S8_WINOGRAD_H
#define FN_CONV2D_S8_WINOGRAD_H

#include "fn_common.h"
#include "fn_conv_s8.h"

/* Most input channels: 4 * 9 * in_c * 255 * 128 < 2^31 (above). */
#define FN_WINO_S8_MAX_IN_C 1827

/* Tiles whose transformed inputs the scratch holds at once (neighbours in a tile row). */
#define FN_WINO_S8_TILES 2

/* 1 if the geometry is one the kernel takes: a 3x3 filter, stride 1, dilation 1, one group,
 * 1 <= in_c <= FN_WINO_S8_MAX_IN_C (the other fields are fn_conv2d_s8's to check). */
static inline int fn_wino_s8_shape(const fn_conv2d_s8_params *p)
{
    return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 &&
           p->dilation_w == 1 && p->groups == 1 && p->in_c >= 1 && p->in_c <= FN_WINO_S8_MAX_IN_C;
}

/* in_c rounded up to an even number: the filter's and the scratch's channel stride. */
static inline int32_t fn_wino_s8_in_c_pad(int32_t in_c)
{
    return in_c + (in_c & 1);
}

/* Bytes of the transformed tiles at the start of the scratch (a multiple of 8). */
static inline size_t fn_wino_s8_tiles_bytes(int32_t in_c)
{
    return (size_t)FN_WINO_S8_TILES * 16 * (size_t)fn_wino_s8_in_c_pad(in_c) * sizeof(int16_t);
}

/* Columns of the padded input rows: 2 * ceil(out_w / 2) + 2 (the last tile reads up to 2
 * columns past the last output's window), or 0 if out_w is outside [1, 2^30]. */
static inline int32_t fn_wino_s8_row_w(int32_t out_w)
{
    return out_w >= 1 && out_w <= (1 << 30) ? 2 * ((out_w - 1) / 2) + 4 : 0;
}

/* Bytes of scratch: fn_wino_s8_tiles_bytes + 4 * row_w * in_c (the padded rows), or 0 for a
 * geometry the kernel does not take (fn_wino_s8_shape) or a size not below 2^31. */
static inline size_t fn_conv2d_s8_winograd_scratch_size(const fn_conv2d_s8_params *p)
{
    const int32_t row_w = fn_wino_s8_row_w(p->out_w);
    if (!fn_wino_s8_shape(p) || row_w == 0) {
        return 0;
    }
    const int64_t bytes = (int64_t)fn_wino_s8_tiles_bytes(p->in_c) + 4 * (int64_t)row_w * p->in_c;
    return bytes < INT32_MAX ? (size_t)bytes : 0;
}

/* fn_conv2d_s8's layer with the transformed filter:
 *   input   [batch, in_h, in_w, in_c]          int8
 *   filter  U [out_c][16][in_c_pad]            int16 (the layout above)
 *   bias    [out_c] int32, or NULL
 *   output  [batch, out_h, out_w, out_c]       int8
 * Portable C; fn_conv2d_s8_winograd_dsp (fn_s8_dsp.h) computes the same bytes with SMLAD.
 * Constraints: fn_conv2d_s8's, and kernel 3x3, stride 1, dilation 1, groups 1, in_c <=
 * FN_WINO_S8_MAX_IN_C, filter_offset NULL (weights without zero points); scratch of
 * fn_conv2d_s8_winograd_scratch_size(p) bytes. output must not overlap the other arguments.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for fn_conv2d_s8's errors, a
 * geometry outside these constraints, a filter_offset or a NULL scratch. */
fn_status fn_conv2d_s8_winograd(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                const int32_t *bias, int8_t *output, void *scratch);

#endif
