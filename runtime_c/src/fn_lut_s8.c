/* firmnet runtime: int8 table lookup (see fn_activation_ort_s8.h). */
#include "fn_activation_ort_s8.h"

fn_status fn_lut_s8(const fn_lut_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->count < 0) {
        return FN_ERR_ARG;
    }
    const int8_t *table = p->table + 128;
    for (int32_t k = 0; k < p->count; ++k) {
        output[k] = table[input[k]];
    }
    return FN_OK;
}
