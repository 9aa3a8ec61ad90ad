/* firmnet runtime: constant padding of a tensor of elem_size-byte elements.
 *
 * The output is written once, front to back. An odometer runs over the output dims
 * 0..ndim-2; whenever an index lies in the padding of some outer dim, the whole
 * contiguous run of output below it is padding and is filled in one go. Rows inside
 * the input get: padding, one memcpy of the input row, padding. Filling uses memset
 * when all value bytes are equal, otherwise one element followed by doubling memcpy. */
#include <string.h>

#include "fn_tensor.h"

/* Write n elements equal to `value` (es bytes) at dst. */
static void fill(uint8_t *dst, ptrdiff_t n, const uint8_t *value, int32_t es, int uniform)
{
    ptrdiff_t done, total;
    if (n <= 0) {
        return;
    }
    total = n * es;
    if (uniform) {
        memset(dst, value[0], (size_t)total);
        return;
    }
    memcpy(dst, value, (size_t)es);
    done = es;
    while (done < total) {
        const ptrdiff_t chunk = done < total - done ? done : total - done;
        memcpy(dst + done, dst, (size_t)chunk);
        done += chunk;
    }
}

fn_status fn_pad(const fn_pad_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t ndim, d, es, last, in_row, pad_lo, pad_hi;
    int32_t out_shape[FN_MAX_DIMS];
    int32_t idx[FN_MAX_DIMS];
    ptrdiff_t below[FN_MAX_DIMS];      /* output elements below one index of dim d */
    ptrdiff_t row_bytes;
    int uniform = 1;

    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    ndim = p->ndim;
    es = p->elem_size;
    if (ndim < 1 || ndim > FN_MAX_DIMS || es < 1 || es > 8) {
        return FN_ERR_ARG;
    }
    for (d = 0; d < ndim; ++d) {
        if (p->in_shape[d] < 1 || p->pad_before[d] < 0 || p->pad_after[d] < 0 ||
            p->pad_before[d] > INT32_MAX - p->in_shape[d] ||
            p->pad_after[d] > INT32_MAX - p->in_shape[d] - p->pad_before[d]) {
            return FN_ERR_ARG;
        }
        out_shape[d] = p->in_shape[d] + p->pad_before[d] + p->pad_after[d];
        idx[d] = 0;
    }
    for (d = 1; d < es; ++d) {
        uniform = uniform && p->value[d] == p->value[0];
    }
    below[ndim - 1] = 1;
    for (d = ndim - 2; d >= 0; --d) {
        below[d] = below[d + 1] * out_shape[d + 1];
    }

    last = ndim - 1;
    in_row = p->in_shape[last];
    pad_lo = p->pad_before[last];
    pad_hi = p->pad_after[last];
    row_bytes = (ptrdiff_t)in_row * es;
    for (;;) {
        int32_t run = 0;
        /* First outer dim whose index is in the padding: everything below is padding. */
        for (d = 0; d < last; ++d) {
            const int32_t lo = p->pad_before[d], hi = p->pad_before[d] + p->in_shape[d];
            if (idx[d] < lo) {
                run = lo - idx[d];
                break;
            }
            if (idx[d] >= hi) {
                run = out_shape[d] - idx[d];
                break;
            }
        }
        if (d < last) {
            /* idx[d+1..] are 0 here: run * below[d] contiguous padding elements. */
            fill(out, run * below[d], p->value, es, uniform);
            out += run * below[d] * es;
            idx[d] += run - 1;
        } else {
            fill(out, pad_lo, p->value, es, uniform);
            out += (ptrdiff_t)pad_lo * es;
            memcpy(out, in, (size_t)row_bytes);
            out += row_bytes;
            in += row_bytes;
            fill(out, pad_hi, p->value, es, uniform);
            out += (ptrdiff_t)pad_hi * es;
            d = last - 1;
        }
        /* Advance the odometer at dim d (carrying outwards). */
        for (; d >= 0; --d) {
            if (++idx[d] < out_shape[d]) {
                break;
            }
            idx[d] = 0;
        }
        if (d < 0) {
            return FN_OK;
        }
    }
}
