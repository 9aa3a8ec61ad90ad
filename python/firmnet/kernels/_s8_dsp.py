"""What the int8 DSP-extension variants share (runtime_c/include/fn_s8_dsp.h): the target
check and the Python mirrors of the C `<variant>_scratch_size()` functions, as functions of
the C parameter struct's fields (tests/test_kernels_scratch.py checks each against the C
one over hypothesis shapes). Sizes in bytes; 0 where the variant does not take the shape,
as in C."""
from __future__ import annotations

INT32_MAX = 2**31 - 1
FN_CONV_DSP_DEPTH = 256        # fn_s8_dsp.h
FN_1X1_XBUF = 128
FN_1X1_CHTAB = 64
FN_DW_ROWS_K = 8
FN_DW_WTAPS = 64
FN_DW_S8_BLOCK = 4             # fn_conv_s8.h
ROW_SLOTS_BYTES = 1024         # the depthwise row variant's selection limit (see depthwise_conv2d_s8_rows_dsp)


def refuse_target(target) -> str | None:
    """None on a board with the DSP extension; target None (select.refusal: no board feature)
    has none."""
    if target is not None and target.dsp:
        return None
    return "needs the DSP extension" + (f" ({target.name} has none)" if target is not None else "")


def conv2d_scratch(p: dict) -> int:
    """fn_conv2d_s8_dsp_scratch_size: two windows of FN_CONV_DSP_DEPTH int16 values."""
    depth = p["kernel_h"] * p["kernel_w"] * p["in_c"]
    if p["groups"] != 1 or min(p["kernel_h"], p["kernel_w"], p["in_c"]) < 1 or depth > FN_CONV_DSP_DEPTH:
        return 0
    return 2 * FN_CONV_DSP_DEPTH * 2


def pw_triple_shape(p: dict) -> bool:
    """fn_pw_triple_shape: the 1x1 variant takes pixels three at a time (with the fast stage)."""
    return (p["in_c"] >= 4 and p["in_c"] % 4 == 0 and 3 * (p["in_c"] // 2) <= FN_1X1_XBUF
            and 2 <= p["out_c"] <= FN_1X1_CHTAB)


def conv2d_1x1_scratch(p: dict) -> int:
    """fn_conv2d_1x1_s8_dsp_scratch_size: widened inputs of 2 or 3 pixels (8 bytes per 4
    channels each), and the channels' output-stage table (16 bytes each) for 3 pixels."""
    n4 = p["in_c"] // 4 if 1 <= p["in_c"] <= FN_1X1_XBUF else 0
    size = 8 * 3 * n4 + 16 * p["out_c"] if pw_triple_shape(p) else 8 * 2 * n4
    return max(size, 8)


def dw_span_w(p: dict) -> int:
    """fn_dw_rows_span_w: input columns one output row reads (0 if not below 2^31)."""
    if min(p["out_w"], p["stride_w"], p["kernel_w"], p["dilation_w"]) < 1:
        return 0
    span = (p["out_w"] - 1) * p["stride_w"] + (p["kernel_w"] - 1) * p["dilation_w"] + 1
    return span if span < INT32_MAX else 0


def dw_rows_scratch(p: dict) -> int:
    """fn_depthwise_conv2d_s8_rows_dsp_scratch_size: a block's widened weights (2 words per tap)
    and kernel_h + 1 widened input rows of 2 * span_w words."""
    span = dw_span_w(p)
    kh, kw = p["kernel_h"], p["kernel_w"]
    if p["depth_multiplier"] != 1 or not 1 <= kh <= FN_DW_ROWS_K or kw > FN_DW_ROWS_K or span == 0:
        return 0
    words = 2 * kh * kw + (kh + 1) * 2 * span
    return 4 * words if words < INT32_MAX // 4 else 0


def dw_blocks_scratch(p: dict) -> int:
    """fn_depthwise_conv2d_s8_blocks_dsp_scratch_size: a block's widened weights."""
    taps = p["kernel_h"] * p["kernel_w"]
    m = p["depth_multiplier"]
    if p["kernel_h"] < 1 or p["kernel_w"] < 1 or taps > FN_DW_WTAPS or (m != 1 and (m < 1 or m % FN_DW_S8_BLOCK)):
        return 0
    return 8 * taps


def fc_codebook_scratch(p: dict) -> int:
    """fn_fc_s8_codebook_dsp_scratch_size: its lookup table of the codebook (1 KB for 4-bit,
    2 KB for 2-bit indices); 0 for a per-channel codebook, 8-bit indices or an input depth
    that is not a positive multiple of 4."""
    if p["per_channel"] or p["bits"] not in (2, 4) or p["in_features"] < 4 or p["in_features"] % 4:
        return 0
    return 1024 if p["bits"] == 4 else 2048


FN_CB_CONV_DEPTH = 1024        # fn_s8_dsp.h


def conv_codebook_scratch(p: dict) -> int:
    """fn_conv2d_s8_codebook_dsp_scratch_size: its lookup table of the codebook (1 KB for
    4-bit, 2 KB for 2-bit indices), 4 pixels' widened windows and one int8 window (9 bytes
    per window value, the window (kernel_h * kernel_w * in_c) rounded up to a multiple of 4);
    0 for a per-channel codebook, 8-bit indices or a window over FN_CB_CONV_DEPTH values."""
    kh, kw, c = p["kernel_h"], p["kernel_w"], p["in_c"]
    if p["per_channel"] or p["bits"] not in (2, 4) or min(kh, kw, c) < 1 or max(kh, kw, c) > FN_CB_CONV_DEPTH:
        return 0
    depth = kh * kw * c
    if depth > FN_CB_CONV_DEPTH:
        return 0
    return (1024 if p["bits"] == 4 else 2048) + 9 * (-(-depth // 4) * 4)


def dw_row_terms(p: dict) -> tuple[int, int]:
    """The row terms of the depthwise row variants' cost models: (output rows times blocks of 4
    channels, widened input columns = padded rows widened times span_w times blocks), with
    dilation_h 1 (each padded row of a window widened once per block)."""
    blocks = p["batch"] * ((p["in_c"] + 3) // 4)
    kh, sh = p["kernel_h"], p["stride_h"]
    filled = p["out_h"] * kh if sh > kh else (p["out_h"] - 1) * sh + kh
    return blocks * p["out_h"], blocks * filled * dw_span_w(p)
