/* firmnet runtime: int8 2-D convolution with CSR weights (fn_conv2d_s8_csr.h): per output
 * pixel, per output channel, the channel's entries; windows inside the input read
 * input[origin + col] directly, 4 neighbouring windows of a row at a time where all 4 are
 * inside (each decoded entry serves the 4), the others decode each column and skip the
 * padded taps. */
#include "fn_conv2d_s8_csr.h"

/* What one call's loops read. */
typedef struct {
    const fn_csr *m;
    const int8_t *values;
    int32_t in_h, in_w, in_c;
    int32_t zero_point;                    /* -input_offset */
} csr_conv_call;

/* Sum of channel o's entries over a window inside the input at x. */
static inline int32_t inside(const csr_conv_call *c, int32_t begin, int32_t end, const int8_t *x)
{
    const int8_t *v = c->values;
    int32_t acc = 0;
    if (c->m->col_delta != NULL) {
        const uint8_t *d = c->m->col_delta;
        const int8_t *xp = x;
        for (int32_t j = begin; j < end; ++j) {
            xp += d[j];
            acc += v[j] * *xp;
        }
    } else {
        const uint16_t *ci = c->m->col_index;
        for (int32_t j = begin; j < end; ++j) {
            acc += v[j] * x[ci[j]];
        }
    }
    return acc;
}

/* s[r] = the sums of the 4 windows inside the input at x + r * step. */
static inline void inside4(const csr_conv_call *c, int32_t begin, int32_t end, const int8_t *x, size_t step,
                           int32_t s[4])
{
    const int8_t *v = c->values;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (c->m->col_delta != NULL) {
        const uint8_t *d = c->m->col_delta;
        const int8_t *xp = x;
        for (int32_t j = begin; j < end; ++j) {
            xp += d[j];
            const int32_t w = v[j];
            a0 += w * xp[0];
            a1 += w * xp[step];
            a2 += w * xp[2 * step];
            a3 += w * xp[3 * step];
        }
    } else {
        const uint16_t *ci = c->m->col_index;
        for (int32_t j = begin; j < end; ++j) {
            const int8_t *xp = x + ci[j];
            const int32_t w = v[j];
            a0 += w * xp[0];
            a1 += w * xp[step];
            a2 += w * xp[2 * step];
            a3 += w * xp[3 * step];
        }
    }
    s[0] = a0;
    s[1] = a1;
    s[2] = a2;
    s[3] = a3;
}

/* The same for a window whose origin (iy0, ix0) may lie in the padding (x: the image): a
 * padded tap adds w * zero_point (fn_conv2d_s8_csr.h). */
static int32_t edge(const csr_conv_call *c, int32_t begin, int32_t end, const int8_t *image, int32_t iy0,
                    int32_t ix0)
{
    const int8_t *v = c->values;
    int32_t acc = 0, col = 0;
    for (int32_t j = begin; j < end; ++j) {
        col = c->m->col_delta != NULL ? col + c->m->col_delta[j] : (int32_t)c->m->col_index[j];
        size_t at;
        acc += v[j] * (fn_csr_tap(col, c->in_h, c->in_w, c->in_c, iy0, ix0, &at) ? image[at] : c->zero_point);
    }
    return acc;
}

fn_status fn_conv2d_s8_csr(const fn_conv2d_s8_csr_params *p, const int8_t *input, const int8_t *values,
                           const int32_t *bias, int8_t *output)
{
    if (p == NULL || input == NULL || values == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    const fn_csr m = fn_csr_view(p->out_features, p->in_features, p->entries, p->col_delta, p->col_index,
                                 p->row_start16, p->row_start32);
    if (!fn_csr_ok(&m) || (int64_t)p->kernel_h * p->kernel_w * p->in_c > FN_S8_MAX_DEPTH ||
        !fn_csr_conv_ok(p->batch, p->in_h, p->in_w, p->in_c, p->out_h, p->out_w, p->kernel_h, p->kernel_w,
                        p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->pad_top, p->pad_left,
                        m.cols)) {
        return FN_ERR_ARG;
    }
    const int32_t span_h = (p->kernel_h - 1) * p->dilation_h, span_w = (p->kernel_w - 1) * p->dilation_w;
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, m.rows)) {
        return FN_ERR_ARG;
    }
    const fn_channel_stage_s8 stage = {bias, p->requant};
    fn_fast_out_s8 f;
    const int fast = fn_fast_out_s8_init(&f, bias, &stage.rq, m.rows);
    const csr_conv_call c = {&m, values, p->in_h, p->in_w, p->in_c, -p->input_offset};
    const size_t image = (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
    int8_t *out = output;
    for (int32_t n = 0; n < p->batch; ++n) {
        const int8_t *x = input + (size_t)n * image;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_in = iy0 >= 0 && iy0 + span_h < p->in_h;
            const size_t step = (size_t)p->stride_w * (size_t)p->in_c;   /* between neighbouring windows */
            int32_t ox = 0;
            while (ox < p->out_w) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int in = rows_in && ix0 >= 0 && ix0 + span_w < p->in_w;
                const int8_t *origin = in ? x + ((size_t)iy0 * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c : x;
                int32_t begin = 0;
                if (in && ox + 4 <= p->out_w && ix0 + 3 * p->stride_w + span_w < p->in_w) {
                    for (int32_t o = 0; o < m.rows; ++o) {
                        const int32_t end = fn_csr_row_start(&m, o + 1);
                        int32_t s[4];
                        inside4(&c, begin, end, origin, step, s);
                        for (int32_t r = 0; r < 4; ++r) {
                            out[(size_t)r * (size_t)m.rows + (size_t)o] = fn_finish_one_s8(&f, fast, &stage, o, s[r]);
                        }
                        begin = end;
                    }
                    out += 4 * (size_t)m.rows;
                    ox += 4;
                    continue;
                }
                for (int32_t o = 0; o < m.rows; ++o) {
                    const int32_t end = fn_csr_row_start(&m, o + 1);
                    const int32_t sum = in ? inside(&c, begin, end, origin) : edge(&c, begin, end, x, iy0, ix0);
                    out[o] = fn_finish_one_s8(&f, fast, &stage, o, sum);
                    begin = end;
                }
                out += m.rows;
                ++ox;
            }
        }
    }
    return FN_OK;
}
