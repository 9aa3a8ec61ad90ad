"""In-place pooling (in_place.py: fn_maxpool2d_s8, fn_avgpool2d_s8 declared; fn_maxpool2d_f32 and
fn_avgpool2d_f32 proven with the same pool_delta, not declared yet): each kernel runs with its output starting the declared number of
bytes before its input, in one buffer poisoned around the two tensors; the output equals the
numpy reference (computed from an untouched copy of the input) and no byte outside the
tensors' union changes. hypothesis draws the geometry and quantization (the int8 pool tests'
strategy, batch 1). A case with a delta two pixels short shows the check sees it."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.in_place import IN_PLACE, pool_delta
from firmnet.kernels.params_pool_f32 import avgpool2d_f32_params, maxpool2d_f32_params
from firmnet.reference.pool import avgpool2d_f32, maxpool2d_f32
from firmnet.reference.pool_s8 import avgpool2d_s8, maxpool2d_s8
from support.compare import assert_array_equal_first
from support.pool_geometry import pool_axis
from support.pool_s8_cases import pool_cases, struct_of

POISON = 0x5A
PAD = 48


class Overlapped:
    """[PAD poison][delta bytes][input ...][PAD poison], the output at PAD (delta bytes before the input)."""

    def __init__(self, ffi, x: np.ndarray, out_nbytes: int, delta: int):
        raw = np.ascontiguousarray(x).view(np.uint8).ravel()
        self.out_nbytes = out_nbytes
        self.end = PAD + max(delta + raw.size, out_nbytes)
        self.buf = np.full(self.end + PAD, POISON, np.uint8)
        self.buf[PAD + delta:PAD + delta + raw.size] = raw
        base = ffi.cast("uint8_t *", ffi.from_buffer(self.buf))
        self.input, self.output = base + PAD + delta, base + PAD

    def result(self, dtype, shape) -> np.ndarray:
        assert (self.buf[:PAD] == POISON).all() and (self.buf[self.end:] == POISON).all(), \
            "the kernel wrote outside the input and output tensors"
        return self.buf[PAD:PAD + self.out_nbytes].copy().view(dtype).reshape(shape)


def _delta(p, pixel_bytes):
    return pool_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), pixel_bytes, (p["kernel_h"], p["kernel_w"]),
                      (p["stride_h"], p["stride_w"]), (p["pad_top"], p["pad_left"]),
                      (p["dilation_h"], p["dilation_w"]))


def run_s8(runtime, kind, p, x, delta):
    ffi, lib = runtime.ffi, runtime.lib
    out_shape = (1, p["out_h"], p["out_w"], p["channels"])
    buf = Overlapped(ffi, x.astype(np.int8), int(np.prod(out_shape)), delta)
    fn = lib.fn_maxpool2d_s8 if kind == "max" else lib.fn_avgpool2d_s8
    status = fn(ffi.new("fn_pool2d_s8_params *", p), ffi.cast("int8_t *", buf.input), ffi.cast("int8_t *", buf.output))
    assert status == lib.FN_OK
    return buf.result(np.int8, out_shape)


def test_pools_are_declared():
    assert {"fn_maxpool2d_s8", "fn_avgpool2d_s8"} <= set(IN_PLACE)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["max", "avg"]), st.data())
def test_s8_pool_in_place_matches_reference(runtime, kind, data):
    x, kw = data.draw(pool_cases(kind))
    x = np.ascontiguousarray(x[:1])
    p = struct_of(kind, x.shape, kw)
    got = run_s8(runtime, kind, p, x, _delta(p, x.shape[3]))
    ref = (maxpool2d_s8 if kind == "max" else avgpool2d_s8)(x, **kw)
    assert_array_equal_first(got, ref, f"{kind} pool in place, delta {_delta(p, x.shape[3])}")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["max", "avg"]), st.data(), st.integers(1, 12), st.integers(0, 2**31))
def test_f32_pool_in_place_matches_reference(runtime, kind, data, c, seed):
    ffi, lib = runtime.ffi, runtime.lib
    dil = (1, 1) if kind == "avg" else (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    h, kh, sh, pt, pb, _ = pool_axis(data.draw, dil[0])
    w, kw_, sw, pl, pr, _ = pool_axis(data.draw, dil[1])
    x = np.random.default_rng(seed).standard_normal((1, h, w, c)).astype(np.float32)
    kw = dict(kernel=(kh, kw_), strides=(sh, sw), pads=(pt, pl, pb, pr))
    if kind == "max":
        kw["dilations"] = dil
    try:
        p = (maxpool2d_f32_params if kind == "max" else avgpool2d_f32_params)(x.shape, **kw)
    except ValueError:
        return   # a geometry the builders refuse (a window of padding only): nothing to run
    out_shape = (1, p["out_h"], p["out_w"], c)
    delta = _delta(p, 4 * c)
    buf = Overlapped(ffi, x, 4 * int(np.prod(out_shape)), delta)
    fn = lib.fn_maxpool2d_f32 if kind == "max" else lib.fn_avgpool2d_f32
    assert fn(ffi.new("fn_pool2d_f32_params *", p), ffi.cast("float *", buf.input),
              ffi.cast("float *", buf.output)) == lib.FN_OK
    got = buf.result(np.float32, out_shape)
    dense = np.full(out_shape, np.nan, np.float32)
    assert fn(ffi.new("fn_pool2d_f32_params *", p), ffi.cast("float *", ffi.from_buffer(x)),
              ffi.cast("float *", ffi.from_buffer(dense))) == lib.FN_OK
    # the same bytes as the kernel's own run on separate buffers (exact for max: the reference too)
    assert np.array_equal(got.view(np.uint32), dense.view(np.uint32))
    if kind == "max":
        assert np.array_equal(got, maxpool2d_f32(x, **kw))
    else:
        assert np.allclose(got, avgpool2d_f32(x, **kw), rtol=1e-5, atol=1e-6)


def test_a_delta_two_pixels_short_is_caught(runtime):
    """3x3 stride 1 pad 1 max pool: delta (W + 2) * C (the phase rule keeps a pixel's output off its
    own taps too). Two pixels less puts pixel p's output on the first tap of window p + 1, read
    after it: with falling inputs that tap is the window's maximum, and the output differs."""
    c, h, w = 4, 5, 6
    x = (60 - np.arange(h * w * c).reshape(1, h, w, c) % 120).astype(np.int8)
    q = (0.05, 0)
    kw = dict(kernel=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), x_q=q, y_q=q, mode="tflm", act=(-128, 127))
    p = struct_of("max", x.shape, kw)
    delta = _delta(p, c)
    assert delta == (w + 2) * c
    ref = maxpool2d_s8(x, **kw)
    assert np.array_equal(run_s8(runtime, "max", p, x, delta), ref)
    assert not np.array_equal(run_s8(runtime, "max", p, x, delta - 2 * c), ref), \
        "a delta two pixels short went unnoticed"
