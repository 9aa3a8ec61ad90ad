/* firmnet runtime: int8 2-D convolution with groups, direct (no im2col scratch).
 *
 * For each output pixel the taps that land inside the input are found once (rows
 * and columns separately), so padding costs no branch per tap. Output channels of a
 * group are computed four at a time: each input value, with the input offset added,
 * is loaded once for four accumulators. When a filter row and the matching input
 * row are both contiguous (dilation_w == 1 and groups == 1) the kx and channel loops
 * are fused into one run of n_kx * in_c products.
 *
 * With a filter offset (weights with zero points) the window's input sum is computed
 * once per output pixel and group, and filter_offset[c] times it is added to each
 * channel's sum (fn_conv_s8.h). fn_conv2d_s8_s32 shares the loops and stores the
 * accumulators instead of requantizing them.
 *
 * DSP path (groups == 1, depth = kernel_h * kernel_w * in_c <= FN_CONV_DSP_DEPTH): output pixels are taken two at a time; each one's window is copied
 * once into a stack buffer of 16-bit values x + input_offset (0 for padded taps), four at
 * a time in the order (x0, x2, x1, x3), which is the order SXTB16 widens a word of four
 * weights in: (w0, w2) and, rotated, (w1, w3). Output channels are then taken two at a
 * time, and per 4 products of the window 2 weight loads, 4 SXTB16, 4 buffer loads and 8
 * SMLADs (2 MACs each) serve the 2 pixels x 2 channels. A depth % 4 tail is summed
 * one product at a time. With a filter offset, each channel's sums start from
 * filter_offset[c] times the window's sum.
 * The output stage is fn_fast_out_s8 where it applies. */
#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

#if FN_DSP
/* Most products per output the DSP path buffers: 2 pixels x 256 x 2 bytes of stack. */
#define FN_CONV_DSP_DEPTH 256
#endif

/* Checks shared by both entry points; requant: whether the output stage is used. */
static int conv_params_ok(const fn_conv2d_s8_params *p, int requant)
{
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1 ||
        p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return 0;
    }
    const int64_t depth = (int64_t)p->kernel_h * p->kernel_w * (p->in_c / p->groups);
    if (depth > (p->filter_offset != NULL ? FN_S8_MAX_DEPTH_OFFSET : FN_S8_MAX_DEPTH)) {
        return 0;
    }
    if (p->filter_offset != NULL) {
        for (int32_t c = 0; c < p->out_c; ++c) {
            if (p->filter_offset[c] < -127 || p->filter_offset[c] > 128) {
                return 0;
            }
        }
    }
    if (!requant) {
        return p->input_offset >= -127 && p->input_offset <= 128;
    }
    return fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                                 p->requant_mode, p->per_channel, p->out_c,
                                 p->multiplier, p->shift, p->scale);
}

/* Where an output channel's sum goes: the output stage into out8, or (out32 != NULL)
 * the accumulator with its bias. zsum: filter_offset[c] * window sum is added first. */
typedef struct {
    fn_channel_stage_s8 stage;
    const int32_t *filter_offset;
    int8_t *out8;
    int32_t *out32;
} conv_sink;

static inline void store(const conv_sink *k, int32_t oc, int32_t sum, int32_t window_sum)
{
    uint32_t acc = (uint32_t)sum;
    if (k->filter_offset != NULL) {
        acc += (uint32_t)(k->filter_offset[oc] * window_sum);
    }
    if (k->out32 != NULL) {
        if (k->stage.bias != NULL) {
            acc += (uint32_t)k->stage.bias[oc];
        }
        k->out32[oc] = (int32_t)acc;
    } else {
        k->out8[oc] = fn_finish_channel_s8(&k->stage, oc, (int32_t)acc);
    }
}

static void conv_loops(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                       conv_sink *sink)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t groups = p->groups;
    const int32_t cin_g = in_c / groups;    /* input channels per group */
    const int32_t cout_g = out_c / groups;  /* output channels per group */
    const int32_t input_offset = p->input_offset;
    const int with_offset = p->filter_offset != NULL;
    /* kx and channel loops fuse when consecutive taps are adjacent in memory */
    const int fused = dil_w == 1 && groups == 1;

    const size_t in_row = (size_t)in_w * (size_t)in_c;        /* bytes per input row */
    const size_t in_image = in_row * (size_t)in_h;
    const size_t f_row = (size_t)kernel_w * (size_t)cin_g;    /* bytes per filter row */
    const size_t f_oc = f_row * (size_t)kernel_h;             /* bytes per output channel */
    const size_t dil_w_step = (size_t)dil_w * (size_t)in_c;   /* input step between kx taps */
    const size_t dil_h_step = (size_t)dil_h * in_row;         /* input step between ky taps */
    const size_t f_kx_step = (size_t)cin_g;                   /* filter step between kx taps */

    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, dil_h, kernel_h, in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, dil_w, kernel_w, in_w, &kx0, &kx1);
                const int32_t n_ky = ky1 > ky0 ? ky1 - ky0 : 0;
                const int32_t n_kx = kx1 > kx0 ? kx1 - kx0 : 0;
                /* products per run and runs per filter row */
                const int32_t run = fused ? n_kx * cin_g : cin_g;
                const int32_t n_runs = fused ? (n_kx > 0 ? 1 : 0) : n_kx;
                /* First valid tap in the input and in each filter; only read
                 * when n_ky and n_kx are both positive. Taps are then addressed by
                 * size_t offsets from there, so no pointer is ever formed past an
                 * array's end. */
                const int8_t *x_tap0 = in_b;
                size_t f_tap0 = 0;
                if (n_ky > 0 && n_kx > 0) {
                    x_tap0 = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row
                                  + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                    f_tap0 = (size_t)ky0 * f_row + (size_t)kx0 * f_kx_step;
                }

                for (int32_t g = 0; g < groups; ++g) {
                    const int8_t *x_g = x_tap0 + (size_t)g * (size_t)cin_g;
                    int32_t oc = g * cout_g;
                    const int32_t oc_end = oc + cout_g;

                    int32_t window_sum = 0;
                    if (with_offset) {
                        size_t x_row = 0;
                        for (int32_t ky = 0; ky < n_ky; ++ky) {
                            size_t xo = x_row;
                            for (int32_t r = 0; r < n_runs; ++r) {
                                for (int32_t i = 0; i < run; ++i) {
                                    window_sum += (int32_t)x_g[xo + (size_t)i] + input_offset;
                                }
                                xo += dil_w_step;
                            }
                            x_row += dil_h_step;
                        }
                    }

                    for (; oc + 4 <= oc_end; oc += 4) {
                        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
                        const int8_t *w0 = filter + (size_t)oc * f_oc;
                        const int8_t *w1 = w0 + f_oc;
                        const int8_t *w2 = w1 + f_oc;
                        const int8_t *w3 = w2 + f_oc;
                        size_t x_row = 0, w_row = f_tap0;
                        for (int32_t ky = 0; ky < n_ky; ++ky) {
                            size_t xo = x_row, wo = w_row;
                            for (int32_t r = 0; r < n_runs; ++r) {
                                for (int32_t i = 0; i < run; ++i) {
                                    const int32_t x = (int32_t)x_g[xo + (size_t)i] + input_offset;
                                    acc0 += x * w0[wo + (size_t)i];
                                    acc1 += x * w1[wo + (size_t)i];
                                    acc2 += x * w2[wo + (size_t)i];
                                    acc3 += x * w3[wo + (size_t)i];
                                }
                                xo += dil_w_step;
                                wo += f_kx_step;
                            }
                            x_row += dil_h_step;
                            w_row += f_row;
                        }
                        store(sink, oc, acc0, window_sum);
                        store(sink, oc + 1, acc1, window_sum);
                        store(sink, oc + 2, acc2, window_sum);
                        store(sink, oc + 3, acc3, window_sum);
                    }

                    for (; oc < oc_end; ++oc) {
                        int32_t acc = 0;
                        const int8_t *w0 = filter + (size_t)oc * f_oc;
                        size_t x_row = 0, w_row = f_tap0;
                        for (int32_t ky = 0; ky < n_ky; ++ky) {
                            size_t xo = x_row, wo = w_row;
                            for (int32_t r = 0; r < n_runs; ++r) {
                                for (int32_t i = 0; i < run; ++i) {
                                    acc += ((int32_t)x_g[xo + (size_t)i] + input_offset) * w0[wo + (size_t)i];
                                }
                                xo += dil_w_step;
                                wo += f_kx_step;
                            }
                            x_row += dil_h_step;
                            w_row += f_row;
                        }
                        store(sink, oc, acc, window_sum);
                    }
                }
                if (sink->out32 != NULL) {
                    sink->out32 += out_c;
                } else {
                    sink->out8 += out_c;
                }
            }
        }
    }
}

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
                     const fn_channel_stage_s8 *stage, int8_t *output)
{
    const int32_t depth = p->kernel_h * p->kernel_w * p->in_c;
    const int32_t out_c = p->out_c;
    const int32_t n_px = p->batch * p->out_h * p->out_w;
    int16_t col[2 * FN_CONV_DSP_DEPTH];   /* pixel 0's window, then pixel 1's */
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, stage->bias, p->requant_mode, p->per_channel, p->multiplier,
                                         p->shift, out_c, p->output_offset, p->act_min, p->act_max);
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
#endif

fn_status fn_conv2d_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                       const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || !conv_params_ok(p, 1)) {
        return FN_ERR_ARG;
    }
#if FN_DSP
    if (p->groups == 1 && (int64_t)p->kernel_h * p->kernel_w * p->in_c <= FN_CONV_DSP_DEPTH) {
        const fn_channel_stage_s8 stage = {bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                           p->scale, p->output_offset, p->act_min, p->act_max};
        conv_dsp(p, input, filter, &stage, output);
        return FN_OK;
    }
#endif
    conv_sink sink = {{bias, p->requant_mode, p->per_channel, p->multiplier, p->shift, p->scale,
                       p->output_offset, p->act_min, p->act_max},
                      p->filter_offset, output, NULL};
    conv_loops(p, input, filter, &sink);
    return FN_OK;
}

fn_status fn_conv2d_s8_s32(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int32_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || !conv_params_ok(p, 0)) {
        return FN_ERR_ARG;
    }
    conv_sink sink = {{bias, 0, 0, NULL, NULL, NULL, 0, 0, 0}, p->filter_offset, NULL, output};
    conv_loops(p, input, filter, &sink);
    return FN_OK;
}
