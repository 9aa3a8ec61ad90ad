/* firmnet runtime: int8 2-D max and average pooling (NHWC).
 *
 * The parameter struct is built by python/firmnet/reference/pool_s8.py, whose
 * docstring derives every field and names the TFLite / onnxruntime code followed.
 * Geometry fields mean what they mean in fn_pool_f32.h (explicit pads, ceil-mode
 * windows allowed, every window holds an in-bounds element).
 *
 * Methods (average pooling; max pooling in brackets):
 *   SAME_QUANT  input and output quantization equal, as TFLite requires:
 *               TFLite's reference_integer_ops::AveragePool: acc = sum of the raw
 *               values (padded taps the divisor counts add -input_offset), out =
 *               acc > 0 ? (acc + n/2) / n : (acc - n/2) / n.   [the window maximum]
 *   REQUANT     different quantizations, requant_mode TFLM or SINGLE:
 *               t = rq(sum of (x + input_offset), multiplier, shift) with the
 *               multiplier encoding s_in / s_out * 2^frac_bits, then the same rounded
 *               division by n << frac_bits, plus output_offset.
 *               [rq(max + input_offset, multiplier, shift) + output_offset, clamped
 *               to int8: TFLM's Requantize]
 *   ORT         onnxruntime QLinearAveragePool: float32 sum of input_scale * (x +
 *               input_offset), divided by float(n), then nearbyint(y / output_scale +
 *               output_offset) clamped to int8. [quantize_ort(input_scale * (max +
 *               input_offset)): float MaxPool between DequantizeLinear/QuantizeLinear]
 *   ORT_GLOBAL  onnxruntime QLinearGlobalAveragePool (window = whole plane, no pads):
 *               acc = sum of (x + input_offset) in int32, out = round_half_even(
 *               clamp(float(acc) * global_scale)) + output_offset (MlasRequantizeOutput).
 * rq is fn_mul_by_quantized_mul_tflm (mode TFLM) or _single (mode SINGLE). The fused
 * clamp [act_min, act_max] is applied last. */
#ifndef FN_POOL_S8_H
#define FN_POOL_S8_H

#include "fn_common.h"
#include "fn_fixedpoint.h"

typedef enum {
    FN_POOL_S8_SAME_QUANT = 0,
    FN_POOL_S8_REQUANT = 1,
    FN_POOL_S8_ORT = 2,
    FN_POOL_S8_ORT_GLOBAL = 3          /* average pooling only */
} fn_pool_s8_method;

/* The divisor n of an average-pooling window. */
typedef enum {
    FN_POOL_COUNT_VALID = 0,           /* its in-bounds taps (count_include_pad = 0) */
    FN_POOL_COUNT_PAD_CUT = 1,         /* padded window cut at in + pad_after (ONNX float
                                        * AveragePool, fn_avgpool2d_f32) */
    FN_POOL_COUNT_KERNEL = 2           /* kernel_h * kernel_w (onnxruntime QLinearAveragePool) */
} fn_pool_count_rule;

/* Largest kernel area the int32 sums allow: 255 * area < 2^29. */
#define FN_POOL_S8_MAX_AREA 2105376

typedef struct {
    int32_t batch, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;    /* average pooling: 1 */
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t count_rule;                /* average pooling: fn_pool_count_rule */
    int32_t method;                    /* fn_pool_s8_method */
    int32_t requant_mode;              /* REQUANT: FN_REQUANT_TFLM or FN_REQUANT_SINGLE */
    int32_t input_offset;              /* -(input zero point), in [-127, 128] */
    int32_t output_offset;             /* output zero point, in [-128, 127] */
    int32_t multiplier, shift;         /* REQUANT: multiplier >= 0, shift in [-31, 22] */
    int32_t frac_bits;                 /* REQUANT average: 0..16, (area << frac_bits) < 2^29 */
    float input_scale, output_scale;   /* ORT: > 0 */
    float global_scale;                /* ORT_GLOBAL: s_in / (s_out * n) in float32, > 0 */
    int32_t act_min, act_max;          /* -128 <= act_min <= act_max <= 127 */
    int32_t ort_zero_shift;            /* ORT average: 0, or 128 for a uint8 model (onnxruntime
                                          adds the uint8 zero point in float), else 0 */
    int32_t out_stride;                /* bytes from one output pixel to the next: 0 = channels
                                          (dense), or >= channels (a Concat's channel slice) */
} fn_pool2d_s8_params;

/* Max pooling: the maximum of each window's in-bounds elements (padding never wins),
 * then the method's requantization and the clamp. count_rule and frac_bits are ignored.
 *   input [batch, in_h, in_w, channels], output [batch, out_h, out_w, channels]
 * output is used as the running maximum, so it must not overlap input, except that it may
 * start at least in_place.pool_delta bytes before it (each output pixel then lies below
 * every tap read from its window on; python/firmnet/in_place.py). With out_stride > 0,
 * output pixel (n, y, x) is at ((n * out_h + y) * out_w + x) * out_stride (channels bytes of
 * it are written; a Concat's channel slice, concat_views.py), and no overlap is allowed.
 * Returns FN_ERR_ARG for a NULL pointer, a size, stride or dilation < 1, negative pads,
 * geometry whose coordinates overflow int32, a window made only of padding,
 * 0 < out_stride < channels, an unknown
 * or unsupported method (ORT_GLOBAL), a method/requant_mode mismatch, or quantization
 * fields out of range. */
fn_status fn_maxpool2d_s8(const fn_pool2d_s8_params *p, const int8_t *input, int8_t *output);

/* Average pooling per the method above; dilation must be 1 and kernel_h * kernel_w
 * at most FN_POOL_S8_MAX_AREA. ORT_GLOBAL requires kernel = (in_h, in_w), no pads and a
 * 1x1 output. The REQUANT sums must satisfy 255 * area * (s_in / s_out) * 2^frac_bits
 * < 2^29 (the Python builder ensures it; the kernel cannot see s_in / s_out).
 * Channels are processed in blocks with the accumulators on the stack (32 int32 or
 * float values): no scratch buffer. output must not overlap input, except as for max pooling;
 * out_stride as for max pooling.
 * Returns FN_ERR_ARG for the max pooling conditions, a dilation other than 1, an
 * unknown count_rule, or an area or frac_bits out of range. */
fn_status fn_avgpool2d_s8(const fn_pool2d_s8_params *p, const int8_t *input, int8_t *output);

/* 1 if the quantization fields both pooling kernels read are in range for p->method,
 * else 0: offsets, clamp and requant_mode, and per method SAME_QUANT nothing more,
 * REQUANT mode TFLM or SINGLE with multiplier >= 0 and shift in [-31, 22], ORT and
 * ORT_GLOBAL mode ORT with positive finite scales. The kernels add their own rules
 * (max pooling refuses ORT_GLOBAL; average pooling checks count_rule, frac_bits and
 * ORT_GLOBAL's geometry). */
static inline int fn_pool_s8_quant_ok(const fn_pool2d_s8_params *p)
{
    if (p->input_offset < -127 || p->input_offset > 128 || p->output_offset < -128 ||
        p->output_offset > 127 || p->act_min < -128 || p->act_max > 127 || p->act_min > p->act_max ||
        p->requant_mode < FN_REQUANT_TFLM || p->requant_mode > FN_REQUANT_ORT) {
        return 0;
    }
    switch (p->method) {
    case FN_POOL_S8_SAME_QUANT:
        return 1;
    case FN_POOL_S8_REQUANT:
        return (p->requant_mode == FN_REQUANT_TFLM || p->requant_mode == FN_REQUANT_SINGLE) &&
               p->multiplier >= 0 && p->shift >= -31 && p->shift <= 22;
    case FN_POOL_S8_ORT:
        return p->requant_mode == FN_REQUANT_ORT && p->input_scale > 0.0f && p->output_scale > 0.0f &&
               p->input_scale <= 3.40282347e38f && p->output_scale <= 3.40282347e38f &&
               (p->ort_zero_shift == 0 || p->ort_zero_shift == 128);
    case FN_POOL_S8_ORT_GLOBAL:
        return p->requant_mode == FN_REQUANT_ORT && p->global_scale > 0.0f &&
               p->global_scale <= 3.40282347e38f;
    default:
        return 0;
    }
}

#endif
