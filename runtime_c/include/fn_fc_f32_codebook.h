/* firmnet runtime: float32 fully connected layer (and 1x1 convolution) with palettized
 * weights (fn_codebook.h): packed 2/4/8-bit indices into a float codebook, each weight
 * looked up where it is multiplied (no decoded copy).
 *
 * A 1x1 convolution (stride 1, no padding, one group) of NHWC activations is this layer
 * with batch = pixels (n * h * w). */
#ifndef FN_FC_F32_CODEBOOK_H
#define FN_FC_F32_CODEBOOK_H

#include "fn_codebook.h"
#include "fn_common.h"

typedef struct {
    int32_t batch;                         /* input rows (pixels of a 1x1 convolution) */
    int32_t in_features, out_features;
    int32_t bits;                          /* index bits: 2, 4 or 8 */
    int32_t per_channel;                   /* 1: one codebook per output feature */
    float act_min, act_max;                /* fused activation clamp */
} fn_fc_f32_codebook_params;

/* output[b][o] = clamp(bias[o] + SUM_i input[b][i] * weight[o][i]), weight as fn_codebook.h
 * decodes it, added in fn_fc_f32's order (bias first, then i ascending): the result is
 * fn_fc_f32's on the decoded weights.
 *   input     [batch, in_features]      float
 *   codebook  [(per_channel ? out_features : 1) << bits]   float
 *   indices   [out_features * fn_codebook_row_bytes(in_features, bits)]   uint8
 *   bias      [out_features], or NULL
 *   output    [batch, out_features]     float
 * Constraints: every size >= 1; bits 2, 4 or 8. output must not overlap input. No scratch.
 * Returns FN_OK, or FN_ERR_ARG for a NULL pointer (bias excepted), a size < 1 or other bits. */
fn_status fn_fc_f32_codebook(const fn_fc_f32_codebook_params *p, const float *input, const float *codebook,
                             const uint8_t *indices, const float *bias, float *output);

#endif
