/* firmnet runtime: int8 tanh, TFLM's reference arithmetic (see fn_activation_s8.h). */
#include "fn_logistic_tanh_s8.h"

enum {
    OUTPUT_SHIFT = 24,        /* Q0.31 -> units of 1/128 */
    OUTPUT_OFFSET = 0         /* the output zero point */
};

fn_status fn_tanh_s8(const fn_tanh_s8_params *p, const int8_t *input, int8_t *output)
{
    if (!fn_logistic_tanh_s8_ok(p, input, output)) {
        return FN_ERR_ARG;
    }
    for (int32_t k = 0; k < p->count; ++k) {
        int32_t q4, out;
        if (fn_logistic_tanh_s8_input(p, input[k], &q4, &out)) {
            out = fn_logistic_tanh_s8_output(fn_gl_tanh(q4, FN_LOGISTIC_TANH_S8_INPUT_INTEGER_BITS),
                                             OUTPUT_SHIFT, OUTPUT_OFFSET);
        }
        output[k] = (int8_t)out;
    }
    return FN_OK;
}
