/* firmnet runtime: float32 element-wise kernels. */
#ifndef FN_ELEMENTWISE_F32_H
#define FN_ELEMENTWISE_F32_H

#include "fn_common.h"

typedef enum {
    FN_BINARY_ADD = 0,
    FN_BINARY_SUB = 1,
    FN_BINARY_MUL = 2,
    FN_BINARY_DIV = 3,
    FN_BINARY_POW = 4,      /* fn_powf(a, b) */
    FN_BINARY_MIN = 5,      /* a < b ? a : b, NaN if either is NaN (numpy.minimum) */
    FN_BINARY_MAX = 6,      /* a > b ? a : b, NaN if either is NaN (numpy.maximum) */
    FN_BINARY_PRELU = 7     /* a < 0 ? a * b : a (b: the slope) */
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
 * Division by zero follows IEEE-754 (inf/nan), as numpy does. Three functions share the
 * parameters, each in its own file so that a model links only what it uses:
 *   fn_binary_f32          ADD, SUB, MUL, DIV: one IEEE operation each, exact
 *   fn_binary_select_f32   MIN, MAX, PRELU: selections (prelu one multiply), exact
 *   fn_binary_pow_f32      POW, with fn_powf's accuracy (it links double arithmetic)
 * Each returns FN_ERR_ARG for the others' ops. */
fn_status fn_binary_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out);
fn_status fn_binary_select_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out);
fn_status fn_binary_pow_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out);

typedef enum {
    FN_COMPARE_LESS = 0,
    FN_COMPARE_LESS_EQUAL = 1,
    FN_COMPARE_GREATER = 2,
    FN_COMPARE_GREATER_EQUAL = 3
} fn_compare_op;

/* out[i] = (a[ia] OP b[ib]) ? 1 : 0 with fn_binary_f32's broadcasting; op is a
 * fn_compare_op, act_min/act_max are not read. NaN compares false (IEEE-754).
 * out (one byte per element) must not overlap a or b. */
fn_status fn_compare_f32(const fn_binary_f32_params *p, const float *a, const float *b, uint8_t *out);


typedef enum {
    FN_UNARY_IDENTITY = 0,     /* x (only the clamp acts: Relu, Clip) */
    FN_UNARY_LEAKY_RELU = 1,   /* x >= 0 ? x : alpha * x */
    FN_UNARY_SIGMOID = 2,      /* 1 / (1 + exp(-x)) */
    FN_UNARY_TANH = 3,
    FN_UNARY_HARD_SIGMOID = 4, /* max(0, min(1, alpha * x + beta)) */
    FN_UNARY_HARD_SWISH = 5,   /* x * max(0, min(1, x * (1/6)f + 1/2)): a multiply, not a division */
    FN_UNARY_EXP = 6,
    FN_UNARY_LOG = 7,
    FN_UNARY_SQRT = 8,
    FN_UNARY_RECIPROCAL = 9,   /* 1 / x */
    FN_UNARY_ABS = 10,         /* the sign bit cleared */
    FN_UNARY_NEG = 11,         /* the sign bit flipped */
    FN_UNARY_ERF = 12,
    FN_UNARY_GELU = 13,        /* x/2 * (1 + erf(x / sqrt 2)) */
    FN_UNARY_GELU_TANH = 14,   /* x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), as x * sigmoid(2 * that) */
    FN_UNARY_ELU = 15,         /* x >= 0 ? x : alpha * expm1(x) */
    FN_UNARY_SELU = 16,        /* beta * (x > 0 ? x : alpha * expm1(x)): beta is SELU's gamma */
    FN_UNARY_SOFTPLUS = 17,    /* log(1 + exp(x)) */
    FN_UNARY_POW = 18,         /* fn_powf(x, alpha): fn_unary_pow_f32 only */
    FN_UNARY_SILU = 19,        /* x * sigmoid(x) */
    FN_UNARY_SQUARE = 20,      /* x * x (Pow by 2) */
    FN_UNARY_SIGN = 21,        /* -1, 0 or +1 (ONNX Sign; NaN stays NaN) */
    FN_UNARY_BIPOLAR = 22      /* x >= 0 ? +1 : -1 (QONNX BipolarQuant; NaN gives -1) */
} fn_unary_op;

typedef struct {
    int32_t op;                /* fn_unary_op */
    int32_t count;             /* number of elements, >= 1 */
    float alpha, beta;
    float act_min, act_max;    /* applied after the op */
} fn_unary_f32_params;

/* out[i] = clamp(op(in[i])). in and out may be the same buffer (in place).
 * The clamp lets NaN through (as numpy does). Three functions share the parameters,
 * each in its own file so that a model links only the math it uses:
 *   fn_unary_f32        ops IDENTITY..HARD_SWISH (0..5)
 *   fn_unary_math_f32   ops EXP..SOFTPLUS, SILU, SQUARE (6..17, 19, 20)
 *   fn_unary_pow_f32    op POW (18), by the exponent alpha (the compiler sends
 *                       exponents 2, 0.5 and -1 to SQUARE, SQRT and RECIPROCAL)
 * Each returns FN_ERR_ARG for the others' ops. */
fn_status fn_unary_f32(const fn_unary_f32_params *p, const float *input, float *output);
fn_status fn_unary_math_f32(const fn_unary_f32_params *p, const float *input, float *output);
fn_status fn_unary_pow_f32(const fn_unary_f32_params *p, const float *input, float *output);

typedef struct {
    int32_t outer, axis_len, inner;   /* tensor viewed as [outer, axis_len, inner] */
} fn_softmax_f32_params;

/* Softmax along the middle axis: exp(x - max) / sum(exp(x - max)).
 * input and output may be the same buffer. */
/* The largest of the n values x[0], x[stride], ... (one softmax lane). */
static inline float fn_lane_max_f32(const float *x, int32_t n, int32_t stride)
{
    float m = x[0];
    int32_t j;
    for (j = 1; j < n; ++j) {
        const float v = x[(ptrdiff_t)j * stride];
        m = v > m ? v : m;
    }
    return m;
}

fn_status fn_softmax_f32(const fn_softmax_f32_params *p, const float *input, float *output);

/* fn_log_softmax_f32: (x - max) - log(sum(exp(x - max))) along the middle axis, same
 * parameters and in-place rule as fn_softmax_f32. */
fn_status fn_log_softmax_f32(const fn_softmax_f32_params *p, const float *input, float *output);

typedef struct {
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t out_shape[FN_MAX_DIMS];    /* as fn_binary_f32_params (a: the then-branch, b: the else-branch) */
    int32_t a_strides[FN_MAX_DIMS];
    int32_t b_strides[FN_MAX_DIMS];
} fn_where_f32_params;

/* out[i] = cond[i] ? a[ia] : b[ib]; cond holds one byte per output element (row-major,
 * nonzero = true: a constant, or a fn_compare_f32 result of the output's shape), a and b
 * broadcast by strides. out must not overlap cond, a or b unless it is exactly a (or b)
 * with the full shape. */
fn_status fn_where_f32(const fn_where_f32_params *p, const uint8_t *cond, const float *a, const float *b,
                       float *out);

/* Elementary functions without libm (generated code may not link it), float32 in and
 * out, IEEE special values as C99's <math.h> gives them (NaN in, NaN out). Largest
 * errors measured against float64 over every 2^10-th float bit pattern plus 600,001
 * points on [-30, 30] (tests/test_kernels_math_f32.py states the bounds it asserts):
 *   fn_expf       1.03 ulp (exhaustive); 0 below -104, +inf above 88.7228
 *   fn_expm1f     1.72 ulp
 *   fn_tanhf      1.50 ulp (exhaustive)
 *   fn_sigmoidf   2.40 ulp (exhaustive)
 *   fn_logf       0.75 ulp; -inf at +-0, NaN below 0
 *   fn_log1pf     1.44 ulp for x > -1
 *   fn_sqrtf      correctly rounded (exact)
 *   fn_erff       2.30 ulp
 *   fn_geluf      4.29 ulp (relative, also for x < -1/sqrt2 where 1 + erf cancels); NaN at -inf,
 *                 as ONNX's x/2 * (1 + erf(x/sqrt2)) gives
 *   fn_powf       0.5 ulp + 1e-14 relative (double inside; exact for y = 2, 0.5, 1, -1, 0) */
float fn_expf(float x);
float fn_expm1f(float x);
float fn_tanhf(float x);
float fn_sigmoidf(float x);
float fn_logf(float x);
float fn_log1pf(float x);
float fn_sqrtf(float x);
float fn_erff(float x);
float fn_geluf(float x);
float fn_powf(float x, float y);

#endif
