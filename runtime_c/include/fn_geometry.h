/* firmnet runtime: window geometry of the 2-D convolution and pooling kernels
 * (internal header): the int32 overflow check of one spatial axis and the range of
 * kernel taps that land inside the input, shared so that every windowed kernel
 * validates and skips padding the same way. */
#ifndef FN_GEOMETRY_H
#define FN_GEOMETRY_H

#include "fn_common.h"

/* 1 if one spatial axis has sizes, stride and dilation >= 1 and pads >= 0, and its
 * coordinates cannot overflow int32: then every window origin o * stride - pad_before,
 * every tap origin + k * dilation and in + pads fit. Kernels with one explicit pad per
 * axis (the other implied by out) pass pad_after = 0. */
static inline int fn_axis_ok(int32_t in, int32_t out, int32_t kernel, int32_t stride,
                             int32_t dilation, int32_t pad_before, int32_t pad_after)
{
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || dilation < 1 ||
        pad_before < 0 || pad_after < 0) {
        return 0;
    }
    if ((int64_t)in + pad_before + pad_after > INT32_MAX) {
        return 0;
    }
    return (int64_t)(out - 1) * stride + (int64_t)(kernel - 1) * dilation < INT32_MAX;
}

/* Taps k in [*first, *last) with 0 <= origin + k * dilation < in; empty when
 * *first >= *last. The axis must pass fn_axis_ok(). */
static inline void fn_tap_range(int32_t origin, int32_t dilation, int32_t kernel, int32_t in,
                                int32_t *first, int32_t *last)
{
    int32_t lo = 0;
    int32_t hi = kernel;
    const int32_t span = in - 1 - origin;   /* last input index relative to origin */
    if (origin < 0) {
        lo = (-origin - 1) / dilation + 1;  /* smallest k with k * dilation >= -origin */
    }
    if (span < 0) {
        hi = 0;
    } else if (span / dilation + 1 < hi) {
        hi = span / dilation + 1;
    }
    *first = lo;
    *last = hi;
}

/* 1 if every window along one axis holds at least one in-bounds tap (pooling's
 * requirement). The axis must pass fn_axis_ok(). */
static inline int fn_axis_windows_nonempty(int32_t in, int32_t out, int32_t kernel, int32_t stride,
                                           int32_t dilation, int32_t pad_before)
{
    for (int32_t o = 0; o < out; ++o) {
        int32_t k0, k1;
        fn_tap_range(o * stride - pad_before, dilation, kernel, in, &k0, &k1);
        if (k0 >= k1) {
            return 0;
        }
    }
    return 1;
}

/* Length of the undilated window starting at origin once it is cut at in + pad_after
 * (the divisor factor of average pooling that counts padding, onnxruntime's rule for
 * ceil-mode windows). The axis must pass fn_axis_ok(). */
static inline int32_t fn_window_len_cut(int32_t origin, int32_t kernel, int32_t in, int32_t pad_after)
{
    const int32_t end = origin + kernel;
    const int32_t limit = in + pad_after;
    return (end < limit ? end : limit) - origin;
}

#endif
