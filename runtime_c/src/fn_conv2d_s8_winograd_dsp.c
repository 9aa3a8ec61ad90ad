/* firmnet runtime: int8 3x3 stride-1 convolution by Winograd F(2x2, 3x3) for CPUs with the
 * DSP extension (fn_s8_dsp.h; arithmetic and bounds in fn_conv2d_s8_winograd.h): the tile
 * walk of the portable kernel with
 *   - the input transform 4 channels at a time: a word of 4 input bytes widened with the
 *     offset into two words of 16-bit lanes, (c0, c2) and (c1, c3) (SXTAB16), the transform's
 *     additions on both lanes at once (SADD16, SSUB16; |V| <= 1020 never wraps a lane), the
 *     results packed back into channel pairs (c0, c1), (c2, c3) (PKHBT, PKHTB);
 *   - the products two channels per SMLAD: per channel pair, the 2 tiles' words and the 2
 *     output channels' words (adjacent in the interleaved layout) and 4 SMLADs make 8
 *     products. SMLAD's accumulation wraps modulo 2^32 like the portable uint32_t sums (its Q
 *     flag is not read), so the bytes are the same. */
#include "fn_conv2d_s8_winograd_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
static inline void store4(int16_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* V of 4 channels at v (v + wino_index(k, j, 0, cp), j < 4): wino_tile_channel for each, on
 * 16-bit lanes. */
static inline void wino_tile4(const int8_t *x, size_t col, size_t row, int32_t off2, size_t step, int16_t *v)
{
    int32_t fa[16], fb[16];   /* d B row by row: lanes (c0, c2) and (c1, c3) */
    for (int32_t r = 0; r < 4; ++r) {
        const int8_t *t = x + (size_t)r * row;
        const int32_t w0 = fn_load4(t), w1 = fn_load4(t + col), w2 = fn_load4(t + 2 * col),
                      w3 = fn_load4(t + 3 * col);
        int32_t a0 = __sxtab16(off2, w0), a1 = __sxtab16(off2, w1), a2 = __sxtab16(off2, w2),
                a3 = __sxtab16(off2, w3);
        fa[4 * r] = __ssub16(a0, a2);
        fa[4 * r + 1] = __sadd16(a1, a2);
        fa[4 * r + 2] = __ssub16(a2, a1);
        fa[4 * r + 3] = __ssub16(a1, a3);
        a0 = fn_sxtab16_ror8(off2, w0);
        a1 = fn_sxtab16_ror8(off2, w1);
        a2 = fn_sxtab16_ror8(off2, w2);
        a3 = fn_sxtab16_ror8(off2, w3);
        fb[4 * r] = __ssub16(a0, a2);
        fb[4 * r + 1] = __sadd16(a1, a2);
        fb[4 * r + 2] = __ssub16(a2, a1);
        fb[4 * r + 3] = __ssub16(a1, a3);
    }
    for (int32_t j = 0; j < 4; ++j) {   /* B^T (d B), column j */
        const int32_t a[4] = {__ssub16(fa[j], fa[8 + j]), __sadd16(fa[4 + j], fa[8 + j]),
                              __ssub16(fa[8 + j], fa[4 + j]), __ssub16(fa[4 + j], fa[12 + j])};
        const int32_t b[4] = {__ssub16(fb[j], fb[8 + j]), __sadd16(fb[4 + j], fb[8 + j]),
                              __ssub16(fb[8 + j], fb[4 + j]), __ssub16(fb[4 + j], fb[12 + j])};
        for (int32_t i = 0; i < 4; ++i) {
            int16_t *vk = v + (size_t)(4 * i + j) * step;
            const uint32_t ua = (uint32_t)a[i], ub = (uint32_t)b[i];
            store4(vk, (ua & 0xFFFFu) | (ub << 16));            /* (c0, c1) */
            store4(vk + 4, (ua >> 16) | (ub & 0xFFFF0000u));    /* (c2, c3): the next channel pair */
        }
    }
}

/* The input transform (fn_wino_s8_tile): 4 channels at a time, the rest one at a time. */
static void wino_tile_dsp(const int8_t *x, size_t row, int32_t in_c, int32_t offset, int32_t cp, int16_t *v)
{
    const int32_t off2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    const size_t step = 2 * (size_t)cp;
    int32_t c = 0;
    for (; c + 4 <= in_c; c += 4) {
        wino_tile4(x + c, (size_t)in_c, row, off2, step, v + wino_index(0, c, 0, cp));
    }
    for (; c < in_c; ++c) {
        wino_tile_channel(x + c, (size_t)in_c, row, offset, step, v + wino_index(0, c, 0, cp));
    }
    wino_pad_channel(in_c, cp, v);
}

/* 4 SMLADs: the channel pair of 2 tiles at v times that of 2 filters at u, into a0 .. a3 (a
 * macro: with the accumulators passed by address, GCC kept them in memory). */
#define WINO_MAC_STEP(v, u, a0, a1, a2, a3)                                                      \
    do {                                                                                         \
        const int32_t x0_ = fn_load4(v), x1_ = fn_load4((v) + 2);                                \
        const int32_t w0_ = fn_load4(u), w1_ = fn_load4((u) + 2);                                \
        a0 = __smlad(x0_, w0_, a0);                                                              \
        a1 = __smlad(x0_, w1_, a1);                                                              \
        a2 = __smlad(x1_, w0_, a2);                                                              \
        a3 = __smlad(x1_, w1_, a3);                                                              \
    } while (0)

/* The product loop for cp == 4 (3 or 4 input channels, an RGB first layer): two channel pairs
 * per position, without the general loop's per-position setup. */
static void wino_mac_dsp_c4(const int16_t *v, const int16_t *u, uint32_t m[4][16])
{
    for (int32_t k = 0; k < 16; ++k, v += 8, u += 8) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        WINO_MAC_STEP(v, u, a00, a01, a10, a11);
        WINO_MAC_STEP(v + 4, u + 4, a00, a01, a10, a11);
        m[0][k] = (uint32_t)a00;
        m[1][k] = (uint32_t)a01;
        m[2][k] = (uint32_t)a10;
        m[3][k] = (uint32_t)a11;
    }
}

/* The product loop (fn_wino_s8_mac) with SMLAD: per channel pair, the two tiles' words (x0,
 * x1) and the two filters' words (w0, w1), adjacent in the layout, make 4 SMLADs; two pairs
 * per step. */
static void wino_mac_dsp(const int16_t *v, const int16_t *u, int32_t cp, uint32_t m[4][16])
{
    if (cp == 4) {
        wino_mac_dsp_c4(v, u, m);
        return;
    }
    const size_t twice = (size_t)(cp / 4) * 8;   /* int16 values of the pairs taken two at a time */
    const int odd = (cp / 2) & 1;
    for (int32_t k = 0; k < 16; ++k) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        const int16_t *const end = v + twice;
        while (v != end) {
            WINO_MAC_STEP(v, u, a00, a01, a10, a11);
            WINO_MAC_STEP(v + 4, u + 4, a00, a01, a10, a11);
            v += 8;
            u += 8;
        }
        if (odd) {
            WINO_MAC_STEP(v, u, a00, a01, a10, a11);
            v += 4;
            u += 4;
        }
        m[0][k] = (uint32_t)a00;
        m[1][k] = (uint32_t)a01;
        m[2][k] = (uint32_t)a10;
        m[3][k] = (uint32_t)a11;
    }
}
#endif

fn_status fn_conv2d_s8_winograd_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                    const int32_t *bias, int8_t *output, void *scratch)
{
    if (!fn_wino_s8_args_ok(p, input, filter, output, scratch)) {
        return FN_ERR_ARG;
    }
#if FN_DSP
    fn_wino_s8_run(p, input, filter, bias, output, scratch, wino_tile_dsp, wino_mac_dsp);
#else
    /* without the extension (a host build of a project for a CPU that has it): the portable
     * code, the same bytes */
    fn_wino_s8_run(p, input, filter, bias, output, scratch, wino_tile_portable, wino_mac_portable);
#endif
    return FN_OK;
}
