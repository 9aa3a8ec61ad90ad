/* firmnet runtime: float32 2-D average pooling (NHWC).
 *
 * The output pixel accumulates the window's in-bounds taps in ky, kx order
 * (initialised from the first one, then one contiguous pass over the channels
 * per further tap) and is divided once by the window's divisor. Padded taps
 * are never visited: the in-bounds tap range is computed per output row and
 * column, and so is the divisor (it is a product of a row and a column count). */
#include "fn_pool_f32.h"
#include "fn_clamp.h"
#include "fn_geometry.h"

#include <string.h>

/* acc[c] += x[c]; out and input never overlap. */
static void add_into(float *restrict acc, const float *restrict x, int32_t n)
{
    for (int32_t c = 0; c < n; ++c) {
        acc[c] += x[c];
    }
}

static void divide_clamp_span(float *v, int32_t n, float divisor, float lo, float hi)
{
    for (int32_t c = 0; c < n; ++c) {
        v[c] = fn_clampf(v[c] / divisor, lo, hi);
    }
}

/* Divisor count along one axis for the window starting at origin whose
 * in-bounds taps are [k0, k1): the in-bounds count, or with count_include_pad
 * the window length after cutting it at in + pad_after. */
static int32_t axis_count(int32_t origin, int32_t kernel, int32_t in, int32_t pad_after,
                          int32_t k0, int32_t k1, int32_t include_pad)
{
    return include_pad ? fn_window_len_cut(origin, kernel, in, pad_after) : k1 - k0;
}

fn_status fn_avgpool2d_f32(const fn_pool2d_f32_params *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, 1, p->pad_top, p->pad_bottom) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, 1, p->pad_left, p->pad_right) ||
        !fn_axis_windows_nonempty(p->in_h, p->out_h, p->kernel_h, p->stride_h, 1, p->pad_top) ||
        !fn_axis_windows_nonempty(p->in_w, p->out_w, p->kernel_w, p->stride_w, 1, p->pad_left) ||
        p->batch < 1 || p->channels < 1 ||
        (p->out_stride != 0 && p->out_stride < p->channels) || p->dilation_h != 1 || p->dilation_w != 1) {
        return FN_ERR_ARG;
    }

    const int32_t channels = p->channels;
    const int32_t include_pad = p->count_include_pad != 0;
    const size_t ch = (size_t)channels;
    const size_t px = p->out_stride > 0 ? (size_t)p->out_stride : ch;   /* floats per output pixel */
    const size_t in_row = (size_t)p->in_w * ch;
    const size_t in_image = in_row * (size_t)p->in_h;
    const float act_min = p->act_min, act_max = p->act_max;

    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, 1, p->kernel_h, p->in_h, &ky0, &ky1);
            const int32_t count_h = axis_count(iy0, p->kernel_h, p->in_h, p->pad_bottom,
                                               ky0, ky1, include_pad);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, 1, p->kernel_w, p->in_w, &kx0, &kx1);
                const int32_t count_w = axis_count(ix0, p->kernel_w, p->in_w, p->pad_right,
                                                   kx0, kx1, include_pad);
                const float divisor = (float)((int64_t)count_h * count_w);
                const float *x_row = in_b + (size_t)(iy0 + ky0) * in_row
                                          + (size_t)(ix0 + kx0) * ch;

                memcpy(out, x_row, ch * sizeof(float));
                int32_t kx_first = kx0 + 1;   /* the first tap is already in out */
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    const float *x_px = x_row + (size_t)(kx_first - kx0) * ch;
                    for (int32_t kx = kx_first; kx < kx1; ++kx) {
                        add_into(out, x_px, channels);
                        x_px += ch;
                    }
                    kx_first = kx0;
                    x_row += in_row;
                }
                divide_clamp_span(out, channels, divisor, act_min, act_max);
                out += px;
            }
        }
    }
    return FN_OK;
}
