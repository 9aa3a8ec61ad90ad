"""What the int8 MVE (Helium) variants share (runtime_c/include/fn_s8_mve.h): the target check
and the Python mirrors of the C `<variant>_scratch_size()` functions, as functions of the C
parameter struct's fields (tests/test_kernels_scratch.py style: tests/test_mve_kernels.py
checks each against the C one over hypothesis shapes). Sizes in bytes; 0 where the variant
does not take the shape, as in C."""
from __future__ import annotations

INT32_MAX = 2**31 - 1
FN_CONV_MVE_DEPTH = 4096       # fn_s8_mve.h
FN_DW_MVE_TAPS = 64
DW_IMAGE_LIMIT = 65536         # the selection's limit on the depthwise variant's padded image (bytes)


def refuse_target(target) -> str | None:
    """None on a board with MVE (Helium); target None (select.refusal: no board feature) has none."""
    if target is not None and getattr(target, "mve", False):
        return None
    return "needs MVE (Helium)" + (f" ({target.name} has none)" if target is not None else "")


def table(n: int) -> int:
    """fn_mve_table_size: 5 int32 per channel, n rounded up to 4."""
    return 20 * ((n + 3) // 4 * 4) if 1 <= n <= 1 << 20 else 0


def conv2d_1x1_scratch(p: dict) -> int:
    return table(p["out_c"])


def conv2d_scratch(p: dict) -> int:
    """fn_conv2d_s8_mve_scratch_size: the table and one window rounded up to 8."""
    depth = p["kernel_h"] * p["kernel_w"] * p["in_c"]
    t = table(p["out_c"])
    if p["groups"] != 1 or min(p["kernel_h"], p["kernel_w"], p["in_c"]) < 1 or depth > FN_CONV_MVE_DEPTH or t == 0:
        return 0
    return t + (depth + 7) // 8 * 8


def dw_padded(n_in: int, n_out: int, kernel: int, stride: int, dilation: int, pad_before: int) -> int:
    """fn_dw_mve_padded: rows (or columns) of the zero-point-padded image; 0 if >= 2^24."""
    if min(n_in, n_out, kernel, stride, dilation) < 1 or pad_before < 0:
        return 0
    n = max(n_in + pad_before, (n_out - 1) * stride + (kernel - 1) * dilation + 1)
    return n if n < 1 << 24 else 0


def dw_padded_image(p: dict) -> int:
    """Bytes of the depthwise variant's padded image (padded_h * padded_w * in_c)."""
    ph = dw_padded(p["in_h"], p["out_h"], p["kernel_h"], p["stride_h"], p["dilation_h"], p["pad_top"])
    pw = dw_padded(p["in_w"], p["out_w"], p["kernel_w"], p["stride_w"], p["dilation_w"], p["pad_left"])
    return ph * pw * p["in_c"]


def dw_scratch(p: dict) -> int:
    """fn_depthwise_conv2d_s8_mve_scratch_size: the table, the padded image rounded up to 8 and
    32 bytes per 8 output pixels."""
    t = table(p["in_c"])
    ph = dw_padded(p["in_h"], p["out_h"], p["kernel_h"], p["stride_h"], p["dilation_h"], p["pad_top"])
    pw = dw_padded(p["in_w"], p["out_w"], p["kernel_w"], p["stride_w"], p["dilation_w"], p["pad_left"])
    kh, kw = p["kernel_h"], p["kernel_w"]
    if (p["depth_multiplier"] != 1 or kh < 1 or kw < 1 or kh * kw > FN_DW_MVE_TAPS or t == 0 or ph == 0 or pw == 0
            or ph * pw > INT32_MAX):
        return 0
    total = t + (ph * pw * p["in_c"] + 7) // 8 * 8 + 32 * ((p["out_h"] * p["out_w"] + 7) // 8)
    return total if total < INT32_MAX else 0
