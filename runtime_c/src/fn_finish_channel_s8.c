/* firmnet runtime: the general int8 output stage of one output channel (fn_conv_s8.h). */
#include "fn_conv_s8.h"

int8_t fn_finish_channel_s8(const fn_channel_stage_s8 *q, int32_t c, int32_t sum)
{
    const int32_t ch = q->per_channel ? c : 0;
    int32_t acc = sum;
    if (q->bias != NULL) {
        acc = (int32_t)((uint32_t)sum + (uint32_t)q->bias[c]);
    }
    if (q->requant_mode == FN_REQUANT_ORT) {
        return fn_output_stage_s8(acc, FN_REQUANT_ORT, 0, 0, q->scale[ch], q->output_offset, q->act_min,
                                  q->act_max);
    }
    return fn_output_stage_s8(acc, q->requant_mode, q->multiplier[ch], q->shift[ch], 0.0f, q->output_offset,
                              q->act_min, q->act_max);
}
