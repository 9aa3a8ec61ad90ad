/* firmnet runtime: the row walk of the broadcasting binary kernels (internal header).
 * fn_binary_f32, fn_add_s8 and fn_mul_s8 visit the output in row-major order, one
 * innermost-dimension row at a time, while each operand's offset follows its strides
 * per output dimension (stride 0 = broadcast). */
#ifndef FN_BROADCAST_H
#define FN_BROADCAST_H

#include "fn_common.h"

/* 1 if ndim is in 1..FN_MAX_DIMS, every out_shape entry >= 1 and no stride negative
 * (the first ndim entries of each array are read). */
static inline int fn_broadcast_ok(int32_t ndim, const int32_t *out_shape, const int32_t *a_strides,
                                  const int32_t *b_strides)
{
    if (ndim < 1 || ndim > FN_MAX_DIMS) {
        return 0;
    }
    for (int32_t d = 0; d < ndim; ++d) {
        if (out_shape[d] < 1 || a_strides[d] < 0 || b_strides[d] < 0) {
            return 0;
        }
    }
    return 1;
}

/* The walk's position: the current row's start in a, b and the output (element
 * offsets) and its index over dims 0..ndim-2, with what every row shares. */
typedef struct {
    ptrdiff_t row;                       /* elements per row: out_shape[ndim - 1] */
    ptrdiff_t a_step, b_step;            /* a's and b's strides along a row */
    ptrdiff_t a_off, b_off, o_off;
    int32_t ndim;
    const int32_t *out_shape, *a_strides, *b_strides;
    int32_t idx[FN_MAX_DIMS];
} fn_broadcast_walk;

/* Starts at the first row. The arrays must pass fn_broadcast_ok() and outlive w. */
static inline void fn_broadcast_start(fn_broadcast_walk *w, int32_t ndim, const int32_t *out_shape,
                                      const int32_t *a_strides, const int32_t *b_strides)
{
    w->row = out_shape[ndim - 1];
    w->a_step = a_strides[ndim - 1];
    w->b_step = b_strides[ndim - 1];
    w->a_off = 0;
    w->b_off = 0;
    w->o_off = 0;
    w->ndim = ndim;
    w->out_shape = out_shape;
    w->a_strides = a_strides;
    w->b_strides = b_strides;
    for (int32_t d = 0; d < FN_MAX_DIMS; ++d) {
        w->idx[d] = 0;
    }
}

/* Moves to the next row (an odometer over dims 0..ndim-2); returns 0, leaving the
 * offsets unusable, when the row just visited was the last. */
static inline int fn_broadcast_next(fn_broadcast_walk *w)
{
    w->o_off += w->row;
    for (int32_t d = w->ndim - 2; d >= 0; --d) {
        w->a_off += w->a_strides[d];
        w->b_off += w->b_strides[d];
        if (++w->idx[d] < w->out_shape[d]) {
            return 1;
        }
        w->a_off -= (ptrdiff_t)w->a_strides[d] * w->out_shape[d];
        w->b_off -= (ptrdiff_t)w->b_strides[d] * w->out_shape[d];
        w->idx[d] = 0;
    }
    return 0;
}

#endif
