"""Larq Compute Engine custom operators (.tflite from LCE's converter) → binary IR nodes.

LCE stores binary activations as int32 words along the channels, 32 to a word, channel c in
bit c % 32 of word c / 32, bit 1 meaning -1 (x < 0, or x < zero point for int8) and the
unused bits of the last word 0. firmnet's b1 has the same layout with the opposite meaning
(bit 1 = +1), so the importer reads LCE's words into +-1 values and the tensors between LCE
ops become b1 tensors of the real channel count; the file's packed shape [..., ceil(C / 32)]
is checked against it. Options are a flexbuffer map in the operator's custom_options
(documented in the larq/compute-engine repository).

- LceQuantize (float32 or int8 → bits): binarize; -1 where x < 0 (x < zero point), +1 else.
  LCE on x86 and firmnet agree at x == -0.0 (+1); LCE reads NaN as +1, firmnet as -1.
- LceDequantize (bits → float32 +-1): unbinarize; to int8: unbinarize then quantize
  (round(+-1 / scale) + zero point, saturated: LCE's zero point +- round(1 / scale)).
- LceBMaxPool2d (filter_height/width, stride_height/width, padding SAME/VALID): bmaxpool;
  the max of +-1 values, padded taps skipped as LCE's kernel does.
- LceBconv2d (channels_in, stride, dilation, padding, pad_values 0/1,
  fused_activation_function): bconv2d on the filter [O, KH, KW, ceil(C / 32)] of LCE words.
  LCE's accumulator is p = popcount(x XOR w) over K = KH * KW * C bits (one padding: a
  padded pixel is bit 0, i.e. +1), so acc = K - 2p.
    float output: LCE computes float(clamp(acc, act)) * multiplier[c] + bias[c], the fused
      activation clamping the accumulator. Without activation that is bconv2d's float
      stage (scale = multiplier, offset = bias); with one, bconv2d clamps acc (scale 1,
      offset 0: exact, integers) and a float Mul and Add follow. LCE folds the back
      transformation into its float constants, so the float results agree to rounding.
    int8 output: the float output (as above) quantized to the output's scale and zero point
      (round half away from zero, saturated). LCE folds 1 / scale and the zero point into
      its float multiplier and bias before rounding: the int8 values agree within 1.
    bitpacked output: LCE writes -1 where p > threshold[c]: +1 exactly where
      acc >= K - 2 * threshold[c], which is bconv2d's bits stage with scale 1 and offset
      2 * threshold - K (threshold clamped to [-1, K] first: integers, exact in float32).
      The converter folded the BatchNorm and the fused activation into the thresholds.
  Dilation other than 1 and bitpacked output with SAME zero padding (LCE's converter does
  not write it) are refused, naming the operator.
"""
from __future__ import annotations

import numpy as np
import tflite
from flatbuffers import flexbuffers

from ..dtypes import unpack_b1
from ..ir import TensorType, UnsupportedError
from ..ops import binarize, binary, bconv2d, bmaxpool, quantize, unbinarize
from ..ops._util import NO_CLAMP
from .tflite_ops import ACTIVATIONS, _pads

WORD = 32


def options(raw: bytes) -> dict:
    """The flexbuffer map of an LCE operator's custom_options."""
    if not raw:
        return {}
    try:
        value = flexbuffers.Loads(bytes(raw))
    except Exception as exc:   # flexbuffers raises plain errors on damaged bytes
        raise UnsupportedError(f"custom options are not a readable flexbuffer ({exc})") from None
    if not isinstance(value, dict):
        raise UnsupportedError(f"custom options are a {type(value).__name__}, not a flexbuffer map")
    return value


def _int(opts: dict, key: str, default=None) -> int:
    value = opts.get(key, default)
    if value is None:
        raise UnsupportedError(f"option '{key}' is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnsupportedError(f"option '{key}' is {value!r}, not an integer")
    return value


def unpack_lce_words(words: np.ndarray, n: int, name: str) -> np.ndarray:
    """+-1 int8 [..., n] of LCE's int32 words [..., ceil(n / 32)] (bit 1 = -1)."""
    words = np.asarray(words)
    if words.shape[-1] != -(-n // WORD):
        raise UnsupportedError(f"tensor '{name}': {words.shape[-1]} words per row hold {n} values in "
                               f"{-(-n // WORD)} words")
    u = words.astype(np.int64).astype(np.uint32)
    if n % WORD and (u[..., -1] >> np.uint32(n % WORD)).any():
        raise UnsupportedError(f"tensor '{name}': the unused bits of its last word are not 0 (a damaged file?)")
    return -unpack_b1(u, n)   # firmnet's bit 1 is +1: the same bits read as the opposite sign


def _packed(c, name: str, real_shape) -> None:
    """Check the file's int32 [..., ceil(C / 32)] for a bits tensor of real_shape, then give it its b1 type."""
    t = c.types[name]
    want = tuple(real_shape[:-1]) + (-(-real_shape[-1] // WORD),)
    if t.dtype != "int32" or t.shape != want:
        raise UnsupportedError(f"tensor '{name}' is {t.dtype} {list(t.shape)}; LCE's bits of "
                               f"{list(real_shape)} are int32 {list(want)}")
    c.types[name] = TensorType(tuple(real_shape), "b1")


def _bits_input(c, name: str, rank: int | None = None) -> TensorType:
    t = c.types.get(name) or c.b.types.get(name)
    if t is None or t.dtype != "b1":
        raise UnsupportedError(f"input '{name}' must be LCE bits (the output of LceQuantize, LceBconv2d or "
                               f"LceBMaxPool2d), got {t}")
    if rank is not None and len(t.shape) != rank:
        raise UnsupportedError(f"input '{name}' must be {rank}-D (NHWC), got {list(t.shape)}")
    return t


def _io(inputs, outputs, n_inputs: int) -> None:
    if len(inputs) < n_inputs or not all(inputs[:n_inputs]) or len(outputs) != 1:
        raise UnsupportedError(f"{len(inputs)} inputs and {len(outputs)} outputs; the operator takes "
                               f"{n_inputs} input(s) and gives one output")


def LceQuantize(c, index, inputs, outputs, raw):
    _io(inputs, outputs, 1)
    x, y = inputs[0], outputs[0]
    t = c.types[x]
    if t.dtype == "float32":
        zp = None
    elif t.dtype == "int8" and t.quant is not None and t.quant.axis is None:
        zp = int(t.quant.zero_point[0])
    else:
        raise UnsupportedError(f"input '{x}' must be float32 or int8 quantized per tensor, got {t}")
    _packed(c, y, t.shape)
    c.add("binarize", [x], binarize.Attrs(zero_point=zp, layout="NHWC"), outputs, index)


def _int8_output(c, y):
    """The int8 output's quantization (per tensor)."""
    q = c.types[y].quant
    if q is None or q.axis is not None or len(q.scale) != 1:
        raise UnsupportedError(f"int8 output '{y}' must be quantized per tensor, got {q}")
    return q


def LceDequantize(c, index, inputs, outputs, raw):
    _io(inputs, outputs, 1)
    x, y = inputs[0], outputs[0]
    t = _bits_input(c, x)
    out = c.types[y]
    if out.dtype not in ("float32", "int8"):
        raise UnsupportedError(f"output '{y}' is {out.dtype}; LCE dequantizes to float32 or int8")
    if out.shape != t.shape:
        raise UnsupportedError(f"output '{y}' is {list(out.shape)}, its bits {list(t.shape)}")
    if out.dtype == "float32":
        c.add("unbinarize", [x], unbinarize.Attrs(layout="NHWC"), outputs, index)
        return
    q = _int8_output(c, y)
    pm1 = c.add("unbinarize", [x], unbinarize.Attrs(layout="NHWC"), None, index, suffix="pm1")[0]
    c.add("quantize", [pm1], quantize.Attrs(q, "tflm"), outputs, index, suffix="int8")


def _geometry(opts):
    strides = (_int(opts, "stride_height"), _int(opts, "stride_width"))
    padding = _int(opts, "padding")
    if padding not in (tflite.Padding.SAME, tflite.Padding.VALID):
        raise UnsupportedError(f"padding {padding} is not SAME (0) or VALID (1)")
    return strides, padding


def LceBMaxPool2d(c, index, inputs, outputs, raw):
    _io(inputs, outputs, 1)
    opts = options(raw)
    x, y = inputs[0], outputs[0]
    n, h, w, ch = _bits_input(c, x, 4).shape
    kernel = (_int(opts, "filter_height"), _int(opts, "filter_width"))
    strides, padding = _geometry(opts)
    if min(kernel) < 1:
        raise UnsupportedError(f"filter {kernel} must be at least 1x1")
    pads = _pads(padding, h, w, kernel[0], kernel[1], strides, (1, 1))
    attrs = bmaxpool.Attrs(kernel=kernel, strides=strides, pads=pads, layout="NHWC")
    oh, ow = bmaxpool.out_hw(attrs, h, w)
    _packed(c, y, (n, oh, ow, ch))
    c.add("bmaxpool", [x], attrs, outputs, index)


def _filter(c, name: str, channels: int) -> np.ndarray:
    """The +-1 OHWI filter of an LceBconv2d from LCE's int32 words [O, KH, KW, ceil(C / 32)]."""
    value = c.constant(name)
    if value.ndim != 4 or value.dtype != np.int32:
        raise UnsupportedError(f"filter '{name}' is {value.dtype} {list(value.shape)}; LCE's converter writes "
                               f"int32 words [O, KH, KW, {-(-channels // WORD)}] (older float filters are not "
                               "supported)")
    return unpack_lce_words(value, channels, name)


def _per_channel(c, name: str, o: int, dtype, what: str) -> np.ndarray:
    if not name:
        raise UnsupportedError(f"this output needs the {what} input, which is absent")
    value = np.asarray(c.constant(name))
    if value.dtype != dtype or value.shape != (o,):
        raise UnsupportedError(f"{what} '{name}' must be {np.dtype(dtype).name} [{o}], got {value.dtype} "
                               f"{list(value.shape)}")
    return value


def bits_stage(thresholds, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) float32 of bconv2d's bits stage equal to LCE's thresholds: LCE writes -1
    where popcount p > t, and acc = K - 2p, so +1 exactly where acc + 2t - K >= 0. t is clamped
    to [-1, K] first (p lies in [0, K]), so every value is an integer below 2^24: exact."""
    t = np.clip(np.asarray(thresholds, np.int64), -1, k)
    return np.ones(t.shape, np.float32), (2 * t - k).astype(np.float32)


def LceBconv2d(c, index, inputs, outputs, raw):
    _io(inputs, outputs, 2)
    opts = options(raw)
    x, w_name, mult, bias, thresholds = (list(inputs) + [""] * 5)[:5]
    y = outputs[0]
    n, h, wd, ch = _bits_input(c, x, 4).shape
    channels_in = _int(opts, "channels_in", ch)
    if channels_in != ch:
        raise UnsupportedError(f"channels_in {channels_in}, but its input has {ch} channels")
    dilations = (_int(opts, "dilation_height_factor", 1), _int(opts, "dilation_width_factor", 1))
    if dilations != (1, 1):
        raise UnsupportedError(f"dilation {dilations[0]}x{dilations[1]} is not supported (firmnet's binary "
                               "convolution has dilation 1)")
    pad_value = _int(opts, "pad_values", 0)
    if pad_value not in (0, 1):
        raise UnsupportedError(f"pad_values {pad_value} (LCE pads with 0 or 1)")
    fused = _int(opts, "fused_activation_function", 0)
    if fused not in ACTIVATIONS:
        raise UnsupportedError(f"fused activation {fused} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    strides, padding = _geometry(opts)
    w = _filter(c, w_name, ch)
    o, kh, kw, _ = w.shape
    pads = _pads(padding, h, wd, kh, kw, strides, dilations)
    k = kh * kw * ch
    w_const = c.b.const(w, f"{w_name}/pm1")
    file_out = c.types[y]
    geometry = dict(strides=strides, pads=pads, layout="NHWC", pad_value=pad_value if any(pads) else 0)
    oh, ow = bconv2d.out_hw(bconv2d.Attrs(**geometry), h, wd, kh, kw)
    if file_out.dtype == "int32":   # bitpacked output through LCE's thresholds
        if any(pads) and pad_value == 0:
            raise UnsupportedError("bitpacked output with SAME zero padding (pad_values=0) is not supported "
                                   "(LCE's thresholds count padded taps as +1; use pad_values=1 or VALID)")
        scale, offset = bits_stage(_per_channel(c, thresholds, o, np.int32, "thresholds"), k)
        scale, offset = c.b.const(scale, f"{y}/scale"), c.b.const(offset, f"{y}/offset")
        _packed(c, y, (n, oh, ow, o))
        c.add("bconv2d", [x, w_const, scale, offset], bconv2d.Attrs(out="bits", **geometry), outputs, index)
        return
    if file_out.dtype not in ("float32", "int8"):
        raise UnsupportedError(f"output '{y}' is {file_out.dtype}; LCE's binary convolution writes float32, int8 "
                               "or bitpacked int32")
    m = _per_channel(c, mult, o, np.float32, "post_activation_multiplier")
    b = _per_channel(c, bias, o, np.float32, "post_activation_bias")
    int8 = file_out.dtype == "int8"
    q = _int8_output(c, y) if int8 else None
    act = ACTIVATIONS[fused]
    real = None if int8 else outputs
    if act == NO_CLAMP:
        stage = [c.b.const(m, f"{mult}/scale"), c.b.const(b, f"{bias}/offset")]
        value = c.add("bconv2d", [x, w_const] + stage, bconv2d.Attrs(out="float", **geometry), real, index,
                      suffix="real" if int8 else None)[0]
    else:
        ones, zeros = c.b.const(np.ones(o, np.float32), f"{y}/one"), c.b.const(np.zeros(o, np.float32), f"{y}/zero")
        acc = c.add("bconv2d", [x, w_const, ones, zeros], bconv2d.Attrs(out="float", act=act, **geometry), None,
                    index, suffix="clamped_acc")[0]
        scaled = c.add("binary", [acc, c.b.const(m, f"{mult}/mul")], binary.Attrs("mul"), None, index,
                       suffix="multiplier")[0]
        value = c.add("binary", [scaled, c.b.const(b, f"{bias}/add")], binary.Attrs("add"), real, index,
                      suffix="bias")[0]
    if int8:
        c.add("quantize", [value], quantize.Attrs(q, "tflm"), outputs, index, suffix="int8")


CONVERTERS = {f"CUSTOM ({f.__name__})": f for f in (LceQuantize, LceDequantize, LceBMaxPool2d, LceBconv2d)}
