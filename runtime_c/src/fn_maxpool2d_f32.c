/* firmnet runtime: float32 2-D max pooling (NHWC).
 *
 * The output pixel is the running maximum: it is initialised from the first
 * in-bounds tap of the window, then every further in-bounds tap is merged, each
 * as one contiguous pass over the channels. Padded taps are never visited (the
 * in-bounds tap range is computed once per output row and column). */
#include "fn_pool_f32.h"
#include "fn_clamp.h"
#include "fn_geometry.h"

#include <string.h>

/* acc[c] = max(acc[c], x[c]); out and input never overlap. */
static void max_into(float *restrict acc, const float *restrict x, int32_t n)
{
    for (int32_t c = 0; c < n; ++c) {
        acc[c] = x[c] > acc[c] ? x[c] : acc[c];
    }
}

static void clamp_span(float *v, int32_t n, float lo, float hi)
{
    for (int32_t c = 0; c < n; ++c) {
        v[c] = fn_clampf(v[c], lo, hi);
    }
}

fn_status fn_maxpool2d_f32(const fn_pool2d_f32_params *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h,
                    p->pad_top, p->pad_bottom) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w,
                    p->pad_left, p->pad_right) ||
        !fn_axis_windows_nonempty(p->in_h, p->out_h, p->kernel_h, p->stride_h,
                                  p->dilation_h, p->pad_top) ||
        !fn_axis_windows_nonempty(p->in_w, p->out_w, p->kernel_w, p->stride_w,
                                  p->dilation_w, p->pad_left) ||
        p->batch < 1 || p->channels < 1 ||
        (p->out_stride != 0 && p->out_stride < p->channels)) {
        return FN_ERR_ARG;
    }

    const int32_t channels = p->channels;
    const size_t ch = (size_t)channels;
    const size_t px = p->out_stride > 0 ? (size_t)p->out_stride : ch;   /* floats per output pixel */
    const size_t in_row = (size_t)p->in_w * ch;
    const size_t in_image = in_row * (size_t)p->in_h;
    const size_t step_x = (size_t)p->dilation_w * ch;
    const size_t step_y = (size_t)p->dilation_h * in_row;
    const float act_min = p->act_min, act_max = p->act_max;

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
                fn_tap_range(ix0, p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
                const float *x_row = in_b + (size_t)(iy0 + ky0 * p->dilation_h) * in_row
                                          + (size_t)(ix0 + kx0 * p->dilation_w) * ch;

                memcpy(out, x_row, ch * sizeof(float));
                int32_t kx_first = kx0 + 1;   /* the first tap is already in out */
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    const float *x_px = x_row + (size_t)(kx_first - kx0) * step_x;
                    for (int32_t kx = kx_first; kx < kx1; ++kx) {
                        max_into(out, x_px, channels);
                        x_px += step_x;
                    }
                    kx_first = kx0;
                    x_row += step_y;
                }
                clamp_span(out, channels, act_min, act_max);
                out += px;
            }
        }
    }
    return FN_OK;
}
