/* firmnet runtime: int8 table lookup for CPUs with MVE (fn_s8_mve.h): 16 elements per vector,
 * each input byte x read as unsigned with its top bit flipped (x + 128, the table's index) and
 * the outputs gathered from the table by VLDRB.U8 with those offsets; a vector is read before
 * it is written, so input == output works as in fn_lut_s8. Without MVE: fn_lut_s8. */
#include "fn_activation_ort_s8.h"
#include "fn_s8_mve_impl.h"

fn_status fn_lut_s8_mve(const fn_lut_s8_params *p, const int8_t *input, int8_t *output)
{
#if FN_MVE
    if (p == NULL || p->table == NULL || input == NULL || output == NULL || p->count < 0) {
        return FN_ERR_ARG;
    }
    const uint8_t *table = (const uint8_t *)p->table;
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const int32_t n = p->count;
    for (int32_t i = 0; i < n; i += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - i));
        const uint8x16_t idx = veorq_u8(vldrbq_z_u8(in + i, pr), vdupq_n_u8(0x80));
        vstrbq_p_u8(out + i, vldrbq_gather_offset_z_u8(table, idx, pr), pr);
    }
    return FN_OK;
#else
    return fn_lut_s8(p, input, output);
#endif
}
