/* firmnet runtime: int8 2-D max pooling (NHWC).
 *
 * As fn_maxpool2d_f32: the output pixel holds the running maximum, initialised from
 * the window's first in-bounds tap, then every further in-bounds tap is merged as one
 * contiguous pass over the channels; padded taps are never visited. A last pass over
 * the pixel requantizes (the maximum commutes with the monotonic requantization) and
 * clamps. */
#include "fn_pool_s8.h"
#include "fn_clamp.h"
#include "fn_geometry.h"

#include <string.h>

#include "fn_elementwise_s8.h"
#include "fn_fixedpoint.h"

/* acc[c] = max(acc[c], x[c]); acc and x never overlap. */
static void max_into(int8_t *restrict acc, const int8_t *restrict x, int32_t n)
{
    for (int32_t c = 0; c < n; ++c) {
        acc[c] = x[c] > acc[c] ? x[c] : acc[c];
    }
}

/* The pixel's maxima → output values (requantization of the method, then the clamp). */
static void finish_span(const fn_pool2d_s8_params *p, const fn_requant_s8 *rq, int8_t *v, int32_t n)
{
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t c = 0; c < n; ++c) {
        v[c] = (int8_t)fn_clamp_i32(fn_requant_s8_value(rq, v[c]), lo, hi);
    }
}

fn_status fn_maxpool2d_s8(const fn_pool2d_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->channels < 1 ||
        (p->out_stride != 0 && p->out_stride < p->channels) || !fn_pool_s8_quant_ok(p) ||
        p->method == FN_POOL_S8_ORT_GLOBAL ||
        !fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, p->pad_bottom) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, p->pad_right) ||
        !fn_axis_windows_nonempty(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top) ||
        !fn_axis_windows_nonempty(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left)) {
        return FN_ERR_ARG;
    }

    /* The method's requantization as an int8 -> int8 spec (COPY for SAME_QUANT). */
    fn_requant_s8 rq;
    rq.method = p->method == FN_POOL_S8_REQUANT ? FN_S8_REQUANT_FIXED
              : p->method == FN_POOL_S8_ORT ? FN_S8_REQUANT_FLOAT : FN_S8_REQUANT_COPY;
    rq.requant_mode = p->requant_mode;
    rq.input_zero_point = -p->input_offset;
    rq.output_zero_point = p->output_offset;
    rq.multiplier = p->multiplier;
    rq.shift = p->shift;
    rq.input_scale = p->input_scale;
    rq.output_scale = p->output_scale;

    const int32_t channels = p->channels;
    const size_t ch = (size_t)channels;
    const size_t px = p->out_stride > 0 ? (size_t)p->out_stride : ch;   /* bytes per output pixel */
    const size_t in_row = (size_t)p->in_w * ch;
    const size_t in_image = in_row * (size_t)p->in_h;
    const size_t step_x = (size_t)p->dilation_w * ch;
    const size_t step_y = (size_t)p->dilation_h * in_row;

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
                fn_tap_range(ix0, p->dilation_w, p->kernel_w, p->in_w, &kx0, &kx1);
                const int8_t *x_row = in_b + (size_t)(iy0 + ky0 * p->dilation_h) * in_row
                                           + (size_t)(ix0 + kx0 * p->dilation_w) * ch;

                memcpy(out, x_row, ch);
                int32_t kx_first = kx0 + 1;   /* the first tap is already in out */
                for (int32_t ky = ky0; ky < ky1; ++ky) {
                    const int8_t *x_px = x_row + (size_t)(kx_first - kx0) * step_x;
                    for (int32_t kx = kx_first; kx < kx1; ++kx) {
                        max_into(out, x_px, channels);
                        x_px += step_x;
                    }
                    kx_first = kx0;
                    x_row += step_y;
                }
                finish_span(p, &rq, out, channels);
                out += px;
            }
        }
    }
    return FN_OK;
}
