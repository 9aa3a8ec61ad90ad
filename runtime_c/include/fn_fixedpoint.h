/* firmnet runtime: the fixed-point arithmetic of the int8 path.
 *
 * Requantization turns an int32 accumulator into the output scale:
 *   out = clamp(requantize(acc) + zp_out, act_min, act_max)
 * with (multiplier, shift) from quantize_multiplier() in reference/fixedpoint.py
 * (a Q31 multiplier in [2^30, 2^31) and a power-of-two exponent, TFLite's encoding).
 * Three rounding modes (fn_requant_mode), chosen at compile time for a whole model:
 *   FN_REQUANT_TFLM    TFLite/TFLM: saturating rounding doubling high multiply, then
 *                      rounding divide by a power of two (two roundings)
 *   FN_REQUANT_SINGLE  one rounding of the exact 64-bit product (CMSIS-NN's option)
 *   FN_REQUANT_ORT     onnxruntime's float path: acc * scale in float32, rounded half
 *                      to even (scale = s_in * s_w / s_out computed in float32)
 * All arithmetic is defined behaviour: wrap-around goes through uint32_t, right
 * shifts of negative values rely on arithmetic shift (implementation-defined in
 * C99; every supported compiler shifts arithmetically). */
#ifndef FN_FIXEDPOINT_H
#define FN_FIXEDPOINT_H

#include "fn_common.h"

typedef enum {
    FN_REQUANT_TFLM = 0,
    FN_REQUANT_SINGLE = 1,
    FN_REQUANT_ORT = 2
} fn_requant_mode;

/* round(a * b / 2^31) with ties toward +infinity (TFLite/gemmlowp's nudge);
 * INT32_MIN * INT32_MIN saturates to INT32_MAX. */
static inline int32_t fn_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* round(x / 2^exponent), ties away from zero; 0 <= exponent <= 31. */
static inline int32_t fn_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier: shift > 0 multiplies by 2^shift first
 * (wrapping like TFLite's int32 arithmetic), shift < 0 divides with rounding. */
static inline int32_t fn_mul_by_quantized_mul_tflm(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t left = shift > 0 ? shift : 0;
    int32_t right = shift > 0 ? 0 : -shift;
    int32_t scaled = (int32_t)((uint32_t)x << left);
    return fn_rounding_divide_by_pot(fn_sat_rounding_doubling_high_mul(scaled, multiplier), right);
}

/* round(x * multiplier / 2^(31 - shift)) with ties toward +infinity, one rounding;
 * -31 <= shift <= 30. A result outside int32 wraps (TFLite only DCHECKs the range). */
static inline int32_t fn_mul_by_quantized_mul_single(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t total = 31 - shift;
    int64_t v = (int64_t)x * (int64_t)multiplier + ((int64_t)1 << (total - 1));
    return (int32_t)(uint32_t)(uint64_t)(v >> total);
}

/* 32-bit Arm with a single-precision FPU: VCVTR converts to int32 in the FPSCR's rounding
 * mode, round to nearest with ties to even from reset (firmnet never changes it; the float
 * additions of the portable form below round in that mode too), saturating. */
#if defined(__GNUC__) && defined(__arm__) && defined(__ARM_FP) && (__ARM_FP & 4)
#define FN_HAVE_VCVTR 1

/* r = the float variable v rounded to nearest, ties to even (the FPSCR's mode), saturated
 * to int32 (NaN gives 0); v is overwritten. (A macro: cbuild's cdef reads every static
 * inline function of the headers, whatever the #if around it.) */
#define FN_VCVTR_S32(r, v) __asm__("vcvtr.s32.f32 %1, %1\n\tvmov %0, %1" : "=r"(r), "+t"(v))
#else
#define FN_HAVE_VCVTR 0
#endif

/* onnxruntime's float requantization (MLAS MlasRequantizeOutput) of v = float32 acc * scale:
 * v rounded half to even, clamped to [lo, hi] (integers, |lo|, |hi| <= 2^22) before or
 * after rounding: rounding is monotone and keeps integers, so the two orders agree. With
 * VCVTR one conversion and an integer clamp, else MLAS's order: clamp in float, then the
 * rounding trick (exact for |v| < 2^22). */
static inline int32_t fn_round_clamp_ort(float v, int32_t lo, int32_t hi)
{
#if FN_HAVE_VCVTR
    int32_t r;
    FN_VCVTR_S32(r, v);
    r = r < lo ? lo : r;
    return r > hi ? hi : r;
#else
    v = v < (float)lo ? (float)lo : v;
    v = v > (float)hi ? (float)hi : v;
    /* adding and removing 1.5 * 2^23 rounds to the nearest integer, ties to even */
    volatile float magic = 12582912.0f;
    float r = (v + magic) - magic;
    return (int32_t)r;
#endif
}

/* The ORT output stage of one channel, its fields gathered once (fn_ort_s8_init) for
 * kernels that finish many outputs of the channel (their ORT fast paths; a build that defines
 * FN_WITHOUT_ORT_PATHS, as firmnet's CMakeLists.txt does for models in other modes, leaves
 * them out and finishes ORT outputs through the general stage, with the same bytes): fn_ort_s8_one gives fn_output_stage_s8's
 * value in ORT mode (fn_conv_s8.h) for the accumulator sum + bias, whose second clamp is void
 * (r + zp is in [act_min, act_max] already). */
typedef struct {
    float scale;
    int32_t bias;     /* 0 without a bias */
    int32_t zp;
    int16_t lo, hi;   /* act_min - zp, act_max - zp (in [-255, 255]): 16 bytes in all */
} fn_ort_s8;

static inline int8_t fn_ort_s8_one(int32_t sum, const fn_ort_s8 *o)
{
    const int32_t acc = (int32_t)((uint32_t)sum + (uint32_t)o->bias);
    return (int8_t)(fn_round_clamp_ort((float)acc * o->scale, o->lo, o->hi) + o->zp);
}

/* Fast forms of the TFLM and SINGLE requantizations for multipliers in [0, 2^31 - 1]
 * (every kernel's range): the same results as fn_mul_by_quantized_mul_tflm/_single, with
 * one 64-bit multiply-accumulate (SMLAL on ARM) and a 32-bit shift for right shifts.
 *
 * Right shift e = -shift >= 1, k = e - 1 in [0, 30]. With ab = x * m (exact in int64):
 *   SRDHM(x, m) = r = floor((ab + 2^30) / 2^31)      (fn_sat_rounding_doubling_high_mul:
 *                 gemmlowp's nudge then truncation is this floor; no saturation as m >= 0)
 *   RDBP(r, e)  = floor((r + 2^k - [r < 0]) / 2^e)    (ties away from zero)
 * and floor((floor(y / A) + j) / B) = floor((y + j * A) / (A * B)) for integers, so
 *   TFLM   = floor((ab + 2^30 + (2^k - [r < 0]) * 2^31) / 2^(32 + k))
 *   SINGLE = floor((ab + 2^k * 2^31) / 2^(32 + k))    (fn_mul_by_quantized_mul_single)
 * i.e. the high word of ab + c, shifted right by k. [r < 0] may be replaced by [x < 0]:
 * they differ only when x < 0 and ab is in [-2^30, 0] (m >= 0), where r = 0 and both
 * choices give 0. |ab + c| < 2^62 + 2^61: no int64 overflow; the high word fits int32.
 * The constant c = t * 2^31 + 2^30 (TFLM; t = 2^k - [x < 0] in [0, 2^30]) has the high
 * word t >> 1 and the low word (t << 31) | 2^30 modulo 2^32. */
static inline int32_t fn_requant_right_fast_h(int32_t x, int32_t multiplier, int32_t k, int32_t half,
                                              int32_t tflm)
{
    const int32_t neg = (int32_t)((uint32_t)x >> 31) & tflm;          /* [x < 0] in TFLM mode */
    const int32_t t = half - neg;                                      /* half = 2^k */
    const uint32_t lo = ((uint32_t)t << 31) | ((uint32_t)tflm << 30);
    const int64_t c = (int64_t)(t >> 1) * 4294967296 + (int64_t)lo;
    const int64_t v = (int64_t)x * multiplier + c;
    return (int32_t)(v >> 32) >> k;
}

static inline int32_t fn_requant_right_fast(int32_t x, int32_t multiplier, int32_t k, int32_t tflm)
{
    return fn_requant_right_fast_h(x, multiplier, k, (int32_t)((uint32_t)1 << k), tflm);
}

/* TFLM mode with shift >= 0: SRDHM(wrap32(x * 2^shift), m) = floor((scaled * m + 2^30) / 2^31). */
static inline int32_t fn_requant_tflm_left_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t scaled = (int32_t)((uint32_t)x << shift);
    const int64_t v = (int64_t)scaled * multiplier + ((int64_t)1 << 30);
    return (int32_t)(v >> 31);
}

/* fn_mul_by_quantized_mul_tflm / _single for multiplier >= 0 (same results). */
static inline int32_t fn_requant_tflm_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift < 0) {
        return fn_requant_right_fast(x, multiplier, -shift - 1, 1);
    }
    return fn_requant_tflm_left_fast(x, multiplier, shift);
}

static inline int32_t fn_requant_single_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    if (shift < 0) {
        return fn_requant_right_fast(x, multiplier, -shift - 1, 0);
    }
    return fn_mul_by_quantized_mul_single(x, multiplier, shift);
}

/* x clamped to [-128, 127]: SSAT where the CPU has it (GCC does not always find it). */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT == 1
#include <arm_acle.h>
#define FN_HAVE_SSAT 1
#else
#define FN_HAVE_SSAT 0
#endif
static inline int8_t fn_sat8(int32_t x)
{
#if FN_HAVE_SSAT
    return (int8_t)__ssat(x, 8);
#else
    x = x < -128 ? -128 : x;
    x = x > 127 ? 127 : x;
    return (int8_t)x;
#endif
}

/* The requantization of an int32 accumulator to an int8 output, one block in the params
 * struct of every int8 kernel that ends in an accumulator per output channel (convolution,
 * depthwise, fully connected: fn_conv_s8.h, fn_fc_s8.h). Fields and their ranges:
 *   output_offset  output zero point, in [-128, 127]
 *   act_min, act_max  fused activation as a clamp in the output's integer domain,
 *                  -128 <= act_min <= act_max <= 127
 *   mode           fn_requant_mode (stored as int32_t, so the layout does not depend on the
 *                  compiler's enum size): FN_REQUANT_TFLM, FN_REQUANT_SINGLE or FN_REQUANT_ORT
 *   per_channel    1: multiplier/shift/scale hold one entry per output channel;
 *                  0: their entry 0 serves every channel
 *   multiplier, shift  TFLM and SINGLE modes: Q31 multiplier in [0, 2^31 - 1] and shift
 *                  in [-31, 30] (reference/fixedpoint.py quantize_multiplier); may be NULL
 *                  in ORT mode
 *   scale          ORT mode: float32 s_in * s_w[c] / s_out, finite and >= 0; may be NULL in
 *                  the other modes
 * (Not fn_requant_s8: that is the elementwise kernels' rescaling of one input,
 * fn_elementwise_s8.h.) */
typedef struct {
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t mode;                   /* fn_requant_mode */
    int32_t per_channel;
    const int32_t *multiplier;      /* [n_channels] or [1] */
    const int32_t *shift;           /* [n_channels] or [1] */
    const float *scale;             /* [n_channels] or [1] */
} fn_requant_acc_s8;

/* 1 if the fields of rq are in the ranges stated above for n_channels output channels
 * (every entry in use is read: only entry 0 when per_channel is 0), else 0. The one
 * check of the block, made by every kernel that takes it before its loops. */
static inline int fn_requant_acc_s8_ok(const fn_requant_acc_s8 *rq, int32_t n_channels)
{
    if (rq->output_offset < -128 || rq->output_offset > 127 || rq->act_min < -128 || rq->act_max > 127 ||
        rq->act_min > rq->act_max || (rq->per_channel != 0 && rq->per_channel != 1) || n_channels < 1) {
        return 0;
    }
    const int32_t n = rq->per_channel ? n_channels : 1;
    if (rq->mode == FN_REQUANT_TFLM || rq->mode == FN_REQUANT_SINGLE) {
        if (rq->multiplier == NULL || rq->shift == NULL) {
            return 0;
        }
        for (int32_t c = 0; c < n; ++c) {
            if (rq->multiplier[c] < 0 || rq->shift[c] < -31 || rq->shift[c] > 30) {
                return 0;
            }
        }
        return 1;
    }
    if (rq->mode == FN_REQUANT_ORT) {
        if (rq->scale == NULL) {
            return 0;
        }
        for (int32_t c = 0; c < n; ++c) {
            /* rejects NaN, negative values and infinity (FLT_MAX without <float.h>) */
            if (!(rq->scale[c] >= 0.0f && rq->scale[c] <= 3.40282347e38f)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* The int8 output stage in its fast form, for kernels whose call has: requant mode TFLM or
 * SINGLE, every shift in use < 0 (right shifts: scales below 0.5, the usual case) and the
 * full int8 activation range (act_min = -128, act_max = 127). Then per output
 *   out = sat8(fn_requant_right_fast(sum + bias[c], multiplier[c], -shift[c] - 1)
 *              + output_offset)
 * (additions modulo 2^32) equals the general stage fn_output_stage_s8 (fn_conv_s8.h) of
 * the accumulator sum + bias[c]. Entries are read as array[c & mask]: mask -1 reads
 * channel c, mask 0 entry 0 (per-tensor parameters, or the zero bias below). */
typedef struct {
    const int32_t *bias;          /* the bias, or &zero */
    const int32_t *multiplier, *shift;
    int32_t bias_mask, quant_mask;
    int32_t tflm;                 /* 1: FN_REQUANT_TFLM, 0: FN_REQUANT_SINGLE */
    int32_t output_offset;
    int32_t zero;
} fn_fast_out_s8;

/* Fills *f (always, so that it is defined whichever stage a kernel then takes) and returns
 * 1 when the fast form applies to the (already validated, fn_requant_acc_s8_ok) block rq
 * for n_channels output channels; returns 0 otherwise (use the general stage). *f must
 * not be copied afterwards (f->bias may point to f->zero). */
static inline int fn_fast_out_s8_init(fn_fast_out_s8 *f, const int32_t *bias, const fn_requant_acc_s8 *rq,
                                      int32_t n_channels)
{
    const int32_t mode = rq->mode, per_channel = rq->per_channel;
    const int32_t *const shift = rq->shift;
    int fast = (mode == FN_REQUANT_TFLM || mode == FN_REQUANT_SINGLE) && rq->act_min == -128 &&
               rq->act_max == 127;
    const int32_t n = per_channel ? n_channels : 1;
    for (int32_t c = 0; fast && c < n; ++c) {
        fast = shift[c] < 0;
    }
    f->zero = 0;
    f->bias = bias != NULL ? bias : &f->zero;
    f->bias_mask = bias != NULL ? -1 : 0;
    f->multiplier = rq->multiplier;
    f->shift = shift;
    f->quant_mask = per_channel ? -1 : 0;
    f->tflm = mode == FN_REQUANT_TFLM;
    f->output_offset = rq->output_offset;
    return fast;
}

/* One output of the fast stage: sum (without bias), the channel's bias, multiplier and
 * k = -shift - 1 (in [0, 30]). */
static inline int8_t fn_fast_out_s8_one(int32_t sum, int32_t bias, int32_t multiplier, int32_t k, int32_t tflm,
                                        int32_t output_offset)
{
    const int32_t acc = (int32_t)((uint32_t)sum + (uint32_t)bias);
    int32_t r = fn_requant_right_fast(acc, multiplier, k, tflm);
    r = (int32_t)((uint32_t)r + (uint32_t)output_offset);
    return fn_sat8(r);
}

/* One output channel of the fast stage, its parameters gathered once (fn_fast_out_s8_ch)
 * for kernels that finish many outputs of the same channel. */
typedef struct {
    int32_t bias, multiplier, k, half;   /* k = -shift - 1, half = 2^k */
} fn_fast_ch_s8;

static inline fn_fast_ch_s8 fn_fast_out_s8_ch(const fn_fast_out_s8 *f, int32_t c)
{
    fn_fast_ch_s8 ch;
    const int32_t q = c & f->quant_mask;
    ch.bias = f->bias[c & f->bias_mask];
    ch.multiplier = f->multiplier[q];
    ch.k = -f->shift[q] - 1;
    ch.half = (int32_t)((uint32_t)1 << ch.k);
    return ch;
}

/* fn_fast_out_s8_one with the channel's gathered parameters. */
static inline int8_t fn_fast_out_s8_ch_one(int32_t sum, const fn_fast_ch_s8 *ch, int32_t tflm,
                                           int32_t output_offset)
{
    const int32_t acc = (int32_t)((uint32_t)sum + (uint32_t)ch->bias);
    int32_t r = fn_requant_right_fast_h(acc, ch->multiplier, ch->k, ch->half, tflm);
    r = (int32_t)((uint32_t)r + (uint32_t)output_offset);
    return fn_sat8(r);
}

/* The outputs of n consecutive channels c0 .. c0 + n - 1 of one pixel from their
 * sums s[0 .. n - 1], at out[c0 ..]: per-channel parameters with a bias (the usual case)
 * are read directly, the others through fn_fast_out_s8_ch. */
static inline void fn_fast_out_s8_n(const fn_fast_out_s8 *f, int32_t c0, int32_t n, const int32_t *s,
                                    int8_t *out)
{
    const int32_t tflm = f->tflm, zo = f->output_offset;
    if ((f->quant_mask & f->bias_mask) != 0) {
        const int32_t *const b = f->bias + c0, *const m = f->multiplier + c0, *const sh = f->shift + c0;
        for (int32_t j = 0; j < n; ++j) {
            out[c0 + j] = fn_fast_out_s8_one(s[j], b[j], m[j], -sh[j] - 1, tflm, zo);
        }
        return;
    }
    if (f->quant_mask == 0 && f->bias_mask != 0) {
        /* per-tensor requantization with a bias (fully connected layers, mostly) */
        fn_fast_ch_s8 ch = fn_fast_out_s8_ch(f, 0);
        const int32_t *const b = f->bias + c0;
        for (int32_t j = 0; j < n; ++j) {
            ch.bias = b[j];
            out[c0 + j] = fn_fast_out_s8_ch_one(s[j], &ch, tflm, zo);
        }
        return;
    }
    for (int32_t j = 0; j < n; ++j) {
        const fn_fast_ch_s8 ch = fn_fast_out_s8_ch(f, c0 + j);
        out[c0 + j] = fn_fast_out_s8_ch_one(s[j], &ch, tflm, zo);
    }
}

/* The TFLM output stage in six instructions per output on the M4 (fn_out6_s8_one: two
 * additions with a shifted operand, SMMLAR, a shift, SSAT and the store), for the common case:
 * mode FN_REQUANT_TFLM, the full int8 range (act_min = -128, act_max = 127), a right shift
 * e = -shift in [1, 22] (k = e - 1 in [0, 21]), |bias| < 2^29 and sums |sum| < 2^29 (the
 * caller's depth bound). Then x = sum + bias has |x| < 2^30, so 2x fits int32, and with
 * m = multiplier in [0, 2^31 - 1] the TFLM result (fn_requant_right_fast_h's derivation,
 * doubled: numerator and denominator times 2) is
 *   TFLM(x) + zp = floor((2x * m + 2^31 + (2^k - [x < 0] + zp * 2^(k+1)) * 2^32) / 2^(33+k))
 *               = floor(SMMLAR(2x, m, a) / 2^(k+1)),  a = 2^k + zp * 2^(k+1) - [x < 0]
 * (nested floors of divisions by positive integers combine; SMMLAR(n, m, a) = floor((a * 2^32
 * + n * m + 2^31) / 2^32), its high word). |2x * m| / 2^32 < 2^30 and |a| <= 2^21 + 2^29: the
 * high word stays inside int32. The per-channel constants are prepared once:
 *   bias2 = 2 * bias, addend = 2^k + zp * 2^(k+1), shift = k + 1
 * and per output: x2 = bias2 + (sum << 1); a = addend + (x2 >> 31) (x2 < 0 exactly when
 * x < 0); out = sat8(SMMLAR(x2, m, a) >> shift). The zero point is inside the high word,
 * so no addition follows. tests/test_fixedpoint.py checks it against the reference. */
typedef struct {
    int32_t bias2, multiplier, addend, shift;
} fn_out6_s8;

/* Largest |sum| and |bias| (exclusive) of fn_out6_s8: 2^29. */
#define FN_OUT6_LIMIT 536870912

/* Fills *o for one channel and returns 1 if fn_out6_s8_one gives that channel's bytes of the
 * general stage (block rq already validated by fn_requant_acc_s8_ok; c is the channel, bias
 * its bias or 0), for sums below FN_OUT6_LIMIT in magnitude; returns 0 otherwise (*o is
 * then filled with zeros). */
static inline int fn_out6_s8_init(fn_out6_s8 *o, const fn_requant_acc_s8 *rq, int32_t c, int32_t bias)
{
    const int32_t q = rq->per_channel ? c : 0;
    o->bias2 = 0;
    o->multiplier = 0;
    o->addend = 0;
    o->shift = 0;
    if (rq->mode != FN_REQUANT_TFLM || rq->act_min != -128 || rq->act_max != 127 || rq->shift[q] > -1 ||
        rq->shift[q] < -22 || bias <= -FN_OUT6_LIMIT || bias >= FN_OUT6_LIMIT) {
        return 0;
    }
    const int32_t k = -rq->shift[q] - 1;
    o->bias2 = 2 * bias;
    o->multiplier = rq->multiplier[q];
    o->addend = (int32_t)((uint32_t)1 << k) + rq->output_offset * (int32_t)((uint32_t)2 << k);
    o->shift = k + 1;
    return 1;
}

/* floor((acc * 2^32 + a * b + 2^31) / 2^32) modulo 2^32: SMMLAR (Armv7E-M, the DSP extension). */
static inline int32_t fn_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP == 1
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    const uint64_t v = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b) + 2147483648u;
    return (int32_t)(uint32_t)(v >> 32);
#endif
}

/* One output of the six-instruction stage from its sum (bias not yet added). */
static inline int8_t fn_out6_s8_one(int32_t sum, const fn_out6_s8 *o)
{
    const int32_t x2 = (int32_t)((uint32_t)o->bias2 + ((uint32_t)sum << 1));
    const int32_t a = o->addend + (x2 >> 31);
    return fn_sat8(fn_smmlar(x2, o->multiplier, a) >> o->shift);
}

/* One requantization in the model's mode: acc → output integer before the zero point
 * (ORT mode clamps to [act_min - zp_out, act_max - zp_out] itself). multiplier >= 0. */
static inline int32_t fn_requantize(int32_t acc, int32_t mode, int32_t multiplier, int32_t shift, float scale,
                                    int32_t lo, int32_t hi)
{
    if (mode == FN_REQUANT_TFLM) {
        return fn_requant_tflm_fast(acc, multiplier, shift);
    }
    if (mode == FN_REQUANT_SINGLE) {
        return fn_requant_single_fast(acc, multiplier, shift);
    }
    return fn_round_clamp_ort((float)acc * scale, lo, hi);
}

#endif
