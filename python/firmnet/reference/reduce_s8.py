"""Int8 MEAN (reduce mean over any set of axes of a rank <= 4 tensor), bit-exact with
TensorFlow Lite Micro.

Mirrors runtime_c/include/fn_reduce_s8.h (fn_mean_s8.c). TFLM's int8 MEAN takes one path
for every axis set, keep_dims value and pair of quantizations (equal or not):
reduce_common.cc PrepareMeanOrSum / EvalMean -> EvalIntegerMean -> QuantizedMeanOrSum ->
reference_ops::QuantizedMeanOrSum (tensorflow/lite/micro/kernels/internal/reference/
reduce.h). Its arithmetic, per output element over the n reduced input elements:

    (m, s)  = QuantizeMultiplier(double(s_in) / double(s_out))           Prepare
    k       = min(floor(log2 n), 32, 31 + s)                              1/n folded in
    m'      = (int64(m) << k) / n  (truncating),   s' = s - k
    sum     = int32(sum(x) - zp_in * n)       (int32 wrap-around, as TFLM)
    out     = clamp(MultiplyByQuantizedMultiplier(sum, m', s') + zp_out, -128, 127)

(Older TFLM releases had reference_integer_ops::Mean for axes {1, 2} with keep_dims, and a
truncating integer Mean for equal quantizations; the tflite-micro package the tests run
takes QuantizedMeanOrSum everywhere, and tests/test_kernels_reduce_s8.py checks it.)

``mean_constants`` derives the count, the zero points and the folded (``multiplier``,
``shift``) from the shape, axes and quantizations; it raises ValueError for what TFLM
cannot do (or would do with undefined behaviour): an axis out of range, scales that are
not positive finite float32, zero points outside int8, more than 2^31-1 elements, and a
scale ratio so large that the left shift of the sum leaves int32. ``mean_s8`` takes the
array and those quantities. The C parameter struct (firmnet.kernels.params_reduce_s8)
adds the layout (the shape padded to rank 4, a flag per reduced axis).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .activation_s8 import tflite_quantize_multiplier
from .fixedpoint import mul_by_quantized_mul_single, mul_by_quantized_mul_tflm
from .quantize_s8 import check_mode, check_quant, quantize_ort

INT32_MAX = 2**31 - 1


def resolve_axes(rank: int, axes: Sequence[int]) -> tuple[int, ...]:
    """TFLite's ResolveAxis: negative axes counted from the end, duplicates dropped; sorted."""
    resolved = set()
    for a in axes:
        if int(a) != a or not -rank <= int(a) < rank:
            raise ValueError(f"int8 mean: axis {a!r} is out of range for a rank-{rank} tensor "
                             f"(axes must lie in [{-rank}, {rank - 1}])")
        resolved.add(int(a) % rank)
    return tuple(sorted(resolved))


def mean_output_shape(shape: Sequence[int], axes: Sequence[int], keep_dims: bool = True) -> tuple[int, ...]:
    """Shape of MEAN's output: reduced axes become 1 (keep_dims) or are dropped."""
    reduced = resolve_axes(len(shape), axes)
    if keep_dims:
        return tuple(1 if k in reduced else int(d) for k, d in enumerate(shape))
    return tuple(int(d) for k, d in enumerate(shape) if k not in reduced)


def fold_count(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """TFLM QuantizedMeanOrSum: fold 1/count into (multiplier, shift)."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << k) // count, shift - k


def mean_constants(shape: Sequence[int], axes: Sequence[int], input_scale: float, input_zero_point: int,
                   output_scale: float, output_zero_point: int, compute_sum: bool = False,
                   mode: str = "tflm") -> dict:
    """The count, zero points, scales and (multiplier, shift) of MEAN (or with compute_sum,
    TFLM's SUM: QuantizedMeanOrSum without the fold of 1/n) over `axes` of an int8 tensor of
    `shape`. mode "single" rounds the multiply once; "ort" follows onnxruntime's float graph
    (fn_reduce_s8.h): v = float32(sum) * s_in [/ float32(n)], quantize_ort(v, s_out, zp_out)."""
    what = "int8 mean"
    shape = tuple(shape)
    if any(int(d) != d or int(d) < 1 for d in shape):
        raise ValueError(f"{what}: every input dimension must be >= 1, got shape {list(shape)}")
    total = int(np.prod([int(d) for d in shape], dtype=object))
    if total > INT32_MAX:
        raise ValueError(f"{what}: the input has {total} elements, more than 2^31-1")
    reduced = resolve_axes(len(shape), axes)
    s_in, zp_in = check_quant((input_scale, input_zero_point), f"{what} input")
    s_out, zp_out = check_quant((output_scale, output_zero_point), f"{what} output")
    count = int(np.prod([int(shape[k]) for k in reduced], dtype=object))
    check_mode(mode, what)
    m, s = tflite_quantize_multiplier(s_in / s_out)       # Python float division is double
    multiplier, shift = (m, s) if compute_sum else fold_count(m, s, count)
    # |sum| <= count * max|x - zp_in| (and <= 2^31 once wrapped); TFLM shifts it left by `shift`
    bound = min(count * max(127 - zp_in, zp_in + 128), 2**31)
    if mode == "ort" and count * 255 >= 2**24:
        raise ValueError(f"{what}: {count} reduced elements: the ort-mode float sum is exact only below "
                         f"2^24 / 255 = 65793 elements")
    if shift > 0 and mode != "ort" and (bound << shift) > INT32_MAX - 128:
        raise ValueError(f"{what}: input_scale / output_scale = {s_in / s_out:.6g} is too large for "
                         f"{count} reduced elements: the sum * 2^{shift} overflows int32 in TFLite Micro's "
                         f"MultiplyByQuantizedMultiplier")
    return {"input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": multiplier, "shift": shift,
            "count": count, "input_scale": s_in, "output_scale": s_out}


def mean_s8(x, *, axes: Sequence[int], input_scale: float, input_zero_point: int, output_scale: float,
            output_zero_point: int, compute_sum: bool = False, mode: str = "tflm", ort_rows: bool = False,
            table=None, keep_dims: bool = True) -> np.ndarray:
    """int8 MEAN (or SUM) of x over `axes` (module docstring) -> int8 of
    mean_output_shape(x.shape, axes, keep_dims). In ort mode the float values are
    mean_float_values' (ort_rows: onnxruntime's order of the additions; table: a float
    activation of each dequantized input)."""
    x = np.asarray(x)
    p = mean_constants(x.shape, axes, input_scale, input_zero_point, output_scale, output_zero_point, compute_sum,
                       mode)
    reduced = resolve_axes(x.ndim, axes)
    x64 = x.astype(np.int64)
    total = (x64 - p["input_zero_point"]).sum(axis=reduced, keepdims=True)
    wrapped = ((total + 2**31) % 2**32) - 2**31                  # TFLM's int32 sum wraps
    if mode == "ort":
        v = mean_float_values(x, axes=axes, input_scale=input_scale, input_zero_point=input_zero_point,
                              compute_sum=compute_sum, ort_rows=ort_rows, table=table)
        out = quantize_ort(v, p["output_scale"], p["output_zero_point"]).astype(np.int8)
    else:
        mul = mul_by_quantized_mul_single if mode == "single" else mul_by_quantized_mul_tflm
        out = mul(wrapped, p["multiplier"], p["shift"]) + p["output_zero_point"]
        out = np.clip(out, -128, 127).astype(np.int8)
    return out.reshape(mean_output_shape(x.shape, axes, keep_dims))


def mean_float_values(x, *, axes: Sequence[int], input_scale: float, input_zero_point: int,
                      compute_sum: bool = False, ort_rows: bool = False, table=None) -> np.ndarray:
    """The float32 mean (sum) per output element before any quantization, as fn_mean_s8 computes
    it in ORT mode and fn_mean_s8_f32 always (fn_reduce_s8.h), shaped like x with the reduced
    axes kept as 1:
      no table, no ort_rows   float32(exact integer sum of x - zp) * s_in
      ort_rows                eigen_row_sums of the values (onnxruntime's order)
      table, no ort_rows      float32 sum of the values one by one in row-major order
    where a value is float32(x - zp) * s_in, or table[x + 128] with a table (float32, 256
    entries: onnxruntime's float activation of each dequantized input, ort_s8.ort_float_table);
    MEAN then divides by float32(count)."""
    x64 = np.asarray(x).astype(np.int64)
    reduced = resolve_axes(x64.ndim, axes)
    kept_axes = tuple(k for k in range(x64.ndim) if k not in reduced)
    s_in, zp_in = check_quant((input_scale, input_zero_point), "int8 mean input")
    count = int(np.prod([x64.shape[k] for k in reduced], dtype=np.int64))
    out_shape = [1 if k in reduced else d for k, d in enumerate(x64.shape)]
    if table is None:
        values = (x64 - zp_in).astype(np.float32) * np.float32(s_in)
    else:
        values = np.asarray(table, np.float32)[x64 + 128]
    rows = values.transpose(kept_axes + reduced).reshape(-1, count)
    if ort_rows:
        v = eigen_row_sums(rows)
    elif table is not None:
        v = rows[:, 0].copy()
        for j in range(1, count):
            v = v + rows[:, j]
    else:
        total = (x64 - zp_in).sum(axis=reduced)
        v = (((total + 2**31) % 2**32) - 2**31).astype(np.float32).reshape(-1) * np.float32(s_in)
    v = v.reshape(out_shape)
    return v if compute_sum else v / np.float32(count)


def mean_s8_f32(x, *, axes: Sequence[int], input_scale: float, input_zero_point: int, compute_sum: bool = False,
                mode: str = "tflm", ort_rows: bool = False, table=None, keep_dims: bool = True) -> np.ndarray:
    """fn_mean_s8_f32's arithmetic: the float32 mean_float_values, shaped like mean_s8's output
    (onnxruntime's order of the additions with ort_rows in ort mode only)."""
    check_mode(mode, "int8 mean")
    v = mean_float_values(x, axes=axes, input_scale=input_scale, input_zero_point=input_zero_point,
                          compute_sum=compute_sum, ort_rows=ort_rows and mode == "ort", table=table)
    return v.astype(np.float32).reshape(mean_output_shape(np.shape(x), axes, keep_dims))


EIGEN_LANES = 4     # onnxruntime's x86-64 build: Eigen's SSE float packets


def eigen_row_sums(rows: np.ndarray) -> np.ndarray:
    """float32 sum of each row of a [rows, n] float32 array in the order onnxruntime's
    ReduceSum/ReduceMean add a row (Eigen's vectorized redux over a contiguous row, 4 lanes):
    the row's first a elements are the ones before a 16-byte boundary, a = (4 - (d * n) % 4) % 4
    for row d of a 16-byte aligned buffer; then packets of 4 go to two lane accumulators in
    turn (p0 takes packets 0, 2, 4..., p1 packets 1, 3, ...) up to the last pair, p0 += p1,
    p0 += the odd packet left over, the lanes combine as (l0 + l2) + (l1 + l3), then the first
    a elements and the tail after the last packet are added one by one. A row with fewer than
    4 elements after its first a is added one by one from the start."""
    rows = np.asarray(rows, np.float32)
    count, n = rows.shape
    out = np.zeros(count, np.float32)
    lanes = EIGEN_LANES
    for d in range(count):
        v = rows[d]
        a = min((lanes - (d * n) % lanes) % lanes, n)
        packets = (n - a) // lanes
        if packets == 0:
            r = v[0]
            for x in v[1:]:
                r = np.float32(r + x)
            out[d] = r
            continue
        pairs_end = a + (packets // 2) * 2 * lanes
        p0 = v[a:a + lanes].copy()
        if packets > 1:
            p1 = v[a + lanes:a + 2 * lanes].copy()
            for i in range(a + 2 * lanes, pairs_end, 2 * lanes):
                p0 = p0 + v[i:i + lanes]
                p1 = p1 + v[i + lanes:i + 2 * lanes]
            p0 = p0 + p1
            if packets % 2:
                p0 = p0 + v[pairs_end:pairs_end + lanes]
        r = np.float32(np.float32(p0[0] + p0[2]) + np.float32(p0[1] + p0[3]))
        for x in v[:a]:
            r = np.float32(r + x)
        for x in v[a + packets * lanes:]:
            r = np.float32(r + x)
        out[d] = r
    return out
