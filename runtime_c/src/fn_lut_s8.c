/* firmnet runtime: int8 table lookup (see fn_activation_ort_s8.h). Four elements per step,
 * all read before any is written (so input == output works and the loads are not reordered
 * behind the stores). */
#include "fn_activation_ort_s8.h"

fn_status fn_lut_s8(const fn_lut_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->count < 0) {
        return FN_ERR_ARG;
    }
    const int8_t *table = p->table + 128;
    const int32_t n = p->count;
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const int8_t y0 = table[input[k]], y1 = table[input[k + 1]];
        const int8_t y2 = table[input[k + 2]], y3 = table[input[k + 3]];
        output[k] = y0;
        output[k + 1] = y1;
        output[k + 2] = y2;
        output[k + 3] = y3;
    }
    for (; k < n; ++k) {
        output[k] = table[input[k]];
    }
    return FN_OK;
}
