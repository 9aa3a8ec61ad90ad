/* firmnet runtime: int8 depthwise 2-D convolution, depth multiplier 1 or a multiple of 4,
 * at most FN_DW_WTAPS taps, for CPUs with the DSP extension (fn_s8_dsp.h states its
 * contract).
 *
 * Blocks of 4 output channels in the outer loop; a block's weights are widened once into
 * the scratch (SXTB16) and its requantization gathered once (fn_dw_block_load). Every
 * output pixel of the block is computed with the halfword multiply-accumulates
 * SMLABB/SMLATT/SMLABT, one product per channel and tap:
 *   depth_multiplier 1: the block's 4 input channels are adjacent, one word x0..x3 gives
 *       (x0 + off, x2 + off) = SXTAB16(off:off, x) and (x1 + off, x3 + off) with ROR 8;
 *   depth_multiplier a multiple of 4: the block reads one input channel, x + off.
 * Pixels whose window lies inside the input walk a table of tap offsets (one loop, no
 * row/column bookkeeping); border pixels walk their in-bounds rows and columns. A last
 * block of fewer than 4 channels takes the portable loop (fn_dw_s8_walk). Each product is
 * the int32 product (x + input_offset) * w of the portable kernel (|x + off| <= 255 fits a
 * halfword) and the sums are the same integers (fn_conv_s8.h: no overflow in any order).
 *
 * Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's requantization allows
 * it (fn_out6_s8 where it can), in ORT mode the block's fn_ort_s8, else fn_finish_channel_s8;
 * the same bytes either way. */
#include "fn_depthwise_s8_impl.h"
#include "fn_geometry.h"
#include "fn_s8_dsp.h"

#if FN_DSP
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

/* The blocks of 4 output channels in the outer loop, so that the block's weights are
 * widened (SXTB16, into scratch: 2 words per tap) and its requantization gathered once; then per output row the pixels whose
 * window lies inside the input (dw_run) and the border pixels (dw_border). */
FN_NOINLINE static void dw_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                      const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                      int8_t *output, int32_t *wide)
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
    k.output_offset = p->requant.output_offset;
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
        fn_dw_block_load(&k, filter, oc, f, fast);
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

fn_status fn_depthwise_conv2d_s8_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                            const int8_t *filter, const int32_t *bias, int8_t *output,
                                            void *scratch)
{
    if (!fn_dw_s8_args_ok(p, input, filter, output) || scratch == NULL ||
        (p->depth_multiplier != 1 && p->depth_multiplier % FN_DW_S8_BLOCK != 0) ||
        (int64_t)p->kernel_h * p->kernel_w > FN_DW_WTAPS) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    fn_fast_out_s8 f;
    const int fast = fn_dw_s8_stage(p, bias, &stage, &f);
    dw_blocks_dsp(p, input, filter, &f, fast, &stage, output, (int32_t *)scratch);
    const int32_t out_c = p->in_c * p->depth_multiplier;
    if (out_c % FN_DW_S8_BLOCK != 0) {
        fn_dw_s8_walk(p, input, filter, &f, fast, &stage, output, out_c - out_c % FN_DW_S8_BLOCK, 0);
    }
    return FN_OK;
}
#else
/* Without the DSP extension (a host build of a project compiled for a CPU that has it, as
 * firmnet verify makes): the portable kernel, the same bytes, after this variant's checks. */
fn_status fn_depthwise_conv2d_s8_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                            const int8_t *filter, const int32_t *bias, int8_t *output,
                                            void *scratch)
{
    if (!fn_dw_s8_args_ok(p, input, filter, output) || scratch == NULL || fn_depthwise_conv2d_s8_blocks_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    fn_fast_out_s8 f;
    const int fast = fn_dw_s8_stage(p, bias, &stage, &f);
    fn_dw_s8_walk(p, input, filter, &f, fast, &stage, output, 0, 1);
    return FN_OK;
}
#endif
