/* firmnet runtime, internal: what the DSP codebook kernels share (fn_fc_s8_codebook_dsp.c,
 * fn_conv2d_s8_codebook_dsp.c; contracts in fn_s8_dsp.h).
 *
 * Indices are pair-ordered (kernels/params_codebook.py pair_ordered): in each group of 4
 * weights w0..w3 of a row the indices of w0, w2, w1, w3, so that a group's first pair index
 * names (w0, w2) and its second (w1, w3), the halves SMLAD multiplies with the SXTB16 input
 * pairs (x0, x2), (x1, x3). The call fills a table in its scratch from the (per-layer)
 * codebook, so that one lookup gives an SMLAD operand:
 *   4-bit indices: a group is 2 bytes, each a pair index (i | j << 4); the pair table holds
 *                  table[i | j << 4] = codebook[i] | codebook[j] << 16 (16-bit halves),
 *                  256 words (1 KB): two byte loads and two table loads per group;
 *   2-bit indices: a group is 1 byte (w0, w2, w1, w3 from the lowest bits); the quad table
 *                  holds for each byte b the two words (pair of b & 15, pair of b >> 4),
 *                  256 x 8 bytes (2 KB): one byte load and one double-word load per group.
 * The table is the codebook expanded, not the weights: its size does not grow with the layer. */
#ifndef FN_CODEBOOK_DSP_IMPL_H
#define FN_CODEBOOK_DSP_IMPL_H

#include "fn_codebook.h"
#include "fn_dsp.h"

/* depth rounded up to a multiple of 4 (rows of pair-ordered indices are padded to it). */
#define FN_CB_DEPTH4(depth) (((depth) + 3) & ~3)

/* Bytes of the lookup table for bits (2 or 4). */
#define FN_CB_TABLE_BYTES(bits) ((size_t)((bits) == 4 ? 1024 : 2048))

/* Position in a row of pair-ordered indices of weight j. */
static inline int32_t fn_cb_pair_position(int32_t j)
{
    const int32_t r = j & 3;
    return (j & ~3) + (r == 1 ? 2 : r == 2 ? 1 : r);
}

#if FN_DSP
/* The table for bits (2 or 4) of the codebook (its first 2^bits entries), in table. */
FN_MAYBE_UNUSED static void fn_cb_fill_table(uint32_t *table, const int8_t *codebook, int32_t bits)
{
    if (bits == 4) {
        for (uint32_t j = 0; j < 16; ++j) {
            const uint32_t hi = (uint32_t)(uint16_t)(int16_t)codebook[j] << 16;
            for (uint32_t i = 0; i < 16; ++i) {
                table[i | (j << 4)] = hi | (uint16_t)(int16_t)codebook[i];
            }
        }
        return;
    }
    uint32_t pairs[16];
    for (uint32_t i = 0; i < 16; ++i) {
        pairs[i] = (uint16_t)(int16_t)codebook[i & 3] | (uint32_t)(uint16_t)(int16_t)codebook[i >> 2] << 16;
    }
    for (uint32_t b = 0; b < 256; ++b) {
        table[2 * b] = pairs[b & 15u];
        table[2 * b + 1] = pairs[b >> 4];
    }
}

/* The two SMLAD operands (w0, w2), (w1, w3) of the group whose indices start at p; bits
 * constant at each call. */
FN_ALWAYS_INLINE static inline void fn_cb_lookup(const uint32_t *t, const uint8_t *p, const int bits, int32_t *e,
                                                 int32_t *o)
{
    if (bits == 4) {
        *e = (int32_t)t[p[0]];
        *o = (int32_t)t[p[1]];
    } else {
        const uint32_t *q = t + 2 * (uint32_t)p[0];
#if defined(__GNUC__)
        /* one LDRD (GCC splits the 64-bit load into two LDRs and an ADD otherwise) */
        __asm__("ldrd %0, %1, [%2]" : "=r"(*e), "=r"(*o) : "r"(q), "m"(*(const uint32_t(*)[2])q));
#else
        *e = (int32_t)q[0];
        *o = (int32_t)q[1];
#endif
    }
}
#endif

#endif
