"""TFLite sparse constants (a tensor's `sparsity` field) decoded to their dense values.

The converter's sparsity option stores a pruned weight tensor of rank n with k blocked
dimensions (`block_map`, e.g. a 1x4 block of a [rows, cols] matrix: block_map [1], block
size 4) as n + k traversal levels. `traversal_order[:n]` is a permutation of the tensor's
dimensions (a blocked one counted in whole blocks), `traversal_order[n:]` a permutation of
n..n+k-1, the dimensions inside a block. `dim_metadata[l]` describes level l: DENSE
(every index below `dense_size`) or SPARSE_CSR (for each position of the level above, the
segment `array_indices[array_segments[p]:array_segments[p + 1]]` lists the indices kept).
Positions count the kept entries of a level in order, so the last level's positions are
the tensor's stored values, one each. A block's size is the `dense_size` of its (DENSE)
level.

Everything is checked before a value is placed, so a malformed block is one FirmnetError
naming the tensor and the field; the result is never silently different from what the
file means. firmnet keeps no sparse form at import: the dense array (zeros in place) is
an ordinary constant, and kernel selection decides later whether a layer runs sparse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tflite

from ..ir import FirmnetError

# union type of array_segments / array_indices → its table class
INDEX_VECTORS = {tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
                 tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
                 tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector}
FORMATS = {tflite.DimensionType.DENSE: "DENSE", tflite.DimensionType.SPARSE_CSR: "SPARSE_CSR"}
MAX_DENSE_BYTES = 1 << 28   # a decoded weight tensor larger than this cannot be an MCU model's


@dataclass(frozen=True)
class Level:
    """One traversal level: DENSE with dense_size, or SPARSE_CSR with segments and indices."""
    format: int
    dense_size: int
    segments: np.ndarray | None = None
    indices: np.ndarray | None = None


@dataclass(frozen=True)
class Sparsity:
    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    levels: tuple[Level, ...]


def _ints(length, as_numpy) -> tuple[int, ...]:
    return tuple(int(v) for v in as_numpy()) if length() else ()


def _index_vector(kind, table, where) -> np.ndarray:
    if kind == tflite.SparseIndexVector.NONE or table is None:
        raise FirmnetError(f"{where} is missing (a SPARSE_CSR dimension needs array_segments and array_indices)")
    if kind not in INDEX_VECTORS:
        raise FirmnetError(f"{where} has index vector type {kind}; TFLite defines Int32Vector (1), "
                           "Uint16Vector (2) and Uint8Vector (3)")
    vector = INDEX_VECTORS[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64) if vector.ValuesLength() else np.zeros(0, np.int64)


def read_sparsity(params, name: str) -> Sparsity:
    """The SparsityParameters table of tensor `name` as plain values (union types checked)."""
    levels = []
    for l in range(params.DimMetadataLength()):
        m = params.DimMetadata(l)
        where = f"tensor '{name}' sparsity: dim_metadata[{l}]"
        if m.Format() not in FORMATS:
            raise FirmnetError(f"{where} has format {m.Format()}; TFLite defines DENSE (0) and SPARSE_CSR (1)")
        if m.Format() == tflite.DimensionType.DENSE:
            levels.append(Level(m.Format(), int(m.DenseSize())))
        else:
            segments = _index_vector(m.ArraySegmentsType(), m.ArraySegments(), f"{where}.array_segments")
            indices = _index_vector(m.ArrayIndicesType(), m.ArrayIndices(), f"{where}.array_indices")
            levels.append(Level(m.Format(), int(m.DenseSize()), segments, indices))
    return Sparsity(_ints(params.TraversalOrderLength, params.TraversalOrderAsNumpy),
                    _ints(params.BlockMapLength, params.BlockMapAsNumpy), tuple(levels))


def _level_sizes(s: Sparsity, shape, where) -> list[int]:
    """Each level's extent (blocks for a blocked dimension), after checking the
    traversal order, block map and block sizes against the shape."""
    n, k = len(shape), len(s.block_map)
    if len(s.traversal_order) != n + k:
        raise FirmnetError(f"{where}: traversal_order {list(s.traversal_order)} has {len(s.traversal_order)} "
                           f"entries; a rank-{n} tensor with {k} block dimensions needs {n + k}")
    if sorted(s.traversal_order[:n]) != list(range(n)) or sorted(s.traversal_order[n:]) != list(range(n, n + k)):
        raise FirmnetError(f"{where}: traversal_order {list(s.traversal_order)} is not a permutation of the "
                           f"dimensions 0..{n - 1} followed by one of the block dimensions {n}..{n + k - 1}")
    if len(s.levels) != n + k:
        raise FirmnetError(f"{where}: {len(s.levels)} dim_metadata entries; traversal_order has {n + k}")
    if any(not 0 <= d < n for d in s.block_map) or len(set(s.block_map)) != k:
        raise FirmnetError(f"{where}: block_map {list(s.block_map)} must name distinct dimensions of the "
                           f"rank-{n} tensor")
    sizes = list(shape) + [0] * k
    for level, dim in enumerate(s.traversal_order[n:], start=n):
        j = dim - n
        d, meta = s.block_map[j], s.levels[level]
        if meta.format != tflite.DimensionType.DENSE:
            raise FirmnetError(f"{where}: dim_metadata[{level}] (inside a block) is SPARSE_CSR; block "
                               "dimensions are DENSE, their dense_size is the block size")
        if meta.dense_size < 1 or shape[d] % meta.dense_size:
            raise FirmnetError(f"{where}: dim_metadata[{level}] gives dimension {d} (size {shape[d]}) blocks of "
                               f"{meta.dense_size}, which do not divide it")
        sizes[dim], sizes[d] = meta.dense_size, shape[d] // meta.dense_size
    return [sizes[dim] for dim in s.traversal_order]


def _check_counts(s: Sparsity, sizes, stored: int, where) -> None:
    """Each level's position count against the segments below it and the stored values,
    before any array is built: a dense level only multiplies the count, so every count is
    then bounded by a vector the file really holds (a tiny file cannot claim huge levels)."""
    count = 1
    for level, (meta, size) in enumerate(zip(s.levels, sizes)):
        at = f"{where}: dim_metadata[{level}]"
        if meta.format == tflite.DimensionType.DENSE:
            if meta.dense_size != size:
                raise FirmnetError(f"{at} has dense_size {meta.dense_size}; the dimension it traverses "
                                   f"(traversal_order[{level}] = {s.traversal_order[level]}) has {size}")
            count *= size
            continue
        if len(meta.segments) != count + 1:
            raise FirmnetError(f"{at}.array_segments has {len(meta.segments)} entries; the level above has {count} "
                               f"positions, so it needs {count + 1}")
        count = len(meta.indices)
    if count != stored:
        raise FirmnetError(f"{where}: the metadata describes {count} stored values, but the tensor's buffer "
                           f"holds {stored}")


def _positions(s: Sparsity, sizes, where) -> np.ndarray:
    """The index of every stored value at every level: an array [levels, values]."""
    coords = np.zeros((0, 1), np.int64)
    for level, (meta, size) in enumerate(zip(s.levels, sizes)):
        at = f"{where}: dim_metadata[{level}]"
        if meta.format == tflite.DimensionType.DENSE:
            coords = np.vstack([np.repeat(coords, size, axis=1), np.tile(np.arange(size), coords.shape[1])])
            continue
        seg, idx = meta.segments, meta.indices
        if seg[0] != 0 or seg[-1] != len(idx) or np.any(np.diff(seg) < 0):
            bad = "does not start at 0" if seg[0] != 0 else "does not end at the number of indices " \
                f"({len(idx)})" if seg[-1] != len(idx) else \
                f"decreases at entry {int(np.argmax(np.diff(seg) < 0)) + 1}"
            raise FirmnetError(f"{at}.array_segments {seg[:8].tolist()}{'...' if len(seg) > 8 else ''} {bad}; "
                               "segments must rise from 0 to the number of array_indices")
        if len(idx) and (idx.min() < 0 or idx.max() >= size):
            i = int(np.argmax((idx < 0) | (idx >= size)))
            raise FirmnetError(f"{at}.array_indices[{i}] = {int(idx[i])} is out of range: the dimension it "
                               f"traverses (traversal_order[{level}] = {s.traversal_order[level]}) has {size}")
        coords = np.vstack([np.repeat(coords, np.diff(seg), axis=1), idx[None, :]])
    return coords


def densify(s: Sparsity, shape, values: np.ndarray, name: str) -> np.ndarray:
    """The dense tensor of shape `shape` that the sparse block s and its stored values mean."""
    where = f"tensor '{name}' sparsity"
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) * values.itemsize > MAX_DENSE_BYTES:
        raise FirmnetError(f"{where}: the dense tensor {list(shape)} would take "
                           f"{math.prod(shape) * values.itemsize} bytes (more than {MAX_DENSE_BYTES})")
    sizes = _level_sizes(s, shape, where)
    _check_counts(s, sizes, values.size, where)
    coords = _positions(s, sizes, where)
    n = len(shape)
    original = np.zeros((n, coords.shape[1]), np.int64)
    for level, dim in enumerate(s.traversal_order[:n]):
        original[dim] = coords[level]
    for level, dim in enumerate(s.traversal_order[n:], start=n):
        j = dim - n
        original[s.block_map[j]] = original[s.block_map[j]] * s.levels[level].dense_size + coords[level]
    flat = np.ravel_multi_index(tuple(original), shape) if n else np.zeros(coords.shape[1], np.int64)
    unique, counts = np.unique(flat, return_counts=True)
    if np.any(counts > 1):
        twice = tuple(int(i) for i in np.unravel_index(int(unique[np.argmax(counts > 1)]), shape))
        raise FirmnetError(f"{where}: element {twice} is stored more than once (repeated array_indices)")
    dense = np.zeros(math.prod(shape), values.dtype)
    dense[flat] = values
    return dense.reshape(shape)
