"""The int8 MVE (Helium) variants (runtime_c/include/fn_s8_mve.h: fn_conv2d_1x1_s8_mve,
fn_fc_s8_mve, fn_conv2d_s8_mve, fn_depthwise_conv2d_s8_mve), byte for byte:

  on the emulated Cortex-M55 (QEMU mps3-an547, arm-none-eabi-gcc -mcpu=cortex-m55 -O2
      -Werror): hypothesis layers (shapes, strides, pads, dilations, zero points, scales,
      every requantization mode, clamped activations, arbitrary multipliers and shifts, odd
      channel counts and depths across the 16-byte vectors) against the numpy reference,
      each beside its portable kernel on the same CPU, in one firmware built once per
      session (tests/support/mve_harness.py: the cases go in by semihosting);
  whole models on mps3-an547: KWS and AD01 compiled with the MVE kernels against TFLM's
      bytes;
  on the host (cffi): the variants without MVE are their portable kernels after their own
      checks; the scratch formulas of kernels/_s8_mve.py equal the C size functions;
  the selection: MVE variants on mps3-an547 only.

Instruction counts: python bench/mve.py. Tests never assert timing."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmnet
from firmnet import qemu
from firmnet.kernels import _s8_mve
from firmnet.kernels.params_conv_s8 import pack_depthwise_filter
from support import mve_harness as mh
from support.paths import REPO
from support.qemu_harness import BOARD_TOOLS, board_case, require_tools
from support.s8_cases import (accumulators, int8_data, make_bias, make_scales, quant_cases, quant_kwargs,
                              random_requant_arrays)
from support.s8_kernels import c_params

SHARED = REPO.parent / "shared" / "models"
MVE_KINDS = {"1x1": ("1x1_mve", "1x1"), "conv": ("conv_mve", "conv"), "dw": ("dw_mve", "dw"),
             "fc": ("fc_mve", "fc")}
SETTINGS = dict(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="session")
def m55(tmp_path_factory):
    """The test firmware for mps3-an547, built once per session: (elf, work folder)."""
    require_tools()
    work = tmp_path_factory.mktemp("mve-firmware")
    return mh.build(work), work


def run_case(m55, case) -> None:
    """A board_case through its MVE variant and its portable kernel on the Cortex-M55: both
    return FN_OK and equal the reference."""
    kind, x, w, bias, params, arrays, want = case
    packed = pack_depthwise_filter(w) if kind == "dw" else w
    kinds = MVE_KINDS[kind]
    results = mh.run(*m55, [mh.encode(k, params, arrays, x, packed, bias, want.size) for k in kinds])
    for k, (status, out, _) in zip(kinds, results):
        assert status == 0, f"{k}: status {status}"
        got = np.frombuffer(out, np.int8).reshape(want.shape)
        assert np.array_equal(got, want), f"{k}: {int((got != want).sum())} of {want.size} outputs differ"


def _requant(draw_rng, q, kw, n):
    """One case in four: arbitrary valid multipliers and shifts (left shifts included)."""
    if draw_rng.random() < 0.25:
        return random_requant_arrays(draw_rng, q["mode"], n if q["per_channel"] else 1)
    return None


@st.composite
def conv_cases(draw, pointwise: bool):
    q = draw(quant_cases())
    rng = np.random.default_rng(q["seed"])
    cin = draw(st.one_of(st.integers(1, 20), st.sampled_from([16, 32, 33, 64])))
    cout = draw(st.integers(1, 13))
    if pointwise:
        kh = kw = 1
        geo = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))
        h, w_ = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    else:
        kh, kw = draw(st.sampled_from([(1, 1), (3, 3), (10, 4), (2, 5)])) if draw(st.booleans()) else (
            draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        geo = dict(strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                   dilations=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
                   pads=tuple(draw(st.integers(0, 3)) for _ in range(4)))
        h = max(1, geo["dilations"][0] * (kh - 1) + 1 - geo["pads"][0] - geo["pads"][2] + draw(st.integers(0, 4)))
        w_ = max(1, geo["dilations"][1] * (kw - 1) + 1 - geo["pads"][1] - geo["pads"][3] + draw(st.integers(0, 4)))
        if kh * kw * cin > _s8_mve.FN_CONV_MVE_DEPTH:
            cin = 1
    x = int8_data(rng, (draw(st.integers(1, 2)), h, w_, cin), q["data"], q["zp_in"])
    w = int8_data(rng, (cout, kh, kw, cin), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], cout)
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w, bias, q["zp_in"], dict(groups=1, geo=geo)), cout)
    kwargs = dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))
    return board_case("1x1" if pointwise else "conv", x, w, bias, kwargs, _requant(rng, q, kwargs, cout))


@st.composite
def dw_cases(draw):
    q = draw(quant_cases())
    rng = np.random.default_rng(q["seed"])
    c = draw(st.one_of(st.integers(1, 9), st.sampled_from([16, 21, 64])))
    kh, kw = (3, 3) if draw(st.booleans()) else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    geo = dict(strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
               dilations=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               pads=tuple(draw(st.integers(0, 3)) for _ in range(4)))
    h = max(1, geo["dilations"][0] * (kh - 1) + 1 - geo["pads"][0] - geo["pads"][2] + draw(st.integers(0, 6)))
    w_ = max(1, geo["dilations"][1] * (kw - 1) + 1 - geo["pads"][1] - geo["pads"][3] + draw(st.integers(0, 6)))
    x = int8_data(rng, (draw(st.integers(1, 2)), h, w_, c), q["data"], q["zp_in"])
    w = int8_data(rng, (1, kh, kw, c), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], c)
    w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w_ohwi, bias, q["zp_in"], dict(groups=c, geo=geo)), c)
    kwargs = dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))
    return board_case("dw", x, w, bias, kwargs, _requant(rng, q, kwargs, c))


@st.composite
def fc_cases(draw):
    q = draw(quant_cases())
    rng = np.random.default_rng(q["seed"])
    k = draw(st.one_of(st.integers(1, 40), st.sampled_from([16, 64, 100, 640])))
    n = draw(st.one_of(st.integers(1, 13), st.sampled_from([16, 33, 128])))
    x = int8_data(rng, (draw(st.integers(1, 3)), k), q["data"], q["zp_in"])
    w = int8_data(rng, (n, k), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], n)
    acc = accumulators(x[:, None, None, :], w[:, None, None, :], bias, q["zp_in"],
                       dict(groups=1, geo=dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))))
    s_in, s_w, s_out = make_scales(rng, q, acc, n)
    kwargs = quant_kwargs(q, s_in, s_w, s_out)
    return board_case("fc", x, w, bias, kwargs, _requant(rng, q, kwargs, n))


@settings(**SETTINGS)
@given(case=conv_cases(pointwise=True))
def test_pointwise_mve_on_cortex_m55_matches_reference(m55, case):
    run_case(m55, case)


@settings(**SETTINGS)
@given(case=conv_cases(pointwise=False))
def test_conv_mve_on_cortex_m55_matches_reference(m55, case):
    run_case(m55, case)


@settings(**SETTINGS)
@given(case=dw_cases())
def test_depthwise_mve_on_cortex_m55_matches_reference(m55, case):
    run_case(m55, case)


@settings(**SETTINGS)
@given(case=fc_cases())
def test_fully_connected_mve_on_cortex_m55_matches_reference(m55, case):
    run_case(m55, case)


def test_kws_shaped_layers_on_cortex_m55(m55):
    """KWS's layer shapes (the ones bench/mve.py measures), in every requantization mode."""
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 25, 5, 64), dtype=np.int8)
    x1 = rng.integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    for mode in ("tflm", "single", "ort"):
        kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, 64),
                  output_scale=0.3, output_zero_point=-128, act=(-128, 127), mode=mode)
        bias = rng.integers(-20000, 20000, 64).astype(np.int32)
        run_case(m55, board_case("1x1", x, rng.integers(-128, 128, (64, 1, 1, 64), dtype=np.int8), bias, kw))
        run_case(m55, board_case("conv", x1, rng.integers(-128, 128, (64, 10, 4, 1), dtype=np.int8), bias,
                                 dict(kw, strides=(2, 2), pads=(4, 1, 5, 2))))
        run_case(m55, board_case("dw", x, rng.integers(-128, 128, (1, 3, 3, 64), dtype=np.int8), bias,
                                 dict(kw, pads=(1, 1, 1, 1))))


def test_variants_refuse_what_they_do_not_take(m55):
    """A grouped conv (fn_conv2d_s8_mve: groups 1 only) and a depth multiplier of 2
    (fn_depthwise_conv2d_s8_mve: 1 only) have scratch size 0; the firmware then does not
    call them (status 101), and on the host the call returns FN_ERR_ARG (below)."""
    rng = np.random.default_rng(1)
    kw = dict(input_scale=0.05, input_zero_point=0, weight_scales=0.01, output_scale=0.3, output_zero_point=0)
    case = board_case("conv", rng.integers(-128, 128, (1, 4, 4, 4), dtype=np.int8),
                      rng.integers(-128, 128, (4, 3, 3, 2), dtype=np.int8), None, dict(kw, groups=2, pads=(1, 1, 1, 1)))
    _, x, w, bias, params, arrays, want = case
    (status, _, _), = mh.run(*m55, [mh.encode("conv_mve", params, arrays, x, w, bias, want.size)])
    assert status == 101


# ----------------------------------------------------------------------------- host


def test_mve_variants_on_the_host_are_their_portable_kernels(runtime):
    """Without MVE (the host), each variant checks its arguments, then runs the portable
    kernel: the same bytes; a NULL scratch or a shape it does not take is FN_ERR_ARG."""
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 5, 4, 24), dtype=np.int8)
    kw = dict(input_scale=0.05, input_zero_point=5, weight_scales=rng.uniform(0.002, 0.01, 7), output_scale=0.3,
              output_zero_point=-3)
    bias = rng.integers(-2000, 2000, 7).astype(np.int32)
    scratch = np.zeros(1 << 16, np.uint64)
    sp = ffi.cast("void *", ffi.from_buffer(scratch))
    for kind, fn, w, extra in (("1x1", "fn_conv2d_1x1_s8_mve", rng.integers(-128, 128, (7, 1, 1, 24), dtype=np.int8), {}),
                               ("conv", "fn_conv2d_s8_mve", rng.integers(-128, 128, (7, 3, 2, 24), dtype=np.int8),
                                dict(pads=(1, 0, 1, 1), strides=(2, 1)))):
        _, x_, w_, b_, params, arrays, want = board_case(kind, x, w, bias, dict(kw, **extra))
        p, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
        out = np.full(want.shape, 0x5A, np.int8)
        args = [ffi.cast("int8_t *", ffi.from_buffer(a)) for a in (x_, w_)]
        b = ffi.cast("int32_t *", ffi.from_buffer(b_))
        o = ffi.cast("int8_t *", ffi.from_buffer(out))
        assert getattr(lib, fn)(p, *args, b, o, ffi.NULL) == lib.FN_ERR_ARG
        assert getattr(lib, fn)(p, *args, b, o, sp) == lib.FN_OK
        assert np.array_equal(out, want), fn
    wd = rng.integers(-128, 128, (1, 3, 3, 24), dtype=np.int8)
    _, x_, w_, b_, params, arrays, want = board_case("dw", x, wd, rng.integers(-99, 99, 24).astype(np.int32),
                                                      dict(kw, weight_scales=0.01, pads=(1, 1, 1, 1)))
    p, keep = c_params(ffi, "fn_depthwise_conv2d_s8_params", params, arrays)
    out = np.full(want.shape, 0x5A, np.int8)
    packed = pack_depthwise_filter(w_)
    call = (p, ffi.cast("int8_t *", ffi.from_buffer(x_)), ffi.cast("int8_t *", ffi.from_buffer(packed)),
            ffi.cast("int32_t *", ffi.from_buffer(b_)), ffi.cast("int8_t *", ffi.from_buffer(out)))
    assert lib.fn_depthwise_conv2d_s8_mve(*call, ffi.NULL) == lib.FN_ERR_ARG
    assert lib.fn_depthwise_conv2d_s8_mve(*call, sp) == lib.FN_OK
    assert np.array_equal(out, want)
    p.depth_multiplier = 2
    assert lib.fn_depthwise_conv2d_s8_mve(*call, sp) == lib.FN_ERR_ARG
    xf = rng.integers(-128, 128, (2, 37), dtype=np.int8)
    _, x_, w_, b_, params, arrays, want = board_case("fc", xf, rng.integers(-128, 128, (6, 37), dtype=np.int8),
                                                      bias[:6], dict(kw, weight_scales=0.004))
    p, keep = c_params(ffi, "fn_fc_s8_params", params, arrays)
    out = np.full(want.shape, 0x5A, np.int8)
    assert lib.fn_fc_s8_mve(p, *(ffi.cast("int8_t *", ffi.from_buffer(a)) for a in (x_, w_)),
                            ffi.cast("int32_t *", ffi.from_buffer(b_)), ffi.cast("int8_t *", ffi.from_buffer(out))) == lib.FN_OK
    assert np.array_equal(out, want)


small = st.integers(1, 12)
sizes = st.one_of(small, st.integers(1, 300), st.sampled_from([0, -1, 2**31 - 1, 2**20, 2**20 + 1]))


@settings(max_examples=300, deadline=None)
@given(p=st.fixed_dictionaries(dict(batch=st.just(1), in_h=small, in_w=small, in_c=sizes, out_h=small, out_w=sizes,
                                    out_c=sizes, kernel_h=sizes, kernel_w=sizes, stride_h=small, stride_w=small,
                                    dilation_h=small, dilation_w=small, pad_top=st.integers(0, 3),
                                    pad_left=st.integers(0, 3), groups=st.sampled_from([1, 1, 2]))))
def test_conv_scratch_formulas_equal_the_c(runtime, p):
    def c(fn):
        return int(getattr(runtime.lib, fn)(runtime.ffi.new("fn_conv2d_s8_params *", p)))
    assert _s8_mve.conv2d_1x1_scratch(p) == c("fn_conv2d_1x1_s8_mve_scratch_size")
    assert _s8_mve.conv2d_scratch(p) == c("fn_conv2d_s8_mve_scratch_size")


@settings(max_examples=300, deadline=None)
@given(p=st.fixed_dictionaries(dict(batch=st.just(1), in_h=sizes, in_w=sizes, in_c=sizes, out_h=sizes, out_w=sizes,
                                    depth_multiplier=st.sampled_from([1, 1, 1, 2, 0]), kernel_h=st.integers(0, 10),
                                    kernel_w=st.integers(0, 10), stride_h=sizes, stride_w=small,
                                    dilation_h=small, dilation_w=st.one_of(small, st.just(2**30)),
                                    pad_top=st.integers(0, 3), pad_left=st.integers(0, 3))))
def test_depthwise_scratch_formula_equals_the_c(runtime, p):
    c = runtime.lib.fn_depthwise_conv2d_s8_mve_scratch_size(runtime.ffi.new("fn_depthwise_conv2d_s8_params *", p))
    assert _s8_mve.dw_scratch(p) == int(c)


def test_kws_layers_scratch():
    """Hand-computed from fn_s8_mve.h: 64 channels' table is 64 * 20 bytes; the depthwise
    3x3 over 25 x 5 x 64 with padding 1 pads the image to 27 x 7 x 64 and has 16 groups of 8
    pixels (32 bytes of offsets each); the first conv's window is 10 * 4 bytes."""
    assert _s8_mve.conv2d_1x1_scratch(dict(out_c=64)) == 1280
    dw = dict(in_h=25, in_w=5, in_c=64, out_h=25, out_w=5, depth_multiplier=1, kernel_h=3, kernel_w=3, stride_h=1,
              stride_w=1, dilation_h=1, dilation_w=1, pad_top=1, pad_left=1)
    assert _s8_mve.dw_scratch(dw) == 1280 + 27 * 7 * 64 + 32 * 16
    assert _s8_mve.conv2d_scratch(dict(kernel_h=10, kernel_w=4, in_c=1, out_c=64, groups=1)) == 1280 + 40


# ----------------------------------------------------------------------------- models


@pytest.mark.parametrize("model", ["kws_ref_model", "ad01_int8"])
def test_mlperf_models_on_mps3_an547_equal_tflm(model, tmp_path):
    """The model compiled for mps3-an547 (its conv, depthwise, 1x1 and FC layers on the MVE
    variants, KWS's FC on fn_fc_s8_w16_dsp) runs in QEMU to TFLM's output bytes, on three inputs."""
    from support.tflite_oracle import run_tflm
    require_tools(BOARD_TOOLS)
    path = SHARED / f"{model}.tflite"
    cm = firmnet.compile(path, tmp_path / "p", board="mps3-an547", name="m", requant="tflm")
    kernels = {layer["kernel"] for layer in cm.report["layers"]}
    if model == "kws_ref_model":   # its 64 -> 12 FC takes fn_fc_s8_w16_dsp (estimated, and measured, cheaper)
        assert {"fn_conv2d_s8_mve", "fn_depthwise_conv2d_s8_mve", "fn_conv2d_1x1_s8_mve",
                "fn_fc_s8_w16_dsp"} <= kernels
    else:
        assert {"fn_fc_s8_mve"} <= kernels
    meta = json.loads((cm.out_dir / "report.json").read_text())
    shape, dtype = meta["inputs"][0]["shape"], np.dtype(meta["inputs"][0]["dtype"])
    rng = np.random.default_rng(5)
    n = int(np.prod(shape))
    inputs = [((np.arange(n) * 7 + 3) % 256 - 128).astype(dtype).reshape(shape)]
    inputs += [rng.integers(-128, 128, shape).astype(dtype) for _ in range(2)]
    want = run_tflm(path.read_bytes(), np.stack([x.reshape(shape) for x in inputs]))[0]
    elf = qemu.build(cm.out_dir, "mps3-an547", werror=True)
    for k, x in enumerate(inputs):
        got = qemu.run_elf(elf, "mps3-an547", meta, [x]).outputs[0]
        assert got.tobytes() == want[k].reshape(got.shape).tobytes(), f"{model} input {k}"


@pytest.mark.parametrize("kind,shape_a,shape_b,seed", [
    ("ADD", (1, 16, 16, 32), (1, 16, 16, 32), 3),        # the vector path, 4 elements per vector
    ("SUB", (1, 3, 5, 7), (1, 3, 5, 7), 11),             # 105 elements: a predicated last vector
    ("ADD", (1, 4, 4, 8), (1, 1, 1, 8), 5),              # broadcasting: fn_add_s8 inside the variant
])
def test_add_sub_on_mps3_an547_equal_tflm(kind, shape_a, shape_b, seed, tmp_path):
    """An int8 Add or Sub model (support.tflite_models.binary_model) compiled for mps3-an547
    runs its layer on fn_add_s8_mve and gives TFLM's bytes on two random inputs."""
    from support.tflite_models import binary_model
    from support.tflite_oracle import run_tflm
    require_tools(BOARD_TOOLS)
    model = binary_model(seed, kind, shape_a=shape_a, shape_b=shape_b)
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    cm = firmnet.compile(path, tmp_path / "p", board="mps3-an547", name="m", requant="tflm")
    assert [layer["kernel"] for layer in cm.report["layers"]] == ["fn_add_s8_mve"]
    meta = json.loads((cm.out_dir / "report.json").read_text())
    elf = qemu.build(cm.out_dir, "mps3-an547", werror=True)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        xs = [rng.integers(-128, 128, i["shape"]).astype(np.int8) for i in meta["inputs"]]
        want = run_tflm(model, [x.reshape(1, *x.shape) for x in xs])[0]
        got = qemu.run_elf(elf, "mps3-an547", meta, xs).outputs[0]
        assert got.tobytes() == want.reshape(got.shape).tobytes()


def test_selection_takes_mve_only_on_mve_boards(tmp_path):
    """KWS on mps3-an547 runs every conv, depthwise, 1x1 and FC layer on an MVE variant; on
    mps2-an386 the MVE candidates are refused with the reason."""
    path = SHARED / "kws_ref_model.tflite"
    m55 = firmnet.compile(path, tmp_path / "a", board="mps3-an547", name="m", write=False)
    m4 = firmnet.compile(path, tmp_path / "b", board="mps2-an386", name="m", write=False)
    for layer in m55.report["layers"]:
        if layer["op"] == "conv2d":
            assert layer["kernel"].endswith("_mve"), layer
        elif layer["op"] == "dense":   # or the int16-weight DSP FC where its estimate is lower: KWS's
            # 64 -> 12 layer, measured 1,093 instructions against fn_fc_s8_mve's 1,250 on mps3-an547
            assert layer["kernel"].endswith("_mve") or layer["kernel"] == "fn_fc_s8_w16_dsp", layer
    for layer in m4.report["layers"]:
        assert not layer["kernel"].endswith("_mve")
    text = json.dumps(m4.report)
    assert "needs MVE (Helium) (mps2-an386 has none)" in text


@pytest.mark.parametrize("in_shape,multiplier,reason", [
    ((1, 9, 9, 3), 2, "depth multiplier 2 (1 only)"),
    ((1, 96, 96, 8), 1, "padded image of 76,832 bytes (at most 65,536)"),
])
def test_depthwise_mve_refusals(in_shape, multiplier, reason, tmp_path):
    """On mps3-an547 the depthwise MVE variant refuses a depth multiplier other than 1 and a
    padded image over 64 KB (98 x 98 x 8 bytes here), with the reason in the report; another
    kernel runs the layer."""
    from support.tflite_models import depthwise_model
    path = tmp_path / "dw.tflite"
    path.write_bytes(depthwise_model(1, in_shape=in_shape, multiplier=multiplier, padding="SAME"))
    cm = firmnet.compile(path, tmp_path / "p", board="mps3-an547", name="m", write=False)
    layer, = [layer for layer in cm.report["layers"] if layer["op"] == "conv2d"]
    assert layer["kernel"] != "fn_depthwise_conv2d_s8_mve"
    reasons = {r["kernel"]: r["reason"] for r in layer["rejected"]}
    assert reasons["fn_depthwise_conv2d_s8_mve"] == reason

