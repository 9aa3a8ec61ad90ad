/* firmnet runtime: exp, tanh and logistic in float32 without libm.
 *
 * exp(x) = 2^k * exp(r) with k = round(x / ln2) and r = x - k*ln2 reduced in two
 * steps (Cody-Waite: ln2 split in a high part with 9 trailing zero bits, so k*LN2_HI
 * is exact for |k| < 2^9), |r| <= ln2/2 (plus rounding). On that interval
 *     exp(r) - 1 = r + r^2 * q(r),
 * q a degree-4 polynomial fitted (minimax, relative error of exp(r) - 1) for this
 * file; the fit's own error is below 2e-8 relative, so rounding dominates.
 * 2^k is built from its IEEE bits with memcpy (no type punning through pointers or
 * unions). Every computation is in float: no double, which a Cortex-M4F would emulate. */
#include <string.h>

#include "fn_elementwise_f32.h"

#define FN_LOG2E 1.44269504088896341f
#define FN_LN2_HI 0.693145751953125f     /* 0x3f317200: 15 significant bits */
#define FN_LN2_LO 1.42860682030941723e-06f
#define FN_Q0 0.5f
#define FN_Q1 0.16666533f
#define FN_Q2 0.04166625f
#define FN_Q3 0.00836792f
#define FN_Q4 0.00139488f
/* tanh(x) = x + x^3 * T(x^2) for |x| < FN_TANH_POLY_MAX: degree-4 T fitted (minimax,
 * relative error of tanh, < 7e-9) so that small |x| needs no exp and has no cancellation. */
#define FN_TANH_POLY_MAX 0.625f
#define FN_T0 (-0.33333278f)
#define FN_T1 0.13331303f
#define FN_T2 (-0.05372754f)
#define FN_T3 0.0205979f
#define FN_T4 (-0.00565752f)

/* Largest float whose exp is finite, and a bound below which exp rounds to +0. */
#define FN_EXP_MAX_ARG 88.72283172607421875f   /* 0x42b17217 */
#define FN_EXP_MIN_ARG (-104.0f)                /* exp(-104) < 2^-150 */

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int is_nan(float x)
{
    return (float_to_bits(x) & 0x7fffffffu) > 0x7f800000u;
}

/* 2^k for -126 <= k <= 127. */
static float pow2i(int32_t k)
{
    return bits_to_float((uint32_t)(k + 127) << 23);
}

/* Reduction shared by exp and expm1: returns k, writes exp(r) - 1 to *em.
 * Valid for FN_EXP_MIN_ARG <= x <= FN_EXP_MAX_ARG (so |k| <= 151). */
static int32_t exp_reduce(float x, float *em)
{
    float t = x * FN_LOG2E;
    int32_t k = (int32_t)(t >= 0.0f ? t + 0.5f : t - 0.5f);
    float kf = (float)k;
    float r = (x - kf * FN_LN2_HI) - kf * FN_LN2_LO;
    float q = FN_Q0 + r * (FN_Q1 + r * (FN_Q2 + r * (FN_Q3 + r * FN_Q4)));
    *em = r + (r * r) * q;
    return k;
}

float fn_expf(float x)
{
    float em, p;
    int32_t k;
    if (is_nan(x)) {
        return x;
    }
    if (x > FN_EXP_MAX_ARG) {
        return bits_to_float(0x7f800000u);
    }
    if (x < FN_EXP_MIN_ARG) {
        return 0.0f;
    }
    k = exp_reduce(x, &em);
    p = 1.0f + em;
    if (k > 127) {                   /* only k == 128: result just below FLT_MAX */
        return p * pow2i(k - 1) * 2.0f;
    }
    if (k < -126) {                  /* subnormal result: one rounding, in the last multiply */
        return p * pow2i(k + 64) * pow2i(-64);
    }
    return p * pow2i(k);
}

/* exp(x) - 1 for 0 <= x <= 64 (relative accuracy also near 0, for k == 0). */
static float expm1_nonneg(float x)
{
    float em;
    int32_t k = exp_reduce(x, &em);
    float s;
    if (k == 0) {
        return em;
    }
    s = pow2i(k);
    return s * em + (s - 1.0f);     /* both terms have the result's sign: no cancellation */
}

float fn_tanhf(float x)
{
    float ax, t, y;
    if (is_nan(x)) {
        return x;
    }
    ax = x < 0.0f ? -x : x;
    if (ax < 0x1p-12f) {
        return x;                    /* keeps -0 and subnormals; x^3/3 < x * 2^-25 */
    }
    if (ax < FN_TANH_POLY_MAX) {
        float s = x * x;
        return x + (x * s) * (FN_T0 + s * (FN_T1 + s * (FN_T2 + s * (FN_T3 + s * FN_T4))));
    }
    if (ax > 10.0f) {
        y = 1.0f;                    /* 1 - tanh(10) < 2^-25: rounds to 1 */
    } else {
        t = expm1_nonneg(2.0f * ax);
        y = t / (t + 2.0f);          /* tanh(a) = expm1(2a) / (expm1(2a) + 2) */
    }
    return (float_to_bits(x) & 0x80000000u) ? -y : y;
}

float fn_sigmoidf(float x)
{
    float e;
    if (is_nan(x)) {
        return x;
    }
    if (x >= 0.0f) {
        e = fn_expf(-x);             /* in (0, 1]: no overflow */
        return 1.0f / (1.0f + e);
    }
    e = fn_expf(x);                  /* in [0, 1): keeps relative accuracy down to subnormals */
    return e / (1.0f + e);
}
