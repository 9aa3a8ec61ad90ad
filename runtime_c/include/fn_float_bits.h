/* firmnet runtime: float32 <-> IEEE-754 bits, through memcpy (no type punning through
 * pointers or unions), for the math functions written without libm (internal header). */
#ifndef FN_FLOAT_BITS_H
#define FN_FLOAT_BITS_H

#include <string.h>

#include "fn_common.h"

static inline float fn_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t fn_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline int fn_isnanf(float x)
{
    return (fn_f32_bits(x) & 0x7fffffffu) > 0x7f800000u;
}

#endif
