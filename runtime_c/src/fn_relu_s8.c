/* firmnet runtime: int8 relu / relu6 / relu_n1_to_1, TFLM's arithmetic (see fn_relu_s8.h). */
#include "fn_relu_s8.h"
#include "fn_fixedpoint.h"

#define IDENTITY_MULTIPLIER ((int32_t)1 << 30)   /* with shift 1: QuantizeMultiplier(1.0) */

fn_status fn_relu_s8(const fn_relu_s8_params *p, const int8_t *input, int8_t *output)
{
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->input_zero_point < INT8_MIN ||
        p->input_zero_point > INT8_MAX || p->output_zero_point < INT8_MIN || p->output_zero_point > INT8_MAX ||
        p->multiplier < 0 || p->shift < -31 || p->shift > 30 || p->act_min < INT8_MIN ||
        p->act_min > p->act_max || p->act_max > INT8_MAX) {
        return FN_ERR_ARG;
    }
    if (p->shift > 0) {
        /* (x - zp) << shift, then + output_zero_point, must stay in int32 */
        const int32_t dev = p->input_zero_point + 128 > 127 - p->input_zero_point ? p->input_zero_point + 128
                                                                                 : 127 - p->input_zero_point;
        if (((int64_t)dev << p->shift) > (int64_t)INT32_MAX - 128) {
            return FN_ERR_ARG;
        }
    }
    if (p->multiplier == IDENTITY_MULTIPLIER && p->shift == 1) {
        /* MultiplyByQuantizedMultiplier(v, 2^30, 1) == v for every |v| <= 255 */
        const int32_t offset = p->output_zero_point - p->input_zero_point;
        for (k = 0; k < p->count; ++k) {
            int32_t out = (int32_t)input[k] + offset;
            out = out < p->act_min ? p->act_min : (out > p->act_max ? p->act_max : out);
            output[k] = (int8_t)out;
        }
        return FN_OK;
    }
    for (k = 0; k < p->count; ++k) {
        const int32_t v = (int32_t)input[k] - p->input_zero_point;
        int32_t out = p->output_zero_point + fn_mul_by_quantized_mul_tflm(v, p->multiplier, p->shift);
        out = out < p->act_min ? p->act_min : (out > p->act_max ? p->act_max : out);
        output[k] = (int8_t)out;
    }
    return FN_OK;
}
