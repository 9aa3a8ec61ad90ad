/* firmnet runtime: int8 convolution (one group, windows of at most FN_CONV_MVE_DEPTH
 * values) for CPUs with MVE (fn_s8_mve.h; the loops: fn_s8_mve_impl.h). Per output pixel
 * the window [kernel_h][kernel_w][in_c] (the filter's OHWI order) is gathered into the
 * scratch, the input zero point in the padding, then fn_mve_row computes every output
 * channel. Where FN_MVE is 0 the portable kernel fn_conv2d_s8 runs after the variant's own
 * checks: the same bytes. */
#include "fn_conv_s8_impl.h"
#include "fn_s8_mve_impl.h"

#if FN_MVE
/* The window of the output pixel whose top-left tap is input row iy0, column ix0 (image
 * `image`), at win. */
static void gather_window(const fn_conv2d_s8_params *p, const int8_t *image, int32_t iy0, int32_t ix0, int8_t zp,
                          int8_t *win)
{
    const int32_t in_c = p->in_c, kw = p->kernel_w, run = kw * in_c;
    int32_t ky0, ky1, kx0, kx1;
    fn_tap_range(iy0, p->dilation_h, p->kernel_h, p->in_h, &ky0, &ky1);
    fn_tap_range(ix0, p->dilation_w, kw, p->in_w, &kx0, &kx1);
    if (kx0 >= kx1) {
        kx0 = kx1 = 0;
    }
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        int8_t *const dst = win + (size_t)ky * (size_t)run;
        if (ky < ky0 || ky >= ky1) {
            fn_mve_fill(dst, zp, run);
            continue;
        }
        const int8_t *const src = image + ((size_t)(iy0 + ky * p->dilation_h) * (size_t)p->in_w) * (size_t)in_c;
        fn_mve_fill(dst, zp, kx0 * in_c);
        if (kx1 > 0 && p->dilation_w == 1) {      /* kx1 == 0: no column in bounds, all padding */
            fn_mve_copy(dst + (size_t)kx0 * (size_t)in_c, src + (size_t)(ix0 + kx0) * (size_t)in_c, (kx1 - kx0) * in_c);
        } else if (kx1 > 0) {
            for (int32_t kx = kx0; kx < kx1; ++kx) {
                fn_mve_copy(dst + (size_t)kx * (size_t)in_c, src + (size_t)(ix0 + kx * p->dilation_w) * (size_t)in_c,
                            in_c);
            }
        }
        fn_mve_fill(dst + (size_t)kx1 * (size_t)in_c, zp, (kw - kx1) * in_c);
    }
}
#endif

fn_status fn_conv2d_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || scratch == NULL || fn_conv2d_s8_mve_scratch_size(p) == 0 || p->filter_offset != NULL ||
        !fn_conv2d_s8_args_ok(p, input, filter, output, 1)) {
        return FN_ERR_ARG;
    }
#if FN_MVE
    const int32_t depth = p->kernel_h * p->kernel_w * p->in_c, out_c = p->out_c;
    const size_t table = fn_mve_table_size(out_c);
    int8_t *const win = (int8_t *)scratch + table;
    const int8_t zp = (int8_t)(-p->input_offset);
    fn_mve_out o;
    fn_mve_out_init(&o, (int32_t *)scratch, out_c, filter, (size_t)depth, depth, p->input_offset, bias, &p->requant);
    int8_t *out = output;
    for (int32_t b = 0; b < p->batch; ++b) {
        const int8_t *const image = input + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox) {
                gather_window(p, image, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, zp, win);
                fn_mve_row(&o, win, filter, (size_t)depth, depth, out_c, out);
                out += out_c;
            }
        }
    }
    return FN_OK;
#else
    return fn_conv2d_s8(p, input, filter, bias, output);
#endif
}
