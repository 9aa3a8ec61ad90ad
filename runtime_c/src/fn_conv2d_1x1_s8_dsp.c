/* firmnet runtime: int8 1x1 convolution, stride 1, no padding, for CPUs with the DSP
 * extension (fn_s8_dsp.h; the loops: fn_conv_1x1_s8_impl.h). */
#include "fn_conv_1x1_s8_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
fn_status fn_conv2d_1x1_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch)
{
    return fn_pw_s8_run(p, input, filter, bias, output, scratch, 1);
}
#else
/* Without the DSP extension (a host build of a project compiled for a CPU that has it, as
 * firmnet verify makes): the portable kernel, the same bytes, after this variant's checks. */
fn_status fn_conv2d_1x1_s8_dsp(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch)
{
    if (scratch == NULL) {
        return FN_ERR_ARG;
    }
    return fn_conv2d_1x1_s8(p, input, filter, bias, output);
}
#endif
