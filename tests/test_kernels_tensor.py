"""fn_transpose, fn_concat and fn_pad against the numpy reference (firmnet.reference.tensor).

These kernels move bytes and never look at values, so every comparison is exact
(np.array_equal on the raw bytes). Data are random bytes, so every bit pattern
(NaNs of float types included) must survive. Each kernel is called twice per case:
with the parameters firmnet.kernels.params_layout builds (dims merged or dropped, as the compiler
emits them) and with the raw, unsimplified shape, which exercises the kernel's
general path with size-1 dims up to rank FN_MAX_DIMS.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmnet.kernels import params_layout as layout
from firmnet.reference.tensor import concat, pad_constant, transpose
from support.byte_tensors import assert_bytes_equal, buf, random_elems

FN_OK = 0
FN_ERR_ARG = 1
SIDES = st.integers(1, 4)


def padded(values, fill=0):
    return [int(v) for v in values] + [fill] * (layout.FN_MAX_DIMS - len(values))


# ---------------------------------------------------------------- transpose

def run_transpose(runtime, params, x, out_shape):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.zeros(out_shape, x.dtype)
    assert lib.fn_transpose(ffi.new("fn_transpose_params *", params), buf(ffi, x), buf(ffi, out)) == FN_OK
    return out


@st.composite
def shape_and_perm(draw, max_rank=6):
    shape = draw(st.lists(SIDES, min_size=1, max_size=max_rank))
    perm = draw(st.permutations(range(len(shape))))
    return tuple(shape), tuple(perm)


@settings(max_examples=300, deadline=None)
@given(sp=shape_and_perm(), elem_size=st.sampled_from([1, 2, 4, 8]), seed=st.integers(0, 2**32 - 1))
@example(sp=((3, 4, 5, 2), (1, 0, 2, 3)), elem_size=4, seed=0)       # last axis stays last: memcpy rows
@example(sp=((1, 4, 5, 3), (0, 3, 1, 2)), elem_size=1, seed=0)       # NHWC -> NCHW
@example(sp=((2, 3, 4, 2, 3, 2), (5, 4, 3, 2, 1, 0)), elem_size=8, seed=0)
@example(sp=((1, 1, 1), (2, 0, 1)), elem_size=2, seed=0)
def test_transpose(runtime, sp, elem_size, seed):
    shape, perm = sp
    x = random_elems(np.random.default_rng(seed), shape, elem_size)
    ref = transpose(x, perm)
    params = layout.transpose_params(shape, perm, elem_size)
    assert 1 <= params["ndim"] <= len(shape)
    assert_bytes_equal(run_transpose(runtime, params, x, ref.shape), ref, f"transpose {shape} {perm} (merged)")
    raw = {"ndim": len(shape), "in_shape": padded(shape), "perm": padded(perm), "elem_size": elem_size}
    assert_bytes_equal(run_transpose(runtime, raw, x, ref.shape), ref, f"transpose {shape} {perm} (raw)")


@pytest.mark.parametrize("shape,perm,expect", [
    ((2, 3, 4), (0, 1, 2), ([24], [0])),                 # identity: one copy
    ((1, 4, 5, 3), (0, 3, 1, 2), ([20, 3], [1, 0])),     # NHWC -> NCHW is a 2-D transpose
    ((1, 3, 4, 5), (0, 2, 3, 1), ([3, 20], [1, 0])),     # NCHW -> NHWC
    ((1, 1, 1), (2, 1, 0), ([1], [0])),                  # only size-1 dims
    ((2, 3, 4, 5), (2, 3, 0, 1), ([6, 20], [1, 0])),
    ((2, 3, 4, 5), (1, 0, 2, 3), ([2, 3, 20], [1, 0, 2])),   # last axis stays last
    ((2, 1, 3, 1, 4, 1, 5, 1), (6, 4, 2, 0, 1, 3, 5, 7), ([2, 3, 4, 5], [3, 2, 1, 0])),   # rank 8 -> 4
])
def test_transpose_params_reduce(shape, perm, expect):
    p = layout.transpose_params(shape, perm, 4)
    n = p["ndim"]
    assert (p["in_shape"][:n], p["perm"][:n]) == expect
    assert p["in_shape"][n:] == [0] * (layout.FN_MAX_DIMS - n) and p["elem_size"] == 4


def test_transpose_params_errors():
    with pytest.raises(ValueError, match=r"perm \[0, 0, 1\] is not a permutation of the 3 axes of shape \[2, 3, 4\]"):
        layout.transpose_params((2, 3, 4), (0, 0, 1), 4)
    with pytest.raises(ValueError, match=r"element size 3 unsupported \(supported: \[1, 2, 4, 8\] bytes\)"):
        layout.transpose_params((2, 3), (1, 0), 3)
    with pytest.raises(ValueError, match=r"needs 7 dimensions after merging, the kernel supports at most 6"):
        layout.transpose_params((2,) * 7, (6, 5, 4, 3, 2, 1, 0), 1)


# ---------------------------------------------------------------- concat

def run_concat(runtime, params, xs, out_shape, dtype):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.zeros(out_shape, dtype)
    blocks = ffi.new("int32_t[]", params["in_block_bytes"])
    p = ffi.new("fn_concat_params *", {**params, "in_block_bytes": blocks})
    keep = [buf(ffi, x) for x in xs]
    ptrs = ffi.new("void *[]", keep)
    assert lib.fn_concat(p, ptrs, buf(ffi, out)) == FN_OK
    return out


@settings(max_examples=300, deadline=None)
@given(shape=st.lists(SIDES, min_size=1, max_size=6), data=st.data(), elem_size=st.sampled_from([1, 2, 3, 4, 8]),
       seed=st.integers(0, 2**32 - 1))
def test_concat(runtime, shape, data, elem_size, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4).filter(any), label="axis sizes")
    rng = np.random.default_rng(seed)
    shapes = [tuple(s if d != axis % rank else k for d, s in enumerate(shape)) for k in sizes]
    xs = [random_elems(rng, s, elem_size) for s in shapes]
    ref = concat(xs, axis)
    params = layout.concat_params(shapes, axis, elem_size)
    out = run_concat(runtime, params, xs, ref.shape, ref.dtype)
    assert_bytes_equal(out, ref, f"concat {shapes} axis {axis}")


def test_concat_params():
    assert layout.concat_params([(2, 3, 4), (2, 5, 4)], 1, 4) == {"n_inputs": 2, "outer": 2,
                                                                  "in_block_bytes": [48, 80]}
    assert layout.concat_params([(2, 3), (2, 0), (2, 1)], -1, 1) == {"n_inputs": 3, "outer": 2,
                                                                     "in_block_bytes": [3, 0, 1]}
    with pytest.raises(ValueError, match=r"shapes \[\[2, 3\], \[3, 3\]\] differ outside axis 1"):
        layout.concat_params([(2, 3), (3, 3)], 1, 4)
    with pytest.raises(ValueError, match=r"axis 2 is out of range for rank 2"):
        layout.concat_params([(2, 3)], 2, 4)


# ---------------------------------------------------------------- pad

def run_pad(runtime, params, x, out_shape):
    ffi, lib = runtime.ffi, runtime.lib
    out = np.zeros(out_shape, x.dtype)
    assert lib.fn_pad(ffi.new("fn_pad_params *", params), buf(ffi, x), buf(ffi, out)) == FN_OK
    return out


@settings(max_examples=300, deadline=None)
@given(shape=st.lists(SIDES, min_size=1, max_size=6), data=st.data(), elem_size=st.integers(1, 8),
       uniform=st.booleans(), seed=st.integers(0, 2**32 - 1))
@example(shape=[3], data=None, elem_size=3, uniform=False, seed=0)
def test_pad(runtime, shape, data, elem_size, uniform, seed):
    rank = len(shape)
    if data is None:
        before, after = [2], [5]
    else:
        before = data.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank), label="before")
        after = data.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank), label="after")
    rng = np.random.default_rng(seed)
    x = random_elems(rng, shape, elem_size)
    value = bytes([int(rng.integers(256))] * elem_size) if uniform else rng.bytes(elem_size)
    ref = pad_constant(x, before, after, np.frombuffer(value, x.dtype)[0])
    params = layout.pad_params(shape, before, after, elem_size, value)
    assert 1 <= params["ndim"] <= rank
    what = f"pad {shape} {before} {after} value {value.hex()}"
    assert_bytes_equal(run_pad(runtime, params, x, ref.shape), ref, what + " (merged)")
    raw = {"ndim": rank, "in_shape": padded(shape), "pad_before": padded(before), "pad_after": padded(after),
           "elem_size": elem_size, "value": list(value) + [0] * (8 - elem_size)}
    assert_bytes_equal(run_pad(runtime, raw, x, ref.shape), ref, what + " (raw)")


@pytest.mark.parametrize("dtype,value", [(np.float32, np.nan), (np.float32, -0.0), (np.int8, -128),
                                         (np.float64, 1.5), (np.float16, -np.inf)])
def test_pad_typed_values(runtime, dtype, value):
    """The compiler's path: value bytes from np.array(value, dtype) (ops/pad.py)."""
    x = np.arange(24).astype(dtype).reshape(1, 2, 3, 4)
    before, after = (0, 1, 1, 0), (0, 1, 1, 0)            # spatial padding of NHWC
    v = np.array(value, dtype=dtype)
    ref = pad_constant(x, before, after, v)
    params = layout.pad_params(x.shape, before, after, x.itemsize, v.tobytes())
    assert_bytes_equal(run_pad(runtime, params, x, ref.shape), ref, f"pad {dtype.__name__} {value}")


@pytest.mark.parametrize("shape,before,after,expect", [
    ((2, 3, 4), (1, 0, 0), (0, 0, 0), ([24], [12], [0])),               # only the outer dim padded
    ((1, 5, 5, 8), (0, 1, 1, 0), (0, 1, 1, 0), ([5, 40], [1, 8], [1, 8])),   # NHWC spatial padding
    ((2, 3), (0, 0), (0, 0), ([6], [0], [0])),                          # no padding: a copy
    ((2, 3, 4), (0, 1, 0), (0, 0, 0), ([2, 12], [0, 4], [0, 0])),      # last dim folds into the padded one
    ((2, 3, 4), (0, 1, 0), (0, 0, 2), ([2, 3, 4], [0, 1, 0], [0, 0, 2])),   # nothing to merge
    ((2,) * 8, (0,) * 8, (1,) + (0,) * 7, ([256], [0], [128])),        # rank 8 -> 1
])
def test_pad_params_merge(shape, before, after, expect):
    p = layout.pad_params(shape, before, after, 2, b"\x01\x02")
    n = p["ndim"]
    assert (p["in_shape"][:n], p["pad_before"][:n], p["pad_after"][:n]) == expect
    assert p["value"] == [1, 2, 0, 0, 0, 0, 0, 0] and p["elem_size"] == 2


def test_pad_params_errors():
    with pytest.raises(ValueError, match=r"negative pads \(cropping\) are not supported"):
        layout.pad_params((2, 3), (0, -1), (0, 0), 4, bytes(4))
    with pytest.raises(ValueError, match=r"the padding value has 2 bytes, elements have 4"):
        layout.pad_params((2, 3), (0, 1), (0, 0), 4, bytes(2))
    with pytest.raises(ValueError, match=r"2 pads before and 1 after do not fit rank 2"):
        layout.pad_params((2, 3), (0, 1), (0,), 4, bytes(4))
    with pytest.raises(ValueError, match=r"element size 9 unsupported"):
        layout.pad_params((2, 3), (0, 1), (0, 0), 9, bytes(9))


# ---------------------------------------------------------------- argument checks

def test_bad_arguments_rejected(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    data = np.zeros(64, np.uint8)
    b = buf(ffi, data)
    good = layout.transpose_params((2, 3), (1, 0), 4)
    for change in ({"perm": padded([0, 0])}, {"perm": padded([1, 2])}, {"ndim": 0}, {"ndim": 7},
                   {"elem_size": 3}, {"in_shape": padded([2, 0])}):
        p = ffi.new("fn_transpose_params *", {**good, **change})
        assert lib.fn_transpose(p, b, b) == FN_ERR_ARG, change
    good = layout.pad_params((2, 3), (1, 0), (0, 1), 1, b"\x00")
    for change in ({"elem_size": 9}, {"elem_size": 0}, {"pad_before": padded([-1, 0])}, {"ndim": 7},
                   {"in_shape": padded([0, 3])}):
        p = ffi.new("fn_pad_params *", {**good, **change})
        assert lib.fn_pad(p, b, b) == FN_ERR_ARG, change
    blocks = ffi.new("int32_t[]", [4, -1])
    ptrs = ffi.new("void *[]", [b, b])
    for bad in ({"n_inputs": 0, "outer": 1, "in_block_bytes": blocks},
                {"n_inputs": 2, "outer": 1, "in_block_bytes": blocks},
                {"n_inputs": 1, "outer": 0, "in_block_bytes": blocks}):
        assert lib.fn_concat(ffi.new("fn_concat_params *", bad), ptrs, b) == FN_ERR_ARG, bad
