/* firmnet runtime: float32 fully connected layer (and 1x1 convolution) with CSR weights
 * (fn_csr.h): only the nonzero weights are stored and multiplied.
 *
 * A 1x1 convolution (stride 1, no padding, one group) of NHWC activations is this layer
 * with batch = pixels (n * h * w). Rows are taken 4 at a time (4 pixels sharing each
 * decoded weight), then one at a time. */
#ifndef FN_FC_F32_CSR_H
#define FN_FC_F32_CSR_H

#include "fn_common.h"
#include "fn_csr.h"

typedef struct {
    int32_t batch;               /* input rows (pixels of a 1x1 convolution) */
    int32_t in_features, out_features;     /* the matrix (fn_csr.h): cols, rows */
    int32_t entries;
    const uint8_t *col_delta;              /* [entries], or NULL */
    const uint16_t *col_index;             /* [entries], or NULL */
    const uint16_t *row_start16;           /* [out_features + 1], or NULL */
    const uint32_t *row_start32;           /* [out_features + 1], or NULL */
    float act_min, act_max;      /* fused activation clamp */
    int32_t out_stride;          /* floats from one output row to the next: 0 = out_features (dense),
                                  * or >= out_features when the output is a slice of a wider tensor's
                                  * last axis (a concat's input written in place, concat_views.py) */
} fn_fc_f32_csr_params;

/* output[b][o] = clamp(bias[o] + SUM_j values[j] * input[b][col(j)]) over the entries j of
 * row o (fn_csr.h), added in this order: bias first, then the entries in ascending column
 * order, as fn_fc_f32 adds them, so for finite inputs the result is fn_fc_f32's on the dense
 * matrix (its products with zero weights add +-0). With an infinite or NaN input, fn_fc_f32
 * gives NaN where it multiplies it by a zero weight; this kernel skips those products.
 *   input   [batch, in_features]     float
 *   values  [entries]         float
 *   bias    [out_features], or NULL
 *   output  [batch, out_features]     float; row b at b * out_stride when out_stride > 0
 * Constraints: batch >= 1; the matrix fields as fn_csr.h states. output must not overlap input.
 * Returns FN_OK, or FN_ERR_ARG for a NULL pointer (bias excepted), batch < 1, a malformed
 * matrix (fn_csr_ok) or 0 < out_stride < out_features. */
fn_status fn_fc_f32_csr(const fn_fc_f32_csr_params *p, const float *input, const float *values,
                        const float *bias, float *output);

#endif
