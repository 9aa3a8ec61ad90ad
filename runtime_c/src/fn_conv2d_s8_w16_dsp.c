/* firmnet runtime: int8 2-D convolution from int16 interleaved weights, 2 output channels x 2
 * pixels per SMLAD block (fn_conv2d_s8_w16_dsp.h states the layout and the contract). */
#include "fn_conv2d_s8_w16_dsp.h"

#include "fn_conv_s8_impl.h"
#include "fn_dsp.h"

/* A word (two int16 values, little-endian) from any address, and back. */
static inline int32_t ld2(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st2(int16_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

#if FN_DSP
#define SMLAD(x, y, acc) __smlad((x), (y), (acc))
#else
/* SMLAD's arithmetic: acc + lo(x) * lo(y) + hi(x) * hi(y), modulo 2^32 (16-bit signed lanes). */
static inline int32_t lane(int32_t v, int hi)
{
    const uint32_t u = ((uint32_t)v >> (hi ? 16 : 0)) & 0xFFFFu;
    return u >= 0x8000u ? (int32_t)u - 65536 : (int32_t)u;
}

static inline int32_t SMLAD(int32_t x, int32_t y, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(lane(x, 0) * lane(y, 0)) + (uint32_t)(lane(x, 1) * lane(y, 1)));
}
#endif

/* Two 16-bit values as a word: lo in bits 0-15, hi in 16-31. */
static inline int32_t pack2(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* 4 input bytes (channels i0..i3) + offset into dst as (x0, x2, x1, x3). */
static inline void widen4(const int8_t *x, int32_t offset, int16_t *dst)
{
#if FN_DSP
    const int32_t w = fn_load4(x);
    const int32_t off2 = pack2(offset, offset);
    st2(dst, __sxtab16(off2, w));
    st2(dst + 2, fn_sxtab16_ror8(off2, w));
#else
    st2(dst, pack2(x[0] + offset, x[2] + offset));
    st2(dst + 2, pack2(x[1] + offset, x[3] + offset));
#endif
}

/* Input row iy (in the image; row NULL: outside it) widened into the column-interleaved
 * buffer at dst (row slot ky of column 0): the first ncols image columns, col_stride values
 * apart, in_c_pad values each, 0 in the padding channels (and everywhere for a row outside the
 * image). */
static void widen_row(const fn_conv2d_s8_params *p, const int8_t *row, int32_t ncols, int32_t in_c_pad,
                      int32_t col_stride, int16_t *dst)
{
    const int32_t in_c = p->in_c, offset = p->input_offset;
    int16_t *d = dst;
    if (row == NULL) {
        const size_t slot = (size_t)in_c_pad * sizeof(int16_t);
        for (int32_t j = 0; j < ncols; ++j, d += col_stride) {
            memset(d, 0, slot);
        }
        return;
    }
    const int8_t *s = row;
    const int32_t full = in_c / 4, rest = in_c % 4;
    int32_t x0 = 0;
    if (rest == 0 && full % 4 == 0) {   /* 16 channels per step */
        for (; x0 < ncols; ++x0, d += col_stride) {
#if defined(__GNUC__)
            int16_t *e = (int16_t *)__builtin_assume_aligned(d, 8);   /* the columns are 8-byte aligned */
#else
            int16_t *e = d;
#endif
            for (const int8_t *const end = s + in_c; s != end; s += 16, e += 16) {
                widen4(s, offset, e);
                widen4(s + 4, offset, e + 4);
                widen4(s + 8, offset, e + 8);
                widen4(s + 12, offset, e + 12);
            }
        }
    }
    if (rest == 0 && full % 2 == 0) {   /* 8 channels per step */
        for (; x0 < ncols; ++x0, d += col_stride) {
            int16_t *e = d;
            for (const int8_t *const end = s + in_c; s != end; s += 8, e += 8) {
                widen4(s, offset, e);
                widen4(s + 4, offset, e + 4);
            }
        }
    }
    for (; x0 < ncols; ++x0, d += col_stride) {
        int16_t *e = d;
        for (int32_t g = 0; g < full; ++g, s += 4, e += 4) {
            widen4(s, offset, e);
        }
        if (rest) {
            int32_t v[4] = {0, 0, 0, 0};
            for (int32_t i = 0; i < rest; ++i) {
                v[i] = s[i] + offset;
            }
            st2(e, pack2(v[0], v[2]));
            st2(e + 2, pack2(v[1], v[3]));
            s += rest;
        }
    }
}

/* The next output row's window (stride_h rows down, dilation_h 1): in every column, row slots
 * shift .. kernel_h - 1 move down to 0 .. kernel_h - 1 - shift (keep values, from slot `shift`
 * on: the copy runs upwards in words, each read before the slot it lies in is written). */
static void shift_rows(int16_t *cols, int32_t ncols, int32_t col_stride, int32_t shift, int32_t keep)
{
    for (int32_t j = 0; j < ncols; ++j, cols += col_stride) {
        int16_t *d = cols;
        const int16_t *s = cols + shift;
        for (int32_t i = 0; i < keep; i += 4, d += 4, s += 4) {   /* keep: a multiple of 4 values */
            const int32_t a = ld2(s), b = ld2(s + 2);
            st2(d, a);
            st2(d + 2, b);
        }
    }
}

/* One group of 4 input values of 2 pixels (xa, xb) against a channel pair's 8 weights. */
#define GROUP_2X2(xa, xb, w)                                          \
    do {                                                              \
        const int32_t a0 = ld2(xa), a1 = ld2((xa) + 2);               \
        const int32_t b0 = ld2(xb), b1 = ld2((xb) + 2);               \
        const int32_t u0 = ld2(w), u1 = ld2((w) + 2);                 \
        s00 = SMLAD(a0, u0, s00);                                     \
        s10 = SMLAD(b0, u0, s10);                                     \
        s00 = SMLAD(a1, u1, s00);                                     \
        s10 = SMLAD(b1, u1, s10);                                     \
        const int32_t v0 = ld2((w) + 4), v1 = ld2((w) + 6);           \
        s01 = SMLAD(a0, v0, s01);                                     \
        s11 = SMLAD(b0, v0, s11);                                     \
        s01 = SMLAD(a1, v1, s01);                                     \
        s11 = SMLAD(b1, v1, s11);                                     \
    } while (0)

#if FN_DSP && defined(__GNUC__)
/* lo, hi = the words at ptr, ptr += 8 bytes: LDRD with post-increment (ptr word-aligned). The
 * memory clobber orders it after the stores that filled the rows. */
#define LDRD_POST(lo, hi, ptr) __asm__("ldrd %0, %1, [%2], #8" : "=r"(lo), "=r"(hi), "+r"(ptr) : : "memory")
#define HAVE_LDRD_POST 1
#else
#define HAVE_LDRD_POST 0
#endif

/* s[0..3] (pixel a, channel c: s[2 * a + c]) += the n groups of 4 at xa, xb (pixels 0, 1)
 * against the channel pair's weights w (8 values per group). aligned: w is word-aligned (a
 * constant after inlining); then on the M4 each group is 4 LDRDs and 8 SMLADs. */
/* How dot_2x2 steps through n groups: n9 steps of nine (n a multiple of 9), else n4 of four
 * and n1 of one; computed once per call. */
typedef struct {
    int32_t n, n9, n4, n1;
} steps;

static inline steps steps_of(int32_t n)
{
    steps st;
    st.n = n;
    st.n9 = n % 9 == 0 ? n / 9 : 0;
    st.n4 = n % 9 == 0 ? 0 : n >> 2;
    st.n1 = n % 9 == 0 ? 0 : n & 3;
    return st;
}

static FN_ALWAYS_INLINE inline void dot_2x2(const int16_t *xa, const int16_t *xb, const int16_t *w, const steps *st,
                                            int32_t s[4], int aligned)
{
    const int32_t n = st->n;
    int32_t s00 = s[0], s01 = s[1], s10 = s[2], s11 = s[3];
#if HAVE_LDRD_POST
    if (aligned) {
#define GROUP_LDRD()                         \
    do {                                     \
        int32_t a0, a1, b0, b1, u0, u1;      \
        LDRD_POST(a0, a1, xa);               \
        LDRD_POST(u0, u1, w);                \
        s00 = SMLAD(a0, u0, s00);            \
        s00 = SMLAD(a1, u1, s00);            \
        LDRD_POST(b0, b1, xb);               \
        s10 = SMLAD(b0, u0, s10);            \
        s10 = SMLAD(b1, u1, s10);            \
        LDRD_POST(u0, u1, w);                \
        s01 = SMLAD(a0, u0, s01);            \
        s01 = SMLAD(a1, u1, s01);            \
        s11 = SMLAD(b0, u0, s11);            \
        s11 = SMLAD(b1, u1, s11);            \
    } while (0)
        for (int32_t i = st->n9; i > 0; --i) {   /* 3x3 windows: nine groups per step */
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
        }
        for (int32_t i = st->n4; i > 0; --i) {   /* four groups per step */
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
        }
        for (int32_t i = st->n1; i > 0; --i) {
            GROUP_LDRD();
        }
#undef GROUP_LDRD
        s[0] = s00;
        s[1] = s01;
        s[2] = s10;
        s[3] = s11;
        return;
    }
#endif
    (void)aligned;
    for (int32_t i = n; i > 0; --i, xa += 4, xb += 4, w += 8) {
        GROUP_2X2(xa, xb, w);
    }
    s[0] = s00;
    s[1] = s01;
    s[2] = s10;
    s[3] = s11;
}

/* s[0], s[1] (channels c, c + 1) += one pixel's n groups at xa. */
static inline void dot_1x2(const int16_t *xa, const int16_t *w, int32_t n, int32_t s[2])
{
    int32_t s0 = s[0], s1 = s[1];
    for (const int16_t *const end = xa + 4 * n; xa != end; xa += 4, w += 8) {
        const int32_t a0 = ld2(xa), a1 = ld2(xa + 2);
        s0 = SMLAD(a0, ld2(w), SMLAD(a1, ld2(w + 2), s0));
        s1 = SMLAD(a0, ld2(w + 4), SMLAD(a1, ld2(w + 6), s1));
    }
    s[0] = s0;
    s[1] = s1;
}

/* What one output row's computation needs. */
typedef struct {
    const int16_t *cols;        /* the widened image columns, kernel_h * in_c_pad values each */
    int32_t ncols;              /* how many */
    int32_t col_stride;         /* kernel_h * in_c_pad */
    int32_t runs, run_groups;   /* per output pixel: runs of run_groups groups of 4 */
    steps st;                   /* steps_of(run_groups) */
    int32_t run_step;           /* values between runs (dilation_w columns) */
    int32_t px_step;            /* values between neighbouring output pixels (stride_w columns) */
    int32_t pair_w;             /* weight values of a channel pair */
    int32_t run_w;              /* weight values of one run */
    int32_t in_lo, in_hi;       /* the output pixels whose window lies inside the image: [in_lo, in_hi) */
} row_ctx;

/* The sums of channels (c, c + 1) at output pixels ox (pixel 0) and ox + 1 (two == 1), both
 * with their window inside the image. */
static FN_ALWAYS_INLINE inline void sums_at(const row_ctx *r, const fn_conv2d_s8_params *p, const int16_t *wpair,
                                             int32_t ox, int two, int32_t s[4], int aligned)
{
    const int16_t *xa = r->cols + (size_t)(ox * p->stride_w - p->pad_left) * (size_t)r->col_stride;
    const int16_t *w = wpair;
    if (r->runs == 1) {   /* dilation_w 1: the window is one run */
        if (two) {
            dot_2x2(xa, xa + r->px_step, w, &r->st, s, aligned);
        } else {
            dot_1x2(xa, w, r->run_groups, s);
        }
        return;
    }
    for (int32_t k = 0; k < r->runs; ++k, xa += r->run_step, w += r->run_w) {
        if (two) {
            dot_2x2(xa, xa + r->px_step, w, &r->st, s, aligned);
        } else {
            dot_1x2(xa, w, r->run_groups, s);
        }
    }
}

/* The sums of channels (c, c + 1) at an output pixel whose window leaves the image: its taps'
 * columns inside it, one column (kernel_h * in_c_pad values) at a time. */
static void sums_edge(const row_ctx *r, const fn_conv2d_s8_params *p, const int16_t *wpair, int32_t ox,
                      int32_t s[2])
{
    const int32_t groups = r->col_stride / 4;
    for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
        const int32_t ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
        if (ix >= 0 && ix < r->ncols) {
            dot_1x2(r->cols + (size_t)ix * (size_t)r->col_stride, wpair + (size_t)kx * (size_t)r->run_w, groups, s);
        }
    }
}

/* Outputs of channel c (and c + 1 when both) at out (channel 0 of the pixel); t: the pair's
 * fn_out6_s8 (used when out6). */
static inline void finish2(const fn_out6_s8 t[2], int out6, const fn_fast_out_s8 *f, int fast,
                           const fn_channel_stage_s8 *stage, int32_t c, int both, int32_t s0, int32_t s1,
                           int8_t *out)
{
    if (out6) {
        out[c] = fn_out6_s8_one(s0, &t[0]);
        if (both) {
            out[c + 1] = fn_out6_s8_one(s1, &t[1]);
        }
        return;
    }
    out[c] = fn_finish_one_s8(f, fast, stage, c, s0);
    if (both) {
        out[c + 1] = fn_finish_one_s8(f, fast, stage, c + 1, s1);
    }
}

/* Every output of one output row (outputs at out_row, out_c apart per pixel). */
static FN_ALWAYS_INLINE inline void conv_row(const row_ctx *r, const fn_conv2d_s8_params *p,
                                             const int16_t *filter, const int32_t *bias, int out6,
                                             const fn_fast_out_s8 *f, int fast, const fn_channel_stage_s8 *stage,
                                             int8_t *out_row, int aligned)
{
    const int32_t out_c = p->out_c, out_w = p->out_w, in_lo = r->in_lo, in_hi = r->in_hi;
    for (int32_t c = 0; c < out_c; c += 2) {
        const int both = c + 1 < out_c;
        const int16_t *wpair = filter + (size_t)(c / 2) * (size_t)r->pair_w;
        fn_out6_s8 t[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
        if (out6) {   /* (out6: every channel's init succeeded) */
            (void)fn_out6_s8_init(&t[0], &p->requant, c, bias != NULL ? bias[c] : 0);
            (void)fn_out6_s8_init(&t[1], &p->requant, both ? c + 1 : c, bias != NULL ? bias[both ? c + 1 : c] : 0);
        }
        for (int32_t ox = 0; ox < in_lo; ++ox) {   /* pixels whose window starts left of the image */
            int32_t s[2] = {0, 0};
            sums_edge(r, p, wpair, ox, s);
            finish2(t, out6, f, fast, stage, c, both, s[0], s[1], out_row + (size_t)ox * (size_t)out_c);
        }
        int32_t ox = in_lo;
        int8_t *o = out_row + (size_t)ox * (size_t)out_c;
        if (out6 && both) {   /* the common case: the channels' parameters in registers */
            const fn_out6_s8 t0 = t[0], t1 = t[1];
            for (; ox + 2 <= in_hi; ox += 2, o += 2 * out_c) {
                int32_t s[4] = {0, 0, 0, 0};
                sums_at(r, p, wpair, ox, 1, s, aligned);
                o[c] = fn_out6_s8_one(s[0], &t0);
                o[out_c + c] = fn_out6_s8_one(s[2], &t0);
                o[c + 1] = fn_out6_s8_one(s[1], &t1);
                o[out_c + c + 1] = fn_out6_s8_one(s[3], &t1);
            }
        }
        for (; ox + 2 <= in_hi; ox += 2, o += 2 * out_c) {
            int32_t s[4] = {0, 0, 0, 0};
            sums_at(r, p, wpair, ox, 1, s, aligned);
            finish2(t, out6, f, fast, stage, c, both, s[0], s[1], o);
            finish2(t, out6, f, fast, stage, c, both, s[2], s[3], o + out_c);
        }
        if (ox < in_hi) {   /* the odd last pixel inside */
            int32_t s[4] = {0, 0, 0, 0};
            sums_at(r, p, wpair, ox, 0, s, aligned);
            finish2(t, out6, f, fast, stage, c, both, s[0], s[1], o);
            ++ox;
        }
        for (ox = in_hi; ox < out_w; ++ox) {   /* pixels whose window ends right of it */
            int32_t s[2] = {0, 0};
            sums_edge(r, p, wpair, ox, s);
            finish2(t, out6, f, fast, stage, c, both, s[0], s[1], out_row + (size_t)ox * (size_t)out_c);
        }
    }
}

/* conv_row for a word-aligned filter (LDRD for the weights) and for any other. */
FN_NOINLINE static void conv_row_w4(const row_ctx *r, const fn_conv2d_s8_params *p, const int16_t *filter,
                                    const int32_t *bias, int out6, const fn_fast_out_s8 *f, int fast,
                                    const fn_channel_stage_s8 *stage, int8_t *out_row)
{
    conv_row(r, p, filter, bias, out6, f, fast, stage, out_row, 1);
}

FN_NOINLINE static void conv_row_w2(const row_ctx *r, const fn_conv2d_s8_params *p, const int16_t *filter,
                                    const int32_t *bias, int out6, const fn_fast_out_s8 *f, int fast,
                                    const fn_channel_stage_s8 *stage, int8_t *out_row)
{
    conv_row(r, p, filter, bias, out6, f, fast, stage, out_row, 0);
}

fn_status fn_conv2d_s8_w16_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch)
{
    if (!fn_conv2d_s8_args_ok(p, input, (const int8_t *)(const void *)filter, output, 1) || scratch == NULL ||
        p->groups != 1 || p->filter_offset != NULL || fn_conv2d_s8_w16_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    const int32_t in_c_pad = fn_w16_in_c_pad(p->in_c), ncols = fn_w16_cols(p);
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    int16_t *cols = (int16_t *)scratch;
    const int32_t col_stride = kh * in_c_pad;
    row_ctx r;
    r.cols = cols;
    r.ncols = ncols;
    r.col_stride = col_stride;
    r.runs = p->dilation_w == 1 ? 1 : kw;
    r.run_groups = p->dilation_w == 1 ? kw * col_stride / 4 : col_stride / 4;
    r.st = steps_of(r.run_groups);
    r.run_step = p->dilation_w * col_stride;
    r.px_step = p->stride_w * col_stride;
    r.pair_w = 2 * kw * col_stride;
    r.run_w = 2 * col_stride;
    /* inside: ox * stride_w >= pad_left and ox * stride_w - pad_left + (kw - 1) * dilation_w < ncols
     * (every operand below 2^24, so no product leaves int32) */
    const int32_t last = ncols - 1 + p->pad_left - (kw - 1) * p->dilation_w;
    r.in_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
    r.in_hi = last < 0 ? 0 : last / p->stride_w + 1;
    r.in_lo = r.in_lo < p->out_w ? r.in_lo : p->out_w;
    r.in_hi = r.in_hi < p->out_w ? r.in_hi : p->out_w;
    r.in_hi = r.in_hi > r.in_lo ? r.in_hi : r.in_lo;
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &p->requant, p->out_c);
    int out6 = (int64_t)kh * kw * in_c_pad <= FN_W16_OUT6_DEPTH;
    for (int32_t c = 0; c < p->out_c && out6; ++c) {
        fn_out6_s8 t;
        out6 &= fn_out6_s8_init(&t, &p->requant, c, bias != NULL ? bias[c] : 0);
    }
    /* consecutive output rows share kernel_h - stride_h window rows: kept in the scratch */
    const int keep_rows = p->dilation_h == 1 && p->stride_h < kh ? kh - p->stride_h : 0;
    const size_t in_row = (size_t)p->in_w * (size_t)p->in_c;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * (size_t)p->in_h * in_row;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky = 0;
            if (oy > 0 && keep_rows > 0) {
                shift_rows(cols, ncols, col_stride, p->stride_h * in_c_pad, keep_rows * in_c_pad);
                ky = keep_rows;
            }
            for (; ky < kh; ++ky) {
                const int32_t iy = iy0 + ky * p->dilation_h;
                widen_row(p, iy >= 0 && iy < p->in_h ? in_b + (size_t)iy * in_row : NULL, ncols, in_c_pad, col_stride,
                          cols + (size_t)ky * (size_t)in_c_pad);
            }
            int8_t *out_row = output + (((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w) *
                                           (size_t)p->out_c;
            if (((uintptr_t)(const void *)filter & 3u) == 0) {
                conv_row_w4(&r, p, filter, bias, out6, &f, fast, &stage, out_row);
            } else {
                conv_row_w2(&r, p, filter, bias, out6, &f, fast, &stage, out_row);
            }
        }
    }
    return FN_OK;
}
