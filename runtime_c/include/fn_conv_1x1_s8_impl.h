/* firmnet runtime, internal: the int8 1x1 convolution (fn_conv_1x1_s8.h), shared by its
 * variants fn_conv2d_1x1_s8.c (portable C) and fn_conv2d_1x1_s8_dsp.c (DSP extension,
 * fn_s8_dsp.h), which call fn_pw_s8_run with a constant dsp flag: each file compiles
 * only its own paths.
 *
 * A matrix product: pixels are taken two at a time and, for each pair, output channels
 * two at a time; the four sums of (pixel p, p + 1) x (channel c, c + 1) share every
 * input and weight word loaded. dot_1x2 (one pixel, two channels) serves a last odd pixel
 * and layers with one output channel.
 *
 * DSP path, 4 input channels per step: a word of 4 int8 inputs x0..x3 becomes
 * (x0 + off, x2 + off) = SXTAB16(off:off, x) and (x1 + off, x3 + off) =
 * SXTAB16(off:off, x ROR 8); a word of 4 weights becomes (w0, w2) and (w1, w3) with
 * SXTB16; two SMLADs add the four products to an accumulator. When in_c <= FN_1X1_XBUF
 * the two pixels' inputs are widened once per pixel pair into the scratch as such
 * 16-bit pairs (64-bit words read back with LDRD), so that the channel loop only widens
 * weights: per 16 MACs 2 weight loads, 4 SXTB16, 2 double-word input loads and 8 SMLADs
 * (pw_pair_fast, dot_2x2_wide). With the fast output stage, in_c % 4 == 0, in_c <= 84 and
 * out_c <= FN_1X1_CHTAB, pixels go three at a time (widen_triple, pw_triple_fast): the
 * widened weights then serve 3 pixels, 24 MACs per 2 weight loads and 4 SXTB16 (four
 * pixels would need more registers than the M4 has), and the channels' output-stage
 * parameters are gathered once per call. Channels left over (in_c % 4) take the portable
 * loop.
 *
 * Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's requantization allows
 * it (TFLM/SINGLE, right shifts, full int8 range), else fn_finish_channel_s8; on the
 * three-pixel path fn_out6_s8 (six instructions per output) where every channel allows it
 * (TFLM, shifts -1 to -22, |bias| < 2^29); the same bytes in every case. */
#ifndef FN_CONV_1X1_S8_IMPL_H
#define FN_CONV_1X1_S8_IMPL_H

#include <string.h>

#include "fn_conv_1x1_s8.h"
#include "fn_dsp.h"
#include "fn_s8_dsp.h"

#if FN_DSP
/* The widened inputs are stored as 64-bit pairs of words (low: (x0, x2), high: (x1, x3)), so
 * that each pair is one LDRD/STRD (GCC does not always pair two word accesses itself). */
static inline uint64_t pack_pair(int32_t lo, int32_t hi)
{
    return (uint64_t)(uint32_t)lo | ((uint64_t)(uint32_t)hi << 32);
}

static inline int32_t pair_lo(uint64_t v)
{
    return (int32_t)(uint32_t)v;
}

static inline int32_t pair_hi(uint64_t v)
{
    return (int32_t)(uint32_t)(v >> 32);
}

/* *lo, *hi = the two words of the pair p[i] by one LDRD: GCC 12 splits a 64-bit load whose
 * halves are used apart into two LDRs, hence inline assembly for GCC and Clang (the "m"
 * operand tells the compiler which memory the instruction reads). */
#if defined(__GNUC__)
#define LOAD_PAIR(p, i, lo, hi) \
    __asm__("ldrd %0, %1, [%2, %3]" : "=r"(lo), "=r"(hi) : "r"(p), "I"(8 * (i)), "m"((p)[i]))
#else
#define LOAD_PAIR(p, i, lo, hi) ((lo) = pair_lo((p)[i]), (hi) = pair_hi((p)[i]))
#endif
#endif

/* s[2 * a + b] = SUM_i (x_a[i] + input_offset) * w_b[i], i < n, for the pixels
 * x_0 = x, x_1 = x + k and the filter rows w_0 = w, w_1 = w + k: one stride for both
 * pairs, so that four rows are addressed from two pointers and one register.
 * (Unrolling the DSP loop further makes GCC 12 -O2 hoist loads and spill: slower.) */
static inline void dot_2x2(const int8_t *x, const int8_t *w, size_t k, int32_t n, int32_t input_offset,
                           int32_t s[4], const int dsp)
{
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    int32_t i = 0;
    (void)dsp;
#if FN_DSP
    /* input_offset in both 16-bit lanes */
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (; dsp && i + 4 <= n; i += 4) {
        const int32_t b0 = fn_load4(w + i), b1 = fn_load4(w + k + i);
        const int32_t b0e = __sxtb16(b0), b0o = fn_sxtb16_ror8(b0);
        const int32_t b1e = __sxtb16(b1), b1o = fn_sxtb16_ror8(b1);
        int32_t a = fn_load4(x + i);
        int32_t ae = __sxtab16(off2, a), ao = fn_sxtab16_ror8(off2, a);
        s00 = __smlad(ao, b0o, __smlad(ae, b0e, s00));
        s01 = __smlad(ao, b1o, __smlad(ae, b1e, s01));
        a = fn_load4(x + k + i);
        ae = __sxtab16(off2, a);
        ao = fn_sxtab16_ror8(off2, a);
        s10 = __smlad(ao, b0o, __smlad(ae, b0e, s10));
        s11 = __smlad(ao, b1o, __smlad(ae, b1e, s11));
    }
#endif
    for (; i < n; ++i) {
        const int32_t a0 = (int32_t)x[i] + input_offset, a1 = (int32_t)x[k + (size_t)i] + input_offset;
        const int32_t b0 = w[i], b1 = w[k + (size_t)i];
        s00 += a0 * b0;
        s01 += a0 * b1;
        s10 += a1 * b0;
        s11 += a1 * b1;
    }
    s[0] = s00;
    s[1] = s01;
    s[2] = s10;
    s[3] = s11;
}

#if FN_DSP
/* Inputs of the pixels x and x + k, channels 0 .. 4 * n4 - 1, widened with the input
 * offset: xw[2 * j + p] = the pair (x0, x2), (x1, x3) of word j of pixel p. */
FN_MAYBE_UNUSED static void widen_pair(const int8_t *x, size_t k, int32_t n4, int32_t input_offset, uint64_t *xw)
{
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (int32_t j = 0; j < n4; ++j) {
        const int32_t a = fn_load4(x + 4 * (size_t)j), b = fn_load4(x + k + 4 * (size_t)j);
        xw[2 * j] = pack_pair(__sxtab16(off2, a), fn_sxtab16_ror8(off2, a));
        xw[2 * j + 1] = pack_pair(__sxtab16(off2, b), fn_sxtab16_ror8(off2, b));
    }
}

/* s[2 * a + b] = SUM (widened inputs of pixel a) * w_b over the first 4 * n4 input
 * channels: xw from widen_pair, filter rows w_0 = w, w_1 = w + k. */
FN_NOINLINE_SHARED static void dot_2x2_wide(const uint64_t *xw, int32_t n4, const int8_t *w, size_t k, int32_t s[4])
{
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    const int8_t *w1 = w + k;
    const uint64_t *const end = xw + 2 * (size_t)n4;
    while (xw != end) {
        const int32_t b0 = fn_load4(w), b1 = fn_load4(w1);
        const int32_t b0e = __sxtb16(b0), b0o = fn_sxtb16_ror8(b0);
        const int32_t b1e = __sxtb16(b1), b1o = fn_sxtb16_ror8(b1);
        const uint64_t a = xw[0], b = xw[1];
        const int32_t ae = pair_lo(a), ao = pair_hi(a), be = pair_lo(b), bo = pair_hi(b);
        s00 = __smlad(ao, b0o, __smlad(ae, b0e, s00));
        s01 = __smlad(ao, b1o, __smlad(ae, b1e, s01));
        s10 = __smlad(bo, b0o, __smlad(be, b0e, s10));
        s11 = __smlad(bo, b1o, __smlad(be, b1e, s11));
        xw += 2;
        w += 4;
        w1 += 4;
    }
    s[0] = s00;
    s[1] = s01;
    s[2] = s10;
    s[3] = s11;
}

/* Adds to s (dot_2x2's order) the products of input channels i0 .. n - 1. */
FN_MAYBE_UNUSED static void dot_2x2_tail(const int8_t *x, const int8_t *w, size_t k, int32_t i0, int32_t n,
                         int32_t input_offset, int32_t s[4])
{
    for (int32_t i = i0; i < n; ++i) {
        const int32_t a0 = (int32_t)x[i] + input_offset, a1 = (int32_t)x[k + (size_t)i] + input_offset;
        const int32_t c0 = w[i], c1 = w[k + (size_t)i];
        s[0] += a0 * c0;
        s[1] += a0 * c1;
        s[2] += a1 * c0;
        s[3] += a1 * c1;
    }
}
#endif

#if FN_DSP
/* All output channels of a pixel pair whose first 4 * n4 input channels are widened in xw
 * (widen_pair), in the fast output stage's domain: per channel pair the 2x2 sums
 * (dot_2x2_wide's loop, then dot_2x2_tail's channels), then the four outputs. One
 * function for the whole channel loop keeps the per-pair overhead to a few instructions. */
FN_NOINLINE_SHARED static void pw_pair_fast(const fn_fast_out_s8 *f, const uint64_t *xw, int32_t n4, const int8_t *x,
                                     const int8_t *filter, size_t k, int32_t in_c, int32_t out_c,
                                     int32_t input_offset, int8_t *out0)
{
    const int32_t tflm = f->tflm, zo = f->output_offset;
    int8_t *const out1 = out0 + out_c;
    for (int32_t c2 = 0; c2 < out_c; c2 += 2) {
        const int32_t c = c2 + 2 <= out_c ? c2 : out_c - 2;
        const int8_t *w0 = filter + (size_t)c * k;
        const int8_t *w1 = w0 + k;
        int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        const uint64_t *xp = xw, *const end = xw + 2 * (size_t)n4;
        while (xp != end) {
            const int32_t b0 = fn_load4(w0), b1 = fn_load4(w1);
            const int32_t b0e = __sxtb16(b0), b0o = fn_sxtb16_ror8(b0);
            const int32_t b1e = __sxtb16(b1), b1o = fn_sxtb16_ror8(b1);
            int32_t ae, ao, be, bo;
            LOAD_PAIR(xp, 0, ae, ao);
            s00 = __smlad(ao, b0o, __smlad(ae, b0e, s00));
            s01 = __smlad(ao, b1o, __smlad(ae, b1e, s01));
            FN_BARRIER();
            LOAD_PAIR(xp, 1, be, bo);
            s10 = __smlad(bo, b0o, __smlad(be, b0e, s10));
            s11 = __smlad(bo, b1o, __smlad(be, b1e, s11));
            xp += 2;
            w0 += 4;
            w1 += 4;
        }
        if (4 * n4 < in_c) {
            int32_t s[4] = {s00, s01, s10, s11};
            dot_2x2_tail(x, filter + (size_t)c * k, k, 4 * n4, in_c, input_offset, s);
            s00 = s[0];
            s01 = s[1];
            s10 = s[2];
            s11 = s[3];
        }
        const fn_fast_ch_s8 ch0 = fn_fast_out_s8_ch(f, c), ch1 = fn_fast_out_s8_ch(f, c + 1);
        out0[c] = fn_fast_out_s8_ch_one(s00, &ch0, tflm, zo);
        out1[c] = fn_fast_out_s8_ch_one(s10, &ch0, tflm, zo);
        out0[c + 1] = fn_fast_out_s8_ch_one(s01, &ch1, tflm, zo);
        out1[c + 1] = fn_fast_out_s8_ch_one(s11, &ch1, tflm, zo);
    }
}
#endif

#if FN_DSP
/* Inputs of the pixels x, x + k, x + 2k, channels 0 .. 4 * n4 - 1, widened with the input
 * offset: xw[3 * j + p] = the pair (x0, x2), (x1, x3) of word j of pixel p. */
FN_MAYBE_UNUSED static void widen_triple(const int8_t *x, size_t k, int32_t n4, int32_t input_offset, uint64_t *xw)
{
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (int32_t j = 0; j < n4; ++j) {
        for (int32_t q = 0; q < 3; ++q) {
            const int32_t a = fn_load4(x + (size_t)q * k + 4 * (size_t)j);
            xw[3 * j + q] = pack_pair(__sxtab16(off2, a), fn_sxtab16_ror8(off2, a));
        }
    }
}

/* pw_pair_fast for three pixels (x, x + k, x + 2k; outputs out0, + out_c, + 2 out_c):
 * per step of 4 input channels the two channels' weights are widened once for 3 pixels
 * (24 MACs: 2 loads, 4 SXTB16, 3 x 2 word loads, 12 SMLADs). in_c % 4 == 0. */
FN_NOINLINE_SHARED static void pw_triple_fast(const fn_fast_out_s8 *f, const fn_fast_ch_s8 *tab, const fn_out6_s8 *t6,
                                       const uint64_t *xw, int32_t n4, const int8_t *filter, size_t k, int32_t out_c,
                                       int8_t *out0)
{
    const int32_t tflm = f->tflm, zo = f->output_offset;
    int8_t *const out1 = out0 + out_c;
    int8_t *const out2 = out1 + out_c;
    for (int32_t c2 = 0; c2 < out_c; c2 += 2) {
        const int32_t c = c2 + 2 <= out_c ? c2 : out_c - 2;
        /* channel c + 1's weights at w0 + k: one pointer to advance, k reloaded if spilled */
        const int8_t *w0 = filter + (size_t)c * k;
        int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0;
        const uint64_t *xp = xw, *const end = xw + 3 * (size_t)n4;
        while (xp != end) {
            const int32_t b0 = fn_load4(w0), b1 = fn_load4(w0 + k);
            const int32_t b0e = __sxtb16(b0), b0o = fn_sxtb16_ror8(b0);
            const int32_t b1e = __sxtb16(b1), b1o = fn_sxtb16_ror8(b1);
            FN_BARRIER();
            int32_t e, o;
            LOAD_PAIR(xp, 0, e, o);
            s00 = __smlad(o, b0o, __smlad(e, b0e, s00));
            s01 = __smlad(o, b1o, __smlad(e, b1e, s01));
            FN_BARRIER();
            LOAD_PAIR(xp, 1, e, o);
            s10 = __smlad(o, b0o, __smlad(e, b0e, s10));
            s11 = __smlad(o, b1o, __smlad(e, b1e, s11));
            FN_BARRIER();
            LOAD_PAIR(xp, 2, e, o);
            s20 = __smlad(o, b0o, __smlad(e, b0e, s20));
            s21 = __smlad(o, b1o, __smlad(e, b1e, s21));
            xp += 3;
            w0 += 4;
        }
        if (t6 != NULL) {   /* fn_out6_s8 (fn_fixedpoint.h): six instructions per output */
            const fn_out6_s8 a = t6[c];
            out0[c] = fn_out6_s8_one(s00, &a);
            out1[c] = fn_out6_s8_one(s10, &a);
            out2[c] = fn_out6_s8_one(s20, &a);
            FN_BARRIER();
            const fn_out6_s8 b = t6[c + 1];
            out0[c + 1] = fn_out6_s8_one(s01, &b);
            out1[c + 1] = fn_out6_s8_one(s11, &b);
            out2[c + 1] = fn_out6_s8_one(s21, &b);
            continue;
        }
        /* one channel at a time (the barrier keeps GCC from interleaving both and spilling) */
        const fn_fast_ch_s8 ch0 = tab[c];
        out0[c] = fn_fast_out_s8_ch_one(s00, &ch0, tflm, zo);
        out1[c] = fn_fast_out_s8_ch_one(s10, &ch0, tflm, zo);
        out2[c] = fn_fast_out_s8_ch_one(s20, &ch0, tflm, zo);
        FN_BARRIER();
        const fn_fast_ch_s8 ch1 = tab[c + 1];
        out0[c + 1] = fn_fast_out_s8_ch_one(s01, &ch1, tflm, zo);
        out1[c + 1] = fn_fast_out_s8_ch_one(s11, &ch1, tflm, zo);
        out2[c + 1] = fn_fast_out_s8_ch_one(s21, &ch1, tflm, zo);
    }
}
#endif

/* s[b] = SUM_i (x[i] + input_offset) * w_b[i], i < n, for one pixel x and the filter
 * rows w_0 = w, w_1 = w + dw (dw = 0: the same row twice). */
static inline void dot_1x2(const int8_t *x, const int8_t *w, size_t dw, int32_t n, int32_t input_offset,
                           int32_t s[2], const int dsp)
{
    int32_t s0 = 0, s1 = 0;
    int32_t i = 0;
    (void)dsp;
#if FN_DSP
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (; dsp && i + 4 <= n; i += 4) {
        const int32_t a = fn_load4(x + i), b0 = fn_load4(w + i), b1 = fn_load4(w + dw + i);
        const int32_t ae = __sxtab16(off2, a), ao = fn_sxtab16_ror8(off2, a);
        s0 = __smlad(ao, fn_sxtb16_ror8(b0), __smlad(ae, __sxtb16(b0), s0));
        s1 = __smlad(ao, fn_sxtb16_ror8(b1), __smlad(ae, __sxtb16(b1), s1));
    }
#endif
    for (; i < n; ++i) {
        const int32_t a = (int32_t)x[i] + input_offset;
        s0 += a * w[i];
        s1 += a * w[dw + (size_t)i];
    }
    s[0] = s0;
    s[1] = s1;
}

/* The four outputs (pixels 0, 1) x (channels c, c + 1) of the sums s (dot_2x2's order). */
FN_NOINLINE_SHARED static void finish_2x2(const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int32_t c,
                       const int32_t s[4], int8_t *out0, int8_t *out1)
{
    if (fast) {
        const int32_t tflm = f->tflm, off = f->output_offset;
        for (int32_t j = 0; j < 2; ++j) {
            const int32_t ch = c + j;
            const int32_t b = f->bias[ch & f->bias_mask], m = f->multiplier[ch & f->quant_mask];
            const int32_t kk = -f->shift[ch & f->quant_mask] - 1;
            out0[ch] = fn_fast_out_s8_one(s[j], b, m, kk, tflm, off);
            out1[ch] = fn_fast_out_s8_one(s[2 + j], b, m, kk, tflm, off);
        }
        return;
    }
    out0[c] = fn_finish_channel_s8(stage, c, s[0]);
    out0[c + 1] = fn_finish_channel_s8(stage, c + 1, s[1]);
    out1[c] = fn_finish_channel_s8(stage, c, s[2]);
    out1[c + 1] = fn_finish_channel_s8(stage, c + 1, s[3]);
}

/* The kernel: dsp (a constant at each call) 1: the DSP paths, with scratch (fn_s8_dsp.h's
 * fn_conv2d_1x1_s8_dsp_scratch_size bytes; NULL refused); 0: portable C, scratch unused. */
FN_ALWAYS_INLINE static inline fn_status fn_pw_s8_run(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                     const int32_t *bias, int8_t *output, void *scratch, const int dsp)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || (dsp && scratch == NULL)) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 ||
        p->out_h != p->in_h || p->out_w != p->in_w || p->kernel_h != 1 || p->kernel_w != 1 ||
        p->stride_h != 1 || p->stride_w != 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top != 0 || p->pad_left != 0 || p->groups != 1 || p->in_c > FN_S8_MAX_DEPTH ||
        p->filter_offset != NULL) {
        return FN_ERR_ARG;
    }
    const int64_t rows = (int64_t)p->batch * p->in_h;   /* < 2^62: no overflow */
    if (rows > INT32_MAX || rows * p->in_w > INT32_MAX) {
        return FN_ERR_ARG;
    }
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, p->out_c)) {
        return FN_ERR_ARG;
    }

    const int32_t n_px = p->batch * p->in_h * p->in_w;
    const int32_t in_c = p->in_c, out_c = p->out_c;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, out_c);
    const size_t k = (size_t)in_c;
#if FN_DSP
    uint64_t *const xw = (uint64_t *)scratch;                 /* widened inputs (8-byte aligned) */
    const int32_t n4 = dsp && in_c <= FN_1X1_XBUF ? in_c / 4 : 0;   /* widened channel words */
#else
    (void)scratch;
#endif

    /* Pairs of pixels, pairs of channels. With an odd count the last pair overlaps the
     * one before (rows n - 2 and n - 1): a few outputs are computed twice, to the same
     * values, and every output goes through dot_2x2. */
    int32_t px = 0;
#if FN_DSP
    if (dsp && fast && fn_pw_triple_shape(p)) {
        /* every channel's output-stage parameters, gathered once, after 3 pixels' inputs */
        fn_fast_ch_s8 *const tab = (fn_fast_ch_s8 *)(xw + 3 * (size_t)n4);
        /* or, where every channel allows it (sums below 2^29: in_c <= 84 here), fn_out6_s8's */
        fn_out6_s8 *const t6 = (fn_out6_s8 *)(void *)tab;
        int out6 = 1;
        for (int32_t c = 0; c < out_c; ++c) {
            out6 &= fn_out6_s8_init(&t6[c], &stage.rq, c, bias != NULL ? bias[c] : 0);
        }
        for (int32_t c = 0; !out6 && c < out_c; ++c) {
            tab[c] = fn_fast_out_s8_ch(&f, c);
        }
        for (; px + 3 <= n_px; px += 3) {
            const int8_t *x = input + (size_t)px * k;
            widen_triple(x, k, n4, input_offset, xw);
            pw_triple_fast(&f, tab, out6 ? t6 : NULL, xw, n4, filter, k, out_c, output + (size_t)px * (size_t)out_c);
        }
    }
#endif
    for (; px + 2 <= n_px; px += 2) {
        const int8_t *x = input + (size_t)px * k;
        int8_t *out0 = output + (size_t)px * (size_t)out_c;
        int8_t *out1 = out0 + out_c;
        if (out_c == 1) {
            int32_t s[2];
            dot_1x2(x, filter, 0, in_c, input_offset, s, dsp);
            out0[0] = fn_finish_channel_s8(&stage, 0, s[0]);
            dot_1x2(x + k, filter, 0, in_c, input_offset, s, dsp);
            out1[0] = fn_finish_channel_s8(&stage, 0, s[0]);
            continue;
        }
#if FN_DSP
        if (n4 > 0) {
            widen_pair(x, k, n4, input_offset, xw);
            if (fast) {
                pw_pair_fast(&f, xw, n4, x, filter, k, in_c, out_c, input_offset, out0);
                continue;
            }
        }
#endif
        for (int32_t c2 = 0; c2 < out_c; c2 += 2) {
            const int32_t c = c2 + 2 <= out_c ? c2 : out_c - 2;
            int32_t s[4];
#if FN_DSP
            if (n4 > 0) {
                dot_2x2_wide(xw, n4, filter + (size_t)c * k, k, s);
                dot_2x2_tail(x, filter + (size_t)c * k, k, 4 * n4, in_c, input_offset, s);
            } else {
                dot_2x2(x, filter + (size_t)c * k, k, in_c, input_offset, s, dsp);
            }
#else
            dot_2x2(x, filter + (size_t)c * k, k, in_c, input_offset, s, dsp);
#endif
            finish_2x2(&f, fast, &stage, c, s, out0, out1);
        }
    }
    if (px < n_px) {
        /* an odd pixel count: the last pixel alone */
        const int8_t *x = input + (size_t)px * k;
        int8_t *out0 = output + (size_t)px * (size_t)out_c;
        for (int32_t c2 = 0; c2 < out_c; c2 += 2) {
            const int32_t c = c2 + 2 <= out_c ? c2 : (out_c >= 2 ? out_c - 2 : 0);
            const int two = out_c >= 2;
            int32_t s[2];
            dot_1x2(x, filter + (size_t)c * k, two ? k : 0, in_c, input_offset, s, dsp);
            out0[c] = fn_finish_channel_s8(&stage, c, s[0]);
            if (two) {
                out0[c + 1] = fn_finish_channel_s8(&stage, c + 1, s[1]);
            }
        }
    }
    return FN_OK;
}

#endif
