"""TFLite's sparse tensor format, written the way the converter's sparsity option writes it.

A dense constant of rank n with k blocked dimensions becomes n + k traversal levels: the
n outer dimensions (a blocked dimension counted in blocks) in `traversal_order[:n]`, then
the k dimensions inside a block in `traversal_order[n:]` (numbered n..n+k-1, in
`block_map` order). Each level is DENSE (every index, `dense_size` of them) or SPARSE_CSR
(per position of the level above, a segment of `array_indices`: the indices whose sub-tensor
holds a nonzero). The values are the leaves in traversal order, zeros inside a kept block
or a dense level included.

This is the test side's encoder (a walk over index tuples, as plainly as possible); the
loader's decoder (firmnet.frontend.tflite_sparsity) is written independently of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

INDEX_VECTORS = {"int32": (S.SparseIndexVector.Int32Vector, S.Int32VectorT, np.int32),
                 "uint16": (S.SparseIndexVector.Uint16Vector, S.Uint16VectorT, np.uint16),
                 "uint8": (S.SparseIndexVector.Uint8Vector, S.Uint8VectorT, np.uint8)}


@dataclass(frozen=True)
class SparseFormat:
    """How one constant is written sparse. traversal_order None: the dimensions in order,
    then the block dimensions in order. csr: the traversal levels stored SPARSE_CSR (the
    converter's usual choice for a matrix is level 1). densify: a DENSIFY op turns the
    tensor dense for its consumer; False: the consumer reads the sparse tensor itself (the
    converter does that for FULLY_CONNECTED)."""
    traversal_order: tuple[int, ...] | None = None
    block_map: tuple[int, ...] = ()
    block_size: tuple[int, ...] = ()
    csr: tuple[int, ...] = (1,)
    segments_type: str = "int32"
    indices_type: str = "int32"
    densify: bool = True

    def order(self, rank: int) -> tuple[int, ...]:
        return self.traversal_order or tuple(range(rank + len(self.block_map)))


@dataclass(frozen=True)
class Level:
    format: int                  # S.DimensionType
    dense_size: int
    segments: tuple[int, ...] = ()
    indices: tuple[int, ...] = ()


def traversal_tensor(dense: np.ndarray, fmt: SparseFormat) -> np.ndarray:
    """The dense tensor with each blocked dimension split into (blocks, block) and its axes
    put in traversal order."""
    split, outer, inner = [], {}, {}
    for d, size in enumerate(dense.shape):
        if d in fmt.block_map:
            b = fmt.block_size[fmt.block_map.index(d)]
            outer[d], inner[d] = len(split), len(split) + 1
            split += [size // b, b]
        else:
            outer[d] = len(split)
            split.append(size)
    expanded = dense.reshape(split).transpose([outer[d] for d in range(dense.ndim)] +
                                              [inner[d] for d in fmt.block_map])
    return expanded.transpose(fmt.order(dense.ndim))


def encode(dense: np.ndarray, fmt: SparseFormat) -> tuple[np.ndarray, list[Level]]:
    """(values, one Level per traversal dimension) of a dense tensor."""
    t = traversal_tensor(dense, fmt)
    prefixes, levels = [()], []
    for level, size in enumerate(t.shape):
        if level in fmt.csr:
            segments, indices, kept = [0], [], []
            for p in prefixes:
                for i in range(size):
                    if np.any(t[p + (i,)]):
                        indices.append(i)
                        kept.append(p + (i,))
                segments.append(len(indices))
            levels.append(Level(S.DimensionType.SPARSE_CSR, 0, tuple(segments), tuple(indices)))
            prefixes = kept
        else:
            levels.append(Level(S.DimensionType.DENSE, size))
            prefixes = [p + (i,) for p in prefixes for i in range(size)]
    values = np.array([t[p] for p in prefixes], dtype=dense.dtype).reshape(-1)
    return values, levels


def _index_vector(values, kind: str):
    union, cls, dtype = INDEX_VECTORS[kind]
    array = np.asarray(values, dtype=np.int64)
    if array.size and (array.min() < np.iinfo(dtype).min or array.max() > np.iinfo(dtype).max):
        raise ValueError(f"index {array.max()} does not fit {kind}")
    return union, cls(values=[int(v) for v in array])


def sparsity_table(levels: list[Level], fmt: SparseFormat, rank: int) -> S.SparsityParametersT:
    """The tensor's SparsityParametersT (flatbuffers object API)."""
    metadata = []
    for level in levels:
        m = S.DimensionMetadataT(format=level.format, denseSize=level.dense_size)
        if level.format == S.DimensionType.SPARSE_CSR:
            m.arraySegmentsType, m.arraySegments = _index_vector(level.segments, fmt.segments_type)
            m.arrayIndicesType, m.arrayIndices = _index_vector(level.indices, fmt.indices_type)
        metadata.append(m)
    return S.SparsityParametersT(traversalOrder=list(fmt.order(rank)), blockMap=list(fmt.block_map) or None,
                                 dimMetadata=metadata)


def _list(values):
    return None if values is None else [int(v) for v in values]


def edit_model(model: bytes, edit) -> bytes:
    """The model with edit(ModelT) applied (flatbuffers object API), packed again."""
    import flatbuffers
    m = S.ModelT.InitFromPackedBuf(model, 0)
    edit(m)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tensor(m, name: str):
    """The tensor of ModelT m's subgraph with this name."""
    t, = [t for t in m.subgraphs[0].tensors if t.name.decode() == name]
    return t


def edit_sparsity(model: bytes, name: str, edit) -> bytes:
    """The model with edit(SparsityParametersT) applied to the named tensor's sparsity (to
    write malformed blocks)."""
    def apply(m):
        sp = tensor(m, name).sparsity
        sp.traversalOrder, sp.blockMap = _list(sp.traversalOrder), _list(sp.blockMap)   # editable, not numpy views
        for meta in sp.dimMetadata:
            for vector in (meta.arraySegments, meta.arrayIndices):
                if vector is not None:
                    vector.values = _list(vector.values)
        edit(sp)
    return edit_model(model, apply)
