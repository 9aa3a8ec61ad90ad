/* firmnet runtime: the general int8 output stage of one output channel (fn_conv_s8.h). */
#include "fn_conv_s8.h"

int8_t fn_finish_channel_s8(const fn_channel_stage_s8 *q, int32_t c, int32_t sum)
{
    const fn_requant_acc_s8 *const rq = &q->rq;
    if (rq->mode == FN_REQUANT_ORT) {
        return fn_finish_ort_s8(q, c, sum);
    }
    const int32_t ch = rq->per_channel ? c : 0;
    int32_t acc = sum;
    if (q->bias != NULL) {
        acc = (int32_t)((uint32_t)sum + (uint32_t)q->bias[c]);
    }
    return fn_output_stage_s8(acc, rq->mode, rq->multiplier[ch], rq->shift[ch], 0.0f, rq->output_offset,
                              rq->act_min, rq->act_max);
}
