/* firmnet runtime: int8 fully connected layer / 1x1 convolution with palettized weights
 * (fn_fc_s8_codebook.h).
 *
 * Each byte of indices is loaded once and split into its 1, 2 or 4 indices with constant
 * shifts; each index reads its weight from the codebook (a table of 4, 16 or 256 bytes,
 * which stays in cache or, on a Cortex-M, costs one load like the weight itself). Blocks
 * of 4 input rows share each looked-up weight (4 accumulators in registers); the rows left
 * over (batch % 4) take the one-row loop. Each index width has its own copy of both loops
 * (inlined with a constant bits into one out-of-line function per width): no test of the
 * width inside the loops. */
#include "fn_dsp.h"
#include "fn_fc_s8_codebook.h"

/* What one call's loops read. */
typedef struct {
    int32_t rows, depth;
    size_t row_bytes;                /* packed indices per output feature */
    size_t book_step;                /* codebook entries between features: 0 or 2^bits */
    const int8_t *codebook;
    const uint8_t *indices;
    const fn_fast_out_s8 *f;
    int fast;
    const fn_channel_stage_s8 *stage;
} cb_s8_call;

/* a[r] += SUM_i w[i] * x[r * k + i] over the n weights of one packed row (r < 4 when four,
 * else r = 0). bits and four are constants at each call. */
FN_ALWAYS_INLINE static inline void dot(const int8_t *x, size_t k, const uint8_t *row, const int8_t *cb, int32_t n,
                                        const int bits, const int four, int32_t a[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int per = 8 / bits;                   /* indices per byte */
    const uint32_t mask = (1u << bits) - 1u;
    int32_t i = 0;
    for (; i + per <= n; i += per) {
        const uint32_t byte = *row++;
        for (int s = 0; s < per; ++s) {         /* unrolled: per and the shifts are constants */
            const int32_t w = cb[(byte >> (s * bits)) & mask];
            const int8_t *xp = x + i + s;
            a0 += w * xp[0];
            if (four) {
                a1 += w * xp[k];
                a2 += w * xp[2 * k];
                a3 += w * xp[3 * k];
            }
        }
    }
    for (int s = 0; i < n; ++i, ++s) {          /* the row's last byte, partly used */
        const int32_t w = cb[((uint32_t)*row >> (s * bits)) & mask];
        a0 += w * x[i];
        if (four) {
            a1 += w * x[k + i];
            a2 += w * x[2 * k + i];
            a3 += w * x[3 * k + i];
        }
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}

/* Every output feature of the input rows at x (4 of them when four, else 1) into out (row
 * stride rows). */
FN_ALWAYS_INLINE static inline void rows_of(const cb_s8_call *c, const int8_t *x, int8_t *out, const int bits,
                                            const int four)
{
    const size_t k = (size_t)c->depth, n_out = (size_t)c->rows;
    const uint8_t *row = c->indices;
    const int8_t *cb = c->codebook;
    for (int32_t o = 0; o < c->rows; ++o) {
        int32_t a[4];
        dot(x, k, row, cb, c->depth, bits, four, a);
        const int n = four ? 4 : 1;
        for (int r = 0; r < n; ++r) {
            out[(size_t)r * n_out + (size_t)o] = fn_finish_one_s8(c->f, c->fast, c->stage, o, a[r]);
        }
        row += c->row_bytes;
        cb += c->book_step;
    }
}

FN_NOINLINE static void rows4_b2(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 2, 1); }
FN_NOINLINE static void rows4_b4(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 4, 1); }
FN_NOINLINE static void rows4_b8(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 8, 1); }
FN_NOINLINE static void row1_b2(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 2, 0); }
FN_NOINLINE static void row1_b4(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 4, 0); }
FN_NOINLINE static void row1_b8(const cb_s8_call *c, const int8_t *x, int8_t *out) { rows_of(c, x, out, 8, 0); }

fn_status fn_fc_s8_codebook(const fn_fc_s8_codebook_params *p, const int8_t *input, const int8_t *codebook,
                            const uint8_t *indices, const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || codebook == NULL || indices == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_features < 1 || p->out_features < 1 || p->in_features > FN_S8_MAX_DEPTH ||
        !fn_codebook_bits_ok(p->bits)) {
        return FN_ERR_ARG;
    }
    if (!fn_requant_acc_s8_ok(&p->requant, p->out_features)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, p->out_features);
    const cb_s8_call c = {p->out_features, p->in_features, fn_codebook_row_bytes(p->in_features, p->bits),
                          p->per_channel ? (size_t)1 << p->bits : 0, codebook, indices, &f, fast, &stage};
    void (*const four)(const cb_s8_call *, const int8_t *, int8_t *) =
        p->bits == 2 ? rows4_b2 : p->bits == 4 ? rows4_b4 : rows4_b8;
    void (*const one)(const cb_s8_call *, const int8_t *, int8_t *) =
        p->bits == 2 ? row1_b2 : p->bits == 4 ? row1_b4 : row1_b8;
    const size_t row_in = (size_t)p->in_features, row_out = (size_t)p->out_features;
    int32_t b = 0;
    for (; b + 4 <= p->batch; b += 4) {
        four(&c, input + (size_t)b * row_in, output + (size_t)b * row_out);
    }
    for (; b < p->batch; ++b) {
        one(&c, input + (size_t)b * row_in, output + (size_t)b * row_out);
    }
    return FN_OK;
}
