/* firmnet runtime: int8 element-wise kernels (add, sub, mul with broadcasting),
 * float32 <-> int8 conversion, int8 -> int8 requantization and int8 concatenation
 * with requantization; and the scalar helpers the int8 kernels share.
 *
 * The parameter structs are built by python/firmnet/reference/elementwise_s8.py and
 * quantize_s8.py, whose docstrings derive every field from the float scales and zero
 * points and name the TFLite Micro / onnxruntime functions followed. Conventions as in
 * the other int8 kernels: x_offset = -(zero point of x), output_offset = output zero
 * point, act_min/act_max the fused activation as a clamp of the output integer,
 * applied last; requant_mode is a fn_requant_mode (fn_fixedpoint.h).
 *
 * Floating-point methods (the onnxruntime ones) compute each float32 operation with
 * one IEEE rounding, as onnxruntime does; products that onnxruntime rounds before an
 * addition go through a volatile temporary so that no compiler contracts them into a
 * fused multiply-add. They need FLT_EVAL_METHOD == 0 (float and double evaluated in
 * their own precision: SSE2, ARM VFP/NEON, soft float; not x87). */
#ifndef FN_ELEMENTWISE_S8_H
#define FN_ELEMENTWISE_S8_H

#include <string.h>

#include "fn_common.h"
#include "fn_fixedpoint.h"

/* ------------------------------------------------------------------ scalar helpers */

/* Nearest integer to v, ties to even, saturated to [lo, hi]; NaN gives lo.
 * -2^24 <= lo <= hi <= 2^24. (x86 cvtps2dq / nearbyintf, then saturation.) */
static inline int32_t fn_round_even_sat_f32(float v, int32_t lo, int32_t hi)
{
#if FN_HAVE_VCVTR   /* (any integer bounds: VCVTR saturates, the clamp follows) */
    return v != v ? lo : fn_round_clamp_ort(v, lo, hi);
#else
    if (!(v > (float)lo)) {
        return lo;
    }
    if (!(v < (float)hi)) {
        return hi;
    }
    int32_t t = (int32_t)v;          /* |v| < 2^24: truncation is exact */
    const float f = v - (float)t;     /* exact */
    const int32_t odd = t % 2 != 0;
    if (f > 0.5f || (f == 0.5f && odd)) {
        ++t;
    } else if (f < -0.5f || (f == -0.5f && odd)) {
        --t;
    }
    return t;
#endif
}

/* Nearest integer to v, ties away from zero (std::round), saturated to [lo, hi]; NaN
 * gives lo. -2^24 <= lo <= hi <= 2^24. */
static inline int32_t fn_round_away_sat_f32(float v, int32_t lo, int32_t hi)
{
    if (!(v > (float)lo)) {
        return lo;
    }
    if (!(v < (float)hi)) {
        return hi;
    }
    int32_t t = (int32_t)v;
    const float f = v - (float)t;
    if (f >= 0.5f) {
        ++t;
    } else if (f <= -0.5f) {
        --t;
    }
    return t;
}

/* Correctly rounded float32 a * b + c (what fmaf and x86 vfmadd compute), without
 * libm: the FPU's instruction where the compiler has one inline (__FP_FAST_FMAF), else
 * a * b is exact in double, the double sum is made round-to-odd from its exact
 * error (TwoSum), and a round-to-odd double rounds to float correctly. Finite
 * arguments whose product and sum stay in the normal float range. */
static inline float fn_fmaf(float a, float b, float c)
{
#if defined(__GNUC__) && defined(__FP_FAST_FMAF)
    return __builtin_fmaf(a, b, c);   /* the FPU's fused multiply-add (VFMA on Arm FPv4/FPv5) */
#else
    const double p = (double)a * (double)b;
    double s = p + (double)c;
    const double bb = s - p;
    const double err = (p - (s - bb)) + ((double)c - bb);
    if (err != 0.0) {
        uint64_t bits;
        memcpy(&bits, &s, sizeof bits);
        if ((bits & 1u) == 0u) {
            /* the odd neighbour toward the exact value: away from 0 if err has s's sign */
            bits = ((err > 0.0) == (s > 0.0)) ? bits + 1u : bits - 1u;
            memcpy(&s, &bits, sizeof s);
        }
    }
    return (float)s;
#endif
}

/* onnxruntime's QuantizeLinear of one float (MLAS MlasQuantizeLinear): x / scale in
 * float32, rounded half to even, plus zero_point, saturated to int8; NaN gives -128.
 * scale > 0, zero_point in [-128, 127]. */
static inline int32_t fn_quantize_ort_f32(float x, float scale, int32_t zero_point)
{
    return fn_round_even_sat_f32(x / scale, -128 - zero_point, 127 - zero_point) + zero_point;
}

/* 1 if s can serve as a quantization scale: positive and finite (NaN fails). */
static inline int fn_scale_ok(float s)
{
    return s > 0.0f && s <= 3.40282347e38f;
}

/* onnxruntime's DequantizeLinear of one value: float32(q - zero_point) * scale. */
static inline float fn_dequantize_f32(int32_t q, float scale, int32_t zero_point)
{
    return (float)(q - zero_point) * scale;
}

/* ------------------------------------------------------------------ add, sub, mul */

typedef enum {
    FN_ELTWISE_S8_TFLM = 0,        /* TFLite Micro's fixed-point arithmetic; requant_mode
                                    * FN_REQUANT_TFLM or FN_REQUANT_SINGLE */
    FN_ELTWISE_S8_ORT_QLINEAR = 1, /* onnxruntime QLinearAdd / QLinearMul (x86-64 MLAS) */
    FN_ELTWISE_S8_ORT_FLOAT = 2    /* onnxruntime DequantizeLinear -> op -> QuantizeLinear */
} fn_eltwise_s8_method;

typedef struct {
    int32_t ndim;                      /* 1..FN_MAX_DIMS */
    int32_t out_shape[FN_MAX_DIMS];    /* row-major, first ndim entries used */
    int32_t a_strides[FN_MAX_DIMS];    /* element strides of a per output dim; 0 = broadcast */
    int32_t b_strides[FN_MAX_DIMS];
    int32_t method;                    /* fn_eltwise_s8_method */
    int32_t requant_mode;              /* fn_requant_mode */
    int32_t subtract;                  /* 0: a + b, 1: a - b */
    int32_t a_offset, b_offset;        /* -(zero points of a and b), in [-127, 128] */
    int32_t output_offset;             /* output zero point, in [-128, 127] */
    /* FN_ELTWISE_S8_TFLM: */
    int32_t left_shift;                /* 20 (TFLite's value for int8), 0..20 */
    int32_t a_multiplier, a_shift;     /* Q31 multiplier >= 0, shift in [-31, 0] */
    int32_t b_multiplier, b_shift;
    int32_t output_multiplier, output_shift;
    /* FN_ELTWISE_S8_ORT_FLOAT: */
    float a_scale, b_scale, output_scale;   /* > 0 */
    /* FN_ELTWISE_S8_ORT_QLINEAR (add only): */
    float a_ratio, b_ratio;            /* s_a / s_out, s_b / s_out */
    float fixed_ab, fixed_ba;          /* zp_out - (the zero points' scaled sum), see elementwise_s8.py */
    int32_t act_min, act_max;          /* -128 <= act_min <= act_max <= 127 */
} fn_add_s8_params;

/* out[i] = a[ia] + b[ib] (or a - b) requantized to the output's scale and zero point,
 * with numpy broadcasting expressed by strides (firmnet.layout.binary_params).
 * Per element, TFLM method (TFLite's AddElementwise / SubElementwise):
 *   x = (a + a_offset) << left_shift, y = (b + b_offset) << left_shift
 *   raw = rq(x, a_multiplier, a_shift) +- rq(y, b_multiplier, b_shift)
 *   out = rq(raw, output_multiplier, output_shift) + output_offset
 * with rq = fn_mul_by_quantized_mul_tflm (requant_mode TFLM) or _single (SINGLE).
 * ORT_QLINEAR (add only): c = fma(a, a_ratio, fma(b, b_ratio, fixed_ab)), except on
 * rows where a's innermost stride is 0: c = fma(b, b_ratio, fma(a, a_ratio, fixed_ba));
 * out = round half to even of c, saturated. ORT_FLOAT: quantize_ort(deq(a) +- deq(b)).
 * Then clamp to [act_min, act_max]. out must not overlap a or b unless it is exactly
 * a (or b) with the full output shape.
 * Returns FN_ERR_ARG for a NULL pointer, ndim out of range, a shape < 1, a negative
 * stride, an unknown method, a method/requant_mode/subtract mismatch (TFLM needs mode
 * TFLM or SINGLE, the ORT methods mode ORT, ORT_QLINEAR no subtract), offsets, shifts
 * or act bounds out of range, or a scale that is not positive and finite. */
fn_status fn_add_s8(const fn_add_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out);

typedef struct {
    int32_t ndim;
    int32_t out_shape[FN_MAX_DIMS];
    int32_t a_strides[FN_MAX_DIMS];
    int32_t b_strides[FN_MAX_DIMS];
    int32_t method;                    /* fn_eltwise_s8_method */
    int32_t requant_mode;              /* fn_requant_mode */
    int32_t a_offset, b_offset;        /* -(zero points), in [-127, 128] */
    int32_t output_offset;             /* in [-128, 127] */
    int32_t multiplier, shift;         /* TFLM: Q31 multiplier >= 0, shift in [-31, 14] */
    float ratio;                       /* ORT_QLINEAR: (s_a * s_b) / s_out in float32 */
    float a_scale, b_scale, output_scale;   /* ORT_FLOAT, > 0 */
    int32_t ort_zero_shift;            /* ORT_QLINEAR: 0, or 128 for a uint8 model (onnxruntime adds
                                          the uint8 zero point in float and saturates to uint8) */
    int32_t act_min, act_max;
} fn_mul_s8_params;

/* out[i] = a[ia] * b[ib] requantized, broadcasting as fn_add_s8. Per element:
 *   prod = (a + a_offset) * (b + b_offset)
 *   TFLM:        out = rq(prod, multiplier, shift) + output_offset    (MulElementwise)
 *   ORT_QLINEAR: out = saturate(round_half_even(float(prod) * ratio + float(output_offset + z))) - z,
 *                z = ort_zero_shift, saturated to [-128 + z, 127 + z] (product and sum rounded
 *                separately, as MLAS's SSE2 kernel)
 *   ORT_FLOAT:   out = quantize_ort(deq(a) * deq(b))
 * then clamp to [act_min, act_max]. Overlap rule and return codes as fn_add_s8. */
fn_status fn_mul_s8(const fn_mul_s8_params *p, const int8_t *a, const int8_t *b, int8_t *out);

/* TFLM's int8 add/sub with its two operand rescalings done at compile time: the
 * first two steps of fn_add_s8's TFLM method depend on one int8 operand each, so
 * each is a 256-entry table (a requantized int8 value per byte), and per element
 * only the output requantization runs:
 *   raw2 = a_table[(uint8_t)a] + b_table[(uint8_t)b]
 *          (= 2 * (rq(x, a_multiplier, a_shift) +- rq(y, b_multiplier, b_shift)),
 *           the sub's table negated; kernels/params_elementwise_s8.py builds them)
 *   out  = clamp(rq(raw2 / 2, output_multiplier, output_shift) + output_offset)
 * with rq = fn_mul_by_quantized_mul_tflm (requant_mode TFLM only), computed as one
 * SMLAL: SRDHM(raw, m) = floor((raw2 * m + 2^31) / 2^32) and the rounding divide by
 * 2^e folded in, floor((raw2 * m + 2^31 + (2^(e-1) - [raw2 < 0]) * 2^32) / 2^(32+e))
 * (the [r < 0] of the rounding is [raw2 < 0]: they differ only where r = 0, giving 0
 * either way). Broadcasting and the overlap rule as fn_add_s8.
 * Requires every table entry in [-2^29, 2^29] (then |raw2| <= 2^30 and the 64-bit sum
 * cannot overflow; the builder checks it). Returns FN_ERR_ARG for a NULL pointer, a
 * bad walk, output_multiplier < 0, output_shift outside [-31, -1], an offset or act
 * bound out of range. */
typedef struct {
    int32_t ndim;
    int32_t out_shape[FN_MAX_DIMS];
    int32_t a_strides[FN_MAX_DIMS];
    int32_t b_strides[FN_MAX_DIMS];
    const int32_t *a_table;            /* 256 entries, indexed by the byte as uint8_t */
    const int32_t *b_table;
    int32_t output_multiplier;         /* Q31, >= 0 */
    int32_t output_shift;              /* in [-31, -1] */
    int32_t output_offset;             /* in [-128, 127] */
    int32_t act_min, act_max;          /* -128 <= act_min <= act_max <= 127 */
} fn_add_s8_table_params;

fn_status fn_add_s8_table(const fn_add_s8_table_params *p, const int8_t *a, const int8_t *b, int8_t *out);

/* round(x2 * m / 2^(32 + e)) as fn_add_s8_table states it: the high word of
 * x2 * m + hi * 2^32 + 2^31, shifted right by e; hi >= 0 (the caller's rounding term),
 * |x2| <= 2^31 - 1, 0 <= m <= 2^31 - 1. One SMLAL on ARM. */
static inline int32_t fn_rq2_hi(int32_t x2, int32_t m, int32_t hi, int32_t e)
{
    /* hi >= 0 and < 2^31: the constant is below 2^63, its conversion exact */
    int64_t v = (int64_t)(((uint64_t)(uint32_t)hi << 32) | 0x80000000u);
    v += (int64_t)x2 * m;
    return (int32_t)(v >> 32) >> e;
}

/* 1 if the offsets and the clamp that fn_add_s8 and fn_mul_s8 share are in the ranges
 * stated in their parameter structs, else 0. */
static inline int fn_eltwise_s8_offsets_ok(int32_t a_offset, int32_t b_offset, int32_t output_offset,
                                           int32_t act_min, int32_t act_max)
{
    return a_offset >= -127 && a_offset <= 128 && b_offset >= -127 && b_offset <= 128 &&
           output_offset >= -128 && output_offset <= 127 &&
           act_min >= -128 && act_max <= 127 && act_min <= act_max;
}

/* ------------------------------------------------------------------ quantize, dequantize */

typedef struct {
    int32_t count;             /* elements, >= 0 */
    int32_t requant_mode;      /* TFLM, SINGLE: ties away from zero; ORT: ties to even */
    float scale;               /* output scale, > 0 */
    int32_t zero_point;        /* in [-128, 127] */
} fn_quantize_f32_s8_params;

/* out = clamp(round(in / scale) + zero_point, -128, 127), the division in float32
 * (TFLM AffineQuantize; onnxruntime QuantizeLinear). NaN gives -128, infinities
 * saturate. in and out must not overlap. */
fn_status fn_quantize_f32_s8(const fn_quantize_f32_s8_params *p, const float *input, int8_t *output);

typedef struct {
    int32_t count;             /* >= 0 */
    float scale;               /* input scale, finite */
    int32_t zero_point;        /* in [-128, 127] */
} fn_dequantize_s8_f32_params;

/* out = float32(q - zero_point) * scale (one rounding; TFLM and onnxruntime agree).
 * in and out must not overlap. */
fn_status fn_dequantize_s8_f32(const fn_dequantize_s8_f32_params *p, const int8_t *input, float *output);

/* ------------------------------------------------------------------ int8 -> int8 */

typedef enum {
    FN_S8_REQUANT_COPY = 0,    /* equal quantization: bytes are copied */
    FN_S8_REQUANT_FIXED = 1,   /* TFLM Requantize: clamp(rq(q - zp_in) + zp_out), mode TFLM/SINGLE */
    FN_S8_REQUANT_FLOAT = 2    /* onnxruntime: quantize_ort(deq(q), output_scale, zp_out) */
} fn_s8_requant_method;

typedef struct {
    int32_t method;                        /* fn_s8_requant_method */
    int32_t requant_mode;                  /* FIXED: FN_REQUANT_TFLM or FN_REQUANT_SINGLE */
    int32_t input_zero_point, output_zero_point;   /* in [-128, 127] */
    int32_t multiplier, shift;             /* FIXED: >= 0, shift in [-31, 22] */
    float input_scale, output_scale;       /* FLOAT: > 0 */
} fn_requant_s8;

/* 1 if the spec's fields are in the ranges above, else 0. */
int fn_requant_s8_ok(const fn_requant_s8 *q);

/* One value through a spec (checked by fn_requant_s8_ok); x in [-128, 127]. */
static inline int32_t fn_requant_s8_value(const fn_requant_s8 *q, int32_t x)
{
    if (q->method == FN_S8_REQUANT_FIXED) {
        int32_t r = q->requant_mode == FN_REQUANT_SINGLE
                        ? fn_mul_by_quantized_mul_single(x - q->input_zero_point, q->multiplier, q->shift)
                        : fn_mul_by_quantized_mul_tflm(x - q->input_zero_point, q->multiplier, q->shift);
        r += q->output_zero_point;
        return r < -128 ? -128 : (r > 127 ? 127 : r);
    }
    if (q->method == FN_S8_REQUANT_FLOAT) {
        const float v = fn_dequantize_f32(x, q->input_scale, q->input_zero_point);
        return fn_quantize_ort_f32(v, q->output_scale, q->output_zero_point);
    }
    return x;
}

typedef struct {
    int32_t count;             /* elements, >= 0 */
    fn_requant_s8 q;
} fn_requantize_s8_params;

/* int8 -> int8 with another scale/zero point (TFLM's QUANTIZE int8 -> int8, or
 * onnxruntime's DequantizeLinear -> QuantizeLinear). in and out may be the same buffer.
 * Returns FN_ERR_ARG for NULL pointers, count < 0 or a spec out of range. */
fn_status fn_requantize_s8(const fn_requantize_s8_params *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t n_inputs;                  /* >= 1 */
    int32_t outer;                     /* product of dims before the concat axis, >= 0 */
    const int32_t *in_block_elems;     /* per input: elements of one block (axis dim x inner), >= 0 */
    const fn_requant_s8 *requant;      /* per input: its requantization to the output */
} fn_concat_s8_params;

/* Concatenation along one axis of int8 tensors quantized differently: for each of
 * `outer` blocks, every input's block in order, requantized with requant[k] (COPY
 * blocks are memcpy'd). When all inputs share the output's quantization, use the byte
 * kernel fn_concat (fn_tensor.h) instead; TFLM's CONCATENATION requires that case.
 * inputs[k] must not overlap output. Returns FN_ERR_ARG for NULL pointers, negative
 * sizes or a spec out of range. */
fn_status fn_concat_s8(const fn_concat_s8_params *p, const int8_t *const *inputs, int8_t *output);

#endif
