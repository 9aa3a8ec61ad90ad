/* firmnet runtime: float32 2-D max pooling (NHWC).
 *
 * The output pixel is the running maximum: it is initialised from the first
 * in-bounds tap of the window, then every further in-bounds tap is merged, each
 * as one contiguous pass over the channels. Padded taps are never visited (the
 * in-bounds tap range is computed once per output row and column). */
#include "fn_pool_f32.h"

#include <string.h>

/* Geometry of one spatial axis, rejected when its coordinates could overflow
 * int32: then o*stride - pad_before, and every tap origin + k*dilation, fit. */
static int axis_ok(int32_t in, int32_t out, int32_t kernel, int32_t stride,
                   int32_t dilation, int32_t pad_before, int32_t pad_after)
{
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || dilation < 1 ||
        pad_before < 0 || pad_after < 0) {
        return 0;
    }
    if ((int64_t)in + pad_before + pad_after > INT32_MAX) {
        return 0;
    }
    return (int64_t)(out - 1) * stride + (int64_t)(kernel - 1) * dilation < INT32_MAX;
}

/* Taps k in [*first, *last) with 0 <= origin + k * dilation < in. Empty when
 * *first >= *last. Needs axis_ok(). */
static void tap_range(int32_t origin, int32_t dilation, int32_t kernel, int32_t in,
                      int32_t *first, int32_t *last)
{
    int32_t lo = 0;
    int32_t hi = kernel;
    const int32_t span = in - 1 - origin;
    if (origin < 0) {
        lo = (-origin - 1) / dilation + 1;
    }
    if (span < 0) {
        hi = 0;
    } else if (span / dilation + 1 < hi) {
        hi = span / dilation + 1;
    }
    *first = lo;
    *last = hi;
}

/* Every window along one axis holds at least one in-bounds tap. */
static int axis_windows_nonempty(int32_t in, int32_t out, int32_t kernel, int32_t stride,
                                 int32_t dilation, int32_t pad_before)
{
    for (int32_t o = 0; o < out; ++o) {
        int32_t k0, k1;
        tap_range(o * stride - pad_before, dilation, kernel, in, &k0, &k1);
        if (k0 >= k1) {
            return 0;
        }
    }
    return 1;
}

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
        float t = v[c];
        t = t < lo ? lo : t;
        t = t > hi ? hi : t;
        v[c] = t;
    }
}

fn_status fn_maxpool2d_f32(const fn_pool2d_f32_params *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->channels < 1 ||
        !axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h,
                 p->pad_top, p->pad_bottom) ||
        !axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w,
                 p->pad_left, p->pad_right) ||
        !axis_windows_nonempty(p->in_h, p->out_h, p->kernel_h, p->stride_h,
                               p->dilation_h, p->pad_top) ||
        !axis_windows_nonempty(p->in_w, p->out_w, p->kernel_w, p->stride_w,
                               p->dilation_w, p->pad_left)) {
        return FN_ERR_ARG;
    }

    const int32_t channels = p->channels;
    const size_t ch = (size_t)channels;
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
            tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                tap_range(ix0, p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
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
                out += ch;
            }
        }
    }
    return FN_OK;
}
