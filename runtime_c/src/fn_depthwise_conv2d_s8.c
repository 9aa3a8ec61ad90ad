/* firmnet runtime: int8 depthwise 2-D convolution with a channel multiplier, portable C
 * (fn_conv_s8.h). The loop is fn_dw_s8_walk (fn_depthwise_s8_impl.h), shared with the DSP
 * variants' last block. Output stage: fn_fast_out_s8 (fn_fixedpoint.h) when the call's
 * requantization allows it, else fn_finish_channel_s8; the same bytes either way. */
#include "fn_depthwise_s8_impl.h"

fn_status fn_depthwise_conv2d_s8(const fn_depthwise_conv2d_s8_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (!fn_dw_s8_args_ok(p, input, filter, output)) {
        return FN_ERR_ARG;
    }
    fn_channel_stage_s8 stage;
    fn_fast_out_s8 f;
    const int fast = fn_dw_s8_stage(p, bias, &stage, &f);
    fn_dw_s8_walk(p, input, filter, &f, fast, &stage, output, 0, 1);
    return FN_OK;
}
