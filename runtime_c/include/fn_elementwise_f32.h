/* firmnet runtime: float32 element-wise kernels. */
#ifndef FN_ELEMENTWISE_F32_H
#define FN_ELEMENTWISE_F32_H

#include "fn_common.h"

typedef enum {
    FN_BINARY_ADD = 0,
    FN_BINARY_SUB = 1,
    FN_BINARY_MUL = 2,
    FN_BINARY_DIV = 3
} fn_binary_op;

typedef struct {
    int32_t op;                        /* fn_binary_op */
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t out_shape[FN_MAX_DIMS];    /* row-major, first ndim entries used */
    int32_t a_strides[FN_MAX_DIMS];    /* element strides of a per output dim; 0 = broadcast */
    int32_t b_strides[FN_MAX_DIMS];
    float act_min, act_max;            /* fused activation clamp */
} fn_binary_f32_params;

/* out[i] = clamp(a[ia] OP b[ib]) with numpy broadcasting expressed by strides.
 * out must not overlap a or b unless it is exactly a (or b) with the full shape.
 * Division by zero follows IEEE-754 (inf/nan), as numpy does. */
fn_status fn_binary_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out);

typedef enum {
    FN_UNARY_IDENTITY = 0,     /* x (only the clamp acts: Relu, Clip) */
    FN_UNARY_LEAKY_RELU = 1,   /* x >= 0 ? x : alpha * x */
    FN_UNARY_SIGMOID = 2,      /* 1 / (1 + exp(-x)) */
    FN_UNARY_TANH = 3,
    FN_UNARY_HARD_SIGMOID = 4, /* max(0, min(1, alpha * x + beta)) */
    FN_UNARY_HARD_SWISH = 5    /* x * max(0, min(1, x * (1/6)f + 1/2)): a multiply, not a division */
} fn_unary_op;

typedef struct {
    int32_t op;                /* fn_unary_op */
    int32_t count;             /* number of elements, >= 1 */
    float alpha, beta;
    float act_min, act_max;    /* applied after the op */
} fn_unary_f32_params;

/* out[i] = clamp(op(in[i])). in and out may be the same buffer (in place).
 * The clamp lets NaN through (as numpy does). */
fn_status fn_unary_f32(const fn_unary_f32_params *p, const float *input, float *output);

typedef struct {
    int32_t outer, axis_len, inner;   /* tensor viewed as [outer, axis_len, inner] */
} fn_softmax_f32_params;

/* Softmax along the middle axis: exp(x - max) / sum(exp(x - max)).
 * input and output may be the same buffer. */
fn_status fn_softmax_f32(const fn_softmax_f32_params *p, const float *input, float *output);

/* exp, tanh and the logistic function without libm (generated code may not link it).
 * Accurate to a few ulp over the float range; exp saturates to 0 and +inf. */
float fn_expf(float x);
float fn_tanhf(float x);
float fn_sigmoidf(float x);

#endif
