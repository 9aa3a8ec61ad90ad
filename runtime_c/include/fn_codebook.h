/* firmnet runtime: palettized ("codebook") weights, as the codebook kernels read them
 * (fn_fc_s8_codebook.h, fn_fc_f32_codebook.h, fn_conv2d_s8_codebook.h,
 * fn_conv2d_f32_codebook.h).
 *
 * A weight matrix [rows][depth] (rows = output channels; depth = in_features, or
 * kernel_h * kernel_w * in_c of an OHWI filter) is stored as
 *   indices   uint8: each row's depth indices of `bits` bits (2, 4 or 8), packed into
 *             fn_codebook_row_bytes(depth, bits) = ceil(depth * bits / 8) bytes, the
 *             rows one after another; index j of a row is in byte j * bits / 8, at bit
 *             (j * bits) % 8, lowest bits first;
 *   codebook  2^bits values (int8 or float) for the whole matrix, or 2^bits per row
 *             (per_channel: row r's at r * 2^bits); entries no index uses are 0.
 * weight[r][j] = codebook[(per_channel ? r * 2^bits : 0) + index(r, j)]. A full 2^bits
 * table per codebook makes every index valid: no out-of-range read is possible whatever
 * the index bytes hold.
 *
 * The kernels look each weight up inside their inner loops: no buffer holds the decoded
 * weights. TFLite Micro's compression support decompresses a whole tensor into scratch
 * before the kernel runs; here the RAM cost is 0 and the flash is indices + codebook only.
 * kernels/params_codebook.py packs a dense matrix into this form. */
#ifndef FN_CODEBOOK_H
#define FN_CODEBOOK_H

#include "fn_common.h"

/* 1 if bits is 2, 4 or 8. */
static inline int fn_codebook_bits_ok(int32_t bits)
{
    return bits == 2 || bits == 4 || bits == 8;
}

/* Bytes of one row of depth packed indices. */
static inline size_t fn_codebook_row_bytes(int32_t depth, int32_t bits)
{
    return ((size_t)depth * (size_t)bits + 7u) / 8u;
}

/* Index j of a packed row. */
static inline uint32_t fn_codebook_index(const uint8_t *row, int32_t j, int32_t bits)
{
    const uint32_t at = (uint32_t)j * (uint32_t)bits;
    return ((uint32_t)row[at >> 3] >> (at & 7u)) & ((1u << bits) - 1u);
}

#endif
