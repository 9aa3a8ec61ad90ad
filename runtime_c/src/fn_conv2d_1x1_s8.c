/* firmnet runtime: int8 1x1 convolution, stride 1, no padding (fn_conv_1x1_s8.h).
 *
 * A matrix product: pixels are taken two at a time and, for each pair, output channels
 * two at a time; dot_2x2 returns the four sums of (pixel p, p + 1) x (channel c, c + 1),
 * so each input and weight word loaded serves two accumulators. dot_1x2 (one pixel, two
 * channels) serves a last odd pixel and layers with one output channel.
 *
 * DSP path, 4 input channels per step: a word of 4 int8 inputs x0..x3 becomes
 * (x0 + off, x2 + off) = SXTAB16(off:off, x) and (x1 + off, x3 + off) =
 * SXTAB16(off:off, x ROR 8); a word of 4 weights becomes (w0, w2) and (w1, w3) with
 * SXTB16; two SMLADs add the four products to an accumulator. Channels left over
 * (in_c % 4) take the portable loop. */
#include <string.h>

#include "fn_conv_1x1_s8.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP == 1 && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define FN_1X1_DSP 1
#else
#define FN_1X1_DSP 0
#endif

#if FN_1X1_DSP
/* Four int8 values as one word, from any address (LDR: the M4 and later allow unaligned
 * single-word loads). */
static inline int32_t load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* (x1, x3) of the bytes x0..x3 of v, sign-extended to 16 bits: SXTB16 of v rotated right
 * by 8 bits, and the same plus the 16-bit lanes of a (SXTAB16). ACLE has no rotating
 * form and GCC does not fold the rotation into the instruction's ROR #8 operand, so GCC
 * and Clang get the one instruction by inline assembly (as CMSIS-Core's
 * __SXTB16_RORn does). */
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

/* s[2 * a + b] = SUM_i (x_a[i] + input_offset) * w_b[i], i < n, for the pixels
 * x_0 = x, x_1 = x + k and the filter rows w_0 = w, w_1 = w + k: one stride for both
 * pairs, so that four rows are addressed from two pointers and one register.
 * (Unrolling the DSP loop further makes GCC 12 -O2 hoist loads and spill: slower.) */
static void dot_2x2(const int8_t *x, const int8_t *w, size_t k, int32_t n, int32_t input_offset,
                    int32_t s[4])
{
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    int32_t i = 0;
#if FN_1X1_DSP
    /* input_offset in both 16-bit lanes */
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (; i + 4 <= n; i += 4) {
        const int32_t b0 = load4(w + i), b1 = load4(w + k + i);
        const int32_t b0e = __sxtb16(b0), b0o = sxtb16_ror8(b0);
        const int32_t b1e = __sxtb16(b1), b1o = sxtb16_ror8(b1);
        int32_t a = load4(x + i);
        int32_t ae = __sxtab16(off2, a), ao = sxtab16_ror8(off2, a);
        s00 = __smlad(ao, b0o, __smlad(ae, b0e, s00));
        s01 = __smlad(ao, b1o, __smlad(ae, b1e, s01));
        a = load4(x + k + i);
        ae = __sxtab16(off2, a);
        ao = sxtab16_ror8(off2, a);
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

/* s[b] = SUM_i (x[i] + input_offset) * w_b[i], i < n, for one pixel x and the filter
 * rows w_0 = w, w_1 = w + dw (dw = 0: the same row twice). */
static void dot_1x2(const int8_t *x, const int8_t *w, size_t dw, int32_t n, int32_t input_offset,
                    int32_t s[2])
{
    int32_t s0 = 0, s1 = 0;
    int32_t i = 0;
#if FN_1X1_DSP
    const int32_t off2 = (int32_t)(((uint32_t)input_offset & 0xFFFFu) * 0x00010001u);
    for (; i + 4 <= n; i += 4) {
        const int32_t a = load4(x + i), b0 = load4(w + i), b1 = load4(w + dw + i);
        const int32_t ae = __sxtab16(off2, a), ao = sxtab16_ror8(off2, a);
        s0 = __smlad(ao, sxtb16_ror8(b0), __smlad(ae, __sxtb16(b0), s0));
        s1 = __smlad(ao, sxtb16_ror8(b1), __smlad(ae, __sxtb16(b1), s1));
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

fn_status fn_conv2d_1x1_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 ||
        p->out_h != p->in_h || p->out_w != p->in_w || p->kernel_h != 1 || p->kernel_w != 1 ||
        p->stride_h != 1 || p->stride_w != 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->pad_top != 0 || p->pad_left != 0 || p->groups != 1 || p->in_c > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    const int64_t rows = (int64_t)p->batch * p->in_h;   /* < 2^62: no overflow */
    if (rows > INT32_MAX || rows * p->in_w > INT32_MAX) {
        return FN_ERR_ARG;
    }
    if (!fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                               p->requant_mode, p->per_channel, p->out_c,
                               p->multiplier, p->shift, p->scale)) {
        return FN_ERR_ARG;
    }

    const int32_t n_px = p->batch * p->in_h * p->in_w;
    const int32_t in_c = p->in_c, out_c = p->out_c;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                       p->scale, p->output_offset, p->act_min, p->act_max};
    const size_t k = (size_t)in_c;

    /* Pairs of pixels, pairs of channels. With an odd count the last pair overlaps the
     * one before (rows n - 2 and n - 1): a few outputs are computed twice, to the same
     * values, and every output goes through dot_2x2. */
    int32_t px = 0;
    for (; px + 2 <= n_px; px += 2) {
        const int8_t *x = input + (size_t)px * k;
        int8_t *out0 = output + (size_t)px * (size_t)out_c;
        int8_t *out1 = out0 + out_c;
        if (out_c == 1) {
            int32_t s[2];
            dot_1x2(x, filter, 0, in_c, input_offset, s);
            out0[0] = fn_finish_channel_s8(&stage, 0, s[0]);
            dot_1x2(x + k, filter, 0, in_c, input_offset, s);
            out1[0] = fn_finish_channel_s8(&stage, 0, s[0]);
            continue;
        }
        for (int32_t c2 = 0; c2 < out_c; c2 += 2) {
            const int32_t c = c2 + 2 <= out_c ? c2 : out_c - 2;
            int32_t s[4];
            dot_2x2(x, filter + (size_t)c * k, k, in_c, input_offset, s);
            out0[c] = fn_finish_channel_s8(&stage, c, s[0]);
            out0[c + 1] = fn_finish_channel_s8(&stage, c + 1, s[1]);
            out1[c] = fn_finish_channel_s8(&stage, c, s[2]);
            out1[c + 1] = fn_finish_channel_s8(&stage, c + 1, s[3]);
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
            dot_1x2(x, filter + (size_t)c * k, two ? k : 0, in_c, input_offset, s);
            out0[c] = fn_finish_channel_s8(&stage, c, s[0]);
            if (two) {
                out0[c + 1] = fn_finish_channel_s8(&stage, c + 1, s[1]);
            }
        }
    }
    return FN_OK;
}
