/* firmnet runtime: int8 depthwise convolution, depth multiplier 1, for CPUs with MVE
 * (fn_s8_mve.h). Per output pixel and block of 4 channels (the filter's blocks, fn_conv_s8.h)
 * the taps are 32-bit lanes: VLDRB.S32 of 4 inputs and 4 weights, VMUL, VADD. A pixel whose
 * window lies inside the input sums the raw products, the table's input-offset term
 * (input_offset * the block's weight sum) completing them; a border pixel sums
 * (x + input_offset) * w over its in-bounds taps and takes that term off again (modulo 2^32:
 * the result is the exact sum either way). Output stage: fn_mve_finish4. Where FN_MVE is 0
 * the portable kernel fn_depthwise_conv2d_s8 runs after the variant's own checks. */
#include "fn_depthwise_s8_impl.h"
#include "fn_s8_mve_impl.h"

#if FN_MVE
/* input_offset * SUM over the taps of each channel's weights into the table (corr, accb). */
static void dw_corr(int32_t *tab, int32_t n, int32_t taps, const int8_t *filter, int32_t input_offset)
{
    const int32_t npad = (n + 3) / 4 * 4;
    int32_t *const corr = tab, *const accb = tab + npad;
    for (int32_t c = 0; c < npad; ++c) {
        const int32_t cc = c < n ? c : n - 1;
        const int32_t c0 = cc / 4 * 4, nb = n - c0 < 4 ? n - c0 : 4;
        const int8_t *w = filter + (size_t)c0 * (size_t)taps + (cc - c0);
        int32_t s = 0;
        for (int32_t t = 0; t < taps; ++t) {
            s += w[(size_t)t * (size_t)nb];
        }
        corr[c] = (int32_t)((uint32_t)input_offset * (uint32_t)s);
        accb[c] = (int32_t)((uint32_t)accb[c] + (uint32_t)corr[c]);
    }
}
#endif

fn_status fn_depthwise_conv2d_s8_mve(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || scratch == NULL || fn_depthwise_conv2d_s8_mve_scratch_size(p) == 0 ||
        !fn_dw_s8_args_ok(p, input, filter, output)) {
        return FN_ERR_ARG;
    }
#if FN_MVE
    const int32_t in_c = p->in_c, kh = p->kernel_h, kw = p->kernel_w, taps = kh * kw;
    const int32_t off = p->input_offset;
    const size_t row = (size_t)p->in_w * (size_t)in_c;
    fn_mve_out o;
    fn_mve_out_init(&o, (int32_t *)scratch, in_c, NULL, 0, 0, 0, bias, &p->requant);
    dw_corr((int32_t *)scratch, in_c, taps, filter, off);
    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *const image = input + (size_t)b * (size_t)p->in_h * row;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, p->dilation_h, kh, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx0, &kx1);
                const int full = ky0 == 0 && ky1 == kh && kx0 == 0 && kx1 == kw;
                for (int32_t c0 = 0; c0 < in_c; c0 += 4) {
                    const int32_t nb = in_c - c0 < 4 ? in_c - c0 : 4;
                    const mve_pred16_t pr = vctp32q((uint32_t)nb);
                    const int8_t *const wb = filter + (size_t)c0 * (size_t)taps;
                    int32x4_t acc = vdupq_n_s32(0);
                    if (full) {
                        for (int32_t ky = 0; ky < kh; ++ky) {
                            const int8_t *x = image + (size_t)(iy0 + ky * p->dilation_h) * row +
                                              (size_t)ix0 * (size_t)in_c + (size_t)c0;
                            const int8_t *w = wb + (size_t)(ky * kw) * (size_t)nb;
                            for (int32_t kx = 0; kx < kw; ++kx) {
                                acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(x, pr), vldrbq_z_s32(w, pr)));
                                x += (size_t)p->dilation_w * (size_t)in_c;
                                w += nb;
                            }
                        }
                    } else {
                        for (int32_t ky = ky0; ky < ky1; ++ky) {
                            for (int32_t kx = kx0; kx < kx1; ++kx) {
                                const int8_t *x = image + (size_t)(iy0 + ky * p->dilation_h) * row +
                                                  (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_c + (size_t)c0;
                                const int8_t *w = wb + (size_t)(ky * kw + kx) * (size_t)nb;
                                const int32x4_t xv = vaddq_n_s32(vldrbq_z_s32(x, pr), off);
                                acc = vaddq_s32(acc, vmulq_s32(xv, vldrbq_z_s32(w, pr)));
                            }
                        }
                        acc = vsubq_s32(acc, vldrwq_s32(o.corr + c0));
                    }
                    fn_mve_finish4(&o, c0, nb, acc, out);
                }
                out += in_c;
            }
        }
    }
    return FN_OK;
#else
    return fn_depthwise_conv2d_s8(p, input, filter, bias, output);
#endif
}
