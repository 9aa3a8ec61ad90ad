/* firmnet runtime: int8 softmax with onnxruntime's QLinearSoftmax arithmetic (see
 * fn_activation_ort_s8.h; float32 operations, one IEEE rounding each, as in fn_elementwise_s8.h). */
#include "fn_activation_ort_s8.h"
#include "fn_elementwise_s8.h"

fn_status fn_softmax_ort_s8(const fn_softmax_ort_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->outer < 1 ||
        p->axis_len < 1 || p->inner < 1 || !(p->y_steps >= 1.0f && p->y_steps <= 16777216.0f) ||
        p->output_zero_point < -128 || p->output_zero_point > 127) {
        return FN_ERR_ARG;
    }
    const int32_t len = p->axis_len, inner = p->inner, zp = p->output_zero_point;
    const float steps = p->y_steps;
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < inner; ++i) {
            const int8_t *x = input + (size_t)o * (size_t)len * (size_t)inner + i;
            int8_t *y = output + (size_t)o * (size_t)len * (size_t)inner + i;
            int32_t max = x[0];
            for (int32_t k = 1; k < len; ++k) {
                max = x[(size_t)k * inner] > max ? x[(size_t)k * inner] : max;
            }
            const float *e = p->table;                /* e[max - x]: 0..255 */
            float sum = 0.0f;
            for (int32_t k = 0; k < len; ++k) {
                sum += e[max - x[(size_t)k * inner]];
            }
            for (int32_t k = 0; k < len; ++k) {
                const float v = e[max - x[(size_t)k * inner]] / sum * steps;
                const int32_t q = fn_round_even_sat_f32(v, 0, 255) + zp;
                y[(size_t)k * inner] = (int8_t)(q > 127 ? 127 : q);
            }
        }
    }
    return FN_OK;
}
