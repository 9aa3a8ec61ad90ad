/* firmnet runtime: code shared by the binary kernels (popcount, output stage). */
#ifndef FN_BINARY_B1_IMPL_H
#define FN_BINARY_B1_IMPL_H

#include "fn_binary_b1.h"
#include "fn_clamp.h"
#include "fn_dsp.h"   /* FN_ALWAYS_INLINE */

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

/* Carry-save adder of three words: per bit, *high:*low = a + b + c. */
#define FN_B1_CSA(high, low, a, b, c)                    \
    do {                                                 \
        const uint32_t fn_u_ = (a) ^ (b);                \
        (high) = ((a) & (b)) | (fn_u_ & (c));            \
        (low) = fn_u_ ^ (c);                             \
    } while (0)

/* Word i of (a XOR b), through mask where mask is not NULL (bits that must not count). */
#define FN_B1_DIFF(a, b, mask, i) (((a)[i] ^ (b)[i]) & ((mask) != NULL ? (mask)[i] : 0xFFFFFFFFu))

/* popcount((a[i] XOR b[i]) AND mask[i]) summed over n words (mask NULL: all bits). Without a
 * popcount instruction, three words share the SWAR steps after the first two (their 4-bit
 * counts add up to at most 12 per nibble, then 24 per byte). Always inlined (GCC 12 -O2
 * otherwise calls it per output channel; a NULL mask then costs nothing). */
FN_ALWAYS_INLINE static inline int32_t fn_b1_mismatches(const uint32_t *a, const uint32_t *b,
                                                        const uint32_t *mask, int32_t n)
{
    uint32_t count = 0;
    int32_t i = 0;
#if !defined(FN_POPCOUNT_BUILTIN)
    for (; i + 3 <= n; i += 3) {
        uint32_t v0 = FN_B1_DIFF(a, b, mask, i), v1 = FN_B1_DIFF(a, b, mask, i + 1);
        uint32_t v2 = FN_B1_DIFF(a, b, mask, i + 2);
        v0 = v0 - ((v0 >> 1) & 0x55555555u);
        v1 = v1 - ((v1 >> 1) & 0x55555555u);
        v2 = v2 - ((v2 >> 1) & 0x55555555u);
        v0 = (v0 & 0x33333333u) + ((v0 >> 2) & 0x33333333u);
        v1 = (v1 & 0x33333333u) + ((v1 >> 2) & 0x33333333u);
        v2 = (v2 & 0x33333333u) + ((v2 >> 2) & 0x33333333u);
        uint32_t s = v0 + v1 + v2;
        s = (s & 0x0F0F0F0Fu) + ((s >> 4) & 0x0F0F0F0Fu);
        count += (s * 0x01010101u) >> 24;
    }
#endif
    for (; i < n; ++i) {
        count += fn_popcount32(FN_B1_DIFF(a, b, mask, i));
    }
    return (int32_t)count;
}

/* Carry-save adder of three words: per bit, high:low = a + b + c. */
#define FN_B1_CSA(high, low, a, b, c)                    \
    do {                                                 \
        const uint32_t fn_u_ = (a) ^ (b);                \
        (high) = ((a) & (b)) | (fn_u_ & (c));            \
        (low) = fn_u_ ^ (c);                             \
    } while (0)

/* fn_b1_mismatches for long rows (fully connected layers, convolution windows): without a
 * popcount instruction, from 16 words on, blocks of 8 words go through a Harley-Seal
 * carry-save tree (ones, twos and fours carry across blocks, one popcount per block for the
 * eights, three more at the end), the rest as above. */
FN_ALWAYS_INLINE static inline int32_t fn_b1_mismatches_long(const uint32_t *a, const uint32_t *b,
                                                             const uint32_t *mask, int32_t n)
{
    int32_t i = 0;
    uint32_t count = 0;
#if !defined(FN_POPCOUNT_BUILTIN)
    if (n >= 16) {
        uint32_t ones = 0, twos = 0, fours = 0, eights = 0;
        for (; i + 8 <= n; i += 8) {
            uint32_t twos_a, twos_b, fours_a, fours_b, eights_now;
            FN_B1_CSA(twos_a, ones, ones, FN_B1_DIFF(a, b, mask, i), FN_B1_DIFF(a, b, mask, i + 1));
            FN_B1_CSA(twos_b, ones, ones, FN_B1_DIFF(a, b, mask, i + 2), FN_B1_DIFF(a, b, mask, i + 3));
            FN_B1_CSA(fours_a, twos, twos, twos_a, twos_b);
            FN_B1_CSA(twos_a, ones, ones, FN_B1_DIFF(a, b, mask, i + 4), FN_B1_DIFF(a, b, mask, i + 5));
            FN_B1_CSA(twos_b, ones, ones, FN_B1_DIFF(a, b, mask, i + 6), FN_B1_DIFF(a, b, mask, i + 7));
            FN_B1_CSA(fours_b, twos, twos, twos_a, twos_b);
            FN_B1_CSA(eights_now, fours, fours, fours_a, fours_b);
            eights += fn_popcount32(eights_now);
        }
        count = 8u * eights + 4u * fn_popcount32(fours) + 2u * fn_popcount32(twos) + fn_popcount32(ones);
    }
#endif
    return (int32_t)count + fn_b1_mismatches(a + i, b + i, mask != NULL ? mask + i : NULL, n - i);
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

/* The output stage of accumulator acc of channel c (of n) in one output row (pixel):
 * int32 and float are written at once; bits gather in *word, stored when the word is
 * full or c is the last channel (then *word restarts at 0). */
static inline void fn_bout_put(const fn_bout *o, void *row, int32_t c, int32_t n, int32_t acc, uint32_t *word)
{
    if (o->kind == FN_BOUT_INT32) {
        ((int32_t *)row)[c] = acc;
    } else if (o->kind == FN_BOUT_FLOAT) {
        ((float *)row)[c] = fn_clampf((float)acc * o->scale[c] + o->offset[c], o->act_min, o->act_max);
    } else {
        *word |= (uint32_t)(acc >= o->threshold[c]) << (c & 31);
        if ((c & 31) == 31 || c == n - 1) {
            ((uint32_t *)row)[c >> 5] = *word ^ o->flip[c >> 5];
            *word = 0;
        }
    }
}

/* Bytes of one output row of n channels in the form `kind`. */
static inline size_t fn_bout_row_bytes(int32_t kind, int32_t n)
{
    return kind == FN_BOUT_BITS ? (size_t)((n + 31) / 32) * 4u : (size_t)n * 4u;
}

#endif
