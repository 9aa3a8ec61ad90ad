/* firmnet runtime: fn_fc_s8_codebook_dsp (fn_s8_dsp.h): the int8 codebook fully connected
 * layer with a table of weight pairs and SMLAD. Its indices are pair-ordered and the rows
 * interleaved by blocks of 4 (fn_s8_dsp.h): a block's 4 rows read one pointer. Where FN_DSP
 * is 0 it reads the same indices one weight at a time: the same bytes, for host builds. */
#include "fn_codebook_dsp_impl.h"
#include "fn_s8_dsp.h"

#if !FN_DSP
/* The index of weight j of row o (of rows) in the interleaved pair-ordered layout. */
static uint32_t fc_index(const uint8_t *indices, size_t row_bytes, int32_t rows, int32_t o, int32_t j, int32_t bits)
{
    const size_t step = (size_t)bits / 2, g = (size_t)j / 4;      /* index bytes per group, the group */
    const int32_t full = rows & ~3;
    const uint8_t *grp = o < full ? indices + (size_t)(o & ~3) * row_bytes + (g * 4 + (size_t)(o & 3)) * step
                                  : indices + (size_t)o * row_bytes + g * step;
    return fn_codebook_index(grp, fn_cb_pair_position(j) & 3, bits);
}
#endif

#if FN_DSP
/* s + the 4 products of the input pairs (xe, xo) with the weights of the group at p. */
FN_ALWAYS_INLINE static inline int32_t group(const uint32_t *t, const uint8_t *p, int32_t xe, int32_t xo, int32_t s,
                                             const int bits)
{
    int32_t e, o;
    fn_cb_lookup(t, p, bits, &e, &o);
    return __smlad(xo, o, __smlad(xe, e, s));
}

/* What one call's loops read. */
typedef struct {
    const uint32_t *table;
    const uint8_t *indices;
    size_t row_bytes, k;
    int32_t rows;                    /* output features */
    const fn_fast_out_s8 *f;
    int fast;
    const fn_channel_stage_s8 *stage;
} cb_dsp_call;

/* Every output feature of the 4 input rows at x (stride k) into out (stride rows): each
 * group's pairs are looked up once for the 4 rows. */
FN_ALWAYS_INLINE static inline void pixels4(const cb_dsp_call *c, const int8_t *x, int8_t *out, const int bits)
{
    const uint32_t *const t = c->table;
    const size_t k = c->k, n_out = (size_t)c->rows, step = (size_t)bits / 2;   /* index bytes per group */
    const int32_t full = c->rows & ~3;           /* rows in interleaved blocks of 4 */
    for (int32_t o = 0; o < c->rows; ++o) {
        const uint8_t *ix = o < full ? c->indices + (size_t)(o & ~3) * c->row_bytes + (size_t)(o & 3) * step
                                     : c->indices + (size_t)o * c->row_bytes;
        const size_t stride = o < full ? 4 * step : step;   /* between a row's groups */
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *x0 = x, *x2 = x + 2 * k;
        const int8_t *const x_end = x + k;
        while (x0 != x_end) {
            int32_t pe, po;
            fn_cb_lookup(t, ix, bits, &pe, &po);
            int32_t a = fn_load4(x0);
            s0 = __smlad(fn_sxtb16_ror8(a), po, __smlad(__sxtb16(a), pe, s0));
            a = fn_load4(x0 + k);
            s1 = __smlad(fn_sxtb16_ror8(a), po, __smlad(__sxtb16(a), pe, s1));
            a = fn_load4(x2);
            s2 = __smlad(fn_sxtb16_ror8(a), po, __smlad(__sxtb16(a), pe, s2));
            a = fn_load4(x2 + k);
            s3 = __smlad(fn_sxtb16_ror8(a), po, __smlad(__sxtb16(a), pe, s3));
            ix += stride;
            x0 += 4;
            x2 += 4;
        }
        int8_t *y = out + o;
        y[0] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s0);
        y[n_out] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s1);
        y[2 * n_out] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s2);
        y[3 * n_out] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s3);
    }
}

/* One group of 4 inputs (xp + d) for the 4 output rows of a block, whose indices are at
 * ip + di (row r's at + r * step). */
#define CB_GROUP4(d, di)                                                  \
    do {                                                                  \
        const int32_t a_ = fn_load4(xp + (d));                            \
        const int32_t xe_ = __sxtb16(a_), xo_ = fn_sxtb16_ror8(a_);       \
        s0 = group(t, ip + (di), xe_, xo_, s0, bits);                     \
        FN_BARRIER();                                                     \
        s1 = group(t, ip + (di) + step, xe_, xo_, s1, bits);              \
        FN_BARRIER();                                                     \
        s2 = group(t, ip + (di) + 2 * step, xe_, xo_, s2, bits);          \
        FN_BARRIER();                                                     \
        s3 = group(t, ip + (di) + 3 * step, xe_, xo_, s3, bits);          \
        FN_BARRIER();                                                     \
    } while (0)

/* Every output feature of the one input row x: 4 output rows (a block of interleaved
 * indices, one pointer) share each input word, two groups per step. */
FN_ALWAYS_INLINE static inline void row1(const cb_dsp_call *c, const int8_t *x, int8_t *out, const int bits)
{
    const uint32_t *const t = c->table;
    const size_t rb = c->row_bytes, step = (size_t)bits / 2;
    const int8_t *const x_end = x + c->k;
    int32_t o = 0;
    for (; o + 4 <= c->rows; o += 4) {
        const uint8_t *ip = c->indices + (size_t)o * rb;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *xp = x;
        if ((c->k & 4) != 0) {              /* an odd number of groups: one first, then two per step */
            CB_GROUP4(0, 0);
            xp += 4;
            ip += 4 * step;
        }
        for (; xp != x_end; xp += 8, ip += 8 * step) {
            CB_GROUP4(0, 0);
            CB_GROUP4(4, 4 * step);
        }
        const int32_t sums[4] = {s0, s1, s2, s3};
        fn_finish_channels_s8(c->f, c->fast, c->stage, o, 4, sums, out);
    }
    for (; o < c->rows; ++o) {
        const uint8_t *p = c->indices + (size_t)o * rb;
        int32_t s = 0;
        for (const int8_t *xp = x; xp != x_end; xp += 4, p += step) {
            const int32_t a = fn_load4(xp);
            s = group(t, p, __sxtb16(a), fn_sxtb16_ror8(a), s, bits);
        }
        out[o] = fn_finish_one_s8(c->f, c->fast, c->stage, o, s);
    }
}

FN_NOINLINE static void pixels4_b2(const cb_dsp_call *c, const int8_t *x, int8_t *out) { pixels4(c, x, out, 2); }
FN_NOINLINE static void pixels4_b4(const cb_dsp_call *c, const int8_t *x, int8_t *out) { pixels4(c, x, out, 4); }
FN_NOINLINE static void row1_b2(const cb_dsp_call *c, const int8_t *x, int8_t *out) { row1(c, x, out, 2); }
FN_NOINLINE static void row1_b4(const cb_dsp_call *c, const int8_t *x, int8_t *out) { row1(c, x, out, 4); }
#endif

fn_status fn_fc_s8_codebook_dsp(const fn_fc_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                                const uint8_t *indices, const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL || scratch == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features > FN_S8_MAX_DEPTH || p->out_features < 1 ||
        fn_fc_s8_codebook_dsp_scratch_size(p) == 0 || !fn_requant_acc_s8_ok(&p->requant, p->out_features)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_features);
    const size_t k = (size_t)p->in_features, n_out = (size_t)p->out_features;
    const size_t row_bytes = fn_codebook_row_bytes(p->in_features, p->bits);
#if FN_DSP
    uint32_t *table = (uint32_t *)scratch;
    fn_cb_fill_table(table, codebook, p->bits);
    const cb_dsp_call c = {table, indices, row_bytes, k, p->out_features, &f, fast, &stage};
    void (*const four)(const cb_dsp_call *, const int8_t *, int8_t *) = p->bits == 2 ? pixels4_b2 : pixels4_b4;
    void (*const one)(const cb_dsp_call *, const int8_t *, int8_t *) = p->bits == 2 ? row1_b2 : row1_b4;
    int32_t b = 0;
    for (; b + 4 <= p->batch; b += 4) {
        four(&c, input + (size_t)b * k, output + (size_t)b * n_out);
    }
    for (; b < p->batch; ++b) {
        one(&c, input + (size_t)b * k, output + (size_t)b * n_out);
    }
#else
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *x = input + (size_t)b * k;
        for (int32_t o = 0; o < p->out_features; ++o) {
            int32_t s = 0;
            for (int32_t j = 0; j < p->in_features; ++j) {
                s += x[j] * codebook[fc_index(indices, row_bytes, p->out_features, o, j, p->bits)];
            }
            output[(size_t)b * n_out + (size_t)o] = fn_finish_one_s8(&f, fast, &stage, o, s);
        }
    }
#endif
    return FN_OK;
}
