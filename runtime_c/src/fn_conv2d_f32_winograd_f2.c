/* firmnet runtime: float32 3x3 convolution by Winograd F(2x2,3x3) (fn_conv2d_f32_winograd.h):
 * 4 x 4 input tiles, 2 x 2 output tiles, points 0, 1, -1, infinity; both transforms are
 * additions only. */
#include "fn_conv2d_f32_winograd_impl.h"

/* B^T applied to 4 values s[0], s[ss], ... -> t[0], t[ts], ... */
static inline void input_1d(const float *s, size_t ss, float *t, size_t ts)
{
    const float d0 = s[0], d1 = s[ss], d2 = s[2 * ss], d3 = s[3 * ss];
    t[0] = d0 - d2;
    t[ts] = d1 + d2;
    t[2 * ts] = d2 - d1;
    t[3 * ts] = d1 - d3;
}

static inline void input_transform(const float *d, size_t row_step, size_t col_step, float *v, size_t stride)
{
    float t[16];
    for (int j = 0; j < 4; ++j) {             /* B^T d: the columns */
        input_1d(d + (size_t)j * col_step, row_step, t + j, 4);
    }
    for (int i = 0; i < 4; ++i) {             /* (B^T d) B: the rows */
        input_1d(t + 4 * i, 1, v + (size_t)(4 * i) * stride, stride);
    }
}

/* A^T applied to 4 values s[0], s[ss], ... -> t[0], t[ts]. */
static inline void output_1d(const float *s, size_t ss, float *t, size_t ts)
{
    t[0] = s[0] + s[ss] + s[2 * ss];
    t[ts] = s[ss] - s[2 * ss] - s[3 * ss];
}

static inline void output_transform(const float *m, float *y)
{
    float t[8];
    for (int j = 0; j < 4; ++j) {             /* A^T m: 2 x 4 */
        output_1d(m + j, 4, t + j, 4);
    }
    for (int i = 0; i < 2; ++i) {             /* (A^T m) A: 2 x 2 */
        output_1d(t + 4 * i, 1, y + 2 * i, 1);
    }
}

size_t fn_conv2d_f32_winograd_f2_scratch_size(const fn_conv2d_f32_winograd_params *p)
{
    return fn_wino_f32_scratch(p, 4);
}

fn_status fn_conv2d_f32_winograd_f2(const fn_conv2d_f32_winograd_params *p, const float *input, const float *u,
                                    const float *bias, float *output, void *scratch)
{
    return fn_wino_f32_run(p, input, u, bias, output, scratch, 2, input_transform, output_transform);
}
