/* firmnet runtime: int8 depthwise 2-D convolution with a channel multiplier.
 *
 * The filter is stored in blocks of FN_DW_S8_BLOCK = 4 output channels, each block
 * [kernel_h][kernel_w][4] (fn_conv_s8.h). For each output pixel the in-bounds taps
 * are found once; then every block is computed over all of its taps with four
 * register accumulators, reading the block's weights sequentially.
 *
 * DSP path (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55) for depth_multiplier 1 or a
 * multiple of 4 and kernels of at most FN_DW_WTAPS taps (dw_blocks_dsp): blocks of 4
 * channels are the outer loop; a block's weight words w0..w3 are widened once into a
 * stack buffer as (w0, w2) = SXTB16(w) and (w1, w3) = SXTB16(w ROR 8), its requantization
 * loaded once, then every output pixel is computed with the halfword multiply-accumulates
 * SMLABB/SMLATT/SMLABT, one product per channel and tap:
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
#include "fn_geometry.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP == 1 && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define FN_DW_DSP 1
#else
#define FN_DW_DSP 0
#endif

#if FN_DW_DSP
/* Four int8 values as one word, from any address (LDR: unaligned loads are allowed). */
static inline int32_t load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* SXTB16 / SXTAB16 of v rotated right by 8 bits: (b1, b3) (+ the lanes of a). GCC does
 * not fold the rotation into the instruction, hence inline assembly for GCC and Clang. */
static inline int32_t sxtb16_ror8(int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    const uint32_t u = (uint32_t)v;
    return __sxtb16((int32_t)((u >> 8) | (u << 24)));
#endif
}

static inline int32_t sxtab16_ror8(int32_t a, int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
#else
    const uint32_t u = (uint32_t)v;
    return __sxtab16(a, (int32_t)((u >> 8) | (u << 24)));
#endif
}
#endif

/* The taps of one output pixel: rows x n_kx in-bounds taps; x = input at the first tap,
 * channel 0; w_first = filter offset of the first tap within a block's [kh][kw] grid. */
typedef struct {
    const int8_t *x;
    int32_t rows, n_kx;
    size_t w_first, w_row;      /* taps: first, and per filter row (kernel_w) */
    size_t x_col, x_row;        /* input bytes between kx taps and between ky taps */
} dw_taps;

/* Out of line: a small function of its own keeps the fields in registers (inlined into
 * the kernel, GCC 12 -O2 reloads them from the stack for every output). */
#if defined(__GNUC__)
#define FN_NOINLINE __attribute__((noinline))
#else
#define FN_NOINLINE
#endif

/* The outputs of channels oc .. oc + n - 1 from their sums acc[0 .. n - 1], fast stage. */
FN_NOINLINE static void finish_fast(const fn_fast_out_s8 *f, int32_t oc, int32_t n, const int32_t *acc,
                                    int8_t *out)
{
    const int32_t tflm = f->tflm, off = f->output_offset, bm = f->bias_mask, qm = f->quant_mask;
    const int32_t *const bias = f->bias, *const mult = f->multiplier, *const shift = f->shift;
    for (int32_t c = oc; c < oc + n; ++c) {
        const int32_t q = c & qm;
        out[c] = fn_fast_out_s8_one(*acc++, bias[c & bm], mult[q], -shift[q] - 1, tflm, off);
    }
}

/* The four outputs of the block of channels oc .. oc + 3. */
static inline void finish4(const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int32_t oc,
                           int32_t a0, int32_t a1, int32_t a2, int32_t a3, int8_t *out)
{
    if (fast) {
        const int32_t acc[4] = {a0, a1, a2, a3};
        finish_fast(f, oc, 4, acc, out);
        return;
    }
    out[oc] = fn_finish_channel_s8(stage, oc, a0);
    out[oc + 1] = fn_finish_channel_s8(stage, oc + 1, a1);
    out[oc + 2] = fn_finish_channel_s8(stage, oc + 2, a2);
    out[oc + 3] = fn_finish_channel_s8(stage, oc + 3, a3);
}

#if FN_DW_DSP
/* Filter taps (kernel_h * kernel_w) up to which a block's weights are widened once into a
 * stack buffer (2 words per tap: 512 bytes) by dw_blocks_dsp. */
#define FN_DW_WTAPS 64

/* The DSP path for depth_multiplier 1 or a multiple of 4 and at most FN_DW_WTAPS taps:
 * blocks of 4 output channels in the outer loop, so that the block's weights are widened
 * (SXTB16) and its requantization loaded once, then every output pixel of the block. */
static void dw_blocks_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                          const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int8_t *output)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_multiplier, out_c = in_c * mult;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    const size_t in_row = (size_t)in_w * (size_t)in_c;
    const size_t in_image = in_row * (size_t)in_h;
    const size_t taps = (size_t)kernel_h * (size_t)kernel_w;
    const size_t x_col = (size_t)dil_w * (size_t)in_c;       /* input step between kx taps */
    const size_t x_row = (size_t)dil_h * in_row;             /* input step between ky taps */
    const size_t w_row = 2 * (size_t)kernel_w;               /* widened words per filter row */
    int32_t wide[2 * FN_DW_WTAPS];
    size_t x_tap[FN_DW_WTAPS];     /* input offset of each tap from the window's corner */
    for (int32_t ky = 0; ky < kernel_h; ++ky) {
        for (int32_t kx = 0; kx < kernel_w; ++kx) {
            x_tap[(size_t)ky * (size_t)kernel_w + (size_t)kx] = (size_t)ky * x_row + (size_t)kx * x_col;
        }
    }

    for (int32_t oc = 0; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
        const int32_t ic = mult == 1 ? oc : oc / mult;       /* mult % 4 == 0: one input channel */
        const int8_t *w = filter + (size_t)oc * taps;
        for (size_t k = 0; k < taps; ++k) {
            const int32_t wv = load4(w + FN_DW_S8_BLOCK * k);
            wide[2 * k] = __sxtb16(wv);
            wide[2 * k + 1] = sxtb16_ror8(wv);
        }
        int32_t qb[FN_DW_S8_BLOCK], qm[FN_DW_S8_BLOCK], qk[FN_DW_S8_BLOCK];
        if (fast) {
            for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                const int32_t c = oc + l, q = c & f->quant_mask;
                qb[l] = f->bias[c & f->bias_mask];
                qm[l] = f->multiplier[q];
                qk[l] = -f->shift[q] - 1;
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
                for (int32_t ox = 0; ox < out_w; ++ox) {
                    const int32_t ix0 = ox * stride_w - p->pad_left;
                    int32_t kx0 = 0, kx1 = kernel_w;
                    if (ix0 < 0 || ix0 + (kernel_w - 1) * dil_w >= in_w) {
                        fn_tap_range(ix0, dil_w, kernel_w, in_w, &kx0, &kx1);
                    }
                    const int32_t n_kx = kx1 > kx0 ? kx1 - kx0 : 0;
                    const int32_t rows = n_kx > 0 ? n_ky : 0;
                    int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
                    if (rows == kernel_h && n_kx == kernel_w) {
                        /* every tap inside the input: one loop over the taps */
                        const int8_t *x = in_b + (size_t)iy0 * in_row + (size_t)ix0 * (size_t)in_c;
                        const int32_t *wk = wide;
                        const size_t *xt = x_tap, *const xt_end = x_tap + taps;
                        if (mult == 1) {
                            while (xt != xt_end) {
                                const int32_t xv = load4(x + *xt++);
                                const int32_t xe = __sxtab16(off2, xv), xd = sxtab16_ror8(off2, xv);
                                acc0 = __smlabb(xe, wk[0], acc0);
                                acc2 = __smlatt(xe, wk[0], acc2);
                                acc1 = __smlabb(xd, wk[1], acc1);
                                acc3 = __smlatt(xd, wk[1], acc3);
                                wk += 2;
                            }
                        } else {
                            while (xt != xt_end) {
                                const int32_t xv = (int32_t)x[*xt++] + input_offset;
                                acc0 = __smlabb(xv, wk[0], acc0);
                                acc2 = __smlabt(xv, wk[0], acc2);
                                acc1 = __smlabb(xv, wk[1], acc1);
                                acc3 = __smlabt(xv, wk[1], acc3);
                                wk += 2;
                            }
                        }
                    } else if (rows > 0) {
                        const int8_t *x = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row
                                               + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                        size_t x_r = 0, w_r = 2 * ((size_t)ky0 * (size_t)kernel_w + (size_t)kx0);
                        for (int32_t r = 0; r < rows; ++r) {
                            size_t xo = x_r;
                            const int32_t *wk = wide + w_r;
                            if (mult == 1) {
                                for (int32_t k = 0; k < n_kx; ++k) {
                                    const int32_t xv = load4(x + xo);
                                    const int32_t xe = __sxtab16(off2, xv), xd = sxtab16_ror8(off2, xv);
                                    acc0 = __smlabb(xe, wk[0], acc0);
                                    acc2 = __smlatt(xe, wk[0], acc2);
                                    acc1 = __smlabb(xd, wk[1], acc1);
                                    acc3 = __smlatt(xd, wk[1], acc3);
                                    xo += x_col;
                                    wk += 2;
                                }
                            } else {
                                for (int32_t k = 0; k < n_kx; ++k) {
                                    const int32_t xv = (int32_t)x[xo] + input_offset;
                                    acc0 = __smlabb(xv, wk[0], acc0);
                                    acc2 = __smlabt(xv, wk[0], acc2);
                                    acc1 = __smlabb(xv, wk[1], acc1);
                                    acc3 = __smlabt(xv, wk[1], acc3);
                                    xo += x_col;
                                    wk += 2;
                                }
                            }
                            x_r += x_row;
                            w_r += w_row;
                        }
                    }
                    if (fast) {
                        const int32_t tflm = f->tflm, zo = f->output_offset;
                        output[o] = fn_fast_out_s8_one(acc0, qb[0], qm[0], qk[0], tflm, zo);
                        output[o + 1] = fn_fast_out_s8_one(acc1, qb[1], qm[1], qk[1], tflm, zo);
                        output[o + 2] = fn_fast_out_s8_one(acc2, qb[2], qm[2], qk[2], tflm, zo);
                        output[o + 3] = fn_fast_out_s8_one(acc3, qb[3], qm[3], qk[3], tflm, zo);
                    } else {
                        output[o] = fn_finish_channel_s8(stage, oc, acc0);
                        output[o + 1] = fn_finish_channel_s8(stage, oc + 1, acc1);
                        output[o + 2] = fn_finish_channel_s8(stage, oc + 2, acc2);
                        output[o + 3] = fn_finish_channel_s8(stage, oc + 3, acc3);
                    }
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
#if FN_DW_DSP
    if ((mult == 1 || mult % FN_DW_S8_BLOCK == 0) && (int64_t)kernel_h * kernel_w <= FN_DW_WTAPS) {
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
                    finish4(&f, fast, &stage, oc, acc0, acc1, acc2, acc3, out);
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
