/* firmnet runtime: float32 normalization, three passes per group (sum, sum of squared
 * deviations, normalize and scale). A group's elements are visited as runs of
 * channels / groups * inner consecutive floats, one run per outer index. */
#include "fn_norm_f32.h"
#include "fn_rsqrt_f32.h"

/* Sums over the group's elements in memory order, of x (sum_x) or of (x - center)^2
 * (sum_sq). Runs are cut into chunks of at most FN_NORM_BLOCK elements; chunks add into a
 * partial sum, which is added to the total once it holds FN_NORM_BLOCK elements or more
 * (so a partial sum has fewer than 2 * FN_NORM_BLOCK terms and the total at most
 * count / FN_NORM_BLOCK + 1). Short runs (NHWC: a group's channels at one pixel) take a
 * loop without the chunking, with the same order of additions. */
#define FN_GROUP_SUM(NAME, TERM)                                                              \
    static float NAME(const float *x, int32_t outer, size_t run, size_t stride, float center) \
    {                                                                                       \
        float total = 0.0f, part = 0.0f;                                                    \
        size_t held = 0;                                                                    \
        (void)center;                                                                       \
        if (run <= FN_NORM_BLOCK) {                                                         \
            for (int32_t o = 0; o < outer; ++o) {                                           \
                const float *v = x + (size_t)o * stride;                                    \
                for (size_t j = 0; j < run; ++j) {                                          \
                    part += TERM;                                                           \
                }                                                                           \
                held += run;                                                                \
                if (held >= FN_NORM_BLOCK) {                                                \
                    total += part;                                                          \
                    part = 0.0f;                                                            \
                    held = 0;                                                               \
                }                                                                           \
            }                                                                               \
            return total + part;                                                            \
        }                                                                                   \
        for (int32_t o = 0; o < outer; ++o) {                                               \
            for (size_t i = 0; i < run; i += FN_NORM_BLOCK) {                               \
                const size_t n = run - i < FN_NORM_BLOCK ? run - i : FN_NORM_BLOCK;         \
                const float *v = x + (size_t)o * stride + i;                                \
                for (size_t j = 0; j < n; ++j) {                                            \
                    part += TERM;                                                           \
                }                                                                           \
                held += n;                                                                  \
                if (held >= FN_NORM_BLOCK) {                                                \
                    total += part;                                                          \
                    part = 0.0f;                                                            \
                    held = 0;                                                               \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        return total + part;                                                                \
    }

FN_GROUP_SUM(sum_x, v[j])
FN_GROUP_SUM(sum_sq, (v[j] - center) * (v[j] - center))

fn_status fn_norm_f32(const fn_norm_f32_params *p, const float *input, const float *scale, const float *bias,
                      float *output, float *mean_out, float *inv_std_out)
{
    if (p == NULL || input == NULL || scale == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->outer < 1 || p->channels < 1 || p->inner < 1 || p->groups < 1 ||
        p->channels % p->groups != 0 ||
        (int64_t)p->batch * p->outer * (int64_t)p->channels * p->inner > INT32_MAX) {
        return FN_ERR_ARG;
    }
    const int32_t cg = p->channels / p->groups;
    const size_t inner = (size_t)p->inner;
    const size_t run = (size_t)cg * inner;                       /* one group's floats per outer index */
    const size_t stride = (size_t)p->channels * inner;           /* floats per outer index */
    const size_t image = stride * (size_t)p->outer;
    const float count = (float)((int64_t)p->outer * run);
    for (int32_t b = 0; b < p->batch; ++b) {
        for (int32_t g = 0; g < p->groups; ++g) {
            const size_t first = (size_t)b * image + (size_t)g * run;
            const float *x = input + first;
            const float mean = sum_x(x, p->outer, run, stride, 0.0f) / count;
            const float var = sum_sq(x, p->outer, run, stride, mean) / count;
            const float inv = fn_rsqrtf(var + p->epsilon);
            if (mean_out != NULL) {
                mean_out[b * p->groups + g] = mean;
            }
            if (inv_std_out != NULL) {
                inv_std_out[b * p->groups + g] = inv;
            }
            float *y = output + first;
            for (int32_t o = 0; o < p->outer; ++o) {
                const float *xr = x + (size_t)o * stride;
                float *yr = y + (size_t)o * stride;
                if (inner == 1) {            /* NHWC and layer norm: the channels are the run */
                    const float *s = scale + g * cg;
                    if (bias != NULL) {
                        const float *t = bias + g * cg;
                        for (int32_t c = 0; c < cg; ++c) {
                            yr[c] = ((xr[c] - mean) * inv) * s[c] + t[c];
                        }
                    } else {
                        for (int32_t c = 0; c < cg; ++c) {
                            yr[c] = ((xr[c] - mean) * inv) * s[c] + 0.0f;
                        }
                    }
                    continue;
                }
                for (int32_t c = 0; c < cg; ++c) {
                    const int32_t ch = g * cg + c;
                    const float s = scale[ch];
                    const float t = bias != NULL ? bias[ch] : 0.0f;
                    const float *xc = xr + (size_t)c * inner;
                    float *yc = yr + (size_t)c * inner;
                    for (size_t i = 0; i < inner; ++i) {
                        yc[i] = ((xc[i] - mean) * inv) * s + t;
                    }
                }
            }
        }
    }
    return FN_OK;
}
