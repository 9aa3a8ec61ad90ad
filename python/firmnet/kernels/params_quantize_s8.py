"""Parameter structs of the int8 conversion kernels (runtime_c/include/fn_elementwise_s8.h:
fn_quantize_f32_s8, fn_dequantize_s8_f32, fn_requantize_s8, fn_concat_s8) and of the
fn_requant_s8 spec that every kernel requantizing int8 -> int8 takes. Keys are the C
struct fields. The arithmetic (reference/quantize_s8.py) derives the same multipliers on
its own from the same scales; ValueError where a kernel cannot run the layer."""
from __future__ import annotations

from typing import Sequence

from ..lowering import c_enum
from .params_layout import concat_params as concat_layout
from .params_requant import REQUANT_MODE
from ..reference.fixedpoint import quantize_multiplier
from ..reference.quantize_s8 import check_mode, check_quant

INT32_MAX = 2**31 - 1
S8_REQUANT = {"copy": 0, "fixed": 1, "float": 2}       # fn_s8_requant_method
_METHOD = c_enum(S8_REQUANT, "FN_S8_REQUANT_")


def _count(count: int, what: str) -> int:
    if not 0 <= int(count) <= INT32_MAX:
        raise ValueError(f"{what}: element count must be in 0..2^31-1, got {count}")
    return int(count)


def quantize_f32_s8_params(count: int, y_q, mode: str = "tflm") -> dict:
    """fn_quantize_f32_s8_params: float32 -> int8 with output quantization y_q = (scale, zp)."""
    what = "quantize"
    scale, zp = check_quant(y_q, what)
    check_mode(mode, what)
    return {"count": _count(count, what), "requant_mode": REQUANT_MODE[mode], "scale": scale, "zero_point": zp}


def dequantize_s8_f32_params(count: int, x_q) -> dict:
    """fn_dequantize_s8_f32_params: int8 with quantization x_q = (scale, zp) -> float32."""
    scale, zp = check_quant(x_q, "dequantize")
    return {"count": _count(count, "dequantize"), "scale": scale, "zero_point": zp}


def requant_s8_spec(x_q, y_q, mode: str = "tflm", what: str = "requantize") -> dict:
    """One fn_requant_s8 (int8 with x_q -> int8 with y_q): COPY for equal quantizations, FLOAT
    in ort mode, else FIXED with (m, shift) = QuantizeMultiplier(double(s_in) / double(s_out))."""
    check_mode(mode, what)
    code = REQUANT_MODE[mode]
    s_in, zp_in = check_quant(x_q, f"{what} input")
    s_out, zp_out = check_quant(y_q, f"{what} output")
    spec = {"method": _METHOD["copy"], "requant_mode": code, "input_zero_point": zp_in,
            "output_zero_point": zp_out, "multiplier": 0, "shift": 0,
            "input_scale": s_in, "output_scale": s_out}
    if s_in == s_out and zp_in == zp_out:
        return spec
    if mode == "ort":
        spec["method"] = _METHOD["float"]
        return spec
    m, shift = quantize_multiplier(s_in / s_out)
    if shift > 22:
        # 255 << shift must stay below 2^31 for MultiplyByQuantizedMultiplier's left shift
        raise ValueError(f"{what}: scale ratio {s_in / s_out:.6g} is too large (>= 2^22) "
                         f"for TFLite's fixed-point requantization")
    spec.update(method=_METHOD["fixed"], multiplier=m, shift=shift)
    return spec


def requantize_s8_params(count: int, x_q, y_q, mode: str = "tflm") -> dict:
    """fn_requantize_s8_params: {"count": n, "q": fn_requant_s8}."""
    return {"count": _count(count, "requantize"), "q": requant_s8_spec(x_q, y_q, mode)}


def concat_s8_params(shapes: Sequence[Sequence[int]], axis: int, x_qs: Sequence, y_q,
                     mode: str = "tflm") -> dict:
    """fn_concat_s8_params for numpy.concatenate(xs, axis) of int8 tensors with their own
    quantizations x_qs[k], requantized to y_q; `in_block_elems` and `requant` are lists (one
    entry per input), as the C struct's arrays.

    When every input has y_q's quantization, every spec is COPY and the byte kernel
    fn_concat (params_layout.concat_params with elem_size 1) does the same job: prefer it.
    """
    if len(x_qs) != len(shapes):
        raise ValueError(f"concat: {len(shapes)} inputs but {len(x_qs)} quantizations")
    lay = concat_layout(shapes, axis, 1)
    return {"n_inputs": lay["n_inputs"], "outer": lay["outer"], "in_block_elems": list(lay["in_block_bytes"]),
            "requant": [requant_s8_spec(q, y_q, mode, what=f"concat input {k}") for k, q in enumerate(x_qs)]}
