/* firmnet runtime: float32 normalization over groups of elements (ONNX LayerNormalization,
 * InstanceNormalization, GroupNormalization). */
#ifndef FN_NORM_F32_H
#define FN_NORM_F32_H

#include "fn_common.h"

/* Summation blocking: runs are cut into chunks of at most FN_NORM_BLOCK elements, chunks
 * add into a partial sum that joins the running total once it holds FN_NORM_BLOCK or more
 * elements, so a term is rounded fewer than 2 * FN_NORM_BLOCK + count / FN_NORM_BLOCK + 1
 * times (not count times). */
#define FN_NORM_BLOCK 32

typedef struct {
    /* The tensor viewed as [batch, outer, channels, inner]; the channels form `groups`
     * consecutive groups. NCHW GroupNorm/InstanceNorm: outer 1, inner H*W; NHWC: outer H*W,
     * inner 1; LayerNorm: channels = the normalized elements, outer = inner = 1, groups 1. */
    int32_t batch, outer, channels, inner;
    int32_t groups;
    float epsilon;
} fn_norm_f32_params;

/* For each batch entry b and group g, over the elements x of the group (every outer,
 * its channels, every inner; count = outer * channels / groups * inner):
 *     mean = sum(x) / count, var = sum((x - mean)^2) / count   (two passes, float32)
 *     y = ((x - mean) * rsqrt(var + epsilon)) * scale[c] + bias[c]
 * Sums run in memory order, blocked as described above; rsqrt is
 * fn_rsqrtf (fn_rsqrt_f32.h, within 2 ulp).
 *   input, output [batch, outer, channels, inner]; scale [channels]; bias [channels] or NULL
 *   mean_out, inv_std_out [batch, groups] or NULL: each group's mean and rsqrt(var + epsilon)
 *   (LayerNormalization's optional Mean and InvStdDev outputs)
 * output may be the same buffer as input (each element is read before it is written),
 * but must not otherwise overlap it or the statistics.
 * Returns FN_ERR_ARG for a NULL pointer (bias and the statistics excepted), a size < 1,
 * groups not dividing channels, or a tensor of 2^31 or more elements. */
fn_status fn_norm_f32(const fn_norm_f32_params *p, const float *input, const float *scale, const float *bias,
                      float *output, float *mean_out, float *inv_std_out);

#endif
