"""The float Winograd convolutions fn_conv2d_f32_winograd_f2 / _f4 (runtime_c/include/
fn_conv2d_f32_winograd.h) against the DIRECT numpy float reference of the same layer
(firmnet.reference.conv.conv2d_f32, float64, from the layer's input, filters, bias, pads and
activation), and against a numpy Winograd (tests/support/winograd_f32.py) as a second check.

Tolerance (support/winograd_f32.py, stated in the header): an output's rounding error comes from
every input of its tile, so the bound scales with the tile's largest input per channel:
    |c - ref| <= K * (in_c + 2) * eps32 * (E + |bias|) + (9 in_c + 1) * FLT_MIN,
    E = sum over c of max |x_c| over the tile's input * sum |w_o,c| over the 3x3 taps,
with K = 1.5 (F2) and 32 (F4), about twice the largest ratio measured (8,000 random layers, the
four data families below). The activation clamp is 1-Lipschitz; clamping is also checked exactly.

hypothesis draws odd and even heights and widths, outputs smaller than a tile and not a multiple
of it, pads 0..2 on each side (asymmetric), 1..20 input and 1..9 output channels (the blocks of
4), batches of 1-2, every activation clamp, with and without bias, and four data families:
standard normal, magnitudes log-uniform over e^-10..e^10 (an output next to much larger inputs),
inputs of one binade with random mantissas, weights log-uniform over e^-5..e^5. The scratch:
the Python formula equals the C size function and the kernel writes nothing past it.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmnet
from firmnet import qemu
from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
from firmnet.cli import main
from firmnet.kernels import CANDIDATES, WINOGRAD_F2, WINOGRAD_F4
from firmnet.kernels.params_winograd_f32 import (F2, F4, TRANSFORMS, filter_transform, flash_bytes, scratch_size,
                                                 winograd_f32_params)
from firmnet.reference.conv import conv2d_f32
from firmnet.resources import boards_dir
from support.f32_bounds import NO_CLAMP, act_ranges, assert_clamped, assert_within, fptr
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized
from support.vgg_models import conv_names, vgg_model
from support.winograd_f32 import error_bound, numpy_winograd, run_c

TILES = (2, 4)
FAMILIES = ("normal", "wide_inputs", "one_binade", "wide_weights")


def data(rng, family, x_shape, w_shape):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    if family == "wide_inputs":
        x = np.sign(x) * np.exp(rng.uniform(-10, 10, x_shape))
    elif family == "one_binade":
        x = rng.choice([-1.0, 1.0], x_shape) * (1 + rng.integers(0, 2**20, x_shape) * 2.0**-20)
    elif family == "wide_weights":
        w = np.sign(w) * np.exp(rng.uniform(-5, 5, w_shape))
    return x.astype(np.float32), w.astype(np.float32)


@st.composite
def layers(draw):
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, 3 - pads[0] - pads[2]), 11))
    w = draw(st.integers(max(1, 3 - pads[1] - pads[3]), 11))
    c, oc, n = draw(st.integers(1, 20)), draw(st.integers(1, 9)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, wt = data(rng, draw(st.sampled_from(FAMILIES)), (n, h, w, c), (oc, 3, 3, c))
    bias = rng.standard_normal(oc).astype(np.float32) if draw(st.booleans()) else None
    return x, wt, bias, pads, draw(act_ranges())


def check(runtime, tile, x, w, bias, pads, act):
    status, out, size = run_c(runtime, tile, x, w, bias, pads, act)
    assert status == runtime.lib.FN_OK
    assert size == scratch_size(winograd_f32_params(x.shape, w.shape, pads=pads), TRANSFORMS[tile])
    ref = conv2d_f32(x, w, bias, pads=pads, act=act)
    bound = error_bound(x, w, bias, pads, tile)
    assert_within(out, ref, bound, f"F{tile} against the direct reference")
    assert_clamped(out, act)
    wino = np.clip(numpy_winograd(x, w, bias, pads, TRANSFORMS[tile]), np.float32(act[0]), np.float32(act[1]))
    assert_within(out, wino, bound, f"F{tile} against the numpy Winograd")
    return out


@settings(max_examples=1000, deadline=None)
@given(layers())
def test_winograd_matches_the_direct_reference(runtime, case):
    x, w, bias, pads, act = case
    for tile in TILES:
        check(runtime, tile, x, w, bias, pads, act)


@pytest.mark.parametrize("tile", TILES)
def test_transforms_compute_the_correlation(tile):
    """A^T [(G g) (.) (B^T d)] is the 1-D correlation of d with g (float64), and the 2-D nesting
    over a tile is the 3x3 correlation: the matrices of params_winograd_f32, not the C."""
    t = TRANSFORMS[tile]
    rng = np.random.default_rng(tile)
    for _ in range(20):
        g, d = rng.standard_normal(3), rng.standard_normal(t.a)
        want = np.array([d[i:i + 3] @ g for i in range(tile)])
        np.testing.assert_allclose(t.AT @ ((t.G @ g) * (t.BT @ d)), want, rtol=0, atol=1e-12)
    x = rng.standard_normal((1, t.a, t.a, 1))
    w = rng.standard_normal((1, 3, 3, 1))
    want = conv2d_f32(x, w)                                # [1, tile, tile, 1], rounded to float32
    np.testing.assert_allclose(numpy_winograd(x, w, None, (0, 0, 0, 0), t), want, rtol=1e-6, atol=1e-6)


def test_hand_computed_tile():
    """F(2x2,3x3) of a 4x4 input 1..16 with the all-ones filter: window sums 54, 63, 90, 99."""
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 4, 4, 1)
    w = np.ones((1, 3, 3, 1))
    np.testing.assert_allclose(numpy_winograd(x, w, None, (0, 0, 0, 0), F2)[0, :, :, 0], [[54, 63], [90, 99]],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("tile", TILES)
def test_c_hand_computed(runtime, tile):
    """The C on 1..(a*a) with the all-ones filter and bias 0.5, unpadded: exact window sums + 0.5
    (small integers: every rounding is exact)."""
    a = tile + 2
    x = np.arange(1, a * a + 1, dtype=np.float32).reshape(1, a, a, 1)
    w = np.ones((1, 3, 3, 1), np.float32)
    status, out, _ = run_c(runtime, tile, x, w, np.array([0.5], np.float32))
    assert status == runtime.lib.FN_OK
    want = [[x[0, i:i + 3, j:j + 3, 0].sum() + 0.5 for j in range(tile)] for i in range(tile)]
    np.testing.assert_array_equal(out[0, :, :, 0], np.array(want, np.float32))


@pytest.mark.parametrize("tile", TILES)
def test_realistic_layers(runtime, tile):
    """The VGG model's shapes: 32x32 3->16, 16x16 16->32 and 8x8 64->64, padding 1, ReLU."""
    rng = np.random.default_rng(tile)
    for h, c, oc in ((32, 3, 16), (16, 16, 32), (8, 64, 64)):
        x, w = data(rng, "normal", (1, h, h, c), (oc, 3, 3, c))
        check(runtime, tile, x, w, rng.standard_normal(oc).astype(np.float32), (1, 1, 1, 1), (0.0, np.inf))


@pytest.mark.parametrize("tile", TILES)
def test_output_smaller_than_a_tile_and_window_in_padding(runtime, tile):
    """A 1x1 input with pads 2 on the top and left only: a 1x1 output whose window holds one input
    (bottom right tap), the rest of the tile all padding."""
    x = np.array([[[[3.0]]]], np.float32)
    w = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    status, out, _ = run_c(runtime, tile, x, w, np.array([1.0], np.float32), pads=(2, 2, 0, 0))
    assert status == runtime.lib.FN_OK and out.shape == (1, 1, 1, 1)
    assert out[0, 0, 0, 0] == np.float32(3 * 9 + 1)


@pytest.mark.parametrize("tile", TILES)
def test_bad_arguments(runtime, tile):
    ffi, lib = runtime.ffi, runtime.lib
    fn = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}")
    size_fn = getattr(lib, f"fn_conv2d_f32_winograd_f{tile}_scratch_size")
    params = winograd_f32_params((1, 5, 5, 2), (3, 3, 3, 2), pads=(1, 1, 1, 1))
    x, out = np.zeros((1, 5, 5, 2), np.float32), np.zeros((1, 5, 5, 3), np.float32)
    u = filter_transform(np.zeros((3, 3, 3, 2), np.float32), TRANSFORMS[tile])
    scratch = np.zeros(size_fn(ffi.new("fn_conv2d_f32_winograd_params *", params)) // 4, np.float32)
    args = [fptr(ffi, x), fptr(ffi, u), ffi.NULL, fptr(ffi, out), fptr(ffi, scratch)]
    assert fn(ffi.new("fn_conv2d_f32_winograd_params *", params), *args) == lib.FN_OK
    for k in (0, 1, 3, 4):
        bad = list(args)
        bad[k] = ffi.NULL
        assert fn(ffi.new("fn_conv2d_f32_winograd_params *", params), *bad) == lib.FN_ERR_ARG
    for field, value in (("in_c", 0), ("out_c", 0), ("batch", 0), ("pad_top", -1), ("out_h", 1), ("out_w", 0)):
        p = ffi.new("fn_conv2d_f32_winograd_params *", {**params, field: value})
        assert fn(p, *args) == lib.FN_ERR_ARG, field
        assert size_fn(p) == 0, field
    assert size_fn(ffi.NULL) == 0


def test_builder_refuses_what_the_kernels_do_not_take():
    x = (1, 8, 8, 4)
    with pytest.raises(ValueError, match=r"5x5 filter \(3x3 only\)"):
        winograd_f32_params(x, (4, 5, 5, 4))
    with pytest.raises(ValueError, match=r"stride 2x2 \(1 only\)"):
        winograd_f32_params(x, (4, 3, 3, 4), strides=(2, 2))
    with pytest.raises(ValueError, match=r"dilation 1x2 \(1 only\)"):
        winograd_f32_params(x, (4, 3, 3, 4), dilations=(1, 2))
    with pytest.raises(ValueError, match=r"2 groups \(1 only\)"):
        winograd_f32_params(x, (4, 3, 3, 2), groups=2)


def test_flash_of_the_transformed_filters():
    """16 (F2) and 36 (F4) floats per filter-channel against 9."""
    assert flash_bytes((32, 3, 3, 16), None) == 32 * 16 * 9 * 4
    assert flash_bytes((32, 3, 3, 16), F2) == 32 * 16 * 16 * 4
    assert flash_bytes((32, 3, 3, 16), F4) == 32 * 16 * 36 * 4
    assert filter_transform(np.ones((32, 3, 3, 16), np.float32), F4).nbytes == flash_bytes((32, 3, 3, 16), F4)


# ---------------------------------------------------------------- selection and the whole compiler


@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg.onnx"
    onnx.save(vgg_model(), str(path))
    return path


def _compile(path, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="vgg", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l["kernel"] for l in cm.report["layers"] if l["op"] == "conv2d"}


def _image(seed=0):
    return np.random.default_rng(seed).standard_normal((1, 3, 32, 32)).astype(np.float32)


def test_winograd_variants_are_candidates():
    assert WINOGRAD_F2 in CANDIDATES["conv2d"] and WINOGRAD_F4 in CANDIDATES["conv2d"]
    assert WINOGRAD_F2.WINOGRAD and WINOGRAD_F4.WINOGRAD


@pytest.mark.parametrize("board", ["mps2-an386", "host"])
def test_float_3x3_layers_pick_winograd_where_cheaper(vgg, tmp_path, board):
    """bench/winograd_float.py on mps2-an386: F4 takes 2.24x (3 input channels) to 3.61x (64)
    fewer instructions than the direct kernel on every 3x3 layer of the model, F2 1.55x-2.12x;
    the estimates say the same, and the report gives why and the rejected direct kernel."""
    cm = _compile(vgg, tmp_path / board, board=board, write=False)
    assert set(_kernels(cm).values()) == {WINOGRAD_F4.NAME}
    layer = next(l for l in cm.report["layers"] if l["name"] == "conv2_2")
    assert layer["why"].startswith("3x3 stride 1, Winograd F(4x4,3x3), weights 147,456 B (direct 36,864 B)")
    rejected = {r["kernel"]: r["reason"] for r in layer["rejected"]}
    assert rejected["fn_conv2d_f32"].startswith("est. ") and "x slower" in rejected["fn_conv2d_f32"]
    assert rejected[WINOGRAD_F2.NAME].startswith("est. ")


def test_winograd_option(vgg, tmp_path):
    """--winograd off: the direct kernel on every 3x3 layer; on: a Winograd variant on every one
    (F4, estimated cheaper than F2); auto on mps2-an386: F4 (cheaper, and the 1.15 MB of weights
    fit the board's 4 MB of flash). The report gives both options per layer (direct 9 floats,
    F4 36 per filter-channel), and the three builds' outputs agree within verify's tolerance."""
    x = _image()
    outs = {}
    for mode, want in (("off", {"fn_conv2d_f32"}), ("on", {WINOGRAD_F4.NAME}), ("auto", {WINOGRAD_F4.NAME})):
        cm = _compile(vgg, tmp_path / mode, board="mps2-an386", winograd=mode)
        assert set(_kernels(cm).values()) == want, mode
        layer = next(l for l in cm.report["layers"] if l["name"] == "conv2_2")
        options = layer["winograd"]
        assert (options["direct"]["kernel"], options["direct"]["weight_bytes"]) == ("fn_conv2d_f32", 32 * 32 * 9 * 4)
        assert (options["winograd"]["kernel"], options["winograd"]["weight_bytes"]) == \
            (WINOGRAD_F4.NAME, 32 * 32 * 36 * 4)
        assert options["winograd"]["instructions"] < options["direct"]["instructions"]
        outs[mode] = cm.build_host().run([x])[0]
    for mode in ("on", "auto"):
        np.testing.assert_allclose(outs[mode], outs["off"], rtol=0, atol=1e-4 * np.abs(outs["off"]).max())


def test_flash_bound_board_keeps_direct_kernels(vgg, tmp_path):
    """A board whose flash (less the boards' code estimate) holds the direct weights plus the
    smallest F4 growth only: auto keeps F4 on that layer (conv1_1) and the direct kernel on the
    others, saying why."""
    big = _compile(vgg, tmp_path / "big", board="mps2-an386", write=False)
    growth = {l["name"]: l["winograd"]["winograd"]["weight_bytes"] - l["winograd"]["direct"]["weight_bytes"]
              for l in big.report["layers"] if l["kernel"] == WINOGRAD_F4.NAME}
    assert set(growth) == set(conv_names())
    g = big.lowered_graph
    constants = sum(a.nbytes for a in g.constants.values())
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + min(growth.values())
    toml = (boards_dir() / "mps2-an386.toml").read_text().replace("flash_bytes = 4194304", f"flash_bytes = {flash}")
    small = tmp_path / "small-m4.toml"
    small.write_text(toml)
    cm = _compile(vgg, tmp_path / "small", board=str(small), write=False)
    layers = {l["name"]: l for l in cm.report["layers"]}
    assert min(growth, key=growth.get) == "conv1_1" and layers["conv1_1"]["kernel"] == WINOGRAD_F4.NAME
    for name in set(growth) - {"conv1_1"}:
        assert layers[name]["kernel"] == "fn_conv2d_f32", name
        assert "would not fit small-m4's flash" in layers[name]["why"], name


def test_refusals_in_the_report(tmp_path):
    """Layers the Winograd kernels do not take name the reason: a 5x5 filter, stride 2, a
    depthwise (grouped) 3x3 layer, a dilated 3x3 layer."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    specs = [("k5", (8, 4, 5, 5), dict(pads=[2, 2, 2, 2]), "5x5 filter (3x3 only)"),
             ("s2", (8, 4, 3, 3), dict(pads=[1, 1, 1, 1], strides=[2, 2]), "stride 2x2 (1 only)"),
             ("dw", (4, 1, 3, 3), dict(pads=[1, 1, 1, 1], group=4), "4 groups (1 only)"),
             ("dil", (8, 4, 3, 3), dict(pads=[2, 2, 2, 2], dilations=[2, 2]), "dilation 2x2 (1 only)")]
    nodes, inits, outs = [], [], []
    for name, shape, attrs, _ in specs:
        inits.append(numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), f"{name}.w"))
        nodes.append(helper.make_node("Conv", ["x", f"{name}.w"], [name], name=name, **attrs))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "refusals", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 9, 9])],
                              outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    cm = _compile(model, tmp_path / "o", write=False)
    layers = {l["name"]: l for l in cm.report["layers"]}
    for name, _, _, reason in specs:
        rejected = {r["kernel"]: r["reason"] for r in layers[name]["rejected"]}
        assert rejected[WINOGRAD_F2.NAME] == rejected[WINOGRAD_F4.NAME] == reason, name


def test_forced_variants_and_the_host_build(vgg, tmp_path):
    """--kernel forces F2 or the direct kernel per layer; every mix verifies against the reference
    within firmnet verify's float tolerance, and the outputs of F2, F4 and direct agree."""
    x = _image()
    outs = {}
    for kernel in ("fn_conv2d_f32", WINOGRAD_F2.NAME, WINOGRAD_F4.NAME):
        cm = _compile(vgg, tmp_path / kernel, kernels={n: kernel for n in conv_names()})
        assert set(_kernels(cm).values()) == {kernel}
        outs[kernel] = cm.build_host().run([x])[0]
        ref = firmnet.reference.run(cm.lowered_graph, [x])[0]
        np.testing.assert_allclose(outs[kernel], ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(outs[WINOGRAD_F2.NAME], outs["fn_conv2d_f32"], rtol=0, atol=1e-5)


def test_cli_compile_verify_report(vgg, tmp_path, capsys):
    off = tmp_path / "off"
    assert main(["compile", str(vgg), "-o", str(off), "--winograd", "off"]) == 0
    report = json.loads((off / "report.json").read_text())
    assert {l["kernel"] for l in report["layers"] if l["op"] == "conv2d"} == {"fn_conv2d_f32"}
    out = tmp_path / "cli"
    assert main(["compile", str(vgg), "-o", str(out), "--board", "mps2-an386"]) == 0
    assert (out / "runtime" / "src" / "fn_conv2d_f32_winograd_f4.c").is_file()
    assert not (out / "runtime" / "src" / "fn_conv2d_f32_winograd_f2.c").exists()
    report = json.loads((out / "report.json").read_text())
    assert {l["kernel"] for l in report["layers"] if l["op"] == "conv2d"} == {WINOGRAD_F4.NAME}
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(l for l in text.splitlines() if "conv1_2:" in l)
    assert "fn_conv2d_f32_winograd_f4" in line and "Winograd F(4x4,3x3)" in line
    assert "[winograd: direct fn_conv2d_f32 est." in line and "9,216 B" in line and "36,864 B" in line


def test_sanitizers_clean(vgg, tmp_path):
    """ASan + UBSan build of the model with F2 on the first block and F4 elsewhere."""
    forced = {n: WINOGRAD_F2.NAME for n in conv_names()[:2]}
    cm = _compile(vgg, tmp_path / "o", kernels=forced)
    assert WINOGRAD_F2.NAME in _kernels(cm).values() and WINOGRAD_F4.NAME in _kernels(cm).values()
    x = _image(1)
    for s, c in zip(run_sanitized(cm, [x], tmp_path), cm.build_host().run([x])):
        np.testing.assert_allclose(s, c, rtol=0, atol=1e-5 * np.abs(c).max())


def test_vgg_on_the_emulated_m4(vgg, tmp_path):
    """Cross-compiled for mps2-an386 (arm-none-eabi-gcc -O2, FPU) and run in QEMU, F2 on the first
    block and F4 elsewhere: the host's outputs within float tolerance (the board's FPU contracts
    multiply-adds) and the reference's within firmnet verify's."""
    require_tools(BOARD_TOOLS)
    forced = {n: WINOGRAD_F2.NAME for n in conv_names()[:2]}
    cm = _compile(vgg, tmp_path / "o", board="mps2-an386", kernels=forced)
    x = _image(2)
    board = qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0]
    host = cm.build_host().run([x])[0]
    ref = firmnet.reference.run(cm.lowered_graph, [x])[0]
    np.testing.assert_allclose(board, host, rtol=0, atol=1e-5 * np.abs(host).max())
    np.testing.assert_allclose(board, ref, rtol=0, atol=1e-4 * np.abs(ref).max())
