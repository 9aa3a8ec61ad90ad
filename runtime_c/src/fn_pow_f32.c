/* firmnet runtime: pow(x, y) in float32 without libm, with C99's special cases, and the
 * element-wise kernels that use it (fn_unary_pow_f32, fn_binary_pow_f32: row by row over
 * the broadcast walk of fn_broadcast.h, one row is one inner loop).
 *
 * |x|^y = 2^(y * log2|x|) is computed in double: the exponent t = y * log2|x| reaches
 * 150 in magnitude, so a float t would carry an absolute error of 2^-17 (hundreds of
 * ulps in the result). log|x| = k ln2 + 2 atanh(s), s = (m - 1)/(m + 1) for
 * m in [sqrt(1/2), sqrt(2)) (|s| <= 0.1716; the atanh series to s^17 leaves < 1e-15);
 * 2^t = 2^j * exp(r ln2), |r| <= 1/2, exp by its Taylor series to degree 13 (< 1e-15).
 * The double result, relative error below 1e-14, is rounded once to float: within
 * half an ulp plus that, so pow is correctly rounded except within 1e-14 of a tie.
 * Double arithmetic costs library calls on single-precision FPUs; the common
 * exponents have float paths: y = 2 (x*x, exact), 0.5 (fn_sqrtf, exact), 1, -1, 0. */
#include "fn_elementwise_f32.h"
#include "fn_broadcast.h"
#include "fn_clamp.h"
#include "fn_float_bits.h"

#define FN_LN2_D 0.6931471805599453094
#define FN_INV_LN2_D 1.4426950408889634074

/* y as an integer: 0 not an integer, 1 odd, 2 even (|y| >= 2^24 is even). */
static int integer_kind(float y)
{
    float a = y < 0.0f ? -y : y;
    int32_t i;
    if (a >= 0x1p24f) {
        return 2;
    }
    i = (int32_t)a;
    if ((float)i != a) {
        return 0;
    }
    return (i & 1) ? 1 : 2;
}

/* log2(a) for a finite float a > 0 */
static double log2_pos(float a)
{
    uint32_t u = fn_f32_bits(a);
    int32_t k = 0;
    double m, s, z, p;
    int n;
    if (u < 0x00800000u) {
        u = fn_f32_bits(a * 0x1p25f);
        k = -25;
    }
    k += (int32_t)(u >> 23) - 127;
    m = (double)fn_f32_from_bits((u & 0x007fffffu) | 0x3f800000u);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        k += 1;
    }
    s = (m - 1.0) / (m + 1.0);
    z = s * s;
    p = 1.0 / 17.0;
    for (n = 15; n >= 1; n -= 2) {
        p = 1.0 / (double)n + z * p;
    }
    return (double)k + 2.0 * s * p * FN_INV_LN2_D;
}

/* 2^t rounded to float, for -152 < t < 129 */
static float exp2_to_float(double t)
{
    double j = (double)(int32_t)(t >= 0.0 ? t + 0.5 : t - 0.5);
    double r = (t - j) * FN_LN2_D;
    double e = 1.0, term = 1.0, scale = 1.0;
    int32_t n, k = (int32_t)j;
    for (n = 1; n <= 13; ++n) {
        term *= r / (double)n;
        e += term;
    }
    /* 2^k as a product of powers of two that are normal doubles */
    while (k > 60) {
        scale *= 1152921504606846976.0;     /* 2^60 */
        k -= 60;
    }
    while (k < -60) {
        scale *= 8.6736173798840354720e-19;  /* 2^-60 */
        k += 60;
    }
    while (k > 0) {
        scale *= 2.0;
        k -= 1;
    }
    while (k < 0) {
        scale *= 0.5;
        k += 1;
    }
    e *= scale;
    if (e >= 3.4028235677973366e38) {       /* 2^128 - 2^103: rounds to inf (checked: the cast would be UB) */
        return fn_f32_from_bits(0x7f800000u);
    }
    return (float)e;
}

float fn_powf(float x, float y)
{
    uint32_t ux = fn_f32_bits(x);
    float ax = x < 0.0f ? -x : x;
    float ay = y < 0.0f ? -y : y;
    float inf = fn_f32_from_bits(0x7f800000u);
    int odd, negative = 0;
    double t;
    if (y == 0.0f || x == 1.0f) {
        return 1.0f;                                 /* even for a NaN operand */
    }
    if (fn_isnanf(x) || fn_isnanf(y)) {
        return x + y;
    }
    if (y == 2.0f) {
        return x * x;
    }
    if (y == 1.0f) {
        return x;
    }
    if (y == -1.0f) {
        return 1.0f / x;
    }
    if (ay == inf) {
        if (ax == 1.0f) {
            return 1.0f;                             /* (-1)^+-inf */
        }
        return ((ax < 1.0f) == (y < 0.0f)) ? inf : 0.0f;
    }
    odd = integer_kind(y) == 1;
    if (ax == 0.0f || ax == inf) {
        /* +-0 and +-inf: |x|^y is 0 or inf; the sign is x's for odd integer y */
        float r = ((ax == 0.0f) == (y < 0.0f)) ? inf : 0.0f;
        return (odd && (ux & 0x80000000u)) ? -r : r;
    }
    if (ux & 0x80000000u) {
        if (integer_kind(y) == 0) {
            return fn_f32_from_bits(0x7fc00000u);    /* negative base, non-integer exponent */
        }
        negative = odd;
    } else if (y == 0.5f) {
        return fn_sqrtf(x);                          /* x > 0 here */
    }
    t = (double)y * log2_pos(ax);
    if (t >= 129.0) {
        return negative ? -inf : inf;
    }
    if (t <= -152.0) {
        return negative ? -0.0f : 0.0f;
    }
    {
        float r = exp2_to_float(t);
        return negative ? -r : r;
    }
}

fn_status fn_unary_pow_f32(const fn_unary_f32_params *p, const float *input, float *output)
{
    int32_t i;
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->op != FN_UNARY_POW) {
        return FN_ERR_ARG;
    }
    for (i = 0; i < p->count; ++i) {
        output[i] = fn_clampf(fn_powf(input[i], p->alpha), p->act_min, p->act_max);
    }
    return FN_OK;
}

fn_status fn_binary_pow_f32(const fn_binary_f32_params *p, const float *a, const float *b, float *out)
{
    fn_broadcast_walk w;
    if (p == NULL || a == NULL || b == NULL || out == NULL || p->op != FN_BINARY_POW ||
        !fn_broadcast_ok(p->ndim, p->out_shape, p->a_strides, p->b_strides)) {
        return FN_ERR_ARG;
    }
    fn_broadcast_start(&w, p->ndim, p->out_shape, p->a_strides, p->b_strides);
    do {
        const float *x = a + w.a_off, *y = b + w.b_off;
        float *o = out + w.o_off;
        ptrdiff_t i;
        for (i = 0; i < w.row; ++i) {
            o[i] = fn_clampf(fn_powf(x[i * w.a_step], y[i * w.b_step]), p->act_min, p->act_max);
        }
    } while (fn_broadcast_next(&w));
    return FN_OK;
}
