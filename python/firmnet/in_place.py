"""Which kernels may write their output over their input, and how far before it.

``IN_PLACE`` maps a kernel (its C function) to a function of (node, graph) that returns
the ``Overlap`` it allows for that layer's shapes, or None. ``Overlap(input, delta)``: the
output may share bytes with ``node.inputs[input]`` when it starts at least ``delta`` bytes
before that input (delta 0: at the input's address). memory.py turns it into a planner.Tie:
the output keeps the input's offset, the kernel is given an output pointer delta bytes
(rounded up to the alignment) lower, and the generated code moves the output up into place
afterwards (fn_move_up); the planner reserves those bytes below the input for the step.

Each declaration comes from reading the kernel's C loop order, as a sequence of *phases*:
a phase reads some input bytes and writes some output bytes. With the output ``delta``
bytes before the input, output byte o is input byte o - delta; writing it is safe when
no later read needs input byte o - delta. It suffices that every write of a phase lies
below every read of the phases after it (and of the phase itself when its reads and
writes interleave):  max_write(i) - delta < min_read(j) for all j > i (j >= i). So

    delta = max(0, max_i (max_write(i) + 1 - min_{j > i} min_read(j))).

Moving every write *down* by more than delta keeps that true, so "at least delta" holds.

The loop orders (runtime_c/src, fn_*_impl.h):

* fn_relu_s8, fn_add_s8, fn_add_s8_table: out[i] from in[i] for increasing i (the table
  variant: blocks of 4, each element's inputs read before its output is written), rows in
  the output's row-major order (Add: over the operand whose shape is the output's) ->
  delta 0, fully in place.
* fn_depthwise_conv2d_s8 (fn_dw_s8_walk): output pixels in raster order; per pixel, blocks
  of 4 output channels (then the last < 4 one at a time) read all of their taps, then write
  their outputs. A phase = (pixel, block): reads from the first in-bounds tap's pixel, at
  the block's first input channel; writes the block's output bytes. Stride 1, pad 1:
  delta = (W + 1) * C, a rolling window of one input row and one pixel (the output lags
  the input by it); stride 2 shrinks it to 0.
* fn_conv2d_s8 (conv_loops, any kernel, stride, groups): output pixels in raster order;
  per pixel, every block of output channels reads the whole window, then writes; a phase
  = a pixel, reads (from the window's first in-bounds tap) and writes interleaved. 3x3
  stride 1 pad 1, C -> C: delta = (W + 2) * C, a rolling window of one input row and two
  pixels (less than the (k - stride) rows of a row buffer); stride 2 needs less.
* fn_conv2d_s8_csr: output pixels in raster order, up to 4 neighbouring windows of a row
  at a time, per output channel its entries then the (up to 4) outputs: phases of up to 4
  pixels of a row, reads and writes interleaved.
* fn_conv2d_s8_dsp: pairs of output pixels in linear order, both windows gathered into the
  scratch before the pair's outputs are written (conv_dsp_delta).
* fn_conv2d_s8_winograd / _dsp (fn_wino_s8_run): per tile row, its input rows copied into
  the scratch first (the 2 it shares with the tile row before are kept there), then its 2
  output rows written: delta 0 for 3x3 pad 1, C -> C (winograd_delta).
* fn_conv2d_s8_w16_dsp: per output row, the window's input rows not yet in the scratch (all
  kernel_h for the first row; then the last stride_h, the others kept) are widened into it first,
  then the row's outputs are written from there (the input is read by widen_row only): delta 0
  for 3x3 stride 1 pad 1, C -> C (w16_delta).
* fn_fc_s8 / fn_fc_s8_dsp (fn_fc_s8_run): one input row (batch item / pixel) per phase,
  its reads and writes interleaved (groups of 4 outputs, each reading the whole row).
* fn_fc_s8_csr: blocks of 4 rows, then single rows; reads and writes interleaved per block.
* fn_conv2d_1x1_s8 (fn_pw_s8_run): pairs of pixels, then a last single pixel;
  fn_conv2d_1x1_s8_dsp: triples, then pairs, then one (the widened inputs are in scratch,
  but the tail channels are read from the input during the writes).
  For these row kernels with groups of at most G rows of k input and n output bytes, every
  possible group start r gives a phase [r, r + G): delta = max_r(min(r + G, P) * n - r * k)
  -- G pixels' worth (a pixel buffer) when n <= k, the growth of the output when it expands.
* fn_conv2d_1x1_s8_w16_dsp: fixed pairs of pixels (0-1, 2-3, ..., then a last single one), each
  pair's inputs widened into the scratch before any of its outputs is written and never read
  again: delta = max_r(min(r + 2, P) * n - (r + 2) * k) over even r (pair_delta) -- 0 when
  n <= k.
* fn_depthwise_conv2d_s8_rows_dsp: blocks of 4 channels outermost, each walking the whole
  image through a ring of widened input rows; the output goes a multiple of C bytes low
  (Overlap.multiple), so that each block overwrites its own channels only (dw_rows_dsp_delta).
  fn_depthwise_conv2d_s8_w16_dsp reads and writes in the same order (its ring takes each input
  row at the first output row that needs it; its host build runs the same loops): the same
  declaration (dw_rows_dsp_delta also covers the portable walk, so it errs on the safe side).

* fn_maxpool2d_s8 / fn_avgpool2d_s8: output pixels in raster order; per pixel the window's
  in-bounds taps are read (from the first one, channel 0; max: the first tap copied into the
  output pixel, then the others merged into it; the int8 average: blocks of channels summed
  into a stack accumulator, then written), then the pixel's
  outputs are finished: one phase per pixel, reads and writes interleaved, as conv_delta with
  in_c = out_c = the bytes of a pixel (pool_delta). The phase rule keeps the output pixel
  below every tap it reads, so the kernels' restrict-qualified merges never see an overlap.
  fn_maxpool2d_f32 / fn_avgpool2d_f32 run the same loops and pass the same poisoned-buffer test
  (tests/test_in_place_pool.py), but are not declared yet: a tie on fire's max pools (no arena
  gain) puts a #shift buffer in the float DAG models' buffers, which test_schedule.py compares
  with schedule.py's tie-free live-set count.

Not declared (they keep their output apart): the DSP blocks depthwise variant, the codebook
kernels, concat, and every other float kernel (the float Winograd ones included).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Overlap", "IN_PLACE", "overlap_of", "phase_delta", "row_delta", "depthwise_delta", "conv_delta",
           "conv_dsp_delta", "dw_rows_dsp_delta", "winograd_delta", "w16_delta", "pair_delta", "pool_delta"]


@dataclass(frozen=True)
class Overlap:
    input: int         # index into node.inputs: the tensor the output may overwrite
    delta: int         # the output starts at least this many bytes before that input
    multiple: int = 1  # ... and a multiple of this many bytes before it


def phase_delta(max_write, min_read, inclusive: bool) -> int:
    """delta of a kernel given as phases in execution order: max_write[i] = the highest output
    byte phase i writes, min_read[i] = the lowest input byte it reads (a large value when it
    reads none). inclusive: a phase's reads and writes interleave (its writes must also stay
    below its own reads)."""
    max_write = np.asarray(max_write, dtype=np.int64)
    min_read = np.asarray(min_read, dtype=np.int64)
    if max_write.size == 0:
        return 0
    # suffix minimum of the reads of the phases from i (inclusive) or i + 1 on
    suffix = np.minimum.accumulate(min_read[::-1])[::-1]
    later = suffix if inclusive else np.append(suffix[1:], np.iinfo(np.int64).max)
    need = max_write + 1 - later
    return int(max(0, need.max()))


def row_delta(rows: int, k: int, n: int, group: int) -> int:
    """Row kernels: rows of k input and n output bytes, in groups of at most `group` rows
    that read and write interleaved; any group start (the grouping may change on the way)."""
    r = np.arange(rows, dtype=np.int64)
    end = np.minimum(r + group, rows)
    return phase_delta(end * n - 1, r * k, inclusive=True)


def pair_delta(rows: int, k: int, n: int) -> int:
    """fn_conv2d_1x1_s8_w16_dsp: rows of k input and n output bytes in fixed pairs from row 0
    (the last one alone when rows is odd); a pair reads all its input before it writes."""
    r = np.arange(0, rows, 2, dtype=np.int64)
    end = np.minimum(r + 2, rows)
    return phase_delta(end * n - 1, r * k, inclusive=False)


def depthwise_delta(in_hw, out_hw, channels: int, mult: int, kernel, stride, pad, dilation) -> int:
    """fn_dw_s8_walk's phases (batch 1): per output pixel in raster order, blocks of 4 output
    channels, then the last out_c % 4 channels one at a time."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    out_c = channels * mult
    first_row = _first_tap(out_h, in_h, kernel[0], stride[0], pad[0], dilation[0])
    first_col = _first_tap(out_w, in_w, kernel[1], stride[1], pad[1], dilation[1])
    big = np.iinfo(np.int64).max // 4
    fr, fc = np.meshgrid(first_row, first_col, indexing="ij")
    first_px = np.where((fr >= 0) & (fc >= 0), fr * in_w + fc, -1).ravel()   # -1: no tap
    blocks = [(oc, oc + 4) for oc in range(0, out_c - out_c % 4, 4)]
    blocks += [(oc, oc + 1) for oc in range(out_c - out_c % 4, out_c)]
    lo = np.array([b[0] for b in blocks], dtype=np.int64)
    hi = np.array([b[1] for b in blocks], dtype=np.int64)
    px = np.arange(out_h * out_w, dtype=np.int64)
    max_write = (px[:, None] * out_c + hi[None, :] - 1).ravel()
    reads = first_px[:, None] * channels + (lo // mult)[None, :]
    min_read = np.where(first_px[:, None] >= 0, reads, big).ravel()
    return phase_delta(max_write, min_read, inclusive=False)


def conv_delta(in_hw, out_hw, in_c: int, out_c: int, kernel, stride, pad, dilation, group: int = 1) -> int:
    """fn_conv2d_s8's phases (conv_loops, batch 1): per output pixel in raster order, every
    group and block of 4 output channels reads the pixel's whole window, then writes its
    outputs: one phase per pixel, reads and writes interleaved, reading from the window's
    first in-bounds tap (group 0, channel 0) and writing the pixel's out_c bytes.
    group > 1 (fn_conv2d_s8_csr: up to 4 neighbouring windows of a row at once): a phase
    from any pixel to up to group - 1 pixels after it in its row, whatever the grouping."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    first_row = _first_tap(out_h, in_h, kernel[0], stride[0], pad[0], dilation[0])
    first_col = _first_tap(out_w, in_w, kernel[1], stride[1], pad[1], dilation[1])
    fr, fc = np.meshgrid(first_row, first_col, indexing="ij")
    first_px = np.where((fr >= 0) & (fc >= 0), fr * in_w + fc, -1).ravel()
    px = np.arange(out_h * out_w, dtype=np.int64)
    last = px - px % out_w + np.minimum(px % out_w + group, out_w)   # one past the phase's last pixel
    big = np.iinfo(np.int64).max // 4
    return phase_delta(last * out_c - 1, np.where(first_px >= 0, first_px * in_c, big), inclusive=True)


def conv_dsp_delta(in_hw, out_hw, in_c: int, out_c: int, kernel, stride, pad, dilation) -> int:
    """fn_conv2d_s8_dsp (conv_dsp, batch 1): output pixels two at a time in linear order (a pair
    may span two rows); both windows are gathered into the scratch first (every input read of
    the pair), then the pair's outputs are written: phases of two pixels, reads before writes.
    Without the DSP extension (a host build) the variant runs the portable loops: delta is
    also at least conv_delta."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    first_row = _first_tap(out_h, in_h, kernel[0], stride[0], pad[0], dilation[0])
    first_col = _first_tap(out_w, in_w, kernel[1], stride[1], pad[1], dilation[1])
    fr, fc = np.meshgrid(first_row, first_col, indexing="ij")
    big = np.iinfo(np.int64).max // 4
    first = np.where((fr >= 0) & (fc >= 0), (fr * in_w + fc) * in_c, big).ravel()
    n = out_h * out_w
    starts = np.arange(0, n, 2, dtype=np.int64)
    ends = np.minimum(starts + 2, n)
    min_read = np.minimum(first[starts], first[ends - 1])
    pairs = phase_delta(ends * out_c - 1, min_read, inclusive=False)
    return max(pairs, conv_delta(in_hw, out_hw, in_c, out_c, kernel, stride, pad, dilation))


def winograd_delta(in_hw, out_hw, in_c: int, out_c: int, pad_top: int) -> int:
    """fn_conv2d_s8_winograd / _dsp (fn_wino_s8_run, batch 1): per tile row (2 output rows) the
    padded input rows it reads are first copied into the scratch (wino_fill_rows: the first tile
    row's 4, then each keeps the previous one's last 2 and copies the 2 new ones), then its tiles
    are computed from there and written: phases of one tile row, reads before writes."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    big = np.iinfo(np.int64).max // 4
    max_write, min_read = [], []
    for oy in range(0, out_h, 2):
        first = oy - pad_top + (2 if oy else 0)
        rows = [iy for iy in range(first, oy - pad_top + 4) if 0 <= iy < in_h]
        min_read.append(rows[0] * in_w * in_c if rows else big)
        max_write.append(min(oy + 2, out_h) * out_w * out_c - 1)
    return phase_delta(max_write, min_read, inclusive=False)


def w16_delta(in_hw, out_hw, in_c: int, out_c: int, kernel, stride, pad, dilation) -> int:
    """fn_conv2d_s8_w16_dsp (batch 1): per output row, its window's input rows (those inside the
    image) are widened into the scratch, then the row's outputs are written: phases of one
    output row, reads before writes. With dilation_h 1 and stride_h < kernel_h, every row after
    the first keeps the kernel_h - stride_h window rows it shares with the one before (moved
    in the scratch) and widens only its last stride_h rows."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    keep = kernel[0] - stride[0] if dilation[0] == 1 and stride[0] < kernel[0] else 0
    big = np.iinfo(np.int64).max // 4
    max_write, min_read = [], []
    for oy in range(out_h):
        first = keep if oy else 0
        rows = [iy for iy in (oy * stride[0] - pad[0] + ky * dilation[0] for ky in range(first, kernel[0]))
                if 0 <= iy < in_h]
        min_read.append(rows[0] * in_w * in_c if rows else big)
        max_write.append((oy + 1) * out_w * out_c - 1)
    return phase_delta(max_write, min_read, inclusive=False)


def pool_delta(in_hw, out_hw, pixel_bytes: int, kernel, stride, pad, dilation) -> int:
    """fn_{max,avg}pool2d_{s8,f32} (batch 1): one phase per output pixel in raster order, reading
    its window from the first in-bounds tap and writing the pixel's bytes, interleaved."""
    return conv_delta(in_hw, out_hw, pixel_bytes, pixel_bytes, kernel, stride, pad, dilation)


def dw_rows_dsp_delta(in_hw, out_hw, channels: int, kernel, stride, pad, dilation) -> int | None:
    """fn_depthwise_conv2d_s8_rows_dsp (depth multiplier 1, batch 1): blocks of 4 channels
    outermost; per block and output row, the window's input rows not yet in the scratch's
    ring are widened into it (a row enters the ring at the first output row that needs it and,
    with dilation_h 1, is never read again once it leaves), then the row's outputs of the
    block are written. With the output a multiple of C bytes before the input, a block's
    writes land on its own channels only, which the other blocks never read; so the delta
    need only keep every input row ahead of the writes of its block before it is widened:
    delta >= L(iy) * out_w * C - iy * in_w * C for the output row L(iy) that loads row iy.
    Without the DSP extension (a host build) the variant runs the portable walk: delta is also
    at least depthwise_delta. None: dilation_h > 1 (rows may be widened twice)."""
    (in_h, in_w), (out_h, out_w) = in_hw, out_hw
    if dilation[0] != 1:
        return None
    load = {}
    for oy in range(out_h):
        for r in range(kernel[0]):
            iy = oy * stride[0] - pad[0] + r
            if 0 <= iy < in_h:
                load.setdefault(iy, oy)
    need = max([0] + [oy * out_w * channels - iy * in_w * channels for iy, oy in load.items()])
    return max(need, depthwise_delta(in_hw, out_hw, channels, 1, kernel, stride, pad, dilation))


def _first_tap(n_out: int, n_in: int, k: int, s: int, pad: int, d: int) -> np.ndarray:
    """Per output index, the input index of its first in-bounds tap (-1: none)."""
    out = np.full(n_out, -1, dtype=np.int64)
    for o in range(n_out):
        for t in range(k):
            i = o * s - pad + t * d
            if 0 <= i < n_in:
                out[o] = i
                break
    return out


# ---- declarations ---------------------------------------------------------------------

def _types(node, graph, i=0):
    return graph.types[node.inputs[i]], graph.types[node.outputs[0]]


def _same_bytes(a, b) -> bool:
    return tuple(a.shape) == tuple(b.shape) and a.nbytes == b.nbytes


def _elementwise(node, graph):
    x, y = _types(node, graph)
    return Overlap(0, 0) if _same_bytes(x, y) else None


def _add(node, graph):
    y = graph.types[node.outputs[0]]
    for i, name in enumerate(node.inputs[:2]):
        if name and name not in graph.constants and _same_bytes(graph.types[name], y):
            return Overlap(i, 0)
    return None


def _rows(group: int):
    def declare(node, graph):
        x, y = _types(node, graph)
        n = int(y.shape[-1]) * y.nbytes // max(1, int(np.prod(y.shape)))
        rows = int(np.prod(y.shape[:-1])) if len(y.shape) > 1 else 1
        if rows < 1 or n < 1 or x.nbytes % rows:
            return None
        return Overlap(0, row_delta(rows, x.nbytes // rows, n, group))
    return declare


def _pairs(node, graph):
    x, y = _types(node, graph)
    n = int(y.shape[-1]) * y.nbytes // max(1, int(np.prod(y.shape)))
    rows = int(np.prod(y.shape[:-1])) if len(y.shape) > 1 else 1
    if rows < 1 or n < 1 or x.nbytes % rows:
        return None
    return Overlap(0, pair_delta(rows, x.nbytes // rows, n))


def _conv_geometry(node, graph):
    """(in_hw, out_hw, in_c, out_c, kernel, stride, pad, dilation) of a batch-1 NHWC conv2d
    node whose tensors are plain int8 bytes, else None."""
    from .kernels import _conv
    if node.op != "conv2d":
        return None
    x, y = _types(node, graph)
    (n, in_h, in_w, c), (out_c, kh, kw, _) = (tuple(int(v) for v in s) for s in _conv.shapes(node, graph))
    a = node.attrs
    out_h = (in_h + int(a.pads[0]) + int(a.pads[2]) - (int(a.dilations[0]) * (kh - 1) + 1)) // int(a.strides[0]) + 1
    out_w = (in_w + int(a.pads[1]) + int(a.pads[3]) - (int(a.dilations[1]) * (kw - 1) + 1)) // int(a.strides[1]) + 1
    if n != 1 or x.nbytes != in_h * in_w * c or y.nbytes != out_h * out_w * out_c:
        return None
    return ((in_h, in_w), (out_h, out_w), c, out_c, (kh, kw), (int(a.strides[0]), int(a.strides[1])),
            (int(a.pads[0]), int(a.pads[1])), (int(a.dilations[0]), int(a.dilations[1])))


def _conv(group: int):
    def declare(node, graph):
        geo = _conv_geometry(node, graph)
        return None if geo is None else Overlap(0, conv_delta(*geo, group=group))
    return declare


def _depthwise(node, graph):
    geo = _conv_geometry(node, graph)
    if geo is None or geo[3] % geo[2]:
        return None
    in_hw, out_hw, c, out_c, kernel, stride, pad, dilation = geo
    return Overlap(0, depthwise_delta(in_hw, out_hw, c, out_c // c, kernel, stride, pad, dilation))


def _conv_dsp(node, graph):
    geo = _conv_geometry(node, graph)
    return None if geo is None else Overlap(0, conv_dsp_delta(*geo))


def _winograd(node, graph):
    geo = _conv_geometry(node, graph)
    if geo is None:
        return None
    in_hw, out_hw, in_c, out_c, _, _, pad, _ = geo
    return Overlap(0, winograd_delta(in_hw, out_hw, in_c, out_c, pad[0]))


def _w16(node, graph):
    geo = _conv_geometry(node, graph)
    return None if geo is None else Overlap(0, w16_delta(*geo))


def _dw_rows_dsp(node, graph):
    geo = _conv_geometry(node, graph)
    if geo is None or geo[3] != geo[2]:
        return None
    in_hw, out_hw, c, _, kernel, stride, pad, dilation = geo
    delta = dw_rows_dsp_delta(in_hw, out_hw, c, kernel, stride, pad, dilation)
    return None if delta is None else Overlap(0, delta, multiple=c)


def _pool(node, graph):
    if node.op != "pool2d" or getattr(node.attrs, "layout", "NHWC") != "NHWC":
        return None
    x, y = _types(node, graph)
    if len(x.shape) != 4 or len(y.shape) != 4:
        return None
    (n, in_h, in_w, c), (_, out_h, out_w, out_c) = (tuple(int(v) for v in t.shape) for t in (x, y))
    if n != 1 or out_c != c or x.nbytes % (in_h * in_w) or x.nbytes * out_h * out_w != y.nbytes * in_h * in_w:
        return None
    a = node.attrs
    return Overlap(0, pool_delta((in_h, in_w), (out_h, out_w), x.nbytes // (in_h * in_w), tuple(a.kernel),
                                 tuple(a.strides), (int(a.pads[0]), int(a.pads[1])), tuple(a.dilations)))


IN_PLACE: dict[str, Callable] = {
    "fn_relu_s8": _elementwise,
    "fn_add_s8": _add,
    "fn_add_s8_table": _add,
    "fn_depthwise_conv2d_s8": _depthwise,
    "fn_depthwise_conv2d_s8_rows_dsp": _dw_rows_dsp,
    "fn_depthwise_conv2d_s8_w16_dsp": _dw_rows_dsp,
    "fn_conv2d_s8": _conv(1),
    "fn_conv2d_s8_csr": _conv(4),
    "fn_conv2d_s8_dsp": _conv_dsp,
    "fn_conv2d_s8_winograd": _winograd,
    "fn_conv2d_s8_winograd_dsp": _winograd,
    "fn_conv2d_s8_w16_dsp": _w16,
    "fn_fc_s8": _rows(1),
    "fn_fc_s8_dsp": _rows(1),
    "fn_fc_s8_csr": _rows(4),
    "fn_conv2d_1x1_s8": _rows(2),
    "fn_conv2d_1x1_s8_dsp": _rows(3),
    "fn_conv2d_1x1_s8_w16_dsp": _pairs,
    "fn_maxpool2d_s8": _pool,
    "fn_avgpool2d_s8": _pool,
}


def overlap_of(node, graph, function: str) -> Overlap | None:
    """The overlap kernel `function` allows on this layer, or None."""
    declare = IN_PLACE.get(function)
    return declare(node, graph) if declare is not None else None
