/* firmnet runtime: int8 depthwise 2-D convolution with a channel multiplier.
 *
 * The filter is stored in blocks of FN_DW_S8_BLOCK output channels, each block
 * [kernel_h][kernel_w][4] (fn_conv_s8.h). For each output pixel the in-bounds taps
 * are found once; then every block is computed over all of its taps with four
 * register accumulators, reading the block's weights sequentially. The input channel
 * of each of the block's output channels is found once per block. */
#include "fn_conv_s8.h"
#include "fn_geometry.h"

fn_status fn_depthwise_conv2d_s8(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->depth_multiplier < 1 ||
        (int64_t)p->in_c * p->depth_multiplier > INT32_MAX) {
        return FN_ERR_ARG;
    }
    if ((int64_t)p->kernel_h * p->kernel_w > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    const int32_t out_c = p->in_c * p->depth_multiplier;
    if (!fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                               p->requant_mode, p->per_channel, out_c,
                               p->multiplier, p->shift, p->scale)) {
        return FN_ERR_ARG;
    }

    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t mult = p->depth_multiplier;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    const fn_channel_stage_s8 stage = {bias, p->requant_mode, p->per_channel, p->multiplier, p->shift,
                                       p->scale, p->output_offset, p->act_min, p->act_max};

    const size_t in_row = (size_t)in_w * (size_t)in_c;        /* bytes per input row */
    const size_t in_image = in_row * (size_t)in_h;
    const size_t taps = (size_t)kernel_h * (size_t)kernel_w;  /* filter bytes per channel */
    const size_t dil_w_step = (size_t)dil_w * (size_t)in_c;   /* input step between kx taps */
    const size_t dil_h_step = (size_t)dil_h * in_row;         /* input step between ky taps */

    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *in_b = input + (size_t)b * in_image;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * stride_h - p->pad_top;
            int32_t ky0, ky1;
            fn_tap_range(iy0, dil_h, kernel_h, in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * stride_w - p->pad_left;
                int32_t kx0, kx1;
                fn_tap_range(ix0, dil_w, kernel_w, in_w, &kx0, &kx1);
                const int32_t n_ky = ky1 > ky0 ? ky1 - ky0 : 0;
                const int32_t n_kx = kx1 > kx0 ? kx1 - kx0 : 0;
                /* input pixel of the first valid tap, channel 0 (in_b when there is
                 * no valid tap; then no row is visited). Taps are addressed by size_t
                 * offsets from there, so no pointer is formed past an array's end. */
                const int32_t rows = n_kx > 0 ? n_ky : 0;
                const int8_t *x_tap0 = in_b;
                if (rows > 0) {
                    x_tap0 = in_b + (size_t)(iy0 + ky0 * dil_h) * in_row
                                  + (size_t)(ix0 + kx0 * dil_w) * (size_t)in_c;
                }
                /* the input channel of output channel oc is ic; j = oc - ic * mult */
                int32_t ic = 0, j = 0;
                int32_t oc = 0;

                for (; oc + FN_DW_S8_BLOCK <= out_c; oc += FN_DW_S8_BLOCK) {
                    int32_t lane_ic[FN_DW_S8_BLOCK];
                    for (int32_t l = 0; l < FN_DW_S8_BLOCK; ++l) {
                        lane_ic[l] = ic;
                        if (++j == mult) {
                            j = 0;
                            ++ic;
                        }
                    }
                    const int8_t *x0 = x_tap0 + lane_ic[0];
                    const int8_t *x1 = x_tap0 + lane_ic[1];
                    const int8_t *x2 = x_tap0 + lane_ic[2];
                    const int8_t *x3 = x_tap0 + lane_ic[3];
                    const int8_t *w = filter + (size_t)oc * taps;
                    int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
                    size_t x_row = 0;
                    for (int32_t ky = ky0; ky < ky0 + rows; ++ky) {
                        size_t xo = x_row;
                        size_t wo = ((size_t)ky * (size_t)kernel_w + (size_t)kx0) * FN_DW_S8_BLOCK;
                        for (int32_t k = 0; k < n_kx; ++k) {
                            acc0 += ((int32_t)x0[xo] + input_offset) * w[wo];
                            acc1 += ((int32_t)x1[xo] + input_offset) * w[wo + 1];
                            acc2 += ((int32_t)x2[xo] + input_offset) * w[wo + 2];
                            acc3 += ((int32_t)x3[xo] + input_offset) * w[wo + 3];
                            xo += dil_w_step;
                            wo += FN_DW_S8_BLOCK;
                        }
                        x_row += dil_h_step;
                    }
                    out[oc] = fn_finish_channel_s8(&stage, oc, acc0);
                    out[oc + 1] = fn_finish_channel_s8(&stage, oc + 1, acc1);
                    out[oc + 2] = fn_finish_channel_s8(&stage, oc + 2, acc2);
                    out[oc + 3] = fn_finish_channel_s8(&stage, oc + 3, acc3);
                }

                /* last block: n < 4 channels, stored [kernel_h][kernel_w][n] */
                const int32_t n = out_c - oc;
                const int8_t *w_last = filter + (size_t)oc * taps;
                for (int32_t l = 0; l < n; ++l, ++oc) {
                    const int8_t *x_c = x_tap0 + ic;
                    int32_t acc = 0;
                    size_t x_row = 0;
                    for (int32_t ky = ky0; ky < ky0 + rows; ++ky) {
                        size_t xo = x_row;
                        size_t wo = ((size_t)ky * (size_t)kernel_w + (size_t)kx0) * (size_t)n + (size_t)l;
                        for (int32_t k = 0; k < n_kx; ++k) {
                            acc += ((int32_t)x_c[xo] + input_offset) * w_last[wo];
                            xo += dil_w_step;
                            wo += (size_t)n;
                        }
                        x_row += dil_h_step;
                    }
                    out[oc] = fn_finish_channel_s8(&stage, oc, acc);
                    if (++j == mult) {
                        j = 0;
                        ++ic;
                    }
                }
                out += out_c;
            }
        }
    }
    return FN_OK;
}
