/* firmnet runtime: int8 1x1 convolution (fn_conv_1x1_s8.h's layers: stride 1, no padding,
 * groups 1, symmetric weights) from weights widened to int16 and interleaved at compile time,
 * for CPUs with the DSP extension (SMLAD: two 16-bit MACs per instruction). The same bytes as
 * fn_conv2d_1x1_s8 for every layer it takes.
 *
 * Filter layout (kernels/conv2d_1x1_s8_w16_dsp.py pack_filter makes it from the OHWI int8
 * filter [out_c][1][1][in_c]): with in_c_pad = in_c rounded up to a multiple of 4 and
 * out_c_pad = out_c rounded up to a multiple of 4, int16 [out_c_pad / 4][in_c_pad / 4][2][4][2]:
 * per block of 4 output channels (c0 .. c0 + 3), per group of 4 input channels (i0 .. i3), per
 * half h (0: inputs i0, i2; 1: inputs i1, i3), per channel c of the block the pair
 * (w[c][i_h], w[c][i_(h+2)]). Padding channels (input or output) are 0.
 * fn_conv2d_1x1_s8_w16_dsp_filter_size() int16 values: 2 bytes per weight (and per padding
 * weight) against fn_conv2d_1x1_s8's 1.
 *
 * Pixels (all batch * in_h * in_w of them, in memory order) go two at a time: the pair's inputs
 * are widened once into the scratch as 16-bit values x + input_offset, per group and half the
 * words (pixel 0: (x_h, x_(h+2)), pixel 1: the same), so that one LDRD gives both pixels' word;
 * then per block of 4 output channels each half-group costs 3 word-pair loads (LDRD with
 * post-increment on the M4: the inputs, channels 0-1, channels 2-3) and 8 SMLADs (16 MACs).
 * A last odd pixel is widened beside zeros, the last block's padding channels are computed
 * and not written: nothing is written twice.
 * Sums are exact (fn_conv_s8.h's bound: at most FN_S8_MAX_DEPTH products of |x + input_offset|
 * <= 255 and |w| <= 128; the padding adds zeros).
 *
 * Output stage: fn_out6_s8 (fn_fixedpoint.h, six instructions per output) when every channel
 * allows it and in_c_pad <= FN_W16_OUT6_DEPTH, else fn_finish_one_s8's: the same bytes.
 *
 * Scratch (fn_conv2d_1x1_s8_w16_dsp_scratch_size, 8-byte aligned): 4 * in_c_pad bytes (the
 * pair's widened inputs), 8 bytes (a sentinel word pair that ends the inner loop: lanes -32768,
 * which no widened input has), then 16 bytes per output channel (its fn_out6_s8).
 *
 * In place: a pair's inputs are read (widened) before any of its outputs is written and never
 * again, so the output may start over the input where each pair's outputs end below the next
 * pair's inputs (python/firmnet/in_place.py pair_delta: 0 when out_c <= in_c).
 *
 * With GCC (optimizing) the inner loop is one block of inline assembly that takes all 14
 * allocatable registers: a build that keeps a frame pointer (-fno-omit-frame-pointer) fails
 * with "impossible constraints" unless it defines FN_NO_BLOCK_ASM, which selects the C form
 * of the loop (about 3 % more instructions, the same bytes).
 *
 * Without the DSP extension (FN_DSP 0: host builds, tests) the same code runs with portable C
 * forms of SMLAD and SXTAB16 and plain word loads (little-endian CPUs). */
#ifndef FN_CONV2D_1X1_S8_W16_DSP_H
#define FN_CONV2D_1X1_S8_W16_DSP_H

#include "fn_common.h"
#include "fn_conv2d_s8_w16_dsp.h"
#include "fn_conv_s8.h"

/* Bytes of scratch: 4 * in_c_pad + 8 + 16 * out_c (rounded up to 8); 0 when kernel_h or kernel_w
 * is not 1, groups != 1, or in_c or out_c is outside [1, FN_S8_MAX_DEPTH]. */
static inline size_t fn_conv2d_1x1_s8_w16_dsp_scratch_size(const fn_conv2d_s8_params *p)
{
    const int32_t in_c_pad = fn_w16_in_c_pad(p->in_c);
    if (p->groups != 1 || p->kernel_h != 1 || p->kernel_w != 1 || in_c_pad == 0 || p->out_c < 1 ||
        p->out_c > FN_S8_MAX_DEPTH) {
        return 0;
    }
    const size_t bytes = 4 * (size_t)in_c_pad + 8 + 16 * (size_t)p->out_c;
    return (bytes + 7) / 8 * 8;
}

/* int16 values of the packed filter: (out_c rounded up to a multiple of 4) * in_c_pad. */
static inline size_t fn_conv2d_1x1_s8_w16_dsp_filter_size(const fn_conv2d_s8_params *p)
{
    return (size_t)((p->out_c + 3) / 4 * 4) * (size_t)fn_w16_in_c_pad(p->in_c);
}

/* fn_conv2d_1x1_s8 (same constraints) from the packed int16 filter (above). scratch:
 * fn_conv2d_1x1_s8_w16_dsp_scratch_size(p) bytes. Returns FN_ERR_ARG (before writing any
 * output) for fn_conv2d_1x1_s8's argument errors, a NULL scratch or a scratch size of 0. */
fn_status fn_conv2d_1x1_s8_w16_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                   const int32_t *bias, int8_t *output, void *scratch);

#endif
