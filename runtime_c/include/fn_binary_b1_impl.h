/* firmnet runtime: code shared by the binary kernels (popcount, output stage). */
#ifndef FN_BINARY_B1_IMPL_H
#define FN_BINARY_B1_IMPL_H

#include "fn_binary_b1.h"
#include "fn_clamp.h"
#include "fn_dsp.h"   /* FN_ALWAYS_INLINE */
#include "fn_mve.h"

static inline uint32_t fn_popcount32(uint32_t v)
{
#if defined(FN_POPCOUNT_BUILTIN) && (defined(__GNUC__) || defined(__clang__))
    return (uint32_t)__builtin_popcount(v);
#else
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0Fu;
    return (v * 0x01010101u) >> 24;
#endif
}

/* A constant held in a register (no instruction): GCC and Clang otherwise fold the SWAR
 * masks into AND immediates, which take no shifted operand, and (v >> 1) & mask costs two
 * instructions instead of one AND with the shift in its operand. */
#if defined(__GNUC__) && defined(__arm__)
#define FN_B1_IN_REGISTER(x) __asm__("" : "+r"(x))
#else
#define FN_B1_IN_REGISTER(x) ((void)0)
#endif

/* x0, x1 = p[0], p[1]; p += 2. With Thumb-2, one LDRD with post-increment (GCC 12 does not
 * pair the two loads for the M4 by itself). */
#if defined(__GNUC__) && defined(__thumb2__)
#define FN_B1_LOAD2(x0, x1, p)                                                               \
    __asm__("ldrd %0, %1, [%2], #8" : "=&r"(x0), "=&r"(x1), "+r"(p) : "m"(*(const uint32_t(*)[2])(p)))
#else
#define FN_B1_LOAD2(x0, x1, p) ((x0) = (p)[0], (x1) = (p)[1], (p) += 2)
#endif

/* The 32 bits of v as 8 nibble counts (0..4 each): five instructions on the M4. */
static inline uint32_t fn_b1_nibbles(uint32_t v, uint32_t m1, uint32_t m2)
{
    v -= (v >> 1) & m1;
    return (v & m2) + ((v >> 2) & m2);
}

/* 8 nibble counts (0..15) as 4 byte counts (0..30): three instructions on the M4. */
static inline uint32_t fn_b1_bytes(uint32_t s, uint32_t m4)
{
    return (s & m4) + ((s >> 4) & m4);
}

/* count plus the four bytes of bytes (USADA8 with DSP). */
static inline uint32_t fn_b1_add_bytes(uint32_t count, uint32_t bytes)
{
#if FN_DSP
    return __usada8(bytes, 0u, count);
#else
    bytes = (bytes & 0x00FF00FFu) + ((bytes >> 8) & 0x00FF00FFu);
    return count + ((bytes * 0x00010001u) >> 16);
#endif
}

/* x0, x1 = the next two words of (a XOR b), AND mask where masked; the pointers move past them. */
#define FN_B1_XOR2(x0, x1, a, b, mask, masked)  \
    do {                                         \
        uint32_t fn_y0_, fn_y1_;                 \
        FN_B1_LOAD2(x0, x1, a);                  \
        FN_B1_LOAD2(fn_y0_, fn_y1_, b);          \
        (x0) ^= fn_y0_;                          \
        (x1) ^= fn_y1_;                          \
        if (masked) {                            \
            FN_B1_LOAD2(fn_y0_, fn_y1_, mask);   \
            (x0) &= fn_y0_;                      \
            (x1) &= fn_y1_;                      \
        }                                        \
    } while (0)

/* Six words of (a XOR b) AND mask (masked 0: no mask) as 4 byte counts (0..48 each), the
 * pointers past them: each word to 8 nibble counts (0..4), three words' nibbles added
 * (0..12), one byte step per three words. */
FN_ALWAYS_INLINE static inline uint32_t fn_b1_step6(const uint32_t **pa, const uint32_t **pb, const uint32_t **pmask,
                                                    int masked, uint32_t m1, uint32_t m2, uint32_t m4)
{
    const uint32_t *a = *pa, *b = *pb, *mask = *pmask;
    uint32_t x0, x1, s, t;
    FN_B1_XOR2(x0, x1, a, b, mask, masked);
    s = fn_b1_nibbles(x0, m1, m2) + fn_b1_nibbles(x1, m1, m2);
    FN_B1_XOR2(x0, x1, a, b, mask, masked);
    s += fn_b1_nibbles(x0, m1, m2);
    t = fn_b1_nibbles(x1, m1, m2);
    FN_B1_XOR2(x0, x1, a, b, mask, masked);
    t += fn_b1_nibbles(x0, m1, m2) + fn_b1_nibbles(x1, m1, m2);
    *pa = a;
    *pb = b;
    *pmask = mask;
    return fn_b1_bytes(s, m4) + fn_b1_bytes(t, m4);
}

/* Helium's count, unless __builtin_popcount is asked for. */
#if FN_MVE && !(defined(FN_POPCOUNT_BUILTIN) && (defined(__GNUC__) || defined(__clang__)))
#define FN_B1_MVE 1
#else
#define FN_B1_MVE 0
#endif

#if FN_B1_MVE
/* count plus the popcount of the 128 bits of v: the scalar SWAR on four words at once to
 * byte counts (0..8), which VADDVA.U8 adds up. */
FN_ALWAYS_INLINE static inline uint32_t fn_b1_add_popcount_mve(uint32_t count, uint32x4_t v)
{
    const uint32x4_t m1 = vdupq_n_u32(0x55555555u), m2 = vdupq_n_u32(0x33333333u), m4 = vdupq_n_u32(0x0F0F0F0Fu);
    v = vsubq_u32(v, vandq_u32(vshrq_n_u32(v, 1), m1));
    v = vaddq_u32(vandq_u32(v, m2), vandq_u32(vshrq_n_u32(v, 2), m2));
    v = vandq_u32(vaddq_u32(v, vshrq_n_u32(v, 4)), m4);
    return vaddvaq_u8(count, vreinterpretq_u8_u32(v));
}

/* fn_b1_mismatches with Helium (MVE has no per-lane popcount: VCNT is Neon's), of the
 * window a against the filter at b, and with pair also the one at b + n (each window and mask
 * vector loaded once for both): out[0] (, out[1]). Four words per vector, each vector's byte
 * counts added up at once (VADDVA.U8), which costs what adding nibble counts across vectors
 * first would and needs no grouping; the last n % 4 words in one vector predicated by VCTP
 * (lanes past n load 0, count 0 and are not read). Always inlined: pair and masked are
 * constants of each caller. */
FN_ALWAYS_INLINE static inline void fn_b1_mismatches_mve(const uint32_t *a, const uint32_t *b, const uint32_t *mask,
                                                         int masked, int32_t n, int pair, int32_t *out)
{
    const uint32_t *b1 = b + n;
    uint32_t c0 = 0, c1 = 0;
    for (; n >= 4; n -= 4) {
        const uint32x4_t x = vldrwq_u32(a);
        uint32x4_t v0 = veorq_u32(x, vldrwq_u32(b)), v1 = pair ? veorq_u32(x, vldrwq_u32(b1)) : x;
        if (masked) {
            const uint32x4_t k = vldrwq_u32(mask);
            v0 = vandq_u32(v0, k);
            v1 = vandq_u32(v1, k);
            mask += 4;
        }
        c0 = fn_b1_add_popcount_mve(c0, v0);
        if (pair) {
            c1 = fn_b1_add_popcount_mve(c1, v1);
        }
        a += 4;
        b += 4;
        b1 += 4;
    }
    if (n > 0) {
        const mve_pred16_t p = vctp32q((uint32_t)n);
        const uint32x4_t x = vldrwq_z_u32(a, p);
        uint32x4_t v0 = veorq_u32(x, vldrwq_z_u32(b, p)), v1 = pair ? veorq_u32(x, vldrwq_z_u32(b1, p)) : x;
        if (masked) {
            const uint32x4_t k = vldrwq_z_u32(mask, p);
            v0 = vandq_u32(v0, k);
            v1 = vandq_u32(v1, k);
        }
        c0 = fn_b1_add_popcount_mve(c0, v0);
        if (pair) {
            c1 = fn_b1_add_popcount_mve(c1, v1);
        }
    }
    out[0] = (int32_t)c0;
    if (pair) {
        out[1] = (int32_t)c1;
    }
}
#endif

/* popcount((a XOR b) AND mask) over n words (masked 0: no mask, mask unused). Without a
 * popcount instruction, SWAR in steps of six words (fn_b1_step6); their byte counts
 * accumulate over up to five steps (30 words: 0..240 a byte, and a byte holds 255) and are
 * then added up (USADA8 with DSP); the last n % 6 words go the same way, word by word, into
 * a byte count of their own. Rows under 36 words (one run of steps: conv windows, most fully
 * connected rows) take a path with one accumulator. Always inlined (masked is a constant of
 * each caller). With Helium (MVE), fn_b1_mismatches_mve instead. */
FN_ALWAYS_INLINE static inline int32_t fn_b1_mismatches(const uint32_t *a, const uint32_t *b,
                                                        const uint32_t *mask, int masked, int32_t n)
{
    uint32_t count = 0;
#if defined(FN_POPCOUNT_BUILTIN) && (defined(__GNUC__) || defined(__clang__))
    for (int32_t i = 0; i < n; ++i) {
        count += fn_popcount32(masked ? (a[i] ^ b[i]) & mask[i] : a[i] ^ b[i]);
    }
#elif FN_B1_MVE
    int32_t mve_count;
    fn_b1_mismatches_mve(a, b, mask, masked, n, 0, &mve_count);
    count = (uint32_t)mve_count;
#else
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    FN_B1_IN_REGISTER(m1);
    FN_B1_IN_REGISTER(m2);
    FN_B1_IN_REGISTER(m4);
    const uint32_t *const end6 = a + 6 * (n / 6);
    if (n < 36) {
        uint32_t bytes = 0;
        while (a != end6) {
            bytes += fn_b1_step6(&a, &b, &mask, masked, m1, m2, m4);
        }
        count = fn_b1_add_bytes(0, bytes);
    } else {
        while (a != end6) {
            const uint32_t *const stop = end6 - a > 30 ? a + 30 : end6;
            uint32_t bytes = 0;
            do {
                bytes += fn_b1_step6(&a, &b, &mask, masked, m1, m2, m4);
            } while (a != stop);
            count = fn_b1_add_bytes(count, bytes);
        }
    }
    int32_t rest = n % 6;
    if (rest != 0) {   /* at most 5 words: a group of three, then one or two (0..40 a byte) */
        uint32_t bytes = 0, s;
        if (rest >= 3) {
            s = fn_b1_nibbles(masked ? (a[0] ^ b[0]) & mask[0] : a[0] ^ b[0], m1, m2);
            s += fn_b1_nibbles(masked ? (a[1] ^ b[1]) & mask[1] : a[1] ^ b[1], m1, m2);
            s += fn_b1_nibbles(masked ? (a[2] ^ b[2]) & mask[2] : a[2] ^ b[2], m1, m2);
            bytes = fn_b1_bytes(s, m4);
            a += 3;
            b += 3;
            if (masked) {
                mask += 3;
            }
            rest -= 3;
        }
        if (rest != 0) {
            s = fn_b1_nibbles(masked ? (a[0] ^ b[0]) & mask[0] : a[0] ^ b[0], m1, m2);
            if (rest == 2) {
                s += fn_b1_nibbles(masked ? (a[1] ^ b[1]) & mask[1] : a[1] ^ b[1], m1, m2);
            }
            bytes += fn_b1_bytes(s, m4);
        }
        count = fn_b1_add_bytes(count, bytes);
    }
#endif
    return (int32_t)count;
}

static inline int fn_bout_ok(const fn_bout *o)
{
    switch (o->kind) {
    case FN_BOUT_INT32:
        return 1;
    case FN_BOUT_FLOAT:
        return o->scale != NULL && o->offset != NULL;
    case FN_BOUT_BITS:
        return o->threshold != NULL && o->flip != NULL;
    default:
        return 0;
    }
}

/* The count output channels of one row (pixel) from the n words at a against the filters at
 * weights (n words each): acc = valid - 2 * mismatches, then the output stage. The mismatches
 * over the whole row, through mask where masked; with runs (nruns > 0, masked 0) over the
 * nruns runs of words (first word, words) only. Blocks of 32 channels: first the mismatches
 * (a loop that keeps few values live; with Helium two filters per pass, except over runs), then
 * their outputs (the bits output as one word). */
FN_ALWAYS_INLINE static inline void fn_b1_row_impl(const fn_bout *o, const uint32_t *a, const uint32_t *weights,
                                                   const uint32_t *mask, int masked, const int32_t *runs,
                                                   int32_t nruns, int32_t n, int32_t count, int32_t valid,
                                                   void *row)
{
    int32_t mismatches[32];
    for (int32_t c0 = 0; c0 < count; c0 += 32) {
        const int32_t m = count - c0 < 32 ? count - c0 : 32;
        const uint32_t *b = weights + (size_t)c0 * (size_t)n;
        int32_t j = 0;
#if FN_B1_MVE
        if (nruns == 0) {   /* two filters per pass over the window */
            for (; j + 2 <= m; j += 2) {
                fn_b1_mismatches_mve(a, b, mask, masked, n, 1, mismatches + j);
                b += 2 * n;
            }
        }
#endif
        for (; j < m; ++j) {
            if (nruns == 0) {
                mismatches[j] = fn_b1_mismatches(a, b, mask, masked, n);
            } else {
                int32_t sum = 0;
                for (int32_t r = 0; r < nruns; ++r) {
                    sum += fn_b1_mismatches(a + runs[2 * r], b + runs[2 * r], NULL, 0, runs[2 * r + 1]);
                }
                mismatches[j] = sum;
            }
            b += n;
        }
        if (o->kind == FN_BOUT_BITS) {
            const int32_t *const threshold = o->threshold + c0;
            uint32_t word = 0;
            for (int32_t j = 0; j < m; ++j) {
                word |= (uint32_t)(valid - 2 * mismatches[j] >= threshold[j]) << j;
            }
            ((uint32_t *)row)[c0 >> 5] = word ^ o->flip[c0 >> 5];
        } else if (o->kind == FN_BOUT_FLOAT) {
            const float *const scale = o->scale + c0, *const offset = o->offset + c0;
            float *const y = (float *)row + c0;
            for (int32_t j = 0; j < m; ++j) {
                y[j] = fn_clampf((float)(valid - 2 * mismatches[j]) * scale[j] + offset[j], o->act_min, o->act_max);
            }
        } else {
            int32_t *const y = (int32_t *)row + c0;
            for (int32_t j = 0; j < m; ++j) {
                y[j] = valid - 2 * mismatches[j];
            }
        }
    }
}

/* fn_b1_row_impl over the whole row, through a mask, and over runs of words, out of line: a
 * row's loops keep to few registers (inlined into the kernels, GCC 12 -O2 spills around
 * every output channel). */
FN_NOINLINE_SHARED static void fn_b1_row(const fn_bout *o, const uint32_t *a, const uint32_t *weights, int32_t n,
                                         int32_t count, int32_t valid, void *row)
{
    fn_b1_row_impl(o, a, weights, NULL, 0, NULL, 0, n, count, valid, row);
}

FN_NOINLINE_SHARED static void fn_b1_row_masked(const fn_bout *o, const uint32_t *a, const uint32_t *weights,
                                                const uint32_t *mask, int32_t n, int32_t count, int32_t valid,
                                                void *row)
{
    fn_b1_row_impl(o, a, weights, mask, 1, NULL, 0, n, count, valid, row);
}

FN_NOINLINE_SHARED static void fn_b1_row_runs(const fn_bout *o, const uint32_t *a, const uint32_t *weights,
                                              const int32_t *runs, int32_t nruns, int32_t n, int32_t count,
                                              int32_t valid, void *row)
{
    fn_b1_row_impl(o, a, weights, NULL, 0, runs, nruns, n, count, valid, row);
}

/* Bytes of one output row of n channels in the form `kind`. */
static inline size_t fn_bout_row_bytes(int32_t kind, int32_t n)
{
    return kind == FN_BOUT_BITS ? (size_t)((n + 31) / 32) * 4u : (size_t)n * 4u;
}

#endif
