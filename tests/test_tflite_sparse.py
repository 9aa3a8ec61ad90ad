"""TFLite sparse tensors (a constant's `sparsity` field, with or without DENSIFY) imported as
the dense weights they stand for.

- The loader's decoded constant equals the dense array the test side encoded
  (support/tflite_sparse.py), for int8 and float32 tensors of rank 1-4, any traversal
  order, block maps, DENSE and SPARSE_CSR levels, uint8/uint16/int32 index vectors, and
  pruning patterns from all-zero to fully dense (hypothesis).
- Pruned FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D models written sparse compile to C
  whose output bytes equal TFLM's on the same model written dense, and (converter-style
  layouts) to the very C firmnet generates from the dense file (TFLM has no DENSIFY
  kernel, and its FULLY_CONNECTED reads a sparse weight's values as if they were dense:
  test_tflm_cannot_run_sparse_files pins both facts, the reason the oracle runs the dense
  file).
- Every kind of malformed sparsity block is a clear command-line error naming the tensor.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import firmnet
from firmnet.cli import main
from firmnet.ir import FirmnetError
from support.tflite_models import S, sparse_constant_model, sparse_weights_model
from support.tflite_oracle import Tflm, first_mismatch, random_inputs, run_firmnet
from support.tflite_sparse import INDEX_VECTORS, SparseFormat, edit_model, edit_sparsity, tensor

INDEX_TYPES = tuple(INDEX_VECTORS)
PATTERNS = ("random", "all zero", "fully dense", "one per row", "empty rows", "blocks")


def pruning_mask(rng, shape, pattern: str, block=None) -> np.ndarray:
    """Which weights survive, rows being the last dimension's vectors."""
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    if pattern == "all zero":
        return np.zeros(shape, bool)
    if pattern == "fully dense":
        return np.ones(shape, bool)
    if pattern == "one per row":
        mask = np.zeros((rows, cols), bool)
        mask[np.arange(rows), rng.integers(0, cols, rows)] = True
        return mask.reshape(shape)
    mask = rng.random(shape) < rng.uniform(0.05, 0.6)
    if pattern == "empty rows":
        mask.reshape(rows, cols)[rng.random(rows) < 0.5] = False
    if pattern == "blocks" and block is not None:   # whole blocks pruned, as block-sparse training does
        dims, sizes = block
        keep = rng.random([s // sizes[dims.index(d)] if d in dims else s for d, s in enumerate(shape)]) < 0.4
        for d, b in zip(dims, sizes):
            keep = np.repeat(keep, b, axis=d)
        mask &= keep | (rng.random(shape) < 0.1)
    return mask


@st.composite
def sparse_formats(draw, shape, outer_csr=True, densify=True):
    """A SparseFormat for a tensor of this shape: any traversal order, up to two blocked
    dimensions (block sizes dividing them), some outer levels SPARSE_CSR."""
    n = len(shape)
    blockable = [d for d in range(n) if shape[d] > 1]
    block_map = tuple(draw(st.lists(st.sampled_from(blockable), unique=True, max_size=min(2, len(blockable))))
                      if blockable else ())
    block_size = tuple(draw(st.sampled_from([b for b in range(1, shape[d] + 1) if shape[d] % b == 0]))
                       for d in block_map)
    outer = draw(st.permutations(range(n)))
    inner = draw(st.permutations(range(n, n + len(block_map))))
    csr = tuple(draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))) if outer_csr else ()
    return SparseFormat(tuple(outer) + tuple(inner), block_map, block_size, csr,
                        draw(st.sampled_from(INDEX_TYPES)), draw(st.sampled_from(INDEX_TYPES)), densify)


def nonzero_values(rng, shape, dtype):
    if dtype == np.int8:
        v = rng.integers(1, 128, shape) * rng.choice([-1, 1], shape)
        return np.where(v == 128, -128, v).astype(np.int8)
    return (rng.uniform(0.01, 100.0, shape) * rng.choice([-1, 1], shape)).astype(np.float32)


def write(tmp_path, model: bytes, name="m.tflite"):
    path = tmp_path / name
    path.write_bytes(model)
    return path


def build(make):
    """make() unless an index does not fit the index vector type drawn (then hypothesis draws again)."""
    try:
        return make()
    except ValueError as exc:
        assume("does not fit" not in str(exc))
        raise


# ----------------------------------------------------------------------------- decoding


SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data(), shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       dtype=st.sampled_from([np.int8, np.float32]), pattern=st.sampled_from(PATTERNS), seed=st.integers(0, 2**32 - 1))
def test_decoded_constant_is_the_dense_tensor(tmp_path, data, shape, dtype, pattern, seed):
    shape = tuple(shape)
    fmt = data.draw(sparse_formats(shape))
    rng = np.random.default_rng(seed)
    mask = pruning_mask(rng, shape, pattern, (fmt.block_map, fmt.block_size))
    dense = np.where(mask, nonzero_values(rng, shape, dtype), 0).astype(dtype)
    model = build(lambda: sparse_constant_model(dense, fmt, seed % 1000))
    g = firmnet.load(write(tmp_path, model))
    add, = [n for n in g.nodes if n.op == "binary"]
    decoded = g.constants[add.inputs[1]]
    assert decoded.dtype == dense.dtype and decoded.shape == dense.shape
    problem = first_mismatch(decoded, dense, f"decoded {fmt}")
    assert problem is None, problem


def test_sparse_file_is_smaller_and_decodes_to_the_dense_file(tmp_path):
    """A 90 % pruned 64x64 int8 matrix in CSR (uint8 indices) against the same matrix dense,
    through the whole loader: the same graph constant from a smaller file."""
    rng = np.random.default_rng(5)
    dense = np.where(rng.random((64, 64)) < 0.1, nonzero_values(rng, (64, 64), np.int8), 0).astype(np.int8)
    sparse = sparse_constant_model(dense, SparseFormat(segments_type="uint16", indices_type="uint8"))
    plain = sparse_constant_model(dense)
    print(f"\n64x64 int8 at {np.count_nonzero(dense)} nonzeros: sparse file {len(sparse)} B, dense {len(plain)} B")
    assert len(sparse) < len(plain)

    def weights(model, name):
        g = firmnet.load(write(tmp_path, model, name))
        add, = [n for n in g.nodes if n.op == "binary"]
        return g.constants[add.inputs[1]]
    assert np.array_equal(weights(sparse, "sparse.tflite"), weights(plain, "plain.tflite"))


# ----------------------------------------------------------------------------- compiled models against TFLM


LAYERS = {"fc": (12, 16), "conv": (4, 3, 3, 4), "depthwise": (1, 3, 3, 6)}


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data(), kind=st.sampled_from(sorted(LAYERS)), pattern=st.sampled_from(PATTERNS),
       per_channel=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_sparse_model_gives_tflm_bytes_of_the_dense_model(tmp_path, data, kind, pattern, per_channel, seed):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))     # one directory per example
    shape = LAYERS[kind]
    # the converter reads a FULLY_CONNECTED's sparse weights directly, other layers through DENSIFY
    densify = data.draw(st.booleans()) if kind == "fc" else True
    fmt = data.draw(sparse_formats(shape, densify=densify))
    rng = np.random.default_rng(seed)
    mask = pruning_mask(rng, shape, pattern, (fmt.block_map, fmt.block_size))
    layer = dict(per_channel=per_channel, act="RELU")
    if kind == "depthwise":
        layer["channels"] = 3       # depth multiplier 2
    sparse = build(lambda: sparse_weights_model(seed, kind, mask, fmt, **layer))
    dense = sparse_weights_model(seed, kind, mask, None, **layer)
    cm = firmnet.compile(write(tmp_path, sparse), tmp_path / "out", name="m")
    xs = random_inputs(dense, 12, seed % 1000)
    expected, = Tflm(dense).run(xs)
    actual, = run_firmnet(cm.build_host(), sparse, xs)
    problem = first_mismatch(actual, expected, f"{kind} {pattern} {fmt}")
    assert problem is None, problem
    firmnet.compile(write(tmp_path, dense, "dense.tflite"), tmp_path / "dense_out", name="m")
    assert generated_sources(tmp_path / "out") == generated_sources(tmp_path / "dense_out")


@pytest.mark.parametrize("kind, fmt", [
    ("fc", SparseFormat(densify=False, block_map=(1,), block_size=(16,))),     # TFLite's int8 1x16 FC kernel
    ("fc", SparseFormat(densify=False, block_map=(1,), block_size=(4,))),      # and its float 1x4 one
    ("fc", SparseFormat(block_map=(0,), block_size=(4,), indices_type="uint8")),   # 4x1 blocks
    ("conv", SparseFormat(csr=(0, 3), segments_type="uint16", indices_type="uint16")),
    ("depthwise", SparseFormat(traversal_order=(3, 0, 1, 2), csr=(0,), indices_type="uint8")),
])
def test_converter_style_layouts_give_tflm_bytes_and_the_dense_files_c(tmp_path, kind, fmt):
    """The C on the sparse file gives TFLM's bytes on the dense file, and it is the C of the
    dense file: same weight arrays, same calls (only the model hash and op numbers differ)."""
    rng = np.random.default_rng(11)
    shape = (16, 32) if kind == "fc" else LAYERS[kind]
    mask = pruning_mask(rng, shape, "blocks", (fmt.block_map, fmt.block_size)) if fmt.block_map else \
        rng.random(shape) < 0.2
    layer = dict(channels=3) if kind == "depthwise" else {}
    sparse = sparse_weights_model(3, kind, mask, fmt, **layer)
    dense = sparse_weights_model(3, kind, mask, None, **layer)
    path = write(tmp_path, sparse)
    ops = [n.op for n in firmnet.load(path).nodes]
    assert ops == [n.op for n in firmnet.load(write(tmp_path, dense, "dense.tflite")).nodes], ops   # DENSIFY folded
    cm = firmnet.compile(path, tmp_path / "out", name="m")
    xs = random_inputs(dense, 20, 1)
    problem = first_mismatch(run_firmnet(cm.build_host(), sparse, xs)[0], Tflm(dense).run(xs)[0], kind)
    assert problem is None, problem
    firmnet.compile(tmp_path / "dense.tflite", tmp_path / "dense_out", name="m")
    assert generated_sources(tmp_path / "out") == generated_sources(tmp_path / "dense_out")


def generated_sources(out) -> dict[str, str]:
    """The generated .c/.h files without their provenance line (the model's hash), operator
    numbers made anonymous (a DENSIFY shifts the numbering of the operators after it)."""
    files = sorted(p for p in out.iterdir() if p.suffix in (".c", ".h"))
    assert files, f"no sources in {out}"
    return {p.name: re.sub(r"(?<![A-Za-z0-9])op\d+", "op#", p.read_text().split("\n", 1)[1]) for p in files}


def test_tflm_cannot_run_sparse_files():
    """Why the oracle runs the dense twin: TFLM's interpreter has no DENSIFY kernel, and its
    FULLY_CONNECTED ignores the sparsity field (reading the stored values as the dense
    matrix). Should TFLM learn either, this test fails and the models above can be run
    on TFLM directly."""
    rng = np.random.default_rng(2)
    mask = rng.random((8, 16)) < 0.3
    with pytest.raises(RuntimeError, match="allocate tensors"):
        Tflm(sparse_weights_model(1, "fc", mask, SparseFormat()))
    direct = sparse_weights_model(1, "fc", mask, SparseFormat(densify=False))
    dense = sparse_weights_model(1, "fc", mask)
    xs = random_inputs(dense, 20, 0)
    assert not np.array_equal(Tflm(direct).run(xs)[0], Tflm(dense).run(xs)[0])


# ----------------------------------------------------------------------------- malformed blocks


def _csr_level(sp, level=1):
    return sp.dimMetadata[level]


def _set(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)


MALFORMED = [
    ("index out of range", lambda sp: _csr_level(sp).arrayIndices.values.__setitem__(0, 16),
     r"array_indices\[0\] = 16 is out of range: the dimension it traverses .* has 16"),
    ("segments decrease", lambda sp: _csr_level(sp).arraySegments.values.__setitem__(3, 0),
     r"array_segments .* decreases at entry 3"),
    ("segments too short", lambda sp: _csr_level(sp).arraySegments.values.pop(),
     r"array_segments has 8 entries; the level above has 8 positions, so it needs 9"),
    ("segments miss values", lambda sp: _csr_level(sp).arraySegments.values.__setitem__(-1, 1),
     r"array_segments .* (does not end at the number of indices|decreases)"),
    ("wrong dense_size", lambda sp: _set(sp.dimMetadata[0], denseSize=9),
     r"dim_metadata\[0\] has dense_size 9; the dimension it traverses .* has 8"),
    ("traversal order not a permutation", lambda sp: _set(sp, traversalOrder=[1, 1]),
     r"traversal_order \[1, 1\] is not a permutation"),
    ("traversal order too short", lambda sp: _set(sp, traversalOrder=[0]),
     r"traversal_order \[0\] has 1 entries; a rank-2 tensor with 0 block dimensions needs 2"),
    ("unknown index vector type", lambda sp: _set(_csr_level(sp), arrayIndicesType=7),
     r"array_indices has index vector type 7; TFLite defines Int32Vector"),
    ("missing segments", lambda sp: _set(_csr_level(sp), arraySegmentsType=0, arraySegments=None),
     r"array_segments is missing"),
    ("unknown format", lambda sp: _set(sp.dimMetadata[0], format=5),
     r"dim_metadata\[0\] has format 5"),
    ("block map out of range", lambda sp: _set(sp, blockMap=[2], traversalOrder=[0, 1, 2],
                                               dimMetadata=sp.dimMetadata + [S.DimensionMetadataT(denseSize=1)]),
     r"block_map \[2\] must name distinct dimensions"),
    ("block not dividing", lambda sp: _set(sp, blockMap=[1], traversalOrder=[0, 1, 2],
                                           dimMetadata=sp.dimMetadata + [S.DimensionMetadataT(denseSize=3)]),
     r"blocks of 3, which do not divide it"),
    ("block dimension stored CSR", lambda sp: _set(sp, blockMap=[1], traversalOrder=[0, 1, 2], dimMetadata=[
        *sp.dimMetadata, S.DimensionMetadataT(format=S.DimensionType.SPARSE_CSR, arraySegmentsType=1,
                                              arraySegments=S.Int32VectorT([0]), arrayIndicesType=1,
                                              arrayIndices=S.Int32VectorT([]))]),
     r"dim_metadata\[2\] \(inside a block\) is SPARSE_CSR"),
    ("dim_metadata missing", lambda sp: _set(sp, dimMetadata=sp.dimMetadata[:1]),
     r"1 dim_metadata entries; traversal_order has 2"),
    ("repeated index", lambda sp: _csr_level(sp).arrayIndices.values.__setitem__(
        1, _csr_level(sp).arrayIndices.values[0]), r"element \(0, \d+\) is stored more than once"),
]


def _malformed_base():
    """An 8x16 FC weight, CSR rows; row 0 keeps at least two entries, rows 3 and 4 one each."""
    rng = np.random.default_rng(4)
    mask = rng.random((8, 16)) < 0.3
    mask[0, :2] = True
    mask[3:5, 0] = True
    return mask


@pytest.mark.parametrize("what, edit, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_block_is_a_clear_error(tmp_path, capsys, what, edit, message):
    model = edit_sparsity(sparse_weights_model(1, "fc", _malformed_base(), SparseFormat()), "fc/weights", edit)
    path = write(tmp_path, model)
    with pytest.raises(FirmnetError, match=r"tensor 'fc/weights' sparsity.*" + message):
        firmnet.load(path)
    code = main(["compile", str(path), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("firmnet: error:") and "fc/weights" in err, err
    assert "Traceback" not in err


def test_value_count_must_match_the_metadata(tmp_path):
    def drop_a_value(m):
        buffer = m.buffers[tensor(m, "fc/weights").buffer]
        buffer.data = buffer.data[:-1]
    model = edit_model(sparse_weights_model(1, "fc", _malformed_base(), SparseFormat()), drop_a_value)
    with pytest.raises(FirmnetError, match=r"tensor 'fc/weights' sparsity: the metadata describes \d+ stored "
                                           r"values, but the tensor's buffer holds \d+"):
        firmnet.load(write(tmp_path, model))


def test_sparsity_on_a_graph_input_is_refused(tmp_path):
    def sparse_input(m):
        g = m.subgraphs[0]
        g.tensors[g.inputs[0]].sparsity = tensor(m, "fc/weights").sparsity
    model = edit_model(sparse_weights_model(1, "fc", _malformed_base(), SparseFormat()), sparse_input)
    with pytest.raises(FirmnetError, match=r"graph input 'input_0' has sparsity parameters"):
        firmnet.load(write(tmp_path, model))


def test_densify_output_must_match_its_constant(tmp_path):
    def reshape_output(m):
        tensor(m, "fc/weights/densified").shape = [8, 17]
    model = edit_model(sparse_weights_model(1, "fc", _malformed_base(), SparseFormat()), reshape_output)
    with pytest.raises(FirmnetError, match=r"operator #0 \(DENSIFY\): output 'fc/weights/densified' is int8 "
                                           r"\[8, 17\], but the sparse constant 'fc/weights' is int8 \[8, 16\]"):
        firmnet.load(write(tmp_path, model))


def test_huge_dense_shape_is_refused_before_decoding(tmp_path):
    """A few bytes of sparse metadata may claim a dense tensor of gigabytes: refused by size."""
    def huge(m):
        tensor(m, "fc/weights").shape = [65536, 65536]
    model = edit_model(sparse_weights_model(1, "fc", _malformed_base(), SparseFormat()), huge)
    with pytest.raises(FirmnetError, match=r"tensor 'fc/weights' sparsity: the dense tensor \[65536, 65536\] would "
                                           r"take 4294967296 bytes"):
        firmnet.load(write(tmp_path, model))
