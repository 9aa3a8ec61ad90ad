/* firmnet runtime: float32 2-D convolution (one group, NHWC) with CSR weights (fn_csr.h): per
 * output channel its nonzero weights with their (tap, input channel) offsets, the columns of
 * fn_conv2d_s8_csr.h (the window's first input + col). Padded taps add nothing (zero padding).
 * Each output adds its bias, then its entries in ascending column order, which is
 * fn_conv2d_f32's order (ky, kx, c): for finite inputs the result is fn_conv2d_f32's on the
 * dense filter (its products with zero weights add +-0). */
#ifndef FN_CONV2D_F32_CSR_H
#define FN_CONV2D_F32_CSR_H

#include "fn_common.h"
#include "fn_csr.h"

typedef struct {
    int32_t batch, in_h, in_w, in_c;
    int32_t out_h, out_w;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;             /* bottom/right padding is implied by out_h/out_w */
    int32_t in_features, out_features;     /* the matrix (fn_csr.h): column span, out_c */
    int32_t entries;
    const uint8_t *col_delta;              /* [entries], or NULL */
    const uint16_t *col_index;             /* [entries], or NULL */
    const uint16_t *row_start16;           /* [out_features + 1], or NULL */
    const uint32_t *row_start32;           /* [out_features + 1], or NULL */
    float act_min, act_max;                /* fused activation clamp */
} fn_conv2d_f32_csr_params;

/*   input   [batch, in_h, in_w, in_c]
 *   values  [entries]
 *   bias    [out_features], or NULL
 *   output  [batch, out_h, out_w, out_features]
 * Constraints: the geometry and matrix fields as fn_csr_conv_ok and fn_csr_ok (fn_csr.h)
 * state; out_h, out_w those of the geometry. output must not overlap input.
 * Returns FN_OK, or FN_ERR_ARG for a NULL pointer (bias excepted) or a field out of range. */
fn_status fn_conv2d_f32_csr(const fn_conv2d_f32_csr_params *p, const float *input, const float *values,
                            const float *bias, float *output);

#endif
