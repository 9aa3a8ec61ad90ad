/* firmnet runtime: float32 -> int8 quantization, int8 -> float32 dequantization and
 * int8 -> int8 requantization, one element at a time with the scalar helpers of
 * fn_elementwise_s8.h (arithmetic stated there). */
#include "fn_elementwise_s8.h"

#include <string.h>

fn_status fn_quantize_f32_s8(const fn_quantize_f32_s8_params *p, const float *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 0 || !fn_scale_ok(p->scale) ||
        p->zero_point < -128 || p->zero_point > 127 ||
        (p->requant_mode != FN_REQUANT_TFLM && p->requant_mode != FN_REQUANT_SINGLE &&
         p->requant_mode != FN_REQUANT_ORT)) {
        return FN_ERR_ARG;
    }
    const float scale = p->scale;
    const int32_t zp = p->zero_point;
    const int32_t lo = -128 - zp, hi = 127 - zp;
    if (p->requant_mode == FN_REQUANT_ORT) {
        for (int32_t i = 0; i < p->count; ++i) {
            output[i] = (int8_t)(fn_round_even_sat_f32(input[i] / scale, lo, hi) + zp);
        }
    } else {
        for (int32_t i = 0; i < p->count; ++i) {
            output[i] = (int8_t)(fn_round_away_sat_f32(input[i] / scale, lo, hi) + zp);
        }
    }
    return FN_OK;
}

fn_status fn_dequantize_s8_f32(const fn_dequantize_s8_f32_params *p, const int8_t *input, float *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 0 ||
        !(p->scale >= -3.40282347e38f && p->scale <= 3.40282347e38f) ||
        p->zero_point < -128 || p->zero_point > 127) {
        return FN_ERR_ARG;
    }
    for (int32_t i = 0; i < p->count; ++i) {
        output[i] = fn_dequantize_f32(input[i], p->scale, p->zero_point);
    }
    return FN_OK;
}

int fn_requant_s8_ok(const fn_requant_s8 *q)
{
    if (q == NULL || q->input_zero_point < -128 || q->input_zero_point > 127 ||
        q->output_zero_point < -128 || q->output_zero_point > 127) {
        return 0;
    }
    switch (q->method) {
    case FN_S8_REQUANT_COPY:
        return q->input_zero_point == q->output_zero_point;
    case FN_S8_REQUANT_FIXED:
        return (q->requant_mode == FN_REQUANT_TFLM || q->requant_mode == FN_REQUANT_SINGLE) &&
               q->multiplier >= 0 && q->shift >= -31 && q->shift <= 22;
    case FN_S8_REQUANT_FLOAT:
        return fn_scale_ok(q->input_scale) && fn_scale_ok(q->output_scale);
    default:
        return 0;
    }
}

fn_status fn_requantize_s8(const fn_requantize_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL || p->count < 0 || !fn_requant_s8_ok(&p->q)) {
        return FN_ERR_ARG;
    }
    if (p->q.method == FN_S8_REQUANT_COPY) {
        if (output != input) {
            memmove(output, input, (size_t)p->count);
        }
        return FN_OK;
    }
    for (int32_t i = 0; i < p->count; ++i) {
        output[i] = (int8_t)fn_requant_s8_value(&p->q, input[i]);
    }
    return FN_OK;
}
