"""fn_conv2d_s8_w16_dsp (int16 interleaved weights, rows widened once per output row, 2 output
channels x 2 pixels per SMLAD block; fn_conv2d_s8_w16_dsp.h) and the six-instruction output
stage fn_out6_s8 (fn_fixedpoint.h), byte for byte against the numpy reference:

  on the host (cffi): the kernel's own code with the portable forms of SMLAD/SXTAB16, over
      hypothesis shapes (odd widths and channel counts, in_c with and without a % 4 tail,
      pads incl. asymmetric and larger than the kernel, strides, dilations, batches), zero
      points, per-channel and per-tensor scales, every requantization mode and arbitrary
      multipliers/shifts; fn_out6_s8 against the general stage fn_output_stage_s8 and the
      reference's TFLM arithmetic over its whole domain (shifts -1..-22, multipliers 0 ..
      2^31 - 1, sums and biases up to 2^29); argument refusals;
  on the emulated Cortex-M4F (mps2-an386, QEMU): seeded cases and ResNet-8's 3x3 shapes,
      built with the DSP path (SMLAD, SMMLAR) and with -U__ARM_FEATURE_DSP.
"""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels import conv2d_s8_w16_dsp as w16
from firmnet.kernels.params_conv_s8 import conv2d_s8_params
from firmnet.reference import fixedpoint as fx
from support.compare import assert_array_equal_first
from support.qemu_harness import RUNTIME, board_case, build_firmware, firmware_main, require_tools, run_firmware
from support.s8_cases import conv_case, maybe_any_requant, random_quant
from support.s8_kernels import c_params, expected_conv

KERNEL = "fn_conv2d_s8_w16_dsp"


def geometry(rng, small: bool = False) -> dict:
    cin = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 12, 16]))
    kh, kw = (3, 3) if rng.random() < 0.4 else (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    strides = tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2))
    dilations = tuple(int(v) for v in rng.choice([1, 1, 1, 2], 2))
    pads = tuple(int(v) for v in rng.integers(0, 4 if not small else 3, 4))   # asymmetric too
    h = max(1, dilations[0] * (kh - 1) + 1 - pads[0] - pads[2] + int(rng.integers(0, 7)))
    w = max(1, dilations[1] * (kw - 1) + 1 - pads[1] - pads[3] + int(rng.integers(0, 9)))
    return dict(n=int(rng.integers(1, 3)), h=h, w=w, groups=1, cin_g=cin, cout_g=int(rng.choice([1, 2, 3, 4, 5, 8])),
                kh=kh, kw=kw, geo=dict(strides=strides, dilations=dilations, pads=pads))


def case(seed: int, small: bool = False):
    rng = np.random.default_rng(seed)
    g, q = geometry(rng, small), random_quant(rng)
    x, w, bias, kw = conv_case(g, q)
    return board_case("w16", x, w, bias, kw, maybe_any_requant(rng, q, kw, w.shape[0]))


def run_host(runtime, c, scratch_size=None):
    ffi, lib = runtime.ffi, runtime.lib
    _, x, w, bias, params, arrays, want = c
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    packed = w16.pack_filter(w)
    size = int(lib.fn_conv2d_s8_w16_dsp_scratch_size(s))
    assert int(lib.fn_conv2d_s8_w16_dsp_filter_size(s)) == packed.size
    scratch = np.full(size + 64, 0xA5, np.uint8)
    guarded = np.full(want.size + 64, 0x5A, np.int8)    # 64 bytes past the output: never written
    out = guarded[:want.size].reshape(want.shape)
    status = lib.fn_conv2d_s8_w16_dsp(s, ffi.cast("int8_t *", ffi.from_buffer(x)),
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
    assert size == w16.scratch(c[4]), "Python mirror of the scratch size"
    assert (scratch[size:] == 0xA5).all(), "wrote past its scratch"
    assert_array_equal_first(out, c[-1], f"{KERNEL} on the host: {c[4]}")


@pytest.mark.parametrize("pads,strides,dilations", [((1, 10, 0, 2), (1, 1), (1, 1)),   # 10 left: 5 edge blocks
                                                     ((0, 9, 1, 0), (1, 2), (1, 2)),
                                                     ((2, 3, 2, 3), (2, 1), (1, 1))])
def test_wide_left_padding(runtime, pads, strides, dilations):
    """More pixel pairs starting left of the image than the kernel plans ahead (W16_EDGES, 4):
    the rest are planned where they are used; the right padding columns are in the scratch."""
    rng = np.random.default_rng(sum(pads))
    x = rng.integers(-128, 128, (1, 5, 7, 5), dtype=np.int8)
    w = rng.integers(-127, 128, (3, 3, 3, 5), dtype=np.int8)
    bias = rng.integers(-3000, 3000, 3).astype(np.int32)
    kw = dict(input_scale=0.05, input_zero_point=4, weight_scales=np.array([0.01, 0.02, 0.005]), output_scale=0.3,
              output_zero_point=-6, pads=pads, strides=strides, dilations=dilations)
    c = board_case("w16", x, w, bias, kw)
    status, out, size, scratch = run_host(runtime, c)
    assert status == runtime.lib.FN_OK
    assert size == w16.scratch(c[4]) and (scratch[size:] == 0xA5).all()
    assert_array_equal_first(out, expected_conv(x, w, bias, kw), f"{KERNEL}, pads {pads}")


def test_packed_filter_layout():
    """pack_filter against the header's layout, read back element by element."""
    rng = np.random.default_rng(1)
    w = rng.integers(-128, 128, (5, 2, 3, 7), dtype=np.int8)
    p = w16.pack_filter(w)
    assert p.dtype == np.int16 and p.shape == (3, 3, 2, 2, 2, 4)
    order = (0, 2, 1, 3)
    for o in range(6):
        for ky in range(2):
            for kx in range(3):
                for i in range(8):
                    want = w[o, ky, kx, i] if o < 5 and i < 7 else 0
                    assert p[o // 2, kx, ky, i // 4, o % 2, order.index(i % 4)] == want


def test_refusals(runtime):
    """Weights with zero points, groups, a NULL or unsized scratch: FN_ERR_ARG, output untouched."""
    ffi, lib = runtime.ffi, runtime.lib
    c = case(3)
    _, x, w, bias, params, arrays, want = c
    packed = w16.pack_filter(w)
    scratch = np.zeros(w16.scratch(params) + 8, np.uint8)
    out = np.full(want.shape, 0x5A, np.int8)
    xp, wp, op = ffi.cast("int8_t *", ffi.from_buffer(x)), ffi.cast("int16_t *", ffi.from_buffer(packed)), \
        ffi.cast("int8_t *", ffi.from_buffer(out))
    b = ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias))
    sp = ffi.cast("void *", ffi.from_buffer(scratch))
    s, keep = c_params(ffi, "fn_conv2d_s8_params", params, arrays)
    assert lib.fn_conv2d_s8_w16_dsp(s, xp, wp, b, op, ffi.NULL) == lib.FN_ERR_ARG
    offsets = np.zeros(params["out_c"], np.int32)
    s.filter_offset = ffi.cast("int32_t *", ffi.from_buffer(offsets))
    assert lib.fn_conv2d_s8_w16_dsp(s, xp, wp, b, op, sp) == lib.FN_ERR_ARG
    s.filter_offset = ffi.NULL
    g, _ = conv2d_s8_params((1, 4, 4, 4), (4, 3, 3, 2), input_scale=0.1, input_zero_point=0,
                            weight_scales=np.full(4, 0.01), output_scale=0.2, output_zero_point=0, groups=2)
    s2, keep2 = c_params(ffi, "fn_conv2d_s8_params", g, {})
    assert lib.fn_conv2d_s8_w16_dsp_scratch_size(s2) == 0 == w16.scratch(g)
    assert lib.fn_conv2d_s8_w16_dsp(s2, xp, wp, b, op, sp) == lib.FN_ERR_ARG
    assert (out == 0x5A).all(), "output written before the argument check"
    del keep, keep2


# ---------------------------------------------------------------- fn_out6_s8 (host)

def _requant_block(ffi, mult, shift, zp, act=(-128, 127), mode=0):
    m = ffi.new("int32_t[1]", [mult])
    sh = ffi.new("int32_t[1]", [shift])
    rq = ffi.new("fn_requant_acc_s8 *", dict(output_offset=zp, act_min=act[0], act_max=act[1], mode=mode,
                                             per_channel=0, multiplier=m, shift=sh, scale=ffi.NULL))
    return rq, (m, sh)


LIMIT = 2**29 - 1
sums = st.one_of(st.integers(-LIMIT, LIMIT), st.integers(-2**16, 2**16), st.sampled_from([-LIMIT, -1, 0, 1, LIMIT]))


@settings(max_examples=1500, deadline=None)
@given(acc=sums, bias=st.one_of(st.just(0), st.integers(-LIMIT, LIMIT), st.sampled_from([-LIMIT, LIMIT])),
       m=st.one_of(st.integers(2**30, 2**31 - 1), st.sampled_from([0, 1, 2**30, 2**31 - 1]),
                   st.integers(0, 2**31 - 1)),
       shift=st.one_of(st.integers(-22, -1), st.sampled_from([-1, -22])), zp=st.integers(-128, 127),
       ties=st.booleans())
def test_out6_equals_the_general_stage(runtime, acc, bias, m, shift, zp, ties):
    """Over its domain, incl. exact ties of both roundings (acc a multiple of a power of two
    with m = 2^30: every output sits on a half)."""
    ffi, lib = runtime.ffi, runtime.lib
    if ties:   # SRDHM(x, 2^30) = floor((x + 1) / 2): x = 2 * (j * 2^e + 2^(e - 1)) is a tie of RDBP(., e)
        e = -shift
        m, bias, acc = 2**30, 0, 2 * (((acc >> (e + 2)) << e) + (1 << (e - 1)))
    rq, keep = _requant_block(ffi, m, shift, zp)
    o = ffi.new("fn_out6_s8 *")
    assert lib.fn_out6_s8_init(o, rq, 0, bias) == 1
    total = acc + bias
    want = lib.fn_output_stage_s8(total, 0, m, shift, 0.0, zp, -128, 127)
    got = lib.fn_out6_s8_one(acc, o)
    assert got == want, (acc, bias, m, shift, zp)
    r = fx.mul_by_quantized_mul_tflm(total, m, shift)
    assert want == max(-128, min(127, int(r) + zp))
    del keep


def test_out6_refuses_outside_its_domain(runtime):
    ffi, lib = runtime.ffi, runtime.lib
    o = ffi.new("fn_out6_s8 *")
    for mult, shift, zp, act, mode, bias in [(2**30, 0, 0, (-128, 127), 0, 0),      # a left shift
                                             (2**30, -23, 0, (-128, 127), 0, 0),    # beyond 22
                                             (2**30, -5, 0, (-127, 127), 0, 0),     # a clamp
                                             (2**30, -5, 0, (-128, 127), 1, 0),     # SINGLE
                                             (2**30, -5, 0, (-128, 127), 0, 2**29)]:  # a bias too large
        rq, keep = _requant_block(ffi, mult, shift, zp, act, mode)
        assert lib.fn_out6_s8_init(o, rq, 0, bias) == 0
        del keep
    rq, keep = _requant_block(ffi, 2**30, -5, 0)
    assert lib.fn_out6_s8_init(o, rq, 0, 2**29 - 1) == 1


# ---------------------------------------------------------------- on the board

RESNET8 = ((32, 3, 16), (32, 16, 16), (16, 32, 32), (8, 64, 64), (8, 16, 24), (7, 8, 5))


def board_cases() -> list:
    out = [case(1000 + k, small=True) for k in range(40)]
    rng = np.random.default_rng(8)
    for h, cin, cout in RESNET8:   # ResNet-8's 3x3 layers (and an odd 7x7 one), padding 1
        x = rng.integers(-128, 128, (1, h, h, cin), dtype=np.int8)
        w = rng.integers(-127, 128, (cout, 3, 3, cin), dtype=np.int8)
        bias = rng.integers(-20000, 20000, cout).astype(np.int32)
        kw = dict(input_scale=0.05, input_zero_point=-3, weight_scales=rng.uniform(0.002, 0.01, cout),
                  output_scale=0.3, output_zero_point=-128, pads=(1, 1, 1, 1), act=(-128, 127), mode="tflm")
        out.append(board_case("w16", x, w, bias, kw))
        # onnxruntime's stage (the inner loops' fn_ort_s8 pairs, VCVTR): power-of-two scales
        # put exact halves among the products, a ReLU clamp and a zero point inside the range
        ort = dict(kw, input_scale=2.0 ** -4, weight_scales=2.0 ** -rng.integers(7, 10, cout), output_scale=0.5,
                   output_zero_point=-20, act=(-20, 127), mode="ort")
        out.append(board_case("w16", x, w, bias, ort))
    return out


def mnemonics(elf, prefixes) -> set[str]:
    """Instruction mnemonics of the functions named prefix or prefix.<GCC clone suffix>."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    ops, inside = set(), False
    for line in dump.splitlines():
        head = re.match(r"^[0-9a-f]+ <([\w.]+)>:", line)
        if head:
            inside = head.group(1).split(".")[0] in prefixes
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(?:[0-9a-f]{4} ?){1,2}\s+(\S+)", line)
        if inside and m:
            ops.add(m.group(1).split(".")[0])
    return ops


def misalign(main_c: str, cases, indices) -> str:
    """main_c with the filters of the cases at indices read from an address 2 bytes past a word
    boundary (a copy made at start-up): the kernel's path for filters that are not word-aligned."""
    decls, copies = [], []
    for k in indices:
        n = w16.pack_filter(cases[k][2]).size
        decls.append(f"static uint32_t wu{k}_store[{n // 2 + 1}];\n")
        copies.append(f"    memcpy((int16_t *)(void *)wu{k}_store + 1, w{k}, sizeof w{k});\n")
        call = f"x{k}, w{k}, "
        assert main_c.count(call) == 1
        main_c = main_c.replace(call, f"x{k}, (const int16_t *)(void *)wu{k}_store + 1, ")
    main_c = main_c.replace("int main(void)\n{\n", "".join(decls) + "\nint main(void)\n{\n" + "".join(copies), 1)
    return main_c


def test_kernel_on_cortex_m4_matches_reference(tmp_path):
    require_tools()
    cases = board_cases()
    cases += cases[-2 * len(RESNET8):] + cases[:8]      # again, from filters that are not word-aligned
    unaligned = range(len(cases) - 2 * len(RESNET8) - 8, len(cases))
    for dsp in (True, False):
        work = tmp_path / ("dsp" if dsp else "portable")
        main_c = misalign(firmware_main(cases), cases, unaligned)
        elf = build_firmware(work, main_c, sources=[RUNTIME / "src" / f"{KERNEL}.c"], dsp=dsp)
        ops = mnemonics(elf, ("fn_conv2d_s8_w16_dsp", "conv_row_w4", "conv_row_w2"))
        if dsp:
            assert {"smlad", "smmlar", "sxtab16"} <= ops, f"the DSP path was not compiled in: {sorted(ops)}"
        else:
            assert not {"smlad", "smmlar"} & ops
        outs, _ = run_firmware(elf, work, len(cases))
        for k, (c, got) in enumerate(zip(cases, outs)):
            want = c[-1]
            assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want,
                                     f"case {k} ({'DSP' if dsp else 'portable'}): {c[4]}")


# ---------------------------------------------------------------- through the compiler

def _resnet(tmp_path):
    from support.mlperf_shapes import resnet8_model
    path = tmp_path / "resnet8_small.tflite"
    path.write_bytes(resnet8_model(3, input_hw=16, widths=(8, 16, 32)))
    return path


def _compile(path, out, **kw):
    import warnings

    import firmnet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="r8", **kw)


def _kernels(cm) -> dict:
    return {l["name"]: l for l in cm.report["layers"] if l["op"] == "conv2d"}


def test_model_on_the_emulated_m4_and_flash_refusal(tmp_path):
    """A small ResNet-8: with --winograd off the 3x3 layers take fn_conv2d_s8_w16_dsp on
    mps2-an386 (report: its int16 and int8 weight bytes); QEMU gives the numpy reference's bytes.
    The host build (the kernel's portable path) under ASan + UBSan gives them too. On a board whose
    flash holds the int8 weights only, no layer takes it and the report says why."""
    import firmnet
    from firmnet import qemu
    from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
    from firmnet.resources import boards_dir
    from support.qemu_harness import BOARD_TOOLS
    from support.sanitize import run_sanitized

    require_tools(BOARD_TOOLS)
    model = _resnet(tmp_path)
    cm = _compile(model, tmp_path / "m4", board="mps2-an386", winograd="off")
    layers = _kernels(cm)
    chosen = [l for l in layers.values() if l["kernel"] == KERNEL]
    assert len(chosen) >= 5, {n: l["kernel"] for n, l in layers.items()}
    g = cm.lowered_graph
    for l in chosen:
        node = next(n for n in g.nodes if n.name == l["name"])
        oc, kh, kw, ci = g.types[node.inputs[1]].shape
        assert f"int16 weights {2 * (oc + oc % 2) * kh * kw * ((ci + 3) // 4 * 4):,} B (int8 {oc * kh * kw * ci:,} B)" \
            in l["why"]
    assert (cm.out_dir / "runtime" / "src" / f"{KERNEL}.c").is_file()
    xs = [np.random.default_rng(0).integers(-128, 128, g.types[g.inputs[0]].shape).astype(np.int8)]
    want = firmnet.reference.run(g, xs)
    sanitized = run_sanitized(cm, xs, tmp_path)   # the host path under ASan + UBSan
    for b, h, z, w in zip(qemu.run(cm.out_dir, "mps2-an386", xs).outputs, cm.build_host().run_raw(xs), sanitized,
                          want):
        assert np.array_equal(b, w) and np.array_equal(h, w) and np.array_equal(z, w)
    constants = sum(a.nbytes for a in g.constants.values())
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + 64
    small = tmp_path / "small-m4.toml"
    small.write_text((boards_dir() / "mps2-an386.toml").read_text().replace("flash_bytes = 4194304",
                                                                             f"flash_bytes = {flash}"))
    tight = _compile(model, tmp_path / "tight", board=str(small), winograd="off", write=False)
    for l in _kernels(tight).values():
        assert l["kernel"] != KERNEL
        reasons = {r["kernel"]: r["reason"] for r in l["rejected"]}
        if l["name"] in {c["name"] for c in chosen}:
            assert "int16 weights would not fit small-m4's flash" in reasons[KERNEL]


SANITIZE_DRIVER = r"""
#include <stdlib.h>
#include <string.h>
#include "fn_conv2d_s8_w16_dsp.h"
/* The kernel on random geometry (kernels 1..4, strides and dilations 1..3, pads 0..4 on each
 * side, so that edge blocks, the kept window rows and the right padding columns all occur) with
 * every buffer malloc'd at its exact size (the scratch at fn_conv2d_s8_w16_dsp_scratch_size):
 * ASan flags any access past one, UBSan any overflow. */
static uint32_t state = 7;
static int32_t draw(int32_t n) { state = state * 1103515245u + 12345u; return (int32_t)((state >> 8) % (uint32_t)n); }
int main(void) {
    for (int it = 0; it < 4000; ++it) {
        fn_conv2d_s8_params p;
        memset(&p, 0, sizeof p);
        p.batch = 1 + draw(2); p.in_c = 1 + draw(9); p.out_c = 1 + draw(5); p.groups = 1;
        p.kernel_h = 1 + draw(4); p.kernel_w = 1 + draw(4);
        p.stride_h = 1 + draw(3); p.stride_w = 1 + draw(3);
        p.dilation_h = 1 + draw(3); p.dilation_w = 1 + draw(3);
        const int32_t pt = draw(5), pb = draw(5), pl = draw(5), pr = draw(5);
        p.in_h = 1 + draw(9); p.in_w = 1 + draw(12);
        const int32_t eh = p.dilation_h * (p.kernel_h - 1) + 1, ew = p.dilation_w * (p.kernel_w - 1) + 1;
        if (p.in_h + pt + pb < eh || p.in_w + pl + pr < ew) continue;
        p.out_h = (p.in_h + pt + pb - eh) / p.stride_h + 1; p.out_w = (p.in_w + pl + pr - ew) / p.stride_w + 1;
        p.pad_top = pt; p.pad_left = pl; p.input_offset = draw(256) - 127;
        int32_t mult = 1 << 30, shift = -8;
        p.requant.mode = FN_REQUANT_TFLM; p.requant.act_min = -128; p.requant.act_max = 127;
        p.requant.multiplier = &mult; p.requant.shift = &shift;
        const size_t nin = (size_t)p.batch * p.in_h * p.in_w * p.in_c;
        const size_t nout = (size_t)p.batch * p.out_h * p.out_w * p.out_c;
        const size_t nw = fn_conv2d_s8_w16_dsp_filter_size(&p);
        const size_t ns = fn_conv2d_s8_w16_dsp_scratch_size(&p);
        int8_t *x = malloc(nin), *y = malloc(nout);
        int16_t *w = malloc(nw * sizeof *w);
        int32_t *bias = malloc((size_t)p.out_c * sizeof *bias);
        void *scratch = malloc(ns);
        for (size_t i = 0; i < nin; ++i) x[i] = (int8_t)draw(256);
        for (size_t i = 0; i < nw; ++i) w[i] = (int16_t)(draw(256) - 128);
        for (int32_t i = 0; i < p.out_c; ++i) bias[i] = draw(20001) - 10000;
        if (ns == 0 || fn_conv2d_s8_w16_dsp(&p, x, w, bias, y, scratch) != FN_OK) {
            return 2;
        }
        free(x); free(y); free(w); free(bias); free(scratch);
    }
    return 0;
}
"""


def test_kernel_stays_in_its_buffers(tmp_path):
    """Exact-size buffers under ASan + UBSan (the host's portable path: the same indexing as the
    DSP build): the widened columns, the kept rows and the edge blocks never reach past the
    scratch, the input, the filter or the output."""
    from firmnet import cbuild, resources
    main = tmp_path / "driver.c"
    main.write_text(SANITIZE_DRIVER)
    src = resources.runtime_dir() / "src"
    exe = tmp_path / "driver"
    cmd = [cbuild.compiler(), "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
           "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
           f"-I{resources.runtime_include_dir()}", str(main), str(src / "fn_conv2d_s8_w16_dsp.c"),
           str(src / "fn_finish_channel_s8.c"), "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]
