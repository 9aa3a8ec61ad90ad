/* firmnet runtime: int8 2-D convolution with groups, direct (no im2col scratch).
 *
 * For each output pixel the taps that land inside the input are found once (rows
 * and columns separately), so padding costs no branch per tap. Output channels of a
 * group are computed four at a time: each input value, with the input offset added,
 * is loaded once for four accumulators. When a filter row and the matching input
 * row are both contiguous (dilation_w == 1 and groups == 1) the kx and channel loops
 * are fused into one run of n_kx * in_c products.
 *
 * With a filter offset (weights with zero points) the window's input sum is computed
 * once per output pixel and group, and filter_offset[c] times it is added to each
 * channel's sum (fn_conv_s8.h). fn_conv2d_s8_s32 shares the loops and stores the
 * accumulators instead of requantizing them. */
#include "fn_conv_s8_impl.h"

fn_status fn_conv2d_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                       const int8_t *filter, const int32_t *bias, int8_t *output)
{
    if (!fn_conv2d_s8_args_ok(p, input, filter, output, 1)) {
        return FN_ERR_ARG;
    }
    fn_conv2d_s8_portable(p, input, filter, bias, output);
    return FN_OK;
}

fn_status fn_conv2d_s8_s32(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int32_t *output)
{
    if (!fn_conv2d_s8_args_ok(p, input, filter, output, 0)) {
        return FN_ERR_ARG;
    }
    conv_sink sink = {{bias, {0, 0, 0, 0, 0, NULL, NULL, NULL}}, p->filter_offset, NULL, output};
    conv_loops(p, input, filter, &sink);
    return FN_OK;
}
