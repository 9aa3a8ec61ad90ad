/* firmnet runtime: int8 depthwise 2-D convolution, depth multiplier 1, from weights widened
 * to int16 at compile time, for CPUs with the DSP extension (fn_s8_dsp.h states its contract
 * and the weight layout).
 *
 * Blocks of 4 channels outermost (a last block of fewer channels has zero weights in its
 * missing lanes). Per block and output row, the input rows the row reads are widened once
 * into the scratch's ring of row slots as (x0, x2), (x1, x3) + input offset, zeros in the
 * padding (a padded tap adds (x + input_offset) * w = 0, exactly what TFLite's skipped taps
 * add); then the row's outputs are computed two pixels at a time, the block's weight words
 * (2 w0, 2 w2), (2 w1, 2 w3) of a tap loaded once for both pixels, one SMLABB or SMLATT per
 * product. The weights are doubled, so that with the accumulators started at 2 * bias each
 * sum is the x2 = 2 * (bias + sum) of fn_out6_s8 (fn_fixedpoint.h), and its output stage is
 * four instructions per output (SMMLAR, ASR, SSAT, STRB) plus the sign-dependent addend.
 * Every product is 2 * (x + input_offset) * w, exact in 32 bits (|x + off| <= 255,
 * |2 w| <= 256), and the sums are the same integers in any order (fn_conv_s8.h). Where
 * fn_out6_s8 does not apply to a block, the accumulators start at 0 and the general stage
 * gets sum = acc / 2 (exact: acc is even).
 *
 * 3x3 layers with stride_w 1 or 2 whose 4 channels all take fn_out6_s8 run a whole block per
 * call (w16_block_3x3) in GCC inline assembly: the accumulators, the word pairs, the row
 * position and one base register (a frame with the block's weights, output constants, row
 * positions and output pointer) take the 14 registers there are; per pixel pair 27 LDRD and
 * 72 SMLABB/SMLATT, per output 5 instructions and its constants' loads. Every other layer or
 * block runs the C loop (w16_row_taps) over the same ring.
 *
 * Without the DSP extension the C loop runs with portable multiplications of the 16-bit lanes
 * (the same bytes, and the same order of reads and writes, each input row widened at the
 * first output row that needs it: in_place.py's declaration holds on the host build too). */
#include "fn_depthwise_s8_impl.h"
#include "fn_s8_dsp.h"

/* The assembly path: GCC on a CPU with the DSP extension (Clang's ARM backend cannot give one
 * statement 14 registers; it runs the C loop). */
#if FN_DSP && defined(__GNUC__) && !defined(__clang__)
#define W16_ASM 1
#else
#define W16_ASM 0
#endif


#if FN_DSP
#define W16_LO(x, w, acc) __smlabb((x), (w), (acc))
#define W16_HI(x, w, acc) __smlatt((x), (w), (acc))
#else
static inline int32_t w16_lane_lo(int32_t v)
{
    return (int32_t)(((uint32_t)v & 0xFFFFu) ^ 0x8000u) - 0x8000;
}

static inline int32_t w16_lane_hi(int32_t v)
{
    return (int32_t)(((uint32_t)v >> 16) ^ 0x8000u) - 0x8000;
}

#define W16_LO(x, w, acc) ((acc) + w16_lane_lo(x) * w16_lane_lo(w))
#define W16_HI(x, w, acc) ((acc) + w16_lane_hi(x) * w16_lane_hi(w))
#endif

/* One block of channels oc .. oc + lanes - 1 (lanes <= 4). */
typedef struct {
    const int32_t *w;           /* widened doubled weights: 2 words per tap */
    int32_t init[FN_DW_S8_BLOCK];     /* accumulator start: 2 * bias (out6) or 0 */
    fn_out6_s8 o6[FN_DW_S8_BLOCK];
    int out6;                   /* fn_out6_s8 applies to every lane */
    int32_t oc, lanes;
    const fn_channel_stage_s8 *stage;
    struct w16_frame3_s *frame;       /* w16_block_3x3's frame */
} w16_block;

/* The memory operands of w16_block_3x3's assembly, at fixed offsets from one base register:
 * the block's 18 weight words, the three rows' read positions of the next pixel, the 4
 * channels' fn_out6_s8 constants, the output pointer and step. */
typedef struct w16_frame3_s {
    int32_t w[18];              /* byte 0 */
    const int32_t *rp[3];       /* byte 72 */
    int32_t init[FN_DW_S8_BLOCK];     /* byte 84: the accumulators' start, 2 * bias */
    int32_t out6[FN_DW_S8_BLOCK][3];  /* byte 100: multiplier, addend, shift per channel */
    int8_t *out;                /* byte 148: the next output (the pair's first pixel) */
    int32_t step;               /* byte 152: bytes between two pixels' outputs (in_c) */
} w16_frame3;

#if W16_ASM
/* the assembly's offsets */
typedef char w16_frame3_layout[offsetof(w16_frame3, rp) == 72 && offsetof(w16_frame3, init) == 84 &&
                               offsetof(w16_frame3, out6) == 100 &&
                               offsetof(w16_frame3, out) == 148 && offsetof(w16_frame3, step) == 152 &&
                               sizeof(const int32_t *) == 4 ? 1 : -1];
#endif

/* One tap for pixel a (words xp[0], xp[1]) and, if two, pixel b (yp[0], yp[1]); weights wp. */
#define W16_TAP(xp, wp)                                                         \
    do {                                                                        \
        const int32_t we_ = (wp)[0], wo_ = (wp)[1];                             \
        const int32_t xe_ = (xp)[0], xo_ = (xp)[1];                             \
        a0 = W16_LO(xe_, we_, a0);                                              \
        a2 = W16_HI(xe_, we_, a2);                                              \
        a1 = W16_LO(xo_, wo_, a1);                                              \
        a3 = W16_HI(xo_, wo_, a3);                                              \
        FN_BARRIER();                                                           \
    } while (0)

#define W16_TAP2(xp, yp, wp)                                                    \
    do {                                                                        \
        const int32_t we_ = (wp)[0], wo_ = (wp)[1];                             \
        const int32_t xe_ = (xp)[0], xo_ = (xp)[1];                             \
        a0 = W16_LO(xe_, we_, a0);                                              \
        a2 = W16_HI(xe_, we_, a2);                                              \
        a1 = W16_LO(xo_, wo_, a1);                                              \
        a3 = W16_HI(xo_, wo_, a3);                                              \
        const int32_t ye_ = (yp)[0], yo_ = (yp)[1];                             \
        b0 = W16_LO(ye_, we_, b0);                                              \
        b2 = W16_HI(ye_, we_, b2);                                              \
        b1 = W16_LO(yo_, wo_, b1);                                              \
        b3 = W16_HI(yo_, wo_, b3);                                              \
        FN_BARRIER();                                                           \
    } while (0)

/* fn_out6_s8_one on x2 = acc (the bias and the doubling are in the accumulator). */
static inline int8_t w16_out6(int32_t acc, int32_t multiplier, int32_t addend, int32_t shift)
{
    return fn_sat8(fn_smmlar(acc, multiplier, addend + (acc >> 31)) >> shift);
}

/* The block's outputs of one pixel through the general stage (acc = 2 * sum). */
FN_NOINLINE static void w16_out_general(const w16_block *k, const int32_t acc[], int8_t *out)
{
    for (int32_t l = 0; l < k->lanes; ++l) {
        out[l] = fn_finish_channel_s8(k->stage, k->oc + l, acc[l] / 2);
    }
}

/* The block's outputs of one pixel (out) from its accumulators. */
static inline void w16_out1(const w16_block *k, int32_t a0, int32_t a1, int32_t a2, int32_t a3, int8_t *out)
{
    if (k->out6 && k->lanes == FN_DW_S8_BLOCK) {
        const fn_out6_s8 *const o = k->o6;
        const int8_t r0 = w16_out6(a0, o[0].multiplier, o[0].addend, o[0].shift);
        const int8_t r1 = w16_out6(a1, o[1].multiplier, o[1].addend, o[1].shift);
        const int8_t r2 = w16_out6(a2, o[2].multiplier, o[2].addend, o[2].shift);
        const int8_t r3 = w16_out6(a3, o[3].multiplier, o[3].addend, o[3].shift);
        out[0] = r0;
        out[1] = r1;
        out[2] = r2;
        out[3] = r3;
        return;
    }
    const int32_t acc[FN_DW_S8_BLOCK] = {a0, a1, a2, a3};
    w16_out_general(k, acc, out);
}

/* One channel's outputs of two pixels. */
#define W16_OUT2(l, a, b)                                                         \
    do {                                                                          \
        const int32_t m_ = o[l].multiplier, ad_ = o[l].addend, sh_ = o[l].shift;  \
        const int8_t ra_ = w16_out6((a), m_, ad_, sh_);                           \
        const int8_t rb_ = w16_out6((b), m_, ad_, sh_);                           \
        out[(l)] = ra_;                                                           \
        out[out_step + (l)] = rb_;                                                \
    } while (0)

/* The block's outputs of two pixels (out, out + out_step). */
static inline void w16_out2(const w16_block *k, int32_t a0, int32_t a1, int32_t a2, int32_t a3, int32_t b0,
                            int32_t b1, int32_t b2, int32_t b3, int8_t *out, size_t out_step)
{
    if (k->out6 && k->lanes == FN_DW_S8_BLOCK) {
        const fn_out6_s8 *const o = k->o6;
        W16_OUT2(0, a0, b0);
        W16_OUT2(1, a1, b1);
        W16_OUT2(2, a2, b2);
        W16_OUT2(3, a3, b3);
        return;
    }
    const int32_t acc[FN_DW_S8_BLOCK] = {a0, a1, a2, a3};
    const int32_t bcc[FN_DW_S8_BLOCK] = {b0, b1, b2, b3};
    w16_out_general(k, acc, out);
    w16_out_general(k, bcc, out + out_step);
}

#if W16_ASM
/* One tap of the 3x3 pair loop: weight words at WOFF bytes from the frame, pixel a's input
 * words at XA bytes from the row position, pixel b's at XB. */
#define W16_ASM_TAP(WOFF, XA, XB)                                               \
    "ldrd %[we], %[wo], [%[f], #" #WOFF "]\n\t"                              \
    "ldrd %[xe], %[xo], [%[rp], #" #XA "]\n\t"                               \
    "smlabb %[a0], %[xe], %[we], %[a0]\n\t"                                  \
    "smlatt %[a2], %[xe], %[we], %[a2]\n\t"                                  \
    "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"                                  \
    "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"                                  \
    "ldrd %[xe], %[xo], [%[rp], #" #XB "]\n\t"                               \
    "smlabb %[b0], %[xe], %[we], %[b0]\n\t"                                  \
    "smlatt %[b2], %[xe], %[we], %[b2]\n\t"                                  \
    "smlabb %[b1], %[xo], %[wo], %[b1]\n\t"                                  \
    "smlatt %[b3], %[xo], %[wo], %[b3]\n\t"

/* The pair's first tap: pixel b's products first, added to the start values still in a0..a3
 * (b0..b3 need no copy), then pixel a's. */
#define W16_ASM_TAP_FIRST(WOFF, XA, XB)                                         \
    "ldrd %[we], %[wo], [%[f], #" #WOFF "]\n\t"                              \
    "ldrd %[xe], %[xo], [%[rp], #" #XB "]\n\t"                               \
    "smlabb %[b0], %[xe], %[we], %[a0]\n\t"                                  \
    "smlatt %[b2], %[xe], %[we], %[a2]\n\t"                                  \
    "smlabb %[b1], %[xo], %[wo], %[a1]\n\t"                                  \
    "smlatt %[b3], %[xo], %[wo], %[a3]\n\t"                                  \
    "ldrd %[xe], %[xo], [%[rp], #" #XA "]\n\t"                               \
    "smlabb %[a0], %[xe], %[we], %[a0]\n\t"                                  \
    "smlatt %[a2], %[xe], %[we], %[a2]\n\t"                                  \
    "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"                                  \
    "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"
#define W16_ASM_ROW_FIRST(POFF, W0, W1, W2, X0, X1, X2, Y0, Y1, Y2, STEP)       \
    "ldr %[rp], [%[f], #" #POFF "]\n\t"                                      \
    W16_ASM_TAP_FIRST(W0, X0, Y0) W16_ASM_TAP(W1, X1, Y1) W16_ASM_TAP(W2, X2, Y2) \
    "add %[rp], %[rp], #" #STEP "\n\t"                                       \
    "str %[rp], [%[f], #" #POFF "]\n\t"

/* Filter row r of the pair loop: its row position (frame offset POFF) loaded, three taps,
 * the position advanced by STEP bytes (the next pair) and stored back. */
#define W16_ASM_ROW(POFF, W0, W1, W2, X0, X1, X2, Y0, Y1, Y2, STEP)             \
    "ldr %[rp], [%[f], #" #POFF "]\n\t"                                      \
    W16_ASM_TAP(W0, X0, Y0) W16_ASM_TAP(W1, X1, Y1) W16_ASM_TAP(W2, X2, Y2)      \
    "add %[rp], %[rp], #" #STEP "\n\t"                                       \
    "str %[rp], [%[f], #" #POFF "]\n\t"

/* fn_out6_s8 for channel l's accumulators A (and B) with its constants at byte OFF of the
 * frame (bias2 is in the accumulators already). */
#define W16_ASM_OUT1(A, OFF_M, OFF_S)                                           \
    "ldrd %[we], %[wo], [%[f], #" #OFF_M "]\n\t"                             \
    "ldr %[xe], [%[f], #" #OFF_S "]\n\t"                                     \
    "add %[xo], %[wo], %[" #A "], asr #31\n\t"                               \
    "smmlar %[" #A "], %[" #A "], %[we], %[xo]\n\t"                          \
    "asr %[" #A "], %[" #A "], %[xe]\n\t"                                    \
    "ssat %[" #A "], #8, %[" #A "]\n\t"
#define W16_ASM_OUT2(A, B, OFF_M, OFF_S)                                        \
    W16_ASM_OUT1(A, OFF_M, OFF_S)                                               \
    "add %[xo], %[wo], %[" #B "], asr #31\n\t"                               \
    "smmlar %[" #B "], %[" #B "], %[we], %[xo]\n\t"                          \
    "asr %[" #B "], %[" #B "], %[xe]\n\t"                                    \
    "ssat %[" #B "], #8, %[" #B "]\n\t"

/* The accumulators (pixel a's; b's start from them in the first tap) started at bias2. */
#define W16_ASM_INIT1                                                           \
    "ldrd %[a0], %[a1], [%[f], #84]\n\t"                                     \
    "ldrd %[a2], %[a3], [%[f], #92]\n\t"

/* A whole pixel pair with the fn_out6_s8 stage: init, the 72 products (STRIDE 1 or 2), the
 * 8 outputs stored at f->out and f->out + f->step, f->out advanced by 2 f->step. */
#define W16_ASM_STORE2                                                          \
    W16_ASM_OUT2(a0, b0, 100, 108) W16_ASM_OUT2(a1, b1, 112, 120)               \
    W16_ASM_OUT2(a2, b2, 124, 132) W16_ASM_OUT2(a3, b3, 136, 144)               \
    "ldr %[rp], [%[f], #148]\n\t"                                            \
    "ldr %[xe], [%[f], #152]\n\t"                                            \
    "strb %[a0], [%[rp], #0]\n\t"                                            \
    "strb %[a1], [%[rp], #1]\n\t"                                            \
    "strb %[a2], [%[rp], #2]\n\t"                                            \
    "strb %[a3], [%[rp], #3]\n\t"                                            \
    "add %[rp], %[rp], %[xe]\n\t"                                            \
    "strb %[b0], [%[rp], #0]\n\t"                                            \
    "strb %[b1], [%[rp], #1]\n\t"                                            \
    "strb %[b2], [%[rp], #2]\n\t"                                            \
    "strb %[b3], [%[rp], #3]\n\t"                                            \
    "add %[rp], %[rp], %[xe]\n\t"                                            \
    "str %[rp], [%[f], #148]\n\t"
#define W16_ASM_OPERANDS_OUT                                                    \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0), \
      [b1] "=&r"(b1), [b2] "=&r"(b2), [b3] "=&r"(b3), [we] "=&r"(we), [wo] "=&r"(wo), \
      [xe] "=&r"(xe), [xo] "=&r"(xo), [rp] "=&r"(rp)                            \
    : [f] "r"(f)                                                                \
    : "memory"
#define W16_PAIR3_OUT_S1                                                        \
    __asm__ __volatile__(                                                       \
        W16_ASM_INIT1                                                           \
        W16_ASM_ROW_FIRST(72, 0, 8, 16, 0, 8, 16, 8, 16, 24, 16)                      \
        W16_ASM_ROW(76, 24, 32, 40, 0, 8, 16, 8, 16, 24, 16)                    \
        W16_ASM_ROW(80, 48, 56, 64, 0, 8, 16, 8, 16, 24, 16)                    \
        W16_ASM_STORE2 W16_ASM_OPERANDS_OUT)
#define W16_PAIR3_OUT_S2                                                        \
    __asm__ __volatile__(                                                       \
        W16_ASM_INIT1                                                           \
        W16_ASM_ROW_FIRST(72, 0, 8, 16, 0, 8, 16, 16, 24, 32, 32)                     \
        W16_ASM_ROW(76, 24, 32, 40, 0, 8, 16, 16, 24, 32, 32)                   \
        W16_ASM_ROW(80, 48, 56, 64, 0, 8, 16, 16, 24, 32, 32)                   \
        W16_ASM_STORE2 W16_ASM_OPERANDS_OUT)

/* One pixel (the row's last, at f->rp) with the fn_out6_s8 stage; f->rp is not advanced. */
#define W16_ASM_TAP1(WOFF, XA)                                                  \
    "ldrd %[we], %[wo], [%[f], #" #WOFF "]\n\t"                              \
    "ldrd %[xe], %[xo], [%[rp], #" #XA "]\n\t"                               \
    "smlabb %[a0], %[xe], %[we], %[a0]\n\t"                                  \
    "smlatt %[a2], %[xe], %[we], %[a2]\n\t"                                  \
    "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"                                  \
    "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"
#define W16_ASM_ROW1(POFF, W0, W1, W2)                                          \
    "ldr %[rp], [%[f], #" #POFF "]\n\t"                                      \
    W16_ASM_TAP1(W0, 0) W16_ASM_TAP1(W1, 8) W16_ASM_TAP1(W2, 16)
#define W16_ONE3_OUT                                                            \
    __asm__ __volatile__(                                                       \
        W16_ASM_INIT1                                                           \
        W16_ASM_ROW1(72, 0, 8, 16) W16_ASM_ROW1(76, 24, 32, 40) W16_ASM_ROW1(80, 48, 56, 64) \
        W16_ASM_OUT1(a0, 100, 108) W16_ASM_OUT1(a1, 112, 120)                   \
        W16_ASM_OUT1(a2, 124, 132) W16_ASM_OUT1(a3, 136, 144)                   \
        "ldr %[rp], [%[f], #148]\n\t"                                        \
        "strb %[a0], [%[rp], #0]\n\t"                                        \
        "strb %[a1], [%[rp], #1]\n\t"                                        \
        "strb %[a2], [%[rp], #2]\n\t"                                        \
        "strb %[a3], [%[rp], #3]\n\t"                                        \
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [we] "=&r"(we), \
          [wo] "=&r"(wo), [xe] "=&r"(xe), [xo] "=&r"(xo), [rp] "=&r"(rp)        \
        : [f] "r"(f)                                                            \
        : "memory")
#endif

/* The C loop (every layer off the assembly path): any kernel of at most FN_DW_ROWS_K x
 * FN_DW_ROWS_K taps and any stride_w, two pixels at a time; filter row r reads rows[r], tap
 * (r, kx) the words at column offset col[kx]. */
FN_NOINLINE static void w16_row_taps(const w16_block *k, const int32_t *const rows[], const size_t *col,
                                     int32_t kernel_h, int32_t kernel_w, int32_t stride_w, int32_t n, int8_t *out,
                                     size_t out_step)
{
    const size_t s = 2 * (size_t)stride_w;
    size_t xi = 0, oi = 0;
    int32_t i = 0;
    for (; i + 2 <= n; i += 2, xi += 2 * s, oi += 2 * out_step) {
        int32_t a0 = k->init[0], a1 = k->init[1], a2 = k->init[2], a3 = k->init[3];
        int32_t b0 = a0, b1 = a1, b2 = a2, b3 = a3;
        const int32_t *w = k->w;
        for (int32_t r = 0; r < kernel_h; ++r) {
            const int32_t *const x = rows[r] + xi;
            for (int32_t c = 0; c < kernel_w; ++c, w += 2) {
                W16_TAP2(x + col[c], x + col[c] + s, w);
            }
        }
        w16_out2(k, a0, a1, a2, a3, b0, b1, b2, b3, out + oi, out_step);
    }
    if (i < n) {
        int32_t a0 = k->init[0], a1 = k->init[1], a2 = k->init[2], a3 = k->init[3];
        const int32_t *w = k->w;
        for (int32_t r = 0; r < kernel_h; ++r) {
            const int32_t *const x = rows[r] + xi;
            for (int32_t c = 0; c < kernel_w; ++c, w += 2) {
                W16_TAP(x + col[c], w);
            }
        }
        w16_out1(k, a0, a1, a2, a3, out + oi);
    }
}

/* How one input row is widened into a row slot. */
typedef struct {
    int32_t span_w;             /* slot columns */
    int32_t x_lo, x_hi;         /* slot columns j in [x_lo, x_hi) hold input column j - pad_left */
    int32_t pad_left, lanes;
    size_t in_c;
    int32_t input_offset;
} w16_geo;

/* The words (x0, x2), (x1, x3) + input_offset of the lanes at x (missing lanes 0). */
static void w16_widen_lanes(const int8_t *x, int32_t lanes, int32_t input_offset, int32_t *even, int32_t *odd)
{
    uint32_t v[FN_DW_S8_BLOCK] = {0, 0, 0, 0};
    for (int32_t l = 0; l < lanes; ++l) {
        v[l] = (uint32_t)((int32_t)x[l] + input_offset) & 0xFFFFu;
    }
    *even = (int32_t)(v[0] | (v[2] << 16));
    *odd = (int32_t)(v[1] | (v[3] << 16));
}

/* Slot row from the input row xr (the block's channels; NULL: a row of the padding). */
static void w16_fill(int32_t *row, const int8_t *xr, const w16_geo *g)
{
    const int32_t x_lo = g->x_lo, x_hi = g->x_hi, span_w = g->span_w;
    const size_t in_c = g->in_c;
    int32_t j = 0;
    if (xr != NULL) {
        for (; j < x_lo; ++j) {
            row[2 * j] = 0;
            row[2 * j + 1] = 0;
        }
        const int8_t *x = xr + (size_t)(x_lo - g->pad_left) * in_c;
#if FN_DSP
        if (g->lanes == FN_DW_S8_BLOCK) {
            const int32_t off2 = (int32_t)(((uint32_t)g->input_offset & 0xFFFFu) * 0x00010001u);
            for (; j < x_hi; ++j, x += in_c) {
                const int32_t xv = fn_load4(x);
                row[2 * j] = __sxtab16(off2, xv);
                row[2 * j + 1] = fn_sxtab16_ror8(off2, xv);
            }
        }
#endif
        for (; j < x_hi; ++j, x += in_c) {
            w16_widen_lanes(x, g->lanes, g->input_offset, &row[2 * j], &row[2 * j + 1]);
        }
    }
    for (; j < span_w; ++j) {
        row[2 * j] = 0;
        row[2 * j + 1] = 0;
    }
}

#if W16_ASM
/* The templates of a pixel pair's assembly statement are longer than the 4,095 characters
 * C99 guarantees for a string literal (GCC and Clang take them; -Wpedantic says so). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
/* A whole block of 4 channels of one batch item on the assembly path (3x3, dilation 1,
 * stride_w 1 or 2, fn_out6_s8 for all 4 channels; f holds the block's weights and output
 * constants): per output row its new padded input rows widened into the ring (3 slots of
 * 2 * span_w words at ring, padded row q in slot q % 3), then its pixel pairs and a last
 * pixel; the row bookkeeping of the general loop kept to a few instructions. */
FN_NOINLINE static void w16_block_3x3(w16_frame3 *f, const w16_geo *g, const fn_depthwise_conv2d_s8_params *p,
                                      const int8_t *in_b, int8_t *out, int32_t *ring)
{
    const int32_t out_h = p->out_h, out_w = p->out_w, stride_h = p->stride_h, in_h = p->in_h;
    const int32_t pad_top = p->pad_top, span_w = g->span_w, x_lo = g->x_lo, x_hi = g->x_hi;
    const size_t in_c = (size_t)p->in_c, in_row = (size_t)p->in_w * in_c;
    const size_t row_words = 2 * (size_t)span_w, out_row = (size_t)out_w * in_c;
    const int32_t off2 = (int32_t)(((uint32_t)g->input_offset & 0xFFFFu) * 0x00010001u);
    const int8_t *const x_first = in_b + (size_t)(x_lo - g->pad_left) * in_c;
    int32_t *const slot[5] = {ring, ring + row_words, ring + 2 * row_words, ring, ring + row_words};
    const int two = p->stride_w == 2;
    f->step = (int32_t)in_c;
    int32_t next = 0, ns = 0;       /* the next padded row to widen, its slot */
    int32_t base = 0;               /* the slot of the output row's first padded row */
    /* the padding columns of every slot stay zero (the caller zeroed the ring; every fill
     * writes the input columns only) */
    const int32_t n_in = x_hi - x_lo;  /* the input columns of a row */
    for (int32_t oy = 0; oy < out_h; ++oy, out += out_row) {
        const int32_t q0 = oy * stride_h;
        if (next < q0) {            /* stride_h > 3: rows no window reads */
            next = q0;
            ns = q0 % 3;
        }
        for (; next < q0 + 3; ++next) {
            int32_t *q = slot[ns] + 2 * x_lo;
            ns = ns == 2 ? 0 : ns + 1;
            const int32_t iy = next - pad_top;
            if (n_in <= 0) {
                continue;
            }
            if (iy < 0 || iy >= in_h) {
                for (int32_t j = 0; j < 2 * n_in; ++j) {
                    q[j] = 0;
                }
                continue;
            }
            /* LDR, SXTAB16 twice, STRD with writeback: 7 instructions a column */
            const int8_t *x = x_first + (size_t)iy * in_row;
            int32_t j = n_in, t, e, o;
            __asm__ __volatile__(
                "1:\n\t"
                "ldr %[t], [%[x]]\n\t"
                "add %[x], %[x], %[in_c]\n\t"
                "sxtab16 %[e], %[off2], %[t]\n\t"
                "sxtab16 %[o], %[off2], %[t], ror #8\n\t"
                "strd %[e], %[o], [%[q]], #8\n\t"
                "subs %[j], %[j], #1\n\t"
                "bne 1b\n\t"
                : [t] "=&r"(t), [e] "=&r"(e), [o] "=&r"(o), [x] "+r"(x), [q] "+r"(q), [j] "+r"(j)
                : [in_c] "r"(in_c), [off2] "r"(off2)
                : "cc", "memory");
        }
        f->rp[0] = slot[base];
        f->rp[1] = slot[base + 1];
        f->rp[2] = slot[base + 2];
        f->out = out;
        base += stride_h % 3;
        base -= base >= 3 ? 3 : 0;
        int32_t a0, a1, a2, a3, b0, b1, b2, b3, we, wo, xe, xo;
        const int32_t *rp;
        int32_t i = out_w;
        if (two) {
            for (; i >= 2; i -= 2) {
                W16_PAIR3_OUT_S2;
            }
        } else {
            for (; i >= 2; i -= 2) {
                W16_PAIR3_OUT_S1;
            }
        }
        if (i > 0) {
            W16_ONE3_OUT;
        }
        (void)a0;
        (void)a1;
        (void)a2;
        (void)a3;
        (void)b0;
        (void)b1;
        (void)b2;
        (void)b3;
        (void)we;
        (void)wo;
        (void)xe;
        (void)xo;
        (void)rp;
    }
}
#pragma GCC diagnostic pop
#endif

/* The block of channels oc .. oc + lanes - 1: its weights and output stage. */
static void w16_block_load(w16_block *k, const int32_t *filter, size_t taps, int32_t oc, int32_t lanes,
                           const fn_channel_stage_s8 *stage)
{
    k->w = filter + 2 * taps * (size_t)(oc / FN_DW_S8_BLOCK);
    k->oc = oc;
    k->lanes = lanes;
    k->stage = stage;
    /* fn_out6_s8 needs sums below 2^29: taps <= FN_DW_ROWS_K^2 products of |x| <= 255, |w| <= 128 */
    int ok = lanes == FN_DW_S8_BLOCK;
    for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
        const int32_t c = oc + (l < lanes ? l : 0);
        const int32_t bias = stage->bias != NULL ? stage->bias[c] : 0;
        ok &= fn_out6_s8_init(&k->o6[l], &stage->rq, c, bias);
    }
    k->out6 = ok;
    for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
        k->init[l] = ok ? k->o6[l].bias2 : 0;
    }
}

fn_status fn_depthwise_conv2d_s8_w16_dsp(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                         const int32_t *filter, const int32_t *bias, int8_t *output,
                                         void *scratch)
{
    if (!fn_dw_s8_args_ok(p, input, (const int8_t *)filter, output) || scratch == NULL ||
        fn_depthwise_conv2d_s8_w16_dsp_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    stage.bias = bias;
    stage.rq = p->requant;
    const int32_t span_w = fn_dw_rows_span_w(p);
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t pad_left = p->pad_left;
    const size_t in_row = (size_t)in_w * (size_t)in_c;
    const size_t in_image = in_row * (size_t)in_h;
    const size_t taps = (size_t)kernel_h * (size_t)kernel_w;
    const size_t row_words = 2 * (size_t)span_w;
    /* the ring: padded input row q (input row q - pad_top, zeros outside the input) lives in
     * slot q % kernel_h; slot_at[j] = slot j % kernel_h, so that the window of padded rows
     * q0 .. q0 + kernel_h - 1 is slot_at + q0 % kernel_h */
    const int32_t *slot_at[2 * FN_DW_ROWS_K];
    size_t col[FN_DW_ROWS_K];
    for (int32_t kx = 0; kx < kernel_w; ++kx) {
        col[kx] = 2 * (size_t)kx * (size_t)p->dilation_w;
    }
    for (int32_t j = 0; j < 2 * kernel_h; ++j) {
        slot_at[j] = (const int32_t *)scratch + (size_t)(j % kernel_h) * row_words;
    }
    const int three = kernel_h == 3 && kernel_w == 3 && p->dilation_w == 1;
    w16_geo geo;
    geo.span_w = span_w;
    geo.x_lo = pad_left < span_w ? pad_left : span_w;
    geo.x_hi = pad_left + in_w < span_w ? pad_left + in_w : span_w;
    geo.pad_left = pad_left;
    geo.in_c = (size_t)in_c;
    geo.input_offset = p->input_offset;
    memset(scratch, 0, fn_depthwise_conv2d_s8_w16_dsp_scratch_size(p));   /* w16_block_3x3's padding columns */
    w16_block k;
    w16_frame3 frame;
    k.frame = &frame;
    for (int32_t oc = 0; oc < in_c; oc += FN_DW_S8_BLOCK) {
        const int32_t lanes = in_c - oc < FN_DW_S8_BLOCK ? in_c - oc : FN_DW_S8_BLOCK;
        w16_block_load(&k, filter, taps, oc, lanes, &stage);
        if (three) {
            memcpy(frame.w, k.w, sizeof frame.w);
            for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                frame.init[l] = k.o6[l].bias2;
                frame.out6[l][0] = k.o6[l].multiplier;
                frame.out6[l][1] = k.o6[l].addend;
                frame.out6[l][2] = k.o6[l].shift;
            }
        }
        geo.lanes = lanes;
        size_t o = (size_t)oc;
#if W16_ASM
        if (three && (stride_w == 1 || stride_w == 2) && k.out6 && lanes == FN_DW_S8_BLOCK) {
            for (int32_t b = 0; b < p->batch; ++b) {
                w16_block_3x3(&frame, &geo, p, input + (size_t)b * in_image + oc,
                              output + o + (size_t)b * (size_t)out_h * (size_t)out_w * (size_t)in_c, (int32_t *)scratch);
            }
            continue;
        }
#endif
        for (int32_t b = 0; b < p->batch; ++b) {
            const int8_t *in_b = input + (size_t)b * in_image + oc;
            int32_t next = 0;               /* padded rows below next are in the ring */
            int32_t base = 0;               /* q0 % kernel_h of the output row */
            for (int32_t oy = 0; oy < out_h; ++oy) {
                const int32_t q0 = oy * stride_h;
                /* dilation_h 1: each padded row is widened once, at the first output row
                 * whose window holds it */
                next = next > q0 ? next : q0;
                for (; next < q0 + kernel_h; ++next) {
                    const int32_t iy = next - p->pad_top;
                    w16_fill((int32_t *)slot_at[next % kernel_h],
                             iy >= 0 && iy < in_h ? in_b + (size_t)iy * in_row : NULL, &geo);
                }
                const int32_t *const *const rows = slot_at + base;
                base += stride_h % kernel_h;
                base -= base >= kernel_h ? kernel_h : 0;
                w16_row_taps(&k, rows, col, kernel_h, kernel_w, stride_w, out_w, output + o, (size_t)in_c);
                o += (size_t)out_w * (size_t)in_c;
            }
        }
    }
    return FN_OK;
}
