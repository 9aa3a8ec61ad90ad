/* firmnet runtime, internal: code shared by the int8 MVE variants (fn_s8_mve.h): the
 * output-stage table, the vector output stage of 4 channels, the 1-row x 4-channel dot
 * product (VMLADAVA.S8) and the matrix product over rows that the 1x1 convolution, the
 * fully connected layer and the general convolution (over its gathered windows) run.
 * Everything here is under FN_MVE; the variants' files hold their portable fallbacks. */
#ifndef FN_S8_MVE_IMPL_H
#define FN_S8_MVE_IMPL_H

#include "fn_conv_s8.h"
#include "fn_dsp.h"
#include "fn_mve.h"
#include "fn_s8_mve.h"

#if FN_MVE
/* The output stage of a call: the table in the scratch (fn_s8_mve.h: five arrays of npad
 * int32: corr = input_offset * SUM w, accb = bias + corr (modulo 2^32), multiplier, left
 * shift max(shift, 0), rneg = min(shift, 0)), vec = 1 in FN_REQUANT_TFLM mode (the
 * vector stage), the general stage's parameters for the other modes. */
typedef struct {
    const int32_t *corr, *accb, *mult, *left, *rneg;
    int32_t vec;
    int32_t output_offset, act_min, act_max;
    fn_channel_stage_s8 stage;
} fn_mve_out;

/* Fills the table at tab for n channels (channels n .. npad - 1 copy channel n - 1) and
 * *o. Weight sums over depth values of rows w + c * k when w != NULL, else corr = 0
 * (kernels that add the input offset themselves). */
FN_MAYBE_UNUSED static void fn_mve_out_init(fn_mve_out *o, int32_t *tab, int32_t n, const int8_t *w, size_t k,
                                            int32_t depth, int32_t input_offset, const int32_t *bias,
                                            const fn_requant_acc_s8 *rq)
{
    const int32_t npad = (n + 3) / 4 * 4;
    int32_t *const corr = tab, *const accb = tab + npad, *const mult = tab + 2 * npad;
    int32_t *const left = tab + 3 * npad, *const rneg = tab + 4 * npad;
    const int tflm = rq->mode == FN_REQUANT_TFLM;
    for (int32_t c = 0; c < npad; ++c) {
        const int32_t cc = c < n ? c : n - 1;
        int32_t wsum = 0;
        if (w != NULL && input_offset != 0) {
            const int8_t *row = w + (size_t)cc * k;
            int32_t i = depth;
            for (; i >= 16; i -= 16, row += 16) {
                wsum = vaddvaq_s8(wsum, vldrbq_s8(row));
            }
            if (i > 0) {
                wsum = vaddvaq_s8(wsum, vldrbq_z_s8(row, vctp8q((uint32_t)i)));
            }
        }
        corr[c] = (int32_t)((uint32_t)input_offset * (uint32_t)wsum);
        accb[c] = (int32_t)((uint32_t)corr[c] + (uint32_t)(bias != NULL ? bias[cc] : 0));
        const int32_t q = rq->per_channel ? cc : 0;
        const int32_t shift = tflm ? rq->shift[q] : 0;
        mult[c] = tflm ? rq->multiplier[q] : 0;
        left[c] = shift > 0 ? shift : 0;
        rneg[c] = shift < 0 ? shift : 0;
    }
    o->corr = corr;
    o->accb = accb;
    o->mult = mult;
    o->left = left;
    o->rneg = rneg;
    o->vec = tflm;
    o->output_offset = rq->output_offset;
    o->act_min = rq->act_min;
    o->act_max = rq->act_max;
    o->stage.bias = bias;
    o->stage.rq = *rq;
}

/* Outputs of channels c .. c + m - 1 (m in [1, 4]) at out[c ..] from their sums without
 * the input-offset term and the bias (lanes 0 .. m - 1 of sum). */
FN_MAYBE_UNUSED static void fn_mve_finish4(const fn_mve_out *o, int32_t c, int32_t m, int32x4_t sum, int8_t *out)
{
    if (o->vec) {
        int32x4_t acc = vaddq_s32(sum, vldrwq_s32(o->accb + c));
        acc = vshlq_s32(acc, vldrwq_s32(o->left + c));
        acc = vqrdmulhq_s32(acc, vldrwq_s32(o->mult + c));
        const int32x4_t rneg = vldrwq_s32(o->rneg + c);
        const int32x4_t fix = vshrq_n_s32(vandq_s32(acc, rneg), 31);
        acc = vrshlq_s32(vqaddq_s32(acc, fix), rneg);
        acc = vaddq_n_s32(acc, o->output_offset);
        acc = vmaxq_s32(acc, vdupq_n_s32(o->act_min));
        acc = vminq_s32(acc, vdupq_n_s32(o->act_max));
        vstrbq_p_s32(out + c, acc, vctp32q((uint32_t)m));
        return;
    }
    int32_t s[4];
    vst1q_s32(s, vaddq_s32(sum, vldrwq_s32(o->corr + c)));
    for (int32_t j = 0; j < m; ++j) {
        out[c + j] = fn_finish_channel_s8(&o->stage, c + j, s[j]);
    }
}

/* SUM_i x[i] * w_j[i], i < n, for the 4 rows w_j (raw int8 products, 16 per VMLADAVA). */
FN_NOINLINE_SHARED static int32x4_t fn_mve_dot_1x4(const int8_t *x, const int8_t *w0, const int8_t *w1,
                                                const int8_t *w2, const int8_t *w3, int32_t n)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int32_t i = n & 15;
    const int8_t *const end = x + (n - i);
    while (x != end) {    /* this form: post-increment loads and a low-overhead loop (GCC 12) */
        const int8x16_t xv = vldrbq_s8(x);
        s0 = vmladavaq_s8(s0, xv, vldrbq_s8(w0));
        s1 = vmladavaq_s8(s1, xv, vldrbq_s8(w1));
        s2 = vmladavaq_s8(s2, xv, vldrbq_s8(w2));
        s3 = vmladavaq_s8(s3, xv, vldrbq_s8(w3));
        x += 16;
        w0 += 16;
        w1 += 16;
        w2 += 16;
        w3 += 16;
    }
    if (i > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)i);
        const int8x16_t xv = vldrbq_z_s8(x, p);    /* zero lanes past the end */
        s0 = vmladavaq_s8(s0, xv, vldrbq_z_s8(w0, p));
        s1 = vmladavaq_s8(s1, xv, vldrbq_z_s8(w1, p));
        s2 = vmladavaq_s8(s2, xv, vldrbq_z_s8(w2, p));
        s3 = vmladavaq_s8(s3, xv, vldrbq_z_s8(w3, p));
    }
    int32x4_t r = vdupq_n_s32(s0);
    r = vsetq_lane_s32(s1, r, 1);
    r = vsetq_lane_s32(s2, r, 2);
    r = vsetq_lane_s32(s3, r, 3);
    return r;
}

/* All out_c outputs of one row x of n values (weights [out_c][k], k >= n) at out. */
FN_MAYBE_UNUSED static void fn_mve_row(const fn_mve_out *o, const int8_t *x, const int8_t *w, size_t k, int32_t n,
                                       int32_t out_c, int8_t *out)
{
    const size_t last = (size_t)(out_c - 1) * k;
    for (int32_t c = 0; c < out_c; c += 4) {
        const int8_t *const w0 = w + (size_t)c * k;
        const int8_t *const w1 = c + 1 < out_c ? w0 + k : w + last;
        const int8_t *const w2 = c + 2 < out_c ? w0 + 2 * k : w + last;
        const int8_t *const w3 = c + 3 < out_c ? w0 + 3 * k : w + last;
        const int32x4_t s = fn_mve_dot_1x4(x, w0, w1, w2, w3, n);
        fn_mve_finish4(o, c, out_c - c < 4 ? out_c - c : 4, s, out);
    }
}

/* n bytes from src to dst (no overlap), 16 at a time. */
FN_MAYBE_UNUSED static inline void fn_mve_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 16; n -= 16, dst += 16, src += 16) {
        vstrbq_s8(dst, vldrbq_s8(src));
    }
    if (n > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
    }
}

/* n bytes of value v at dst. */
FN_MAYBE_UNUSED static inline void fn_mve_fill(int8_t *dst, int8_t v, int32_t n)
{
    const int8x16_t vv = vdupq_n_s8(v);
    for (; n >= 16; n -= 16, dst += 16) {
        vstrbq_s8(dst, vv);
    }
    if (n > 0) {
        vstrbq_p_s8(dst, vv, vctp8q((uint32_t)n));
    }
}
#endif

#endif
