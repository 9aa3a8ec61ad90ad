/* firmnet runtime: int8 fully connected layer for CPUs with the DSP extension
 * (fn_s8_dsp.h; the loops: fn_fc_s8_impl.h). */
#include "fn_fc_s8_impl.h"
#include "fn_s8_dsp.h"

#if FN_DSP
fn_status fn_fc_s8_dsp(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output)
{
    return fn_fc_s8_run(p, input, weights, bias, output, 1);
}
#else
/* Without the DSP extension (a host build of a project compiled for a CPU that has it, as
 * firmnet verify makes): the portable kernel, the same bytes, after this variant's checks. */
fn_status fn_fc_s8_dsp(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output)
{
    return fn_fc_s8(p, input, weights, bias, output);
}
#endif
