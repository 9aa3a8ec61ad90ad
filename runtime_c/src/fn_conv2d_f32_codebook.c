/* firmnet runtime: float32 2-D convolution with palettized weights
 * (fn_conv2d_f32_codebook.h): per output pixel, the in-bounds taps' range once, then per
 * output channel its packed indices tap by tap, each weight looked up in the codebook and
 * added in fn_conv2d_f32's order. One copy of the loops per index width. */
#include "fn_clamp.h"
#include "fn_conv2d_f32_codebook.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

FN_ALWAYS_INLINE static inline void run(const fn_conv2d_f32_codebook_params *p, const float *input,
                                        const float *codebook, const uint8_t *indices, const float *bias,
                                        float *output, const int bits)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, kw = p->kernel_w;
    const size_t in_row = (size_t)p->in_w * (size_t)in_c, in_image = in_row * (size_t)p->in_h;
    const size_t row_bytes = fn_codebook_row_bytes(p->kernel_h * kw * in_c, bits);
    const size_t book_step = p->per_channel ? (size_t)1 << bits : 0;
    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx0, &kx1);
                const uint8_t *row = indices;
                const float *cb = codebook;
                for (int32_t o = 0; o < out_c; ++o) {
                    float acc = bias != NULL ? bias[o] : 0.0f;
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        const float *x_row = in_b + (size_t)(iy0 + ky * p->dilation_h) * in_row;
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            const float *x = x_row + (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_c;
                            const int32_t j0 = (ky * kw + kx) * in_c;
                            for (int32_t c = 0; c < in_c; ++c) {
                                acc += x[c] * cb[fn_codebook_index(row, j0 + c, bits)];
                            }
                        }
                    }
                    out[o] = fn_clampf(acc, p->act_min, p->act_max);
                    row += row_bytes;
                    cb += book_step;
                }
                out += out_c;
            }
        }
    }
}

FN_NOINLINE static void run_b2(const fn_conv2d_f32_codebook_params *p, const float *x, const float *cb,
                               const uint8_t *ix, const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 2);
}

FN_NOINLINE static void run_b4(const fn_conv2d_f32_codebook_params *p, const float *x, const float *cb,
                               const uint8_t *ix, const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 4);
}

FN_NOINLINE static void run_b8(const fn_conv2d_f32_codebook_params *p, const float *x, const float *cb,
                               const uint8_t *ix, const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 8);
}

fn_status fn_conv2d_f32_codebook(const fn_conv2d_f32_codebook_params *p, const float *input, const float *codebook,
                                 const uint8_t *indices, const float *bias, float *output)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || !fn_codebook_bits_ok(p->bits) ||
        (int64_t)p->kernel_h * p->kernel_w * p->in_c > INT32_MAX / 8) {
        return FN_ERR_ARG;
    }
    (p->bits == 2 ? run_b2 : p->bits == 4 ? run_b4 : run_b8)(p, input, codebook, indices, bias, output);
    return FN_OK;
}
