/* firmnet runtime: int8 fully connected layer (symmetric weights) from weights widened to int16
 * and interleaved at compile time, for CPUs with the DSP extension (SMLAD: two 16-bit MACs per
 * instruction). The same bytes as fn_fc_s8 (fn_fc_s8.h) for every layer fn_fc_s8 takes.
 *
 * Packed weights (kernels/fc_s8_w16_dsp.py pack makes them from the [out, in] int8 matrix,
 * the bias and the requantization): with in_pad = in_features rounded up to a multiple of 4
 * and blocks = ceil(out_features / 4), int16 values, per block of 4 output channels
 * (o0 .. o3):
 *   [in_pad / 4][4][4] weights: per group of 4 inputs (i0, i1, i2, i3), per channel of the
 *       block, its weights in the order (w_i0, w_i2, w_i1, w_i3);
 *   [4][4] int32 (each as two int16 halves, low first): per channel of the block, its
 *       fn_out6_s8 (bias2, multiplier, addend, shift; fn_fixedpoint.h), or all zero.
 * Padding inputs and channels are 0. fn_fc_s8_w16_dsp_weights_size() int16 values: 2 bytes
 * per weight plus 16 bytes per output channel, against fn_fc_s8's 1 byte per weight.
 * The output-stage table is fn_out6_s8_init's values for every channel (and the layer's
 * in_pad <= FN_FC_W16_OUT6_DEPTH); or zero everywhere (shift 0 in the first channel): then
 * the general stage runs from p->requant and bias (fn_finish_one_s8). A table that holds
 * other values gives other bytes.
 *
 * Per input row (batch item), in the widened mode (a scratch given): the row is widened once
 * into the scratch as 16-bit values x + input_offset, each group of 4 in the order (x0, x2, x1,
 * x3) (SXTAB16 and its rotated form), padding inputs 0; then per block every group of 4 inputs
 * costs one word-pair load of the inputs, one per channel of its weights (LDRD with
 * post-increment where the weights and the scratch are word-aligned) and 8 SMLADs (16 MACs):
 * 13 instructions. In the direct mode (scratch NULL) every block reads the int8 row itself and
 * widens each group in registers (a last partial group is widened once per row). Sums are
 * exact (fn_conv_s8.h's bound; the padding adds zeros).
 *
 * Scratch (fn_fc_s8_w16_dsp_scratch_size, widened mode only): 2 * in_pad bytes, rounded up to 8.
 *
 * In place: in the widened mode a row's inputs are read only while it is widened, before any
 * of its outputs is written, so the output may start at the input (batch 1) or, for batch > 1,
 * as far below it as python/firmnet/in_place.py's fc_w16_delta says; in the direct mode the
 * reads and writes of a row interleave as in fn_fc_s8 (row_delta).
 *
 * Without the DSP extension (FN_DSP 0: host builds, tests) the same code runs with portable C
 * forms of SMLAD and SXTAB16 and word loads by memcpy (little-endian CPUs). */
#ifndef FN_FC_S8_W16_DSP_H
#define FN_FC_S8_W16_DSP_H

#include "fn_common.h"
#include "fn_fc_s8.h"

/* Largest in_pad with the table's six-instruction stage (255 * 128 * 16384 < 2^29). */
#define FN_FC_W16_OUT6_DEPTH 16384

/* in_features rounded up to a multiple of 4 (0 outside [1, FN_S8_MAX_DEPTH]). */
static inline int32_t fn_fc_w16_in_pad(int32_t in_features)
{
    return in_features >= 1 && in_features <= FN_S8_MAX_DEPTH ? (in_features + 3) / 4 * 4 : 0;
}

/* Bytes of scratch: 2 * in_pad rounded up to 8; 0 when in_features is out of range. */
static inline size_t fn_fc_s8_w16_dsp_scratch_size(const fn_fc_s8_params *p)
{
    const int32_t in_pad = fn_fc_w16_in_pad(p->in_features);
    return in_pad == 0 ? 0 : (size_t)(2 * in_pad + 7) / 8 * 8;
}

/* int16 values of the packed weights: blocks * (4 * in_pad + 32); 0 when a size is out of range. */
static inline size_t fn_fc_s8_w16_dsp_weights_size(const fn_fc_s8_params *p)
{
    const int32_t in_pad = fn_fc_w16_in_pad(p->in_features);
    if (in_pad == 0 || p->out_features < 1) {
        return 0;
    }
    return ((size_t)p->out_features + 3) / 4 * (size_t)(4 * in_pad + 32);
}

/* fn_fc_s8 (same params, input, bias and output contract) from the packed weights (above).
 * scratch: fn_fc_s8_w16_dsp_scratch_size(p) bytes, not overlapping the other arguments (the
 * widened mode), or NULL (the direct mode: each group of 4 inputs is widened in registers for
 * every block of 4 channels, 15 instructions per 16 MACs, 29 per 32 from a word-aligned row;
 * no scratch, and the input is read while outputs are written, as fn_fc_s8 does).
 * Returns FN_ERR_ARG (before writing any output) for fn_fc_s8's argument errors; the
 * requantization block is read, and checked, only where the table is empty (with the table
 * its values are the table's). */
fn_status fn_fc_s8_w16_dsp(const fn_fc_s8_params *p, const int8_t *input, const int16_t *weights,
                           const int32_t *bias, int8_t *output, void *scratch);

#endif
