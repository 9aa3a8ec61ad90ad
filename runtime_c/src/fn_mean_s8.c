/* firmnet runtime: int8 mean over any axes of a rank-4 tensor, TFLM's arithmetic (see fn_reduce_s8.h). */
#include "fn_reduce_s8.h"
#include "fn_fixedpoint.h"
#include "fn_elementwise_s8.h"

enum { RANK = 4 };

/* The lanes of onnxruntime's row sum combined: p0 + p1 (two or more packets), plus the odd
 * packet left after the pairs, then (l0 + l2) + (l1 + l3). */
static float ort_lanes(float *p0, const float *p1, const float *odd, int32_t packets)
{
    int32_t l;
    if (packets > 1) {
        for (l = 0; l < 4; ++l) {
            p0[l] = p0[l] + p1[l];
            if (packets % 2) {
                p0[l] = p0[l] + odd[l];
            }
        }
    }
    return (p0[0] + p0[2]) + (p0[1] + p0[3]);
}

/* sum(x - zero_point) over the block of extent[] elements at base, modulo 2^32 */
static uint32_t block_sum(const int8_t *base, const int32_t *extent, const int32_t *stride, int32_t zero_point)
{
    uint32_t acc = 0u;
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < extent[0]; ++i0) {
        for (i1 = 0; i1 < extent[1]; ++i1) {
            for (i2 = 0; i2 < extent[2]; ++i2) {
                const int8_t *row = base + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                for (i3 = 0; i3 < extent[3]; ++i3) {
                    acc += (uint32_t)((int32_t)row[i3 * stride[3]] - zero_point);
                }
            }
        }
    }
    return acc;
}

/* The float value of input x: its dequantization, or its table entry */
static float value_of(const fn_mean_s8_params *p, int8_t x)
{
    return p->table != NULL ? p->table[(int32_t)x + 128]
                            : (float)((int32_t)x - p->input_zero_point) * p->input_scale;
}

/* The float sum of the values over the block, one by one in row-major order */
static float ordered_sum(const int8_t *base, const int32_t *extent, const int32_t *stride,
                         const fn_mean_s8_params *p)
{
    float r = 0.0f;
    int32_t i0, i1, i2, i3, first = 1;
    for (i0 = 0; i0 < extent[0]; ++i0) {
        for (i1 = 0; i1 < extent[1]; ++i1) {
            for (i2 = 0; i2 < extent[2]; ++i2) {
                const int8_t *row = base + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                for (i3 = 0; i3 < extent[3]; ++i3) {
                    const float v = value_of(p, row[i3 * stride[3]]);
                    r = first ? v : r + v;
                    first = 0;
                }
            }
        }
    }
    return r;
}

/* onnxruntime's float sum of one row of n values (Eigen's 4-lane redux; see
 * eigen_row_sums in reference/reduce_s8.py), row d of its [rows, n] view. */
static float ort_row_sum(const int8_t *base, const int32_t *extent, const int32_t *stride,
                         const fn_mean_s8_params *p, int32_t d)
{
    const int32_t n = p->count;
    const int32_t a0 = (int32_t)((4 - ((int64_t)d * n) % 4) % 4);
    const int32_t a = a0 < n ? a0 : n;
    const int32_t packets = (n - a) / 4;
    const int32_t pairs_end = a + (packets / 2) * 8;
    const int32_t body_end = a + packets * 4;
    float p0[4] = {0.0f, 0.0f, 0.0f, 0.0f}, p1[4] = {0.0f, 0.0f, 0.0f, 0.0f}, odd[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float head[3] = {0.0f, 0.0f, 0.0f}, r = 0.0f;
    int32_t i0, i1, i2, i3, j = 0, k;
    for (i0 = 0; i0 < extent[0]; ++i0) {
        for (i1 = 0; i1 < extent[1]; ++i1) {
            for (i2 = 0; i2 < extent[2]; ++i2) {
                const int8_t *row = base + i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
                for (i3 = 0; i3 < extent[3]; ++i3, ++j) {
                    const float v = value_of(p, row[i3 * stride[3]]);
                    if (packets == 0) {                  /* too short: one by one */
                        r = j == 0 ? v : r + v;
                    } else if (j < a) {
                        head[j] = v;
                    } else if (j < pairs_end) {
                        const int32_t q = (j - a) / 4, lane = (j - a) % 4;
                        float *acc = q % 2 == 0 ? p0 : p1;
                        acc[lane] = q < 2 ? v : acc[lane] + v;
                    } else if (j < body_end) {
                        odd[(j - a) % 4] = v;
                        if (packets == 1) {
                            p0[(j - a) % 4] = v;
                        }
                    } else {
                        if (j == body_end) {             /* the packets are done: combine */
                            r = ort_lanes(p0, p1, odd, packets);
                            for (k = 0; k < a; ++k) {
                                r += head[k];
                            }
                        }
                        r += v;
                    }
                }
            }
        }
    }
    if (packets > 0 && body_end == n) {
        r = ort_lanes(p0, p1, odd, packets);
        for (k = 0; k < a; ++k) {
            r += head[k];
        }
    }
    return r;
}

/* The float mean (sum) of one output element before any quantization (fn_reduce_s8.h) */
static float float_result(const fn_mean_s8_params *p, const int8_t *base, const int32_t *reduced,
                          const int32_t *stride, int32_t d, int32_t sum)
{
    const float v = p->ort_rows ? ort_row_sum(base, reduced, stride, p, d)
                                : (p->table != NULL ? ordered_sum(base, reduced, stride, p) : (float)sum * p->input_scale);
    return p->compute_sum ? v : v / (float)p->count;
}

/* The mean of every output element: int8 into out8, or float into outf (the other is NULL) */
static fn_status mean_run(const fn_mean_s8_params *p, const int8_t *input, int8_t *out8, float *outf)
{
    int32_t kept[RANK], reduced[RANK], stride[RANK];
    int64_t total = 1, count = 1, bound;
    int32_t k, o0, o1, o2, o3, d = 0;
    const int float_values = outf != NULL || p->requant_mode == FN_REQUANT_ORT;
    if (p->input_zero_point < INT8_MIN || p->input_zero_point > INT8_MAX ||
        (float_values && (!fn_scale_ok(p->input_scale) || p->count < 1))) {
        return FN_ERR_ARG;
    }
    if (outf == NULL && (p->output_zero_point < INT8_MIN || p->output_zero_point > INT8_MAX ||
        p->multiplier < 0 || p->shift < -31 || p->shift > 30 || p->requant_mode < FN_REQUANT_TFLM ||
        p->requant_mode > FN_REQUANT_ORT || (p->requant_mode == FN_REQUANT_ORT && !fn_scale_ok(p->output_scale)))) {
        return FN_ERR_ARG;
    }
    for (k = RANK - 1; k >= 0; --k) {
        if (p->dims[k] < 1 || (p->reduce[k] != 0 && p->reduce[k] != 1)) {
            return FN_ERR_ARG;
        }
        stride[k] = (int32_t)total;
        total *= p->dims[k];
        if (total > INT32_MAX) {
            return FN_ERR_ARG;
        }
        kept[k] = p->reduce[k] ? 1 : p->dims[k];
        reduced[k] = p->reduce[k] ? p->dims[k] : 1;
        count *= reduced[k];
    }
    if (p->shift > 0 && !float_values) {
        /* |sum| <= count * max|x - zp| and <= 2^31 once wrapped: its left shift must fit int32 */
        const int32_t dev = p->input_zero_point + 128 > 127 - p->input_zero_point ? p->input_zero_point + 128
                                                                                 : 127 - p->input_zero_point;
        bound = count * dev;
        bound = bound < ((int64_t)1 << 31) ? bound : ((int64_t)1 << 31);
        if ((bound << p->shift) > (int64_t)INT32_MAX - 128) {
            return FN_ERR_ARG;
        }
    }
    for (o0 = 0; o0 < kept[0]; ++o0) {
        for (o1 = 0; o1 < kept[1]; ++o1) {
            for (o2 = 0; o2 < kept[2]; ++o2) {
                for (o3 = 0; o3 < kept[3]; ++o3) {
                    const int8_t *base = input + o0 * stride[0] + o1 * stride[1] + o2 * stride[2] + o3 * stride[3];
                    const int32_t sum = (int32_t)block_sum(base, reduced, stride, p->input_zero_point);
                    int64_t out;
                    if (float_values) {
                        const float v = float_result(p, base, reduced, stride, d++, sum);
                        if (outf != NULL) {
                            *outf++ = v;
                        } else {
                            *out8++ = (int8_t)fn_quantize_ort_f32(v, p->output_scale, p->output_zero_point);
                        }
                        continue;
                    }
                    /* int64: a wrapped sum near INT32_MIN plus the zero point would leave int32 */
                    out = (int64_t)(p->requant_mode == FN_REQUANT_SINGLE
                                        ? fn_mul_by_quantized_mul_single(sum, p->multiplier, p->shift)
                                        : fn_mul_by_quantized_mul_tflm(sum, p->multiplier, p->shift)) +
                          p->output_zero_point;
                    out = out > INT8_MAX ? INT8_MAX : (out < INT8_MIN ? INT8_MIN : out);
                    *out8++ = (int8_t)out;
                }
            }
        }
    }
    return FN_OK;
}

fn_status fn_mean_s8(const fn_mean_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    return mean_run(p, input, output, NULL);
}

fn_status fn_mean_s8_f32(const fn_mean_s8_params *p, const int8_t *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    return mean_run(p, input, NULL, output);
}
