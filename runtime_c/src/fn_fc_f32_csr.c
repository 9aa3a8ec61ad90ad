/* firmnet runtime: float32 fully connected layer / 1x1 convolution with CSR weights
 * (fn_fc_f32_csr.h): blocks of 4 input rows share each decoded entry, then single rows;
 * every accumulator adds its bias, then the row's entries in order. */
#include "fn_fc_f32_csr.h"
#include "fn_clamp.h"

/* s[r] = b + SUM over entries j in [begin, end) of v[j] * x_r[col(j)], x_r = x + r * k. */
static inline void dot4(const fn_csr *m, const float *v, int32_t begin, int32_t end, const float *x, size_t k,
                        float b, float s[4])
{
    float a0 = b, a1 = b, a2 = b, a3 = b;
    if (m->col_delta != NULL) {
        const uint8_t *d = m->col_delta;
        const float *xp = x;
        for (int32_t j = begin; j < end; ++j) {
            xp += d[j];
            const float w = v[j];
            a0 += w * xp[0];
            a1 += w * xp[k];
            a2 += w * xp[2 * k];
            a3 += w * xp[3 * k];
        }
    } else {
        const uint16_t *c = m->col_index;
        for (int32_t j = begin; j < end; ++j) {
            const float *xp = x + c[j];
            const float w = v[j];
            a0 += w * xp[0];
            a1 += w * xp[k];
            a2 += w * xp[2 * k];
            a3 += w * xp[3 * k];
        }
    }
    s[0] = a0;
    s[1] = a1;
    s[2] = a2;
    s[3] = a3;
}

static inline float dot1(const fn_csr *m, const float *v, int32_t begin, int32_t end, const float *x, float b)
{
    float acc = b;
    if (m->col_delta != NULL) {
        const uint8_t *d = m->col_delta;
        const float *xp = x;
        for (int32_t j = begin; j < end; ++j) {
            xp += d[j];
            acc += v[j] * *xp;
        }
    } else {
        const uint16_t *c = m->col_index;
        for (int32_t j = begin; j < end; ++j) {
            acc += v[j] * x[c[j]];
        }
    }
    return acc;
}

fn_status fn_fc_f32_csr(const fn_fc_f32_csr_params *p, const float *input, const float *values,
                        const float *bias, float *output)
{
    if (p == NULL || input == NULL || values == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    const fn_csr csr = fn_csr_view(p->out_features, p->in_features, p->entries, p->col_delta, p->col_index,
                                   p->row_start16, p->row_start32);
    const fn_csr *m = &csr;
    if (p->batch < 1 || !fn_csr_ok(m) || (p->out_stride != 0 && p->out_stride < m->rows)) {
        return FN_ERR_ARG;
    }
    const int32_t n_out = m->rows;
    const size_t row = p->out_stride > 0 ? (size_t)p->out_stride : (size_t)n_out;   /* floats per output row */
    const size_t k = (size_t)m->cols;
    const float lo = p->act_min, hi = p->act_max;
    int32_t b = 0;
    for (; b + 4 <= p->batch; b += 4) {
        const float *x = input + (size_t)b * k;
        float *out = output + (size_t)b * row;
        int32_t begin = 0;
        for (int32_t o = 0; o < n_out; ++o) {
            const int32_t end = fn_csr_row_start(m, o + 1);
            float s[4];
            dot4(m, values, begin, end, x, k, bias != NULL ? bias[o] : 0.0f, s);
            for (int32_t r = 0; r < 4; ++r) {
                out[(size_t)r * row + (size_t)o] = fn_clampf(s[r], lo, hi);
            }
            begin = end;
        }
    }
    for (; b < p->batch; ++b) {
        const float *x = input + (size_t)b * k;
        float *out = output + (size_t)b * row;
        int32_t begin = 0;
        for (int32_t o = 0; o < n_out; ++o) {
            const int32_t end = fn_csr_row_start(m, o + 1);
            out[o] = fn_clampf(dot1(m, values, begin, end, x, bias != NULL ? bias[o] : 0.0f), lo, hi);
            begin = end;
        }
    }
    return FN_OK;
}
