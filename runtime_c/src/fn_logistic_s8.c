/* firmnet runtime: int8 logistic, TFLM's reference arithmetic (see fn_activation_s8.h). */
#include "fn_activation_s8.h"
#include "fn_gemmlowp.h"

enum {
    INPUT_INTEGER_BITS = 4,   /* the rescaled input is Q4.27 */
    OUTPUT_SHIFT = 23         /* Q0.31 -> units of 1/256 */
};

fn_status fn_logistic_s8(const fn_logistic_s8_params *p, const int8_t *input, int8_t *output)
{
    int32_t k;
    if (p == NULL || input == NULL || output == NULL || p->count < 1 || p->input_zero_point < INT8_MIN ||
        p->input_zero_point > INT8_MAX || p->input_range_radius < 0 || p->input_left_shift < 0 ||
        (p->input_range_radius > 0 && p->input_left_shift > 30)) {
        return FN_ERR_ARG;
    }
    for (k = 0; k < p->count; ++k) {
        const int32_t v = (int32_t)input[k] - p->input_zero_point;
        int32_t out;
        if (v <= -p->input_range_radius) {
            out = INT8_MIN;
        } else if (v >= p->input_range_radius) {
            out = INT8_MAX;
        } else {
            /* |v| < radius: v * 2^shift stays below 15 * 2^27, no overflow */
            const int32_t input_in_q4 = fn_mul_by_quantized_mul_tflm(v, p->input_multiplier, p->input_left_shift);
            const int32_t output_in_q0 = fn_gl_logistic(input_in_q4, INPUT_INTEGER_BITS);
            out = fn_rounding_divide_by_pot(output_in_q0, OUTPUT_SHIFT) + INT8_MIN;
            out = out > INT8_MAX ? INT8_MAX : (out < INT8_MIN ? INT8_MIN : out);
        }
        output[k] = (int8_t)out;
    }
    return FN_OK;
}
