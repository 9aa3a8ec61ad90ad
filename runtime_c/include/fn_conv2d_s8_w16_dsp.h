/* firmnet runtime: int8 2-D convolution (groups 1, symmetric weights) from weights widened to
 * int16 and interleaved at compile time, for CPUs with the DSP extension (SMLAD: two 16-bit
 * MACs per instruction). The same bytes as fn_conv2d_s8 (fn_conv_s8.h) for the layers it takes.
 *
 * Filter layout (kernels/conv2d_s8_w16_dsp.py pack_filter makes it from the OHWI int8 filter):
 * with in_c_pad = in_c rounded up to a multiple of 4 and out_c_pad = out_c rounded up to an
 * even number, int16 [out_c_pad / 2][kernel_w][kernel_h][in_c_pad / 4][2][4]: per pair of
 * output channels (c, c + 1), per tap (kx outer, ky inner), per group of 4 input channels
 * (i0, i1, i2, i3): channel c's weights in the order (w_i0, w_i2, w_i1, w_i3), then channel
 * c + 1's. Padding channels (input or output) are 0. fn_conv2d_s8_w16_dsp_filter_size() int16
 * values: 2 bytes per weight (and per padding weight) against fn_conv2d_s8's 1.
 *
 * Per output row, the kernel_h input rows it reads are widened into the scratch as 16-bit
 * values x + input_offset, interleaved by column: column j (input column j, from 0 to the last
 * one an output row reads) holds the kernel_h rows' in_c_pad values one after the other, each
 * group of 4 channels in the order above (SXTAB16 of a word gives (x0, x2), rotated (x1, x3)),
 * 0 in the columns past in_w (the right padding), the padding channels and rows outside the
 * image. With dilation_h 1 and stride_h < kernel_h, each row after the first keeps the
 * kernel_h - stride_h rows it shares with the one before (moved down a slot in every column,
 * LDRD/STRD) and widens only its last stride_h. With dilation_w 1 the window of an output
 * pixel that starts inside the image is one run of kernel_w * kernel_h * in_c_pad values, in the
 * filter's order. Per 2 output channels x 2 output pixels, every group of 4 input values costs
 * 4 word-pair loads (LDRD with post-increment where the filter is word-aligned) and 8 SMLADs
 * (16 MACs), nine groups per loop step for 3x3 windows; an odd last pixel or channel has its own
 * loop (nothing computed or written twice). Pixel pairs from ox = 0 whose window starts left of
 * the image (the left padding is not stored) are edge blocks, planned once per call: the taps
 * inside both windows as 2x2 blocks, then each pixel's other taps inside the image on its own;
 * the padding's taps are skipped.
 * Sums are exact (fn_conv_s8.h's bound: at most FN_S8_MAX_DEPTH products of |x + input_offset|
 * <= 255 and |w| <= 128; the padding adds zeros).
 *
 * Output stage: fn_out6_s8 (fn_fixedpoint.h, six instructions per output) where every channel
 * takes it and the depth kernel_h * kernel_w * in_c_pad <= FN_W16_OUT6_DEPTH (|sum| < 2^29),
 * else fn_finish_one_s8's (in ORT mode the inner loops gather each channel pair's fn_ort_s8):
 * the same bytes either way. A channel pair's fn_out6_s8 are made per
 * output row, on the stack (a table of out_c entries would cost 16 bytes of scratch each).
 *
 * Scratch (fn_conv2d_s8_w16_dsp_scratch_size, a multiple of 8 bytes, 8-byte aligned):
 * fn_w16_cols = span_w - pad_left columns (at least 1), span_w = (out_w - 1) * stride_w +
 * (kernel_w - 1) * dilation_w + 1, of kernel_h * in_c_pad int16 each: 3,168 bytes for 32x32x16
 * 3x3 pad 1 (3,520 with the left padding column and the table).
 *
 * In place: the input is read only while an output row's new window rows are widened into the
 * scratch, before that row is written, so the output may start over the input as far below it
 * as python/firmnet/in_place.py's w16_delta says (0 for 3x3, stride 1, pad 1, C -> C: row y
 * widens input row y + 1 only).
 *
 * Cost (bench/kernels_qemu.py, mps2-an386): ResNet-8's 3x3 layers 32x32 16->16 0.99, 16x16
 * 32->32 0.89, 8x8 64->64 0.84 instructions per MAC (fn_conv2d_s8_dsp: 2.22 at 16->16).
 *
 * Without the DSP extension (FN_DSP 0: host builds, tests) the same code runs with portable C
 * forms of SMLAD and SXTAB16 and plain word loads (little-endian CPUs), so the host exercises
 * the layout and padding logic of the board's path. */
#ifndef FN_CONV2D_S8_W16_DSP_H
#define FN_CONV2D_S8_W16_DSP_H

#include "fn_common.h"
#include "fn_conv_s8.h"

/* Largest product count kernel_h * kernel_w * in_c_pad with fn_out6_s8 (255 * 128 * 16384 <
 * 2^29 = FN_OUT6_LIMIT); above it the general stage is used. */
#define FN_W16_OUT6_DEPTH 16384

/* in_c rounded up to a multiple of 4 (0 outside [1, FN_S8_MAX_DEPTH]). */
static inline int32_t fn_w16_in_c_pad(int32_t in_c)
{
    return in_c >= 1 && in_c <= FN_S8_MAX_DEPTH ? (in_c + 3) / 4 * 4 : 0;
}

/* Input columns one output row reads: (out_w - 1) * stride_w + (kernel_w - 1) * dilation_w + 1,
 * 0 if a field is < 1 or the span is not below 2^24. */
static inline int32_t fn_w16_span_w(const fn_conv2d_s8_params *p)
{
    if (p->out_w < 1 || p->stride_w < 1 || p->kernel_w < 1 || p->dilation_w < 1) {
        return 0;
    }
    const int64_t span = (int64_t)(p->out_w - 1) * p->stride_w + (int64_t)(p->kernel_w - 1) * p->dilation_w + 1;
    return span < 16777216 ? (int32_t)span : 0;
}

/* Columns widened into the scratch: from input column 0 to the last one an output row reads,
 * span_w - pad_left (columns past in_w: the right padding, zeros), at least 0. */
static inline int32_t fn_w16_cols(const fn_conv2d_s8_params *p)
{
    const int64_t cols = (int64_t)fn_w16_span_w(p) - p->pad_left;
    return cols > 0 ? (int32_t)cols : 0;
}

/* Bytes of scratch: 2 * kernel_h * max(fn_w16_cols, 1) * in_c_pad (a multiple of 8); 0 when
 * groups != 1, a field is out of range or the size is not below 2^31. */
static inline size_t fn_conv2d_s8_w16_dsp_scratch_size(const fn_conv2d_s8_params *p)
{
    const int32_t span = fn_w16_span_w(p), in_c_pad = fn_w16_in_c_pad(p->in_c), cols = fn_w16_cols(p);
    if (p->groups != 1 || span == 0 || in_c_pad == 0 || p->kernel_h < 1 || p->kernel_h > FN_S8_MAX_DEPTH ||
        p->out_c < 1 || p->out_c > FN_S8_MAX_DEPTH) {
        return 0;
    }
    const int64_t bytes = 2 * (int64_t)p->kernel_h * (cols > 0 ? cols : 1) * in_c_pad;
    return bytes < 2147483647 ? (size_t)bytes : 0;
}

/* int16 values of the packed filter: (out_c rounded up to even) * kernel_h * kernel_w * in_c_pad. */
static inline size_t fn_conv2d_s8_w16_dsp_filter_size(const fn_conv2d_s8_params *p)
{
    return (size_t)((p->out_c + 1) / 2 * 2) * (size_t)p->kernel_h * (size_t)p->kernel_w *
           (size_t)fn_w16_in_c_pad(p->in_c);
}

/* fn_conv2d_s8 for groups 1 and filter_offset NULL, from the packed int16 filter (above).
 * scratch: fn_conv2d_s8_w16_dsp_scratch_size(p) bytes. Returns FN_ERR_ARG (before writing
 * any output) for fn_conv2d_s8's argument errors, groups != 1, a filter_offset, a NULL
 * scratch or a scratch size of 0. */
fn_status fn_conv2d_s8_w16_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch);

#endif
