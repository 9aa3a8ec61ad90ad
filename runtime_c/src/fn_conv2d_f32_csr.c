/* firmnet runtime: float32 2-D convolution with CSR weights (fn_conv2d_f32_csr.h): per output
 * pixel, per output channel, the channel's entries; windows inside the input read
 * input[origin + col] directly, the others decode each column (fn_csr_tap) and skip the
 * padded taps. */
#include "fn_clamp.h"
#include "fn_conv2d_f32_csr.h"

/* acc plus channel o's entries [begin, end) over the window at origin (inside the input). */
static inline float inside(const fn_csr *m, const float *v, int32_t begin, int32_t end, const float *origin,
                           float acc)
{
    if (m->col_delta != NULL) {
        const float *xp = origin;
        for (int32_t j = begin; j < end; ++j) {
            xp += m->col_delta[j];
            acc += v[j] * *xp;
        }
    } else {
        for (int32_t j = begin; j < end; ++j) {
            acc += v[j] * origin[m->col_index[j]];
        }
    }
    return acc;
}

/* The same for the window at (iy0, ix0) of image, which reaches into the padding. */
static float edge(const fn_conv2d_f32_csr_params *p, const fn_csr *m, const float *v, int32_t begin, int32_t end,
                  const float *image, int32_t iy0, int32_t ix0, float acc)
{
    int32_t col = 0;
    for (int32_t j = begin; j < end; ++j) {
        col = m->col_delta != NULL ? col + m->col_delta[j] : (int32_t)m->col_index[j];
        size_t at;
        if (fn_csr_tap(col, p->in_h, p->in_w, p->in_c, iy0, ix0, &at)) {
            acc += v[j] * image[at];
        }
    }
    return acc;
}

fn_status fn_conv2d_f32_csr(const fn_conv2d_f32_csr_params *p, const float *input, const float *values,
                            const float *bias, float *output)
{
    if (p == NULL || input == NULL || values == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    const fn_csr m = fn_csr_view(p->out_features, p->in_features, p->entries, p->col_delta, p->col_index,
                                 p->row_start16, p->row_start32);
    if (!fn_csr_ok(&m) ||
        !fn_csr_conv_ok(p->batch, p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->kernel_h, p->kernel_w,
                        p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_top, p->pad_left,
                        m.cols)) {
        return FN_ERR_ARG;
    }
    const int32_t span_h = (p->kernel_h - 1) * p->dilation_h, span_w = (p->kernel_w - 1) * p->dilation_w;
    const size_t image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
    float *out = output;
    for (int32_t n = 0; n < p->batch; ++n) {
        const float *x = input + (size_t)n * image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_in = iy0 >= 0 && iy0 + span_h < p->in_h;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int in = rows_in && ix0 >= 0 && ix0 + span_w < p->in_w;
                const float *origin = in ? x + ((size_t)iy0 * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c : x;
                int32_t begin = 0;
                for (int32_t o = 0; o < m.rows; ++o) {
                    const int32_t end = fn_csr_row_start(&m, o + 1);
                    const float b = bias != NULL ? bias[o] : 0.0f;
                    const float acc = in ? inside(&m, values, begin, end, origin, b)
                                         : edge(p, &m, values, begin, end, x, iy0, ix0, b);
                    out[o] = fn_clampf(acc, p->act_min, p->act_max);
                    begin = end;
                }
                out += m.rows;
            }
        }
    }
    return FN_OK;
}
