/* firmnet runtime: int8 kernel variants for CPUs with the M-profile Vector Extension
 * (Helium, MVE: Cortex-M55, M85; fn_mve.h). Each computes the same bytes as its portable
 * kernel, with the same parameter struct, filter layout and constraints (the portable
 * kernel's header), plus the shape conditions stated here; it returns FN_ERR_ARG (before
 * writing any output) for a shape it does not take or a NULL scratch. The compiler picks a
 * variant per layer (python/firmnet/kernels/); only the variants a model uses are copied.
 *
 * Arithmetic (fn_s8_mve_impl.h): every sum of products is SUM x * w + input_offset *
 * SUM w, the raw int8 products summed 16 at a time by VMLADAVA.S8 (|x * w| <= 2^14, so
 * at most 2^30 over FN_S8_MAX_DEPTH products) and the weight sums once per call
 * (|input_offset * SUM w| <= 2^30); the total is the integer TFLite sums, which fits
 * int32 (fn_conv_s8.h), so adding the two parts modulo 2^32 gives it exactly. Padding
 * taps of the convolution windows are filled with the input zero point (-input_offset,
 * always an int8 value), whose term (x + input_offset) * w is 0, as TFLite's skipped tap.
 * Output stage: in FN_REQUANT_TFLM mode four outputs at a time in vector form,
 * VSHL (left shift, wrapping as TFLite's int32 arithmetic), VQRDMULH (equal to
 * fn_sat_rounding_doubling_high_mul: floor((a * m + 2^30) / 2^31), saturating only for
 * INT32_MIN * INT32_MIN, as gemmlowp), then the rounding divide by 2^e (ties away from
 * zero) as VRSHL by -e of x + (x < 0 ? -1 : 0) (saturating add), which is
 * fn_rounding_divide_by_pot's result; the other modes through fn_finish_channel_s8.
 *
 * Scratch: every variant takes `void *scratch`, 8-byte aligned, of
 * <variant>_scratch_size(p) bytes (0: the variant does not take this shape): a table of
 * 5 int32 per output channel (rounded up to 4 channels: the input-offset term, bias plus
 * that term, multiplier, left shift, minus right shift), plus the convolution's window.
 *
 * Where FN_MVE is 0 (a host build of a project compiled for such a CPU, as firmnet verify
 * makes) each variant is its portable kernel after its own argument checks. */
#ifndef FN_S8_MVE_H
#define FN_S8_MVE_H

#include "fn_common.h"
#include "fn_conv_s8.h"
#include "fn_fc_s8.h"

/* Most values of one window (kernel_h * kernel_w * in_c) of fn_conv2d_s8_mve. */
#define FN_CONV_MVE_DEPTH 4096

/* Bytes of the output-stage table of n output channels: 5 int32 per channel, n rounded up
 * to a multiple of 4; 0 for n outside [1, 2^20]. */
static inline size_t fn_mve_table_size(int32_t n)
{
    if (n < 1 || n > (1 << 20)) {
        return 0;
    }
    return (size_t)20 * (size_t)((n + 3) / 4 * 4);
}

/* Bytes of scratch of fn_conv2d_1x1_s8_mve: fn_mve_table_size(out_c). */
static inline size_t fn_conv2d_1x1_s8_mve_scratch_size(const fn_conv2d_s8_params *p)
{
    return fn_mve_table_size(p->out_c);
}

/* Bytes of scratch of fn_fc_s8_mve: fn_mve_table_size(out_features). */
static inline size_t fn_fc_s8_mve_scratch_size(const fn_fc_s8_params *p)
{
    return fn_mve_table_size(p->out_features);
}

/* Bytes of scratch of fn_conv2d_s8_mve: the table of out_c channels and one window of
 * kernel_h * kernel_w * in_c bytes rounded up to 8; 0 when groups != 1 or the window is
 * outside [1, FN_CONV_MVE_DEPTH]. */
static inline size_t fn_conv2d_s8_mve_scratch_size(const fn_conv2d_s8_params *p)
{
    const size_t table = fn_mve_table_size(p->out_c);
    if (p->groups != 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->in_c < 1 || p->kernel_h > FN_CONV_MVE_DEPTH ||
        p->kernel_w > FN_CONV_MVE_DEPTH || p->in_c > FN_CONV_MVE_DEPTH ||
        (int64_t)p->kernel_h * p->kernel_w * p->in_c > FN_CONV_MVE_DEPTH || table == 0) {
        return 0;
    }
    const size_t depth = (size_t)p->kernel_h * (size_t)p->kernel_w * (size_t)p->in_c;
    return table + (depth + 7) / 8 * 8;
}

/* Bytes of scratch of fn_depthwise_conv2d_s8_mve: the table of in_c channels; 0 when
 * depth_multiplier != 1. */
static inline size_t fn_depthwise_conv2d_s8_mve_scratch_size(const fn_depthwise_conv2d_s8_params *p)
{
    return p->depth_multiplier == 1 ? fn_mve_table_size(p->in_c) : 0;
}

/* fn_conv2d_1x1_s8 (fn_conv_1x1_s8.h, same constraints): per pixel, 4 output channels at a
 * time, 16 MACs per VMLADAVA. scratch: fn_conv2d_1x1_s8_mve_scratch_size(p) bytes. */
fn_status fn_conv2d_1x1_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch);

/* fn_fc_s8 (fn_fc_s8.h, same constraints): per input row, 4 output rows at a time, 16 MACs
 * per VMLADAVA. scratch: fn_fc_s8_mve_scratch_size(p) bytes. */
fn_status fn_fc_s8_mve(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output, void *scratch);

/* fn_conv2d_s8 (fn_conv_s8.h) for groups == 1, no filter_offset and windows of at most
 * FN_CONV_MVE_DEPTH values: per output pixel the window is gathered into the scratch (the
 * input zero point in the padding), then 4 output channels at a time, 16 MACs per
 * VMLADAVA. scratch: fn_conv2d_s8_mve_scratch_size(p) bytes. */
fn_status fn_conv2d_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch);

/* fn_depthwise_conv2d_s8 (fn_conv_s8.h, same filter layout) for depth_multiplier 1: per
 * output pixel and block of 4 channels, the in-bounds taps as 32-bit lanes (VMUL, VADD),
 * the output stage in vector form. scratch: fn_depthwise_conv2d_s8_mve_scratch_size(p)
 * bytes. */
fn_status fn_depthwise_conv2d_s8_mve(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

#endif
