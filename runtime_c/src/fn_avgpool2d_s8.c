/* firmnet runtime: int8 2-D average pooling (NHWC).
 *
 * Per output pixel the in-bounds tap ranges and the divisor are computed once; the
 * channels are then processed in blocks of FN_AVG_BLOCK, each block's sums kept in a
 * stack array (int32, or float32 for the ORT method) while the window's taps are
 * added in ky, kx order (the order onnxruntime's float sum uses), one contiguous pass
 * per tap. */
#include "fn_pool_s8.h"
#include "fn_geometry.h"

#include "fn_elementwise_s8.h"
#include "fn_fixedpoint.h"

#define FN_AVG_BLOCK 32

/* Divisor factor of one axis for the window at origin with in-bounds taps [k0, k1). */
static int32_t axis_count(int32_t rule, int32_t origin, int32_t kernel, int32_t in, int32_t pad_after,
                          int32_t k0, int32_t k1)
{
    if (rule == FN_POOL_COUNT_KERNEL) {
        return kernel;
    }
    if (rule == FN_POOL_COUNT_PAD_CUT) {
        return fn_window_len_cut(origin, kernel, in, pad_after);
    }
    return k1 - k0;
}

/* fn_pool_s8_quant_ok plus average pooling's own rules. */
static int quant_ok(const fn_pool2d_s8_params *p, int64_t area)
{
    if (!fn_pool_s8_quant_ok(p) ||
        p->count_rule < FN_POOL_COUNT_VALID || p->count_rule > FN_POOL_COUNT_KERNEL) {
        return 0;
    }
    if (p->method == FN_POOL_S8_REQUANT) {
        return p->frac_bits >= 0 && p->frac_bits <= 16 && (area << p->frac_bits) < ((int64_t)1 << 29);
    }
    if (p->method == FN_POOL_S8_ORT_GLOBAL) {
        return p->kernel_h == p->in_h && p->kernel_w == p->in_w && p->pad_top == 0 && p->pad_left == 0 &&
               p->pad_bottom == 0 && p->pad_right == 0 && p->out_h == 1 && p->out_w == 1;
    }
    return 1;
}

/* TFLite's rounded division: ties away from zero, C's truncating division; d >= 1.
 * In int64, so that no parameters can make it overflow. */
static int64_t round_div(int64_t t, int64_t d)
{
    return t > 0 ? (t + d / 2) / d : (t - d / 2) / d;
}

static int32_t clamp_act(int64_t v, const fn_pool2d_s8_params *p)
{
    v = v < p->act_min ? p->act_min : v;
    return (int32_t)(v > p->act_max ? p->act_max : v);
}

/* Integer methods: acc[c] = sum of the raw int8 values of the window's n_valid taps. */
static void finish_int(const fn_pool2d_s8_params *p, const int32_t *acc, int8_t *out, int32_t nb,
                       int32_t n, int32_t n_valid)
{
    const int32_t in_off = p->input_offset;
    for (int32_t c = 0; c < nb; ++c) {
        int64_t v;
        if (p->method == FN_POOL_S8_SAME_QUANT) {
            /* padded taps the divisor counts hold the zero point (real 0) */
            v = round_div(acc[c] - (n - n_valid) * in_off, n);
        } else if (p->method == FN_POOL_S8_REQUANT) {
            const int32_t t = fn_requantize(acc[c] + in_off * n_valid, p->requant_mode, p->multiplier,
                                            p->shift, 0.0f, 0, 0);
            v = round_div(t, (int64_t)n << p->frac_bits) + p->output_offset;
        } else {   /* ORT_GLOBAL: MlasRequantizeOutput */
            v = fn_round_clamp_ort((float)(acc[c] + in_off * n_valid) * p->global_scale,
                                   p->act_min - p->output_offset, p->act_max - p->output_offset) +
                p->output_offset;
        }
        out[c] = (int8_t)clamp_act(v, p);
    }
}

/* ORT method: facc[c] = float32 sum of the dequantized taps. */
static void finish_ort(const fn_pool2d_s8_params *p, const float *facc, int8_t *out, int32_t nb, int32_t n)
{
    const float count = (float)n;
    const int32_t shift = p->ort_zero_shift;               /* 128: onnxruntime's uint8 kernel */
    const float zp = (float)(p->output_offset + shift);
    for (int32_t c = 0; c < nb; ++c) {
        const float y = facc[c] / count;
        const float v = y / p->output_scale + zp;
        out[c] = (int8_t)clamp_act(fn_round_even_sat_f32(v, -128 + shift, 127 + shift) - shift, p);
    }
}

fn_status fn_avgpool2d_s8(const fn_pool2d_s8_params *p, const int8_t *input, int8_t *output)
{
    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->channels < 1 ||
        (p->out_stride != 0 && p->out_stride < p->channels) || p->dilation_h != 1 || p->dilation_w != 1 ||
        !fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, 1, p->pad_top, p->pad_bottom) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, 1, p->pad_left, p->pad_right)) {
        return FN_ERR_ARG;
    }
    const int64_t area = (int64_t)p->kernel_h * p->kernel_w;
    if (area > FN_POOL_S8_MAX_AREA || !quant_ok(p, area) ||
        !fn_axis_windows_nonempty(p->in_h, p->out_h, p->kernel_h, p->stride_h, 1, p->pad_top) ||
        !fn_axis_windows_nonempty(p->in_w, p->out_w, p->kernel_w, p->stride_w, 1, p->pad_left)) {
        return FN_ERR_ARG;
    }

    const int32_t channels = p->channels;
    const size_t ch = (size_t)channels;
    const size_t px = p->out_stride > 0 ? (size_t)p->out_stride : ch;   /* bytes per output pixel */
    const size_t in_row = (size_t)p->in_w * ch;
    const size_t in_image = in_row * (size_t)p->in_h;
    const int use_float = p->method == FN_POOL_S8_ORT;
    int32_t acc[FN_AVG_BLOCK];
    float facc[FN_AVG_BLOCK];

    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, 1, p->kernel_h, p->in_h, &ky0, &ky1);
            const int32_t count_h = axis_count(p->count_rule, iy0, p->kernel_h, p->in_h, p->pad_bottom, ky0, ky1);
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, 1, p->kernel_w, p->in_w, &kx0, &kx1);
                const int32_t count_w = axis_count(p->count_rule, ix0, p->kernel_w, p->in_w, p->pad_right,
                                                   kx0, kx1);
                const int32_t n = count_h * count_w;     /* <= area */
                const int32_t n_valid = (ky1 - ky0) * (kx1 - kx0);
                const int8_t *x_win = in_b + (size_t)(iy0 + ky0) * in_row + (size_t)(ix0 + kx0) * ch;

                for (int32_t c0 = 0; c0 < channels; c0 += FN_AVG_BLOCK) {
                    const int32_t nb = channels - c0 < FN_AVG_BLOCK ? channels - c0 : FN_AVG_BLOCK;
                    const int8_t *x_row = x_win + c0;
                    if (use_float) {
                        for (int32_t c = 0; c < nb; ++c) {
                            facc[c] = 0.0f;
                        }
                        for (int32_t ky = ky0; ky < ky1; ++ky, x_row += in_row) {
                            const int8_t *x_px = x_row;
                            for (int32_t kx = kx0; kx < kx1; ++kx, x_px += ch) {
                                for (int32_t c = 0; c < nb; ++c) {
                                    /* rounded product, then the sum (no contraction) */
                                    volatile float d = p->input_scale * (float)(x_px[c] + p->input_offset);
                                    facc[c] += d;
                                }
                            }
                        }
                        finish_ort(p, facc, out + c0, nb, n);
                    } else {
                        for (int32_t c = 0; c < nb; ++c) {
                            acc[c] = 0;
                        }
                        for (int32_t ky = ky0; ky < ky1; ++ky, x_row += in_row) {
                            const int8_t *x_px = x_row;
                            for (int32_t kx = kx0; kx < kx1; ++kx, x_px += ch) {
                                for (int32_t c = 0; c < nb; ++c) {
                                    acc[c] += x_px[c];
                                }
                            }
                        }
                        finish_int(p, acc, out + c0, nb, n, n_valid);
                    }
                }
                out += px;
            }
        }
    }
    return FN_OK;
}
