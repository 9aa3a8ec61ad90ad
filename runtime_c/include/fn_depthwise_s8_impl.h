/* firmnet runtime, internal: code shared by the int8 depthwise convolution variants
 * (fn_depthwise_conv2d_s8.c, portable; fn_depthwise_conv2d_s8_rows_dsp.c and
 * fn_depthwise_conv2d_s8_blocks_dsp.c, DSP extension): the argument check, the portable
 * loop over output pixels (which the DSP variants run for a last block of fewer than 4
 * channels) and, under FN_DSP, a block of 4 channels with its widened weights and output
 * stage.
 *
 * The portable loop: for each output pixel the in-bounds taps are found once; then every
 * block of FN_DW_S8_BLOCK = 4 channels (fn_conv_s8.h's filter layout) is computed over all
 * of its taps with four register accumulators, reading the block's weights sequentially;
 * a last block of fewer than 4 channels one channel at a time. */
#ifndef FN_DEPTHWISE_S8_IMPL_H
#define FN_DEPTHWISE_S8_IMPL_H

#include <string.h>

#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_geometry.h"

/* 1 if the pointers and the fields of p meet fn_depthwise_conv2d_s8's constraints
 * (fn_conv_s8.h), the check every variant makes before its loops. */
static inline int fn_dw_s8_args_ok(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                   const int8_t *filter, const int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return 0;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->depth_multiplier < 1 ||
        (int64_t)p->in_c * p->depth_multiplier > INT32_MAX) {
        return 0;
    }
    if ((int64_t)p->kernel_h * p->kernel_w > FN_S8_MAX_DEPTH) {
        return 0;
    }
    return fn_input_offset_s8_ok(p->input_offset) && fn_requant_acc_s8_ok(&p->requant, p->in_c * p->depth_multiplier);
}

/* The output stage of a call: stage from the params and bias; *f and the returned flag
 * from fn_fast_out_s8_init. */
static inline int fn_dw_s8_stage(const fn_depthwise_conv2d_s8_params *p, const int32_t *bias,
                                 fn_channel_stage_s8 *stage, fn_fast_out_s8 *f)
{
    stage->bias = bias;
    stage->rq = p->requant;
    return fn_fast_out_s8_init(f, bias, &stage->rq, p->in_c * p->depth_multiplier);
}

/* The taps of one output pixel: rows x n_kx in-bounds taps; x = input at the first tap,
 * channel 0; w_first = filter offset of the first tap within a block's [kh][kw] grid. */
typedef struct {
    const int8_t *x;
    int32_t rows, n_kx;
    size_t w_first, w_row;      /* taps: first, and per filter row (kernel_w) */
    size_t x_col, x_row;        /* input bytes between kx taps and between ky taps */
} dw_taps;

/* The outputs of channels oc_first .. out_c - 1 of every output pixel, portable C. blocks
 * (a constant at each call): 1: blocks of 4 channels, then the last block of fewer than 4;
 * 0: oc_first is the start of the last block (out_c - out_c % 4), which is computed alone
 * (the DSP variants' remainder). Arguments checked by fn_dw_s8_args_ok; f, fast and stage
 * from fn_dw_s8_stage. */
FN_ALWAYS_INLINE static inline void fn_dw_s8_walk(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                 const int8_t *filter, const fn_fast_out_s8 *f, int fast,
                                 const fn_channel_stage_s8 *stage, int8_t *output, int32_t oc_first,
                                 const int blocks)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_multiplier, out_c = in_c * mult;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    const int32_t ic_first = oc_first / mult, j_first = oc_first % mult;   /* oc_first = ic * mult + j */
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
                int32_t ic = ic_first, j = j_first;
                int32_t oc = oc_first;
                for (; blocks && oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
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
                        fn_finish_channels_s8(f, fast, stage, oc, 4, sums, out);
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
                    out[oc] = fn_finish_channel_s8(stage, oc, acc);
                    if (++j == mult) {
                        j = 0;
                        ++ic;
                    }
                }
                out += out_c;
            }
        }
    }
}

#if FN_DSP
/* One block of 4 output channels (oc .. oc + 3), as the DSP variants' loops read it. */
typedef struct {
    int32_t *wide;              /* widened weights: (w0, w2), (w1, w3) per tap (fn_dw_block_load) */
    const size_t *x_tap;        /* input offset of each tap from the window's corner */
    size_t taps;
    size_t x_col, x_row;        /* input bytes between kx taps, between ky taps */
    int32_t off2;               /* input_offset in both 16-bit lanes */
    int32_t input_offset;
    int32_t mode;               /* blocks variant: 1: depth multiplier 1; 2: a multiple of 4 */
    int fast;                   /* fn_fast_out_s8 applies: ch[] is set */
    int32_t tflm, output_offset;
    fn_fast_ch_s8 ch[FN_DW_S8_BLOCK];
    int out6;                   /* fn_out6_s8 applies to the block's 4 channels: o6[] is set */
    fn_out6_s8 o6[FN_DW_S8_BLOCK];
    int ort;                    /* else ORT mode: u[] is set */
    fn_ort_s8 u[FN_DW_S8_BLOCK];
    const fn_channel_stage_s8 *stage;
    int32_t oc;
} dw_block;

/* The block's 4 outputs from its sums through the general output stage. */
FN_NOINLINE_SHARED static void dw_finish_general(const dw_block *k, int32_t a0, int32_t a1, int32_t a2, int32_t a3,
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
    if (k->out6) {   /* six instructions per output (fn_fixedpoint.h) */
        out[0] = fn_out6_s8_one(a0, &k->o6[0]);
        out[1] = fn_out6_s8_one(a1, &k->o6[1]);
        out[2] = fn_out6_s8_one(a2, &k->o6[2]);
        out[3] = fn_out6_s8_one(a3, &k->o6[3]);
        return;
    }
#if !defined(FN_WITHOUT_ORT_PATHS)
    if (k->ort) {   /* onnxruntime's float stage */
        out[0] = fn_ort_s8_one(a0, &k->u[0]);
        out[1] = fn_ort_s8_one(a1, &k->u[1]);
        out[2] = fn_ort_s8_one(a2, &k->u[2]);
        out[3] = fn_ort_s8_one(a3, &k->u[3]);
        return;
    }
#endif
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

/* The block of channels oc .. oc + 3: its weights (filter layout of fn_conv_s8.h, k->taps
 * filter taps) widened into k->wide as (w0, w2) = SXTB16(w), (w1, w3) = SXTB16(w ROR 8) per
 * tap, and, with the fast output stage (fast: k->fast), its channels' parameters gathered
 * into k->ch (and k->o6 where fn_out6_s8 applies); in ORT mode into k->u. */
static inline void fn_dw_block_load(dw_block *k, const int8_t *filter, int32_t oc, const fn_fast_out_s8 *f,
                                    int fast)
{
    int32_t *const wide = k->wide;
    const int8_t *w = filter + (size_t)oc * k->taps;
    for (size_t t = 0; t < k->taps; ++t) {
        const int32_t wv = fn_load4(w + FN_DW_S8_BLOCK * t);
        wide[2 * t] = __sxtb16(wv);
        wide[2 * t + 1] = fn_sxtb16_ror8(wv);
    }
    k->oc = oc;
    k->out6 = 0;
    k->ort = 0;
    if (fast) {
        for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
            k->ch[l] = fn_fast_out_s8_ch(f, oc + l);
        }
        /* fn_out6_s8 where the 4 channels allow it: sums of at most FN_S8_MAX_DEPTH... here
         * k->taps <= 2^13 products of |x| <= 255, |w| <= 128 stay below its 2^29 */
        int ok = k->taps <= 8192;
        const int32_t *const bias = k->stage->bias;
        for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
            ok &= fn_out6_s8_init(&k->o6[l], &k->stage->rq, oc + l, bias != NULL ? bias[oc + l] : 0);
        }
        k->out6 = ok;
    }
#if !defined(FN_WITHOUT_ORT_PATHS)
    else if (k->stage->rq.mode == FN_REQUANT_ORT) {   /* (never fast) */
        k->ort = 1;
        for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
            fn_ort_s8_init(&k->u[l], k->stage, oc + l);
        }
    }
#endif
}
#endif

#endif
