/* firmnet runtime, internal: code shared by the int8 convolution variants
 * (fn_conv2d_s8.c, portable; fn_conv2d_s8_dsp.c, DSP extension): the argument check. */
#ifndef FN_CONV_S8_IMPL_H
#define FN_CONV_S8_IMPL_H

#include "fn_conv_s8.h"
#include "fn_geometry.h"

/* 1 if the pointers and the fields of p meet fn_conv2d_s8's constraints (fn_conv_s8.h);
 * requant: whether the output stage is used (fn_conv2d_s8_s32 ignores its fields). */
static inline int fn_conv2d_s8_args_ok(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                                       const void *output, int requant)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL) {
        return 0;
    }
    if (!fn_axis_ok(p->in_h, p->out_h, p->kernel_h, p->stride_h, p->dilation_h, p->pad_top, 0) ||
        !fn_axis_ok(p->in_w, p->out_w, p->kernel_w, p->stride_w, p->dilation_w, p->pad_left, 0) ||
        p->batch < 1 || p->in_c < 1 || p->out_c < 1 || p->groups < 1 ||
        p->in_c % p->groups != 0 || p->out_c % p->groups != 0) {
        return 0;
    }
    const int64_t taps = (int64_t)p->kernel_h * p->kernel_w;   /* < 2^62; the depth below < 2^63 */
    if (taps > FN_S8_MAX_DEPTH ||
        taps * (p->in_c / p->groups) > (p->filter_offset != NULL ? FN_S8_MAX_DEPTH_OFFSET : FN_S8_MAX_DEPTH)) {
        return 0;
    }
    if (p->filter_offset != NULL) {
        for (int32_t c = 0; c < p->out_c; ++c) {
            if (p->filter_offset[c] < -127 || p->filter_offset[c] > 128) {
                return 0;
            }
        }
    }
    if (!requant) {
        return p->input_offset >= -127 && p->input_offset <= 128;
    }
    return fn_quant_s8_fields_ok(p->input_offset, p->output_offset, p->act_min, p->act_max,
                                 p->requant_mode, p->per_channel, p->out_c,
                                 p->multiplier, p->shift, p->scale);
}

#endif
