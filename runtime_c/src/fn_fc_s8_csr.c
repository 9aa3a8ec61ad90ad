/* firmnet runtime: int8 fully connected layer / 1x1 convolution with CSR weights
 * (fn_fc_s8_csr.h).
 *
 * Blocks of 4 input rows: per output channel, each entry's value and column are decoded once
 * and multiplied with the 4 rows' inputs (4 accumulators in registers), then the channel's 4
 * outputs are finished with its output-stage parameters gathered once; the rows left over
 * (batch % 4) take the one-row loop. Each storage form (uint8 steps or uint16 columns,
 * uint16 or uint32 row starts) has its own copy of the block loop (block4 inlined with
 * constant flags into one out-of-line function per form): no test of the form in the loops,
 * and a small register allocation (GCC 12 spilled the loop's pointers otherwise). */
#include "fn_dsp.h"
#include "fn_fc_s8_csr.h"

/* What one call's loops read. */
typedef struct {
    const fn_csr *m;
    const int8_t *values;
    size_t k;                        /* input row length (in_features) */
    const fn_fast_out_s8 *f;
    int fast;
    const fn_channel_stage_s8 *stage;
} csr_s8_call;

/* Every output channel of the 4 input rows x, x + k, x + 2k, x + 3k into out (row stride
 * n_out); delta, wide: the storage form (constants at each call). The call's fields are read
 * into locals first: the int8 output stores may alias anything the compiler cannot see is
 * constant. */
FN_ALWAYS_INLINE static inline void block4(const csr_s8_call *c, const int8_t *x, int8_t *out, const int delta,
                                           const int wide)
{
    const int32_t rows = c->m->rows;
    const uint8_t *const col_delta = c->m->col_delta;
    const uint16_t *const col_index = c->m->col_index;
    const uint16_t *const start16 = c->m->row_start16;
    const uint32_t *const start32 = c->m->row_start32;
    const int8_t *const v = c->values;
    const size_t k = c->k, n_out = (size_t)rows;
    const int fast = c->fast;
    const int32_t tflm = c->f->tflm, zo = c->f->output_offset;
    int32_t j = 0;
    for (int32_t o = 0; o < rows; ++o) {
        const int32_t end = wide ? (int32_t)start32[o + 1] : (int32_t)start16[o + 1];
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (delta) {
            const int8_t *xp = x;
            for (; j < end; ++j) {
                xp += col_delta[j];
                const int32_t w = v[j];
                a0 += w * xp[0];
                a1 += w * xp[k];
                a2 += w * xp[2 * k];
                a3 += w * xp[3 * k];
            }
        } else {
            for (; j < end; ++j) {
                const int8_t *xp = x + col_index[j];
                const int32_t w = v[j];
                a0 += w * xp[0];
                a1 += w * xp[k];
                a2 += w * xp[2 * k];
                a3 += w * xp[3 * k];
            }
        }
        int8_t *const y = out + o;
        if (fast) {
            const fn_fast_ch_s8 ch = fn_fast_out_s8_ch(c->f, o);
            y[0] = fn_fast_out_s8_ch_one(a0, &ch, tflm, zo);
            y[n_out] = fn_fast_out_s8_ch_one(a1, &ch, tflm, zo);
            y[2 * n_out] = fn_fast_out_s8_ch_one(a2, &ch, tflm, zo);
            y[3 * n_out] = fn_fast_out_s8_ch_one(a3, &ch, tflm, zo);
        } else {
            y[0] = fn_finish_channel_s8(c->stage, o, a0);
            y[n_out] = fn_finish_channel_s8(c->stage, o, a1);
            y[2 * n_out] = fn_finish_channel_s8(c->stage, o, a2);
            y[3 * n_out] = fn_finish_channel_s8(c->stage, o, a3);
        }
    }
}

FN_NOINLINE static void block4_delta16(const csr_s8_call *c, const int8_t *x, int8_t *out)
{
    block4(c, x, out, 1, 0);
}

FN_NOINLINE static void block4_delta32(const csr_s8_call *c, const int8_t *x, int8_t *out)
{
    block4(c, x, out, 1, 1);
}

FN_NOINLINE static void block4_index16(const csr_s8_call *c, const int8_t *x, int8_t *out)
{
    block4(c, x, out, 0, 0);
}

FN_NOINLINE static void block4_index32(const csr_s8_call *c, const int8_t *x, int8_t *out)
{
    block4(c, x, out, 0, 1);
}

/* Every output channel of one input row. */
static void row1(const csr_s8_call *c, const int8_t *x, int8_t *out)
{
    const fn_csr *m = c->m;
    const int8_t *v = c->values;
    int32_t j = 0;
    for (int32_t o = 0; o < m->rows; ++o) {
        const int32_t end = fn_csr_row_start(m, o + 1);
        int32_t acc = 0;
        if (m->col_delta != NULL) {
            const int8_t *xp = x;
            for (; j < end; ++j) {
                xp += m->col_delta[j];
                acc += v[j] * *xp;
            }
        } else {
            for (; j < end; ++j) {
                acc += v[j] * x[m->col_index[j]];
            }
        }
        out[o] = fn_finish_one_s8(c->f, c->fast, c->stage, o, acc);
    }
}

fn_status fn_fc_s8_csr(const fn_fc_s8_csr_params *p, const int8_t *input, const int8_t *values,
                       const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || values == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    const fn_csr m = fn_csr_view(p->out_features, p->in_features, p->entries, p->col_delta, p->col_index,
                                 p->row_start16, p->row_start32);
    if (p->batch < 1 || !fn_csr_ok(&m) || m.cols > FN_S8_MAX_DEPTH) {
        return FN_ERR_ARG;
    }
    if (!fn_requant_acc_s8_ok(&p->requant, m.rows)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, m.rows);
    const csr_s8_call c = {&m, values, (size_t)m.cols, &f, fast, &stage};
    void (*const block)(const csr_s8_call *, const int8_t *, int8_t *) =
        m.col_delta != NULL ? (m.row_start16 != NULL ? block4_delta16 : block4_delta32)
                            : (m.row_start16 != NULL ? block4_index16 : block4_index32);
    const size_t row_in = (size_t)m.cols, row_out = (size_t)m.rows;
    int32_t b = 0;
    for (; b + 4 <= p->batch; b += 4) {
        block(&c, input + (size_t)b * row_in, output + (size_t)b * row_out);
    }
    for (; b < p->batch; ++b) {
        row1(&c, input + (size_t)b * row_in, output + (size_t)b * row_out);
    }
    return FN_OK;
}
