/* firmnet runtime: float32 2-D convolution, direct (no im2col scratch).
 *
 * For each output pixel the range of kernel taps that land inside the input is
 * computed once (rows and columns separately), so padding costs no branch per
 * tap. Output channels of a group are computed four at a time: every input value
 * is loaded once for four accumulators, and each accumulator still adds its
 * terms in the documented order (bias, then ky, kx, input channel ascending). */
#include "fn_conv_f32.h"
#include "fn_clamp.h"
#include "fn_geometry.h"

fn_status fn_conv2d_f32(const fn_conv2d_f32_params *p, const float *input,
                        const float *filter, const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1 ||
        p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return FN_ERR_ARG;
    }

    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t groups = p->groups;
    const int32_t cin_g = in_c / groups;    /* input channels per group */
    const int32_t cout_g = out_c / groups;  /* output channels per group */
    const float act_min = p->act_min, act_max = p->act_max;

    const size_t in_row = (size_t)in_w * (size_t)in_c;        /* floats per input row */
    const size_t in_image = in_row * (size_t)in_h;
    const size_t f_row = (size_t)kernel_w * (size_t)cin_g;    /* floats per filter row */
    const size_t f_oc = f_row * (size_t)kernel_h;             /* floats per output channel */
    const size_t dil_w_step = (size_t)dil_w * (size_t)in_c;   /* input step between kx taps */
    const size_t dil_h_step = (size_t)dil_h * in_row;         /* input step between ky taps */
    const size_t f_dil_w = (size_t)cin_g;                     /* filter step between kx taps */

    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *in_b = input + (size_t)b * in_image;
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
                /* First valid tap in the input and in each filter; only read
                 * when n_ky and n_kx are both positive. */
                const float *x_tap0 = in_b;
                size_t f_tap0 = 0;
                if (n_ky > 0 && n_kx > 0) {
                    x_tap0 = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row
                                  + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                    f_tap0 = (size_t)ky0 * f_row + (size_t)kx0 * f_dil_w;
                }

                for (int32_t g = 0; g < groups; ++g) {
                    const float *x_g = x_tap0 + (size_t)g * (size_t)cin_g;
                    int32_t oc = g * cout_g;
                    const int32_t oc_end = oc + cout_g;

                    for (; oc + 4 <= oc_end; oc += 4) {
                        float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
                        if (bias != NULL) {
                            acc0 = bias[oc];
                            acc1 = bias[oc + 1];
                            acc2 = bias[oc + 2];
                            acc3 = bias[oc + 3];
                        }
                        const float *w0 = filter + (size_t)oc * f_oc + f_tap0;
                        const float *x_row = x_g;
                        for (int32_t ky = 0; ky < n_ky; ++ky) {
                            const float *x_px = x_row;
                            const float *w_px = w0;
                            for (int32_t kx = 0; kx < n_kx; ++kx) {
                                const float *w1 = w_px + f_oc;
                                const float *w2 = w1 + f_oc;
                                const float *w3 = w2 + f_oc;
                                for (int32_t ic = 0; ic < cin_g; ++ic) {
                                    const float x = x_px[ic];
                                    acc0 += x * w_px[ic];
                                    acc1 += x * w1[ic];
                                    acc2 += x * w2[ic];
                                    acc3 += x * w3[ic];
                                }
                                x_px += dil_w_step;
                                w_px += f_dil_w;
                            }
                            x_row += dil_h_step;
                            w0 += f_row;
                        }
                        out[oc] = fn_clampf(acc0, act_min, act_max);
                        out[oc + 1] = fn_clampf(acc1, act_min, act_max);
                        out[oc + 2] = fn_clampf(acc2, act_min, act_max);
                        out[oc + 3] = fn_clampf(acc3, act_min, act_max);
                    }

                    for (; oc < oc_end; ++oc) {
                        float acc = bias != NULL ? bias[oc] : 0.0f;
                        const float *w_row = filter + (size_t)oc * f_oc + f_tap0;
                        const float *x_row = x_g;
                        for (int32_t ky = 0; ky < n_ky; ++ky) {
                            const float *x_px = x_row;
                            const float *w_px = w_row;
                            for (int32_t kx = 0; kx < n_kx; ++kx) {
                                for (int32_t ic = 0; ic < cin_g; ++ic) {
                                    acc += x_px[ic] * w_px[ic];
                                }
                                x_px += dil_w_step;
                                w_px += f_dil_w;
                            }
                            x_row += dil_h_step;
                            w_row += f_row;
                        }
                        out[oc] = fn_clampf(acc, act_min, act_max);
                    }
                }
                out += out_c;
            }
        }
    }
    return FN_OK;
}
