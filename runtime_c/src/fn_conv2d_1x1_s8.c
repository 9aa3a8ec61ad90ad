/* firmnet runtime: int8 1x1 convolution, stride 1, no padding, portable C
 * (fn_conv_1x1_s8.h; the loops: fn_conv_1x1_s8_impl.h). */
#include "fn_conv_1x1_s8_impl.h"

fn_status fn_conv2d_1x1_s8(const fn_conv2d_s8_params *p, const int8_t *input,
                           const int8_t *filter, const int32_t *bias, int8_t *output)
{
    return fn_pw_s8_run(p, input, filter, bias, output, NULL, 0);
}
