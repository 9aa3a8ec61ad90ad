/* firmnet runtime: int8 2-D convolution with palettized weights (fn_conv2d_s8_codebook.h):
 * per output pixel, the in-bounds taps' range once (fn_tap_range: no branch per tap), then
 * per output channel its packed indices tap by tap, each weight looked up in the codebook.
 * One copy of the loops per index width (constant bits). */
#include "fn_conv2d_s8_codebook.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

FN_ALWAYS_INLINE static inline void run(const fn_conv2d_s8_codebook_params *p, const int8_t *input,
                                        const int8_t *codebook, const uint8_t *indices, const fn_fast_out_s8 *f,
                                        int fast, const fn_channel_stage_s8 *stage, int8_t *output, const int bits)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, kw = p->kernel_w, off = p->input_offset;
    const size_t in_row = (size_t)p->in_w * (size_t)in_c, in_image = in_row * (size_t)p->in_h;
    const size_t row_bytes = fn_codebook_row_bytes(p->kernel_h * kw * in_c, bits);
    const size_t book_step = p->per_channel ? (size_t)1 << bits : 0;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx0, &kx1);
                const uint8_t *row = indices;
                const int8_t *cb = codebook;
                for (int32_t o = 0; o < out_c; ++o) {
                    int32_t acc = 0;
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        const int8_t *x_row = in_b + (size_t)(iy0 + ky * p->dilation_h) * in_row;
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            const int8_t *x = x_row + (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_c;
                            const int32_t j0 = (ky * kw + kx) * in_c;
                            for (int32_t c = 0; c < in_c; ++c) {
                                acc += ((int32_t)x[c] + off) * cb[fn_codebook_index(row, j0 + c, bits)];
                            }
                        }
                    }
                    out[o] = fn_finish_one_s8(f, fast, stage, o, acc);
                    row += row_bytes;
                    cb += book_step;
                }
                out += out_c;
            }
        }
    }
}

FN_NOINLINE static void run_b2(const fn_conv2d_s8_codebook_params *p, const int8_t *x, const int8_t *cb,
                               const uint8_t *ix, const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *st,
                               int8_t *out)
{
    run(p, x, cb, ix, f, fast, st, out, 2);
}

FN_NOINLINE static void run_b4(const fn_conv2d_s8_codebook_params *p, const int8_t *x, const int8_t *cb,
                               const uint8_t *ix, const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *st,
                               int8_t *out)
{
    run(p, x, cb, ix, f, fast, st, out, 4);
}

FN_NOINLINE static void run_b8(const fn_conv2d_s8_codebook_params *p, const int8_t *x, const int8_t *cb,
                               const uint8_t *ix, const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *st,
                               int8_t *out)
{
    run(p, x, cb, ix, f, fast, st, out, 8);
}

fn_status fn_conv2d_s8_codebook(const fn_conv2d_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                                const uint8_t *indices, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || !fn_codebook_bits_ok(p->bits) ||
        (int64_t)p->kernel_h * p->kernel_w * p->in_c > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, p->out_c)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_c);
    (p->bits == 2 ? run_b2 : p->bits == 4 ? run_b4 : run_b8)(p, input, codebook, indices, &f, fast, &stage, output);
    return FN_OK;
}
