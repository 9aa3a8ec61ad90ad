/* firmnet runtime: strided copy of byte blocks (Slice, Split, Gather; see fn_tensor.h).
 *
 * An odometer over the output dims 0..ndim-2 tracks the input offset of each row; a row
 * of the last dim is copied block by block. */
#include <string.h>

#include "fn_tensor.h"

static ptrdiff_t dim_offset(const fn_strided_copy_params *p, int32_t d, int32_t i)
{
    return d == p->table_dim ? (ptrdiff_t)p->table[i] : (ptrdiff_t)i * p->in_stride[d];
}

/* One row of the last dim: n blocks of bb bytes, step bytes apart in the input (fixed-size
 * copies for 1, 2 and 4 bytes, which compilers turn into single loads and stores). */
static uint8_t *copy_row(uint8_t *out, const uint8_t *src, int32_t n, ptrdiff_t step, int32_t bb)
{
    int32_t i;
    switch (bb) {
    case 1:
        for (i = 0; i < n; ++i, src += step) {
            *out++ = *src;
        }
        break;
    case 2:
        for (i = 0; i < n; ++i, src += step, out += 2) {
            memcpy(out, src, 2);
        }
        break;
    case 4:
        for (i = 0; i < n; ++i, src += step, out += 4) {
            memcpy(out, src, 4);
        }
        break;
    default:
        for (i = 0; i < n; ++i, src += step, out += bb) {
            memcpy(out, src, (size_t)bb);
        }
        break;
    }
    return out;
}

fn_status fn_strided_copy(const fn_strided_copy_params *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t idx[FN_MAX_DIMS];
    int32_t ndim, d, i, last, bb;
    ptrdiff_t row;

    if (p == NULL || input == NULL || output == NULL || p->ndim < 1 || p->ndim > FN_MAX_DIMS ||
        p->block_bytes < 1 || p->in_offset < 0 || p->table_dim < -1 || p->table_dim >= p->ndim ||
        (p->table_dim >= 0 && p->table == NULL)) {
        return FN_ERR_ARG;
    }
    ndim = p->ndim;
    for (d = 0; d < ndim; ++d) {
        if (p->out_shape[d] < 1) {
            return FN_ERR_ARG;
        }
        idx[d] = 0;
    }
    last = ndim - 1;
    bb = p->block_bytes;
    row = p->in_offset;
    for (d = 0; d < last; ++d) {
        row += dim_offset(p, d, 0);
    }
    for (;;) {
        if (last == p->table_dim) {
            for (i = 0; i < p->out_shape[last]; ++i) {
                memcpy(out, in + row + p->table[i], (size_t)bb);
                out += bb;
            }
        } else {
            out = copy_row(out, in + row, p->out_shape[last], p->in_stride[last], bb);
        }
        /* next row: advance the odometer over dims last-1 .. 0 */
        for (d = last - 1; d >= 0; --d) {
            row -= dim_offset(p, d, idx[d]);
            if (++idx[d] < p->out_shape[d]) {
                row += dim_offset(p, d, idx[d]);
                break;
            }
            idx[d] = 0;
            row += dim_offset(p, d, 0);
        }
        if (d < 0) {
            return FN_OK;
        }
    }
}
