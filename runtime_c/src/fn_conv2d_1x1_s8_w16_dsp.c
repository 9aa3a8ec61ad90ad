/* firmnet runtime: int8 1x1 convolution from int16 interleaved weights, 2 pixels x 4 output
 * channels per SMLAD block (fn_conv2d_1x1_s8_w16_dsp.h states the layout and the contract). */
#include "fn_conv2d_1x1_s8_w16_dsp.h"

#include "fn_dsp.h"
#include "fn_w16_impl.h"

/* 4 input channels of pixels a and b + offset into the group at d: (a0, a2), (b0, b2), (a1, a3),
 * (b1, b3). */
static inline void widen_group(const int8_t *a, const int8_t *b, int32_t offset, int16_t *d)
{
#if FN_DSP
    const int32_t wa = fn_load4(a), wb = fn_load4(b);
    const int32_t off2 = pack2(offset, offset);
    st2(d, __sxtab16(off2, wa));
    st2(d + 2, __sxtab16(off2, wb));
    st2(d + 4, fn_sxtab16_ror8(off2, wa));
    st2(d + 6, fn_sxtab16_ror8(off2, wb));
#else
    st2(d, pack2(a[0] + offset, a[2] + offset));
    st2(d + 2, pack2(b[0] + offset, b[2] + offset));
    st2(d + 4, pack2(a[1] + offset, a[3] + offset));
    st2(d + 6, pack2(b[1] + offset, b[3] + offset));
#endif
}

/* The first n groups of pixels a and b (widen_group each). */
static void widen_groups(const int8_t *a, const int8_t *b, int32_t n, int32_t offset, int16_t *xw)
{
#if FN_DSP
    const int32_t off2 = pack2(offset, offset);
    uint32_t *d = (uint32_t *)(void *)xw;   /* the scratch is 8-byte aligned */
    for (const int8_t *const end = a + 4 * (size_t)n; a != end; a += 4, b += 4, d += 4) {
        const int32_t wa = fn_load4(a), wb = fn_load4(b);
        d[0] = (uint32_t)__sxtab16(off2, wa);
        d[1] = (uint32_t)__sxtab16(off2, wb);
        d[2] = (uint32_t)fn_sxtab16_ror8(off2, wa);
        d[3] = (uint32_t)fn_sxtab16_ror8(off2, wb);
    }
#else
    for (int32_t g = 0; g < n; ++g) {
        widen_group(a + 4 * g, b + 4 * g, offset, xw + 8 * g);
    }
#endif
}

/* The pair's groups g0 .. in_c_pad / 4 - 1 one value at a time: 0 for the padding channels
 * and, when b is NULL (a last odd pixel), for pixel 1. */
static void widen_tail(const int8_t *a, const int8_t *b, int32_t in_c, int32_t in_c_pad, int32_t offset, int32_t g0,
                       int16_t *xw)
{
    for (int32_t g = g0; g < in_c_pad / 4; ++g) {
        for (int32_t h = 0; h < 2; ++h) {
            for (int32_t q = 0; q < 2; ++q) {
                const int8_t *src = q ? b : a;
                for (int32_t t = 0; t < 2; ++t) {
                    const int32_t i = 4 * g + h + 2 * t;
                    xw[8 * g + 4 * h + 2 * q + t] = (int16_t)(src != NULL && i < in_c ? src[i] + offset : 0);
                }
            }
        }
    }
}

#if FN_DSP && defined(__GNUC__)
/* lo, hi = the words at ptr, ptr += 8 bytes: LDRD with post-increment (ptr word-aligned). The
 * memory clobber orders it after the stores that filled the scratch. */
#define LDRD_POST(lo, hi, ptr) __asm__("ldrd %0, %1, [%2], #8" : "=r"(lo), "=r"(hi), "+r"(ptr) : : "memory")
#define HAVE_LDRD_POST 1
#else
#define HAVE_LDRD_POST 0
#endif

/* The 8 sums of a block: s[4 * q + j] = pixel q, channel j. */
typedef struct {
    int32_t a0, a1, a2, a3, b0, b1, b2, b3;
} sums8;

/* One half-group (2 input channels of both pixels against 4 channels' weights): 3 word pairs,
 * 8 SMLADs. */
#define HALF_PLAIN(xp, wp)                                                   \
    do {                                                                     \
        const int32_t xa = ld2(xp), xb = ld2((xp) + 2);                      \
        const int32_t u0 = ld2(wp), u1 = ld2((wp) + 2);                      \
        s.a0 = SMLAD(xa, u0, s.a0);                                          \
        s.b0 = SMLAD(xb, u0, s.b0);                                          \
        s.a1 = SMLAD(xa, u1, s.a1);                                          \
        s.b1 = SMLAD(xb, u1, s.b1);                                          \
        const int32_t u2 = ld2((wp) + 4), u3 = ld2((wp) + 6);                \
        s.a2 = SMLAD(xa, u2, s.a2);                                          \
        s.b2 = SMLAD(xb, u2, s.b2);                                          \
        s.a3 = SMLAD(xa, u3, s.a3);                                          \
        s.b3 = SMLAD(xb, u3, s.b3);                                          \
        (xp) += 4;                                                           \
        (wp) += 8;                                                           \
    } while (0)

/* The block's sums over n2 steps of 2 half-groups (one group of 4 input channels); n8 of them
 * in steps of 8 half-groups first. aligned: w is word-aligned (LDRD on the M4). */
static FN_ALWAYS_INLINE inline sums8 dot_2x4(const int16_t *xp, const int16_t *wp, int32_t n8, int32_t n2,
                                             int aligned)
{
    sums8 s = {0, 0, 0, 0, 0, 0, 0, 0};
#if HAVE_LDRD_POST
    if (aligned) {
#define HALF_LDRD()                          \
    do {                                     \
        int32_t xa, xb, u0, u1;              \
        LDRD_POST(xa, xb, xp);               \
        LDRD_POST(u0, u1, wp);               \
        s.a0 = SMLAD(xa, u0, s.a0);          \
        s.b0 = SMLAD(xb, u0, s.b0);          \
        s.a1 = SMLAD(xa, u1, s.a1);          \
        s.b1 = SMLAD(xb, u1, s.b1);          \
        LDRD_POST(u0, u1, wp);               \
        s.a2 = SMLAD(xa, u0, s.a2);          \
        s.b2 = SMLAD(xb, u0, s.b2);          \
        s.a3 = SMLAD(xa, u1, s.a3);          \
        s.b3 = SMLAD(xb, u1, s.b3);          \
    } while (0)
        for (int32_t i = n8; i > 0; --i) {
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
            HALF_LDRD();
        }
        for (int32_t i = n2; i > 0; --i) {
            HALF_LDRD();
            HALF_LDRD();
        }
#undef HALF_LDRD
        return s;
    }
#endif
    (void)aligned;
    for (int32_t i = 4 * n8 + n2; i > 0; --i) {
        HALF_PLAIN(xp, wp);
        HALF_PLAIN(xp, wp);
    }
    return s;
}

/* What every pixel pair's channel loop needs. */
typedef struct {
    const int16_t *filter;        /* the packed filter */
    const fn_out6_s8 *t;          /* the channels' fn_out6_s8 (out6) */
    const fn_fast_out_s8 *f;      /* else the fast stage (fast) or the general one (stage) */
    const fn_channel_stage_s8 *stage;
    int32_t out_c, block_w;       /* block_w: int16 values of a block of 4 channels' weights */
    int32_t n8, n2;               /* dot_2x4's steps */
    int out6, fast;
} pw_ctx;

/* The outputs of channel c (< out_c) of both pixels (o1 NULL: pixel 0 only). */
static inline void finish(const pw_ctx *k, int32_t c, int32_t sa, int32_t sb, int8_t *o0, int8_t *o1)
{
    if (k->out6) {
        o0[c] = fn_out6_s8_one(sa, &k->t[c]);
        if (o1 != NULL) {
            o1[c] = fn_out6_s8_one(sb, &k->t[c]);
        }
        return;
    }
    o0[c] = fn_finish_one_s8(k->f, k->fast, k->stage, c, sa);
    if (o1 != NULL) {
        o1[c] = fn_finish_one_s8(k->f, k->fast, k->stage, c, sb);
    }
}

#if HAVE_LDRD_POST
/* A word pair after the last group of the widened inputs: both lanes -32768, which no widened
 * input (x + input_offset, in [-255, 255]) has, so that the inner loop stops on the inputs it
 * loads (no counter: the 8 sums, 4 words and 2 pointers take the M4's 14 registers). */
#define SENTINEL ((int32_t)0x80008000u)

/* The inner loop as one block of assembly (pair_blocks): GCC, optimizing. The block needs all
 * 14 registers, so a build that keeps a frame pointer (-O0, -fno-omit-frame-pointer) defines
 * FN_NO_BLOCK_ASM (fn_conv2d_1x1_s8_w16_dsp.h): then the C loop runs, the same bytes. */
#if defined(__OPTIMIZE__) && !defined(__clang__) && !defined(FN_NO_BLOCK_ASM)
#define BLOCK_ASM 1
#else
#define BLOCK_ASM 0
#endif

/* One half-group of both pixels (xa, xb) against 4 channels' weight words at wp: 2 LDRDs and 8
 * SMLADs, then the next half-group's input words (the sentinel after the last). */
#define HALF_S()                                \
    do {                                        \
        int32_t u0, u1;                         \
        LDRD_POST(u0, u1, wp);                  \
        a0 = SMLAD(xa, u0, a0);                 \
        b0 = SMLAD(xb, u0, b0);                 \
        a1 = SMLAD(xa, u1, a1);                 \
        b1 = SMLAD(xb, u1, b1);                 \
        LDRD_POST(u0, u1, wp);                  \
        a2 = SMLAD(xa, u0, a2);                 \
        b2 = SMLAD(xb, u0, b2);                 \
        a3 = SMLAD(xa, u1, a3);                 \
        b3 = SMLAD(xb, u1, b3);                 \
        LDRD_POST(xa, xb, xp);                  \
    } while (0)

/* Channel c's outputs of both pixels from sums sa, sb. */
static inline void out6_2(const fn_out6_s8 *t, int32_t sa, int32_t sb, int8_t *oa, int8_t *ob)
{
    const fn_out6_s8 tc = *t;
    *oa = fn_out6_s8_one(sa, &tc);
    *ob = fn_out6_s8_one(sb, &tc);
}

/* The full blocks of 4 output channels of a pixel pair (out6, word-aligned filter w, the
 * blocks one after another in memory): 8 half-groups per loop step (unroll8: in_c_pad a
 * multiple of 16) or 2. Returns the channels done (out_c rounded down to a multiple of 4). */
static FN_ALWAYS_INLINE inline int32_t pair_blocks(const int16_t *xw, const int16_t *w, const fn_out6_s8 *t,
                                                   int32_t out_c, int8_t *o0, int8_t *o1, int unroll8)
{
    const int16_t *wp = w;
    int32_t c = 0;
    for (; c + 4 <= out_c; c += 4) {
        const int16_t *xp = xw;
        int32_t a0, a1, a2, a3, b0, b1, b2, b3;
#if BLOCK_ASM
        /* The same loop in one block of assembly: GCC's allocator spills one of the 14 values
         * otherwise. The first half-group multiplies (SMUAD) instead of zeroing the sums, and
         * the loop is entered at its second half-group. */
        int32_t xa, xb, u0, u1;
#define H_FIRST                                                                                \
    "ldrd %[xa], %[xb], [%[xp]], #8\n\t"                                                       \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                                                       \
    "smuad %[a0], %[xa], %[u0]\n\t"                                                            \
    "smuad %[b0], %[xb], %[u0]\n\t"                                                            \
    "smuad %[a1], %[xa], %[u1]\n\t"                                                            \
    "smuad %[b1], %[xb], %[u1]\n\t"                                                            \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                                                       \
    "smuad %[a2], %[xa], %[u0]\n\t"                                                            \
    "smuad %[b2], %[xb], %[u0]\n\t"                                                            \
    "smuad %[a3], %[xa], %[u1]\n\t"                                                            \
    "smuad %[b3], %[xb], %[u1]\n\t"                                                            \
    "ldrd %[xa], %[xb], [%[xp]], #8\n\t"
#define H_NEXT                                                                                 \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                                                       \
    "smlad %[a0], %[xa], %[u0], %[a0]\n\t"                                                     \
    "smlad %[b0], %[xb], %[u0], %[b0]\n\t"                                                     \
    "smlad %[a1], %[xa], %[u1], %[a1]\n\t"                                                     \
    "smlad %[b1], %[xb], %[u1], %[b1]\n\t"                                                     \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                                                       \
    "smlad %[a2], %[xa], %[u0], %[a2]\n\t"                                                     \
    "smlad %[b2], %[xb], %[u0], %[b2]\n\t"                                                     \
    "smlad %[a3], %[xa], %[u1], %[a3]\n\t"                                                     \
    "smlad %[b3], %[xb], %[u1], %[b3]\n\t"                                                     \
    "ldrd %[xa], %[xb], [%[xp]], #8\n\t"
#define H_OPERANDS                                                                             \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), [b1] "=&r"(b1), \
      [b2] "=&r"(b2), [b3] "=&r"(b3), [xa] "=&r"(xa), [xb] "=&r"(xb), [u0] "=&r"(u0), [u1] "=&r"(u1), \
      [xp] "+r"(xp), [wp] "+r"(wp)                                                             \
    :                                                                                          \
    : "cc", "memory"
        if (unroll8) {
            __asm__(H_FIRST "b 1f\n"
                    "0:\n\t" H_NEXT "1:\n\t" H_NEXT H_NEXT H_NEXT H_NEXT H_NEXT H_NEXT H_NEXT
                    "cmp %[xa], #0x80008000\n\t"
                    "bne 0b\n" H_OPERANDS);
        } else {
            __asm__(H_FIRST "b 1f\n"
                    "0:\n\t" H_NEXT "1:\n\t" H_NEXT
                    "cmp %[xa], #0x80008000\n\t"
                    "bne 0b\n" H_OPERANDS);
        }
        (void)u0;
        (void)u1;
        (void)xb;
#undef H_FIRST
#undef H_NEXT
#undef H_OPERANDS
#else
        int32_t xa, xb;
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = 0;
        LDRD_POST(xa, xb, xp);
        if (unroll8) {
            do {
                HALF_S();
                HALF_S();
                HALF_S();
                HALF_S();
                HALF_S();
                HALF_S();
                HALF_S();
                HALF_S();
            } while (xa != SENTINEL);
        } else {
            do {
                HALF_S();
                HALF_S();
            } while (xa != SENTINEL);
        }
#endif
        /* one channel at a time (the barriers keep GCC from interleaving them and spilling) */
        out6_2(&t[c], a0, b0, o0 + c, o1 + c);
        FN_BARRIER();
        out6_2(&t[c + 1], a1, b1, o0 + c + 1, o1 + c + 1);
        FN_BARRIER();
        out6_2(&t[c + 2], a2, b2, o0 + c + 2, o1 + c + 2);
        FN_BARRIER();
        out6_2(&t[c + 3], a3, b3, o0 + c + 3, o1 + c + 3);
    }
    return c;
}
#undef HALF_S

FN_NOINLINE static int32_t pair_blocks8(const int16_t *xw, const int16_t *w, const fn_out6_s8 *t, int32_t out_c,
                                        int8_t *o0, int8_t *o1)
{
    return pair_blocks(xw, w, t, out_c, o0, o1, 1);
}

FN_NOINLINE static int32_t pair_blocks2(const int16_t *xw, const int16_t *w, const fn_out6_s8 *t, int32_t out_c,
                                        int8_t *o0, int8_t *o1)
{
    return pair_blocks(xw, w, t, out_c, o0, o1, 0);
}
#endif

/* Every output channel of the pixel pair widened in xw, written at o0 and o1 (o1 NULL: a last
 * single pixel). */
static FN_ALWAYS_INLINE inline void pair_channels(const pw_ctx *k, const int16_t *xw, int8_t *o0, int8_t *o1,
                                                  int aligned)
{
    const int32_t out_c = k->out_c;
    const int16_t *w = k->filter;
    int32_t c = 0;
#if HAVE_LDRD_POST
    if (aligned && k->out6 && o1 != NULL) {   /* the common case: full blocks, fn_out6_s8 */
        c = k->n8 > 0 ? pair_blocks8(xw, w, k->t, out_c, o0, o1) : pair_blocks2(xw, w, k->t, out_c, o0, o1);
        w += (size_t)(c / 4) * (size_t)k->block_w;
    }
#endif
    for (; c < out_c; c += 4, w += k->block_w) {
        const sums8 s = dot_2x4(xw, w, k->n8, k->n2, aligned);
        finish(k, c, s.a0, s.b0, o0, o1);
        if (c + 1 < out_c) {
            finish(k, c + 1, s.a1, s.b1, o0, o1);
        }
        if (c + 2 < out_c) {
            finish(k, c + 2, s.a2, s.b2, o0, o1);
        }
        if (c + 3 < out_c) {
            finish(k, c + 3, s.a3, s.b3, o0, o1);
        }
    }
}

/* pair_channels for a word-aligned filter (LDRD for the weights) and for any other. */
FN_NOINLINE static void pair_w4(const pw_ctx *k, const int16_t *xw, int8_t *o0, int8_t *o1)
{
    pair_channels(k, xw, o0, o1, 1);
}

FN_NOINLINE static void pair_w2(const pw_ctx *k, const int16_t *xw, int8_t *o0, int8_t *o1)
{
    pair_channels(k, xw, o0, o1, 0);
}

fn_status fn_conv2d_1x1_s8_w16_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                   const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 || p->out_h != p->in_h ||
        p->out_w != p->in_w || p->kernel_h != 1 || p->kernel_w != 1 || p->stride_h != 1 || p->stride_w != 1 ||
        p->dilation_h < 1 || p->dilation_w < 1 || p->pad_top != 0 || p->pad_left != 0 || p->groups != 1 ||
        p->in_c > FN_S8_MAX_DEPTH || p->out_c > FN_S8_MAX_DEPTH || p->filter_offset != NULL ||
        fn_conv2d_1x1_s8_w16_dsp_scratch_size(p) == 0) {
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
    const int32_t in_c = p->in_c, out_c = p->out_c, offset = p->input_offset;
    const int32_t in_c_pad = fn_w16_in_c_pad(in_c);
    int16_t *const xw = (int16_t *)scratch;
    /* the channels' output-stage table after the widened pair */
    fn_out6_s8 *const t = (fn_out6_s8 *)(void *)((uint8_t *)scratch + 4 * (size_t)in_c_pad + 8);
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    pw_ctx k;
    k.filter = filter;
    k.t = t;
    k.f = &f;
    k.stage = &stage;
    k.out_c = out_c;
    k.block_w = 4 * in_c_pad;
    k.n8 = in_c_pad % 16 == 0 ? in_c_pad / 16 : 0;
    k.n2 = in_c_pad % 16 == 0 ? 0 : in_c_pad / 4;
    k.fast = fn_fast_out_s8_init(&f, bias, &p->requant, out_c);
    k.out6 = in_c_pad <= FN_W16_OUT6_DEPTH;
    for (int32_t c = 0; c < out_c; ++c) {
        k.out6 &= fn_out6_s8_init(&t[c], &p->requant, c, bias != NULL ? bias[c] : 0);
    }
    const int aligned = ((uintptr_t)(const void *)filter & 3u) == 0;
    const int32_t full = in_c / 4;
    int32_t px = 0;
    for (; px < n_px; px += 2) {
        const int8_t *a = input + (size_t)px * (size_t)in_c;
        const int8_t *b = px + 1 < n_px ? a + in_c : NULL;
        int32_t g0 = 0;
        if (b != NULL) {
            widen_groups(a, b, full, offset, xw);
            g0 = full;
        }
        widen_tail(a, b, in_c, in_c_pad, offset, g0, xw);
        st2(xw + 2 * in_c_pad, (int32_t)0x80008000u);   /* the sentinel (pair_blocks) */
        st2(xw + 2 * in_c_pad + 2, 0);
        int8_t *o0 = output + (size_t)px * (size_t)out_c;
        int8_t *o1 = b != NULL ? o0 + out_c : NULL;
        if (aligned) {
            pair_w4(&k, xw, o0, o1);
        } else {
            pair_w2(&k, xw, o0, o1);
        }
    }
    return FN_OK;
}
