"""fn_conv2d_1x1_s8_w16_dsp (int16 interleaved weights, pixel pairs widened once, 2 pixels x 4
output channels per SMLAD block; fn_conv2d_1x1_s8_w16_dsp.h), byte for byte against the numpy
reference:

  on the host (cffi): the kernel's own code with the portable forms of SMLAD/SXTAB16, over
      hypothesis shapes (odd pixel counts, batches, in_c and out_c with and without a % 4
      tail), zero points, per-channel and per-tensor scales, every requantization mode and
      arbitrary multipliers/shifts; the packed layout; argument refusals;
  on the emulated Cortex-M4F (mps2-an386, QEMU): seeded cases, KWS's and VWW's pointwise shapes,
      word-aligned and misaligned filters, built with the DSP path (its assembly inner loop, and
      its C loop under FN_NO_BLOCK_ASM) and with -U__ARM_FEATURE_DSP.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels import conv2d_1x1_s8_w16_dsp as pw
from firmnet.kernels.params_conv_s8 import conv2d_s8_params
from support.compare import assert_array_equal_first
from support.qemu_harness import (RUNTIME, board_case, build_firmware, firmware_main, kernel_mnemonics, require_tools,
                                  run_firmware)
from support.s8_cases import conv_case, maybe_any_requant, random_quant
from support.s8_kernels import c_params

KERNEL = "fn_conv2d_1x1_s8_w16_dsp"
CHANNELS = [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 24, 32, 33, 64, 67]


def case(seed: int, small: bool = False):
    rng = np.random.default_rng(seed)
    cin, cout = int(rng.choice(CHANNELS)), int(rng.choice(CHANNELS))
    if small:
        cin, cout = min(cin, 33), min(cout, 33)
    g = dict(n=int(rng.integers(1, 3)), h=int(rng.integers(1, 5)), w=int(rng.integers(1, 6)), groups=1, cin_g=cin,
             cout_g=cout, kh=1, kw=1, geo=dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0)))
    q = random_quant(rng)
    x, w, bias, kw = conv_case(g, q)
    return board_case("pw16", x, w, bias, kw, maybe_any_requant(rng, q, kw, w.shape[0]))


def run_host(runtime, c):
    ffi, lib = runtime.ffi, runtime.lib
    _, x, w, bias, params, arrays, want = c
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    packed = pw.pack_filter(w)
    size = int(lib.fn_conv2d_1x1_s8_w16_dsp_scratch_size(s))
    assert int(lib.fn_conv2d_1x1_s8_w16_dsp_filter_size(s)) == packed.size
    scratch = np.full(size + 64, 0xA5, np.uint8)
    guarded = np.full(want.size + 64, 0x5A, np.int8)    # 64 bytes past the output: never written
    out = guarded[:want.size].reshape(want.shape)
    status = lib.fn_conv2d_1x1_s8_w16_dsp(s, ffi.cast("int8_t *", ffi.from_buffer(x)),
                                          ffi.cast("int16_t *", ffi.from_buffer(packed)),
                                          ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias)),
                                          ffi.cast("int8_t *", ffi.from_buffer(out)),
                                          ffi.cast("void *", ffi.from_buffer(scratch)))
    del keep
    assert (guarded[want.size:] == 0x5A).all(), "wrote past the output"
    return status, out, size, scratch


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_kernel_on_the_host_equals_the_reference(runtime, seed):
    c = case(seed)
    status, out, size, scratch = run_host(runtime, c)
    assert status == runtime.lib.FN_OK
    assert size == pw.scratch(c[4]), "Python mirror of the scratch size"
    assert (scratch[size:] == 0xA5).all(), "wrote past its scratch"
    assert_array_equal_first(out, c[-1], f"{KERNEL} on the host: {c[4]}")


def test_packed_filter_layout():
    """pack_filter against the header's layout, read back element by element."""
    rng = np.random.default_rng(1)
    w = rng.integers(-128, 128, (5, 1, 1, 7), dtype=np.int8)
    p = pw.pack_filter(w)
    assert p.dtype == np.int16 and p.shape == (2, 2, 2, 4, 2)
    for o in range(8):
        for i in range(8):
            want = w[o, 0, 0, i] if o < 5 and i < 7 else 0
            g, r = divmod(i, 4)
            h, t = r % 2, r // 2          # i = 4g + h + 2t
            assert p[o // 4, g, h, o % 4, t] == want


def test_refusals(runtime):
    """Weights with zero points, a 3x3 filter, a stride, a NULL scratch: FN_ERR_ARG, output untouched."""
    ffi, lib = runtime.ffi, runtime.lib
    c = case(3)
    _, x, w, bias, params, arrays, want = c
    packed = pw.pack_filter(w)
    scratch = np.zeros(pw.scratch(params) + 8, np.uint8)
    out = np.full(want.shape, 0x5A, np.int8)
    xp, wp, op = ffi.cast("int8_t *", ffi.from_buffer(x)), ffi.cast("int16_t *", ffi.from_buffer(packed)), \
        ffi.cast("int8_t *", ffi.from_buffer(out))
    b = ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias))
    sp = ffi.cast("void *", ffi.from_buffer(scratch))
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    assert lib.fn_conv2d_1x1_s8_w16_dsp(s, xp, wp, b, op, ffi.NULL) == lib.FN_ERR_ARG
    offsets = np.zeros(params["out_c"], np.int32)
    s.filter_offset = ffi.cast("int32_t *", ffi.from_buffer(offsets))
    assert lib.fn_conv2d_1x1_s8_w16_dsp(s, xp, wp, b, op, sp) == lib.FN_ERR_ARG
    s.filter_offset = ffi.NULL
    s.stride_w = 2
    assert lib.fn_conv2d_1x1_s8_w16_dsp(s, xp, wp, b, op, sp) == lib.FN_ERR_ARG
    s.stride_w = 1
    g, _ = conv2d_s8_params((1, 4, 4, 4), (4, 3, 3, 4), input_scale=0.1, input_zero_point=0,
                            weight_scales=np.full(4, 0.01), output_scale=0.2, output_zero_point=0)
    s2, keep2 = c_params(ffi, "fn_conv2d_s8_params", g, {})
    assert lib.fn_conv2d_1x1_s8_w16_dsp_scratch_size(s2) == 0 == pw.scratch(g)
    assert lib.fn_conv2d_1x1_s8_w16_dsp(s2, xp, wp, b, op, sp) == lib.FN_ERR_ARG
    assert (out == 0x5A).all(), "output written before the argument check"
    del keep, keep2


# ---------------------------------------------------------------- on the board

# (pixels h x w, in_c, out_c): KWS's 1x1 layer, VWW-shaped pointwise layers (narrow ones too),
# an odd pixel count with tails on both channel counts
SHAPES = ((25, 5, 64, 64), (48, 48, 8, 16), (6, 6, 64, 128), (3, 3, 128, 128), (7, 3, 13, 10))


def board_cases() -> list:
    out = [case(2000 + k, small=True) for k in range(40)]
    rng = np.random.default_rng(9)
    for h, w_, cin, cout in SHAPES:
        x = rng.integers(-128, 128, (1, h, w_, cin), dtype=np.int8)
        w = rng.integers(-127, 128, (cout, 1, 1, cin), dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout).astype(np.int32)
        kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, cout),
                  output_scale=0.3, output_zero_point=-128, act=(-128, 127), mode="tflm")
        out.append(board_case("pw16", x, w, bias, kw))
        # onnxruntime's stage (the general stage, VCVTR): power-of-two scales put exact halves
        # among the products, a ReLU clamp and a zero point inside the range
        ort = dict(kw, input_scale=2.0 ** -4, weight_scales=2.0 ** -rng.integers(7, 10, cout), output_scale=0.5,
                   output_zero_point=-20, act=(-20, 127), mode="ort")
        out.append(board_case("pw16", x, w, bias, ort))
    return out


def misalign(main_c: str, cases, indices) -> str:
    """main_c with the filters of the cases at indices read from an address 2 bytes past a word
    boundary (a copy made at start-up): the kernel's path for filters that are not word-aligned."""
    decls, copies = [], []
    for k in indices:
        n = pw.pack_filter(cases[k][2]).size
        decls.append(f"static uint32_t wu{k}_store[{n // 2 + 1}];\n")
        copies.append(f"    memcpy((int16_t *)(void *)wu{k}_store + 1, w{k}, sizeof w{k});\n")
        call = f"x{k}, w{k}, "
        assert main_c.count(call) == 1
        main_c = main_c.replace(call, f"x{k}, (const int16_t *)(void *)wu{k}_store + 1, ")
    return main_c.replace("int main(void)\n{\n", "".join(decls) + "\nint main(void)\n{\n" + "".join(copies), 1)


def test_kernel_on_cortex_m4_matches_reference(tmp_path):
    require_tools()
    cases = board_cases()
    cases += cases[-2 * len(SHAPES):] + cases[:8]      # again, from filters that are not word-aligned
    unaligned = range(len(cases) - 2 * len(SHAPES) - 8, len(cases))
    # the DSP path with its assembly loop, with its C loop (FN_NO_BLOCK_ASM), and the portable path
    for variant in ("dsp", "dsp-c-loop", "portable"):
        dsp = variant != "portable"
        work = tmp_path / variant
        work.mkdir(parents=True)
        source = RUNTIME / "src" / f"{KERNEL}.c"
        if variant == "dsp-c-loop":
            wrapper = work / "pw16_c_loop.c"
            wrapper.write_text(f'#define FN_NO_BLOCK_ASM 1\n#include "{source}"\n')
            source = wrapper
        main_c = misalign(firmware_main(cases), cases, unaligned)
        elf = build_firmware(work, main_c, sources=[source], dsp=dsp)
        ops = set().union(*(kernel_mnemonics(elf, fn) for fn in (KERNEL, "pair_w4", "pair_w2", "pair_blocks8",
                                                                  "pair_blocks2")))
        if dsp:
            assert {"smlad", "smmlar", "sxtab16", "ldrd"} <= ops, f"the DSP path was not compiled in: {sorted(ops)}"
            assert ("smuad" in ops) == (variant == "dsp"), "the assembly loop (SMUAD) where selected only"
        else:
            assert not {"smlad", "smmlar"} & ops
        outs, _ = run_firmware(elf, work, len(cases))
        for k, (c, got) in enumerate(zip(cases, outs)):
            want = c[-1]
            assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want,
                                     f"case {k} ({variant}): {c[4]}")


# ---------------------------------------------------------------- through the compiler

def test_vww_shaped_pointwise_layers_on_the_emulated_m4(tmp_path):
    """VWW-shaped (MobileNetV1 0.25, 96x96) on mps2-an386: every pointwise layer, the narrow ones
    (8 -> 16 over 48 x 48 ...) too, takes fn_conv2d_1x1_s8_w16_dsp (measured the cheapest on all
    of them: bench/kernels_qemu.py); the report gives its int16 weight bytes; QEMU gives TFLite
    Micro's bytes. On the host the variant is refused (no DSP extension) and --kernel cannot
    force it there."""
    import firmnet
    from firmnet import qemu
    from firmnet.ir import FirmnetError
    from support.mlperf_shapes import vww_model
    from support.qemu_harness import BOARD_TOOLS
    from support.tflite_oracle import Tflm, random_inputs

    require_tools(BOARD_TOOLS)
    path = tmp_path / "vww.tflite"
    path.write_bytes(vww_model())
    cm = firmnet.compile(path, tmp_path / "m4", board="mps2-an386", name="vww")
    g = cm.lowered_graph
    pointwise = []
    for layer in cm.report["layers"]:
        node = next(n for n in g.nodes if n.name == layer["name"])
        if node.op == "conv2d" and g.types[node.inputs[1]].shape[1:3] == (1, 1) and node.attrs.groups == 1:
            pointwise.append(layer)
            oc, _, _, ci = g.types[node.inputs[1]].shape
            assert layer["kernel"] == KERNEL, (layer["name"], layer["kernel"])
            assert f"int16 weights {2 * -(-oc // 4) * 4 * -(-ci // 4) * 4:,} B (int8 {oc * ci:,} B)" in layer["why"]
    assert len(pointwise) == 13
    model = path.read_bytes()
    xs = random_inputs(model, 3, 9)
    want, = Tflm(model).run(xs)
    for k in range(3):
        got = qemu.run(cm.out_dir, "mps2-an386", [xs[0][k]]).outputs[0]
        assert np.array_equal(got.reshape(want[k].shape), want[k]), f"input {k}: {got.ravel()} != {want[k].ravel()}"
    with pytest.raises(FirmnetError, match="needs the DSP extension"):
        firmnet.compile(path, tmp_path / "host", board="host", name="vww", write=False,
                        kernels={pointwise[0]["name"]: KERNEL})


def test_flash_refusal_on_a_small_board(tmp_path):
    """A board whose flash holds the int8 weights but not the int16 ones: the 1x1 layer runs an
    int8-weight kernel and the report says why fn_conv2d_1x1_s8_w16_dsp did not run it."""
    import firmnet
    from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
    from firmnet.resources import boards_dir
    from support.tflite_models import conv2d_model

    path = tmp_path / "pw.tflite"
    path.write_bytes(conv2d_model(16, (1, 6, 6, 64), 96, (1, 1), (1, 1)))
    roomy = firmnet.compile(path, tmp_path / "roomy", board="mps2-an386", name="pw", write=False)
    layer, = [l for l in roomy.report["layers"] if l["op"] == "conv2d"]
    assert layer["kernel"] == KERNEL and "int16 weights 12,288 B (int8 6,144 B)" in layer["why"]
    g = roomy.lowered_graph
    constants = sum(a.nbytes for a in g.constants.values())
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + 64
    small = tmp_path / "small-m4.toml"
    small.write_text((boards_dir() / "mps2-an386.toml").read_text().replace("flash_bytes = 4194304",
                                                                             f"flash_bytes = {flash}"))
    tight = firmnet.compile(path, tmp_path / "tight", board=str(small), name="pw", write=False)
    layer, = [l for l in tight.report["layers"] if l["op"] == "conv2d"]
    assert layer["kernel"] == "fn_conv2d_1x1_s8_dsp"
    reasons = {r["kernel"]: r["reason"] for r in layer["rejected"]}
    assert "int16 weights would not fit small-m4's flash" in reasons[KERNEL]


def test_host_build_of_an_m4_project_under_sanitizers(tmp_path):
    """A project compiled for mps2-an386 (fn_conv2d_1x1_s8_w16_dsp on its 1x1 layer, 7 output
    channels: a partial block, 15 pixels: an odd last one) built for the host runs the kernel's
    portable path under ASan + UBSan and gives the reference's bytes."""
    import firmnet
    from support.sanitize import run_sanitized
    from support.tflite_models import conv2d_model

    path = tmp_path / "pw.tflite"
    path.write_bytes(conv2d_model(17, (1, 3, 5, 13), 7, (1, 1), (1, 1)))
    cm = firmnet.compile(path, tmp_path / "m4", board="mps2-an386", name="pw")
    assert [l["kernel"] for l in cm.report["layers"]] == [KERNEL]
    g = cm.lowered_graph
    xs = [np.random.default_rng(1).integers(-128, 128, g.types[g.inputs[0]].shape).astype(np.int8)]
    want = firmnet.reference.run(g, xs)
    got = run_sanitized(cm, xs, tmp_path)
    assert len(got) == len(want) == 1
    assert np.array_equal(np.asarray(got[0]).reshape(want[0].shape), want[0])
