/* firmnet runtime: binary (XNOR-popcount) layers on bit-packed +-1 tensors.
 *
 * The packed 1-bit type (dtype "b1" in python/firmnet/dtypes.py): a tensor
 * [..., C] of +-1 values is stored row by row, each row (one pixel in NHWC) in
 * ceil(C / 32) uint32_t words; channel c is bit c % 32 of word c / 32, bit 1
 * meaning +1 and bit 0 meaning -1. The unused bits of a row's last word are 0:
 * every kernel here writes them 0 and relies on them being 0 (in inputs and in
 * the packed weights), so they never count.
 *
 * Accumulator. For input bits x and weight bits w over K valid channels,
 *   acc = sum x_k * w_k = K - 2 * popcount(x XOR w)
 * (the same as 2 * popcount(XNOR) - K over the valid bits; XOR keeps the zero
 * padding bits out of the count without a mask).
 *
 * Zero padding is exact: a tap of the filter that falls outside the input
 * (padding) contributes 0, not +-1: the kernel skips such taps and K counts
 * only the valid taps of each output position (K = valid taps * in_c).
 * One padding (fn_bconv2d_b1 with pad_value 1, Larq's pad_values=1): a padded
 * tap holds +1 in every channel and counts like any other (K = KH * KW * in_c).
 *
 * Output stage (fn_bout), per output channel c:
 *   FN_BOUT_INT32  the accumulator acc                          (int32_t)
 *   FN_BOUT_FLOAT  clamp(acc * scale[c] + offset[c], act_min, act_max)  (float):
 *                  the layer's alpha, bias and BatchNorm folded per channel
 *   FN_BOUT_BITS   bit c = (acc >= threshold[c]) XOR flip bit c      (b1): a
 *                  BatchNorm (with alpha, bias, clamp) followed by sign, folded
 *                  into an integer threshold at compile time; flip is set where
 *                  the folded scale is negative (sign(y) is then +1 for
 *                  acc < threshold[c]). flip's unused bits must be 0.
 *
 * Popcount. Portable C99, a table-free SWAR count (fn_binary_b1_impl.h): each word of
 * XOR to nibble counts in five instructions (masks as register operands), three words per
 * byte step, byte counts accumulated over up to 30 words and then summed (USADA8 with the
 * DSP extension), two words per LDRD with Thumb-2; with FN_POPCOUNT_BUILTIN defined (GCC,
 * clang) every word is __builtin_popcount. Measured on mps2-an386 (Cortex-M4, QEMU
 * instruction counts, bench/binary.py, arm-none-eabi-gcc 12.2 -O2): 3x3 64->64 conv on
 * 16x16, SWAR 3,656,320 vs builtin 6,051,440; fc 1024->512, SWAR 182,640 vs builtin
 * 341,800. The SWAR form is the default: the M4 has no popcount instruction, and the
 * builtin becomes a call into libgcc. Helium (MVE: Cortex-M55, M85) has no per-lane
 * popcount (VCNT is Neon's); where it is there, the same SWAR count runs on four words per
 * vector, each vector's byte counts summed by VADDVA.U8, the row's last n % 4 words under
 * a VCTP predicate, two filters per pass over the window: on mps3-an547 the conv above
 * takes 1,863,094 instructions (the scalar SWAR 3,759,906) and the fc 71,907 (186,781).
 */
#ifndef FN_BINARY_B1_H
#define FN_BINARY_B1_H

#include "fn_common.h"

typedef enum {
    FN_BOUT_INT32 = 0,
    FN_BOUT_FLOAT = 1,
    FN_BOUT_BITS = 2
} fn_bout_kind;

typedef struct {
    int32_t kind;                /* fn_bout_kind */
    const float *scale;          /* FLOAT: [out_c]; else may be NULL */
    const float *offset;         /* FLOAT: [out_c]; else may be NULL */
    float act_min, act_max;      /* FLOAT: the clamp */
    const int32_t *threshold;    /* BITS: [out_c]; else may be NULL */
    const uint32_t *flip;        /* BITS: [ceil(out_c / 32)]; else may be NULL */
} fn_bout;

/* Binary 2-D convolution, NHWC, groups 1, dilation 1, any filter, stride, zero or one padding.
 *   input   b1 [batch, in_h, in_w, in_c]: ceil(in_c / 32) words per pixel
 *   weights [out_c][W] words, W = ceil(kernel_h * kernel_w * in_c / 32): each filter's
 *           +-1 values (OHWI order: ky, kx, then channel) as one dense bit string, value k
 *           in bit k % 32 of word k / 32, the unused bits of the last word 0
 *   output  [batch, out_h, out_w, out_c]: int32_t, float, or b1 (ceil(out_c / 32)
 *           words per pixel), by out.kind
 *   scratch fn_bconv2d_b1_scratch_size(p) bytes (2 * W words), 4-byte aligned
 * out_h = (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1 (likewise out_w); the
 * bottom/right pads are implied by out_h/out_w. pad_value: 0 zero padding (a padded tap
 * contributes 0), 1 one padding (a padded tap is +1). Output must not overlap input.
 * Returns FN_ERR_ARG for a NULL pointer, a size or stride < 1, negative pads, a pad_value
 * other than 0 or 1, an unknown out.kind or its arrays NULL. */
typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t pad_value;           /* 0: zero padding, 1: one padding (+1) */
    fn_bout out;
} fn_bconv2d_b1_params;

fn_status fn_bconv2d_b1(const fn_bconv2d_b1_params *p, const uint32_t *input,
                        const uint32_t *weights, void *output, void *scratch);

/* Bytes of fn_bconv2d_b1's scratch: the gathered window and its mask, 2 * W words
 * (0 for a filter or channel count < 1). */
size_t fn_bconv2d_b1_scratch_size(const fn_bconv2d_b1_params *p);

/* Binary fully connected layer on rows of words (also a convolution whose filter covers
 * the whole unpadded input: a flattened NHWC image is the same words).
 *   input   [batch, in_words] words; weights [out_features, in_words] words
 *   in_bits: the number of valid +-1 values per row (K); every other bit is 0 in both
 *   output  [batch, out_features] int32_t / float / b1 (ceil(out_features / 32) words), by out.kind
 * Returns FN_ERR_ARG for a NULL pointer, a size < 1, in_bits > 32 * in_words, an
 * unknown out.kind or its arrays NULL. */
typedef struct {
    int32_t batch, in_words, in_bits, out_features;
    fn_bout out;
} fn_fc_b1_params;

fn_status fn_fc_b1(const fn_fc_b1_params *p, const uint32_t *input, const uint32_t *weights, void *output);

/* Binary max pooling, NHWC: the max of +-1 values is the OR of their bits. Padded taps are
 * skipped (ONNX MaxPool pads with -infinity). Every window must hold an in-bounds tap.
 *   input b1 [batch, in_h, in_w, channels], output b1 [batch, out_h, out_w, channels]
 * Returns FN_ERR_ARG for a NULL pointer, a size or stride < 1, negative pads or a window
 * made only of padding. Output must not overlap input. */
typedef struct {
    int32_t batch, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
} fn_bmaxpool2d_b1_params;

fn_status fn_bmaxpool2d_b1(const fn_bmaxpool2d_b1_params *p, const uint32_t *input, uint32_t *output);

/* Conversions between rows of `channels` values and b1 rows (ceil(channels / 32) words).
 *   fn_binarize_f32:   bit = x >= 0.0f  (so -0.0 gives +1; NaN gives -1)
 *   fn_binarize_s8:    bit = x >= zero_point (real = scale * (x - zero_point) >= 0)
 *   fn_unbinarize_f32: +1.0f for a set bit, -1.0f otherwise
 * Returns FN_ERR_ARG for a NULL pointer or a size < 1. */
typedef struct {
    int32_t rows, channels;
    int32_t zero_point;          /* fn_binarize_s8 only */
} fn_binarize_params;

fn_status fn_binarize_f32(const fn_binarize_params *p, const float *input, uint32_t *output);
fn_status fn_binarize_s8(const fn_binarize_params *p, const int8_t *input, uint32_t *output);
fn_status fn_unbinarize_f32(const fn_binarize_params *p, const uint32_t *input, float *output);

#endif
