/* firmnet runtime: layout kernels that move bytes and never look at values,
 * so one implementation serves every element type. */
#ifndef FN_TENSOR_H
#define FN_TENSOR_H

#include "fn_common.h"

typedef struct {
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t in_shape[FN_MAX_DIMS];
    int32_t perm[FN_MAX_DIMS];         /* output dim d is input dim perm[d] */
    int32_t elem_size;                 /* bytes per element: 1, 2, 4 or 8 */
} fn_transpose_params;

/* out = numpy.transpose(in, perm). in and out must not overlap. */
fn_status fn_transpose(const fn_transpose_params *p, const void *input, void *output);

typedef struct {
    int32_t n_inputs;                  /* >= 1 */
    int32_t outer;                     /* product of dims before the concat axis */
    const int32_t *in_block_bytes;     /* per input: bytes of one block (axis dim x inner x elem) */
} fn_concat_params;

/* Concatenation along one axis: for each of `outer` blocks, copy every input's
 * block in order. inputs[k] must not overlap output. */
fn_status fn_concat(const fn_concat_params *p, const void *const *inputs, void *output);

typedef struct {
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t in_shape[FN_MAX_DIMS];
    int32_t pad_before[FN_MAX_DIMS];   /* >= 0 */
    int32_t pad_after[FN_MAX_DIMS];    /* >= 0 */
    int32_t elem_size;                 /* bytes per element, 1..8 */
    uint8_t value[8];                  /* the padding element's bytes (first elem_size used) */
} fn_pad_params;

/* Constant padding: out has shape in_shape + pad_before + pad_after. in and out must not overlap. */
fn_status fn_pad(const fn_pad_params *p, const void *input, void *output);

typedef struct {
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t out_shape[FN_MAX_DIMS];    /* >= 1 each; the output is written in row-major order */
    int32_t in_stride[FN_MAX_DIMS];    /* bytes between neighbours along output dim d in the input,
                                          any sign (negative: a reversed slice) */
    int32_t in_offset;                 /* bytes from input to the first block copied, >= 0 */
    int32_t block_bytes;               /* bytes copied per output index (one contiguous run), >= 1 */
    int32_t table_dim;                 /* -1, or the dim whose input offsets come from table */
    const int32_t *table;              /* out_shape[table_dim] byte offsets (used when table_dim >= 0;
                                          in_stride[table_dim] is then ignored) */
} fn_strided_copy_params;

/* Slice, Split, Gather with constant indices: for every output index i (row-major over
 * out_shape), copy block_bytes from input + in_offset + sum_d off_d(i_d) to the next
 * block of output, where off_d(i) = i * in_stride[d], or table[i] for d == table_dim.
 * Every block read must lie inside the input (the compiler checks it). in and out must
 * not overlap. */
fn_status fn_strided_copy(const fn_strided_copy_params *p, const void *input, void *output);

#endif
