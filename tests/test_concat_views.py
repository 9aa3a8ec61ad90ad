"""Concat producers write straight into their slice of the output (firmnet/concat_views.py).

Per kernel: each kernel with an out_stride (STRIDED) writes, into a poisoned buffer of rows
out_stride elements wide, the same bytes as its dense run at its slice, and nothing else.
Per model: a float DAG whose channel Concat becomes strided views (the arena drops from
49,152 B to 36,224 B), the fire DAG (one Concat elided, one kept because copying is smaller),
and an int8 TFLite model with a contiguous Concat along H give the same bytes with views and
with --in-place off (which keeps every copy), close to onnxruntime / equal to TFLM; the
planner's check_plan accepts the views; the int8 and float models run clean under
ASan+UBSan as standalone executables.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmnet
from firmnet.concat_views import STRIDED, find
from firmnet.kernels.params_csr import fc_f32_csr_params
from firmnet.kernels.params_pool_f32 import avgpool2d_f32_params, maxpool2d_f32_params
from firmnet.kernels.params_winograd_f32 import TRANSFORMS, filter_transform, winograd_f32_params
from firmnet.lowering import Alias, KernelCall
from firmnet.planner import check_plan, lower_bound
from support.compare import assert_close
from support.dag_models import CONCAT_MODELS, MODELS
from support.random_graphs import onnxruntime_outputs
from support.sanitize import run_sanitized
from support.tflite_models import (Builder, _options, conv2d_layer, input_quant, pool_layer, quant_from_range,
                                   real_range)
from support.tflite_oracle import Tflm, first_mismatch, run_firmnet
from support.pool_s8_cases import pool_cases, struct_of

POISON = np.uint32(0x7FC0BEEF)   # a NaN pattern no kernel computes


def _fptr(ffi, a):
    return ffi.NULL if a is None else ffi.cast("float *", ffi.from_buffer(a))


class Strided:
    """A poisoned [rows, stride] float buffer; the kernel's output is channels [at, at + c) of each row."""

    def __init__(self, rows: int, c: int, extra: int, at: int):
        self.rows, self.c, self.at, self.stride = rows, c, at, c + extra
        self.buf = np.full(rows * self.stride + 8, POISON, np.uint32)

    def pointer(self, ffi):
        return ffi.cast("float *", ffi.from_buffer(self.buf)) + self.at

    def check(self, dense: np.ndarray) -> None:
        grid = self.buf[:self.rows * self.stride].reshape(self.rows, self.stride)
        got = grid[:, self.at:self.at + self.c]
        assert np.array_equal(got, dense.reshape(self.rows, self.c).view(np.uint32)), \
            "the strided output differs from the dense one"
        rest = np.ones(grid.shape, bool)
        rest[:, self.at:self.at + self.c] = False
        assert (grid[rest] == POISON).all() and (self.buf[self.rows * self.stride:] == POISON).all(), \
            "the kernel wrote outside its slice"


layouts = st.tuples(st.integers(0, 5), st.integers(0, 5)).map(lambda t: (t[0] + t[1], t[0]))   # (extra, at)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 9), k=st.sampled_from([(1, 1), (2, 2), (3, 3)]),
       kind=st.sampled_from(["max", "avg"]), layout=layouts, seed=st.integers(0, 2**31))
def test_pool_f32_writes_its_slice(runtime, h, w, c, k, kind, layout, seed):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.random.default_rng(seed).standard_normal((1, h, w, c)).astype(np.float32)
    pads = (k[0] // 2, k[1] // 2, k[0] // 2, k[1] // 2)
    builder = maxpool2d_f32_params if kind == "max" else avgpool2d_f32_params
    params = builder(x.shape, kernel=k, pads=pads)
    fn = lib.fn_maxpool2d_f32 if kind == "max" else lib.fn_avgpool2d_f32
    dense = np.full((params["out_h"] * params["out_w"], c), np.nan, np.float32)
    assert fn(ffi.new("fn_pool2d_f32_params *", params), _fptr(ffi, x), _fptr(ffi, dense)) == lib.FN_OK
    out = Strided(params["out_h"] * params["out_w"], c, *layout)
    p = ffi.new("fn_pool2d_f32_params *", {**params, "out_stride": out.stride})
    assert fn(p, _fptr(ffi, x), out.pointer(ffi)) == lib.FN_OK
    out.check(dense)
    if c > 1:
        bad = ffi.new("fn_pool2d_f32_params *", {**params, "out_stride": c - 1})
        assert fn(bad, _fptr(ffi, x), out.pointer(ffi)) == lib.FN_ERR_ARG


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["max", "avg"]), data=st.data(), extra=st.integers(0, 9), at_frac=st.floats(0, 1))
def test_pool_s8_writes_its_slice(runtime, kind, data, extra, at_frac):
    ffi, lib = runtime.ffi, runtime.lib
    x, kw = data.draw(pool_cases(kind))
    p = struct_of(kind, x.shape, kw)
    c, rows = p["channels"], p["batch"] * p["out_h"] * p["out_w"]
    fn = lib.fn_maxpool2d_s8 if kind == "max" else lib.fn_avgpool2d_s8
    x = np.ascontiguousarray(x, np.int8)
    dense = np.full((rows, c), 99, np.int8)
    assert fn(ffi.new("fn_pool2d_s8_params *", p), ffi.cast("int8_t *", ffi.from_buffer(x)),
              ffi.cast("int8_t *", ffi.from_buffer(dense))) == lib.FN_OK
    stride, at = c + extra, int(at_frac * extra)
    buf = np.full(rows * stride + 8, 0x5A, np.uint8)
    out = ffi.cast("int8_t *", ffi.from_buffer(buf)) + at
    assert fn(ffi.new("fn_pool2d_s8_params *", {**p, "out_stride": stride}),
              ffi.cast("int8_t *", ffi.from_buffer(x)), out) == lib.FN_OK
    grid = buf[:rows * stride].reshape(rows, stride)
    assert np.array_equal(grid[:, at:at + c].view(np.int8), dense)
    rest = np.ones(grid.shape, bool)
    rest[:, at:at + c] = False
    assert (grid[rest] == 0x5A).all() and (buf[rows * stride:] == 0x5A).all(), "wrote outside its slice"
    if c > 1:
        assert fn(ffi.new("fn_pool2d_s8_params *", {**p, "out_stride": c - 1}),
                  ffi.cast("int8_t *", ffi.from_buffer(x)), out) == lib.FN_ERR_ARG


def _csr_struct(ffi, params):
    from firmnet.lowering import CArray
    s = ffi.new("fn_fc_f32_csr_params *", {k: v for k, v in params.items() if not isinstance(v, CArray) and v is not None})
    keep = []
    for field in ("col_delta", "col_index", "row_start16", "row_start32"):
        v = params[field]
        if v is not None:
            a = np.array(v.values, {"uint8_t": np.uint8, "uint16_t": np.uint16, "uint32_t": np.uint32}[v.ctype])
            keep.append(a)
            setattr(s, field, ffi.cast(v.ctype + " *", ffi.from_buffer(a)))
    return s, keep


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 11), k=st.integers(1, 9), n=st.integers(1, 9), layout=layouts,
       density=st.sampled_from([0.3, 1.0]), seed=st.integers(0, 2**31))
def test_fc_f32_csr_writes_its_slice(runtime, rows, k, n, layout, density, seed):
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    wt = (rng.standard_normal((n, k)) * (rng.random((n, k)) < density)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    params, m = fc_f32_csr_params(x.shape, wt)
    values = np.asarray(m.values, np.float32)
    dense = np.full((rows, n), np.nan, np.float32)
    s, keep = _csr_struct(ffi, params)
    assert lib.fn_fc_f32_csr(s, _fptr(ffi, x), _fptr(ffi, values), _fptr(ffi, bias), _fptr(ffi, dense)) == lib.FN_OK
    out = Strided(rows, n, *layout)
    s2, keep2 = _csr_struct(ffi, {**params, "out_stride": out.stride})
    assert lib.fn_fc_f32_csr(s2, _fptr(ffi, x), _fptr(ffi, values), _fptr(ffi, bias), out.pointer(ffi)) == lib.FN_OK
    out.check(dense)
    if n > 1:
        s3, keep3 = _csr_struct(ffi, {**params, "out_stride": n - 1})
        assert lib.fn_fc_f32_csr(s3, _fptr(ffi, x), _fptr(ffi, values), _fptr(ffi, bias), out.pointer(ffi)) \
            == lib.FN_ERR_ARG
    del keep, keep2


@settings(max_examples=20, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), cin=st.integers(1, 5), cout=st.integers(1, 9),
       tile=st.sampled_from([2, 4]), layout=layouts, seed=st.integers(0, 2**31))
def test_winograd_f32_writes_its_slice(runtime, h, w, cin, cout, tile, layout, seed):
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, h, w, cin)).astype(np.float32)
    wt = rng.standard_normal((cout, 3, 3, cin)).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32)
    params = winograd_f32_params(x.shape, wt.shape, pads=(1, 1, 1, 1))
    u = np.ascontiguousarray(filter_transform(wt, TRANSFORMS[tile]), np.float32)
    fn = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}")
    size = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}_scratch_size")(
        ffi.new("fn_conv2d_f32_winograd_params *", params))
    scratch = np.zeros(size // 4 + 1, np.float32)
    dense = np.full((params["out_h"] * params["out_w"], cout), np.nan, np.float32)

    def run(p, out_ptr):
        return fn(ffi.new("fn_conv2d_f32_winograd_params *", p), _fptr(ffi, x), _fptr(ffi, u), _fptr(ffi, bias),
                  out_ptr, _fptr(ffi, scratch))
    assert run(params, _fptr(ffi, dense)) == lib.FN_OK
    out = Strided(params["out_h"] * params["out_w"], cout, *layout)
    assert run({**params, "out_stride": out.stride}, out.pointer(ffi)) == lib.FN_OK
    out.check(dense)
    if cout > 1:
        assert run({**params, "out_stride": cout - 1}, out.pointer(ffi)) == lib.FN_ERR_ARG


# ----------------------------------------------------------------------------- models

@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    cache = {}

    def get(name, in_place):
        if (name, in_place) not in cache:
            model = {**MODELS, **CONCAT_MODELS}[name]()
            out = tmp_path_factory.mktemp(f"{name}_{in_place}")
            cache[name, in_place] = (model, firmnet.compile(model, out, name="dag", in_place=in_place))
        return cache[name, in_place]
    return get


def _functions(cm):
    return {n.name: cm.lowered[n.name].function if isinstance(cm.lowered[n.name], KernelCall) else "alias"
            for n in cm.lowered_graph.nodes}


def test_branches_channel_concat_becomes_strided_views(dag):
    _, on = dag("branches", "on")
    _, off = dag("branches", "off")
    assert on.report["concat_views"]["elided"] == [
        {"concat": "cat", "inputs": ["b1", "b2", "b3"], "producers": ["b1", "b2", "b3"], "layout": "strided",
         "out_stride": 24}]
    assert isinstance(on.lowered["cat"], Alias) and _functions(off)["cat"] == "fn_concat"
    assert off.report["concat_views"]["elided"] == []
    # every branch is a view of cat's buffer at its channels (8 floats per branch), rows 24 floats apart
    storage = on.memory.storage
    assert [(storage[t].key, storage[t].offset, storage[t].strided) for t in ("b1", "b2", "b3")] == \
        [(storage["cat"].key, 0, True), (storage["cat"].key, 32, True), (storage["cat"].key, 64, True)]
    assert dict(on.lowered["b2"].params)["out_stride"] == 24
    check_plan(on.memory.buffers, on.memory.plan)
    # the bound the report prints is the bound of what runs, and the placement reaches it
    assert on.report["schedule"]["bound_bytes"] == lower_bound(on.memory.buffers, 16) == on.memory.arena_size
    assert (on.memory.arena_size, off.memory.arena_size) == (36224, 49152)
    c = (on.out_dir / "dag.c").read_text()
    assert "fn_concat(" not in c and "fn_concat(" in (off.out_dir / "dag.c").read_text()


@pytest.mark.parametrize("name", ["branches", "fire", "inception"])
def test_same_bytes_with_and_without_views(dag, name):
    model, on = dag(name, "on")
    _, off = dag(name, "off")
    rng = np.random.default_rng(7)
    host_on, host_off = on.build_host(), off.build_host()
    for _ in range(3):   # several inputs: a slice left unwritten would keep the previous run's bytes
        xs = [rng.uniform(-1, 1, on.graph.types[i].shape).astype(np.float32) for i in on.graph.inputs]
        a, b = host_on.run(xs), host_off.run(xs)
        for u, v, e in zip(a, b, onnxruntime_outputs(model, xs)):
            assert np.array_equal(u.view(np.uint32), v.view(np.uint32)), "views changed the output bytes"
            assert_close(u, e, "C vs onnxruntime")


def test_fire_keeps_the_copy_that_is_cheaper(dag):
    """fire's first Concat would hold its 8 KiB output from the first pool on, across the second
    branch's 16 KiB expand: copying is smaller, so it stays; the second one is elided."""
    _, on = dag("fire", "on")
    views = on.report["concat_views"]
    assert [v["concat"] for v in views["elided"]] == ["y"]
    assert "c1" in views["note"] and _functions(on)["c1"] == "fn_concat"
    assert on.memory.arena_size == dag("fire", "off")[1].memory.arena_size == 24576
    check_plan(on.memory.buffers, on.memory.plan)


def test_nothing_to_view_without_a_strided_producer():
    """A channel Concat whose producer has no out_stride keeps its copy (find ignores it)."""
    model = CONCAT_MODELS["branches"]()
    cm = firmnet.compile(model, "/nonexistent", name="dag", write=False, in_place="off")
    lowered = dict(cm.lowered)
    lowered["b3"] = KernelCall("fn_other_kernel", "x.h", "x", (), ("b3",))
    assert "fn_other_kernel" not in STRIDED
    assert find(cm.lowered_graph, lowered) == []
    assert [v.concat for v in find(cm.lowered_graph, cm.lowered)] == ["cat"]


def rows_concat_model(seed: int) -> bytes:
    """int8: a 1x1 and a 3x3 convolution of one input, concatenated along H (NHWC, batch 1:
    each is one contiguous run of the output), then a 2x2 max pool."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input((1, 6, 6, 4), input_quant(rng))
    c1 = b.calibrate(conv2d_layer(b, rng, x, 8, (1, 1), name="top", bias_gain=0.3), "NONE", seed=seed)
    c2 = b.calibrate(conv2d_layer(b, rng, x, 8, (3, 3), act="RELU", name="bottom", bias_gain=0.3), "RELU", seed=seed)
    q = quant_from_range(min(real_range(c1.q)[0], 0), max(real_range(c1.q)[1], real_range(c2.q)[1]))
    b.requantize(c1, q)
    b.requantize(c2, q)
    m = b.op("CONCATENATION", [c1, c2], [b.act((1, 12, 6, 8), q, "cat")], _options("ConcatenationOptionsT", axis=1))
    return b.build(pool_layer(b, m, "max", (2, 2), (2, 2)))


@pytest.mark.parametrize("seed", [1, 2])
def test_int8_rows_concat_equals_tflm_and_is_sanitizer_clean(seed, tmp_path):
    model = rows_concat_model(seed)
    (tmp_path / "m.tflite").write_bytes(model)
    cms = {mode: firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, name="m", in_place=mode)
           for mode in ("on", "off")}
    on, off = cms["on"], cms["off"]
    assert [v["layout"] for v in on.report["concat_views"]["elided"]] == ["contiguous"]
    assert off.report["concat_views"]["elided"] == []
    assert on.memory.arena_size < off.memory.arena_size
    check_plan(on.memory.buffers, on.memory.plan)
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    xs = np.random.default_rng(seed).integers(-128, 128, (10, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    for mode, cm in cms.items():
        got, = run_firmnet(cm.build_host(), model, xs)
        problem = first_mismatch(got, expected, f"in place {mode}")
        assert problem is None, problem
    for k in range(2):
        (tmp_path / f"run{k}").mkdir()
        out, = run_sanitized(on, [xs[k]], tmp_path / f"run{k}")
        problem = first_mismatch(out.reshape(expected.shape[1:]), expected[k], f"sanitized run {k}")
        assert problem is None, problem


def pooled_branches_model(seed: int) -> bytes:
    """int8, fire-like: a 1x1 and a 3x3 convolution of one input, each max pooled 2x2, the pools
    concatenated along the channels (NHWC: strided slices, written by fn_maxpool2d_s8 with
    out_stride), then a 1x1 convolution."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input((1, 8, 8, 4), input_quant(rng))
    c1 = b.calibrate(conv2d_layer(b, rng, x, 8, (1, 1), name="e1", bias_gain=0.3), "NONE", seed=seed)
    c2 = b.calibrate(conv2d_layer(b, rng, x, 12, (3, 3), act="RELU", name="e3", bias_gain=0.3), "RELU", seed=seed)
    q = quant_from_range(min(real_range(c1.q)[0], 0), max(real_range(c1.q)[1], real_range(c2.q)[1]))
    b.requantize(c1, q)
    b.requantize(c2, q)
    p1, p2 = pool_layer(b, c1, "max", name="p1"), pool_layer(b, c2, "max", name="p2")
    m = b.op("CONCATENATION", [p1, p2], [b.act((1, 4, 4, 20), q, "cat")], _options("ConcatenationOptionsT", axis=3))
    return b.build(b.calibrate(conv2d_layer(b, rng, m, 8, (1, 1), name="y", bias_gain=0.3), "NONE", seed=seed))


@pytest.mark.parametrize("seed", [3, 4])
def test_int8_strided_pool_views_equal_tflm(seed, tmp_path):
    model = pooled_branches_model(seed)
    (tmp_path / "m.tflite").write_bytes(model)
    cms = {mode: firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, name="m", in_place=mode)
           for mode in ("on", "off")}
    views = cms["on"].report["concat_views"]["elided"]
    assert [(v["layout"], v["out_stride"]) for v in views] == [("strided", 20)]
    assert cms["off"].report["concat_views"]["elided"] == []
    assert cms["on"].memory.arena_size <= cms["off"].memory.arena_size
    check_plan(cms["on"].memory.buffers, cms["on"].memory.plan)
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    xs = np.random.default_rng(seed).integers(-128, 128, (10, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    for mode, cm in cms.items():
        got, = run_firmnet(cm.build_host(), model, xs)
        problem = first_mismatch(got, expected, f"in place {mode}")
        assert problem is None, problem
    (tmp_path / "san").mkdir()
    out, = run_sanitized(cms["on"], [xs[0]], tmp_path / "san")
    problem = first_mismatch(out.reshape(expected.shape[1:]), expected[0], "sanitized")
    assert problem is None, problem


def test_float_strided_views_sanitizer_clean(dag, tmp_path):
    model, on = dag("branches", "on")
    rng = np.random.default_rng(3)
    xs = [rng.uniform(-1, 1, on.graph.types[i].shape).astype(np.float32) for i in on.graph.inputs]
    out, = run_sanitized(on, xs, tmp_path)
    expected, = on.build_host().run(xs)
    assert np.array_equal(np.asarray(out).reshape(expected.shape).view(np.uint32), expected.view(np.uint32))


def test_cli_in_place_off_keeps_the_copy(tmp_path, capsys):
    from firmnet.cli import main as cli_main
    path = tmp_path / "branches.onnx"
    path.write_bytes(CONCAT_MODELS["branches"]().SerializeToString())
    assert cli_main(["compile", str(path), "-o", str(tmp_path / "off"), "--in-place", "off"]) == 0
    assert cli_main(["compile", str(path), "-o", str(tmp_path / "on")]) == 0
    assert cli_main(["verify", str(tmp_path / "on")]) == 0
    capsys.readouterr()
    c_on = next(Path(tmp_path / "on").glob("*.c")).read_text()
    c_off = next(Path(tmp_path / "off").glob("*.c")).read_text()
    assert "fn_concat(" in c_off and "fn_concat(" not in c_on


def test_report_names_the_elided_concats(dag):
    from firmnet.report import format_report
    from firmnet.report_html.data import build_page
    _, on = dag("branches", "on")
    _, off = dag("branches", "off")
    assert "concat views:            cat: the producers write into their slices (no copy)" in format_report(on.report)
    assert "concat views" not in format_report(off.report)
    notes = build_page(on.report).notes
    assert any(n.startswith("concat views: cat (strided): b1, b2, b3 write into their slices") for n in notes)
    # the classic bound stays the copying execution's (whole tensors, the file's order)
    assert on.report["classic_lower_bound_bytes"] == off.report["classic_lower_bound_bytes"] > \
        on.report["lower_bound_bytes"]
    _, fire = dag("fire", "on")
    assert any("kept the copy of c1" in n for n in build_page(fire.report).notes)


def test_branches_on_mps2_same_bytes(tmp_path):
    """The strided views on mps2-an386 (QEMU, arm-none-eabi-gcc): the bytes of the build that copies."""
    from firmnet import qemu
    model = CONCAT_MODELS["branches"]()
    rng = np.random.default_rng(11)
    xs = [rng.uniform(-1, 1, (1, 8, 16, 16)).astype(np.float32) for _ in range(2)]
    runs = {}
    for mode in ("on", "off"):
        cm = firmnet.compile(model, tmp_path / mode, board="mps2-an386", name="br", in_place=mode)
        assert len(cm.report["concat_views"]["elided"]) == (mode == "on")
        runs[mode] = [qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0] for x in xs]
    for k, (a, b) in enumerate(zip(runs["on"], runs["off"])):
        assert np.array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32)), f"input {k}"
