/* firmnet runtime: int8 2-D convolution, groups 1, kernel_h * kernel_w * in_c <=
 * FN_CONV_DSP_DEPTH, for CPUs with the DSP extension (fn_s8_dsp.h states its contract).
 *
 * Output pixels are taken two at a time; each one's window is copied once into the
 * scratch as 16-bit values x + input_offset (0 for padded taps), four at a time in the
 * order (x0, x2, x1, x3), which is the order SXTB16 widens a word of four weights in:
 * (w0, w2) and, rotated, (w1, w3). Output channels are then taken two at a time, and per 4
 * products of the window 2 weight loads, 4 SXTB16, 4 buffer loads and 8 SMLADs (2 MACs
 * each) serve the 2 pixels x 2 channels. A depth % 4 tail is summed one product at a time.
 * With a filter offset, each channel's sums start from filter_offset[c] times the window's
 * sum. The sums are the integers of fn_conv2d_s8 (|x + input_offset| <= 255 fits a
 * halfword; fn_conv_s8.h: no overflow in any order). The output stage is fn_fast_out_s8
 * where it applies, else fn_finish_channel_s8: the same bytes. */
#include "fn_conv_s8_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
/* The window of output pixel (b, oy, ox) into col: x + input_offset per tap, 0 where
 * padded, in the filter's order (ky, kx, channel); then each group of four values
 * reordered to (x0, x2, x1, x3). Rows are copied as runs: the in-bounds taps of a row
 * (found once) are adjacent in memory when dilation_w == 1. */
static void gather_window(const fn_conv2d_s8_params *p, const int8_t *input, int32_t pixel, int16_t *col)
{
    const int32_t ox = pixel % p->out_w;
    const int32_t oy = (pixel / p->out_w) % p->out_h;
    const int32_t b = pixel / (p->out_w * p->out_h);
    const int32_t in_c = p->in_c, in_w = p->in_w, kernel_w = p->kernel_w, offset = p->input_offset;
    const int32_t row_len = kernel_w * in_c;
    const int32_t depth = p->kernel_h * row_len;
    const int8_t *in_b = input + (size_t)b * (size_t)p->in_h * (size_t)in_w * (size_t)in_c;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    int32_t kx0, kx1;
    fn_tap_range(ix0, p->dilation_w, kernel_w, in_w, &kx0, &kx1);
    if (kx1 < kx0) {
        kx1 = kx0;
    }
    int16_t *dst = col;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky, dst += row_len) {
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h || kx1 == kx0) {
            for (int32_t i = 0; i < row_len; ++i) {
                dst[i] = 0;
            }
            continue;
        }
        const int8_t *row = in_b + (size_t)iy * (size_t)in_w * (size_t)in_c;
        for (int32_t i = 0; i < kx0 * in_c; ++i) {
            dst[i] = 0;
        }
        /* runs of in_c values, or one run of the whole in-bounds row when dilation_w == 1 */
        const int32_t run = p->dilation_w == 1 ? (kx1 - kx0) * in_c : in_c;
        const int32_t n_runs = p->dilation_w == 1 ? 1 : kx1 - kx0;
        for (int32_t r = 0; r < n_runs; ++r) {
            const int32_t kx = kx0 + r;
            const int8_t *x = row + (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_c;
            int16_t *d = dst + kx * in_c;
            for (int32_t c = 0; c < run; ++c) {
                d[c] = (int16_t)(x[c] + offset);
            }
        }
        for (int32_t i = kx1 * in_c; i < row_len; ++i) {
            dst[i] = 0;
        }
    }
    for (int32_t i = 0; i + 4 <= depth; i += 4) {   /* (x0, x1, x2, x3) -> (x0, x2, x1, x3) */
        const int16_t x1 = col[i + 1];
        col[i + 1] = col[i + 2];
        col[i + 2] = x1;
    }
}

/* SUM of the n values of col (a window, the filter offset's factor). */
static int32_t window_sum(const int16_t *col, int32_t n)
{
    int32_t sum = 0;
    for (int32_t i = 0; i < n; ++i) {
        sum += col[i];
    }
    return sum;
}

/* s[2 * a + k] += SUM over the window of col_a * w_k for pixels a = 0, 1 (col_1 = col +
 * FN_CONV_DSP_DEPTH) and channels k = 0, 1 (w_1 = w + depth); nw = 1: channel 0 only,
 * s[1] and s[3] untouched. */
static inline void dot_window(const int16_t *col, const int8_t *w, int32_t depth, int32_t nw, int32_t s[4])
{
    const int32_t depth4 = depth & ~3;
    const int16_t *x = col;
    const int8_t *w0 = w, *w1 = w + (nw == 2 ? depth : 0);
    const int8_t *const end = w + depth4;
    int32_t s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3];
    if (nw == 2) {
        for (; w0 != end; w0 += 4, w1 += 4, x += 4) {
            const int32_t a = fn_load4(w0);
            const int32_t a02 = __sxtb16(a), a13 = fn_sxtb16_ror8(a);
            const int32_t x02 = fn_load4(x), x13 = fn_load4(x + 2);
            s00 = __smlad(x02, a02, __smlad(x13, a13, s00));
            const int32_t y02 = fn_load4(x + FN_CONV_DSP_DEPTH), y13 = fn_load4(x + FN_CONV_DSP_DEPTH + 2);
            s10 = __smlad(y02, a02, __smlad(y13, a13, s10));
            const int32_t b = fn_load4(w1);
            const int32_t b02 = __sxtb16(b), b13 = fn_sxtb16_ror8(b);
            s01 = __smlad(x02, b02, __smlad(x13, b13, s01));
            s11 = __smlad(y02, b02, __smlad(y13, b13, s11));
        }
    } else {
        for (; w0 != end; w0 += 4, x += 4) {
            const int32_t a = fn_load4(w0);
            const int32_t a02 = __sxtb16(a), a13 = fn_sxtb16_ror8(a);
            s00 = __smlad(fn_load4(x), a02, __smlad(fn_load4(x + 2), a13, s00));
            s10 = __smlad(fn_load4(x + FN_CONV_DSP_DEPTH), a02, __smlad(fn_load4(x + FN_CONV_DSP_DEPTH + 2), a13, s10));
        }
    }
    for (int32_t i = depth4; i < depth; ++i) {   /* the tail, stored in order */
        s00 += col[i] * w0[i - depth4];
        s10 += col[FN_CONV_DSP_DEPTH + i] * w0[i - depth4];
        s01 += col[i] * w1[i - depth4];
        s11 += col[FN_CONV_DSP_DEPTH + i] * w1[i - depth4];
    }
    s[0] = s00;
    s[2] = s10;
    if (nw == 2) {
        s[1] = s01;
        s[3] = s11;
    }
}

/* Every output channel of the pixel pair whose windows col holds (see dot_window). */
FN_NOINLINE static void pixel_pair(const int16_t *col, const int8_t *filter, int32_t depth, int32_t out_c,
                                   const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                   const int32_t *fo, const int32_t sums[2], int8_t *out0, int8_t *out1)
{
    const int32_t sum0 = sums[0], sum1 = sums[1];
    for (int32_t c = 0; c < out_c; c += 2) {
        const int32_t nw = c + 1 < out_c ? 2 : 1;
        /* the sums start from the filter offset's term, filter_offset[c] * window sum */
        int32_t s[4] = {0, 0, 0, 0};
        if (fo != NULL) {
            const int32_t f1 = nw == 2 ? fo[c + 1] : 0;
            s[0] = fo[c] * sum0;
            s[1] = f1 * sum0;
            s[2] = fo[c] * sum1;
            s[3] = f1 * sum1;
        }
        dot_window(col, filter + (size_t)c * (size_t)depth, depth, nw, s);
        out1[c] = fn_finish_one_s8(f, fast, stage, c, s[2]);
        out0[c] = fn_finish_one_s8(f, fast, stage, c, s[0]);
        if (nw == 2) {
            out1[c + 1] = fn_finish_one_s8(f, fast, stage, c + 1, s[3]);
            out0[c + 1] = fn_finish_one_s8(f, fast, stage, c + 1, s[1]);
        }
    }
}

static void conv_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                     const fn_channel_stage_s8 *stage, int8_t *output, int16_t *col)
{
    const int32_t depth = p->kernel_h * p->kernel_w * p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t n_px = p->batch * p->out_h * p->out_w;
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, stage->bias, &stage->rq, out_c);
    for (int32_t px = 0; px < n_px; px += 2) {
        /* an odd last pixel is computed twice over (both buffers hold it), written once */
        const int32_t px1 = px + 1 < n_px ? px + 1 : px;
        gather_window(p, input, px, col);
        gather_window(p, input, px1, col + FN_CONV_DSP_DEPTH);
        int32_t sums[2] = {0, 0};
        if (p->filter_offset != NULL) {
            sums[0] = window_sum(col, depth);
            sums[1] = window_sum(col + FN_CONV_DSP_DEPTH, depth);
        }
        pixel_pair(col, filter, depth, out_c, &f, fast, stage, p->filter_offset, sums,
                   output + (size_t)px * (size_t)out_c, output + (size_t)px1 * (size_t)out_c);
    }
}

fn_status fn_conv2d_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch)
{
    if (!fn_conv2d_s8_args_ok(p, input, filter, output, 1) || scratch == NULL || p->groups != 1 ||
        (int64_t)p->kernel_h * p->kernel_w * p->in_c > FN_CONV_DSP_DEPTH) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    /* scratch: pixel 0's window, then pixel 1's at + FN_CONV_DSP_DEPTH */
    conv_dsp(p, input, filter, &stage, output, (int16_t *)scratch);
    return FN_OK;
}
#else
/* Without the DSP extension (a host build of a project compiled for a CPU that has it, as
 * firmnet verify makes): the portable kernel, the same bytes, after this variant's checks. */
fn_status fn_conv2d_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch)
{
    if (!fn_conv2d_s8_args_ok(p, input, filter, output, 1) || scratch == NULL ||
        fn_conv2d_s8_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    fn_conv2d_s8_portable(p, input, filter, bias, output);
    return FN_OK;
}
#endif
