/* firmnet runtime: fn_conv2d_s8_codebook_dsp (fn_s8_dsp.h): int8 convolutions (1x1 and
 * general) with a per-layer 2/4-bit codebook on CPUs with the DSP extension.
 *
 * Output pixels go 4 at a time: each pixel's window (kernel_h x kernel_w x in_c, the taps in
 * the padding and the values past it up to a group of 4 holding the input zero point, so
 * that x + input_offset is 0 there) is widened
 * once into the scratch as 16-bit pairs with the input offset added (SXTAB16): (x0, x2),
 * (x1, x3) of each group of 4 window values, the 4 pixels' pairs side by side (one LDRD
 * each). A 1x1 unpadded stride-1 layer's window is the pixel itself, read in place. Then per
 * output channel, every group's weight pairs are looked up once in the codebook's table
 * (fn_codebook_dsp_impl.h) and serve the 4 pixels: 8 SMLADs per lookup. The pixels left over
 * (fewer than 4) go one at a time.
 *
 * Where FN_DSP is 0 it reads the same (pair-ordered) indices one weight at a time: the same
 * bytes, for host builds. */
#include <string.h>

#include "fn_codebook_dsp_impl.h"
#include "fn_geometry.h"
#include "fn_s8_dsp.h"

/* The window of the output pixel (b, oy, ox) as int8 in win (depth values, tap-major, then
 * pad up to FN_CB_DEPTH4(depth)), taps in the padding set to pad (the input zero point);
 * returns win, or the input itself when the window is one in-place pixel (inplace). */
static const int8_t *window(const fn_conv2d_s8_codebook_params *p, const int8_t *input, int32_t b, int32_t oy,
                            int32_t ox, int inplace, int8_t pad, int8_t *win)
{
    const int32_t in_c = p->in_c;
    const size_t in_row = (size_t)p->in_w * (size_t)in_c, in_image = in_row * (size_t)p->in_h;
    const int8_t *in_b = input + (size_t)b * in_image;
    if (inplace) {
        return in_b + (size_t)oy * in_row + (size_t)ox * (size_t)in_c;
    }
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    int8_t *dst = win;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                memset(dst, (unsigned char)pad, (size_t)in_c);
            } else if (in_c < 8) {
                const int8_t *src = in_b + (size_t)iy * in_row + (size_t)ix * (size_t)in_c;
                for (int32_t c = 0; c < in_c; ++c) {
                    dst[c] = src[c];
                }
            } else {
                memcpy(dst, in_b + (size_t)iy * in_row + (size_t)ix * (size_t)in_c, (size_t)in_c);
            }
            dst += in_c;
        }
    }
    const int32_t depth = p->kernel_h * p->kernel_w * in_c;
    for (int32_t j = depth; j < FN_CB_DEPTH4(depth); ++j) {     /* the padding up to a group of 4 */
        win[j] = pad;
    }
    return win;
}

#if FN_DSP
/* *lo, *hi = the two words of the pair p[i] by one LDRD (as fn_conv_1x1_s8_impl.h does). */
#if defined(__GNUC__)
#define CB_LOAD_PAIR(p, i, lo, hi) \
    __asm__("ldrd %0, %1, [%2, %3]" : "=r"(lo), "=r"(hi) : "r"(p), "I"(8 * (i)), "m"((p)[i]))
#else
#define CB_LOAD_PAIR(p, i, lo, hi) ((lo) = (int32_t)(uint32_t)(p)[i], (hi) = (int32_t)(uint32_t)((p)[i] >> 32))
#endif

/* The n4 groups of the window at x widened with the input offset (off2 in both halves) into
 * xw[stride * j] (j < n4). */
static void widen(const int8_t *x, int32_t n4, int32_t off2, uint64_t *xw, size_t stride)
{
    for (int32_t j = 0; j < n4; ++j) {
        const int32_t a = fn_load4(x + 4 * (size_t)j);
        xw[stride * (size_t)j] = (uint64_t)(uint32_t)__sxtab16(off2, a) |
                                 (uint64_t)(uint32_t)fn_sxtab16_ror8(off2, a) << 32;
    }
}

/* What one call's channel loops read. */
typedef struct {
    const uint32_t *table;
    const uint8_t *indices;
    size_t row_bytes;
    int32_t n4, out_c;
    const fn_fast_out_s8 *f;
    int fast;
    const fn_channel_stage_s8 *stage;
} cbc_call;

/* The group of 4 window values at xp + d (4 pixels' pairs) times the weights whose indices
 * are at ix + di, added to s0..s3. */
#define CB_GROUP4(d, di)                                      \
    do {                                                      \
        int32_t pe_, po_, e_, o_;                             \
        fn_cb_lookup(t, ix + (di), bits, &pe_, &po_);         \
        CB_LOAD_PAIR(xp, (d), e_, o_);                        \
        s0 = __smlad(o_, po_, __smlad(e_, pe_, s0));          \
        CB_LOAD_PAIR(xp, (d) + 1, e_, o_);                    \
        s1 = __smlad(o_, po_, __smlad(e_, pe_, s1));          \
        CB_LOAD_PAIR(xp, (d) + 2, e_, o_);                    \
        s2 = __smlad(o_, po_, __smlad(e_, pe_, s2));          \
        CB_LOAD_PAIR(xp, (d) + 3, e_, o_);                    \
        s3 = __smlad(o_, po_, __smlad(e_, pe_, s3));          \
        FN_BARRIER();                                         \
    } while (0)

/* Every output channel of 4 pixels (widened windows in xw, 4 pairs per group) into out
 * (pixel q's channels at out + q * out_c). */
FN_ALWAYS_INLINE static inline void pixels4(const cbc_call *c, const uint64_t *xw, int8_t *out, const int bits)
{
    const uint32_t *const t = c->table;
    const size_t step = (size_t)bits / 2, n_out = (size_t)c->out_c;
    const uint64_t *const end = xw + 4 * (size_t)c->n4;
    const int odd = c->n4 & 1;
    const uint8_t *row = c->indices;
    for (int32_t o = 0; o < c->out_c; ++o) {
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const uint8_t *ix = row;
        const uint64_t *xp = xw;
        if (odd) {                      /* an odd number of groups: one first, then two per step */
            CB_GROUP4(0, 0);
            xp += 4;
            ix += step;
        }
        for (; xp != end; xp += 8, ix += 2 * step) {
            CB_GROUP4(0, 0);
            CB_GROUP4(4, step);
        }
        row += c->row_bytes;
        int8_t *y = out + o;
        if (c->fast) {                  /* the channel's parameters gathered once for the 4 pixels */
            const fn_fast_ch_s8 ch = fn_fast_out_s8_ch(c->f, o);
            const int32_t tflm = c->f->tflm, zo = c->f->output_offset;
            y[0] = fn_fast_out_s8_ch_one(s0, &ch, tflm, zo);
            y[n_out] = fn_fast_out_s8_ch_one(s1, &ch, tflm, zo);
            y[2 * n_out] = fn_fast_out_s8_ch_one(s2, &ch, tflm, zo);
            y[3 * n_out] = fn_fast_out_s8_ch_one(s3, &ch, tflm, zo);
        } else {
            y[0] = fn_finish_channel_s8(c->stage, o, s0);
            y[n_out] = fn_finish_channel_s8(c->stage, o, s1);
            y[2 * n_out] = fn_finish_channel_s8(c->stage, o, s2);
            y[3 * n_out] = fn_finish_channel_s8(c->stage, o, s3);
        }
    }
}

/* Every output channel of one pixel (widened window in xw, one pair per group) into out. */
FN_ALWAYS_INLINE static inline void pixel1(const cbc_call *c, const uint64_t *xw, int8_t *out, const int bits)
{
    const uint32_t *const t = c->table;
    const size_t step = (size_t)bits / 2;
    const uint64_t *const end = xw + (size_t)c->n4;
    const uint8_t *row = c->indices;
    for (int32_t o = 0; o < c->out_c; ++o) {
        int32_t s = 0;
        const uint8_t *ix = row;
        for (const uint64_t *xp = xw; xp != end; ++xp, ix += step) {
            int32_t pe, po, e, od;
            fn_cb_lookup(t, ix, bits, &pe, &po);
            CB_LOAD_PAIR(xp, 0, e, od);
            s = __smlad(od, po, __smlad(e, pe, s));
        }
        row += c->row_bytes;
        out[o] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s);
    }
}

FN_NOINLINE static void pixels4_b2(const cbc_call *c, const uint64_t *xw, int8_t *out) { pixels4(c, xw, out, 2); }
FN_NOINLINE static void pixels4_b4(const cbc_call *c, const uint64_t *xw, int8_t *out) { pixels4(c, xw, out, 4); }
FN_NOINLINE static void pixel1_b2(const cbc_call *c, const uint64_t *xw, int8_t *out) { pixel1(c, xw, out, 2); }
FN_NOINLINE static void pixel1_b4(const cbc_call *c, const uint64_t *xw, int8_t *out) { pixel1(c, xw, out, 4); }
#endif

fn_status fn_conv2d_s8_codebook_dsp(const fn_conv2d_s8_codebook_params *p, const int8_t *input,
                                    const int8_t *codebook, const uint8_t *indices, const int32_t *bias,
                                    int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL || scratch == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || fn_conv2d_s8_codebook_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    const int64_t pixels = (int64_t)p->batch * p->out_h * p->out_w;   /* each factor < 2^31: no overflow */
    if (pixels > INT32_MAX || !fn_input_offset_s8_ok(p->input_offset) ||
        !fn_requant_acc_s8_ok(&p->requant, p->out_c)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_c);
    const int32_t depth = p->kernel_h * p->kernel_w * p->in_c, depth4 = FN_CB_DEPTH4(depth), n4 = depth4 / 4;
    const size_t n_out = (size_t)p->out_c;
    const int inplace = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                        p->pad_top == 0 && p->pad_left == 0 && p->out_h == p->in_h && p->out_w == p->in_w &&
                        depth == depth4;
    const int8_t pad = (int8_t)-p->input_offset;          /* the zero point: x + input_offset = 0 */
    uint8_t *const bytes = (uint8_t *)scratch;
    int8_t *const win = (int8_t *)(bytes + FN_CB_TABLE_BYTES(p->bits) + 32 * (size_t)n4);
#if FN_DSP
    uint32_t *const table = (uint32_t *)scratch;
    uint64_t *const xw = (uint64_t *)(bytes + FN_CB_TABLE_BYTES(p->bits));
    fn_cb_fill_table(table, codebook, p->bits);
    const int32_t off2 = (int32_t)(((uint32_t)p->input_offset & 0xFFFFu) * 0x00010001u);
    const int32_t n_px = (int32_t)pixels;
    const cbc_call c = {table, indices, fn_codebook_row_bytes(depth4, p->bits), n4, p->out_c, &f, fast, &stage};
    void (*const four)(const cbc_call *, const uint64_t *, int8_t *) = p->bits == 2 ? pixels4_b2 : pixels4_b4;
    void (*const one)(const cbc_call *, const uint64_t *, int8_t *) = p->bits == 2 ? pixel1_b2 : pixel1_b4;
    int32_t b = 0, oy = 0, ox = 0;                 /* the pixel px */
    for (int32_t px = 0; px < n_px;) {
        const int32_t n = n_px - px >= 4 ? 4 : n_px - px;  /* a block of 4, or the last pixels one by one */
        const int blk = n == 4;
        for (int32_t q = 0; q < n; ++q) {
            widen(window(p, input, b, oy, ox, inplace, pad, win), n4, off2, blk ? xw + q : xw, blk ? 4 : 1);
            if (!blk) {
                one(&c, xw, output + (size_t)(px + q) * n_out);
            }
            if (++ox == p->out_w) {
                ox = 0;
                if (++oy == p->out_h) {
                    oy = 0;
                    ++b;
                }
            }
        }
        if (blk) {
            four(&c, xw, output + (size_t)px * n_out);
        }
        px += n;
    }
#else
    (void)pixels;
    const size_t row_bytes = fn_codebook_row_bytes(depth4, p->bits);
    int32_t px = 0;
    for (int32_t b = 0; b < p->batch; ++b) {
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, ++px) {
                const int8_t *x = window(p, input, b, oy, ox, inplace, pad, win);
                for (int32_t o = 0; o < p->out_c; ++o) {
                    const uint8_t *row = indices + (size_t)o * row_bytes;
                    int32_t s = 0;
                    for (int32_t j = 0; j < depth; ++j) {
                        s += ((int32_t)x[j] + p->input_offset) *
                             codebook[fn_codebook_index(row, fn_cb_pair_position(j), p->bits)];
                    }
                    output[(size_t)px * n_out + (size_t)o] = fn_finish_one_s8(&f, fast, &stage, o, s);
                }
            }
        }
    }
#endif
    return FN_OK;
}
