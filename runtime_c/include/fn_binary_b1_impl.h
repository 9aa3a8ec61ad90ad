/* firmnet runtime: code shared by the binary kernels (popcount, output stage). */
#ifndef FN_BINARY_B1_IMPL_H
#define FN_BINARY_B1_IMPL_H

#include "fn_binary_b1.h"
#include "fn_clamp.h"

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

/* popcount(a[i] XOR b[i]) summed over n words. Without a popcount instruction, three words
 * share the SWAR steps after the first two (their 4-bit counts add up to at most 12 per
 * nibble, then 24 per byte). For the short runs of a convolution's filter rows. */
static inline int32_t fn_b1_mismatches(const uint32_t *a, const uint32_t *b, int32_t n)
{
    uint32_t count = 0;
    int32_t i = 0;
#if !defined(FN_POPCOUNT_BUILTIN)
    for (; i + 3 <= n; i += 3) {
        uint32_t v0 = a[i] ^ b[i], v1 = a[i + 1] ^ b[i + 1], v2 = a[i + 2] ^ b[i + 2];
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
        count += fn_popcount32(a[i] ^ b[i]);
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

/* fn_b1_mismatches for long rows (fully connected layers): without a popcount instruction,
 * blocks of 8 words go through a Harley-Seal carry-save tree (ones, twos and fours carry
 * across blocks, one popcount per block for the eights), the rest as above. */
static inline int32_t fn_b1_mismatches_long(const uint32_t *a, const uint32_t *b, int32_t n)
{
    int32_t i = 0;
    uint32_t count = 0;
#if !defined(FN_POPCOUNT_BUILTIN)
    uint32_t ones = 0, twos = 0, fours = 0, eights = 0;
    for (; i + 8 <= n; i += 8) {
        uint32_t twos_a, twos_b, fours_a, fours_b, eights_now;
        FN_B1_CSA(twos_a, ones, ones, a[i] ^ b[i], a[i + 1] ^ b[i + 1]);
        FN_B1_CSA(twos_b, ones, ones, a[i + 2] ^ b[i + 2], a[i + 3] ^ b[i + 3]);
        FN_B1_CSA(fours_a, twos, twos, twos_a, twos_b);
        FN_B1_CSA(twos_a, ones, ones, a[i + 4] ^ b[i + 4], a[i + 5] ^ b[i + 5]);
        FN_B1_CSA(twos_b, ones, ones, a[i + 6] ^ b[i + 6], a[i + 7] ^ b[i + 7]);
        FN_B1_CSA(fours_b, twos, twos, twos_a, twos_b);
        FN_B1_CSA(eights_now, fours, fours, fours_a, fours_b);
        eights += fn_popcount32(eights_now);
    }
    count = 8u * eights + 4u * fn_popcount32(fours) + 2u * fn_popcount32(twos) + fn_popcount32(ones);
#endif
    return (int32_t)count + fn_b1_mismatches(a + i, b + i, n - i);
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
