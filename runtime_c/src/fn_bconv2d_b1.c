/* firmnet runtime: binary 2-D convolution (XNOR-popcount), contract in fn_binary_b1.h.
 *
 * Per output pixel, the window is gathered into the scratch as one dense bit string (tap
 * after tap, in_c bits each: no word padding between taps, so few input channels still fill
 * the words) beside a mask of the taps inside the input. Every output channel then compares
 * it with its dense filter in one pass: popcount(window XOR filter), through the mask only
 * where the window reaches into zero padding (a padded tap counts 0, and K its valid bits).
 * With one padding (pad_value 1) a padded tap is gathered as +1 bits (set) and counts: no mask. */
#include <string.h>

#include "fn_binary_b1_impl.h"

static int32_t fn_bconv2d_b1_window_words(const fn_bconv2d_b1_params *p)
{
    return (int32_t)(((int64_t)p->kernel_h * p->kernel_w * p->in_c + 31) / 32);
}

size_t fn_bconv2d_b1_scratch_size(const fn_bconv2d_b1_params *p)
{
    if (p == NULL || p->kernel_h < 1 || p->kernel_w < 1 || p->in_c < 1) {
        return 0;
    }
    return 2u * (size_t)fn_bconv2d_b1_window_words(p) * sizeof(uint32_t);
}

/* Append the low n (1..32) bits of v at bit position pos of buf (zeroed beforehand). */
static inline void fn_b1_append(uint32_t *buf, uint32_t pos, uint32_t v, int32_t n)
{
    const uint32_t w = pos >> 5, s = pos & 31u;
    buf[w] |= v << s;
    if (s != 0 && s + (uint32_t)n > 32u) {
        buf[w + 1] |= v >> (32u - s);
    }
}

/* Gather the window at (iy0, ix0) into n dense words (tap after tap, in_c bits each) and, if
 * mask is not NULL, the mask of the taps that count; returns the number of those taps: the
 * taps inside the input, and with one padding (pad_value 1) the padded taps too, as +1. */
static int32_t fn_bconv2d_b1_gather(const fn_bconv2d_b1_params *p, const uint32_t *image, int32_t iy0,
                                    int32_t ix0, uint32_t *window, uint32_t *mask, int32_t n)
{
    const int32_t in_c = p->in_c, words = (p->in_c + 31) / 32;
    uint32_t pos = 0;
    int32_t taps = 0;
    memset(window, 0, (size_t)n * sizeof(uint32_t));
    if (mask != NULL) {
        memset(mask, 0, (size_t)n * sizeof(uint32_t));
    }
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        for (int32_t kx = 0; kx < p->kernel_w; ++kx) {
            const int32_t iy = iy0 + ky, ix = ix0 + kx;
            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            if (!inside && p->pad_value == 0) {
                pos += (uint32_t)in_c;
                continue;
            }
            ++taps;
            if (!inside) {   /* one padding: in_c set bits (+1) */
                for (int32_t c0 = 0; c0 < in_c; c0 += 32) {
                    const int32_t bits = in_c - c0 < 32 ? in_c - c0 : 32;
                    const uint32_t ones = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1u;
                    fn_b1_append(window, pos, ones, bits);
                    if (mask != NULL) {
                        fn_b1_append(mask, pos, ones, bits);
                    }
                    pos += (uint32_t)bits;
                }
                continue;
            }
            const uint32_t *px = image + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)words;
            for (int32_t c0 = 0; c0 < in_c; c0 += 32) {   /* a pixel's unused bits are 0 */
                const int32_t bits = in_c - c0 < 32 ? in_c - c0 : 32;
                fn_b1_append(window, pos, px[c0 >> 5], bits);
                if (mask != NULL) {
                    fn_b1_append(mask, pos, bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1u, bits);
                }
                pos += (uint32_t)bits;
            }
        }
    }
    return taps;
}

/* Most filter rows of the runs path (fn_bconv2d_b1_runs): one run of words per row at most. */
#define FN_BCONV2D_B1_MAX_RUNS 16

/* Whole-word pixels (in_c a multiple of 32) under zero padding, a window at (iy0, ix0) reaching
 * into the padding: copies its taps inside the input into window (the others are not read)
 * and writes the runs of their words (first word, words; adjacent rows joined) into runs;
 * returns the number of runs (0: no tap inside) and the number of taps inside in *taps. */
static int32_t fn_bconv2d_b1_runs(const fn_bconv2d_b1_params *p, const uint32_t *image, int32_t iy0, int32_t ix0,
                                  uint32_t *window, int32_t *runs, int32_t *taps)
{
    const int32_t words = p->in_c / 32, kw = p->kernel_w;
    const int32_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + kw > p->in_w ? p->in_w - ix0 : kw;
    int32_t nruns = 0;
    *taps = 0;
    if (kx1 <= kx0) {
        return 0;
    }
    const int32_t len = (kx1 - kx0) * words;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        const int32_t iy = iy0 + ky;
        if (iy < 0 || iy >= p->in_h) {
            continue;
        }
        const int32_t first = (ky * kw + kx0) * words;
        memcpy(window + first, image + ((size_t)iy * (size_t)p->in_w + (size_t)(ix0 + kx0)) * (size_t)words,
               (size_t)len * sizeof(uint32_t));
        if (nruns > 0 && runs[2 * nruns - 2] + runs[2 * nruns - 1] == first) {
            runs[2 * nruns - 1] += len;
        } else {
            runs[2 * nruns] = first;
            runs[2 * nruns + 1] = len;
            ++nruns;
        }
        *taps += kx1 - kx0;
    }
    return nruns;
}

fn_status fn_bconv2d_b1(const fn_bconv2d_b1_params *p, const uint32_t *input,
                        const uint32_t *weights, void *output, void *scratch)
{
    if (p == NULL || input == NULL || weights == NULL || output == NULL || scratch == NULL
        || !fn_bout_ok(&p->out)) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_h < 1 || p->out_w < 1
        || p->out_c < 1 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1
        || p->pad_top < 0 || p->pad_left < 0 || (p->pad_value != 0 && p->pad_value != 1)) {
        return FN_ERR_ARG;
    }
    const int32_t words = (p->in_c + 31) / 32, in_c = p->in_c;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, out_c = p->out_c;
    const int32_t n = fn_bconv2d_b1_window_words(p);
    const size_t row_bytes = fn_bout_row_bytes(p->out.kind, out_c);
    uint32_t *window = (uint32_t *)scratch;
    uint32_t *mask = window + n;
    unsigned char *out = (unsigned char *)output;

    for (int32_t b = 0; b < p->batch; ++b) {
        const uint32_t *image = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)words;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                /* a window reaching into zero padding needs the mask; with one padding every tap counts */
                const int border = iy0 < 0 || ix0 < 0 || iy0 + kh > p->in_h || ix0 + kw > p->in_w;
                const int masked = border && p->pad_value == 0;
                int32_t taps = kh * kw;
                if (masked && (in_c & 31) == 0 && kh <= FN_BCONV2D_B1_MAX_RUNS) {
                    /* whole-word taps: only the words of the taps inside count, no mask */
                    int32_t runs[2 * FN_BCONV2D_B1_MAX_RUNS];
                    const int32_t nruns = fn_bconv2d_b1_runs(p, image, iy0, ix0, window, runs, &taps);
                    if (nruns > 0) {
                        fn_b1_row_runs(&p->out, window, weights, runs, nruns, n, out_c, taps * in_c, out);
                        out += row_bytes;
                        continue;
                    }
                }
                if (!border && (in_c & 31) == 0) {   /* whole words: the window's rows as they are */
                    const size_t run = (size_t)kw * (size_t)words;
                    for (int32_t ky = 0; ky < kh; ++ky) {
                        memcpy(window + (size_t)ky * run,
                               image + ((size_t)(iy0 + ky) * (size_t)p->in_w + (size_t)ix0) * (size_t)words,
                               run * sizeof(uint32_t));
                    }
                } else {
                    taps = fn_bconv2d_b1_gather(p, image, iy0, ix0, window, masked ? mask : NULL, n);
                }
                const int32_t valid = taps * in_c;
                if (!masked) {
                    fn_b1_row(&p->out, window, weights, n, out_c, valid, out);
                } else {   /* the filter's bits under padded taps must not count */
                    fn_b1_row_masked(&p->out, window, weights, mask, n, out_c, valid, out);
                }
                out += row_bytes;
            }
        }
    }
    return FN_OK;
}
