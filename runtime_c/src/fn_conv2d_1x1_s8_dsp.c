/* firmnet runtime: int8 1x1 convolution, stride 1, no padding, for CPUs with the DSP
 * extension (fn_s8_dsp.h; the loops: fn_conv_1x1_s8_impl.h). Where FN_DSP is 0 (a host build
 * of a project compiled for such a CPU, as firmnet verify makes) fn_pw_s8_run compiles
 * without its DSP code: the portable kernel, the same bytes. */
#include "fn_conv_1x1_s8_impl.h"
#include "fn_s8_dsp.h"

fn_status fn_conv2d_1x1_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch)
{
    return fn_pw_s8_run(p, input, filter, bias, output, scratch, 1);
}
