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

#endif
