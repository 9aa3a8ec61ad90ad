/* firmnet runtime: float32 3x3 convolution by Winograd F(4x4,3x3) (fn_conv2d_f32_winograd.h):
 * 6 x 6 input tiles, 4 x 4 output tiles, points 0, 1, -1, 2, -2, infinity. */
#include "fn_conv2d_f32_winograd_impl.h"

/* B^T applied to 6 values s[0], s[ss], ... -> t[0], t[ts], ...; rows of B^T:
 * (4 0 -5 0 1 0) (0 -4 -4 1 1 0) (0 4 -4 -1 1 0) (0 -2 -1 2 1 0) (0 2 -1 -2 1 0) (0 4 0 -5 0 1) */
static inline void input_1d(const float *s, size_t ss, float *t, size_t ts)
{
    const float d0 = s[0], d1 = s[ss], d2 = s[2 * ss], d3 = s[3 * ss], d4 = s[4 * ss], d5 = s[5 * ss];
    const float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1;
    const float r = d4 - d2, w = 2.0f * (d3 - d1);
    t[0] = 4.0f * d0 - 5.0f * d2 + d4;
    t[ts] = p + q;
    t[2 * ts] = p - q;
    t[3 * ts] = r + w;
    t[4 * ts] = r - w;
    t[5 * ts] = 4.0f * d1 - 5.0f * d3 + d5;
}

static inline void input_transform(const float *d, size_t row_step, size_t col_step, float *v, size_t stride)
{
    float t[36];
    for (int j = 0; j < 6; ++j) {             /* B^T d: the columns */
        input_1d(d + (size_t)j * col_step, row_step, t + j, 6);
    }
    for (int i = 0; i < 6; ++i) {             /* (B^T d) B: the rows */
        input_1d(t + 6 * i, 1, v + (size_t)(6 * i) * stride, stride);
    }
}

/* A^T applied to 6 values s[0], s[ss], ... -> t[0], t[ts], ...; rows of A^T:
 * (1 1 1 1 1 0) (0 1 -1 2 -2 0) (0 1 1 4 4 0) (0 1 -1 8 -8 1) */
static inline void output_1d(const float *s, size_t ss, float *t, size_t ts)
{
    const float s12 = s[ss] + s[2 * ss], d12 = s[ss] - s[2 * ss];
    const float s34 = s[3 * ss] + s[4 * ss], d34 = s[3 * ss] - s[4 * ss];
    t[0] = s[0] + s12 + s34;
    t[ts] = d12 + 2.0f * d34;
    t[2 * ts] = s12 + 4.0f * s34;
    t[3 * ts] = d12 + 8.0f * d34 + s[5 * ss];
}

static inline void output_transform(const float *m, float *y)
{
    float t[24];
    for (int j = 0; j < 6; ++j) {             /* A^T m: 4 x 6 */
        output_1d(m + j, 6, t + j, 6);
    }
    for (int i = 0; i < 4; ++i) {             /* (A^T m) A: 4 x 4 */
        output_1d(t + 6 * i, 1, y + 4 * i, 1);
    }
}

size_t fn_conv2d_f32_winograd_f4_scratch_size(const fn_conv2d_f32_winograd_params *p)
{
    return fn_wino_f32_scratch(p, 6);
}

fn_status fn_conv2d_f32_winograd_f4(const fn_conv2d_f32_winograd_params *p, const float *input, const float *u,
                                    const float *bias, float *output, void *scratch)
{
    return fn_wino_f32_run(p, input, u, bias, output, scratch, 4, input_transform, output_transform);
}
