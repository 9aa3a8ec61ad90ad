/* firmnet runtime: binary max pooling (OR of bits), contract in fn_binary_b1.h.
 * Valid because +1 > -1: the max of +-1 values is +1 exactly when one of them is,
 * and sign is monotone, so max pooling before or after the sign gives the same bits. */
#include "fn_binary_b1.h"

fn_status fn_bmaxpool2d_b1(const fn_bmaxpool2d_b1_params *p, const uint32_t *input, uint32_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->out_h < 1 || p->out_w < 1
        || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1
        || p->pad_top < 0 || p->pad_left < 0) {
        return FN_ERR_ARG;
    }
    const int32_t words = (p->channels + 31) / 32;
    uint32_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const uint32_t *image = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)words;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y_lo = iy0 < 0 ? 0 : iy0;
            const int32_t y_hi = iy0 + p->kernel_h < p->in_h ? iy0 + p->kernel_h : p->in_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x_lo = ix0 < 0 ? 0 : ix0;
                const int32_t x_hi = ix0 + p->kernel_w < p->in_w ? ix0 + p->kernel_w : p->in_w;
                if (y_lo >= y_hi || x_lo >= x_hi) {
                    return FN_ERR_ARG;
                }
                for (int32_t i = 0; i < words; ++i) {
                    out[i] = 0;
                }
                for (int32_t y = y_lo; y < y_hi; ++y) {
                    for (int32_t x = x_lo; x < x_hi; ++x) {
                        const uint32_t *px = image + ((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)words;
                        for (int32_t i = 0; i < words; ++i) {
                            out[i] |= px[i];
                        }
                    }
                }
                out += words;
            }
        }
    }
    return FN_OK;
}
