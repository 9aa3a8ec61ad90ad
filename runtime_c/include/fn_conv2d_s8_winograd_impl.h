/* firmnet runtime, internal: code shared by the int8 Winograd variants
 * (fn_conv2d_s8_winograd.c, portable; fn_conv2d_s8_winograd_dsp.c, DSP extension): the
 * argument check, the padded input rows, the transforms and the tile walk, which takes the
 * variant's input transform and product loop (fn_conv2d_s8_winograd.h states the arithmetic). */
#ifndef FN_CONV2D_S8_WINOGRAD_IMPL_H
#define FN_CONV2D_S8_WINOGRAD_IMPL_H

#include <string.h>

#include "fn_conv2d_s8_winograd.h"
#include "fn_conv_s8_impl.h"
#include "fn_dsp.h"

/* 1 if the arguments meet fn_conv2d_s8_winograd's constraints. */
static inline int fn_wino_s8_args_ok(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                     const int8_t *output, const void *scratch)
{
    return p != NULL && filter != NULL && scratch != NULL && fn_wino_s8_shape(p) && p->filter_offset == NULL &&
           fn_conv2d_s8_winograd_scratch_size(p) != 0 &&
           fn_conv2d_s8_args_ok(p, input, (const int8_t *)(const void *)filter, output, 1);
}

/* The product loop of a variant: m[2 * t + o][k] = SUM over c < cp of V_t[k][c] * U_o[k][c]
 * (modulo 2^32) for tiles t = 0, 1 and output channels o = 0, 1 of a pair, positions k < 16:
 * v the two tiles' transforms, u the pair's transformed filter, both in the interleaved layout
 * of fn_conv2d_s8_winograd.h ([16][cp / 2][2][2] int16), cp even. */
typedef void (*fn_wino_s8_mac)(const int16_t *v, const int16_t *u, int32_t cp, uint32_t m[4][16]);

/* Where V_t[k][c] of tile t (or U_o[k][c] of channel o of a pair) lies in the layout. */
static inline size_t wino_index(int32_t k, int32_t c, int32_t t, int32_t cp)
{
    return (size_t)k * 2 * (size_t)cp + (size_t)(c / 2) * 4 + (size_t)t * 2 + (size_t)(c & 1);
}

/* The input transform of a variant: V = B^T d B of one tile, every input channel, into v (the
 * tile's slot: wino_index(k, c, 0, cp) from v; channel in_c, if cp > in_c, holds 0); x: the
 * tile's top-left tap in the padded rows (channel 0), row: bytes between the rows, d = x + offset. */
typedef void (*fn_wino_s8_tile)(const int8_t *x, size_t row, int32_t in_c, int32_t offset, int32_t cp,
                                int16_t *v);

/* The input rows iy0 + r of a tile row for r in [first, 4), columns -pad_left .. -pad_left +
 * row_w - 1, into rows [4][row_w][in_c] (slot r), the zero point (x + input_offset = 0) outside
 * the image. */
static inline void wino_fill_rows(const fn_conv2d_s8_params *p, const int8_t *image, int32_t iy0, int32_t first,
                                  int32_t row_w, int8_t *rows)
{
    const size_t in_c = (size_t)p->in_c, row_bytes = (size_t)row_w * in_c;
    const int zp = -p->input_offset;   /* in [-128, 127] */
    /* the columns of the padded row that hold image columns: [lo, hi) */
    const int32_t lo = p->pad_left < row_w ? p->pad_left : row_w;
    const int32_t hi = p->in_w < row_w - lo ? lo + p->in_w : row_w;
    for (int32_t r = first; r < 4; ++r) {
        int8_t *dst = rows + (size_t)r * row_bytes;
        const int32_t iy = iy0 + r;
        if (iy < 0 || iy >= p->in_h || hi <= lo) {
            memset(dst, zp, row_bytes);
            continue;
        }
        memset(dst, zp, (size_t)lo * in_c);
        memcpy(dst + (size_t)lo * in_c, image + (size_t)iy * (size_t)p->in_w * in_c, (size_t)(hi - lo) * in_c);
        memset(dst + (size_t)hi * in_c, zp, (size_t)(row_w - hi) * in_c);
    }
}

/* V = B^T d B of one input channel: x its tap (0, 0), col and row the steps between taps;
 * v[k * step] = V[k / 4][k % 4]. |V| <= 4 * 255 fits int16. */
static inline void wino_tile_channel(const int8_t *x, size_t col, size_t row, int32_t offset, size_t step,
                                     int16_t *v)
{
    int32_t e[4][4];   /* e = B^T d, column by column of d */
    for (int32_t s = 0; s < 4; ++s) {
        const int8_t *t = x + (size_t)s * col;
        const int32_t d0 = t[0] + offset, d1 = t[row] + offset, d2 = t[2 * row] + offset, d3 = t[3 * row] + offset;
        e[0][s] = d0 - d2;
        e[1][s] = d1 + d2;
        e[2][s] = d2 - d1;
        e[3][s] = d1 - d3;
    }
    for (int32_t r = 0; r < 4; ++r) {   /* V = e B */
        int16_t *vr = v + (size_t)(4 * r) * step;
        vr[0] = (int16_t)(e[r][0] - e[r][2]);
        vr[step] = (int16_t)(e[r][1] + e[r][2]);
        vr[2 * step] = (int16_t)(e[r][2] - e[r][1]);
        vr[3 * step] = (int16_t)(e[r][1] - e[r][3]);
    }
}

/* The zero padding channel of a tile's transform (cp > in_c). */
static inline void wino_pad_channel(int32_t in_c, int32_t cp, int16_t *v)
{
    if (cp > in_c) {
        for (int32_t k = 0; k < 16; ++k) {
            v[wino_index(k, in_c, 0, cp)] = 0;
        }
    }
}

/* The portable input transform (fn_wino_s8_tile). */
FN_MAYBE_UNUSED static void wino_tile_portable(const int8_t *x, size_t row, int32_t in_c, int32_t offset, int32_t cp,
                                               int16_t *v)
{
    for (int32_t c = 0; c < in_c; ++c) {
        wino_tile_channel(x + c, (size_t)in_c, row, offset, 2 * (size_t)cp, v + wino_index(0, c, 0, cp));
    }
    wino_pad_channel(in_c, cp, v);
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
 * pixel (channel 0); rows and cols (1 or 2) say how many of the tile's outputs lie inside the
 * image. Y = 4 * sum in int32 (the bound), so sum = Y >> 2 exactly (an arithmetic shift). The
 * fast stage's channel parameters are read once for the 4 outputs. */
static inline void wino_finish_tile(const uint32_t m[16], const fn_fast_out_s8 *f, int fast,
                                    const fn_channel_stage_s8 *stage, int32_t o, int32_t rows, int32_t cols,
                                    size_t row_stride, size_t col_stride, int8_t *out)
{
    uint32_t y[4];
    wino_output_transform(m, y);
    int8_t *const o0 = out + o, *const o1 = o0 + row_stride;
    if (fast && rows == 2 && cols == 2) {   /* the common case, straight through */
        const fn_fast_ch_s8 ch = fn_fast_out_s8_ch(f, o);
        const int32_t tflm = f->tflm, zo = f->output_offset;
        o0[0] = fn_fast_out_s8_ch_one((int32_t)y[0] >> 2, &ch, tflm, zo);
        o0[col_stride] = fn_fast_out_s8_ch_one((int32_t)y[1] >> 2, &ch, tflm, zo);
        o1[0] = fn_fast_out_s8_ch_one((int32_t)y[2] >> 2, &ch, tflm, zo);
        o1[col_stride] = fn_fast_out_s8_ch_one((int32_t)y[3] >> 2, &ch, tflm, zo);
        return;
    }
    for (int32_t i = 0; i < rows; ++i) {
        for (int32_t j = 0; j < cols; ++j) {
            o0[(size_t)i * row_stride + (size_t)j * col_stride] = fn_finish_one_s8(f, fast, stage, o,
                                                                                 (int32_t)y[2 * i + j] >> 2);
        }
    }
}

/* The whole call: per tile row the padded input rows (the first tile row's 4; each next one
 * keeps the last 2 and reads only the 2 new ones, so with pad_top 1 a tile row's outputs never
 * reach an input row still to be read and the output may start at the input: in_place.py's
 * winograd_delta), then tiles two at a time (a row's odd
 * last tile is transformed into both slots and computed twice, written once), output
 * channels two at a time (an odd last one with the filter's zero channel, not written). */
FN_ALWAYS_INLINE static inline void fn_wino_s8_run(const fn_conv2d_s8_params *p, const int8_t *input,
                                                   const int16_t *filter, const int32_t *bias, int8_t *output,
                                                   void *scratch, fn_wino_s8_tile tile, fn_wino_s8_mac mac)
{
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_c);
    const int32_t in_c = p->in_c, cp = fn_wino_s8_in_c_pad(in_c), out_c = p->out_c, offset = p->input_offset;
    const int32_t row_w = fn_wino_s8_row_w(p->out_w);
    const size_t pair_values = 32 * (size_t)cp, row_bytes = (size_t)row_w * (size_t)in_c;
    const size_t col_stride = (size_t)out_c, row_stride = (size_t)p->out_w * col_stride;
    const size_t in_image = (size_t)p->in_h * (size_t)p->in_w * (size_t)in_c;
    int16_t *const v = (int16_t *)scratch;
    int8_t *const rows = (int8_t *)scratch + fn_wino_s8_tiles_bytes(in_c);
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *image = input + (size_t)b * in_image;
        int8_t *out_b = output + (size_t)b * (size_t)p->out_h * row_stride;
        for (int32_t oy = 0; oy < p->out_h; oy += 2) {
            const int32_t n_rows = p->out_h - oy < 2 ? 1 : 2;
            if (oy == 0) {
                wino_fill_rows(p, image, -p->pad_top, 0, row_w, rows);
            } else {   /* rows 2, 3 of the last tile row are this one's 0, 1: only 2 new rows read */
                memcpy(rows, rows + 2 * row_bytes, 2 * row_bytes);
                wino_fill_rows(p, image, oy - p->pad_top, 2, row_w, rows);
            }
            for (int32_t ox = 0; ox < p->out_w; ox += 4) {
                /* tiles at ox and ox + 2; without a second one, the first fills both slots */
                const int pair = ox + 2 < p->out_w;
                const int32_t cols0 = p->out_w - ox < 2 ? 1 : 2;
                const int32_t cols1 = pair ? (p->out_w - ox - 2 < 2 ? 1 : 2) : 0;
                const int8_t *x = rows + (size_t)ox * (size_t)in_c;
                tile(x, row_bytes, in_c, offset, cp, v);
                tile(pair ? x + 2 * (size_t)in_c : x, row_bytes, in_c, offset, cp, v + 2);
                int8_t *out0 = out_b + (size_t)oy * row_stride + (size_t)ox * col_stride;
                int8_t *out1 = out0 + 2 * col_stride;
                for (int32_t o = 0; o < out_c; o += 2) {
                    uint32_t m[4][16];
                    mac(v, filter + (size_t)(o / 2) * pair_values, cp, m);
                    for (int32_t j = 0; j < 4; ++j) {   /* m[j]: tile j / 2, channel o + j % 2 */
                        const int32_t t = j >> 1, oc = o + (j & 1);
                        if (oc < out_c && (t == 0 || pair)) {
                            wino_finish_tile(m[j], &f, fast, &stage, oc, n_rows, t ? cols1 : cols0, row_stride,
                                             col_stride, t ? out1 : out0);
                        }
                    }
                }
            }
        }
    }
}

/* The portable product loop (fn_wino_s8_mac). */
FN_MAYBE_UNUSED static void wino_mac_portable(const int16_t *v, const int16_t *u, int32_t cp, uint32_t m[4][16])
{
    for (int32_t k = 0; k < 16; ++k) {
        uint32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
        for (int32_t i = 0; i < cp / 2; ++i, v += 4, u += 4) {
            /* v: (tile 0: c, c + 1), (tile 1: c, c + 1); u the same for the 2 filters; channel c,
             * then c + 1. |V * U| <= 1020 * 1152: each product fits int32 */
            for (int32_t j = 0; j < 2; ++j) {
                const int32_t x0 = v[j], x1 = v[2 + j], w0 = u[j], w1 = u[2 + j];
                a00 += (uint32_t)(x0 * w0);
                a01 += (uint32_t)(x0 * w1);
                a10 += (uint32_t)(x1 * w0);
                a11 += (uint32_t)(x1 * w1);
            }
        }
        m[0][k] = a00;
        m[1][k] = a01;
        m[2][k] = a10;
        m[3][k] = a11;
    }
}

#endif
