/* firmnet runtime: int8 fully connected layer, portable C (fn_fc_s8.h; the loops:
 * fn_fc_s8_impl.h). */
#include "fn_fc_s8_impl.h"

fn_status fn_fc_s8(const fn_fc_s8_params *p, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output)
{
    return fn_fc_s8_run(p, input, weights, bias, output, 0);
}
