/* firmnet runtime: the fused-activation clamp that kernels apply last (internal
 * header), for float32 and for int32 values in an output's integer domain. */
#ifndef FN_CLAMP_H
#define FN_CLAMP_H

#include "fn_common.h"

/* v clamped to [lo, hi], lo <= hi. NaN compares false and passes through (like
 * numpy.clip), so a NaN result of the operation stays NaN. */
static inline float fn_clampf(float v, float lo, float hi)
{
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return v;
}

/* v clamped to [lo, hi], lo <= hi. */
static inline int32_t fn_clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

#endif
