/* firmnet runtime: nearest-neighbour resize, one memcpy per output pixel. */
#include <string.h>

#include "fn_resize.h"

static int table_ok(const int32_t *t, int32_t n, int32_t limit)
{
    for (int32_t i = 0; i < n; ++i) {
        if (t[i] < 0 || t[i] >= limit) {
            return 0;
        }
    }
    return 1;
}

fn_status fn_resize_nearest(const fn_resize_nearest_params *p, const void *input, void *output)
{
    if (p == NULL || input == NULL || output == NULL || p->y_index == NULL || p->x_index == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->channels < 1 || p->out_h < 1 || p->out_w < 1 ||
        p->elem_size < 1 || !table_ok(p->y_index, p->out_h, p->in_h) || !table_ok(p->x_index, p->out_w, p->in_w)) {
        return FN_ERR_ARG;
    }
    const size_t pixel = (size_t)p->channels * (size_t)p->elem_size;
    if ((int64_t)p->batch * p->out_h * p->out_w * (int64_t)pixel > INT32_MAX ||
        (int64_t)p->batch * p->in_h * p->in_w * (int64_t)pixel > INT32_MAX) {
        return FN_ERR_ARG;
    }
    const size_t in_row = (size_t)p->in_w * pixel;
    const size_t in_image = in_row * (size_t)p->in_h;
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const uint8_t *in_b = in + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const uint8_t *row = in_b + (size_t)p->y_index[oy] * in_row;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                memcpy(out, row + (size_t)p->x_index[ox] * pixel, pixel);
                out += pixel;
            }
        }
    }
    return FN_OK;
}
