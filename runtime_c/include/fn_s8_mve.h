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
 * Scratch: the convolution variants take `void *scratch`, 8-byte aligned, of
 * <variant>_scratch_size(p) bytes (0: the variant does not take this shape): a table of
 * 5 int32 per output channel (rounded up to 4 channels: the input-offset term, bias plus
 * that term, multiplier, left shift, minus right shift), plus the convolution's window.
 *
 * Where FN_MVE is 0 (a host build of a project compiled for such a CPU, as firmnet verify
 * makes) each variant is its portable kernel after its own argument checks. */
#ifndef FN_S8_MVE_H
#define FN_S8_MVE_H

#include "fn_activation_ort_s8.h"
#include "fn_common.h"
#include "fn_conv_s8.h"
#include "fn_elementwise_s8.h"
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

/* Most taps (kernel_h * kernel_w) of fn_depthwise_conv2d_s8_mve. */
#define FN_DW_MVE_TAPS 64

/* Rows and columns of the zero-point-padded image of fn_depthwise_conv2d_s8_mve along one
 * axis: max(in + pad_before, (out - 1) * stride + (kernel - 1) * dilation + 1), or 0 if
 * that is 2^24 or more (or a field is < 1). */
static inline int64_t fn_dw_mve_padded(int32_t in, int32_t out, int32_t kernel, int32_t stride, int32_t dilation,
                                       int32_t pad_before)
{
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || dilation < 1 || pad_before < 0) {
        return 0;
    }
    const int64_t span = (int64_t)(out - 1) * stride + (int64_t)(kernel - 1) * dilation + 1;
    const int64_t n = (int64_t)in + pad_before > span ? (int64_t)in + pad_before : span;
    return n < ((int64_t)1 << 24) ? n : 0;
}

/* Bytes of scratch of fn_depthwise_conv2d_s8_mve: the table of in_c channels, the
 * zero-point-padded image (padded_h * padded_w * in_c bytes, rounded up to 8) and 32 bytes
 * per 8 output pixels of an image (their windows' offsets); 0 when depth_multiplier != 1,
 * the taps are outside [1, FN_DW_MVE_TAPS] or the size is not below 2^31. */
static inline size_t fn_depthwise_conv2d_s8_mve_scratch_size(const fn_depthwise_conv2d_s8_params *p)
{
    const size_t table = fn_mve_table_size(p->in_c);
    const int64_t ph = fn_dw_mve_padded(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top);
    const int64_t pw = fn_dw_mve_padded(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left);
    if (p->depth_multiplier != 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->kernel_h > FN_DW_MVE_TAPS ||
        p->kernel_w > FN_DW_MVE_TAPS || p->kernel_h * p->kernel_w > FN_DW_MVE_TAPS || table == 0 || ph == 0 ||
        pw == 0 || ph * pw > INT32_MAX) {
        return 0;
    }
    const int64_t image = (ph * pw * p->in_c + 7) / 8 * 8;           /* < 2^31 * 2^20 */
    const int64_t offsets = 32 * (((int64_t)p->out_h * p->out_w + 7) / 8);
    const int64_t total = (int64_t)table + image + offsets;
    return total < INT32_MAX ? (size_t)total : 0;
}

/* fn_conv2d_1x1_s8 (fn_conv_1x1_s8.h, same constraints): per pixel, 4 output channels at a
 * time, 16 MACs per VMLADAVA. scratch: fn_conv2d_1x1_s8_mve_scratch_size(p) bytes. */
fn_status fn_conv2d_1x1_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch);

/* fn_fc_s8 (fn_fc_s8.h, same constraints): per block of 4 output rows its output-stage
 * table on the stack (80 bytes), then every input row, 16 MACs per VMLADAVA. No scratch. */
fn_status fn_fc_s8_mve(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output);

/* fn_conv2d_s8 (fn_conv_s8.h) for groups == 1, no filter_offset and windows of at most
 * FN_CONV_MVE_DEPTH values: per output pixel the window is gathered into the scratch (the
 * input zero point in the padding), then 4 output channels at a time, 16 MACs per
 * VMLADAVA. scratch: fn_conv2d_s8_mve_scratch_size(p) bytes. */
fn_status fn_conv2d_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch);

/* fn_depthwise_conv2d_s8 (fn_conv_s8.h, same filter layout) for depth_multiplier 1 and at
 * most FN_DW_MVE_TAPS taps: the image is copied into the scratch with the input zero point
 * in the padding, then per channel 8 output pixels at a time are two vectors of 32-bit
 * lanes: per tap two gather loads (VLDRB.S32 with offsets) and multiply-accumulates by the
 * tap's weight (VMLA), the output stage in vector form. scratch: fn_depthwise_conv2d_s8_mve_scratch_size(p)
 * bytes. */
fn_status fn_depthwise_conv2d_s8_mve(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch);

/* fn_add_s8 (fn_elementwise_s8.h, same arguments and constraints): operands of the output's
 * shape in the TFLM method with requant mode TFLM, 4 elements per vector; any other call is
 * fn_add_s8's. No scratch. */
fn_status fn_add_s8_mve(const fn_add_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out);

/* fn_mul_s8 (fn_elementwise_s8.h, same arguments and constraints): operands of the output's
 * shape in the TFLM method with requant mode TFLM, 8 elements per step (16-bit operands,
 * products by VMULLB/VMULLT, the output stage in 32-bit lanes as above); any other call
 * (broadcasting, the onnxruntime methods, requant single) is fn_mul_s8's. No scratch. */
fn_status fn_mul_s8_mve(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out);

/* fn_lut_s8 (fn_activation_ort_s8.h, same arguments, in place allowed): 16 elements per
 * vector, a byte gather (VLDRB.U8 with offsets x + 128) from the table. No scratch. */
fn_status fn_lut_s8_mve(const fn_lut_s8_params *p, const int8_t *input, int8_t *output);

#endif
