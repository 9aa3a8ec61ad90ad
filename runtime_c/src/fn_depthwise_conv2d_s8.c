/* firmnet runtime: int8 depthwise 2-D convolution with a channel multiplier.
 *
 * The filter is stored in blocks of FN_DW_S8_BLOCK = 4 output channels, each block
 * [kernel_h][kernel_w][4] (fn_conv_s8.h). For each output pixel the in-bounds taps
 * are found once; then every block is computed over all of its taps with four
 * register accumulators, reading the block's weights sequentially.
 *
 * DSP paths (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55), blocks of 4 channels outermost;
 * a block's weight words w0..w3 are widened once into a stack buffer as (w0, w2) =
 * SXTB16(w) and (w1, w3) = SXTB16(w ROR 8), its requantization gathered once:
 *
 * depth_multiplier 1, kernel_h and kernel_w at most FN_DW_ROWS_K, and kernel_h widened input
 * rows fitting FN_DW_ROWBUF words (dw_rows_dsp): per block and output row, the input rows the row reads
 * are widened once into a stack buffer with zeros in the padding (a padded tap then adds
 * (x + input_offset) * w = 0, exactly what TFLite's skipped taps add), kept in slots that
 * the next output rows reuse, so that each input value is widened once per block; every
 * output pixel then reads the buffer with one code path (3x3 unrolled), no border cases:
 * per tap two word pairs (inputs, weights) and SMLABB/SMLATT.
 *
 * otherwise, depth_multiplier 1 or a multiple of 4 and kernels of at most FN_DW_WTAPS taps
 * (dw_blocks_dsp): every output pixel of the block is computed with the halfword
 * multiply-accumulates SMLABB/SMLATT/SMLABT, one product per channel and tap:
 *   depth_multiplier 1: the block's 4 input channels are adjacent, one word x0..x3 gives
 *       (x0 + off, x2 + off) = SXTAB16(off:off, x) and (x1 + off, x3 + off) with ROR 8;
 *   depth_multiplier a multiple of 4: the block reads one input channel, x + off.
 * Pixels whose window lies inside the input walk a table of tap offsets (one loop, no
 * row/column bookkeeping); border pixels walk their in-bounds rows and columns. Other
 * multipliers, larger kernels and a last block of fewer than 4 channels take the portable
 * loop. Each product is the int32 product (x + input_offset) * w of the portable path
 * (|x + off| <= 255 fits a halfword) and the sums are the same integers (fn_conv_s8.h: no
 * overflow in any order).
 *
 * Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's requantization allows
 * it, else fn_finish_channel_s8; the same bytes either way. */
#include <string.h>

#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

/* The taps of one output pixel: rows x n_kx in-bounds taps; x = input at the first tap,
 * channel 0; w_first = filter offset of the first tap within a block's [kh][kw] grid. */
typedef struct {
    const int8_t *x;
    int32_t rows, n_kx;
    size_t w_first, w_row;      /* taps: first, and per filter row (kernel_w) */
    size_t x_col, x_row;        /* input bytes between kx taps and between ky taps */
} dw_taps;

#if FN_DSP
/* Filter taps (kernel_h * kernel_w) up to which a block's weights are widened once into a
 * stack buffer (2 words per tap: 512 bytes) by dw_blocks_dsp. */
#define FN_DW_WTAPS 64

/* One block of 4 output channels (oc .. oc + 3), as dw_run reads it. */
typedef struct {
    const int32_t *wide;        /* widened weights: (w0, w2), (w1, w3) per tap */
    const size_t *x_tap;        /* input offset of each tap from the window's corner */
    size_t taps;
    size_t x_col, x_row;        /* input bytes between kx taps, between ky taps */
    int32_t off2;               /* input_offset in both 16-bit lanes */
    int32_t input_offset;
    int32_t mode;               /* dw_blocks_dsp: 1: depth multiplier 1; 2: a multiple of 4 */
    int fast;                   /* fn_fast_out_s8 applies: ch[] is set */
    int32_t tflm, output_offset;
    fn_fast_ch_s8 ch[FN_DW_S8_BLOCK];
    const fn_channel_stage_s8 *stage;
    int32_t oc;
} dw_block;

/* The block's 4 outputs from its sums through the general output stage. */
FN_NOINLINE static void dw_finish_general(const dw_block *k, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
                                          int8_t *out)
{
    out[0] = fn_finish_channel_s8(k->stage, k->oc, a0);
    out[1] = fn_finish_channel_s8(k->stage, k->oc + 1, a1);
    out[2] = fn_finish_channel_s8(k->stage, k->oc + 2, a2);
    out[3] = fn_finish_channel_s8(k->stage, k->oc + 3, a3);
}

/* The block's 4 outputs from its sums (always inlined: GCC 12 otherwise calls a split-off
 * part of it). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void dw_finish(const dw_block *k, int32_t a0, int32_t a1, int32_t a2, int32_t a3, int8_t *out)
{
    if (k->fast) {
        const int32_t tflm = k->tflm, zo = k->output_offset;
        out[0] = fn_fast_out_s8_ch_one(a0, &k->ch[0], tflm, zo);
        out[1] = fn_fast_out_s8_ch_one(a1, &k->ch[1], tflm, zo);
        out[2] = fn_fast_out_s8_ch_one(a2, &k->ch[2], tflm, zo);
        out[3] = fn_fast_out_s8_ch_one(a3, &k->ch[3], tflm, zo);
        return;
    }
    dw_finish_general(k, a0, a1, a2, a3, out);
}

/* One tap of a block, depth multiplier 1: the input word at xp and the widened weight
 * pair w[0], w[1] into the four accumulators. */
#define DW_TAP_M1(xp, w)                                                        \
    do {                                                                        \
        const int32_t xv_ = fn_load4(xp);                                          \
        const int32_t xe_ = __sxtab16(off2, xv_), xd_ = fn_sxtab16_ror8(off2, xv_); \
        acc0 = __smlabb(xe_, (w)[0], acc0);                                     \
        acc2 = __smlatt(xe_, (w)[0], acc2);                                     \
        acc1 = __smlabb(xd_, (w)[1], acc1);                                     \
        acc3 = __smlatt(xd_, (w)[1], acc3);                                     \
        FN_BARRIER();                                                      \
    } while (0)

/* n consecutive output pixels of one row whose windows lie inside the input: window
 * corners at x + i * x_step (channel of the block's input already added), outputs at
 * out + i * out_step. Two variants (dw_block.mode), each its own loop. */
FN_NOINLINE static void dw_run_m1(const dw_block *k, const int8_t *x, size_t x_step, int32_t n, int8_t *out,
                                  size_t out_step)
{
    const int32_t off2 = k->off2;
    size_t xi = 0, oi = 0;
    for (int32_t i = 0; i < n; ++i, xi += x_step, oi += out_step) {
        const int8_t *xp = x + xi;
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        const int32_t *w = k->wide;
        const size_t *xt = k->x_tap, *const xt_end = k->x_tap + k->taps;
        while (xt != xt_end) {
            DW_TAP_M1(xp + *xt, w);
            ++xt;
            w += 2;
        }
        dw_finish(k, acc0, acc1, acc2, acc3, out + oi);
    }
}

FN_NOINLINE static void dw_run_m4(const dw_block *k, const int8_t *x, size_t x_step, int32_t n, int8_t *out,
                                  size_t out_step)
{
    const int32_t input_offset = k->input_offset;
    size_t xi = 0, oi = 0;
    for (int32_t i = 0; i < n; ++i, xi += x_step, oi += out_step) {
        const int8_t *xp = x + xi;
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        const int32_t *w = k->wide;
        const size_t *xt = k->x_tap, *const xt_end = k->x_tap + k->taps;
        while (xt != xt_end) {
            const int32_t xv = (int32_t)xp[*xt++] + input_offset;
            acc0 = __smlabb(xv, w[0], acc0);
            acc2 = __smlabt(xv, w[0], acc2);
            acc1 = __smlabb(xv, w[1], acc1);
            acc3 = __smlabt(xv, w[1], acc3);
            w += 2;
        }
        dw_finish(k, acc0, acc1, acc2, acc3, out + oi);
    }
}

/* One output pixel whose window is clipped by the input's border: the in-bounds rows
 * ky0 .. ky0 + rows - 1 and columns kx0 .. kx0 + n_kx - 1 (rows, n_kx >= 0); x = the
 * input at the first in-bounds tap (channel of the block's input added). */
FN_NOINLINE static void dw_border(const dw_block *k, const int8_t *x, int32_t kernel_w, int32_t ky0, int32_t rows,
                                  int32_t kx0, int32_t n_kx, int8_t *out)
{
    int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    const int32_t off2 = k->off2, input_offset = k->input_offset;
    const size_t x_col = k->x_col, x_row = k->x_row;
    const int32_t *w_r = k->wide + 2 * ((size_t)ky0 * (size_t)kernel_w + (size_t)kx0);
    size_t x_r = 0;
    if (k->mode != 2) {
        for (int32_t r = 0; r < rows; ++r, x_r += x_row) {
            const int32_t *w = w_r;
            size_t xo = x_r;
            for (int32_t c = 0; c < n_kx; ++c, xo += x_col, w += 2) {
                DW_TAP_M1(x + xo, w);
            }
            if (r + 1 < rows) {
                w_r += 2 * (size_t)kernel_w;
            }
        }
    } else {
        for (int32_t r = 0; r < rows; ++r, x_r += x_row) {
            const int32_t *w = w_r;
            size_t xo = x_r;
            for (int32_t c = 0; c < n_kx; ++c, xo += x_col, w += 2) {
                const int32_t xv = (int32_t)x[xo] + input_offset;
                acc0 = __smlabb(xv, w[0], acc0);
                acc2 = __smlabt(xv, w[0], acc2);
                acc1 = __smlabb(xv, w[1], acc1);
                acc3 = __smlabt(xv, w[1], acc3);
            }
            if (r + 1 < rows) {
                w_r += 2 * (size_t)kernel_w;
            }
        }
    }
    dw_finish(k, acc0, acc1, acc2, acc3, out);
}

/* One tap of a block from widened inputs: the words xp[0], xp[1] ((x0, x2), (x1, x3) with
 * the offset) and the widened weights wp[0], wp[1], into the four accumulators. */
#define DW_TAP_WIDE(xp, wp)                                                     \
    do {                                                                        \
        const int32_t xe_ = (xp)[0], xd_ = (xp)[1];                             \
        const int32_t we_ = (wp)[0], wd_ = (wp)[1];                             \
        acc0 = __smlabb(xe_, we_, acc0);                                        \
        acc2 = __smlatt(xe_, we_, acc2);                                        \
        acc1 = __smlabb(xd_, wd_, acc1);                                        \
        acc3 = __smlatt(xd_, wd_, acc3);                                        \
        FN_BARRIER();                                                      \
    } while (0)

/* Words of the row buffer of dw_rows_dsp (1 KB of stack), and the largest kernel_h and
 * kernel_w it takes. */
#define FN_DW_ROWBUF 256
#define FN_DW_ROWS_K 8

/* dw_rows_dsp's 3x3 kernel, dilation_w 1: the outputs ox = 0 .. n - 1 of one row of one
 * block from the widened padded input rows rows[0..2] (column j at words 2 * j, 2 * j + 1:
 * (x0, x2), (x1, x3) + offset, zero in the padding); window of ox at column ox * stride_w. */
FN_NOINLINE static void dw_rows_3x3(const dw_block *k, const int32_t *const rows[], int32_t stride_w, int32_t n,
                                    int8_t *out, size_t out_step)
{
    const int32_t *const w = k->wide;
    const size_t col_step = 2 * (size_t)stride_w;
    const int32_t *const r0 = rows[0], *const r1 = rows[1], *const r2 = rows[2];
    size_t xi = 0, oi = 0;
    for (int32_t i = 0; i < n; ++i, xi += col_step, oi += out_step) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        DW_TAP_WIDE(r0 + xi, w);
        DW_TAP_WIDE(r0 + xi + 2, w + 2);
        DW_TAP_WIDE(r0 + xi + 4, w + 4);
        DW_TAP_WIDE(r1 + xi, w + 6);
        DW_TAP_WIDE(r1 + xi + 2, w + 8);
        DW_TAP_WIDE(r1 + xi + 4, w + 10);
        DW_TAP_WIDE(r2 + xi, w + 12);
        DW_TAP_WIDE(r2 + xi + 2, w + 14);
        DW_TAP_WIDE(r2 + xi + 4, w + 16);
        dw_finish(k, acc0, acc1, acc2, acc3, out + oi);
    }
}

/* The same for any kernel of at most FN_DW_WTAPS taps: filter row r reads rows[r], tap
 * (r, kx) the words at column offset col[kx] (2 * kx * dilation_w). */
FN_NOINLINE static void dw_rows_taps(const dw_block *k, const int32_t *const rows[], const size_t *col,
                                     int32_t kernel_h, int32_t kernel_w, int32_t stride_w, int32_t n, int8_t *out,
                                     size_t out_step)
{
    const size_t col_step = 2 * (size_t)stride_w;
    size_t xi = 0, oi = 0;
    for (int32_t i = 0; i < n; ++i, xi += col_step, oi += out_step) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        const int32_t *w = k->wide;
        for (int32_t r = 0; r < kernel_h; ++r) {
            const int32_t *const x = rows[r] + xi;
            for (int32_t c = 0; c < kernel_w; ++c, w += 2) {
                DW_TAP_WIDE(x + col[c], w);
            }
        }
        dw_finish(k, acc0, acc1, acc2, acc3, out + oi);
    }
}

/* How dw_rows_dsp widens one input row into the row buffer. */
typedef struct {
    int32_t span_w;             /* buffer columns */
    int32_t x_lo, x_hi;         /* buffer columns j in [x_lo, x_hi) hold input column j - pad_left */
    int32_t pad_left;
    size_t in_c;
    int32_t off2;
} dw_row_geo;

/* Buffer row from the input row xr (the block's channels; NULL: a row of the padding):
 * words 2 j, 2 j + 1 = (x0, x2), (x1, x3) + input offset of column j - pad_left, zeros
 * outside the input. */
static void fill_row(int32_t *row, const int8_t *xr, const dw_row_geo *g)
{
    /* the fields in locals: the row's stores could alias *g as far as C knows */
    const int32_t x_lo = g->x_lo, x_hi = g->x_hi, span_w = g->span_w, off2 = g->off2;
    const size_t in_c = g->in_c;
    int32_t j = 0;
    if (xr != NULL) {
        for (; j < x_lo; ++j) {
            row[2 * j] = 0;
            row[2 * j + 1] = 0;
        }
        const int8_t *x = xr + (size_t)(x_lo - g->pad_left) * in_c;
        for (; j < x_hi; ++j, x += in_c) {
            const int32_t xv = fn_load4(x);
            row[2 * j] = __sxtab16(off2, xv);
            row[2 * j + 1] = fn_sxtab16_ror8(off2, xv);
        }
    }
    for (; j < span_w; ++j) {
        row[2 * j] = 0;
        row[2 * j + 1] = 0;
    }
}

/* The DSP path for depth_multiplier 1 when the kernel_h input rows one output row reads,
 * widened and padded, fit FN_DW_ROWBUF words: per block of 4 channels and output row,
 * those rows are widened once into a stack buffer with zeros for the padding (a padded
 * tap adds (x + input_offset) * w = 0, as TFLite's skipped taps), then every output pixel
 * of the row reads the buffer with the same code: no border cases, and each input value
 * is widened kernel_h times instead of kernel_h * kernel_w times. */
FN_NOINLINE static void dw_rows_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                        const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int8_t *output,
                        int32_t span_w)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = in_c;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t pad_left = p->pad_left;
    const size_t in_row = (size_t)in_w * (size_t)in_c;
    const size_t in_image = in_row * (size_t)in_h;
    const size_t row_words = 2 * (size_t)span_w;             /* one widened padded row */
    /* input columns j - pad_left of the buffer's columns j in [x_lo, x_hi) exist */
    const int32_t x_lo = pad_left < span_w ? pad_left : span_w;
    const int32_t x_hi = pad_left + in_w < span_w ? pad_left + in_w : span_w;
    int32_t wide[2 * FN_DW_WTAPS];
    size_t col[FN_DW_ROWS_K];
    int32_t buf[FN_DW_ROWBUF];
    int32_t tag[FN_DW_ROWS_K + 1];                           /* input row in each slot, -2: none */
    const int32_t *rows[FN_DW_ROWS_K];
    dw_block k;
    k.wide = wide;
    k.x_tap = col;
    k.taps = (size_t)kernel_h * (size_t)kernel_w;
    k.fast = fast;
    k.tflm = fast ? f->tflm : 0;
    k.output_offset = p->output_offset;
    k.stage = stage;
    const int32_t off2 = (int32_t)(((uint32_t)p->input_offset & 0xFFFFu) * 0x00010001u);
    const int three = kernel_h == 3 && kernel_w == 3 && dil_w == 1;
    for (int32_t kx = 0; kx < kernel_w; ++kx) {
        col[kx] = 2 * (size_t)kx * (size_t)dil_w;
    }
    dw_row_geo geo;
    geo.span_w = span_w;
    geo.x_lo = x_lo;
    geo.x_hi = x_hi;
    geo.pad_left = pad_left;
    geo.in_c = (size_t)in_c;
    geo.off2 = off2;
    /* gcd(dilation_h, kernel_h) == 1 and a spare slot: rows go to fixed slots */
    int32_t g_a = dil_h, g_b = kernel_h;
    while (g_b != 0) {
        const int32_t t = g_a % g_b;
        g_a = g_b;
        g_b = t;
    }
    const int coprime = g_a == 1 && (int64_t)(kernel_h + 1) * 2 * span_w <= FN_DW_ROWBUF;
    for (int32_t oc = 0; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
        const int8_t *w = filter + (size_t)oc * k.taps;
        for (size_t t = 0; t < k.taps; ++t) {
            const int32_t wv = fn_load4(w + FN_DW_S8_BLOCK * t);
            wide[2 * t] = __sxtb16(wv);
            wide[2 * t + 1] = fn_sxtb16_ror8(wv);
        }
        k.oc = oc;
        if (fast) {
            for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                k.ch[l] = fn_fast_out_s8_ch(f, oc + l);
            }
        }
        size_t o = (size_t)oc;
        for (int32_t b = 0; b < p->batch; ++b) {
            const int8_t *in_b = input + (size_t)b * in_image + oc;
            for (int32_t s = 0; s <= kernel_h; ++s) {
                tag[s] = -2;
            }
            for (int32_t oy = 0; oy < out_h; ++oy) {
                const int32_t iy0 = oy * stride_h - p->pad_top;
                /* the kernel_h rows of this output row, each in a slot of the ring: a row
                 * already widened for an earlier output row is reused; -1 tags the zero row */
                for (int32_t r = 0; r < kernel_h; ++r) {
                    int32_t iy = iy0 + r * dil_h;
                    iy = iy >= 0 && iy < in_h ? iy : -1;
                    int32_t slot = -1;
                    if (coprime) {
                        /* the window's rows fall in distinct slots iy % kernel_h; the zero
                         * row has its own slot kernel_h */
                        slot = iy < 0 ? kernel_h : iy % kernel_h;
                        if (tag[slot] != iy) {
                            fill_row(buf + (size_t)slot * row_words, iy < 0 ? NULL : in_b + (size_t)iy * in_row,
                                     &geo);
                            tag[slot] = iy;
                        }
                        rows[r] = buf + (size_t)slot * row_words;
                        continue;
                    }
                    for (int32_t s = 0; s < kernel_h; ++s) {
                        if (tag[s] == iy) {
                            slot = s;
                        }
                    }
                    if (slot < 0) {
                        /* a slot holding no row of this window */
                        for (int32_t s = 0; s < kernel_h && slot < 0; ++s) {
                            int used = 0;
                            for (int32_t q = 0; q < kernel_h; ++q) {
                                const int32_t iq = iy0 + q * dil_h;
                                used |= tag[s] == (iq >= 0 && iq < in_h ? iq : -1);
                            }
                            slot = used ? -1 : s;
                        }
                        tag[slot] = iy;
                        fill_row(buf + (size_t)slot * row_words, iy < 0 ? NULL : in_b + (size_t)iy * in_row, &geo);
                    }
                    rows[r] = buf + (size_t)slot * row_words;
                }
                if (three) {
                    dw_rows_3x3(&k, rows, stride_w, out_w, output + o, (size_t)out_c);
                } else {
                    dw_rows_taps(&k, rows, col, kernel_h, kernel_w, stride_w, out_w, output + o, (size_t)out_c);
                }
                o += (size_t)out_w * (size_t)out_c;
            }
        }
    }
}

/* The DSP path for depth_multiplier 1 or a multiple of 4 and at most FN_DW_WTAPS taps:
 * blocks of 4 output channels in the outer loop, so that the block's weights are widened
 * (SXTB16) and its requantization gathered once; then per output row the pixels whose
 * window lies inside the input (dw_run) and the border pixels (dw_border). */
FN_NOINLINE static void dw_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                          const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int8_t *output)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_multiplier, out_c = in_c * mult;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const size_t in_row = (size_t)in_w * (size_t)in_c;
    const size_t in_image = in_row * (size_t)in_h;
    const size_t x_step = (size_t)stride_w * (size_t)in_c;   /* input bytes between output pixels */
    int32_t wide[2 * FN_DW_WTAPS];
    size_t x_tap[FN_DW_WTAPS];
    dw_block k;
    k.wide = wide;
    k.x_tap = x_tap;
    k.taps = (size_t)kernel_h * (size_t)kernel_w;
    k.x_col = (size_t)dil_w * (size_t)in_c;
    k.x_row = (size_t)dil_h * in_row;
    k.input_offset = p->input_offset;
    k.off2 = (int32_t)(((uint32_t)p->input_offset & 0xFFFFu) * 0x00010001u);
    k.mode = mult != 1 ? 2 : 1;
    k.fast = fast;
    k.tflm = fast ? f->tflm : 0;
    k.output_offset = p->output_offset;
    k.stage = stage;
    for (int32_t ky = 0; ky < kernel_h; ++ky) {
        for (int32_t kx = 0; kx < kernel_w; ++kx) {
            x_tap[(size_t)ky * (size_t)kernel_w + (size_t)kx] = (size_t)ky * k.x_row + (size_t)kx * k.x_col;
        }
    }
    /* output columns whose window lies inside the input horizontally: [ox_lo, ox_hi) */
    const int32_t span_w = (kernel_w - 1) * dil_w;           /* < in_w + pads: no overflow */
    const int32_t ox_lo = (p->pad_left + stride_w - 1) / stride_w;
    int32_t ox_hi = in_w - 1 - span_w + p->pad_left >= 0 ? (in_w - 1 - span_w + p->pad_left) / stride_w + 1 : 0;
    ox_hi = ox_hi > out_w ? out_w : ox_hi;

    for (int32_t oc = 0; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
        const int32_t ic = mult == 1 ? oc : oc / mult;       /* mult % 4 == 0: one input channel */
        const int8_t *w = filter + (size_t)oc * k.taps;
        for (size_t t = 0; t < k.taps; ++t) {
            const int32_t wv = fn_load4(w + FN_DW_S8_BLOCK * t);
            wide[2 * t] = __sxtb16(wv);
            wide[2 * t + 1] = fn_sxtb16_ror8(wv);
        }
        k.oc = oc;
        if (fast) {
            for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                k.ch[l] = fn_fast_out_s8_ch(f, oc + l);
            }
        }
        size_t o = (size_t)oc;                               /* output index of the block */
        for (int32_t b = 0; b < p->batch; ++b) {
            const int8_t *in_b = input + (size_t)b * in_image + ic;
            for (int32_t oy = 0; oy < out_h; ++oy) {
                const int32_t iy0 = oy * stride_h - p->pad_top;
                int32_t ky0, ky1;
                fn_tap_range(iy0, dil_h, kernel_h, in_h, &ky0, &ky1);
                const int32_t n_ky = ky1 > ky0 ? ky1 - ky0 : 0;
                const int32_t full_rows = n_ky == kernel_h;
                for (int32_t ox = 0; ox < out_w; ++ox) {
                    if (full_rows && ox == ox_lo && ox_hi > ox_lo) {
                        const int8_t *x = in_b + (size_t)iy0 * in_row
                                               + (size_t)(ox_lo * stride_w - p->pad_left) * (size_t)in_c;
                        const int32_t n_run = ox_hi - ox_lo;
                        if (k.mode == 1) {
                            dw_run_m1(&k, x, x_step, n_run, output + o, (size_t)out_c);
                        } else {
                            dw_run_m4(&k, x, x_step, n_run, output + o, (size_t)out_c);
                        }
                        o += (size_t)(ox_hi - ox_lo) * (size_t)out_c;
                        ox = ox_hi - 1;
                        continue;
                    }
                    const int32_t ix0 = ox * stride_w - p->pad_left;
                    int32_t kx0, kx1;
                    fn_tap_range(ix0, dil_w, kernel_w, in_w, &kx0, &kx1);
                    const int32_t n_kx = kx1 > kx0 ? kx1 - kx0 : 0;
                    const int32_t rows = n_kx > 0 ? n_ky : 0;
                    const int8_t *x = in_b;
                    if (rows > 0) {
                        x = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                    }
                    dw_border(&k, x, kernel_w, ky0, rows, kx0, n_kx, output + o);
                    o += (size_t)out_c;
                }
            }
        }
    }
}
#endif

fn_status fn_depthwise_conv2d_s8(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->depth_multiplier < 1 ||
        (int64_t)p->in_c * p->depth_multiplier > INT32_MAX) {
        return FN_ERR_ARG;
    }
    if ((int64_t)p->kernel_h * p->kernel_w > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    const int32_t out_c = p->in_c * p->depth_multiplier;
    if (!fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                               p->requant_mode, p->per_channel, out_c,
                               p->multiplier, p->shift, p->scale)) {
        return FN_ERR_ARG;
    }

    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_multiplier;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                       p->scale, p->output_offset, p->act_min, p->act_max};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                         out_c, p->output_offset, p->act_min, p->act_max);
    int blocks_done = 0;
#if FN_DSP
    /* input columns one output row reads (< 2^31: fn_axis_ok) */
    const int64_t span_w = (int64_t)(p->out_w - 1) * p->stride_w + (int64_t)(kernel_w - 1) * p->dilation_w + 1;
    if (mult == 1 && kernel_h <= FN_DW_ROWS_K && kernel_w <= FN_DW_ROWS_K &&
        (int64_t)kernel_h * 2 * span_w <= FN_DW_ROWBUF) {
        dw_rows_dsp(p, input, filter, &f, fast, &stage, output, (int32_t)span_w);
        if (out_c % FN_DW_S8_BLOCK == 0) {
            return FN_OK;
        }
        blocks_done = 1;
    } else if ((mult == 1 || mult % FN_DW_S8_BLOCK == 0) && (int64_t)kernel_h * kernel_w <= FN_DW_WTAPS) {
        dw_blocks_dsp(p, input, filter, &f, fast, &stage, output);
        if (out_c % FN_DW_S8_BLOCK == 0) {
            return FN_OK;
        }
        blocks_done = 1;
    }
#endif

    const size_t in_row = (size_t)in_w * (size_t)in_c;        /* bytes per input row */
    const size_t in_image = in_row * (size_t)in_h;
    const size_t taps = (size_t)kernel_h * (size_t)kernel_w;  /* filter bytes per channel */
    dw_taps t;
    t.x_col = (size_t)dil_w * (size_t)in_c;                   /* input step between kx taps */
    t.x_row = (size_t)dil_h * in_row;                         /* input step between ky taps */
    t.w_row = (size_t)kernel_w;

    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, dil_h, kernel_h, in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, dil_w, kernel_w, in_w, &kx0, &kx1);
                const int32_t n_ky = ky1 > ky0 ? ky1 - ky0 : 0;
                t.n_kx = kx1 > kx0 ? kx1 - kx0 : 0;
                /* input pixel of the first valid tap, channel 0 (in_b when there is
                 * no valid tap; then no row is visited). Taps are addressed by size_t
                 * offsets from there, so no pointer is formed past an array's end. */
                t.rows = t.n_kx > 0 ? n_ky : 0;
                t.x = in_b;
                if (t.rows > 0) {
                    t.x = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                }
                t.w_first = (size_t)ky0 * (size_t)kernel_w + (size_t)kx0;
                /* the input channel of output channel oc is ic; j = oc - ic * mult */
                int32_t ic = 0, j = 0;
                int32_t oc = 0;

                if (blocks_done) {
                    /* dw_blocks_dsp computed the blocks: continue with the last one */
                    oc = out_c - out_c % FN_DW_S8_BLOCK;
                    ic = oc;                                 /* mult == 1 here */
                }
                for (; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
                    const int8_t *w = filter + (size_t)oc * taps + t.w_first * FN_DW_S8_BLOCK;
                    int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
                    int32_t lane_ic[FN_DW_S8_BLOCK];
                    for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                        lane_ic[l] = ic;
                        if (++j == mult) {
                            j = 0;
                            ++ic;
                        }
                    }
                    const int8_t *x0 = t.x + lane_ic[0];
                    const int8_t *x1 = t.x + lane_ic[1];
                    const int8_t *x2 = t.x + lane_ic[2];
                    const int8_t *x3 = t.x + lane_ic[3];
                    size_t x_r = 0, w_r = 0;
                    for (int32_t r = 0; r < t.rows; ++r) {
                        size_t xo = x_r, wo = w_r;
                        for (int32_t k = 0; k < t.n_kx; ++k) {
                            acc0 += ((int32_t)x0[xo] + input_offset) * w[wo];
                            acc1 += ((int32_t)x1[xo] + input_offset) * w[wo + 1];
                            acc2 += ((int32_t)x2[xo] + input_offset) * w[wo + 2];
                            acc3 += ((int32_t)x3[xo] + input_offset) * w[wo + 3];
                            xo += t.x_col;
                            wo += FN_DW_S8_BLOCK;
                        }
                        x_r += t.x_row;
                        w_r += t.w_row * FN_DW_S8_BLOCK;
                    }
                    {
                        const int32_t sums[4] = {acc0, acc1, acc2, acc3};
                        fn_finish_channels_s8(&f, fast, &stage, oc, 4, sums, out);
                    }
                }

                /* last block: n < 4 channels, stored [kernel_h][kernel_w][n] */
                const int32_t n = out_c - oc;
                const int8_t *w_last = filter + (size_t)oc * taps;
                for (int32_t l = 0; l < n; ++l, ++oc) {
                    const int8_t *x_c = t.x + ic;
                    int32_t acc = 0;
                    size_t x_r = 0;
                    for (int32_t ky = ky0; ky < ky0 + t.rows; ++ky) {
                        size_t xo = x_r;
                        size_t wo = ((size_t)ky * (size_t)kernel_w + (size_t)kx0) * (size_t)n + (size_t)l;
                        for (int32_t k = 0; k < t.n_kx; ++k) {
                            acc += ((int32_t)x_c[xo] + input_offset) * w_last[wo];
                            xo += t.x_col;
                            wo += (size_t)n;
                        }
                        x_r += t.x_row;
                    }
                    out[oc] = fn_finish_channel_s8(&stage, oc, acc);
                    if (++j == mult) {
                        j = 0;
                        ++ic;
                    }
                }
                out += out_c;
            }
        }
    }
    return FN_OK;
}
