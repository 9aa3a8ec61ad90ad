/* firmnet runtime: int8 depthwise 2-D convolution, depth multiplier 1, for CPUs with the
 * DSP extension (fn_s8_dsp.h states its contract).
 *
 * Blocks of 4 channels outermost; a block's weight words w0..w3 are widened once into the
 * scratch as (w0, w2) = SXTB16(w) and (w1, w3) = SXTB16(w ROR 8), its requantization
 * gathered once (fn_dw_block_load). Per block and output row, the input rows the row reads
 * are widened once into the scratch's row slots with zeros in the padding (a padded tap then
 * adds (x + input_offset) * w = 0, exactly what TFLite's skipped taps add), kept in slots
 * that the next output rows reuse, so that each input value is widened once per block;
 * every output pixel then reads the slots with one code path (3x3 unrolled), no border
 * cases: per tap two word pairs (inputs, weights) and SMLABB/SMLATT. Each product is the
 * int32 product (x + input_offset) * w of the portable kernel (|x + off| <= 255 fits a
 * halfword) and the sums are the same integers (fn_conv_s8.h: no overflow in any order).
 * A last block of fewer than 4 channels takes the portable loop (fn_dw_s8_walk).
 *
 * Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's requantization allows
 * it (fn_out6_s8 where it can), in ORT mode the block's fn_ort_s8, else fn_finish_channel_s8;
 * the same bytes either way. */
#include "fn_depthwise_s8_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
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

/* The same for any kernel of at most FN_DW_ROWS_K x FN_DW_ROWS_K taps: filter row r reads rows[r], tap
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

/* The blocks of 4 channels: per block and output row, the kernel_h input rows the row
 * reads are widened once into the scratch's row slots with zeros for the padding (a padded
 * tap adds (x + input_offset) * w = 0, as TFLite's skipped taps), then every output pixel
 * of the row reads the slots with the same code: no border cases, and each input value
 * is widened kernel_h times instead of kernel_h * kernel_w times. scratch: the block's
 * widened weights (2 words per tap), then kernel_h + 1 row slots of 2 * span_w words. */
FN_NOINLINE static void dw_rows_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                    const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                    int8_t *output, int32_t *scratch)
{
    const int32_t span_w = fn_dw_rows_span_w(p);                 /* input columns one output row reads */
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
    int32_t *slot_row[FN_DW_ROWS_K + 1];                     /* the row slots, after the weights */
    size_t col[FN_DW_ROWS_K];
    int32_t tag[FN_DW_ROWS_K + 1];                           /* input row in each slot, -2: none */
    const int32_t *rows[FN_DW_ROWS_K];
    dw_block k;
    k.wide = scratch;                                        /* the block's widened weights */
    k.x_tap = col;
    k.taps = (size_t)kernel_h * (size_t)kernel_w;
    k.fast = fast;
    k.tflm = fast ? f->tflm : 0;
    k.output_offset = p->requant.output_offset;
    k.stage = stage;
    const int32_t off2 = (int32_t)(((uint32_t)p->input_offset & 0xFFFFu) * 0x00010001u);
    const int three = kernel_h == 3 && kernel_w == 3 && dil_w == 1;
    for (int32_t kx = 0; kx < kernel_w; ++kx) {
        col[kx] = 2 * (size_t)kx * (size_t)dil_w;
    }
    for (int32_t s = 0; s <= kernel_h; ++s) {
        slot_row[s] = scratch + 2 * (size_t)kernel_h * (size_t)kernel_w + (size_t)s * row_words;
    }
    dw_row_geo geo;
    geo.span_w = span_w;
    geo.x_lo = x_lo;
    geo.x_hi = x_hi;
    geo.pad_left = pad_left;
    geo.in_c = (size_t)in_c;
    geo.off2 = off2;
    /* gcd(dilation_h, kernel_h) == 1: rows go to fixed slots (kernel_h + 1 of them) */
    int32_t g_a = dil_h, g_b = kernel_h;
    while (g_b != 0) {
        const int32_t t = g_a % g_b;
        g_a = g_b;
        g_b = t;
    }
    const int coprime = g_a == 1;
    for (int32_t oc = 0; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
        fn_dw_block_load(&k, filter, oc, f, fast);
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
                            fill_row(slot_row[slot], iy < 0 ? NULL : in_b + (size_t)iy * in_row,
                                     &geo);
                            tag[slot] = iy;
                        }
                        rows[r] = slot_row[slot];
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
                        fill_row(slot_row[slot], iy < 0 ? NULL : in_b + (size_t)iy * in_row, &geo);
                    }
                    rows[r] = slot_row[slot];
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

fn_status fn_depthwise_conv2d_s8_rows_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                          const int8_t *filter, const int32_t *bias, int8_t *output,
                                          void *scratch)
{
    if (!fn_dw_s8_args_ok(p, input, filter, output) || scratch == NULL || p->depth_multiplier != 1 ||
        p->kernel_h > FN_DW_ROWS_K || p->kernel_w > FN_DW_ROWS_K) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    fn_fast_out_s8 f;
    const int fast = fn_dw_s8_stage(p, bias, &stage, &f);
    dw_rows_dsp(p, input, filter, &f, fast, &stage, output, (int32_t *)scratch);
    if (p->in_c % FN_DW_S8_BLOCK != 0) {
        fn_dw_s8_walk(p, input, filter, &f, fast, &stage, output, p->in_c - p->in_c % FN_DW_S8_BLOCK, 0);
    }
    return FN_OK;
}
#else
/* Without the DSP extension (a host build of a project compiled for a CPU that has it, as
 * firmnet verify makes): the portable kernel, the same bytes, after this variant's checks. */
fn_status fn_depthwise_conv2d_s8_rows_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                          const int8_t *filter, const int32_t *bias, int8_t *output,
                                          void *scratch)
{
    if (!fn_dw_s8_args_ok(p, input, filter, output) || scratch == NULL || fn_depthwise_conv2d_s8_rows_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    fn_fast_out_s8 f;
    const int fast = fn_dw_s8_stage(p, bias, &stage, &f);
    fn_dw_s8_walk(p, input, filter, &f, fast, &stage, output, 0, 1);
    return FN_OK;
}
#endif
