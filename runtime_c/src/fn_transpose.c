/* firmnet runtime: transpose of a tensor of 1-, 2-, 4- or 8-byte elements.
 *
 * The output is written in row-major order; an odometer over the output dims
 * 0..ndim-2 tracks the input offset. Rows are copied with one memcpy when the last
 * axis stays last (input rows are then contiguous), element by element with the
 * input stride otherwise. Elements are moved with fixed-size memcpy, which
 * compilers turn into one load and store and which needs no alignment. */
#include <string.h>

#include "fn_tensor.h"

/* Copy n elements of size es (1, 2, 4 or 8) from in (stride `stride` bytes) to out. */
static void gather_row(uint8_t *out, const uint8_t *in, int32_t n, ptrdiff_t stride, int32_t es)
{
    int32_t i;
    switch (es) {
    case 1:
        for (i = 0; i < n; ++i) {
            out[i] = in[(ptrdiff_t)i * stride];
        }
        break;
    case 2:
        for (i = 0; i < n; ++i) {
            memcpy(out + (ptrdiff_t)i * 2, in + (ptrdiff_t)i * stride, 2);
        }
        break;
    case 4:
        for (i = 0; i < n; ++i) {
            memcpy(out + (ptrdiff_t)i * 4, in + (ptrdiff_t)i * stride, 4);
        }
        break;
    default:
        for (i = 0; i < n; ++i) {
            memcpy(out + (ptrdiff_t)i * 8, in + (ptrdiff_t)i * stride, 8);
        }
        break;
    }
}

fn_status fn_transpose(const fn_transpose_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t ndim, d, es, row, seen = 0;
    ptrdiff_t in_stride[FN_MAX_DIMS];   /* bytes, per input dim */
    ptrdiff_t stride[FN_MAX_DIMS];      /* bytes, input stride of each output dim */
    int32_t shape[FN_MAX_DIMS];         /* output shape */
    int32_t idx[FN_MAX_DIMS];
    ptrdiff_t in_off = 0, out_off = 0, row_bytes, total;
    int identity = 1;

    if (p == NULL || input == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    ndim = p->ndim;
    es = p->elem_size;
    if (ndim < 1 || ndim > FN_MAX_DIMS || (es != 1 && es != 2 && es != 4 && es != 8)) {
        return FN_ERR_ARG;
    }
    total = es;
    for (d = ndim - 1; d >= 0; --d) {
        if (p->in_shape[d] < 1) {
            return FN_ERR_ARG;
        }
        in_stride[d] = total;
        total *= p->in_shape[d];
    }
    for (d = 0; d < ndim; ++d) {
        const int32_t s = p->perm[d];
        if (s < 0 || s >= ndim || (seen & (1 << s))) {
            return FN_ERR_ARG;          /* not a permutation */
        }
        seen |= 1 << s;
        identity = identity && s == d;
        shape[d] = p->in_shape[s];
        stride[d] = in_stride[s];
        idx[d] = 0;
    }
    if (identity) {
        memcpy(out, in, (size_t)total);
        return FN_OK;
    }

    row = shape[ndim - 1];
    row_bytes = (ptrdiff_t)row * es;
    for (;;) {
        if (p->perm[ndim - 1] == ndim - 1) {
            memcpy(out + out_off, in + in_off, (size_t)row_bytes);
        } else {
            gather_row(out + out_off, in + in_off, row, stride[ndim - 1], es);
        }
        out_off += row_bytes;
        for (d = ndim - 2; d >= 0; --d) {
            in_off += stride[d];
            if (++idx[d] < shape[d]) {
                break;
            }
            in_off -= stride[d] * shape[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return FN_OK;
        }
    }
}
