/* firmnet runtime: reductions over any set of axes (ONNX Reduce{Mean,Sum,Max,Min}).
 *
 * The compiler (python/firmnet/layout.py reduce_params) splits the input's dims into the
 * kept ones (the output's, row-major) and the reduced ones, dropping size-1 dims and
 * merging neighbours with the same role, so that at most 4 of each remain. Per output
 * element the kernels visit its reduced inputs in row-major order of red_shape.
 * int8 MEAN and SUM with TFLM's arithmetic are in fn_reduce_s8.h (fn_mean_s8).
 *
 * Return codes: FN_OK, or FN_ERR_ARG for a NULL pointer, an unknown op, or a shape
 * entry below 1 (checked before the loops). Input and output must not overlap. */
#ifndef FN_REDUCE_H
#define FN_REDUCE_H

#include "fn_common.h"

typedef enum {
    FN_REDUCE_MEAN = 0,
    FN_REDUCE_SUM = 1,
    FN_REDUCE_MAX = 2,
    FN_REDUCE_MIN = 3
} fn_reduce_op;

typedef struct {
    int32_t op;                 /* fn_reduce_op; fn_reduce_minmax_s8 takes MAX and MIN only */
    int32_t out_shape[4];       /* kept dims, outermost first, each >= 1 (unused: 1) */
    int32_t out_stride[4];      /* input elements between neighbours along each kept dim */
    int32_t red_shape[4];       /* reduced dims, each >= 1 (unused: 1) */
    int32_t red_stride[4];      /* input elements between neighbours along each reduced dim */
} fn_reduce_params;

/* float32: MEAN = (sum in float32, in the visiting order) / (float)count, SUM, MAX, MIN.
 * MAX and MIN propagate NaN (a NaN input gives NaN), as onnxruntime does. */
fn_status fn_reduce_f32(const fn_reduce_params *p, const float *input, float *output);

/* int8 MAX or MIN of the stored values: input and output share one quantization
 * (TFLM's REDUCE_MAX/REDUCE_MIN require it; the compiler requantizes separately). */
fn_status fn_reduce_minmax_s8(const fn_reduce_params *p, const int8_t *input, int8_t *output);

#endif
