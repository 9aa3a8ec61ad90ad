/* firmnet runtime: int8 2-D convolution from int16 interleaved weights, 2 output channels x 2
 * pixels per SMLAD block (fn_conv2d_s8_w16_dsp.h states the layout and the contract). */
#include "fn_conv2d_s8_w16_dsp.h"

#include "fn_conv_s8_impl.h"
#include "fn_dsp.h"
#include "fn_w16_impl.h"

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
 * buffer at dst (row slot ky of column 0): columns 0 .. ncols - 1, col_stride values apart,
 * in_c_pad values each, 0 in the padding channels, in the columns past in_w (the right
 * padding) and everywhere for a row outside the image. */
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
    const int32_t full = in_c / 4, rest = in_c % 4, image = ncols < p->in_w ? ncols : p->in_w;
    int32_t x0 = 0;
    if (rest == 0 && full % 4 == 0) {   /* 16 channels per step */
        for (; x0 < image; ++x0, d += col_stride) {
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
        for (; x0 < image; ++x0, d += col_stride) {
            int16_t *e = d;
            for (const int8_t *const end = s + in_c; s != end; s += 8, e += 8) {
                widen4(s, offset, e);
                widen4(s + 4, offset, e + 4);
            }
        }
    }
    for (; x0 < image; ++x0, d += col_stride) {
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
    for (; x0 < ncols; ++x0, d += col_stride) {   /* columns of the right padding */
        memset(d, 0, (size_t)in_c_pad * sizeof(int16_t));
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

/* The next output row's window (stride_h rows down, dilation_h 1): in every column, row slots
 * shift .. kernel_h - 1 move down to 0 .. kernel_h - 1 - shift (keep values from slot `shift`
 * on, a multiple of 4): blocks of 8 values (or a last 4) upwards, each read whole before it is
 * written, and written only over values already read. */
static void shift_rows(int16_t *cols, int32_t ncols, int32_t col_stride, int32_t shift, int32_t keep)
{
    for (int32_t j = 0; j < ncols; ++j, cols += col_stride) {
        int16_t *d = cols;
        const int16_t *s = cols + shift;
        int32_t n = keep;
#if HAVE_LDRD_POST
        for (; n >= 8; n -= 8) {   /* (the columns are 8-byte aligned) */
            int32_t a, b, c, e;
            LDRD_POST(a, b, s);
            LDRD_POST(c, e, s);
            __asm__("strd %1, %2, [%0], #8" : "+r"(d) : "r"(a), "r"(b) : "memory");
            __asm__("strd %1, %2, [%0], #8" : "+r"(d) : "r"(c), "r"(e) : "memory");
        }
#endif
        for (; n >= 4; n -= 4, s += 4, d += 4) {
            const int32_t a = ld2(s), b = ld2(s + 2);
            st2(d, a);
            st2(d + 2, b);
        }
    }
}

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

/* s[0], s[1] (channels c, c + 1) += one pixel's n groups at xa. aligned: w is word-aligned
 * (then 3 LDRDs and 4 SMLADs per group on the M4). */
static FN_ALWAYS_INLINE inline void dot_1x2(const int16_t *xa, const int16_t *w, int32_t n, int32_t s[2], int aligned)
{
    int32_t s0 = s[0], s1 = s[1];
#if HAVE_LDRD_POST
    if (aligned) {
#define GROUP1_LDRD()                        \
    do {                                     \
        int32_t a0, a1, u0, u1;              \
        LDRD_POST(a0, a1, xa);               \
        LDRD_POST(u0, u1, w);                \
        s0 = SMLAD(a0, u0, s0);              \
        s0 = SMLAD(a1, u1, s0);              \
        LDRD_POST(u0, u1, w);                \
        s1 = SMLAD(a0, u0, s1);              \
        s1 = SMLAD(a1, u1, s1);              \
    } while (0)
        for (int32_t i = n >> 2; i > 0; --i) {
            GROUP1_LDRD();
            GROUP1_LDRD();
            GROUP1_LDRD();
            GROUP1_LDRD();
        }
        for (int32_t i = n & 3; i > 0; --i) {
            GROUP1_LDRD();
        }
#undef GROUP1_LDRD
        s[0] = s0;
        s[1] = s1;
        return;
    }
#endif
    (void)aligned;
    for (const int16_t *const end = xa + 4 * n; xa != end; xa += 4, w += 8) {
        const int32_t a0 = ld2(xa), a1 = ld2(xa + 2);
        s0 = SMLAD(a0, ld2(w), SMLAD(a1, ld2(w + 2), s0));
        s1 = SMLAD(a0, ld2(w + 4), SMLAD(a1, ld2(w + 6), s1));
    }
    s[0] = s0;
    s[1] = s1;
}

/* An edge block: output pixel ox and, when two, ox + 1, one of whose windows leaves the image.
 * The taps inside both windows (kx in [lo, hi)) are computed as 2x2 blocks, st's steps (the
 * whole range with dilation_w 1, one column otherwise) from column `col` (pixel ox's; ox + 1's
 * is px_step values on); each
 * pixel's other taps inside the image, a column at a time: kx in [lo0, hi0) for ox and [lo1,
 * hi1) for ox + 1, outside [lo, hi). Fixed for the whole call, so made once (edge_plan). */
typedef struct {
    int32_t ox, two;
    int32_t lo, hi, col;
    steps st;
    int32_t lo0, hi0, lo1, hi1;
} edge_block;

/* Edge blocks kept in the row context (more, with a left pad of over 8 strides, are planned per use). */
#define W16_EDGES 4

/* What one output row's computation needs. */
typedef struct {
    const fn_conv2d_s8_params *p;
    const int16_t *cols;        /* the widened image columns, kernel_h * in_c_pad values each */
    int32_t ncols;              /* how many */
    int32_t col_stride;         /* kernel_h * in_c_pad */
    int32_t runs, run_groups;   /* per output pixel: runs of run_groups groups of 4 */
    steps st;                   /* steps_of(run_groups) */
    int32_t run_step;           /* values between runs (dilation_w columns) */
    int32_t px_step;            /* values between neighbouring output pixels (stride_w columns) */
    int32_t pair_w;             /* weight values of a channel pair */
    int32_t run_w;              /* weight values of one run */
    int32_t in_lo;              /* the first output pixel whose window starts inside the image */
    int32_t pairs_lo;           /* in_lo rounded up to even: the pairs (x, x + 1) of the inner loops from */
    int32_t pairs_end;          /* ... to here (pairs_lo + an even count, <= out_w) */
    int out6;                   /* fn_out6_s8_init accepted every channel (and the depth allows it) */
    int ort;                    /* else ORT mode: the inner loops gather each channel pair's fn_ort_s8 */
    const fn_fast_out_s8 *f;    /* else the general stage: fn_finish_one_s8(f, fast, stage, ...) */
    int fast;
    const fn_channel_stage_s8 *stage;
    int32_t n_edges;            /* edge blocks planned (pairs from ox = 0 up to in_lo) */
    edge_block edges[W16_EDGES];
} row_ctx;

/* The sums of channels (c, c + 1) at the output pixel whose window starts at xa (pixel 0) and
 * the next one (two == 1), both with their window inside the image. */
static FN_ALWAYS_INLINE inline void sums_at(const row_ctx *r, const int16_t *xa, const int16_t *wpair, int two,
                                             int32_t s[4], int aligned)
{
    const int16_t *w = wpair;
    if (r->runs == 1) {   /* dilation_w 1: the window is one run */
        if (two) {
            dot_2x2(xa, xa + r->px_step, w, &r->st, s, aligned);
        } else {
            dot_1x2(xa, w, r->run_groups, s, aligned);
        }
        return;
    }
    for (int32_t k = 0; k < r->runs; ++k, xa += r->run_step, w += r->run_w) {
        if (two) {
            dot_2x2(xa, xa + r->px_step, w, &r->st, s, aligned);
        } else {
            dot_1x2(xa, w, r->run_groups, s, aligned);
        }
    }
}

/* Where the window of an output pixel starts in the columns (its column ox * stride_w - pad_left,
 * inside the image). */
static inline const int16_t *window_at(const row_ctx *r, int32_t ox)
{
    return r->cols + (size_t)(ox * r->p->stride_w - r->p->pad_left) * (size_t)r->col_stride;
}

/* The taps kx in [*lo, *hi) of output pixel ox whose column lies in the image (a range: the
 * columns grow with kx). */
static inline void taps_inside(const row_ctx *r, int32_t ox, int32_t *lo, int32_t *hi)
{
    const fn_conv2d_s8_params *p = r->p;
    const int32_t ix0 = ox * p->stride_w - p->pad_left, d = p->dilation_w, kw = p->kernel_w;
    const int32_t a = ix0 >= 0 ? 0 : (-ix0 + d - 1) / d;                   /* first kx with ix >= 0 */
    int32_t b = ix0 < r->ncols ? (r->ncols - 1 - ix0) / d + 1 : 0;       /* past the last with ix < ncols */
    b = b < kw ? b : kw;
    *lo = a;
    *hi = b > a ? b : a;
}

/* The edge block at output pixel ox (two: with ox + 1). */
static void edge_plan(const row_ctx *r, int32_t ox, int two, edge_block *e)
{
    const fn_conv2d_s8_params *p = r->p;
    e->ox = ox;
    e->two = two;
    taps_inside(r, ox, &e->lo0, &e->hi0);
    e->lo1 = e->hi1 = 0;
    e->lo = e->hi = 0;
    if (two) {
        taps_inside(r, ox + 1, &e->lo1, &e->hi1);
        const int32_t lo = e->lo0 > e->lo1 ? e->lo0 : e->lo1, hi = e->hi0 < e->hi1 ? e->hi0 : e->hi1;
        if (hi > lo) {
            e->lo = lo;
            e->hi = hi;
        }
    }
    e->col = ox * p->stride_w - p->pad_left + e->lo * p->dilation_w;
    e->st = steps_of((p->dilation_w == 1 ? e->hi - e->lo : 1) * r->col_stride / 4);
}

/* One pixel's sums (s[0], s[1]: channels c, c + 1) over its taps [lo, hi) outside [skip_lo,
 * skip_hi) (the first column: ix0, taps dilation_w columns apart). With dilation_w 1 and an
 * aligned filter each of the two ranges is one run with LDRDs; otherwise a column at a time
 * with plain loads (rare: the code stays small). */
FN_NOINLINE static void sums_taps(const row_ctx *r, const int16_t *wpair, int32_t ix0, int32_t lo, int32_t hi,
                                  int32_t skip_lo, int32_t skip_hi, int32_t s[2], int aligned)
{
    const int32_t groups = r->col_stride / 4, d = r->p->dilation_w;
    const int32_t end = hi < skip_lo ? hi : skip_lo;   /* [lo, end), then [from, hi) */
    const int32_t from = lo > skip_hi ? lo : skip_hi;
    if (d == 1 && aligned) {
        if (end > lo) {
            dot_1x2(r->cols + (size_t)(ix0 + lo) * (size_t)r->col_stride, wpair + (size_t)lo * (size_t)r->run_w,
                    (end - lo) * groups, s, 1);
        }
        if (hi > from) {
            dot_1x2(r->cols + (size_t)(ix0 + from) * (size_t)r->col_stride, wpair + (size_t)from * (size_t)r->run_w,
                    (hi - from) * groups, s, 1);
        }
        return;
    }
    for (int32_t kx = lo; kx < hi; ++kx) {
        if (kx < end || kx >= from) {
            dot_1x2(r->cols + (size_t)(ix0 + kx * d) * (size_t)r->col_stride, wpair + (size_t)kx * (size_t)r->run_w,
                    groups, s, 0);
        }
    }
}

/* Outputs of channel c (and c + 1 when both) at out (channel 0 of the pixel); t: the pair's
 * fn_out6_s8 (used when r->out6). */
static inline void finish2(const row_ctx *r, const fn_out6_s8 t[2], int32_t c, int both, int32_t s0, int32_t s1,
                           int8_t *out)
{
    if (r->out6) {
        out[c] = fn_out6_s8_one(s0, &t[0]);
        if (both) {
            out[c + 1] = fn_out6_s8_one(s1, &t[1]);
        }
        return;
    }
    out[c] = fn_finish_one_s8(r->f, r->fast, r->stage, c, s0);
    if (both) {
        out[c + 1] = fn_finish_one_s8(r->f, r->fast, r->stage, c + 1, s1);
    }
}

/* The fn_out6_s8 of channel c, which fn_out6_s8_init accepted (the same fields, unchecked). */
static inline void out6_of(const fn_requant_acc_s8 *rq, const int32_t *bias, int32_t c, fn_out6_s8 *o)
{
    const int32_t q = rq->per_channel ? c : 0, k = -rq->shift[q] - 1;
    o->bias2 = bias != NULL ? 2 * bias[c] : 0;
    o->multiplier = rq->multiplier[q];
    o->addend = (int32_t)((uint32_t)1 << k) + rq->output_offset * (int32_t)((uint32_t)2 << k);
    o->shift = k + 1;
}

/* The channel pair's fn_out6_s8 (c, and c + 1 when both) when r->out6, else zeros (not read). */
static inline void out6_pair(const row_ctx *r, const int32_t *bias, int32_t c, int both, fn_out6_s8 t[2])
{
    if (r->out6) {
        out6_of(&r->p->requant, bias, c, &t[0]);
        out6_of(&r->p->requant, bias, both ? c + 1 : c, &t[1]);
    } else {
        t[0].bias2 = t[0].multiplier = t[0].addend = t[0].shift = 0;
        t[1] = t[0];
    }
}

/* Every output of edge block e (out_row: the row's first output), all channel pairs. Out of
 * line: the row's few edge pixels, away from the inner loop's registers. */
FN_NOINLINE static void edge_outputs(const row_ctx *r, const edge_block *e, const int16_t *filter, const int32_t *bias,
                                     int8_t *out_row)
{
    const fn_conv2d_s8_params *p = r->p;
    const int32_t out_c = p->out_c, ix0 = e->ox * p->stride_w - p->pad_left;
    const int aligned = ((uintptr_t)(const void *)filter & 3u) == 0;
    int8_t *const o = out_row + (size_t)e->ox * (size_t)out_c;
    for (int32_t c = 0; c < out_c; c += 2) {
        const int both = c + 1 < out_c;
        const int16_t *wpair = filter + (size_t)(c / 2) * (size_t)r->pair_w;
        fn_out6_s8 t[2];
        out6_pair(r, bias, c, both, t);
        int32_t s[4] = {0, 0, 0, 0};
        if (e->hi > e->lo) {   /* (with dilation_w > 1 or an unaligned filter: plain loads) */
            const int16_t *xa = r->cols + (size_t)e->col * (size_t)r->col_stride;
            const int16_t *w = wpair + (size_t)e->lo * (size_t)r->run_w;
            if (p->dilation_w == 1 && aligned) {
                dot_2x2(xa, xa + r->px_step, w, &e->st, s, 1);
            } else {
                for (int32_t kx = e->lo; kx < e->hi; kx += p->dilation_w == 1 ? e->hi - e->lo : 1,
                             xa += r->run_step, w += r->run_w) {
                    dot_2x2(xa, xa + r->px_step, w, &e->st, s, 0);
                }
            }
        }
        sums_taps(r, wpair, ix0, e->lo0, e->hi0, e->lo, e->hi, s, aligned);
        finish2(r, t, c, both, s[0], s[1], o);
        if (e->two) {
            sums_taps(r, wpair, ix0 + p->stride_w, e->lo1, e->hi1, e->lo, e->hi, s + 2, aligned);
            finish2(r, t, c, both, s[2], s[3], o + out_c);
        }
    }
}

/* Edge block k of the row (from the context, or planned here past W16_EDGES) at pixel ox. */
static void edge_at(const row_ctx *r, int32_t k, int32_t ox, const int16_t *filter, const int32_t *bias,
                    int8_t *out_row)
{
    if (k < W16_EDGES) {
        edge_outputs(r, &r->edges[k], filter, bias, out_row);
        return;
    }
    edge_block e;
    edge_plan(r, ox, ox + 1 < r->p->out_w, &e);
    edge_outputs(r, &e, filter, bias, out_row);
}

/* Every output of one output row (outputs at out_row, out_c apart per pixel): pixel pairs from
 * ox = 0; those with a window starting left of the image through edge_outputs, the others in
 * the inner loops, per channel pair (an odd last pixel on its own). */
static FN_ALWAYS_INLINE inline void conv_row(const row_ctx *r, const int16_t *filter, const int32_t *bias,
                                             int8_t *out_row, int aligned)
{
    const fn_conv2d_s8_params *p = r->p;
    const int32_t out_c = p->out_c, out_w = p->out_w, lo = r->pairs_lo, pairs_end = r->pairs_end;
    const int out6 = r->out6;
    for (int32_t ox = 0, k = 0; ox < r->in_lo && ox < out_w; ox += 2, ++k) {
        edge_at(r, k, ox, filter, bias, out_row);
    }
    if (lo >= out_w) {
        return;
    }
    const int16_t *const x0 = window_at(r, lo);
    int8_t *const o0 = out_row + (size_t)lo * (size_t)out_c;
    for (int32_t c = 0; c < out_c; c += 2) {
        const int both = c + 1 < out_c;
        const int16_t *wpair = filter + (size_t)(c / 2) * (size_t)r->pair_w;
        fn_out6_s8 t[2];
        out6_pair(r, bias, c, both, t);
        int32_t x = lo;
        const int16_t *xa = x0;
        int8_t *o = o0;
        if (out6 && both) {   /* the common case: the channels' parameters loaded once per block */
            for (; x < pairs_end; x += 2, o += 2 * out_c, xa += 2 * r->px_step) {
                int32_t s[4] = {0, 0, 0, 0};
                sums_at(r, xa, wpair, 1, s, aligned);
                const fn_out6_s8 t0 = t[0], t1 = t[1];
                o[c] = fn_out6_s8_one(s[0], &t0);
                o[out_c + c] = fn_out6_s8_one(s[2], &t0);
                o[c + 1] = fn_out6_s8_one(s[1], &t1);
                o[out_c + c + 1] = fn_out6_s8_one(s[3], &t1);
            }
        }
#if !defined(FN_WITHOUT_ORT_PATHS)
        else if (r->ort && both) {   /* the same for onnxruntime's float stage */
            fn_ort_s8 u0, u1;
            fn_ort_s8_init(&u0, r->stage, c);
            fn_ort_s8_init(&u1, r->stage, c + 1);
            for (; x < pairs_end; x += 2, o += 2 * out_c, xa += 2 * r->px_step) {
                int32_t s[4] = {0, 0, 0, 0};
                sums_at(r, xa, wpair, 1, s, aligned);
                o[c] = fn_ort_s8_one(s[0], &u0);
                o[out_c + c] = fn_ort_s8_one(s[2], &u0);
                o[c + 1] = fn_ort_s8_one(s[1], &u1);
                o[out_c + c + 1] = fn_ort_s8_one(s[3], &u1);
            }
        }
#endif
        for (; x < pairs_end; x += 2, o += 2 * out_c, xa += 2 * r->px_step) {
            int32_t s[4] = {0, 0, 0, 0};
            sums_at(r, xa, wpair, 1, s, aligned);
            finish2(r, t, c, both, s[0], s[1], o);
            finish2(r, t, c, both, s[2], s[3], o + out_c);
        }
        if (x < out_w) {   /* the odd last pixel */
            int32_t s[4] = {0, 0, 0, 0};
            sums_at(r, xa, wpair, 0, s, aligned);
            finish2(r, t, c, both, s[0], s[1], o);
        }
    }
}

/* conv_row for a word-aligned filter (LDRD for the weights) and for any other. */
FN_NOINLINE static void conv_row_w4(const row_ctx *r, const int16_t *filter, const int32_t *bias, int8_t *out_row)
{
    conv_row(r, filter, bias, out_row, 1);
}

FN_NOINLINE static void conv_row_w2(const row_ctx *r, const int16_t *filter, const int32_t *bias, int8_t *out_row)
{
    conv_row(r, filter, bias, out_row, 0);
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
    r.p = p;
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
    /* the windows from in_lo on start inside the image, and all end before ncols (span_w's) */
    r.in_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
    r.pairs_lo = r.in_lo + (r.in_lo & 1);
    r.pairs_end = r.pairs_lo < p->out_w ? r.pairs_lo + (p->out_w - r.pairs_lo) / 2 * 2 : r.pairs_lo;
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    r.fast = fn_fast_out_s8_init(&f, bias, &p->requant, p->out_c);
    r.f = &f;
    r.stage = &stage;
    int out6 = (int64_t)kh * kw * in_c_pad <= FN_W16_OUT6_DEPTH;
    for (int32_t c = 0; c < p->out_c && out6; ++c) {
        fn_out6_s8 t;
        out6 &= fn_out6_s8_init(&t, &p->requant, c, bias != NULL ? bias[c] : 0);
    }
    r.out6 = out6;
#if defined(FN_WITHOUT_ORT_PATHS)
    r.ort = 0;
#else
    r.ort = !out6 && p->requant.mode == FN_REQUANT_ORT;
#endif
    r.n_edges = 0;   /* the edge blocks in conv_row's order */
    for (int32_t ox = 0; ox < r.in_lo && ox < p->out_w && r.n_edges < W16_EDGES; ox += 2) {
        edge_plan(&r, ox, ox + 1 < p->out_w, &r.edges[r.n_edges++]);
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
                conv_row_w4(&r, filter, bias, out_row);
            } else {
                conv_row_w2(&r, filter, bias, out_row);
            }
        }
    }
    return FN_OK;
}
