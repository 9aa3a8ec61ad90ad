/* firmnet runtime, internal: the int16-pair helpers of the int16-weight kernels
 * (fn_conv2d_s8_w16_dsp, fn_conv2d_1x1_s8_w16_dsp, fn_fc_s8_w16_dsp): words of two int16
 * values from any address, packing, and SMLAD (its arithmetic in C where FN_DSP is 0, so the
 * portable path gives the DSP path's bytes). */
#ifndef FN_W16_IMPL_H
#define FN_W16_IMPL_H

#include <stdint.h>
#include <string.h>

#include "fn_dsp.h"

/* A word (two int16 values, little-endian) from any address, and back. */
static inline int32_t ld2(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st2(int16_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* Two 16-bit values as a word: lo in bits 0-15, hi in 16-31. */
static inline int32_t pack2(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

#if FN_DSP
#define SMLAD(x, y, acc) __smlad((x), (y), (acc))
#else
/* SMLAD's arithmetic: acc + lo(x) * lo(y) + hi(x) * hi(y), modulo 2^32 (16-bit signed lanes). */
static inline int32_t lane(int32_t v, int hi)
{
    const uint32_t u = ((uint32_t)v >> (hi ? 16 : 0)) & 0xFFFFu;
    return u >= 0x8000u ? (int32_t)u - 65536 : (int32_t)u;
}

static inline int32_t SMLAD(int32_t x, int32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(lane(x, 0) * lane(y, 0)) + (uint32_t)(lane(x, 1) * lane(y, 1)));
}
#endif

#endif
