"""fn_depthwise_conv2d_s8_w16_dsp (int16 doubled weights widened at compile time, two pixels per
pass, fn_s8_dsp.h) byte for byte against the numpy reference: on the host (cffi; the portable
lanes of the same loops) over hypothesis shapes (channels crossing the blocks of 4, strides,
dilation_w, asymmetric pads, zero points, per-channel and per-tensor scales, every
requantization mode, clamped ranges), in place with the rows variant's declaration, and on the
emulated Cortex-M4F (QEMU mps2-an386) built with and without __ARM_FEATURE_DSP; its scratch
formula against the C one; its refusals and its selection."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmnet
from firmnet.in_place import IN_PLACE, dw_rows_dsp_delta
from firmnet.ir import FirmnetError
from firmnet.kernels import depthwise_conv2d_s8_w16_dsp as w16dw
from firmnet.kernels.params_conv_s8 import depthwise_conv2d_s8_params
from support.compare import assert_array_equal_first
from support.qemu_harness import SOURCES, board_case, build_firmware, firmware_main, kernel_mnemonics, \
    require_tools, run_firmware
from support.s8_cases import accumulators, conv_geometry, int8_data, make_bias, make_scales, quant_cases, \
    quant_kwargs, random_quant
from support.paths import REPO
from support.s8_kernels import c_params, expected_dw

NAME = "fn_depthwise_conv2d_s8_w16_dsp"


def _ptr(ffi, ctype, a):
    return ffi.NULL if a is None else ffi.cast(ctype + " *", ffi.from_buffer(a))


def case_from(g, q):
    """(x, w, bias, kw) of a depth-multiplier-1 layer, dilation_h 1 (the variant's shapes)."""
    rng = np.random.default_rng(q["seed"])
    c = g["groups"]
    geo = dict(g["geo"], dilations=(1, g["geo"]["dilations"][1]))
    x = int8_data(rng, (g["n"], g["h"], g["w"], c), q["data"], q["zp_in"])
    w = int8_data(rng, (1, g["kh"], g["kw"], c), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(rng, q["bias"], c)
    w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
    s_in, s_w, s_out = make_scales(rng, q, accumulators(x, w_ohwi, bias, q["zp_in"], dict(g, groups=c, geo=geo)), c)
    return x, w, bias, dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))


def run_host(runtime, x, w, bias, kw, out=None, inp=None, scratch_bytes=None):
    ffi, lib = runtime.ffi, runtime.lib
    params, arrays = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    s, keep = c_params(ffi, "fn_depthwise_conv2d_s8_params", params, arrays)
    size = int(lib.fn_depthwise_conv2d_s8_w16_dsp_scratch_size(s))
    assert size == w16dw.scratch(params) > 0
    packed = np.ascontiguousarray(w16dw.pack_filter(np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]))
    scratch = np.full(size + 64, 0x33, np.uint8)
    shape = (x.shape[0], params["out_h"], params["out_w"], params["in_c"])
    y = np.full(shape, 0x5A, np.int8)
    status = lib.fn_depthwise_conv2d_s8_w16_dsp(s, inp if inp is not None else _ptr(ffi, "int8_t", x),
                                                _ptr(ffi, "int32_t", packed), _ptr(ffi, "int32_t", bias),
                                                out if out is not None else _ptr(ffi, "int8_t", y),
                                                ffi.cast("void *", ffi.from_buffer(scratch)))
    assert status == lib.FN_OK
    assert (scratch[size:] == 0x33).all(), "wrote past its scratch"
    del keep
    return y


@settings(max_examples=150, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_w16_depthwise_on_the_host_matches_reference(runtime, g, q):
    x, w, bias, kw = case_from(g, q)
    assert_array_equal_first(run_host(runtime, x, w, bias, kw), expected_dw(x, w, bias, kw), "w16 depthwise")


@settings(max_examples=300, deadline=None)
@given(kh=st.integers(0, 10), kw=st.integers(0, 10), m=st.sampled_from([1, 1, 2, 4]), dh=st.integers(1, 3),
       dw=st.integers(1, 3), sw=st.integers(1, 4), out_w=st.integers(1, 300))
def test_w16_depthwise_scratch_formula_equals_c(runtime, kh, kw, m, dh, dw, sw, out_w):
    p = dict(batch=1, in_h=4, in_w=4, in_c=4, out_h=1, out_w=out_w, depth_multiplier=m, kernel_h=kh, kernel_w=kw,
             stride_h=1, stride_w=sw, dilation_h=dh, dilation_w=dw, pad_top=0, pad_left=0, input_offset=0)
    s = runtime.ffi.new("fn_depthwise_conv2d_s8_params *", p)
    assert w16dw.scratch(p) == runtime.lib.fn_depthwise_conv2d_s8_w16_dsp_scratch_size(s)


def test_w16_depthwise_scratch_by_hand():
    p = dict(out_w=5, stride_w=1, kernel_w=3, dilation_w=1, kernel_h=3, dilation_h=1, depth_multiplier=1)
    assert w16dw.scratch(p) == 3 * 8 * 7 == 168               # KWS: 3 rows of 7 columns, 8 bytes each
    assert w16dw.scratch(dict(p, dilation_h=2)) == 0
    assert w16dw.scratch(dict(p, depth_multiplier=2)) == 0
    assert w16dw.scratch(dict(p, kernel_w=9)) == 0


def test_w16_pack_filter_by_hand():
    w = np.arange(1, 6, dtype=np.int8).reshape(5, 1, 1, 1)      # 5 channels, one tap: w[c] = c + 1
    words = w16dw.pack_filter(w).view(np.uint32).reshape(-1)
    # block 0: (2*1, 2*3), (2*2, 2*4); block 1: (2*5, 0), (0, 0)
    assert [int(v) for v in words] == [2 | 6 << 16, 4 | 8 << 16, 10, 0]
    neg = w16dw.pack_filter(np.full((1, 1, 1, 1), -128, np.int8)).view(np.uint32).reshape(-1)
    assert int(neg[0]) == 0xFF00                                 # -256 in the low halfword


def test_w16_depthwise_refuses_what_it_cannot_take(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    x = np.zeros((1, 4, 4, 4), np.int8)
    y = np.full((1, 4, 4, 4), 0x5A, np.int8)
    w = np.zeros(64, np.int32)
    scratch = np.zeros(1024, np.uint8)
    base = dict(input_scale=0.1, input_zero_point=0, weight_scales=np.full(4, 0.01), output_scale=0.1,
                output_zero_point=0, pads=(1, 1, 1, 1))
    params, arrays = depthwise_conv2d_s8_params(x.shape, (1, 3, 3, 4), **base)
    for change in (dict(), dict(depth_multiplier=2), dict(dilation_h=2), dict(kernel_h=9)):
        s, keep = c_params(ffi, "fn_depthwise_conv2d_s8_params", {**params, **change}, arrays)
        sc = ffi.NULL if not change else ffi.cast("void *", ffi.from_buffer(scratch))
        status = lib.fn_depthwise_conv2d_s8_w16_dsp(s, _ptr(ffi, "int8_t", x), _ptr(ffi, "int32_t", w), ffi.NULL,
                                                    _ptr(ffi, "int8_t", y), sc)
        assert status == lib.FN_ERR_ARG and (y == 0x5A).all(), change
        del keep


@settings(max_examples=80, deadline=None)
@given(g=conv_geometry(depthwise=True), q=quant_cases())
def test_w16_depthwise_in_place_with_the_rows_declaration(runtime, g, q):
    """in_place.py declares the rows variant's overlap for this one (output a multiple of C
    below the input, at least dw_rows_dsp_delta): the host build runs the same ring."""
    assert IN_PLACE[NAME] is IN_PLACE["fn_depthwise_conv2d_s8_rows_dsp"]
    g = dict(g, n=1)
    x, w, bias, kw = case_from(g, q)
    p, _ = depthwise_conv2d_s8_params(x.shape, w.shape, **kw)
    delta = dw_rows_dsp_delta((p["in_h"], p["in_w"]), (p["out_h"], p["out_w"]), p["in_c"],
                              (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]),
                              (p["pad_top"], p["pad_left"]), (p["dilation_h"], p["dilation_w"]))
    step = int(np.lcm(16, p["in_c"]))
    delta = -(-delta // step) * step
    shape = (1, p["out_h"], p["out_w"], p["in_c"])
    n_out = int(np.prod(shape))
    pad = 48
    end = pad + max(delta + x.nbytes, n_out)
    buf = np.full(end + pad, 0x5A, np.int8)
    buf[pad + delta:pad + delta + x.nbytes] = x.ravel()
    ffi = runtime.ffi
    base = ffi.cast("int8_t *", ffi.from_buffer(buf))
    run_host(runtime, x, w, bias, kw, out=base + pad, inp=base + pad + delta)
    assert (buf[:pad] == 0x5A).all() and (buf[end:] == 0x5A).all()
    assert_array_equal_first(buf[pad:pad + n_out].reshape(shape), expected_dw(x, w, bias, kw), "w16 dw in place")


def board_cases(seed: int, n: int) -> list:
    rng = np.random.default_rng(seed)
    fixed = [  # (h, w, c, kh, kw, strides, dilation_w, pads): 3x3 stride 1 and 2 (the assembly
        # path: pairs and a last pixel), tails of 1-3 channels, other kernels
        (25, 5, 64, 3, 3, (1, 1), 1, (1, 1, 1, 1)), (9, 9, 6, 3, 3, (2, 2), 1, (0, 0, 1, 1)),
        (7, 8, 7, 3, 3, (1, 1), 1, (1, 1, 1, 1)), (6, 7, 5, 3, 3, (2, 2), 1, (1, 1, 1, 1)),
        (9, 9, 8, 3, 3, (2, 2), 1, (0, 0, 1, 1)), (10, 11, 12, 3, 3, (2, 2), 1, (1, 1, 1, 1)),
        (6, 6, 16, 3, 3, (1, 2), 1, (1, 0, 2, 1)), (8, 4, 8, 3, 3, (2, 1), 1, (0, 1, 1, 1)),
        (5, 9, 4, 5, 3, (1, 3), 2, (2, 0, 1, 3)), (8, 6, 9, 1, 4, (2, 1), 1, (0, 2, 0, 1)),
        (3, 3, 13, 3, 3, (1, 1), 1, (1, 1, 1, 1)), (4, 11, 8, 2, 2, (1, 1), 1, (0, 0, 1, 1)),
        (1, 1, 4, 3, 3, (1, 1), 1, (1, 1, 1, 1)), (2, 2, 4, 3, 3, (2, 2), 1, (1, 1, 1, 1)),
        (13, 7, 8, 3, 3, (4, 2), 1, (1, 1, 1, 1)), (11, 9, 4, 3, 3, (3, 1), 1, (0, 1, 2, 1)),   # rows skipped
        (5, 1, 4, 3, 3, (1, 2), 1, (1, 3, 1, 0))]     # the one window in the padding: no input column
    n_fixed = len(fixed)
    for _ in range(n):
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        dwl = int(rng.integers(1, 3))
        pads = tuple(int(v) for v in rng.integers(0, 3, 4))
        fixed.append((max(1, kh - pads[0] - pads[2] + int(rng.integers(0, 6))),
                      max(1, dwl * (kw - 1) + 1 - pads[1] - pads[3] + int(rng.integers(0, 6))),
                      int(rng.choice([1, 2, 3, 4, 5, 8, 9, 12])), kh, kw,
                      (int(rng.integers(1, 3)), int(rng.integers(1, 4))), dwl, pads))
    cases = []
    for h, w_, c, kh, kw, strides, dwl, pads in fixed:
        q = random_quant(rng)
        if len(cases) < n_fixed or len(cases) % 2 == 0:     # the fn_out6_s8 path: TFLM, full range
            q = dict(q, mode="tflm", act=(-128, 127), regime="natural")
        geo = dict(strides=strides, dilations=(1, dwl), pads=pads)
        crng = np.random.default_rng(q["seed"])
        x = int8_data(crng, (1, h, w_, c), q["data"], q["zp_in"])
        w = int8_data(crng, (1, kh, kw, c), "uniform")
        bias = make_bias(crng, q["bias"], c)
        w_ohwi = np.ascontiguousarray(w[0].transpose(2, 0, 1))[..., None]
        acc = accumulators(x, w_ohwi, bias, q["zp_in"], dict(groups=c, geo=geo))
        s_in, s_w, s_out = make_scales(crng, q, acc, c)
        case = board_case("dw", x, w, bias, dict(**geo, **quant_kwargs(q, s_in, s_w, s_out)))
        cases.append(("dw_w16_dsp", *case[1:]))
    return cases


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_w16_depthwise_on_cortex_m4_matches_reference(tmp_path, dsp):
    require_tools()
    cases = board_cases(16, 24)
    elf = build_firmware(tmp_path, firmware_main(cases), sources=SOURCES, dsp=dsp)
    ops = set()
    for fn in (NAME, "w16_row_3x3_s1", "w16_row_3x3_s2", "w16_row_taps"):
        ops |= kernel_mnemonics(elf, fn)
    # the portable lanes may compile to SMLABB too (GCC sees 16 x 16 products), never to SXTAB16
    assert ("sxtab16" in ops) == dsp and ("smlabb" in ops or not dsp)
    outs, _ = run_firmware(elf, tmp_path, len(cases))
    for k, (case, got) in enumerate(zip(cases, outs)):
        want = case[-1]
        assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want,
                                 f"case {k}: x{case[1].shape} w{case[2].shape} ({'DSP' if dsp else 'portable'})")


# ---------------------------------------------------------------- selection and whole models

def _compile(tmp_path, model: bytes, board: str, **kw):
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    return firmnet.compile(path, tmp_path / board, board=board, name="m", write=False, **kw)


def test_w16_depthwise_selection(tmp_path):
    """A 3x3 TFLite depthwise layer (TFLM requantization, full int8 range) takes the variant on
    mps2-an386 (its estimate below the rows variant's), the portable kernel on the host, where
    forcing it fails on the DSP extension; dilation_h 2 and multiplier 2 are refused by name."""
    from support.tflite_models import depthwise_model
    model = depthwise_model(3, (1, 12, 12, 16), 1, (3, 3), (1, 1), (1, 1), "SAME")
    layer = _compile(tmp_path, model, "mps2-an386").report["layers"][0]
    assert layer["kernel"] == NAME
    assert layer["why"].startswith("depthwise, multiplier 1, int16 weights 288 B (int8 144 B), DSP")
    rows = next(r for r in layer["rejected"] if r["kernel"] == "fn_depthwise_conv2d_s8_rows_dsp")
    assert rows["runs"] and rows["reason"].startswith("est.")
    assert _compile(tmp_path, model, "host").report["layers"][0]["kernel"] == "fn_depthwise_conv2d_s8"
    with pytest.raises(FirmnetError, match="needs the DSP extension"):
        _compile(tmp_path, model, "host", kernels={layer["name"]: NAME})
    for kw, reason in (((1, (2, 1)), "dilation_h 2 (1 only)"), ((2, (1, 1)), "depth multiplier 2 (1 only)")):
        m = depthwise_model(3, (1, 12, 12, 8), kw[0], (3, 3), (1, 1), kw[1], "SAME")
        lay = _compile(tmp_path, m, "mps2-an386").report["layers"][0]
        assert lay["kernel"] != NAME
        assert {r["kernel"]: r["reason"] for r in lay["rejected"]}[NAME] == reason


@pytest.mark.parametrize("name", ["kws", "vww"])
def test_kws_and_vww_shaped_on_mps2_give_tflm_bytes(tmp_path, name):
    """KWS and the VWW-shaped model on mps2-an386 (QEMU, in place on), whose depthwise layers
    take this variant, give TensorFlow Lite Micro's bytes."""
    from firmnet import qemu
    from support.mlperf_shapes import vww_model
    from support.tflite_oracle import Tflm, random_inputs
    model = (REPO.parent / "shared" / "models" / "kws_ref_model.tflite").read_bytes() if name == "kws" else vww_model()
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    cm = firmnet.compile(path, tmp_path / "out", board="mps2-an386", name=name)
    assert NAME in {layer["kernel"] for layer in cm.report["layers"]}
    xs = random_inputs(model, 2, 7)
    want = Tflm(model).run(xs)[0]
    for k, x in enumerate(xs[0]):
        got = qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0]
        assert_array_equal_first(np.asarray(got).reshape(want[k].shape), want[k], f"{name} input {k}")
