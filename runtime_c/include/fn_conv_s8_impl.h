/* firmnet runtime, internal: code shared by the int8 convolution variants
 * (fn_conv2d_s8.c, portable; fn_conv2d_s8_dsp.c, DSP extension): the argument check and the
 * portable loops (which fn_conv2d_s8_dsp runs where the CPU lacks the extension). */
#ifndef FN_CONV_S8_IMPL_H
#define FN_CONV_S8_IMPL_H

#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

/* 1 if the pointers and the fields of p meet fn_conv2d_s8's constraints (fn_conv_s8.h);
 * requant: whether the output stage is used (fn_conv2d_s8_s32 ignores its fields). */
static inline int fn_conv2d_s8_args_ok(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                       const void *output, int requant)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return 0;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1 ||
        p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return 0;
    }
    const int64_t taps = (int64_t)p->kernel_h * p->kernel_w;   /* < 2^62; the depth below < 2^63 */
    if (taps > FN_S8_MAX_DEPTH ||
        taps * (p->in_c / p->groups) > (p->filter_offset != NULL ? FN_S8_MAX_DEPTH_OFFSET : FN_S8_MAX_DEPTH)) {
        return 0;
    }
    if (p->filter_offset != NULL) {
        for (int32_t c = 0; c < p->out_c; ++c) {
            if (p->filter_offset[c] < -127 || p->filter_offset[c] > 128) {
                return 0;
            }
        }
    }
    return fn_input_offset_s8_ok(p->input_offset) && (!requant || fn_requant_acc_s8_ok(&p->requant, p->out_c));
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

FN_MAYBE_UNUSED static void conv_loops(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
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

/* fn_conv2d_s8's output: the portable loops with the output stage. */
static inline void fn_conv2d_s8_portable(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                         const int32_t *bias, int8_t *output)
{
    conv_sink sink = {{bias, p->requant}, p->filter_offset, output, NULL};
    conv_loops(p, input, filter, &sink);
}

#endif
