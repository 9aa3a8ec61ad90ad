/* firmnet runtime, internal: code shared by the int8 Winograd variants
 * (fn_conv2d_s8_winograd.c, portable; fn_conv2d_s8_winograd_dsp.c, DSP extension): the
 * argument check, the input and output transforms and the tile walk, which takes the
 * variant's product loop (fn_conv2d_s8_winograd.h states the arithmetic). */
#ifndef FN_CONV2D_S8_WINOGRAD_IMPL_H
#define FN_CONV2D_S8_WINOGRAD_IMPL_H

#include "fn_conv2d_s8_winograd.h"
#include "fn_conv_s8_impl.h"
#include "fn_dsp.h"

/* 1 if the arguments meet fn_conv2d_s8_winograd's constraints. */
static inline int fn_wino_s8_args_ok(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                     const int8_t *output, const void *scratch)
{
    return p != NULL && filter != NULL && scratch != NULL && fn_wino_s8_shape(p) && p->filter_offset == NULL &&
           fn_conv2d_s8_args_ok(p, input, (const int8_t *)(const void *)filter, output, 1);
}

/* The product loop of a variant: m[2 * t + o][k] = SUM over c < cp of v_t[k][c] * u_o[k][c]
 * (modulo 2^32) for tiles t = 0, 1 and output channels o = 0, 1, positions k < 16; v_t and
 * u_o are [16][cp] int16, cp even. */
typedef void (*fn_wino_s8_mac)(const int16_t *v0, const int16_t *v1, const int16_t *u0, const int16_t *u1,
                               int32_t cp, uint32_t m[4][16]);

/* V = B^T d B of the tile whose top-left input is (iy0, ix0), every input channel, into
 * v [16][cp] (channel in_c, if cp > in_c, holds 0). d = x + input_offset inside the image, 0
 * outside. */
FN_MAYBE_UNUSED static void wino_input_tile(const fn_conv2d_s8_params *p, const int8_t *image, int32_t iy0,
                                            int32_t ix0, int32_t cp, int16_t *v)
{
    const int32_t in_c = p->in_c, offset = p->input_offset;
    const int8_t *tap[16];   /* each tap's input pixel, NULL in the padding */
    for (int32_t r = 0; r < 4; ++r) {
        const int32_t iy = iy0 + r;
        for (int32_t s = 0; s < 4; ++s) {
            const int32_t ix = ix0 + s;
            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            tap[4 * r + s] = inside ? image + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)in_c : NULL;
        }
    }
    for (int32_t c = 0; c < in_c; ++c) {
        int32_t d[16], e[16];
        for (int32_t k = 0; k < 16; ++k) {
            d[k] = tap[k] != NULL ? tap[k][c] + offset : 0;
        }
        for (int32_t s = 0; s < 4; ++s) {   /* e = B^T d: rows */
            e[s] = d[s] - d[8 + s];
            e[4 + s] = d[4 + s] + d[8 + s];
            e[8 + s] = d[8 + s] - d[4 + s];
            e[12 + s] = d[4 + s] - d[12 + s];
        }
        for (int32_t r = 0; r < 4; ++r) {   /* V = e B: columns */
            const int32_t *er = e + 4 * r;
            int16_t *vr = v + (size_t)(4 * r) * (size_t)cp + (size_t)c;
            vr[0] = (int16_t)(er[0] - er[2]);
            vr[(size_t)cp] = (int16_t)(er[1] + er[2]);
            vr[2 * (size_t)cp] = (int16_t)(er[2] - er[1]);
            vr[3 * (size_t)cp] = (int16_t)(er[1] - er[3]);
        }
    }
    if (cp > in_c) {
        for (int32_t k = 0; k < 16; ++k) {
            v[(size_t)k * (size_t)cp + (size_t)in_c] = 0;
        }
    }
}

/* Y = A^T M A, modulo 2^32: y = (Y00, Y01, Y10, Y11). */
static inline void wino_output_transform(const uint32_t m[16], uint32_t y[4])
{
    uint32_t t0[4], t1[4];
    for (int32_t s = 0; s < 4; ++s) {
        t0[s] = m[s] + m[4 + s] + m[8 + s];
        t1[s] = m[4 + s] - m[8 + s] - m[12 + s];
    }
    y[0] = t0[0] + t0[1] + t0[2];
    y[1] = t0[1] - t0[2] - t0[3];
    y[2] = t1[0] + t1[1] + t1[2];
    y[3] = t1[1] - t1[2] - t1[3];
}

/* The outputs of channel o of one tile from its M: out points at the tile's top-left output
 * pixel; rows and cols (1 or 2) say how many of the tile's outputs lie inside the image. */
static inline void wino_finish_tile(const uint32_t m[16], const fn_fast_out_s8 *f, int fast,
                                    const fn_channel_stage_s8 *stage, int32_t o, int32_t rows, int32_t cols,
                                    size_t row_stride, size_t col_stride, int8_t *out)
{
    uint32_t y[4];
    wino_output_transform(m, y);
    for (int32_t i = 0; i < rows; ++i) {
        for (int32_t j = 0; j < cols; ++j) {
            /* Y = 4 * sum in int32 (the bound): an exact division, as an arithmetic shift */
            const int32_t sum = (int32_t)y[2 * i + j] >> 2;
            out[(size_t)i * row_stride + (size_t)j * col_stride + (size_t)o] =
                fn_finish_one_s8(f, fast, stage, o, sum);
        }
    }
}

/* The whole call: tiles two at a time along each tile row (a row's odd last tile is
 * transformed into both slots and computed twice, written once), output channels two at a
 * time (an odd last one likewise). */
FN_ALWAYS_INLINE static inline void fn_wino_s8_run(const fn_conv2d_s8_params *p, const int8_t *input,
                                                   const int16_t *filter, const int32_t *bias, int8_t *output,
                                                   int16_t *scratch, fn_wino_s8_mac mac)
{
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_c);
    const int32_t cp = fn_wino_s8_in_c_pad(p->in_c), out_c = p->out_c;
    const size_t tile_values = 16 * (size_t)cp;
    const size_t col_stride = (size_t)out_c, row_stride = (size_t)p->out_w * col_stride;
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
    int16_t *const v0 = scratch, *const v1 = scratch + tile_values;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *image = input + (size_t)b * in_image;
        int8_t *out_b = output + (size_t)b * (size_t)p->out_h * row_stride;
        for (int32_t oy = 0; oy < p->out_h; oy += 2) {
            const int32_t rows = p->out_h - oy < 2 ? 1 : 2;
            for (int32_t ox = 0; ox < p->out_w; ox += 4) {
                /* tiles at ox and ox + 2; the second is the first again past the row's end */
                const int pair = ox + 2 < p->out_w;
                const int32_t cols0 = p->out_w - ox < 2 ? 1 : 2;
                const int32_t cols1 = pair ? (p->out_w - ox - 2 < 2 ? 1 : 2) : 0;
                wino_input_tile(p, image, oy - p->pad_top, ox - p->pad_left, cp, v0);
                if (pair) {
                    wino_input_tile(p, image, oy - p->pad_top, ox + 2 - p->pad_left, cp, v1);
                }
                int8_t *out0 = out_b + (size_t)oy * row_stride + (size_t)ox * col_stride;
                int8_t *out1 = out0 + 2 * col_stride;
                for (int32_t o = 0; o < out_c; o += 2) {
                    const int two = o + 1 < out_c;
                    const int16_t *u0 = filter + (size_t)o * tile_values;
                    uint32_t m[4][16];
                    mac(v0, pair ? v1 : v0, u0, two ? u0 + tile_values : u0, cp, m);
                    wino_finish_tile(m[0], &f, fast, &stage, o, rows, cols0, row_stride, col_stride, out0);
                    if (two) {
                        wino_finish_tile(m[1], &f, fast, &stage, o + 1, rows, cols0, row_stride, col_stride, out0);
                    }
                    if (pair) {
                        wino_finish_tile(m[2], &f, fast, &stage, o, rows, cols1, row_stride, col_stride, out1);
                        if (two) {
                            wino_finish_tile(m[3], &f, fast, &stage, o + 1, rows, cols1, row_stride, col_stride,
                                             out1);
                        }
                    }
                }
            }
        }
    }
}

/* The portable product loop (fn_wino_s8_mac). */
FN_MAYBE_UNUSED static void wino_mac_portable(const int16_t *v0, const int16_t *v1, const int16_t *u0,
                                              const int16_t *u1, int32_t cp, uint32_t m[4][16])
{
    for (int32_t k = 0; k < 16; ++k) {
        uint32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        for (int32_t c = 0; c < cp; ++c) {
            const int32_t x0 = v0[c], x1 = v1[c], w0 = u0[c], w1 = u1[c];
            a00 += (uint32_t)(x0 * w0);   /* |V * U| <= 1020 * 1152: no int32 overflow */
            a01 += (uint32_t)(x0 * w1);
            a10 += (uint32_t)(x1 * w0);
            a11 += (uint32_t)(x1 * w1);
        }
        m[0][k] = a00;
        m[1][k] = a01;
        m[2][k] = a10;
        m[3][k] = a11;
        v0 += cp;
        v1 += cp;
        u0 += cp;
        u1 += cp;
    }
}

#endif
