/* firmnet runtime: erf and GELU in float32 without libm.
 *
 * |x| < 1:  erf(x) = x * S(x^2), S a degree-6 polynomial fitted for this file
 *           (least squares on Chebyshev nodes, relative error of erf(x)/x < 1.4e-9).
 * |x| >= 1: erfc(a) = exp(-a^2) * R(a) / a, R(a) = a * exp(a^2) * erfc(a) (smooth,
 *           0.43 at 1, 1/sqrt(pi) at infinity) fitted as a polynomial in 1/a - c on
 *           [1, 2.5) (degree 8, < 6e-9) and [2.5, 10.13) (degree 6, < 4e-9), and for
 *           GELU on [0.5, 1) (degree 8, < 7e-8 evaluated in float); a^2 is
 *           split exactly into hi + lo (Dekker's product) so that exp(-a^2) loses
 *           nothing to the rounding of a^2. erf(a) = 1 - erfc(a); erf(a) rounds to 1
 *           from a = 3.92 on.
 * GELU(x) = x/2 * (1 + erf(x/sqrt2)); for x <= -1/sqrt2 it is computed as
 *           x/2 * erfc(-x/sqrt2) with exp(-x^2/2) last, so results keep their relative
 *           accuracy down to the subnormal range (no cancellation in 1 + erf). */
#include "fn_elementwise_f32.h"
#include "fn_float_bits.h"

#define FN_INV_SQRT2 0.70710678118654752f

#define FN_S0 1.128379225730896f
#define FN_S1 (-0.3761262893676758f)
#define FN_S2 0.11283612251281738f
#define FN_S3 (-0.026854809373617172f)
#define FN_S4 0.00519005348905921f
#define FN_S5 (-0.0008024353883229196f)
#define FN_S6 7.898209878476337e-05f

/* R on [0.5, 1) in u = 1/a - FN_R0_C (GELU only) */
#define FN_R0_C 1.5f
#define FN_R00 0.3595229387283325f
#define FN_R01 (-0.11839804798364639f)
#define FN_R02 0.033156976103782654f
#define FN_R03 (-0.005931837484240532f)
#define FN_R04 (-0.0011655143462121487f)
#define FN_R05 0.0020441908854991198f
#define FN_R06 (-0.0014841313241049647f)
#define FN_R07 0.000949607347138226f
#define FN_R08 (-0.0004541359667200595f)
/* R on [1, 2.5) in u = 1/a - FN_RA_C */
#define FN_RA_C 0.7f
#define FN_RA0 0.4766766428947449f
#define FN_RA1 (-0.17068704962730408f)
#define FN_RA2 0.012497851625084877f
#define FN_RA3 0.05136389657855034f
#define FN_RA4 (-0.060545485466718674f)
#define FN_RA5 0.04345026984810829f
#define FN_RA6 (-0.017850885167717934f)
#define FN_RA7 (-0.011238778941333294f)
#define FN_RA8 0.026233457028865814f
/* R on [2.5, 10.13) in u = 1/a - FN_RB_C */
#define FN_RB_C 0.249504953622818f
#define FN_RB0 0.5480569005012512f
#define FN_RB1 (-0.11928068846464157f)
#define FN_RB2 (-0.16811440885066986f)
#define FN_RB3 0.21958589553833008f
#define FN_RB4 (-0.026931650936603546f)
#define FN_RB5 (-0.2761070728302002f)
#define FN_RB6 0.3779388666152954f

/* erf(x) for |x| < 1 */
static float erf_small(float x)
{
    float z = x * x;
    return x * (FN_S0 + z * (FN_S1 + z * (FN_S2 + z * (FN_S3 + z * (FN_S4 + z * (FN_S5 + z * FN_S6))))));
}

/* R(a) = a * exp(a^2) * erfc(a) for 0.5 <= a < 10.13 */
static float tail_r(float a)
{
    float u;
    if (a < 1.0f) {
        u = 1.0f / a - FN_R0_C;
        return FN_R00 + u * (FN_R01 + u * (FN_R02 + u * (FN_R03 + u * (FN_R04 + u * (FN_R05 + u * (FN_R06
               + u * (FN_R07 + u * FN_R08)))))));
    }
    if (a < 2.5f) {
        u = 1.0f / a - FN_RA_C;
        return FN_RA0 + u * (FN_RA1 + u * (FN_RA2 + u * (FN_RA3 + u * (FN_RA4 + u * (FN_RA5 + u * (FN_RA6
               + u * (FN_RA7 + u * FN_RA8)))))));
    }
    u = 1.0f / a - FN_RB_C;
    return FN_RB0 + u * (FN_RB1 + u * (FN_RB2 + u * (FN_RB3 + u * (FN_RB4 + u * (FN_RB5 + u * FN_RB6)))));
}

/* x * x = *hi + *lo exactly (Dekker: x split into two 12-bit halves), for |x| < 2^60 */
static void square_exact(float x, float *hi, float *lo)
{
    float c = 4097.0f * x;
    float xh = c - (c - x);
    float xl = x - xh;
    *hi = x * x;
    *lo = ((xh * xh - *hi) + 2.0f * xh * xl) + xl * xl;
}

float fn_erff(float x)
{
    float a, hi, lo, erfc;
    if (fn_isnanf(x)) {
        return x;
    }
    a = x < 0.0f ? -x : x;
    if (a < 1.0f) {
        return erf_small(x);
    }
    if (a >= 4.0f) {
        erfc = 0.0f;                /* erfc(4) < 2^-26: erf rounds to +-1 */
    } else {
        square_exact(a, &hi, &lo);
        erfc = (tail_r(a) / a) * (1.0f - lo) * fn_expf(-hi);
    }
    return x < 0.0f ? erfc - 1.0f : 1.0f - erfc;
}

float fn_geluf(float x)
{
    float a, hi, lo;
    if (fn_isnanf(x)) {
        return x;
    }
    a = -x * FN_INV_SQRT2;
    if (a < 0.5f) {                  /* x > -1/sqrt2: 1 + erf >= 0.48, no cancellation worth avoiding */
        return 0.5f * x * (1.0f + fn_erff(-a));
    }
    if (a >= 10.13f) {               /* |GELU(x)| < 2^-150: -0, and NaN at -inf as x/2 * (1 + erf) gives */
        return (fn_f32_bits(x) == 0xff800000u) ? fn_f32_from_bits(0x7fc00000u) : -0.0f;
    }
    square_exact(x, &hi, &lo);       /* x^2 = hi + lo; a^2 = x^2 / 2 */
    return ((0.5f * x / a) * tail_r(a) * (1.0f - 0.5f * lo)) * fn_expf(-0.5f * hi);
}
