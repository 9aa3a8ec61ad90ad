/* firmnet runtime: float32 fully connected layer / 1x1 convolution with palettized weights
 * (fn_fc_f32_codebook.h): per output feature, its packed row of indices is read byte by
 * byte, each weight looked up in the codebook and added in fn_fc_f32's order. Each index
 * width has its own copy of the loop (constant shifts). */
#include "fn_clamp.h"
#include "fn_dsp.h"
#include "fn_fc_f32_codebook.h"

/* acc + SUM_i x[i] * w[i] over one packed row, i ascending (bits constant at each call). */
FN_ALWAYS_INLINE static inline float dot(float acc, const float *x, const uint8_t *row, const float *cb, int32_t n,
                                         const int bits)
{
    const int per = 8 / bits;
    const uint32_t mask = (1u << bits) - 1u;
    int32_t i = 0;
    for (; i + per <= n; i += per) {
        const uint32_t byte = *row++;
        for (int s = 0; s < per; ++s) {
            acc += x[i + s] * cb[(byte >> (s * bits)) & mask];
        }
    }
    for (int s = 0; i < n; ++i, ++s) {
        acc += x[i] * cb[((uint32_t)*row >> (s * bits)) & mask];
    }
    return acc;
}

FN_ALWAYS_INLINE static inline void run(const fn_fc_f32_codebook_params *p, const float *input, const float *codebook,
                                        const uint8_t *indices, const float *bias, float *output, const int bits)
{
    const int32_t n_in = p->in_features, n_out = p->out_features;
    const size_t row_bytes = fn_codebook_row_bytes(n_in, bits);
    const size_t book_step = p->per_channel ? (size_t)1 << bits : 0;
    for (int32_t b = 0; b < p->batch; ++b) {
        const float *x = input + (size_t)b * (size_t)n_in;
        float *out = output + (size_t)b * (size_t)n_out;
        const uint8_t *row = indices;
        const float *cb = codebook;
        for (int32_t o = 0; o < n_out; ++o) {
            const float acc = dot(bias != NULL ? bias[o] : 0.0f, x, row, cb, n_in, bits);
            out[o] = fn_clampf(acc, p->act_min, p->act_max);
            row += row_bytes;
            cb += book_step;
        }
    }
}

FN_NOINLINE static void run_b2(const fn_fc_f32_codebook_params *p, const float *x, const float *cb, const uint8_t *ix,
                               const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 2);
}

FN_NOINLINE static void run_b4(const fn_fc_f32_codebook_params *p, const float *x, const float *cb, const uint8_t *ix,
                               const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 4);
}

FN_NOINLINE static void run_b8(const fn_fc_f32_codebook_params *p, const float *x, const float *cb, const uint8_t *ix,
                               const float *bias, float *out)
{
    run(p, x, cb, ix, bias, out, 8);
}

fn_status fn_fc_f32_codebook(const fn_fc_f32_codebook_params *p, const float *input, const float *codebook,
                             const uint8_t *indices, const float *bias, float *output)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1 || !fn_codebook_bits_ok(p->bits)) {
        return FN_ERR_ARG;
    }
    (p->bits == 2 ? run_b2 : p->bits == 4 ? run_b4 : run_b8)(p, input, codebook, indices, bias, output);
    return FN_OK;
}
