/* firmnet runtime: 1/sqrt(x) in float32 without libm (internal header).
 *
 * Exponent halving with the classic bit-level estimate, then three Newton steps
 * y <- y * (1.5 - 0.5 * x * y * y), all in float (no double, which a Cortex-M4F would
 * emulate). The estimate's relative error is below 3.5e-2; each step squares it
 * (times 1.5), so after three steps the method error is below 1e-8 and the float
 * rounding of the last step (written as a small correction, y + y * (0.5 - ...))
 * dominates: over every float32 exponent with 2^14 significands each the largest
 * error measured was 1.12 ulp; tests/test_kernels_norm_f32.py holds it to 2 ulp
 * (relative error < 2.4e-7) of 1/sqrt(x).
 * x below 2^-125 (subnormals included) is scaled by 2^64 first (and the result by 2^32),
 * so that 0.5 * x stays a normal number. Special values:
 * +0 and -0 give +inf, +inf gives +0, negative x and NaN give NaN. */
#ifndef FN_RSQRT_F32_H
#define FN_RSQRT_F32_H

#include <string.h>

#include "fn_common.h"

static inline float fn_rsqrtf(float x)
{
    uint32_t bits;
    float y, scale = 1.0f;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) == 0u) {
        bits = 0x7f800000u;                     /* +-0: +inf */
    } else if (bits == 0x7f800000u) {
        bits = 0u;                              /* +inf: +0 */
    } else if (bits >= 0x7f800000u) {
        bits = 0x7fc00000u;                     /* NaN or negative: NaN */
    } else {
        if (bits < 0x01000000u) {               /* below 2^-125: scaled so that 0.5 * x is normal */
            x *= 18446744073709551616.0f;
            scale = 4294967296.0f;
            memcpy(&bits, &x, sizeof bits);
        }
        bits = 0x5f3759dfu - (bits >> 1);
        memcpy(&y, &bits, sizeof y);
        {
            const float half_x = 0.5f * x;
            y = y * (1.5f - half_x * y * y);
            y = y * (1.5f - half_x * y * y);
            y = y + y * (0.5f - half_x * y * y);   /* same step as a small correction: less rounding */
        }
        return y * scale;
    }
    memcpy(&y, &bits, sizeof y);
    return y;
}

#endif
