/* firmnet runtime: int8 3x3 stride-1 convolution by Winograd F(2x2, 3x3) for CPUs with the
 * DSP extension (fn_s8_dsp.h; arithmetic and bounds in fn_conv2d_s8_winograd.h): the tile
 * walk and transforms of the portable kernel, the products two channels per SMLAD. The
 * transformed inputs (scratch) and filter hold pairs of adjacent channels as one word
 * (in_c_pad is even); per word of each of 2 tiles and 2 output channels, 4 loads and 4
 * SMLADs make 8 products. SMLAD's accumulation wraps modulo 2^32 like the portable
 * uint32_t sums (its Q flag is not read), so the bytes are the same. */
#include "fn_conv2d_s8_winograd_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
/* The product loop (fn_wino_s8_mac) with SMLAD. */
static void wino_mac_dsp(const int16_t *v0, const int16_t *v1, const int16_t *u0, const int16_t *u1, int32_t cp,
                         uint32_t m[4][16])
{
    const int32_t words = cp / 2;
    for (int32_t k = 0; k < 16; ++k) {
        int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        for (int32_t i = 0; i < words; ++i) {
            const int32_t x0 = fn_load4(v0 + 2 * i), x1 = fn_load4(v1 + 2 * i);
            const int32_t w0 = fn_load4(u0 + 2 * i), w1 = fn_load4(u1 + 2 * i);
            a00 = __smlad(x0, w0, a00);
            a01 = __smlad(x0, w1, a01);
            a10 = __smlad(x1, w0, a10);
            a11 = __smlad(x1, w1, a11);
        }
        m[0][k] = (uint32_t)a00;
        m[1][k] = (uint32_t)a01;
        m[2][k] = (uint32_t)a10;
        m[3][k] = (uint32_t)a11;
        v0 += cp;
        v1 += cp;
        u0 += cp;
        u1 += cp;
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
    fn_wino_s8_run(p, input, filter, bias, output, (int16_t *)scratch, wino_mac_dsp);
#else
    /* without the extension (a host build of a project for a CPU that has it): the portable
     * loop, the same bytes */
    fn_wino_s8_run(p, input, filter, bias, output, (int16_t *)scratch, wino_mac_portable);
#endif
    return FN_OK;
}
