/* firmnet runtime: int8 fully connected layer for CPUs with the DSP extension
 * (fn_s8_dsp.h; the loops: fn_fc_s8_impl.h). Where FN_DSP is 0 (a host build of a project
 * compiled for such a CPU, as firmnet verify makes) fn_fc_s8_run compiles without its DSP
 * code: the portable kernel, the same bytes. */
#include "fn_fc_s8_impl.h"
#include "fn_s8_dsp.h"

fn_status fn_fc_s8_dsp(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output)
{
    return fn_fc_s8_run(p, input, weights, bias, output, 1);
}
