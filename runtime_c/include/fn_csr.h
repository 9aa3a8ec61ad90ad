/* firmnet runtime: a sparse weight matrix in compressed sparse row (CSR) form, as the CSR
 * kernels (fn_fc_s8_csr.h, fn_fc_f32_csr.h) read it.
 *
 * Row r (an output channel) holds the entries row_start[r] .. row_start[r + 1] - 1 of the
 * kernel's values array (int8 or float, stored row after row) and of one column array:
 *   col_delta  uint8 steps: the column of an entry is the previous entry's column plus its
 *              step (the first entry of a row steps from column 0). A gap wider than 255
 *              is bridged by filler entries of value 0 and step 255 (the "escape"); they
 *              add 0 * x, so the kernel needs no test for them.
 *   col_index  uint16 absolute columns (layers of at most 65536 columns).
 * A kernel's parameter struct holds these fields flat (out_features, in_features,
 * entries, col_delta, col_index, row_start16, row_start32); fn_csr_view gathers them. Exactly one of col_delta and col_index is set, and exactly one of row_start16 and
 * row_start32 (uint16 when the entries fit, else uint32). kernels/params_csr.py pack_csr
 * makes them from a dense [rows, cols] matrix, picking the smaller column form.
 * Constraints: rows, cols >= 1; row_start[0] == 0, row_start nondecreasing, row_start[rows]
 * == entries; every decoded column < cols (the compiler's packer guarantees it; the kernels
 * check the row starts only). */
#ifndef FN_CSR_H
#define FN_CSR_H

#include "fn_common.h"

typedef struct {
    int32_t rows, cols;             /* output channels, input features */
    int32_t entries;                /* stored entries: nonzeros plus escape fillers */
    const uint8_t *col_delta;       /* [entries] column steps, or NULL */
    const uint16_t *col_index;      /* [entries] columns, or NULL */
    const uint16_t *row_start16;    /* [rows + 1], or NULL */
    const uint32_t *row_start32;    /* [rows + 1], or NULL */
} fn_csr;

/* The matrix of a kernel's parameter fields (the structs keep them flat: one level of
 * constant arrays, as the code generator emits them). */
static inline fn_csr fn_csr_view(int32_t rows, int32_t cols, int32_t entries, const uint8_t *col_delta,
                                 const uint16_t *col_index, const uint16_t *row_start16,
                                 const uint32_t *row_start32)
{
    fn_csr m;
    m.rows = rows;
    m.cols = cols;
    m.entries = entries;
    m.col_delta = col_delta;
    m.col_index = col_index;
    m.row_start16 = row_start16;
    m.row_start32 = row_start32;
    return m;
}

/* The first entry of row r (r == rows: the number of entries). */
static inline int32_t fn_csr_row_start(const fn_csr *m, int32_t r)
{
    return m->row_start16 != NULL ? (int32_t)m->row_start16[r] : (int32_t)m->row_start32[r];
}

/* 1 if m's sizes, forms and row starts are as stated above, else 0 (O(rows)). */
static inline int fn_csr_ok(const fn_csr *m)
{
    if (m->rows < 1 || m->cols < 1 || m->entries < 0) {
        return 0;
    }
    if ((m->col_delta == NULL) == (m->col_index == NULL) || (m->row_start16 == NULL) == (m->row_start32 == NULL)) {
        return 0;
    }
    if (m->col_index != NULL && m->cols > 65536) {
        return 0;
    }
    int32_t prev = 0;
    for (int32_t r = 0; r <= m->rows; ++r) {
        const uint32_t s = m->row_start16 != NULL ? m->row_start16[r] : m->row_start32[r];
        if (s > (uint32_t)m->entries || (int32_t)s < prev || (r == 0 && s != 0)) {
            return 0;
        }
        prev = (int32_t)s;
    }
    return prev == m->entries;
}

/* Convolutions with CSR weights (fn_conv2d_s8_csr.h, fn_conv2d_f32_csr.h): an entry's column
 * is its input's offset from the window's first input, ky * dilation_h * in_w * in_c +
 * kx * dilation_w * in_c + c. 1 if the geometry fields are as those headers state: every size,
 * stride and dilation >= 1, pads >= 0, a window row within an input row ((kernel_w - 1) *
 * dilation_w < in_w: the column decodes uniquely), cols == the column span, coordinates
 * below 2^31; else 0. */
static inline int fn_csr_conv_ok(int32_t batch, int32_t in_h, int32_t in_w, int32_t in_c, int32_t out_h,
                                 int32_t out_w, int32_t kernel_h, int32_t kernel_w, int32_t stride_h,
                                 int32_t stride_w, int32_t dilation_h, int32_t dilation_w, int32_t pad_top,
                                 int32_t pad_left, int32_t cols)
{
    if (batch < 1 || in_h < 1 || in_w < 1 || in_c < 1 || out_h < 1 || out_w < 1 || kernel_h < 1 || kernel_w < 1 ||
        stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1 || pad_top < 0 || pad_left < 0) {
        return 0;
    }
    const int64_t span_w = (int64_t)(kernel_w - 1) * dilation_w, span_h = (int64_t)(kernel_h - 1) * dilation_h;
    return span_w < in_w && (span_h * in_w + span_w + 1) * in_c == cols &&
           (int64_t)batch * in_h * in_w * in_c < INT32_MAX && (int64_t)out_h * stride_h + span_h < INT32_MAX &&
           (int64_t)out_w * stride_w + span_w < INT32_MAX;
}

/* Where the tap of column col reads for the window at (iy0, ix0) (possibly in the padding):
 * 1 and *at = its index in the image [in_h, in_w, in_c], or 0 for a padded tap. */
static inline int fn_csr_tap(int32_t col, int32_t in_h, int32_t in_w, int32_t in_c, int32_t iy0, int32_t ix0,
                             size_t *at)
{
    const int32_t pitch = in_w * in_c;
    const int32_t rem = col % pitch;
    const int32_t iy = iy0 + col / pitch, ix = ix0 + rem / in_c;
    if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
        return 0;
    }
    *at = ((size_t)iy * (size_t)in_w + (size_t)ix) * (size_t)in_c + (size_t)(rem % in_c);
    return 1;
}

#endif
