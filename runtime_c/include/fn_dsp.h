/* firmnet runtime, internal: helpers of the kernels' DSP paths (Armv7E-M and later with
 * the DSP extension: Cortex-M4, M7, M33, M35P, M55), in ACLE intrinsics of <arm_acle.h>.
 * FN_DSP is 1 where they are available and 0 elsewhere; kernels keep a portable path
 * that gives the same bytes. */
#ifndef FN_DSP_H
#define FN_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP == 1 && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define FN_DSP 1
#else
#define FN_DSP 0
#endif

/* Out of line: keeps a kernel's register allocation small (GCC 12 -O2 spills otherwise).
 * FN_NOINLINE_SHARED: the same for a static function in a header that some of the files
 * including it do not call; FN_MAYBE_UNUSED: such a function, inlined or not as the compiler
 * decides; FN_ALWAYS_INLINE: a header's kernel body that its variants call with constant
 * flags, inlined before the compiler's other passes so that each variant keeps only its own
 * paths. */
#if defined(__GNUC__)
#define FN_NOINLINE __attribute__((noinline))
#define FN_NOINLINE_SHARED __attribute__((noinline, unused))
#define FN_MAYBE_UNUSED __attribute__((unused))
#define FN_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FN_NOINLINE
#define FN_NOINLINE_SHARED
#define FN_MAYBE_UNUSED
#define FN_ALWAYS_INLINE
#endif

/* A compiler barrier for loads, no instruction: GCC 12's first scheduling pass hoists
 * every load of a loop step to its start, which needs more registers than the M4 has
 * (spills in the loop); a barrier keeps a group of loads next to their use. */
#if defined(__GNUC__)
#define FN_BARRIER() __asm__ __volatile__("" ::: "memory")
#else
#define FN_BARRIER() ((void)0)
#endif

#if FN_DSP
/* Four bytes (or two 16-bit values) as one word, from any address (LDR: the M4 and
 * later allow unaligned single-word loads). */
static inline int32_t fn_load4(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* (x1, x3) of the bytes x0..x3 of v, sign-extended to 16 bits: SXTB16 of v rotated right
 * by 8 bits. ACLE has no rotating form and GCC does not fold the rotation into the
 * instruction's ROR #8 operand, so GCC and Clang get the one instruction by inline
 * assembly. */
static inline int32_t fn_sxtb16_ror8(int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
#else
    const uint32_t u = (uint32_t)v;
    return __sxtb16((int32_t)((u >> 8) | (u << 24)));
#endif
}

/* The same plus the 16-bit lanes of a: SXTAB16 of v rotated right by 8 bits. */
static inline int32_t fn_sxtab16_ror8(int32_t a, int32_t v)
{
#if defined(__GNUC__)
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
#else
    const uint32_t u = (uint32_t)v;
    return __sxtab16(a, (int32_t)((u >> 8) | (u << 24)));
#endif
}
#endif

#endif
