/* firmnet runtime: int8 fully connected layer from int16 interleaved weights, 4 output channels
 * per SMLAD block (fn_fc_s8_w16_dsp.h states the layout and the contract). */
#include "fn_fc_s8_w16_dsp.h"

#include <string.h>

#include "fn_dsp.h"
#include "fn_fixedpoint.h"
#include "fn_w16_impl.h"

/* The row x of k inputs + offset into dst (in_pad values): groups of 4 as (x0, x2, x1, x3),
 * the padding inputs 0. */
static void widen_row(const int8_t *x, int32_t k, int32_t offset, int16_t *dst)
{
    const int32_t full = k / 4, rest = k % 4;
#if FN_DSP
    const int32_t off2 = pack2(offset, offset);
    for (int32_t g = 0; g < full; ++g, x += 4, dst += 4) {
        const int32_t w = fn_load4(x);
        st2(dst, __sxtab16(off2, w));
        st2(dst + 2, fn_sxtab16_ror8(off2, w));
    }
#else
    for (int32_t g = 0; g < full; ++g, x += 4, dst += 4) {
        st2(dst, pack2(x[0] + offset, x[2] + offset));
        st2(dst + 2, pack2(x[1] + offset, x[3] + offset));
    }
#endif
    if (rest) {
        int32_t v[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < rest; ++i) {
            v[i] = x[i] + offset;
        }
        st2(dst, pack2(v[0], v[2]));
        st2(dst + 2, pack2(v[1], v[3]));
    }
}

#if FN_DSP && defined(__GNUC__)
/* lo, hi = the words at ptr, ptr += 8 bytes: LDRD with post-increment (ptr word-aligned). The
 * memory clobber orders it after the stores that widened the row. */
#define LDRD_POST(lo, hi, ptr) __asm__("ldrd %0, %1, [%2], #8" : "=r"(lo), "=r"(hi), "+r"(ptr) : : "memory")
#define HAVE_LDRD_POST 1
#else
#define HAVE_LDRD_POST 0
#endif

/* One group of 4 inputs against the block's 4 channels (16 weights): xp += 4, wp += 16. */
#define GROUP_LD2()                                                   \
    do {                                                              \
        const int32_t a0 = ld2(xp), a1 = ld2(xp + 2);                 \
        s0 = SMLAD(a1, ld2(wp + 2), SMLAD(a0, ld2(wp), s0));          \
        s1 = SMLAD(a1, ld2(wp + 6), SMLAD(a0, ld2(wp + 4), s1));      \
        s2 = SMLAD(a1, ld2(wp + 10), SMLAD(a0, ld2(wp + 8), s2));     \
        s3 = SMLAD(a1, ld2(wp + 14), SMLAD(a0, ld2(wp + 12), s3));    \
        xp += 4;                                                      \
        wp += 16;                                                     \
    } while (0)

#if HAVE_LDRD_POST
/* The 4 channels' MACs of one group (the words a0, a1) as one block of assembly: 4 LDRDs of the
 * weights (wp += 32 bytes) and 8 SMLADs, in this order (GCC 12 otherwise moves the pointer
 * between registers inside the unrolled loop). */
#define MACS_ASM_ON(A0, A1)                             \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                 \
    "smlad %[s0], %[" #A0 "], %[u0], %[s0]\n\t"          \
    "smlad %[s0], %[" #A1 "], %[u1], %[s0]\n\t"          \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                 \
    "smlad %[s1], %[" #A0 "], %[u0], %[s1]\n\t"          \
    "smlad %[s1], %[" #A1 "], %[u1], %[s1]\n\t"          \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                 \
    "smlad %[s2], %[" #A0 "], %[u0], %[s2]\n\t"          \
    "smlad %[s2], %[" #A1 "], %[u1], %[s2]\n\t"          \
    "ldrd %[u0], %[u1], [%[wp]], #8\n\t"                 \
    "smlad %[s3], %[" #A0 "], %[u0], %[s3]\n\t"          \
    "smlad %[s3], %[" #A1 "], %[u1], %[s3]\n\t"
#define MACS_ASM MACS_ASM_ON(a0, a1)
#define MACS_OUTS                                                                                  \
    [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [wp] "+r"(wp), [u0] "=&r"(u0),     \
        [u1] "=&r"(u1)

/* Widened mode: one group of 4 widened inputs (LDRD, xp += 8 bytes) against the block's 4 channels. */
#define GROUP_LDRD()                                                                           \
    do {                                                                                       \
        int32_t a0, a1, u0, u1;                                                                \
        __asm__("ldrd %[a0], %[a1], [%[xp]], #8\n\t" MACS_ASM                                  \
                : MACS_OUTS, [xp] "+r"(xp), [a0] "=&r"(a0), [a1] "=&r"(a1)                     \
                :                                                                              \
                : "memory");                                                                   \
    } while (0)
#endif

/* What the blocks of one row share. */
typedef struct {
    const int16_t *x;                  /* widened mode: the widened row (in_pad values) */
    const int8_t *x8;                  /* direct mode: the int8 row */
    int32_t off2;                      /* direct mode: the input offset in both halves */
    int32_t tail0, tail1;              /* direct mode: the last partial group, widened (tail) */
    int tail;                          /* direct mode: in_features % 4 != 0 */
    int32_t n8, n1;                    /* groups of 4 inputs: n8 steps of 8, then n1 of 1 (direct
                                        * mode: the full groups only) */
    const fn_fast_out_s8 *f;           /* the general stage (table 0) */
    int fast;
    const fn_channel_stage_s8 *stage;
} row_ctx;

/* Direct mode: one group of 4 int8 inputs at xp widened in registers (xp += 4). */
#if FN_DSP
#define WIDEN_X(a0, a1)                                    \
    const int32_t x_ = fn_load4(xp);                       \
    const int32_t a0 = __sxtab16(off2, x_), a1 = fn_sxtab16_ror8(off2, x_); \
    xp += 4
#else
#define WIDEN_X(a0, a1)                                                                     \
    const int32_t a0 = pack2(xp[0] + r->off2, xp[2] + r->off2);                             \
    const int32_t a1 = pack2(xp[1] + r->off2, xp[3] + r->off2);                             \
    xp += 4
#endif

/* The block's 4 channels against the words a0, a1 of one group: wp += 16. */
#define MACS_LD2(a0, a1)                                              \
    do {                                                              \
        s0 = SMLAD(a1, ld2(wp + 2), SMLAD(a0, ld2(wp), s0));          \
        s1 = SMLAD(a1, ld2(wp + 6), SMLAD(a0, ld2(wp + 4), s1));      \
        s2 = SMLAD(a1, ld2(wp + 10), SMLAD(a0, ld2(wp + 8), s2));     \
        s3 = SMLAD(a1, ld2(wp + 14), SMLAD(a0, ld2(wp + 12), s3));    \
        wp += 16;                                                     \
    } while (0)

#if HAVE_LDRD_POST
/* The block's 4 channels against the words a0, a1 of one group (the tail). */
#define MACS_LDRD(a0_in, a1_in)                                                               \
    do {                                                                                      \
        int32_t u0, u1;                                                                       \
        const int32_t a0 = (a0_in), a1 = (a1_in);                                             \
        __asm__(MACS_ASM : MACS_OUTS : [a0] "r"(a0), [a1] "r"(a1) : "memory");                \
    } while (0)
/* Direct mode: one group of 4 int8 inputs (LDR, xp += 4 bytes) widened with the offset by
 * SXTAB16 (x0, x2) and SXTAB16 ROR 8 (x1, x3), against the block's 4 channels. */
#define GROUP_DIRECT_LDRD()                                                                   \
    do {                                                                                      \
        int32_t a, a0, a1, u0, u1;                                                            \
        __asm__("ldr %[a], [%[xp]], #4\n\t"                                                   \
                "sxtab16 %[a0], %[off], %[a]\n\t"                                             \
                "sxtab16 %[a1], %[off], %[a], ror #8\n\t" MACS_ASM                            \
                : MACS_OUTS, [xp] "+r"(xp), [a] "=&r"(a), [a0] "=&r"(a0), [a1] "=&r"(a1)      \
                : [off] "r"(off2)                                                             \
                : "memory");                                                                  \
    } while (0)
/* Direct mode, the row word-aligned: two groups (8 int8 inputs: one LDRD, xp += 8 bytes), each
 * widened by two SXTAB16s, against the block's 4 channels: 29 instructions per 32 MACs. */
#define GROUP2_DIRECT_LDRD()                                                                  \
    do {                                                                                      \
        int32_t a, b, a0, b0, u0, u1;                                                         \
        __asm__("ldrd %[a], %[b], [%[xp]], #8\n\t"                                            \
                "sxtab16 %[a0], %[off], %[a]\n\t"                                             \
                "sxtab16 %[a], %[off], %[a], ror #8\n\t" MACS_ASM_ON(a0, a)                   \
                "sxtab16 %[b0], %[off], %[b]\n\t"                                             \
                "sxtab16 %[b], %[off], %[b], ror #8\n\t" MACS_ASM_ON(b0, b)                   \
                : MACS_OUTS, [xp] "+r"(xp), [a] "=&r"(a), [b] "=&r"(b), [a0] "=&r"(a0),        \
                  [b0] "=&r"(b0)                                                              \
                : [off] "r"(off2)                                                             \
                : "memory");                                                                  \
    } while (0)
#endif

#define GROUP_DIRECT_LD2()                   \
    do {                                     \
        WIDEN_X(a0_, a1_);                   \
        MACS_LD2(a0_, a1_);                  \
    } while (0)

/* The 4 sums of one block from its weights w; returns the address past the block's weights
 * (its output-stage table). widened: the row is in the scratch (else read and widened here,
 * group by group); aligned: w (and the widened row) are word-aligned, then LDRDs. Both are
 * constants after inlining. */
static FN_ALWAYS_INLINE inline const int16_t *block_sums(const row_ctx *r, const int16_t *w, int32_t s[4],
                                                         int widened, int aligned)
{
    const int16_t *wp = w;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (!widened) {
        const int8_t *xp = r->x8;
#if FN_DSP
        const int32_t off2 = r->off2;
#endif
#if HAVE_LDRD_POST
        if (aligned) {
            for (int32_t i = r->n8; i > 0; --i) {   /* the row word-aligned (aligned) */
                GROUP2_DIRECT_LDRD();
                GROUP2_DIRECT_LDRD();
                GROUP2_DIRECT_LDRD();
                GROUP2_DIRECT_LDRD();
            }
            for (int32_t i = r->n1; i > 0; --i) {
                GROUP_DIRECT_LDRD();
            }
            if (r->tail) {
                MACS_LDRD(r->tail0, r->tail1);
            }
        }
#endif
        if (!aligned || !HAVE_LDRD_POST) {
            for (int32_t i = 8 * r->n8 + r->n1; i > 0; --i) {
                GROUP_DIRECT_LD2();
            }
            if (r->tail) {
                MACS_LD2(r->tail0, r->tail1);
            }
        }
        s[0] = s0;
        s[1] = s1;
        s[2] = s2;
        s[3] = s3;
        return wp;
    }
    const int16_t *xp = r->x;
#if HAVE_LDRD_POST
    if (aligned) {
        for (int32_t i = r->n8; i > 0; --i) {
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
            GROUP_LDRD();
        }
        for (int32_t i = r->n1; i > 0; --i) {
            GROUP_LDRD();
        }
        s[0] = s0;
        s[1] = s1;
        s[2] = s2;
        s[3] = s3;
        return wp;
    }
#endif
    for (int32_t i = 8 * r->n8 + r->n1; i > 0; --i) {
        GROUP_LD2();
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    return wp;
}

/* Channel j's fn_out6_s8 from the block's table t (int32 values as int16 halves). */
static inline fn_out6_s8 table_entry(const int16_t *t, int32_t j)
{
    fn_out6_s8 o;
    o.bias2 = ld2(t + 8 * j);
    o.multiplier = ld2(t + 8 * j + 2);
    o.addend = ld2(t + 8 * j + 4);
    o.shift = ld2(t + 8 * j + 6);
    return o;
}

/* The 4 outputs of a full block at out from its sums and its table t; returns the address
 * past the table (the next block's weights). aligned: t is word-aligned (LDRDs). */
static FN_ALWAYS_INLINE inline const int16_t *out6_block(const int16_t *t, const int32_t s[4], int8_t *out,
                                                         int aligned)
{
#if HAVE_LDRD_POST
    if (aligned) {
#define OUT6_LDRD(j)                                 \
    do {                                             \
        fn_out6_s8 e_;                               \
        LDRD_POST(e_.bias2, e_.multiplier, t);       \
        LDRD_POST(e_.addend, e_.shift, t);           \
        out[j] = fn_out6_s8_one(s[j], &e_);          \
    } while (0)
        OUT6_LDRD(0);
        OUT6_LDRD(1);
        OUT6_LDRD(2);
        OUT6_LDRD(3);
#undef OUT6_LDRD
        return t;
    }
#endif
    (void)aligned;
    for (int32_t j = 0; j < 4; ++j) {
        const fn_out6_s8 e = table_entry(t, j);
        out[j] = fn_out6_s8_one(s[j], &e);
    }
    return t + 32;
}

/* Every output of one row: n_out outputs at out from the packed weights. */
static FN_ALWAYS_INLINE inline void fc_row(const row_ctx *r, const int16_t *weights, int32_t n_out, int out6,
                                           int8_t *out, int widened, int aligned)
{
    const int16_t *w = weights;
    int32_t o = 0;
    const int32_t full = n_out - n_out % 4;
    if (out6) {   /* the common case */
        for (; o < full; o += 4) {
            int32_t s[4];
            w = out6_block(block_sums(r, w, s, widened, aligned), s, out + o, aligned);
        }
    }
    for (; o < full; o += 4) {
        int32_t s[4];
        w = block_sums(r, w, s, widened, aligned) + 32;
        for (int32_t j = 0; j < 4; ++j) {
            out[o + j] = fn_finish_one_s8(r->f, r->fast, r->stage, o + j, s[j]);
        }
    }
    if (o < n_out) {   /* the last block: its padding channels are computed, not written */
        int32_t s[4];
        const int16_t *t = block_sums(r, w, s, widened, aligned);
        for (int32_t j = 0; o + j < n_out; ++j) {
            if (out6) {
                const fn_out6_s8 e = table_entry(t, j);
                out[o + j] = fn_out6_s8_one(s[j], &e);
            } else {
                out[o + j] = fn_finish_one_s8(r->f, r->fast, r->stage, o + j, s[j]);
            }
        }
    }
}

/* fc_row for each mode: the row widened in the scratch or read directly, word-aligned weights
 * (LDRD) or any. */
FN_NOINLINE static void fc_row_wide_w4(const row_ctx *r, const int16_t *weights, int32_t n_out, int out6,
                                       int8_t *out)
{
    fc_row(r, weights, n_out, out6, out, 1, 1);
}

FN_NOINLINE static void fc_row_wide_w2(const row_ctx *r, const int16_t *weights, int32_t n_out, int out6,
                                       int8_t *out)
{
    fc_row(r, weights, n_out, out6, out, 1, 0);
}

FN_NOINLINE static void fc_row_direct_w4(const row_ctx *r, const int16_t *weights, int32_t n_out, int out6,
                                         int8_t *out)
{
    fc_row(r, weights, n_out, out6, out, 0, 1);
}

FN_NOINLINE static void fc_row_direct_w2(const row_ctx *r, const int16_t *weights, int32_t n_out, int out6,
                                         int8_t *out)
{
    fc_row(r, weights, n_out, out6, out, 0, 0);
}

fn_status fn_fc_s8_w16_dsp(const fn_fc_s8_params *p, const int8_t *input, const int16_t *weights,
                           const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1 || p->in_features > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    const int32_t k = p->in_features, n_out = p->out_features, offset = p->input_offset;
    const int32_t in_pad = fn_fc_w16_in_pad(k);
    /* the table's shift is at least 1 where it holds fn_out6_s8 values, 0 where it is empty */
    const int out6 = in_pad <= FN_FC_W16_OUT6_DEPTH && ld2(weights + 4 * (size_t)in_pad + 6) != 0;
    /* the requantization block is read (and checked: 8 instructions per channel) only without the table */
    if (!fn_input_offset_s8_ok(offset) || (!out6 && !fn_requant_acc_s8_ok(&p->requant, n_out))) {
        return FN_ERR_ARG;
    }
    const int widened = scratch != NULL;
    const int32_t groups = widened ? in_pad / 4 : k / 4;
    int16_t *x = (int16_t *)scratch;
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = out6 ? 0 : fn_fast_out_s8_init(&f, bias, &stage.rq, n_out);   /* f unused with the table */
    row_ctx r;
    r.x = x;
    r.x8 = input;
    r.off2 = pack2(offset, offset);
    r.tail0 = r.tail1 = 0;
    r.tail = !widened && k % 4 != 0;
    r.n8 = groups / 8;
    r.n1 = groups % 8;
    r.f = &f;
    r.fast = fast;
    r.stage = &stage;
    /* LDRDs need word-aligned weights, and a word-aligned scratch (widened) or row (direct) */
    const int aligned = (((uintptr_t)(const void *)weights | (uintptr_t)scratch) & 3u) == 0;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *row = input + (size_t)b * (size_t)k;
        int8_t *out = output + (size_t)b * (size_t)n_out;
        if (widened) {
            widen_row(row, k, offset, x);
            if (aligned) {
                fc_row_wide_w4(&r, weights, n_out, out6, out);
            } else {
                fc_row_wide_w2(&r, weights, n_out, out6, out);
            }
            continue;
        }
        r.x8 = row;
        if (r.tail) {
            int32_t v[4] = {0, 0, 0, 0};
            for (int32_t i = 0; i < k % 4; ++i) {
                v[i] = row[k - k % 4 + i] + offset;
            }
            r.tail0 = pack2(v[0], v[2]);
            r.tail1 = pack2(v[1], v[3]);
        }
        if (aligned && ((uintptr_t)(const void *)row & 3u) == 0) {
            fc_row_direct_w4(&r, weights, n_out, out6, out);
        } else {
            fc_row_direct_w2(&r, weights, n_out, out6, out);
        }
    }
    return FN_OK;
}
