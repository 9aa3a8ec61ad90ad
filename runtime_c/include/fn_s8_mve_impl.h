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
/* The output stage of a call: the table in the scratch (fn_s8_mve.h), per block of 4
 * channels c0 .. c0 + 3 the 20 int32 at tab + 5 * c0: FN_TAB_CORR (input_offset * SUM w),
 * FN_TAB_ACCB (bias + corr, modulo 2^32), FN_TAB_MULT (multiplier), FN_TAB_LEFT (max(shift,
 * 0)), FN_TAB_RNEG (min(shift, 0)), 4 lanes each; vec = 1 in FN_REQUANT_TFLM mode (the
 * vector stage), left = 1 if some left shift is not 0; the general stage's parameters for
 * the other modes. */
#define FN_TAB_CORR 0
#define FN_TAB_ACCB 4
#define FN_TAB_MULT 8
#define FN_TAB_LEFT 12
#define FN_TAB_RNEG 16
typedef struct {
    int32_t *tab;
    int32_t vec, left;
    int32_t output_offset, act_min, act_max;
    fn_channel_stage_s8 stage;
} fn_mve_out;

/* SUM_i w_j[i], i < n, for the 4 rows w_j (VADDVA.S8, 16 values per instruction). */
static inline int32x4_t fn_mve_sum_1x4(const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *w3,
                                       int32_t n)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int32_t i = n & 15;
    const int8_t *const end = w0 + (n - i);
    while (w0 != end) {
        s0 = vaddvaq_s8(s0, vldrbq_s8(w0));
        s1 = vaddvaq_s8(s1, vldrbq_s8(w1));
        s2 = vaddvaq_s8(s2, vldrbq_s8(w2));
        s3 = vaddvaq_s8(s3, vldrbq_s8(w3));
        w0 += 16;
        w1 += 16;
        w2 += 16;
        w3 += 16;
    }
    if (i > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)i);
        s0 = vaddvaq_s8(s0, vldrbq_z_s8(w0, p));
        s1 = vaddvaq_s8(s1, vldrbq_z_s8(w1, p));
        s2 = vaddvaq_s8(s2, vldrbq_z_s8(w2, p));
        s3 = vaddvaq_s8(s3, vldrbq_z_s8(w3, p));
    }
    int32x4_t r = vdupq_n_s32(s0);
    r = vsetq_lane_s32(s1, r, 1);
    r = vsetq_lane_s32(s2, r, 2);
    r = vsetq_lane_s32(s3, r, 3);
    return r;
}

/* Fills the table at tab for n channels (channels n .. npad - 1 copy channel n - 1) and
 * *o. Weight sums over depth values of rows w + c * k when w != NULL, else corr = 0
 * (kernels that add the input offset themselves). */
/* The table's block of channels c0 .. c0 + 3 at e (channels from n on copy channel n - 1);
 * returns 1 if one of their shifts is a left shift. Weight sums over depth values of rows
 * w + c * k when w != NULL, else corr = 0 (kernels that add the input offset themselves). */
FN_MAYBE_UNUSED static int fn_mve_block_init(int32_t *e, int32_t c0, int32_t n, const int8_t *w, size_t k,
                                             int32_t depth, int32_t input_offset, const int32_t *bias,
                                             const fn_requant_acc_s8 *rq)
{
    const int tflm = rq->mode == FN_REQUANT_TFLM;
    int left = 0;
    int32x4_t wsum = vdupq_n_s32(0);
    if (w != NULL && input_offset != 0) {
        const int8_t *const last = w + (size_t)(n - 1) * k;
        const int8_t *const w0 = w + (size_t)c0 * k;
        wsum = fn_mve_sum_1x4(w0, c0 + 1 < n ? w0 + k : last, c0 + 2 < n ? w0 + 2 * k : last,
                              c0 + 3 < n ? w0 + 3 * k : last, depth);
    }
    vst1q_s32(e + FN_TAB_CORR, vmulq_n_s32(wsum, input_offset));
    for (int32_t j = 0; j < 4; ++j) {
        const int32_t cc = c0 + j < n ? c0 + j : n - 1;
        e[FN_TAB_ACCB + j] = (int32_t)((uint32_t)e[FN_TAB_CORR + j] + (uint32_t)(bias != NULL ? bias[cc] : 0));
        const int32_t q = rq->per_channel ? cc : 0;
        const int32_t shift = tflm ? rq->shift[q] : 0;
        e[FN_TAB_MULT + j] = tflm ? rq->multiplier[q] : 0;
        e[FN_TAB_LEFT + j] = shift > 0 ? shift : 0;
        e[FN_TAB_RNEG + j] = shift < 0 ? shift : 0;
        left |= shift > 0;
    }
    return left;
}

/* Fills *o and, unless tab is NULL (a kernel that fills one block at a time with
 * fn_mve_block_init), the table at tab for n channels (fn_mve_block_init's arguments). */
FN_MAYBE_UNUSED static void fn_mve_out_init(fn_mve_out *o, int32_t *tab, int32_t n, const int8_t *w, size_t k,
                                            int32_t depth, int32_t input_offset, const int32_t *bias,
                                            const fn_requant_acc_s8 *rq)
{
    o->left = 0;
    for (int32_t c0 = 0; tab != NULL && c0 < n; c0 += 4) {
        o->left |= fn_mve_block_init(tab + 5 * c0, c0, n, w, k, depth, input_offset, bias, rq);
    }
    o->tab = tab;
    o->vec = rq->mode == FN_REQUANT_TFLM;
    o->output_offset = rq->output_offset;
    o->act_min = rq->act_min;
    o->act_max = rq->act_max;
    o->stage.bias = bias;
    o->stage.rq = *rq;
}

/* The vector output stage of 4 channels: acc (sums with the input-offset term, without
 * the bias) and their block of the table e -> int32 outputs in [act_min, act_max]. */
static inline int32x4_t fn_mve_stage4(int32x4_t acc, const int32_t *e, int left, int32_t zo, int32x4_t lo,
                                      int32x4_t hi)
{
    acc = vaddq_s32(acc, vldrwq_s32(e + FN_TAB_ACCB));
    if (left) {
        acc = vshlq_s32(acc, vldrwq_s32(e + FN_TAB_LEFT));
    }
    acc = vqrdmulhq_s32(acc, vldrwq_s32(e + FN_TAB_MULT));
    const int32x4_t rneg = vldrwq_s32(e + FN_TAB_RNEG);
    acc = vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, rneg), 31));
    acc = vrshlq_s32(acc, rneg);
    acc = vaddq_n_s32(acc, zo);
    return vminq_s32(vmaxq_s32(acc, lo), hi);
}

/* Outputs of channels c .. c + m - 1 (m in [1, 4]) at out[c ..] from their sums with the
 * input-offset term, without the bias (lanes 0 .. m - 1 of acc), in the general stage. */
FN_NOINLINE_SHARED static void fn_mve_finish4_general(const fn_mve_out *o, int32_t c, int32_t m, int32x4_t acc,
                                                       int8_t *out)
{
    int32_t s[4];
    vst1q_s32(s, acc);
    for (int32_t j = 0; j < m; ++j) {
        out[c + j] = fn_finish_channel_s8(&o->stage, c + j, s[j]);
    }
}

/* SUM_i x[i] * w_j[i], i < n, for the 4 rows w_j (raw int8 products, 16 per VMLADAVA). */
FN_ALWAYS_INLINE static inline int32x4_t fn_mve_dot_1x4(const int8_t *x, const int8_t *w0, const int8_t *w1,
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

/* All out_c outputs of one row x of n values (weights [out_c][k], k >= n) at out: the
 * blocks of 4 whole channels, then the last channels (rows clamped to the last one, the
 * store predicated). */
FN_NOINLINE_SHARED static void fn_mve_row(const fn_mve_out *o, const int8_t *x, const int8_t *w, size_t k,
                                          int32_t n, int32_t out_c, int8_t *out)
{
    const int32_t *e = o->tab;
    const int32_t zo = o->output_offset;
    const int32x4_t lo = vdupq_n_s32(o->act_min), hi = vdupq_n_s32(o->act_max);
    const int vec = o->vec, left = o->left;
    int32_t c = 0;
    for (; c + 4 <= out_c; c += 4, e += 20) {
        const int8_t *const w0 = w + (size_t)c * k;
        int32x4_t acc = fn_mve_dot_1x4(x, w0, w0 + k, w0 + 2 * k, w0 + 3 * k, n);
        if (vec) {
            vstrbq_s32(out + c, fn_mve_stage4(acc, e, left, zo, lo, hi));
        } else {
            fn_mve_finish4_general(o, c, 4, vaddq_s32(acc, vldrwq_s32(e + FN_TAB_CORR)), out);
        }
    }
    if (c < out_c) {
        const int32_t m = out_c - c;
        const int8_t *const w0 = w + (size_t)c * k;
        const int8_t *const wl = w + (size_t)(out_c - 1) * k;
        int32x4_t acc = fn_mve_dot_1x4(x, w0, m > 1 ? w0 + k : wl, m > 2 ? w0 + 2 * k : wl, wl, n);
        if (vec) {
            vstrbq_p_s32(out + c, fn_mve_stage4(acc, e, left, zo, lo, hi), vctp32q((uint32_t)m));
        } else {
            fn_mve_finish4_general(o, c, m, vaddq_s32(acc, vldrwq_s32(e + FN_TAB_CORR)), out);
        }
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
