/* firmnet runtime: int8 convolution and depthwise convolution (NHWC activations),
 * with TFLite's integer arithmetic, and the int8 output stage they share with the
 * fully connected kernel (fn_fc_s8.h).
 *
 * Arithmetic, per output element (TFLite reference_integer_ops::ConvPerChannel and
 * DepthwiseConvPerChannel, tensorflow/lite/kernels/internal/reference/integer_ops/):
 *   sum = SUM over in-bounds taps of (x + input_offset) * w     int32, cannot overflow
 *   acc = sum + bias[c]                                          int32, wraps modulo 2^32
 *   out = fn_output_stage_s8(acc, ...)                           see below
 * Taps that fall into the padding are skipped (TFLite's "zero padding by omitting"):
 * this is ONNX's padding with the input zero point, since (zp + input_offset) * w = 0.
 * Integer sums do not depend on the order of their terms, so the kernels add them in
 * whatever order suits the memory layout.
 *
 * No overflow: |x + input_offset| <= 255 (x in [-128, 127], input_offset in [-127, 128])
 * and |w| <= 128, so one product is at most 32640 in magnitude and a sum of at most
 * FN_S8_MAX_DEPTH = 2^16 products at most 2139095040 < 2^31 - 1, whatever the order.
 * Adding the bias can leave the int32 range only for biases the model's float
 * arithmetic could not have produced; it is then done modulo 2^32 through uint32_t,
 * which is what TFLite's `acc += bias` does on every supported compiler (and stays
 * defined behaviour here). The output stage likewise adds output_offset modulo 2^32. */
#ifndef FN_CONV_S8_H
#define FN_CONV_S8_H

#include "fn_common.h"
#include "fn_fixedpoint.h"

/* Most products one int32 accumulator may sum: kernel_h * kernel_w * in_c / groups
 * (conv), kernel_h * kernel_w (depthwise), in_features (fully connected). */
#define FN_S8_MAX_DEPTH 65536

/* The same with a filter offset: |w + filter_offset| <= 255, so one product is at
 * most 65025 in magnitude, and 2^15 of them at most 2130739200 < 2^31 - 1. */
#define FN_S8_MAX_DEPTH_OFFSET 32768

/* Output channels per block of the depthwise filter layout (see below). */
#define FN_DW_S8_BLOCK 4

/* The int8 params structs hold input_offset = -(input zero point), in [-127, 128]
 * (TFLite's sign convention), and their requantization as one block, requant
 * (fn_requant_acc_s8, fn_fixedpoint.h: output zero point, activation clamp, mode and the
 * per-channel multiplier, shift or scale arrays). */

/* 1 if input_offset is in its range [-127, 128]. */
static inline int fn_input_offset_s8_ok(int32_t input_offset)
{
    return input_offset >= -127 && input_offset <= 128;
}

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    int32_t groups;
    int32_t input_offset;
    fn_requant_acc_s8 requant;   /* arrays of out_c entries, or 1 */
    const int32_t *filter_offset; /* [out_c]: -(weight zero point), or NULL when all are 0
                                   * (fn_conv2d_s8 and fn_conv2d_s8_s32 only) */
} fn_conv2d_s8_params;

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w;
    int32_t depth_multiplier;    /* out_c = in_c * depth_multiplier */
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;   /* bottom/right padding is implied by out_h/out_w */
    int32_t input_offset;
    fn_requant_acc_s8 requant;   /* arrays of out_c entries, or 1 */
} fn_depthwise_conv2d_s8_params;

/* 2-D convolution with groups (groups == in_c is depthwise; fn_depthwise_conv2d_s8
 * is the faster kernel for that case).
 *   input  [batch, in_h, in_w, in_c]                    int8
 *   filter [out_c, kernel_h, kernel_w, in_c / groups]   int8 (OHWI)
 *   bias   [out_c] int32 (scale s_in * s_w[c]), or NULL for none
 *   output [batch, out_h, out_w, out_c]                 int8
 * Output channel c belongs to group c / (out_c / groups) and reads input channels
 * group * (in_c / groups) ... + in_c / groups - 1.
 * Weights with a zero point (ONNX QLinearConv, ConvInteger): filter_offset[c] =
 * -(zero point of channel c), in [-127, 128], and every product becomes
 * (x + input_offset) * (w + filter_offset[c]). The kernel adds
 * filter_offset[c] * SUM(x + input_offset) over the window once per output, which is
 * the same integer; the depth limit is then FN_S8_MAX_DEPTH_OFFSET. The other int8
 * convolution kernels (depthwise, 1x1) require zero points of 0.
 * Portable C; fn_conv2d_s8_dsp (fn_s8_dsp.h) computes the same bytes faster on CPUs with
 * the DSP extension, for groups == 1 and small windows.
 * Constraints: every size >= 1; pads >= 0; in_c and out_c divisible by groups;
 * kernel_h * kernel_w * (in_c / groups) <= FN_S8_MAX_DEPTH (FN_S8_MAX_DEPTH_OFFSET with a
 * filter_offset); input_offset and the requant block in their ranges. output must not overlap
 * input, filter, bias or the parameter arrays.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for: a NULL input, filter
 * or output pointer, or a NULL array that requant.mode reads; a size, stride or
 * dilation < 1; negative pads; groups not dividing in_c/out_c; geometry whose
 * coordinates would overflow int32 ((out - 1) * stride + (kernel - 1) * dilation or
 * in + pads >= 2^31); a depth above FN_S8_MAX_DEPTH; any requantization field out of
 * its range (every multiplier, shift and scale entry in use is checked), a
 * filter_offset entry outside [-127, 128]. */
fn_status fn_conv2d_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                       const int8_t *filter, const int32_t *bias, int8_t *output);

/* fn_conv2d_s8 without the output stage: output[...][c] = the int32 accumulator
 * (sum + bias[c], modulo 2^32), as ONNX ConvInteger and MatMulInteger define it (they
 * have no bias: pass NULL). Reads the geometry, input_offset and filter_offset fields;
 * the requant block is ignored. Same constraints and errors otherwise. */
fn_status fn_conv2d_s8_s32(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int32_t *output);

/* Depthwise 2-D convolution with a channel multiplier m = depth_multiplier:
 * output channel c = ic * m + j (j < m) reads input channel ic only (TFLite's and
 * ONNX's group == in_c numbering).
 *   input  [batch, in_h, in_w, in_c]                 int8
 *   filter out_c * kernel_h * kernel_w int8, zero point 0, in the channel-blocked
 *          layout below (reference/conv_s8.py: pack_depthwise_filter makes it from
 *          TFLite's [1, kernel_h, kernel_w, out_c]; depthwise_filter_from_onnx turns
 *          ONNX's [out_c, 1, kernel_h, kernel_w] into that)
 *   bias   [out_c] int32, or NULL
 *   output [batch, out_h, out_w, out_c]              int8
 * Filter layout: output channels are cut into blocks of FN_DW_S8_BLOCK = 4 (the last
 * block holds out_c % 4 channels if that is not 0). Block b, of n channels starting at
 * c0 = 4 * b, starts at byte c0 * kernel_h * kernel_w and stores [kernel_h][kernel_w][n]:
 *   filter[c0 * kernel_h * kernel_w + (ky * kernel_w + kx) * n + (c - c0)] = w[ky][kx][c].
 * The kernel computes one block at a time over all its in-bounds taps, so the filter
 * is read sequentially (padded taps are skipped) and each tap loads n adjacent weights
 * (and, for m == 1, n adjacent input values). Portable C; fn_depthwise_conv2d_s8_rows_dsp
 * and fn_depthwise_conv2d_s8_blocks_dsp (fn_s8_dsp.h) compute the same bytes faster on CPUs
 * with the DSP extension.
 * Constraints: every size >= 1; pads >= 0; kernel_h * kernel_w <= FN_S8_MAX_DEPTH;
 * in_c * depth_multiplier < 2^31; input_offset and the requant block in their ranges.
 * output must not overlap input, filter, bias or the parameter arrays.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for the same conditions as
 * fn_conv2d_s8 (depth_multiplier < 1 instead of the groups rule). */
fn_status fn_depthwise_conv2d_s8(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output);

/* The int8 output stage: accumulator (bias included) → output value, in TFLite's order
 * (reference_integer_ops: MultiplyByQuantizedMultiplier, += output_offset, max, min):
 *   TFLM, SINGLE: clamp(requantize(acc) + output_offset, act_min, act_max), the addition
 *                 modulo 2^32 (it can only wrap for requantized values near +-2^31,
 *                 where TFLite's int32 addition wraps as well)
 *   ORT:          round_half_even(clamp(float(acc) * scale, act_min - output_offset,
 *                 act_max - output_offset)) + output_offset: onnxruntime's
 *                 MlasRequantizeOutput, which clamps in float before rounding
 * with requantize = fn_requantize (fn_fixedpoint.h). Arguments in the ranges above. */
static inline int8_t fn_output_stage_s8(int32_t acc, int32_t mode, int32_t multiplier, int32_t shift,
                                        float scale, int32_t output_offset, int32_t act_min,
                                        int32_t act_max)
{
    int32_t r = fn_requantize(acc, mode, multiplier, shift, scale, act_min - output_offset,
                              act_max - output_offset);
    r = (int32_t)((uint32_t)r + (uint32_t)output_offset);
    r = r < act_min ? act_min : r;
    r = r > act_max ? act_max : r;
    return (int8_t)r;
}

/* How the int8 convolution and fully connected kernels finish an output channel: the
 * bias and a copy of the requantization block of their parameter struct (a copy: the
 * general stage reads its fields without a second indirection), gathered once per call.
 * Fields in the ranges fn_requant_acc_s8_ok checks. */
typedef struct {
    const int32_t *bias;                /* [out_c], or NULL for none */
    fn_requant_acc_s8 rq;
} fn_channel_stage_s8;

/* Output value of output channel c from its sum of products: bias[c] added modulo 2^32,
 * then fn_output_stage_s8 with channel c's requantization. One function out of line
 * (fn_finish_channel_s8.c), shared by every int8 convolution and fully connected variant a
 * model links. */
int8_t fn_finish_channel_s8(const fn_channel_stage_s8 *q, int32_t c, int32_t sum);

/* The fn_ort_s8 of output channel c (the requant block in ORT mode). */
static inline void fn_ort_s8_init(fn_ort_s8 *o, const fn_channel_stage_s8 *stage, int32_t c)
{
    const fn_requant_acc_s8 *const rq = &stage->rq;
    o->scale = rq->scale[rq->per_channel ? c : 0];
    o->bias = stage->bias != NULL ? stage->bias[c] : 0;
    o->zp = rq->output_offset;
    o->lo = (int16_t)(rq->act_min - rq->output_offset);
    o->hi = (int16_t)(rq->act_max - rq->output_offset);
}

/* fn_finish_channel_s8 in ORT mode, inline: onnxruntime's float stage is a handful of FPU
 * instructions (FN_HAVE_VCVTR), less than a call to the general stage. */
static inline int8_t fn_finish_ort_s8(const fn_channel_stage_s8 *stage, int32_t c, int32_t sum)
{
    fn_ort_s8 o;
    fn_ort_s8_init(&o, stage, c);
    return fn_ort_s8_one(sum, &o);
}

/* Output value of channel c from its sum (bias not yet added): the fast stage when it
 * applies (fast, f from fn_fast_out_s8_init), else fn_finish_channel_s8. For kernels that
 * finish outputs one at a time (small enough to inline into their channel loop; no test of
 * the ORT mode per output here: the TFLM general stage would pay it). */
static inline int8_t fn_finish_one_s8(const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                      int32_t c, int32_t sum)
{
    if (fast) {
        const int32_t q = c & f->quant_mask;
        return fn_fast_out_s8_one(sum, f->bias[c & f->bias_mask], f->multiplier[q], -f->shift[q] - 1, f->tflm,
                                  f->output_offset);
    }
    return fn_finish_channel_s8(stage, c, sum);
}

/* The outputs of the n consecutive channels c0 .. c0 + n - 1 of one pixel, at out[c0 ..],
 * from their sums s[0 .. n - 1] (bias not yet added): the fast stage when it applies (fast,
 * f from fn_fast_out_s8_init), else fn_finish_channel_s8. */
static inline void fn_finish_channels_s8(const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                         int32_t c0, int32_t n, const int32_t *s, int8_t *out)
{
    if (fast) {
        const int32_t tflm = f->tflm, off = f->output_offset, bm = f->bias_mask, qm = f->quant_mask;
        for (int32_t j = 0; j < n; ++j) {
            const int32_t c = c0 + j, q = c & qm;
            out[c] = fn_fast_out_s8_one(s[j], f->bias[c & bm], f->multiplier[q], -f->shift[q] - 1, tflm, off);
        }
        return;
    }
#if !defined(FN_WITHOUT_ORT_PATHS)
    if (stage->rq.mode == FN_REQUANT_ORT) {
        for (int32_t j = 0; j < n; ++j) {
            out[c0 + j] = fn_finish_ort_s8(stage, c0 + j, s[j]);
        }
        return;
    }
#endif
    for (int32_t j = 0; j < n; ++j) {
        out[c0 + j] = fn_finish_channel_s8(stage, c0 + j, s[j]);
    }
}


#endif
