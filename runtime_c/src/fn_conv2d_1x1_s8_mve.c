/* firmnet runtime: int8 1x1 convolution, stride 1, no padding, for CPUs with MVE
 * (fn_s8_mve.h; the loops: fn_s8_mve_impl.h). Where FN_MVE is 0 the portable kernel
 * fn_conv2d_1x1_s8 runs after the variant's own checks: the same bytes. */
#include "fn_conv_1x1_s8.h"
#include "fn_s8_mve_impl.h"

fn_status fn_conv2d_1x1_s8_mve(const fn_conv2d_s8_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch)
{
    if (p == NULL || scratch == NULL || fn_conv2d_1x1_s8_mve_scratch_size(p) == 0) {
        return FN_ERR_ARG;
    }
#if FN_MVE
    if (input == NULL || filter == NULL || output == NULL) {
        return FN_ERR_ARG;
    }
    if (p->batch < 1 || p->in_h < 1 || p->in_w < 1 || p->in_c < 1 || p->out_c < 1 || p->out_h != p->in_h ||
        p->out_w != p->in_w || p->kernel_h != 1 || p->kernel_w != 1 || p->stride_h != 1 || p->stride_w != 1 ||
        p->dilation_h < 1 || p->dilation_w < 1 || p->pad_top != 0 || p->pad_left != 0 || p->groups != 1 ||
        p->in_c > FN_S8_MAX_DEPTH || p->filter_offset != NULL) {
        return FN_ERR_ARG;
    }
    const int64_t rows = (int64_t)p->batch * p->in_h;
    if (rows > INT32_MAX || rows * p->in_w > INT32_MAX) {
        return FN_ERR_ARG;
    }
    if (!fn_input_offset_s8_ok(p->input_offset) || !fn_requant_acc_s8_ok(&p->requant, p->out_c)) {
        return FN_ERR_ARG;
    }
    const int32_t n_px = p->batch * p->in_h * p->in_w, in_c = p->in_c, out_c = p->out_c;
    fn_mve_out o;
    fn_mve_out_init(&o, (int32_t *)scratch, out_c, filter, (size_t)in_c, in_c, p->input_offset, bias, &p->requant);
    for (int32_t px = 0; px < n_px; ++px) {
        fn_mve_row(&o, input + (size_t)px * (size_t)in_c, filter, (size_t)in_c, in_c, out_c,
                   output + (size_t)px * (size_t)out_c);
    }
    return FN_OK;
#else
    return fn_conv2d_1x1_s8(p, input, filter, bias, output);
#endif
}
