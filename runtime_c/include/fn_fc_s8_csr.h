/* firmnet runtime: int8 fully connected layer (and 1x1 convolution) with CSR weights
 * (fn_csr.h): only the nonzero weights are stored and multiplied.
 *
 * The same int32 accumulator as fn_fc_s8 (fn_fc_s8.h), so the same output bytes: the input
 * offset is folded into the bias at compile time (kernels/params_csr.py fold_input_offset),
 *   bias'[o] = bias[o] + input_offset * SUM_i weights[o][i]      (modulo 2^32)
 * and the kernel adds SUM over the row's entries of weights[o][i] * input[b][i], then bias'
 * modulo 2^32: that is fn_fc_s8's SUM (input + input_offset) * weights + bias modulo 2^32.
 * |input * weight| <= 16384 and a row has at most FN_S8_MAX_DEPTH nonzeros, so the sum
 * cannot overflow. The output stage is fn_conv_s8.h's (fn_finish_one_s8).
 *
 * A 1x1 convolution (stride 1, no padding, one group) of NHWC activations is this layer
 * with batch = pixels (n * h * w): input [pixels, in_c], output [pixels, out_c]. The kernel
 * takes the rows 4 at a time (4 pixels), each decoded weight serving the 4, then single rows. */
#ifndef FN_FC_S8_CSR_H
#define FN_FC_S8_CSR_H

#include "fn_common.h"
#include "fn_conv_s8.h"
#include "fn_csr.h"

typedef struct {
    int32_t batch;                         /* input rows (pixels of a 1x1 convolution) */
    int32_t in_features, out_features;     /* the matrix (fn_csr.h): cols, rows */
    int32_t entries;
    const uint8_t *col_delta;              /* [entries], or NULL */
    const uint16_t *col_index;             /* [entries], or NULL */
    const uint16_t *row_start16;           /* [out_features + 1], or NULL */
    const uint32_t *row_start32;           /* [out_features + 1], or NULL */
    fn_requant_acc_s8 requant;             /* arrays of out_features entries, or 1 (fn_fixedpoint.h) */
} fn_fc_s8_csr_params;

/* output[b][o] = fn_output_stage_s8(SUM_j values[j] * input[b][col(j)] + bias[o])
 * over the entries j of row o (fn_csr.h), the bias added modulo 2^32.
 *   input   [batch, in_features]     int8
 *   values  [entries]         int8, the matrix's entries row after row
 *   bias    [out_features] int32, the folded bias above, or NULL (a zero bias with an
 *           input offset of 0)
 *   output  [batch, out_features]     int8
 * Constraints: batch >= 1; the matrix fields as fn_csr.h states, in_features <= FN_S8_MAX_DEPTH;
 * requant as fn_requant_acc_s8_ok (fn_fixedpoint.h) checks it (there is no input_offset:
 * it is in the bias). output must not overlap the other arguments.
 * Returns FN_OK, or FN_ERR_ARG (before writing any output) for a NULL input, values or
 * output pointer, a NULL array the requantization mode reads, batch < 1, a malformed matrix
 * (fn_csr_ok) or a requantization field out of its range. */
fn_status fn_fc_s8_csr(const fn_fc_s8_csr_params *p, const int8_t *input, const int8_t *values,
                       const int32_t *bias, int8_t *output);

#endif
