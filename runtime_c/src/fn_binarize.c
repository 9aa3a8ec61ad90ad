/* firmnet runtime: conversions between float/int8 rows and b1 rows, contract in fn_binary_b1.h.
 * Each row is written word by word; the unused bits of its last word stay 0. */
#include "fn_binary_b1.h"

static int fn_binarize_args_bad(const fn_binarize_params *p, const void *input, const void *output)
{
    return p == NULL || input == NULL || output == NULL || p->rows < 1 || p->channels < 1;
}

fn_status fn_binarize_f32(const fn_binarize_params *p, const float *input, uint32_t *output)
{
    if (fn_binarize_args_bad(p, input, output)) {
        return FN_ERR_ARG;
    }
    const int32_t n = p->channels;
    for (int32_t r = 0; r < p->rows; ++r) {
        for (int32_t first = 0; first < n; first += 32) {
            const int32_t end = n - first < 32 ? n - first : 32;
            uint32_t word = 0;
            for (int32_t k = 0; k < end; ++k) {
                word |= (uint32_t)(input[first + k] >= 0.0f) << k;
            }
            *output++ = word;
        }
        input += n;
    }
    return FN_OK;
}

fn_status fn_binarize_s8(const fn_binarize_params *p, const int8_t *input, uint32_t *output)
{
    if (fn_binarize_args_bad(p, input, output)) {
        return FN_ERR_ARG;
    }
    const int32_t n = p->channels, zero_point = p->zero_point;
    for (int32_t r = 0; r < p->rows; ++r) {
        for (int32_t first = 0; first < n; first += 32) {
            const int32_t end = n - first < 32 ? n - first : 32;
            uint32_t word = 0;
            for (int32_t k = 0; k < end; ++k) {
                word |= (uint32_t)((int32_t)input[first + k] >= zero_point) << k;
            }
            *output++ = word;
        }
        input += n;
    }
    return FN_OK;
}

fn_status fn_unbinarize_f32(const fn_binarize_params *p, const uint32_t *input, float *output)
{
    if (fn_binarize_args_bad(p, input, output)) {
        return FN_ERR_ARG;
    }
    const int32_t words = (p->channels + 31) / 32;
    for (int32_t r = 0; r < p->rows; ++r) {
        for (int32_t c = 0; c < p->channels; ++c) {
            output[c] = ((input[c >> 5] >> (c & 31)) & 1u) ? 1.0f : -1.0f;
        }
        input += words;
        output += p->channels;
    }
    return FN_OK;
}
