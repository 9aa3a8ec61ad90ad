/* firmnet runtime: float32 transposed 2-D convolution, gather form (no scratch).
 *
 * Scatter form (each input pixel adds kernel-sized patches to the output) needs the
 * output zeroed first and adds to each output element from many places; the gather
 * form below computes each output element once, from the taps whose input pixel
 * exists: for output row oy, tap ky reads input row (oy + pad_top - ky * dilation) /
 * stride when that is a non-negative multiple of the stride below in_h. The taps that do
 * are listed once per output row and per output pixel (at most 32 per axis). Output channels
 * of a group are computed four at a time (each input value loaded once for four
 * accumulators), each accumulator adding in the documented order. */
#include "fn_conv_transpose_f32.h"
#include "fn_clamp.h"

#define FN_CT_LIMIT ((int32_t)1 << 30)
#define FN_CT_MAX_KERNEL 32

/* Input coordinate read by tap k from output coordinate o (o + pad = i * stride + k * dilation),
 * or -1 if there is none. Arguments are validated so that no expression overflows. */
static int32_t ct_source(int32_t o, int32_t pad, int32_t k, int32_t dilation, int32_t stride, int32_t in)
{
    const int32_t t = o + pad - k * dilation;
    if (t < 0 || t % stride != 0) {
        return -1;
    }
    return t / stride < in ? t / stride : -1;
}

static int axis_ok(int32_t in, int32_t out, int32_t kernel, int32_t stride, int32_t dilation, int32_t pad)
{
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || dilation < 1) {
        return 0;
    }
    if (kernel > FN_CT_MAX_KERNEL || pad <= -FN_CT_LIMIT || pad >= FN_CT_LIMIT || out >= FN_CT_LIMIT) {
        return 0;
    }
    return (int64_t)(out - 1) + (pad < 0 ? -(int64_t)pad : (int64_t)pad) +
           (int64_t)(kernel - 1) * dilation < FN_CT_LIMIT;
}

fn_status fn_conv_transpose2d_f32(const fn_conv_transpose2d_f32_params *p, const float *input,
                                  const float *filter, const float *bias, float *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top) ||
        !axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1 ||
        p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return FN_ERR_ARG;
    }

    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t groups = p->groups;
    const int32_t cin_g = in_c / groups;
    const int32_t cout_g = out_c / groups;
    const float act_min = p->act_min, act_max = p->act_max;

    const size_t in_row = (size_t)in_w * (size_t)in_c;
    const size_t in_image = in_row * (size_t)in_h;
    const size_t f_row = (size_t)kernel_w * (size_t)cin_g;
    const size_t f_oc = f_row * (size_t)kernel_h;

    /* The taps that reach an input pixel, found once per output row and once per output
     * pixel (not per block of output channels): tap index and input offset. */
    int32_t ty[FN_CT_MAX_KERNEL], tx[FN_CT_MAX_KERNEL];
    size_t y_off[FN_CT_MAX_KERNEL], x_off[FN_CT_MAX_KERNEL];
    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            int32_t n_ty = 0;
            for (int32_t ky = 0; ky < kernel_h; ++ky) {
                const int32_t iy = ct_source(oy, p->pad_top, ky, p->dilation_h, p->stride_h, in_h);
                if (iy >= 0) {
                    ty[n_ty] = ky;
                    y_off[n_ty++] = (size_t)iy * in_row;
                }
            }
            for (int32_t ox = 0; ox < out_w; ++ox) {
                int32_t n_tx = 0;
                for (int32_t kx = 0; kx < kernel_w; ++kx) {
                    const int32_t ix = ct_source(ox, p->pad_left, kx, p->dilation_w, p->stride_w, in_w);
                    if (ix >= 0) {
                        tx[n_tx] = kx;
                        x_off[n_tx++] = (size_t)ix * (size_t)in_c;
                    }
                }
                for (int32_t g = 0; g < groups; ++g) {
                    const float *x_g = in_b + (size_t)g * (size_t)cin_g;
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
                        const float *w_oc = filter + (size_t)oc * f_oc;
                        for (int32_t i = 0; i < n_ty; ++i) {
                            const float *x_row = x_g + y_off[i];
                            const float *w_row = w_oc + (size_t)ty[i] * f_row;
                            for (int32_t j = 0; j < n_tx; ++j) {
                                const float *x_px = x_row + x_off[j];
                                const float *w0 = w_row + (size_t)tx[j] * (size_t)cin_g;
                                const float *w1 = w0 + f_oc;
                                const float *w2 = w1 + f_oc;
                                const float *w3 = w2 + f_oc;
                                for (int32_t ic = 0; ic < cin_g; ++ic) {
                                    const float x = x_px[ic];
                                    acc0 += x * w0[ic];
                                    acc1 += x * w1[ic];
                                    acc2 += x * w2[ic];
                                    acc3 += x * w3[ic];
                                }
                            }
                        }
                        out[oc] = fn_clampf(acc0, act_min, act_max);
                        out[oc + 1] = fn_clampf(acc1, act_min, act_max);
                        out[oc + 2] = fn_clampf(acc2, act_min, act_max);
                        out[oc + 3] = fn_clampf(acc3, act_min, act_max);
                    }

                    for (; oc < oc_end; ++oc) {
                        float acc = bias != NULL ? bias[oc] : 0.0f;
                        const float *w_oc = filter + (size_t)oc * f_oc;
                        for (int32_t i = 0; i < n_ty; ++i) {
                            const float *x_row = x_g + y_off[i];
                            const float *w_row = w_oc + (size_t)ty[i] * f_row;
                            for (int32_t j = 0; j < n_tx; ++j) {
                                const float *x_px = x_row + x_off[j];
                                const float *w = w_row + (size_t)tx[j] * (size_t)cin_g;
                                for (int32_t ic = 0; ic < cin_g; ++ic) {
                                    acc += x_px[ic] * w[ic];
                                }
                            }
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
