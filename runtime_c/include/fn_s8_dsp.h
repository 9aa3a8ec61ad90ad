/* firmnet runtime: int8 kernel variants for CPUs with the DSP extension (Armv7E-M and later:
 * Cortex-M4, M7, M33, M35P, M55; fn_dsp.h). Each computes the same bytes as its portable
 * kernel, with the same parameter struct and the same constraints (the portable kernel's
 * header), plus the shape conditions stated here; it returns FN_ERR_ARG (before writing any
 * output) for a shape it does not take or a NULL scratch. The compiler picks a variant per
 * layer (python/firmnet/kernels/); only the variants a model uses are copied into it.
 *
 * Scratch: a variant that needs working memory takes `void *scratch`, 8-byte aligned, of
 * <variant>_scratch_size(p) bytes (0: the variant does not take this shape); the generated
 * code passes a region of the arena that lives for the call only.
 *
 * Where FN_DSP is 0 (a host build of a project compiled for a CPU with the extension, as
 * firmnet verify makes) each variant is its portable kernel after its own argument checks:
 * the same bytes, none of the DSP code. */
#ifndef FN_S8_DSP_H
#define FN_S8_DSP_H

#include "fn_common.h"
#include "fn_conv2d_s8_codebook.h"
#include "fn_conv2d_s8_winograd.h"
#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_fc_s8.h"
#include "fn_fc_s8_codebook.h"

/* Largest kernel_h and kernel_w of fn_depthwise_conv2d_s8_rows_dsp. */
#define FN_DW_ROWS_K 8

/* Most filter taps (kernel_h * kernel_w) of fn_depthwise_conv2d_s8_blocks_dsp. */
#define FN_DW_WTAPS 64

/* Most products per output (kernel_h * kernel_w * in_c) of fn_conv2d_s8_dsp. */
#define FN_CONV_DSP_DEPTH 256

/* Bytes of scratch of fn_conv2d_s8_dsp: two windows of FN_CONV_DSP_DEPTH 16-bit values (1 KB,
 * whatever the shape: the second window's fixed place keeps the inner loop's addressing
 * free); 0 when groups != 1 or kernel_h * kernel_w * in_c is outside [1, FN_CONV_DSP_DEPTH]. */
static inline size_t fn_conv2d_s8_dsp_scratch_size(const fn_conv2d_s8_params *p)
{
    if (p->groups != 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->in_c < 1 || p->kernel_h > FN_CONV_DSP_DEPTH ||
        p->kernel_w > FN_CONV_DSP_DEPTH || p->in_c > FN_CONV_DSP_DEPTH ||
        p->kernel_h * p->kernel_w * p->in_c > FN_CONV_DSP_DEPTH) {   /* each factor <= 256: no overflow */
        return 0;
    }
    return 2 * FN_CONV_DSP_DEPTH * sizeof(int16_t);
}

/* fn_conv2d_1x1_s8_dsp: input channels up to which pixels' inputs are widened into the
 * scratch (FN_1X1_XBUF / 2 words of 64 bits at most), and output channels up to which the
 * three-pixel path keeps a table of their output-stage parameters (16 bytes each). */
#define FN_1X1_XBUF 128
#define FN_1X1_CHTAB 64

/* 1 if fn_conv2d_1x1_s8_dsp takes pixels three at a time for this shape (with the fast
 * output stage): in_c % 4 == 0, 3 * in_c / 2 <= FN_1X1_XBUF, 2 <= out_c <= FN_1X1_CHTAB. */
static inline int fn_pw_triple_shape(const fn_conv2d_s8_params *p)
{
    return p->in_c >= 4 && p->in_c <= FN_1X1_XBUF && p->in_c % 4 == 0 && 3 * (p->in_c / 2) <= FN_1X1_XBUF &&
           p->out_c >= 2 && p->out_c <= FN_1X1_CHTAB;
}

/* Bytes of scratch of fn_conv2d_1x1_s8_dsp, with n4 = in_c / 4 if in_c <= FN_1X1_XBUF, else
 * 0: 8 * 3 * n4 + 16 * out_c (three pixels' widened inputs, the channels' table) where
 * fn_pw_triple_shape, else 8 * 2 * n4 (two pixels' widened inputs); at least 8. */
static inline size_t fn_conv2d_1x1_s8_dsp_scratch_size(const fn_conv2d_s8_params *p)
{
    const size_t n4 = p->in_c >= 1 && p->in_c <= FN_1X1_XBUF ? (size_t)p->in_c / 4 : 0;
    const size_t bytes = fn_pw_triple_shape(p) ? 8 * 3 * n4 + 16 * (size_t)p->out_c : 8 * 2 * n4;
    return bytes > 8 ? bytes : 8;
}

/* Input columns one output row of a depthwise layer reads: (out_w - 1) * stride_w +
 * (kernel_w - 1) * dilation_w + 1, or 0 if that is not below 2^31 (or a field is < 1). */
static inline int32_t fn_dw_rows_span_w(const fn_depthwise_conv2d_s8_params *p)
{
    if (p->out_w < 1 || p->stride_w < 1 || p->kernel_w < 1 || p->dilation_w < 1) {
        return 0;
    }
    const int64_t span = (int64_t)(p->out_w - 1) * p->stride_w + (int64_t)(p->kernel_w - 1) * p->dilation_w + 1;
    return span < INT32_MAX ? (int32_t)span : 0;
}

/* Bytes of scratch of fn_depthwise_conv2d_s8_rows_dsp: 4 * (2 * kernel_h * kernel_w +
 * (kernel_h + 1) * 2 * span_w), span_w = fn_dw_rows_span_w(p): a block's widened weights
 * (two words per tap) and kernel_h + 1 widened input rows; 0 when depth_multiplier != 1,
 * kernel_h or kernel_w is outside [1, FN_DW_ROWS_K], or the size is not below 2^31. */
static inline size_t fn_depthwise_conv2d_s8_rows_dsp_scratch_size(const fn_depthwise_conv2d_s8_params *p)
{
    const int32_t span_w = fn_dw_rows_span_w(p);
    if (p->depth_multiplier != 1 || p->kernel_h < 1 || p->kernel_h > FN_DW_ROWS_K || p->kernel_w > FN_DW_ROWS_K ||
        span_w == 0) {
        return 0;
    }
    const int64_t words = 2 * (int64_t)p->kernel_h * p->kernel_w + (int64_t)(p->kernel_h + 1) * 2 * span_w;
    return words < INT32_MAX / 4 ? (size_t)(4 * words) : 0;
}

/* Bytes of scratch of fn_depthwise_conv2d_s8_w16_dsp: 8 * kernel_h * span_w,
 * span_w = fn_dw_rows_span_w(p): kernel_h widened input rows; 0 when depth_multiplier
 * != 1, dilation_h != 1, kernel_h or kernel_w is outside [1, FN_DW_ROWS_K], or the size is
 * not below 2^31. */
static inline size_t fn_depthwise_conv2d_s8_w16_dsp_scratch_size(const fn_depthwise_conv2d_s8_params *p)
{
    const int32_t span_w = fn_dw_rows_span_w(p);
    if (p->depth_multiplier != 1 || p->dilation_h != 1 || p->kernel_h < 1 || p->kernel_h > FN_DW_ROWS_K ||
        p->kernel_w < 1 || p->kernel_w > FN_DW_ROWS_K || span_w == 0) {
        return 0;
    }
    const int64_t words = (int64_t)p->kernel_h * 2 * span_w;
    return words < INT32_MAX / 4 ? (size_t)(4 * words) : 0;
}

/* Bytes of scratch of fn_depthwise_conv2d_s8_blocks_dsp: 8 * kernel_h * kernel_w (a block's
 * widened weights); 0 when the taps are outside [1, FN_DW_WTAPS] or depth_multiplier is
 * neither 1 nor a multiple of 4. */
static inline size_t fn_depthwise_conv2d_s8_blocks_dsp_scratch_size(const fn_depthwise_conv2d_s8_params *p)
{
    const int64_t taps = (int64_t)p->kernel_h * p->kernel_w;
    if (p->kernel_h < 1 || p->kernel_w < 1 || taps > FN_DW_WTAPS ||
        (p->depth_multiplier != 1 && (p->depth_multiplier < 1 || p->depth_multiplier % FN_DW_S8_BLOCK != 0))) {
        return 0;
    }
    return (size_t)(8 * taps);
}

/* fn_conv2d_s8 (fn_conv_s8.h) for groups == 1 and kernel_h * kernel_w * in_c <=
 * FN_CONV_DSP_DEPTH, weights with or without zero points: per pair of output pixels both
 * windows are gathered into the scratch as 16-bit values, then two channels at a time take
 * two MACs per SMLAD. scratch: fn_conv2d_s8_dsp_scratch_size(p) bytes. */
fn_status fn_conv2d_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch);

/* fn_fc_s8 (fn_fc_s8.h, same constraints): 4 weight rows per pass, each word of 4 inputs
 * widened once for the 4 rows (SXTAB16), two MACs per SMLAD. No scratch. */
fn_status fn_fc_s8_dsp(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output);

/* fn_conv2d_1x1_s8 (fn_conv_1x1_s8.h, same constraints): 2 output channels x 2 or 3
 * pixels per inner loop, two MACs per SMLAD, the pixels' inputs widened once into the
 * scratch. scratch: fn_conv2d_1x1_s8_dsp_scratch_size(p) bytes. */
fn_status fn_conv2d_1x1_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch);

/* fn_depthwise_conv2d_s8 (fn_conv_s8.h) for depth_multiplier 1 and kernel_h, kernel_w <=
 * FN_DW_ROWS_K: per block of 4 channels and output row, the input rows are widened once
 * into the scratch with zeros for the padding, so every output pixel runs one loop (3x3
 * unrolled) without border cases. Fastest where its rows fit (KWS: 3x3 over 25 x 5 x 64).
 * scratch: fn_depthwise_conv2d_s8_rows_dsp_scratch_size(p) bytes. */
fn_status fn_depthwise_conv2d_s8_rows_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                          const int8_t *filter, const int32_t *bias, int8_t *output,
                                          void *scratch);

/* fn_depthwise_conv2d_s8 (fn_conv_s8.h) for depth_multiplier 1, dilation_h 1 and kernel_h,
 * kernel_w <= FN_DW_ROWS_K, from weights widened to int16 and doubled at compile time:
 * filter is int32 words, per block of 4 channels b (the last block's missing channels
 * zero) and tap t = ky * kernel_w + kx, two words at filter[2 * (b * kernel_h * kernel_w +
 * t)]: (2 w[c0], 2 w[c2]) and (2 w[c1], 2 w[c3]) of the block's channels c0..c3, low
 * halfword first (python/firmnet/kernels/depthwise_conv2d_s8_w16_dsp.py: pack_filter). Per
 * block and output row the input rows are widened once into the scratch (zeros for the
 * padding), then two output pixels per pass share each weight load; output stage
 * fn_out6_s8 where it applies. scratch: fn_depthwise_conv2d_s8_w16_dsp_scratch_size(p)
 * bytes. */
fn_status fn_depthwise_conv2d_s8_w16_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                         const int32_t *filter, const int32_t *bias, int8_t *output,
                                         void *scratch);

/* fn_depthwise_conv2d_s8 for depth_multiplier 1 or a multiple of 4 and at most FN_DW_WTAPS
 * taps: per block of 4 channels the weights are widened once into the scratch; interior
 * pixels walk a table of tap offsets, border pixels their in-bounds taps.
 * scratch: fn_depthwise_conv2d_s8_blocks_dsp_scratch_size(p) bytes. */
fn_status fn_depthwise_conv2d_s8_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                            const int8_t *filter, const int32_t *bias, int8_t *output,
                                            void *scratch);

/* Bytes of scratch of fn_conv2d_s8_winograd_dsp: the portable kernel's
 * (fn_conv2d_s8_winograd_scratch_size), which the variant runs on other CPUs. */
static inline size_t fn_conv2d_s8_winograd_dsp_scratch_size(const fn_conv2d_s8_params *p)
{
    return fn_conv2d_s8_winograd_scratch_size(p);
}

/* fn_conv2d_s8_winograd (fn_conv2d_s8_winograd.h, same constraints, filter and scratch): the
 * products of two input channels per SMLAD. */
fn_status fn_conv2d_s8_winograd_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                    const int32_t *bias, int8_t *output, void *scratch);

/* Bytes of scratch of fn_fc_s8_codebook_dsp: its lookup table of the codebook
 * (fn_codebook_dsp_impl.h): 1 KB for 4-bit indices (a word per pair of codewords), 2 KB for
 * 2-bit ones (two words per index byte); 0 for a shape it does not take (a per-channel
 * codebook, 8-bit indices, in_features not a positive multiple of 4). */
static inline size_t fn_fc_s8_codebook_dsp_scratch_size(const fn_fc_s8_codebook_params *p)
{
    if (p->per_channel || (p->bits != 2 && p->bits != 4) || p->in_features < 4 || p->in_features % 4 != 0) {
        return 0;
    }
    return p->bits == 4 ? 1024 : 2048;
}

/* fn_fc_s8_codebook (fn_fc_s8_codebook.h, same arguments and constraints) for a per-layer
 * codebook, 2- or 4-bit indices and in_features a multiple of 4, with the indices of each
 * group of 4 weights w0..w3 stored in the order w0, w2, w1, w3 (bits / 2 bytes a group) and
 * the rows interleaved by blocks of 4 (kernels/params_codebook.py rows4_interleaved): block
 * b's group g of row r (r < 4) at b * 4 * row_bytes + (4 * g + r) * bits / 2, with
 * row_bytes = fn_codebook_row_bytes(in_features, bits); the rows past the last full block
 * (out_features % 4) follow one after another, as fn_codebook.h packs them. The call fills
 * the scratch with a table of the codebook (fn_codebook_dsp_impl.h) from which one lookup
 * gives the 16-bit weight pair (w0, w2) or (w1, w3) of a group: 4-bit indices cost two byte
 * loads and two table loads per 4 weights, 2-bit ones one byte load and one double-word
 * load; two SMLADs against the inputs' SXTB16 pairs (x0, x2), (x1, x3) add the 4 products.
 * 4 output rows (one block, one index pointer) share each input word, 4 input rows (pixels)
 * each looked-up pair. scratch: fn_fc_s8_codebook_dsp_scratch_size(p) bytes. */
fn_status fn_fc_s8_codebook_dsp(const fn_fc_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                                const uint8_t *indices, const int32_t *bias, int8_t *output, void *scratch);

/* Most values of a window (kernel_h * kernel_w * in_c) of fn_conv2d_s8_codebook_dsp. */
#define FN_CB_CONV_DEPTH 1024

/* Bytes of scratch of fn_conv2d_s8_codebook_dsp, with depth4 = kernel_h * kernel_w * in_c
 * rounded up to a multiple of 4: T + 9 * depth4: its lookup table of the codebook (T = 1024
 * for 4-bit, 2048 for 2-bit indices; fn_codebook_dsp_impl.h), 4 pixels' widened windows
 * (8 * depth4) and one window gathered as int8 (depth4); 0 for a shape it does not take (a
 * per-channel codebook, 8-bit indices, a window of more than FN_CB_CONV_DEPTH values). */
static inline size_t fn_conv2d_s8_codebook_dsp_scratch_size(const fn_conv2d_s8_codebook_params *p)
{
    if (p->per_channel || (p->bits != 2 && p->bits != 4) || p->kernel_h < 1 || p->kernel_w < 1 || p->in_c < 1 ||
        p->kernel_h > FN_CB_CONV_DEPTH || p->kernel_w > FN_CB_CONV_DEPTH || p->in_c > FN_CB_CONV_DEPTH) {
        return 0;
    }
    const int64_t depth = (int64_t)p->kernel_h * p->kernel_w * p->in_c;
    if (depth > FN_CB_CONV_DEPTH) {
        return 0;
    }
    return (p->bits == 4 ? 1024u : 2048u) + 9u * (size_t)((depth + 3) & ~3);
}

/* fn_conv2d_s8_codebook (fn_conv2d_s8_codebook.h, same arguments and constraints) for a
 * per-layer codebook, 2- or 4-bit indices and a window (depth = kernel_h * kernel_w * in_c)
 * of at most FN_CB_CONV_DEPTH values, with each row of indices padded to depth4 = depth
 * rounded up to a multiple of 4 (indices [out_c * fn_codebook_row_bytes(depth4, bits)]; the
 * padding's indices may be any: their inputs are 0) and pair-ordered as
 * fn_fc_s8_codebook_dsp reads them (kernels/params_codebook.py pair_ordered). Per 4 output
 * pixels the windows are widened once into the scratch (16-bit pairs with the input offset;
 * the padding, and the values past depth, as the zero point); per output channel each
 * group's weight pairs, looked up once in the codebook's table (fn_codebook_dsp_impl.h),
 * serve the 4 pixels by 8 SMLADs. 1x1 unpadded stride-1 layers with in_c a multiple of 4
 * (KWS's pointwise ones) read their pixels in place.
 * scratch: fn_conv2d_s8_codebook_dsp_scratch_size(p) bytes. */
fn_status fn_conv2d_s8_codebook_dsp(const fn_conv2d_s8_codebook_params *p, const int8_t *input,
                                    const int8_t *codebook, const uint8_t *indices, const int32_t *bias,
                                    int8_t *output, void *scratch);

#endif
