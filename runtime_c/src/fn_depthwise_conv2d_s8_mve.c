/* firmnet runtime: int8 depthwise convolution, depth multiplier 1, for CPUs with MVE
 * (fn_s8_mve.h). Per image, the input is copied into the scratch with the input zero point
 * (-input_offset) in the padding: a padding tap then adds (zp + input_offset) * w = 0, as
 * TFLite's skipped tap, so every window is whole. Per channel, 4 output pixels (in raster
 * order, across rows) are the 4 32-bit lanes: per tap a gather load of their 4 inputs
 * (VLDRB.S32 with the pixels' window offsets, a table in the scratch) and VMLA by the tap's
 * weight; the sum of raw products plus the table's input_offset * SUM w (in accb) is the
 * exact sum. Output stage: fn_mve_stage4 with the channel's parameters in every lane, a
 * scatter store (VSTRB.32 with offsets). Where FN_MVE is 0 the portable kernel
 * fn_depthwise_conv2d_s8 runs after the variant's own checks. */
#include "fn_depthwise_s8_impl.h"
#include "fn_s8_mve_impl.h"

#if FN_MVE
/* input_offset * SUM over the taps of each channel's weights into the table (corr, accb). */
static void dw_corr(int32_t *tab, int32_t n, int32_t taps, const int8_t *filter, int32_t input_offset)
{
    const int32_t npad = (n + 3) / 4 * 4;
    for (int32_t c = 0; c < npad; ++c) {
        int32_t *const e = tab + 5 * (c & ~3) + (c & 3);
        const int32_t cc = c < n ? c : n - 1;
        const int32_t c0 = cc / 4 * 4, nb = n - c0 < 4 ? n - c0 : 4;
        const int8_t *w = filter + (size_t)c0 * (size_t)taps + (cc - c0);
        int32_t s = 0;
        for (int32_t t = 0; t < taps; ++t) {
            s += w[(size_t)t * (size_t)nb];
        }
        e[FN_TAB_CORR] = (int32_t)((uint32_t)input_offset * (uint32_t)s);
        e[FN_TAB_ACCB] = (int32_t)((uint32_t)e[FN_TAB_ACCB] + (uint32_t)e[FN_TAB_CORR]);
    }
}

/* The image [in_h][in_w][in_c] into pad ([ph][pw][in_c]) at row pad_top, column pad_left,
 * zp elsewhere. */
static void dw_pad_image(const fn_depthwise_conv2d_s8_params *p, const int8_t *image, int32_t ph, int32_t pw,
                         int8_t zp, int8_t *pad)
{
    const int32_t c = p->in_c, row = pw * c;
    const int32_t left = p->pad_left * c, mid = p->in_w * c, right = row - left - mid;
    for (int32_t y = 0; y < ph; ++y) {
        int8_t *const dst = pad + (size_t)y * (size_t)row;
        const int32_t iy = y - p->pad_top;
        if (iy < 0 || iy >= p->in_h) {
            fn_mve_fill(dst, zp, row);
            continue;
        }
        fn_mve_fill(dst, zp, left);
        fn_mve_copy(dst + left, image + (size_t)iy * (size_t)mid, mid);
        fn_mve_fill(dst + left + mid, zp, right);
    }
}

/* Every output of channel c: weights w[t * nb] (the filter block's column of c), window
 * offsets of the n_px pixels in offs (a multiple of 8 entries), taps at + toff[t] from the padded image's
 * channel c. */
FN_NOINLINE static void dw_channel(const fn_mve_out *o, const int8_t *padc, const uint32_t *offs, int32_t n_px,
                                   const int8_t *w, int32_t nb, const int32_t *toff, int32_t taps, int32_t c,
                                   int32_t in_c, int8_t *outc)
{
    /* per tap its input pointer and weight, read together in the loop (LDRD) */
    struct dw_tap {
        const int8_t *x;
        int32_t w;
    } tap[FN_DW_MVE_TAPS];
    for (int32_t t = 0; t < taps; ++t) {
        tap[t].x = padc + toff[t];
        tap[t].w = w[(size_t)t * (size_t)nb];
    }
    const int32_t *const e = o->tab + 5 * (c & ~3) + (c & 3);
    const int32x4_t accb = vdupq_n_s32(e[FN_TAB_ACCB]), mult = vdupq_n_s32(e[FN_TAB_MULT]);
    const int32x4_t left = vdupq_n_s32(e[FN_TAB_LEFT]), rneg = vdupq_n_s32(e[FN_TAB_RNEG]);
    const int32x4_t lo = vdupq_n_s32(o->act_min), hi = vdupq_n_s32(o->act_max);
    const int32_t zo = o->output_offset;
    const int vec = o->vec, any_left = o->left;
    uint32x4_t oo = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)in_c);
    const uint32_t step = (uint32_t)(4 * in_c);
    for (int32_t g = 0; g < n_px; g += 8, offs += 8) {
        /* 8 pixels: two vectors of 4 share each tap's pointer and weight */
        const uint32x4_t ov0 = vldrwq_u32(offs), ov1 = vldrwq_u32(offs + 4);
        int32x4_t acc0 = vdupq_n_s32(0), acc1 = vdupq_n_s32(0);
        const struct dw_tap *tp = tap;
        for (int32_t t = taps; t > 0; --t) {
            acc0 = vmlaq_n_s32(acc0, vldrbq_gather_offset_s32(tp->x, ov0), tp->w);
            acc1 = vmlaq_n_s32(acc1, vldrbq_gather_offset_s32(tp->x, ov1), tp->w);
            ++tp;
        }
        for (int32_t h = 0; h < 2; ++h) {
            const int32_t gh = g + 4 * h;
            int32x4_t acc = h == 0 ? acc0 : acc1;
            if (gh >= n_px) {
                break;
            }
            if (!vec) {
                int32_t s[4];
                vst1q_s32(s, vaddq_n_s32(acc, e[FN_TAB_CORR]));
                for (int32_t j = 0; j < 4 && gh + j < n_px; ++j) {
                    outc[(size_t)(gh + j) * (size_t)in_c] = fn_finish_channel_s8(&o->stage, c, s[j]);
                }
                continue;
            }
            acc = vaddq_s32(acc, accb);
            if (any_left) {
                acc = vshlq_s32(acc, left);
            }
            acc = vqrdmulhq_s32(acc, mult);
            acc = vqaddq_s32(acc, vshrq_n_s32(vandq_s32(acc, rneg), 31));
            acc = vrshlq_s32(acc, rneg);
            acc = vminq_s32(vmaxq_s32(vaddq_n_s32(acc, zo), lo), hi);
            if (n_px - gh >= 4) {
                vstrbq_scatter_offset_s32(outc, oo, acc);
            } else {
                vstrbq_scatter_offset_p_s32(outc, oo, acc, vctp32q((uint32_t)(n_px - gh)));
            }
            oo = vaddq_n_u32(oo, step);
        }
    }
}
#endif

fn_status fn_depthwise_conv2d_s8_mve(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || scratch == NULL || fn_depthwise_conv2d_s8_mve_scratch_size(p) == 0 ||
        !fn_dw_s8_args_ok(p, input, filter, output)) {
        return FN_ERR_ARG;
    }
#if FN_MVE
    const int32_t in_c = p->in_c, kh = p->kernel_h, kw = p->kernel_w, taps = kh * kw;
    const int32_t ph = (int32_t)fn_dw_mve_padded(p->in_h, p->out_h, kh, p->stride_h, p->dilation_h, p->pad_top);
    const int32_t pw = (int32_t)fn_dw_mve_padded(p->in_w, p->out_w, kw, p->stride_w, p->dilation_w, p->pad_left);
    const int32_t n_px = p->out_h * p->out_w;
    const size_t table = fn_mve_table_size(in_c), image = ((size_t)ph * (size_t)pw * (size_t)in_c + 7) / 8 * 8;
    int8_t *const pad = (int8_t *)scratch + table;
    uint32_t *const offs = (uint32_t *)(void *)(pad + image);
    fn_mve_out o;
    fn_mve_out_init(&o, (int32_t *)scratch, in_c, NULL, 0, 0, 0, bias, &p->requant);
    dw_corr((int32_t *)scratch, in_c, taps, filter, p->input_offset);
    int32_t toff[FN_DW_MVE_TAPS];
    for (int32_t ky = 0; ky < kh; ++ky) {
        for (int32_t kx = 0; kx < kw; ++kx) {
            toff[ky * kw + kx] = (ky * p->dilation_h * pw + kx * p->dilation_w) * in_c;
        }
    }
    for (int32_t i = 0; i < (n_px + 7) / 8 * 8; ++i) {
        const int32_t q = i < n_px ? i : n_px - 1;          /* the last group's spare lanes: its last pixel */
        offs[i] = (uint32_t)(((q / p->out_w) * p->stride_h * pw + (q % p->out_w) * p->stride_w) * in_c);
    }
    const int8_t zp = (int8_t)(-p->input_offset);
    for (int32_t b = 0; b < p->batch; ++b) {
        dw_pad_image(p, input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)in_c, ph, pw, zp, pad);
        int8_t *const out = output + (size_t)b * (size_t)n_px * (size_t)in_c;
        for (int32_t c = 0; c < in_c; ++c) {
            const int32_t c0 = c / 4 * 4, nb = in_c - c0 < 4 ? in_c - c0 : 4;
            dw_channel(&o, pad + c, offs, n_px, filter + (size_t)c0 * (size_t)taps + (c - c0), nb, toff, taps, c,
                       in_c, out + c);
        }
    }
    return FN_OK;
#else
    return fn_depthwise_conv2d_s8(p, input, filter, bias, output);
#endif
}
