/* firmnet runtime, internal: the int8 fully connected layer (fn_fc_s8.h), shared by its
 * variants fn_fc_s8.c (portable C) and fn_fc_s8_dsp.c (DSP extension, fn_s8_dsp.h), which
 * call fn_fc_s8_run with a constant dsp flag: each file compiles only its own paths.
 *
 * Four output features at a time: each input value, with the input offset added,
 * is loaded once for four accumulators that read four weight rows sequentially.
 *
 * DSP path (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55), 4 inputs per step (fc_rows4_dsp):
 * a word of 4 inputs x0..x3 becomes (x0 + off, x2 + off) = SXTAB16(off:off, x) and
 * (x1 + off, x3 + off) with ROR 8, once for the four rows; each row's word of 4 weights
 * becomes (w0, w2) and (w1, w3) with SXTB16, and two SMLADs add its four products. The
 * products are the int32 products of the portable path (|x + off| <= 255 fits a halfword),
 * their sums the same integers (fn_conv_s8.h: no overflow in any order). Inputs left over
 * (in_features % 4) and rows left over (out_features % 4) take the portable loops.
 *
 * Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's requantization allows
 * it, else fn_finish_channel_s8; the same bytes either way. */
#ifndef FN_FC_S8_IMPL_H
#define FN_FC_S8_IMPL_H

#include <string.h>

#include "fn_dsp.h"
#include "fn_fc_s8.h"
#include "fn_s8_dsp.h"

#if FN_DSP
/* s[r] = SUM (x[i] + off) * w_r[i] over i < 4 * n4, for the rows w_r = w + r * k. */
FN_NOINLINE_SHARED static void fc_rows4_dsp(const int8_t *x, const int8_t *w, size_t k, int32_t n4, int32_t off2,
                                     int32_t s[4])
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    /* rows 0 and 2 by pointer, rows 1 and 3 at + k: 14 live values, no spill (GCC 12) */
    const int8_t *w0 = w, *w2 = w + 2 * k;
    const int8_t *const x_end = x + 4 * (size_t)n4;
    while (x != x_end) {
        const int32_t a = fn_load4(x);
        const int32_t ae = __sxtab16(off2, a), ao = fn_sxtab16_ror8(off2, a);
        int32_t b = fn_load4(w0);
        s0 = __smlad(ao, fn_sxtb16_ror8(b), __smlad(ae, __sxtb16(b), s0));
        FN_BARRIER();
        b = fn_load4(w0 + k);
        s1 = __smlad(ao, fn_sxtb16_ror8(b), __smlad(ae, __sxtb16(b), s1));
        FN_BARRIER();
        b = fn_load4(w2);
        s2 = __smlad(ao, fn_sxtb16_ror8(b), __smlad(ae, __sxtb16(b), s2));
        FN_BARRIER();
        b = fn_load4(w2 + k);
        s3 = __smlad(ao, fn_sxtb16_ror8(b), __smlad(ae, __sxtb16(b), s3));
        FN_BARRIER();
        x += 4;
        w0 += 4;
        w2 += 4;
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
}
#endif

#if FN_DSP
/* One word of inputs (xp + d) for the four rows w0, w0 + k, w2, w2 + k (offset d). */
#define FC_STEP4(d)                                                              \
    do {                                                                         \
        const int32_t a_ = fn_load4(xp + (d));                                      \
        const int32_t ae_ = __sxtab16(off2, a_), ao_ = fn_sxtab16_ror8(off2, a_);   \
        int32_t b_ = fn_load4(w0 + (d));                                            \
        s0 = __smlad(ao_, fn_sxtb16_ror8(b_), __smlad(ae_, __sxtb16(b_), s0));      \
        FN_BARRIER();                                                        \
        b_ = fn_load4(w0 + k + (d));                                                \
        s1 = __smlad(ao_, fn_sxtb16_ror8(b_), __smlad(ae_, __sxtb16(b_), s1));      \
        FN_BARRIER();                                                        \
        b_ = fn_load4(w2 + (d));                                                    \
        s2 = __smlad(ao_, fn_sxtb16_ror8(b_), __smlad(ae_, __sxtb16(b_), s2));      \
        FN_BARRIER();                                                        \
        b_ = fn_load4(w2 + k + (d));                                                \
        s3 = __smlad(ao_, fn_sxtb16_ror8(b_), __smlad(ae_, __sxtb16(b_), s3));      \
        FN_BARRIER();                                                        \
    } while (0)

/* Features 0 .. 4 * n_groups - 1 of one input row when in_features % 4 == 0, in the fast
 * output stage's domain: per group of 4 rows fc_rows4_dsp's loop, then the 4 outputs;
 * one function for the whole row loop keeps the per-group overhead small. */
FN_NOINLINE_SHARED static void fc_groups_fast(const fn_fast_out_s8 *f, const int8_t *x, const int8_t *weights, size_t k,
                                       int32_t n_groups, int32_t off2, int8_t *out)
{
    const int8_t *const x_end = x + k;
    for (int32_t g = 0; g < n_groups; ++g) {
        const int32_t o = 4 * g;
        const int8_t *w0 = weights + (size_t)o * k, *w2 = w0 + 2 * k;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *xp = x;
        if ((k & 4) != 0) {
            /* an odd number of words: one first, then two per step */
            FC_STEP4(0);
            xp += 4;
            w0 += 4;
            w2 += 4;
        }
        for (; xp != x_end; xp += 8) {
            FC_STEP4(0);
            FC_STEP4(4);
            w0 += 8;
            w2 += 8;
        }
        const int32_t sums[4] = {s0, s1, s2, s3};
        fn_fast_out_s8_n(f, o, 4, sums, out);
    }
}
#endif

/* fn_finish_channels_s8 out of line: one copy serves both portable loops below. */
FN_NOINLINE_SHARED static void finish(const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage, int32_t o,
                               int32_t n, const int32_t *acc, int8_t *out)
{
    fn_finish_channels_s8(f, fast, stage, o, n, acc, out);
}

/* The kernel: dsp (a constant at each call) 1: with the DSP loops; 0: portable C. */
FN_ALWAYS_INLINE static inline fn_status fn_fc_s8_run(const fn_fc_s8_params *p, const int8_t *input,
                                                      const int8_t *weights, const int32_t *bias, int8_t *output,
                                                      const int dsp)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1 ||
        p->in_features > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, p->out_features)) {
        return FN_ERR_ARG;
    }

    const int32_t k_in = p->in_features, n_out = p->out_features;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, n_out);
    const size_t k = (size_t)k_in;
#if FN_DSP
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    const int32_t n4 = dsp ? k_in / 4 : 0;       /* input words of the DSP loop */
#else
    const int32_t n4 = 0;
    (void)dsp;
#endif
    const size_t i0 = 4 * (size_t)n4;            /* first input of the portable loops */

    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *x = input + (size_t)b * k;
        int8_t *out = output + (size_t)b * (size_t)n_out;
        int32_t o = 0;
#if FN_DSP
        if (dsp && fast && i0 == k) {
            fc_groups_fast(&f, x, weights, k, n_out / 4, off2, out);
            o = n_out - n_out % 4;
        }
#endif
        for (; o + 4 <= n_out; o += 4) {
            const int8_t *w0 = weights + (size_t)o * k;
            const int8_t *w1 = w0 + k;
            const int8_t *w2 = w1 + k;
            const int8_t *w3 = w2 + k;
            int32_t acc[4] = {0, 0, 0, 0};
#if FN_DSP
            if (n4 > 0) {
                fc_rows4_dsp(x, w0, k, n4, off2, acc);
            }
#endif
            for (size_t i = i0; i < k; ++i) {
                const int32_t xv = (int32_t)x[i] + input_offset;
                acc[0] += xv * w0[i];
                acc[1] += xv * w1[i];
                acc[2] += xv * w2[i];
                acc[3] += xv * w3[i];
            }
            finish(&f, fast, &stage, o, 4, acc, out);
        }
        for (; o < n_out; ++o) {
            const int8_t *w = weights + (size_t)o * k;
            int32_t acc = 0;
            for (size_t i = 0; i < k; ++i) {
                acc += ((int32_t)x[i] + input_offset) * w[i];
            }
            finish(&f, fast, &stage, o, 1, &acc, out);
        }
    }
    return FN_OK;
}

#endif
