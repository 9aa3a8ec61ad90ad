/* firmnet runtime: bilinear resize in float32 (NHWC), blending each output pixel from
 * four input pixels with the per-axis weights the compiler computed. */
#include "fn_resize.h"

static int table_ok(const int32_t *a, const int32_t *b, int32_t n, int32_t limit)
{
    for (int32_t i = 0; i < n; ++i) {
        if (a[i] < 0 || a[i] >= limit || b[i] < 0 || b[i] >= limit) {
            return 0;
        }
    }
    return 1;
}

fn_status fn_resize_bilinear_f32(const fn_resize_bilinear_f32_params *p, const float *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL || p->y0 == NULL || p->y1 == NULL || p->wy0 == NULL ||
        p->wy1 == NULL || p->x0 == NULL || p->x1 == NULL || p->wx0 == NULL || p->wx1 == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->out_h < 1 || p->out_w < 1 ||
        !table_ok(p->y0, p->y1, p->out_h, p->in_h) || !table_ok(p->x0, p->x1, p->out_w, p->in_w)) {
        return FN_ERR_ARG;
    }
    if ((int64_t)p->batch * p->out_h * p->out_w * p->channels > INT32_MAX / 4 ||
        (int64_t)p->batch * p->in_h * p->in_w * p->channels > INT32_MAX / 4) {
        return FN_ERR_ARG;
    }
    const int32_t channels = p->channels;
    const size_t in_row = (size_t)p->in_w * (size_t)channels;
    const size_t in_image = in_row * (size_t)p->in_h;
    float *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const float *r0 = in_b + (size_t)p->y0[oy] * in_row;
            const float *r1 = in_b + (size_t)p->y1[oy] * in_row;
            const float wy0 = p->wy0[oy], wy1 = p->wy1[oy];
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const size_t c0 = (size_t)p->x0[ox] * (size_t)channels;
                const size_t c1 = (size_t)p->x1[ox] * (size_t)channels;
                const float wx0 = p->wx0[ox], wx1 = p->wx1[ox];
                const float *a = r0 + c0, *bb = r0 + c1, *c = r1 + c0, *d = r1 + c1;
                for (int32_t ch = 0; ch < channels; ++ch) {
                    const float top = a[ch] * wx0 + bb[ch] * wx1;
                    const float bottom = c[ch] * wx0 + d[ch] * wx1;
                    out[ch] = top * wy0 + bottom * wy1;
                }
                out += channels;
            }
        }
    }
    return FN_OK;
}
