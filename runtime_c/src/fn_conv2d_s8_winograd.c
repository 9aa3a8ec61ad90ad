/* firmnet runtime: int8 3x3 stride-1 convolution by Winograd F(2x2, 3x3), portable C
 * (fn_conv2d_s8_winograd.h states the arithmetic and the bounds). Per tile row the 4 input
 * rows are copied into the scratch with their padding; per pair of neighbouring tiles the
 * input transforms go into the scratch once; per pair of output channels the 16 positions'
 * sums over the input channels take 4 products per 4 values loaded, then the output transform
 * and fn_conv2d_s8's output stage. */
#include "fn_conv2d_s8_winograd_impl.h"

fn_status fn_conv2d_s8_winograd(const fn_conv2d_s8_params *p, const int8_t *input, const int16_t *filter,
                                const int32_t *bias, int8_t *output, void *scratch)
{
    if (!fn_wino_s8_args_ok(p, input, filter, output, scratch)) {
        return FN_ERR_ARG;
    }
    fn_wino_s8_run(p, input, filter, bias, output, scratch, wino_tile_portable, wino_mac_portable);
    return FN_OK;
}
