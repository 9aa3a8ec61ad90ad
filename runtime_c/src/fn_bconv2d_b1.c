/* firmnet runtime: binary 2-D convolution (XNOR-popcount), contract in fn_binary_b1.h.
 *
 * For each output pixel the range of filter taps inside the input is found once;
 * taps in the padding are skipped, so K (the valid values) is counted per pixel. */
#include "fn_binary_b1_impl.h"

fn_status fn_bconv2d_b1(const fn_bconv2d_b1_params *p, const uint32_t *input,
                        const uint32_t *weights, void *output)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL || !fn_bout_ok(&p->out)) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 || p->out_w < 1
        || p->out_c < 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1
        || p->pad_top < 0 || p->pad_left < 0) {
        return FN_ERR_ARG;
    }
    const int32_t words = (p->in_c + 31) / 32;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, out_c = p->out_c;
    const size_t filter_words = (size_t)kh * (size_t)kw * (size_t)words;
    const size_t row_bytes = fn_bout_row_bytes(p->out.kind, out_c);
    unsigned char *out = (unsigned char *)output;

    for (int32_t b = 0; b < p->batch; ++b) {
        const uint32_t *image = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)words;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t ky_lo = iy0 < 0 ? -iy0 : 0;
            const int32_t ky_hi = p->in_h - iy0 < kh ? p->in_h - iy0 : kh;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t kx_lo = ix0 < 0 ? -ix0 : 0;
                const int32_t kx_hi = p->in_w - ix0 < kw ? p->in_w - ix0 : kw;
                const int32_t taps = (ky_hi > ky_lo && kx_hi > kx_lo) ? (ky_hi - ky_lo) * (kx_hi - kx_lo) : 0;
                const int32_t valid = taps * p->in_c;
                const size_t run = (size_t)(kx_hi - kx_lo) * (size_t)words;   /* one filter row's valid words */
                uint32_t word = 0;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    int32_t mismatches = 0;
                    for (int32_t ky = ky_lo; ky < ky_hi && taps > 0; ++ky) {
                        const uint32_t *x = image + ((size_t)(iy0 + ky) * (size_t)p->in_w
                                                     + (size_t)(ix0 + kx_lo)) * (size_t)words;
                        const uint32_t *w = weights + (size_t)oc * filter_words
                                            + ((size_t)ky * (size_t)kw + (size_t)kx_lo) * (size_t)words;
                        mismatches += fn_b1_mismatches(x, w, (int32_t)run);
                    }
                    fn_bout_put(&p->out, out, oc, out_c, valid - 2 * mismatches, &word);
                }
                out += row_bytes;
            }
        }
    }
    return FN_OK;
}
