/* firmnet runtime: float32 fully connected layer. */
#ifndef FN_FC_F32_H
#define FN_FC_F32_H

#include "fn_common.h"

typedef struct {
    int32_t batch, in_features, out_features;
    float act_min, act_max;      /* fused activation clamp */
} fn_fc_f32_params;

/* output[b][o] = clamp(bias[o] + sum_i input[b][i] * weights[o][i])
 *   input   [batch, in_features]
 *   weights [out_features, in_features]
 *   bias    [out_features], or NULL
 *   output  [batch, out_features]
 * Accumulation order: bias first, then i ascending. output must not overlap input.
 * Returns FN_ERR_ARG for a NULL pointer (bias excepted) or a size < 1. */
fn_status fn_fc_f32(const fn_fc_f32_params *p, const float *input,
                    const float *weights, const float *bias, float *output);

#endif
