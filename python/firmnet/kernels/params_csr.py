"""Parameter structs of the CSR kernels (runtime_c/include/fn_csr.h, fn_fc_s8_csr.h,
fn_fc_f32_csr.h, fn_conv2d_s8_csr.h, fn_conv2d_f32_csr.h): the packing of a dense weight
matrix (or a convolution's filter) into CSR, the input offset folded into the int8 bias,
and the kernels' structs. The C interface, not the arithmetic: the
tests compare the kernels with the dense numpy reference (reference/dense_s8.py, dense.py).

Storage of one layer (fn_csr.h): the values row after row (row = output channel), the
column of each as a uint8 step from the previous one (with zero-valued fillers of step 255
across wider gaps) or as a uint16 column, whichever makes the layer smaller; row starts
uint16 when the entries fit, else uint32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lowering import CArray
from . import params_conv_s8 as kp
from .params_conv_f32 import conv_geometry

DELTA_MAX = 255            # the widest uint8 step; wider gaps take fillers
INDEX_MAX_COLS = 2**16     # uint16 columns
ROW16_MAX = 2**16 - 1      # uint16 row starts
FORMS = ("delta", "index")


@dataclass(frozen=True)
class CsrMatrix:
    """A [rows, cols] matrix as fn_csr holds it; values in the matrix's dtype."""
    rows: int
    cols: int
    values: np.ndarray              # [entries]
    col_delta: np.ndarray | None    # uint8 [entries]
    col_index: np.ndarray | None    # uint16 [entries]
    row_start: np.ndarray           # uint16 or uint32 [rows + 1]

    @property
    def entries(self) -> int:
        return int(self.values.size)

    @property
    def nonzeros(self) -> int:
        return int(np.count_nonzero(self.values))

    @property
    def nbytes(self) -> int:
        """Flash of the matrix: values, columns and row starts (not the bias)."""
        cols = self.col_delta if self.col_delta is not None else self.col_index
        return int(self.values.nbytes + cols.nbytes + self.row_start.nbytes)

    @property
    def form(self) -> str:
        return "delta" if self.col_delta is not None else "index"

    def struct(self) -> dict:
        """The matrix fields of a CSR kernel's params struct (fn_csr.h; arrays as CArray, NULL
        as None)."""
        def arr(a, ctype):
            return None if a is None else CArray(ctype, tuple(stored(a).tolist()))
        wide = self.row_start.dtype == np.uint32
        return {"in_features": self.cols, "out_features": self.rows, "entries": self.entries,
                "col_delta": arr(self.col_delta, "uint8_t"), "col_index": arr(self.col_index, "uint16_t"),
                "row_start16": None if wide else arr(self.row_start, "uint16_t"),
                "row_start32": arr(self.row_start, "uint32_t") if wide else None}

    def dense(self) -> np.ndarray:
        """The [rows, cols] matrix back (the packing tests' inverse)."""
        out = np.zeros((self.rows, self.cols), self.values.dtype)
        starts = self.row_start.astype(np.int64)
        row = np.repeat(np.arange(self.rows), np.diff(starts))
        if self.col_delta is not None:
            steps = self.col_delta.astype(np.int64)
            first = np.zeros(self.entries, bool)
            first[starts[:-1][np.diff(starts) > 0]] = True
            total = np.cumsum(steps)
            base = np.maximum.accumulate(np.where(first, total - steps, 0))   # the sum before each row
            col = total - base
        else:
            col = self.col_index.astype(np.int64)
        np.add.at(out, (row, col), self.values)
        return out


def stored(a: np.ndarray) -> np.ndarray:
    """a as a C array: an all-zero layer's empty values and columns get one unread element
    (C has no empty arrays)."""
    return a if a.size else np.zeros(1, a.dtype)


def _row_starts(counts: np.ndarray, row_width: int | None) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    if row_width is None:
        row_width = 16 if starts[-1] <= ROW16_MAX else 32
    if row_width == 16 and starts[-1] > ROW16_MAX:
        raise ValueError(f"{starts[-1]} entries do not fit uint16 row starts")
    if row_width not in (16, 32):
        raise ValueError(f"row start width must be 16 or 32, got {row_width}")
    return starts.astype(np.uint16 if row_width == 16 else np.uint32)


def _delta_form(shape, r, c, nz: np.ndarray, row_width) -> CsrMatrix:
    rows, cols = shape
    first = np.ones(r.size, bool)
    first[1:] = r[1:] != r[:-1]
    prev = np.where(first, 0, np.concatenate([[0], c[:-1]]))
    steps = c - prev
    fillers = np.maximum(steps - 1, 0) // DELTA_MAX
    counts = fillers + 1
    last = np.cumsum(counts) - 1                    # where each nonzero lands
    values = np.zeros(int(counts.sum()), nz.dtype)
    delta = np.full(values.size, DELTA_MAX, np.uint8)
    values[last] = nz
    delta[last] = steps - DELTA_MAX * fillers
    per_row = np.bincount(r, weights=counts, minlength=rows).astype(np.int64)
    return CsrMatrix(rows, cols, values, delta, None, _row_starts(per_row, row_width))


def _index_form(shape, r, c, nz: np.ndarray, row_width) -> CsrMatrix:
    rows, cols = shape
    per_row = np.bincount(r, minlength=rows).astype(np.int64)
    return CsrMatrix(rows, cols, nz, None, c.astype(np.uint16), _row_starts(per_row, row_width))


def pack_entries(shape, r, c, nz, form: str | None = None, row_width: int | None = None) -> CsrMatrix:
    """CSR of the [rows, cols] matrix whose nonzeros nz are at (r, c), in row-major order
    (r, then c ascending). form "delta" or "index" (None: the smaller for this matrix, index
    on a tie); row_width 16 or 32 (None: 16 when the entries fit)."""
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"CSR: the weights must be a [rows, cols] matrix, got shape {tuple(shape)}")
    if form is not None and form not in FORMS:
        raise ValueError(f"CSR column form must be one of {FORMS}, got {form!r}")
    r, c = np.asarray(r, np.int64), np.asarray(c, np.int64)
    candidates = []
    if form in (None, "index") and cols <= INDEX_MAX_COLS:
        candidates.append(_index_form((rows, cols), r, c, nz, row_width))
    elif form == "index":
        raise ValueError(f"CSR: {cols} columns do not fit uint16 columns")
    if form in (None, "delta"):
        candidates.append(_delta_form((rows, cols), r, c, nz, row_width))
    return min(candidates, key=lambda m: m.nbytes)


def pack_csr(w, form: str | None = None, row_width: int | None = None) -> CsrMatrix:
    """CSR of the dense [rows, cols] matrix w (its nonzeros, row after row); form and
    row_width as pack_entries."""
    w = np.asarray(w)
    if w.ndim != 2 or min(w.shape) < 1:
        raise ValueError(f"CSR: the weights must be a [rows, cols] matrix, got shape {w.shape}")
    r, c = np.nonzero(w)
    return pack_entries(w.shape, r, c, w[r, c], form, row_width)


def conv_columns(w_shape, in_w: int, in_c: int, dilations) -> tuple[int, np.ndarray]:
    """(column span, column of each OHWI filter tap (ky, kx, c) flattened): the tap's input
    offset from the window's first input, ky * dh * in_w * in_c + kx * dw * in_c + c
    (fn_conv2d_s8_csr.h)."""
    _, kh, kw, cin = (int(v) for v in w_shape)
    dh, dw = (int(v) for v in dilations)
    ky, kx, ch = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(cin), indexing="ij")
    cols = (ky * dh * in_w + kx * dw) * in_c + ch
    span = ((kh - 1) * dh * in_w + (kw - 1) * dw + 1) * in_c
    return span, cols.reshape(-1).astype(np.int64)


def pack_conv(w, in_w: int, in_c: int, dilations=(1, 1), form=None, row_width=None) -> CsrMatrix:
    """The CSR matrix of an OHWI int8 filter for fn_conv2d_s8_csr: row o = output channel o,
    columns the taps' input offsets (conv_columns)."""
    w = np.asarray(w)
    span, cols = conv_columns(w.shape, in_w, in_c, dilations)
    flat = w.reshape(w.shape[0], -1)
    r, j = np.nonzero(flat)
    return pack_entries((w.shape[0], span), r, cols[j], flat[r, j], form, row_width)


def fold_input_offset(w, bias, input_offset: int) -> np.ndarray:
    """int32 [rows]: bias[o] + input_offset * SUM_i w[o, i] modulo 2^32 (fn_fc_s8_csr.h),
    bias None for none."""
    w = np.asarray(w, dtype=np.int64)
    folded = int(input_offset) * w.sum(axis=1)
    if bias is not None:
        folded = folded + np.asarray(bias, dtype=np.int64)
    return (folded & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def fc_s8_csr_params(x_shape, w, bias=None, *, input_scale, input_zero_point, weight_scales, output_scale,
                     output_zero_point, act=(kp.INT8_MIN, kp.INT8_MAX), mode: str = "tflm",
                     form: str | None = None, row_width: int | None = None) -> tuple[dict, dict, CsrMatrix, np.ndarray]:
    """(fn_fc_s8_csr_params scalar fields with the matrix fields and the requantization block
    (params_requant), the block's arrays, the packed matrix, the folded bias) for x [N, K] and int8 w [M, K] (dense, zero point 0)."""
    w = np.asarray(w)
    if w.dtype != np.int8:
        raise ValueError(f"CSR int8: the weights must be int8, got {w.dtype}")
    fc, arrays = kp.fc_s8_params(x_shape, w.shape, input_scale=input_scale, input_zero_point=input_zero_point,
                                 weight_scales=weight_scales, output_scale=output_scale,
                                 output_zero_point=output_zero_point, act=act, mode=mode)
    m = pack_csr(w, form, row_width)
    params = {"batch": fc["batch"], **m.struct(), "requant": fc["requant"]}
    return params, arrays, m, fold_input_offset(w, bias, fc["input_offset"])


def fc_f32_csr_params(x_shape, w, *, act=(-np.inf, np.inf), form: str | None = None,
                      row_width: int | None = None) -> tuple[dict, CsrMatrix]:
    """(fn_fc_f32_csr_params fields with the matrix fields, the packed float32 matrix)."""
    w = np.asarray(w, dtype=np.float32)
    if len(x_shape) != 2 or int(x_shape[0]) < 1 or int(x_shape[1]) != w.shape[-1]:
        raise ValueError(f"fc: x must be [N, {w.shape[-1]}], got {tuple(x_shape)}")
    m = pack_csr(w, form, row_width)
    return {"batch": int(x_shape[0]), **m.struct(), "act_min": float(act[0]),
            "act_max": float(act[1]), "out_stride": 0}, m


def conv2d_s8_csr_params(x_shape, w, bias=None, *, input_scale, input_zero_point, weight_scales, output_scale,
                         output_zero_point, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                         act=(kp.INT8_MIN, kp.INT8_MAX), mode: str = "tflm", form: str | None = None,
                         row_width: int | None = None) -> tuple[dict, dict, CsrMatrix, np.ndarray]:
    """(fn_conv2d_s8_csr_params fields with the matrix fields, requant arrays, the packed
    matrix, the folded bias) for x NHWC and the int8 OHWI filter w (one group, zero point 0)."""
    w = np.asarray(w)
    if w.dtype != np.int8 or w.ndim != 4:
        raise ValueError(f"CSR conv: the filter must be int8 OHWI, got {w.dtype} {w.shape}")
    conv, arrays = kp.conv2d_s8_params(x_shape, w.shape, input_scale=input_scale,
                                       input_zero_point=input_zero_point, weight_scales=weight_scales,
                                       output_scale=output_scale, output_zero_point=output_zero_point,
                                       strides=strides, dilations=dilations, pads=pads, act=act, mode=mode)
    _check_window(conv)
    m = pack_conv(w, conv["in_w"], conv["in_c"], dilations, form, row_width)
    fields = {k: conv[k] for k in ("batch", "in_h", "in_w", "in_c", "out_h", "out_w", "kernel_h", "kernel_w",
                                   "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left",
                                   "input_offset", "requant")}
    arrays = {k: arrays[k] for k in ("multiplier", "shift", "scale")}
    return {**fields, **m.struct()}, arrays, m, fold_input_offset(w.reshape(w.shape[0], -1), bias,
                                                                   conv["input_offset"])


def conv2d_f32_csr_params(x_shape, w, *, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                          act=(-np.inf, np.inf), form: str | None = None,
                          row_width: int | None = None) -> tuple[dict, CsrMatrix]:
    """(fn_conv2d_f32_csr_params fields with the matrix fields, the packed float32 matrix) for x
    NHWC and the OHWI filter w (one group)."""
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError(f"CSR conv: the filter must be OHWI, got shape {w.shape}")
    conv = conv_geometry(x_shape, w.shape, strides, dilations, pads, 1)
    _check_window(conv)
    m = pack_conv(w, conv["in_w"], conv["in_c"], dilations, form, row_width)
    fields = {k: v for k, v in conv.items() if k not in ("out_c", "groups")}
    return {**fields, **m.struct(), "act_min": float(act[0]), "act_max": float(act[1])}, m


def _check_window(conv: dict) -> None:
    if (conv["kernel_w"] - 1) * conv["dilation_w"] >= conv["in_w"]:
        raise ValueError(f"CSR conv: the filter's width ({conv['kernel_w']}, dilation {conv['dilation_w']}) "
                         f"spans more than the input's {conv['in_w']} columns")


def dense_nbytes(w_shape, itemsize: int) -> int:
    """Flash of the dense matrix, to compare with CsrMatrix.nbytes."""
    return int(np.prod(w_shape)) * itemsize
