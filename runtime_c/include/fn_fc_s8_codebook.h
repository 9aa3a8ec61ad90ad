/* firmnet runtime: int8 fully connected layer (and 1x1 convolution) with palettized weights
 * (fn_codebook.h): packed 2/4/8-bit indices into an int8 codebook, each weight looked up
 * where it is multiplied.
 *
 * The same int32 accumulator as fn_fc_s8 (fn_fc_s8.h), so the same output bytes as fn_fc_s8
 * on the decoded weights: the input offset is folded into the bias at compile time
 * (kernels/params_csr.py fold_input_offset, as fn_fc_s8_csr.h does),
 *   bias'[o] = bias[o] + input_offset * SUM_i weights[o][i]      (modulo 2^32)
 * and the kernel adds SUM_i weights[o][i] * input[b][i], then bias' modulo 2^32.
 * |input * weight| <= 16384 and in_features <= FN_S8_MAX_DEPTH, so the sum cannot overflow.
 * The output stage is fn_conv_s8.h's (fn_finish_one_s8).
 *
 * A 1x1 convolution (stride 1, no padding, one group) of NHWC activations is this layer
 * with batch = pixels (n * h * w). Input rows are taken 4 at a time (each looked-up weight
 * serves 4 pixels), then one at a time. */
#ifndef FN_FC_S8_CODEBOOK_H
#define FN_FC_S8_CODEBOOK_H

#include "fn_codebook.h"
#include "fn_common.h"
#include "fn_conv_s8.h"

typedef struct {
    int32_t batch;                         /* input rows (pixels of a 1x1 convolution) */
    int32_t in_features, out_features;
    int32_t bits;                          /* index bits: 2, 4 or 8 */
    int32_t per_channel;                   /* 1: one codebook per output feature */
    fn_requant_acc_s8 requant;             /* arrays of out_features entries, or 1 (fn_fixedpoint.h) */
} fn_fc_s8_codebook_params;

/* output[b][o] = fn_output_stage_s8(SUM_i weight[o][i] * input[b][i] + bias[o]), weight as
 * fn_codebook.h decodes it, the bias added modulo 2^32.
 *   input     [batch, in_features]      int8
 *   codebook  [(per_channel ? out_features : 1) << bits]   int8
 *   indices   [out_features * fn_codebook_row_bytes(in_features, bits)]   uint8
 *   bias      [out_features] int32, the folded bias above, or NULL (a zero bias with an
 *             input offset of 0)
 *   output    [batch, out_features]     int8
 * Constraints: every size >= 1; in_features <= FN_S8_MAX_DEPTH; bits 2, 4 or 8; requant as
 * fn_requant_acc_s8_ok (fn_fixedpoint.h) checks it (no input_offset: it is in the bias).
 * output must not overlap the other arguments. No scratch.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for a NULL input, codebook,
 * indices or output pointer, a NULL array the requantization mode reads, a size < 1,
 * in_features above FN_S8_MAX_DEPTH, other bits, or a requantization field out of its range. */
fn_status fn_fc_s8_codebook(const fn_fc_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                            const uint8_t *indices, const int32_t *bias, int8_t *output);

#endif
