/* firmnet runtime: what the float Winograd convolutions F(2x2,3x3) and F(4x4,3x3) share
 * (internal header; contract in fn_conv2d_f32_winograd.h): the argument check, the scratch size
 * and the tile loop, given the tile size and the two transforms of one variant. Each variant's
 * .c file calls fn_wino_f32_run() with its own transforms, which the compiler inlines there. */
#ifndef FN_CONV2D_F32_WINOGRAD_IMPL_H
#define FN_CONV2D_F32_WINOGRAD_IMPL_H

#include "fn_clamp.h"
#include "fn_conv2d_f32_winograd.h"
#include "fn_geometry.h"

#define FN_WINO_MAX_A 6   /* the largest input tile side (F(4x4,3x3)) */

/* The a x a input tile d[i * row_step + j * col_step] -> v[k * stride], k = i * a + j: B^T d B. */
typedef void (*fn_wino_input_transform)(const float *d, size_t row_step, size_t col_step, float *v, size_t stride);
/* m [a * a], summed products -> y [(a - 2) * (a - 2)]: A^T m A. */
typedef void (*fn_wino_output_transform)(const float *m, float *y);

static inline int fn_wino_f32_ok(const fn_conv2d_f32_winograd_params *p)
{
    return p->batch >= 1 && p->in_c >= 1 && p->out_c >= 1 && (p->out_stride == 0 || p->out_stride >= p->out_c) &&
           fn_axis_ok(p->in_h, p->out_h, 3, 1, 1, p->pad_top, 0) &&
           fn_axis_ok(p->in_w, p->out_w, 3, 1, 1, p->pad_left, 0) &&
           (int64_t)p->out_h + 2 - p->in_h - p->pad_top >= 0 &&
           (int64_t)p->out_w + 2 - p->in_w - p->pad_left >= 0;
}

/* (2 * a * a * in_c + 8 * a * a) floats: every channel's transformed input tile for two tiles
 * side by side, and the summed products of a block of two tiles x four output channels. */
static inline size_t fn_wino_f32_scratch(const fn_conv2d_f32_winograd_params *p, int32_t a)
{
    if (p == NULL || !fn_wino_f32_ok(p)) {
        return 0;
    }
    return (2u * (size_t)a * (size_t)a * (size_t)p->in_c + 8u * (size_t)a * (size_t)a) * sizeof(float);
}

/* The output tile of channel o from its summed products m: transform, bias, clamp, and the
 * rows x cols outputs inside the image (a partial tile at the bottom or right edge). */
static inline void fn_wino_f32_store(const float *m, fn_wino_output_transform output_transform, int32_t tile,
                                     float b, float act_min, float act_max, int32_t rows, int32_t cols,
                                     float *out, size_t row_step, size_t col_step)
{
    float y[(FN_WINO_MAX_A - 2) * (FN_WINO_MAX_A - 2)];
    output_transform(m, y);
    for (int32_t i = 0; i < rows; ++i) {
        for (int32_t j = 0; j < cols; ++j) {
            out[(size_t)i * row_step + (size_t)j * col_step] = fn_clampf(y[i * tile + j] + b, act_min, act_max);
        }
    }
}

/* Every input channel's tile at (iy0, ix0) of image x, zeros outside the input, transformed into
 * v [a * a][in_c]: a tile inside the input is read in place, one reaching out of it is copied
 * with its zeros first. */
static inline void fn_wino_f32_input_tiles(const fn_conv2d_f32_winograd_params *p, const float *x, int32_t a,
                                           int32_t iy0, int32_t ix0, fn_wino_input_transform input_transform,
                                           float *v)
{
    int32_t r0, r1, c0, c1;
    fn_tap_range(iy0, 1, a, p->in_h, &r0, &r1);
    fn_tap_range(ix0, 1, a, p->in_w, &c0, &c1);
    const size_t in_c = (size_t)p->in_c;
    const size_t row = (size_t)p->in_w * in_c;
    if (r0 == 0 && r1 == a && c0 == 0 && c1 == a) {
        const float *origin = x + (size_t)iy0 * row + (size_t)ix0 * in_c;
        for (size_t c = 0; c < in_c; ++c) {
            input_transform(origin + c, row, in_c, v + c, in_c);
        }
        return;
    }
    float d[FN_WINO_MAX_A * FN_WINO_MAX_A];
    for (int32_t k = 0; k < a * a; ++k) {
        d[k] = 0.0f;
    }
    for (size_t c = 0; c < in_c; ++c) {
        for (int32_t i = r0; i < r1; ++i) {
            const float *src = x + (size_t)(iy0 + i) * row + (size_t)(ix0 + c0) * in_c + c;
            for (int32_t j = c0; j < c1; ++j) {
                d[i * a + j] = *src;
                src += in_c;
            }
        }
        input_transform(d, (size_t)a, 1, v + c, in_c);
    }
}

/* acc[k] = sum over c of u[k][c] * v[k][c], k = 0 .. t2 - 1, for one output channel's u. */
static inline void fn_wino_f32_products1(const float *u, const float *v, int32_t t2, size_t in_c, float *acc)
{
    for (int32_t k = 0; k < t2; ++k) {
        const float *uk = u + (size_t)k * in_c;
        const float *vk = v + (size_t)k * in_c;
        float s = 0.0f;
        for (size_t c = 0; c < in_c; ++c) {
            s += uk[c] * vk[c];
        }
        acc[k] = s;
    }
}

/* The same for four output channels (u0 and the three that follow, filter_step apart), each input
 * value loaded once: acc [4][t2]. */
static inline void fn_wino_f32_products4(const float *u0, size_t filter_step, const float *v, int32_t t2,
                                         size_t in_c, float *acc)
{
    for (int32_t k = 0; k < t2; ++k) {
        const float *a0 = u0 + (size_t)k * in_c;
        const float *a1 = a0 + filter_step;
        const float *a2 = a1 + filter_step;
        const float *a3 = a2 + filter_step;
        const float *vk = v + (size_t)k * in_c;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (size_t c = 0; c < in_c; ++c) {
            const float x = vk[c];
            s0 += a0[c] * x;
            s1 += a1[c] * x;
            s2 += a2[c] * x;
            s3 += a3[c] * x;
        }
        acc[k] = s0;
        acc[t2 + k] = s1;
        acc[2 * t2 + k] = s2;
        acc[3 * t2 + k] = s3;
    }
}

/* Two tiles' sums (inputs v0 and v1) for the four output channels at u0: acc [2][4][t2]; each
 * filter value and each input value loaded once for two and four products. */
static inline void fn_wino_f32_products8(const float *u0, size_t filter_step, const float *v0, const float *v1,
                                         int32_t t2, size_t in_c, float *acc)
{
    for (int32_t k = 0; k < t2; ++k) {
        const float *a0 = u0 + (size_t)k * in_c;
        const float *a1 = a0 + filter_step;
        const float *a2 = a1 + filter_step;
        const float *a3 = a2 + filter_step;
        const float *x0 = v0 + (size_t)k * in_c;
        const float *x1 = v1 + (size_t)k * in_c;
        const float *const x0_end = x0 + in_c;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, r0 = 0.0f, r1 = 0.0f, r2 = 0.0f, r3 = 0.0f;
        while (x0 < x0_end) {   /* pointers only: the loop keeps its end in a register */
            const float x = *x0++, y = *x1++;
            const float w0 = *a0++, w1 = *a1++, w2 = *a2++, w3 = *a3++;
            s0 += w0 * x;
            s1 += w1 * x;
            s2 += w2 * x;
            s3 += w3 * x;
            r0 += w0 * y;
            r1 += w1 * y;
            r2 += w2 * y;
            r3 += w3 * y;
        }
        acc[k] = s0;
        acc[t2 + k] = s1;
        acc[2 * t2 + k] = s2;
        acc[3 * t2 + k] = s3;
        acc[4 * t2 + k] = r0;
        acc[5 * t2 + k] = r1;
        acc[6 * t2 + k] = r2;
        acc[7 * t2 + k] = r3;
    }
}

static inline fn_status fn_wino_f32_run(const fn_conv2d_f32_winograd_params *p, const float *input,
                                        const float *u, const float *bias, float *output, void *scratch,
                                        int32_t tile, fn_wino_input_transform input_transform,
                                        fn_wino_output_transform output_transform)
{
    if (p == NULL || input == NULL || u == NULL || output == NULL || scratch == NULL || !fn_wino_f32_ok(p)) {
        return FN_ERR_ARG;
    }
    const int32_t a = tile + 2, t2 = a * a;
    const size_t in_c = (size_t)p->in_c, out_c = (size_t)p->out_c;
    const size_t filter_step = (size_t)t2 * in_c;           /* floats of u per output channel */
    const size_t px = p->out_stride > 0 ? (size_t)p->out_stride : out_c;   /* floats per output pixel */
    const size_t out_row = (size_t)p->out_w * px;
    float *v0 = (float *)scratch;
    float *v1 = v0 + filter_step;
    float *acc = v1 + filter_step;
    for (int32_t n = 0; n < p->batch; ++n) {
        const float *x = input + (size_t)n * (size_t)p->in_h * (size_t)p->in_w * in_c;
        float *y = output + (size_t)n * (size_t)p->out_h * out_row;
        for (int32_t oy = 0; oy < p->out_h; oy += tile) {
            const int32_t rows = p->out_h - oy < tile ? p->out_h - oy : tile;
            int32_t ox = 0;
            /* two tiles side by side while both hold outputs */
            for (; ox + tile < p->out_w; ox += 2 * tile) {
                const int32_t cols = p->out_w - ox - tile < tile ? p->out_w - ox - tile : tile;
                fn_wino_f32_input_tiles(p, x, a, oy - p->pad_top, ox - p->pad_left, input_transform, v0);
                fn_wino_f32_input_tiles(p, x, a, oy - p->pad_top, ox + tile - p->pad_left, input_transform, v1);
                float *out = y + (size_t)oy * out_row + (size_t)ox * px;
                float *out1 = out + (size_t)tile * px;
                size_t o = 0;
                for (; o + 4 <= out_c; o += 4) {
                    fn_wino_f32_products8(u + o * filter_step, filter_step, v0, v1, t2, in_c, acc);
                    for (size_t j = 0; j < 4; ++j) {
                        const float b = bias != NULL ? bias[o + j] : 0.0f;
                        fn_wino_f32_store(acc + j * (size_t)t2, output_transform, tile, b, p->act_min, p->act_max,
                                          rows, tile, out + o + j, out_row, px);
                        fn_wino_f32_store(acc + (4 + j) * (size_t)t2, output_transform, tile, b, p->act_min,
                                          p->act_max, rows, cols, out1 + o + j, out_row, px);
                    }
                }
                for (; o < out_c; ++o) {
                    const float b = bias != NULL ? bias[o] : 0.0f;
                    fn_wino_f32_products1(u + o * filter_step, v0, t2, in_c, acc);
                    fn_wino_f32_store(acc, output_transform, tile, b, p->act_min, p->act_max, rows, tile, out + o,
                                      out_row, px);
                    fn_wino_f32_products1(u + o * filter_step, v1, t2, in_c, acc);
                    fn_wino_f32_store(acc, output_transform, tile, b, p->act_min, p->act_max, rows, cols, out1 + o,
                                      out_row, px);
                }
            }
            if (ox < p->out_w) {          /* the last tile of the row, alone */
                const int32_t cols = p->out_w - ox;
                fn_wino_f32_input_tiles(p, x, a, oy - p->pad_top, ox - p->pad_left, input_transform, v0);
                float *out = y + (size_t)oy * out_row + (size_t)ox * px;
                size_t o = 0;
                for (; o + 4 <= out_c; o += 4) {
                    fn_wino_f32_products4(u + o * filter_step, filter_step, v0, t2, in_c, acc);
                    for (size_t j = 0; j < 4; ++j) {
                        fn_wino_f32_store(acc + j * (size_t)t2, output_transform, tile,
                                          bias != NULL ? bias[o + j] : 0.0f, p->act_min, p->act_max, rows, cols,
                                          out + o + j, out_row, px);
                    }
                }
                for (; o < out_c; ++o) {
                    fn_wino_f32_products1(u + o * filter_step, v0, t2, in_c, acc);
                    fn_wino_f32_store(acc, output_transform, tile, bias != NULL ? bias[o] : 0.0f, p->act_min,
                                      p->act_max, rows, cols, out + o, out_row, px);
                }
            }
        }
    }
    return FN_OK;
}

#endif
