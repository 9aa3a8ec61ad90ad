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
#include "fn_elementwise_f32.h"
#include "fn_float_bits.h"

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

/* 2^k for -126 <= k <= 127. */
static float pow2i(int32_t k)
{
    return fn_f32_from_bits((uint32_t)(k + 127) << 23);
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
    if (fn_isnanf(x)) {
        return x;
    }
    if (x > FN_EXP_MAX_ARG) {
        return fn_f32_from_bits(0x7f800000u);
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
    if (fn_isnanf(x)) {
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
    return (fn_f32_bits(x) & 0x80000000u) ? -y : y;
}

float fn_sigmoidf(float x)
{
    float e;
    if (fn_isnanf(x)) {
        return x;
    }
    if (x >= 0.0f) {
        e = fn_expf(-x);             /* in (0, 1]: no overflow */
        return 1.0f / (1.0f + e);
    }
    e = fn_expf(x);                  /* in [0, 1): keeps relative accuracy down to subnormals */
    return e / (1.0f + e);
}

/* exp(x) - 1 over the whole float range. */
float fn_expm1f(float x)
{
    float em, s;
    int32_t k;
    if (fn_isnanf(x)) {
        return x;
    }
    if (x > 16.0f) {
        return fn_expf(x) - 1.0f;    /* exp(x) > 2^23: the subtraction costs at most half an ulp */
    }
    if (x < -18.0f) {
        return -1.0f;                /* exp(-18) < 2^-25: -1 + exp(x) rounds to -1 */
    }
    if ((x < 0.0f ? -x : x) < 0x1p-25f) {
        return x;                    /* x^2/2 < |x| * 2^-26; keeps -0 and subnormals */
    }
    k = exp_reduce(x, &em);
    if (k == 0) {
        return em;
    }
    s = pow2i(k);                    /* |k| <= 26: s - 1 is exact */
    return s * em + (s - 1.0f);
}

/* log(x) = k*ln2 + log(m), m = x / 2^k in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), and
 *     log(1 + f) = 2 atanh(s) = 2s + s*R(z), s = f / (2 + f), z = s^2,
 * with R(z) = 2z/3 + 2z^2/5 + 2z^3/7 + 2z^4/9 (the series: |s| <= 0.1716, so the
 * first term left out is below 2e-9 of the result). Written as
 *     f - (hfsq - s*(hfsq + R)),  hfsq = f^2/2,
 * f, exact, carries the leading bits; the rounding of s only touches smaller terms. */
#define FN_L1 0.66666668653f    /* 2/3 */
#define FN_L2 0.40000000596f    /* 2/5 */
#define FN_L3 0.28571429849f    /* 2/7 */
#define FN_L4 0.22222222388f    /* 2/9 */

float fn_logf(float x)
{
    uint32_t u = fn_f32_bits(x);
    int32_t k = 0;
    float m, f, s, z, r, hfsq, kf;
    if (fn_isnanf(x)) {
        return x;
    }
    if ((u & 0x7fffffffu) == 0) {
        return -fn_f32_from_bits(0x7f800000u);           /* log(+-0) = -inf */
    }
    if (u & 0x80000000u) {
        return fn_f32_from_bits(0x7fc00000u);            /* log(negative) = NaN */
    }
    if (u == 0x7f800000u) {
        return x;                                        /* log(+inf) = +inf */
    }
    if (u < 0x00800000u) {                               /* subnormal: scale into the normal range */
        u = fn_f32_bits(x * 0x1p25f);
        k = -25;
    }
    k += (int32_t)(u >> 23) - 127;
    m = fn_f32_from_bits((u & 0x007fffffu) | 0x3f800000u);   /* [1, 2) */
    if (m > 1.41421356f) {
        m *= 0.5f;
        k += 1;
    }
    f = m - 1.0f;
    s = f / (2.0f + f);
    z = s * s;
    r = z * (FN_L1 + z * (FN_L2 + z * (FN_L3 + z * FN_L4)));
    hfsq = 0.5f * f * f;
    kf = (float)k;
    return kf * FN_LN2_HI - ((hfsq - (s * (hfsq + r) + kf * FN_LN2_LO)) - f);
}

/* log(1 + x) for x > -1: log(c) for c = 1 + x rounded, plus the first-order
 * correction (x - (c - 1)) / c for the rounding of c. */
float fn_log1pf(float x)
{
    float c;
    if (fn_isnanf(x)) {
        return x;
    }
    if ((x < 0.0f ? -x : x) < 0x1p-24f) {
        return x;                    /* x^2/2 < |x| * 2^-25; keeps -0 and subnormals */
    }
    c = 1.0f + x;
    if (c == 0.0f || c > 0x1p24f) {
        return fn_logf(c);           /* -inf at x = -1; beyond 2^24 the correction is below half an ulp */
    }
    return fn_logf(c) + (x - (c - 1.0f)) / c;
}

/* Correctly rounded square root from the integer square root of the significand.
 * x = m * 2^e with m an integer in [2^23, 2^25) and e even; q = floor(sqrt(m * 2^26)) has
 * 25 or 26 bits; keeping 24 of them plus the round bit, and a sticky bit for the rest
 * and the remainder, gives round-to-nearest-even exactly. */
float fn_sqrtf(float x)
{
    uint32_t u = fn_f32_bits(x);
    int32_t e;
    uint64_t m, rem, q, bit;
    uint32_t sig, guard, sticky, shift;
    if (fn_isnanf(x) || (u & 0x7fffffffu) == 0 || u == 0x7f800000u) {
        return x;                                        /* NaN, +-0, +inf */
    }
    if (u & 0x80000000u) {
        return fn_f32_from_bits(0x7fc00000u);            /* sqrt(negative) = NaN */
    }
    if (u >= 0x00800000u) {
        m = (u & 0x007fffffu) | 0x00800000u;
        e = (int32_t)(u >> 23) - 150;                    /* x = m * 2^e */
    } else {
        m = u;                                           /* subnormal: x = m * 2^-149, normalized */
        e = -149;
        while (m < 0x00800000u) {
            m <<= 1;
            e -= 1;
        }
    }
    if (e & 1) {
        m <<= 1;
        e -= 1;
    }
    m <<= 26;                                            /* sqrt(x) = sqrt(m) * 2^(e/2 - 13) */
    /* bit-by-bit integer square root of m (< 2^51) */
    q = 0;
    rem = m;
    bit = (uint64_t)1 << 50;
    while (bit > rem) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (rem >= q + bit) {
            rem -= q + bit;
            q = (q >> 1) + bit;
        } else {
            q >>= 1;
        }
        bit >>= 2;
    }
    /* q = floor(sqrt(m)), rem = m - q^2. Keep 25 bits: 24 + the round bit. */
    e = e / 2 - 13;
    shift = 0;
    while ((q >> shift) >= ((uint64_t)1 << 25)) {
        shift += 1;
    }
    sticky = (rem != 0) || (q & (((uint64_t)1 << shift) - 1)) != 0;
    q >>= shift;
    e += (int32_t)shift;
    guard = (uint32_t)(q & 1u);
    sig = (uint32_t)(q >> 1);                           /* 24 bits: 1.xxx */
    e += 1;
    if (guard && (sticky || (sig & 1u))) {
        sig += 1;
        if (sig == 0x01000000u) {
            sig >>= 1;
            e += 1;
        }
    }
    /* value = sig * 2^e, sig in [2^23, 2^24): biased exponent e + 23 + 127 (always normal) */
    return fn_f32_from_bits(((uint32_t)(e + 150) << 23) | (sig & 0x007fffffu));
}
