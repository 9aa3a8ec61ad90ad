"""fn_fc_s8_w16_dsp (int16 interleaved weights with a per-channel fn_out6_s8 table, 4 output
channels per SMLAD block, the row widened into the scratch or read directly; fn_fc_s8_w16_dsp.h),
byte for byte against the numpy reference:

  on the host (cffi): the kernel's own code with the portable forms of SMLAD/SXTAB16, over
      hypothesis shapes (in/out sizes with and without a % 4 tail, batches), zero points,
      per-channel and per-tensor scales, every requantization mode and arbitrary
      multipliers/shifts, in both modes (scratch / NULL) and with the table emptied (the
      general stage); the table against C's fn_out6_s8_init; argument refusals;
  on the emulated Cortex-M4F (mps2-an386, QEMU): seeded cases and AD01's shapes in both modes,
      from word-aligned and misaligned weights, built with the DSP path and with
      -U__ARM_FEATURE_DSP;
  through the compiler: AD01 on mps2-an386 takes it for every layer (report: its int16 and int8
      weight bytes), keeps its 768-byte arena, and gives TFLM's bytes; a board whose flash holds
      the int8 weights only refuses it.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmnet.kernels import fc_s8_w16_dsp as fw
from firmnet.kernels.params_conv_s8 import fc_s8_params
from support.compare import assert_array_equal_first
from support.qemu_harness import (RUNTIME, board_case, build_firmware, firmware_main, kernel_mnemonics,
                                  require_tools, run_firmware)
from support.s8_cases import int8_data, make_bias, make_scales, maybe_any_requant, quant_kwargs, random_quant, wrap32
from support.s8_kernels import c_params

KERNEL = "fn_fc_s8_w16_dsp"


def fc_case(seed: int, kind: str = "fc_w16", k_in=None, m=None, batch=None):
    rng = np.random.default_rng(seed)
    q = random_quant(rng)
    batch = batch or int(rng.integers(1, 4))
    k_in = k_in or int(rng.choice([int(rng.integers(1, 20)), int(rng.integers(20, 150)), 640]))
    m = m or int(rng.choice([int(rng.integers(1, 14)), 16, 33]))
    crng = np.random.default_rng(q["seed"])
    x = int8_data(crng, (batch, k_in), q["data"], q["zp_in"])
    w = int8_data(crng, (m, k_in), "extremes" if q["data"] == "extremes" else "uniform")
    bias = make_bias(crng, q["bias"], m)
    acc = wrap32((x.astype(np.int64) - q["zp_in"]) @ w.astype(np.int64).T + (0 if bias is None else bias))
    s_in, s_w, s_out = make_scales(crng, q, acc, m)
    kw = quant_kwargs(q, s_in, s_w, s_out)
    return board_case(kind, x, w, bias, kw, maybe_any_requant(crng, q, kw, m))


def run_host(runtime, c, widened: bool, table: bool = True):
    ffi, lib = runtime.ffi, runtime.lib
    _, x, w, bias, params, arrays, want = c
    s, keep = c_params(ffi, "fn_fc_s8_params", params, arrays)
    packed = fw.pack(w, fw.out6_table(params, arrays, bias) if table else None)
    assert int(lib.fn_fc_s8_w16_dsp_weights_size(s)) == packed.size
    size = int(lib.fn_fc_s8_w16_dsp_scratch_size(s))
    scratch = np.full(size + 64, 0xA5, np.uint8)
    guarded = np.full(want.size + 64, 0x5A, np.int8)    # 64 bytes past the output: never written
    out = guarded[:want.size].reshape(want.shape)
    status = lib.fn_fc_s8_w16_dsp(s, ffi.cast("int8_t *", ffi.from_buffer(x)),
                                  ffi.cast("int16_t *", ffi.from_buffer(packed)),
                                  ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias)),
                                  ffi.cast("int8_t *", ffi.from_buffer(out)),
                                  ffi.cast("void *", ffi.from_buffer(scratch)) if widened else ffi.NULL)
    del keep
    assert (guarded[want.size:] == 0x5A).all(), "wrote past the output"
    assert (scratch[size:] == 0xA5).all(), "wrote past its scratch"
    return status, out, size


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), widened=st.booleans(), table=st.sampled_from([True, True, False]))
def test_kernel_on_the_host_equals_the_reference(runtime, seed, widened, table):
    c = fc_case(seed)
    status, out, size = run_host(runtime, c, widened, table)
    assert status == runtime.lib.FN_OK
    assert size == fw.scratch(c[4]), "Python mirror of the scratch size"
    assert_array_equal_first(out, c[-1], f"{KERNEL} on the host ({'widened' if widened else 'direct'}, "
                                         f"table {table}): {c[4]}")


def test_packed_layout():
    """pack against the header's layout, read back element by element."""
    rng = np.random.default_rng(1)
    w = rng.integers(-128, 128, (6, 7), dtype=np.int8)
    table = rng.integers(-2**31, 2**31, (6, 4), dtype=np.int64).astype(np.int32)
    p = fw.pack(w, table)
    assert p.dtype == np.int16 and p.size == 2 * (4 * 8 + 32)
    blocks = p.reshape(2, 64)
    order = (0, 2, 1, 3)
    for o in range(8):
        for i in range(8):
            want = w[o, i] if o < 6 and i < 7 else 0
            assert blocks[o // 4, (i // 4) * 16 + (o % 4) * 4 + order.index(i % 4)] == want
        words = blocks[o // 4, 32:].view(np.int32).reshape(4, 4)[o % 4]
        assert (words == (table[o] if o < 6 else 0)).all()


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_table_equals_c_out6_init(runtime, seed):
    """out6_table's rows are fn_out6_s8_init's values, and None exactly where the C refuses one."""
    ffi, lib = runtime.ffi, runtime.lib
    _, x, w, bias, params, arrays, _ = fc_case(seed, k_in=12, m=5)
    table = fw.out6_table(params, arrays, bias)
    s, keep = c_params(ffi, "fn_fc_s8_params", params, arrays)
    o = ffi.new("fn_out6_s8 *")
    oks = []
    for c in range(params["out_features"]):
        oks.append(lib.fn_out6_s8_init(o, ffi.addressof(s, "requant"), c, 0 if bias is None else int(bias[c])))
        if table is not None:
            assert [o.bias2, o.multiplier, o.addend, o.shift] == table[c].tolist()
    assert (table is not None) == all(oks)
    del keep


def test_refusals(runtime):
    """A bad size or offset: FN_ERR_ARG, output untouched."""
    ffi, lib = runtime.ffi, runtime.lib
    _, x, w, bias, params, arrays, want = fc_case(3)
    packed = fw.pack(w, None)
    out = np.full(want.shape, 0x5A, np.int8)
    args = [ffi.cast("int8_t *", ffi.from_buffer(x)), ffi.cast("int16_t *", ffi.from_buffer(packed)),
            ffi.NULL if bias is None else ffi.cast("int32_t *", ffi.from_buffer(bias)),
            ffi.cast("int8_t *", ffi.from_buffer(out)), ffi.NULL]
    for field, value in (("batch", 0), ("in_features", 0), ("out_features", 0), ("in_features", 65537),
                         ("input_offset", 300)):
        s, keep = c_params(ffi, "fn_fc_s8_params", {**params, field: value}, arrays)
        assert lib.fn_fc_s8_w16_dsp(s, *args) == lib.FN_ERR_ARG, field
        del keep
    s, keep = c_params(ffi, "fn_fc_s8_params", params, arrays)
    assert lib.fn_fc_s8_w16_dsp(s, args[0], ffi.NULL, *args[2:]) == lib.FN_ERR_ARG
    assert (out == 0x5A).all(), "output written before the argument check"
    assert fw.scratch({**params, "in_features": 0}) == 0
    del keep


# ---------------------------------------------------------------- on the board

AD01 = ((640, 128), (128, 128), (128, 8), (8, 128), (128, 640))


def board_cases() -> list:
    out = [fc_case(2000 + k, "fc_w16" if k % 2 else "fc_w16_direct") for k in range(40)]
    for k, (k_in, m) in enumerate(AD01):   # AD01's layers, in both modes
        for kind in ("fc_w16", "fc_w16_direct"):
            out.append(fc_case(3000 + k, kind, k_in=k_in, m=m, batch=1))
    return out


def misalign(main_c: str, cases, indices) -> str:
    """main_c with the weights of the cases at indices read from an address 2 bytes past a word
    boundary (a copy made at start-up): the kernel's path for weights that are not word-aligned."""
    decls, copies = [], []
    for k in indices:
        n = main_c.split(f"static const int16_t w{k}[", 1)[1].split("]", 1)[0]
        decls.append(f"static uint32_t wu{k}_store[{int(n) // 2 + 1}];\n")
        copies.append(f"    memcpy((int16_t *)(void *)wu{k}_store + 1, w{k}, sizeof w{k});\n")
        call = f"x{k}, w{k}, "
        assert main_c.count(call) == 1
        main_c = main_c.replace(call, f"x{k}, (const int16_t *)(void *)wu{k}_store + 1, ")
    return main_c.replace("int main(void)\n{\n", "".join(decls) + "\nint main(void)\n{\n" + "".join(copies), 1)


def test_kernel_on_cortex_m4_matches_reference(tmp_path):
    require_tools()
    cases = board_cases()
    cases += cases[:10] + cases[-4:]          # again, from weights that are not word-aligned
    unaligned = range(len(cases) - 14, len(cases))
    for dsp in (True, False):
        work = tmp_path / ("dsp" if dsp else "portable")
        main_c = misalign(firmware_main(cases), cases, unaligned)
        elf = build_firmware(work, main_c, sources=[RUNTIME / "src" / f"{KERNEL}.c"], dsp=dsp)
        ops = set()
        for fn in (KERNEL, "fc_row_wide_w4", "fc_row_direct_w4", "fc_row_wide_w2", "fc_row_direct_w2"):
            ops |= kernel_mnemonics(elf, fn)
        if dsp:
            assert {"smlad", "smmlar", "sxtab16", "ldrd"} <= ops, f"the DSP path was not compiled in: {sorted(ops)}"
        else:
            assert not {"smlad", "smmlar"} & ops
        outs, _ = run_firmware(elf, work, len(cases))
        for k, (c, got) in enumerate(zip(cases, outs)):
            want = c[-1]
            assert_array_equal_first(np.frombuffer(got, np.int8).reshape(want.shape), want,
                                     f"case {k} {c[0]} ({'DSP' if dsp else 'portable'}): {c[4]}")


# ---------------------------------------------------------------- through the compiler

def _compile(path, out, **kw):
    import warnings

    import firmnet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return firmnet.compile(path, out, name="ad01", **kw)


def test_ad01_on_the_emulated_m4_equals_tflm(tmp_path):
    """AD01 compiled for mps2-an386 (every layer fn_fc_s8_w16_dsp, both modes), run in QEMU: the
    bytes of TFLite Micro's reference interpreter for ANCHORS.md's check vector and random inputs."""
    from firmnet import qemu
    from support.paths import REPO
    from support.qemu_harness import BOARD_TOOLS
    from support.tflite_oracle import Tflm

    require_tools(BOARD_TOOLS)
    model = REPO.parent / "shared" / "models" / "ad01_int8.tflite"
    cm = _compile(model, tmp_path / "m4", board="mps2-an386")
    assert {l["kernel"] for l in cm.report["layers"] if l["op"] == "dense"} == {KERNEL}
    tflm = Tflm(model.read_bytes())
    (shape, _, _), = tflm.inputs
    i = np.arange(int(np.prod(shape)))
    xs = np.concatenate([((i * 7 + 3) % 256 - 128).astype(np.int8).reshape(1, *shape),
                         np.random.default_rng(16).integers(-128, 128, (3, *shape), dtype=np.int8)])
    expected, = tflm.run(xs)
    for x, want in zip(xs, expected):
        got = qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0]
        assert np.array_equal(np.asarray(got).reshape(want.shape), want)


def test_ad01_selection_arena_and_flash_refusal(tmp_path):
    """AD01 on mps2-an386: every FC layer takes fn_fc_s8_w16_dsp (the report gives its packed and
    int8 weight bytes), the 640-input and 640-output layers in the direct mode (no scratch) and the
    arena stays 768 bytes; on the host build the bytes are the reference's. On a board whose flash
    holds the int8 weights only, no layer takes it and the report says why."""
    import firmnet
    from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
    from firmnet.resources import boards_dir
    from support.paths import REPO

    model = REPO.parent / "shared" / "models" / "ad01_int8.tflite"
    cm = _compile(model, tmp_path / "m4", board="mps2-an386")
    layers = [l for l in cm.report["layers"] if l["op"] == "dense"]
    assert len(layers) == 10 and all(l["kernel"] == KERNEL for l in layers), [l["kernel"] for l in layers]
    g = cm.lowered_graph
    for l in layers:
        node = next(n for n in g.nodes if n.name == l["name"])
        m, k = g.types[node.inputs[1]].shape
        packed = 2 * ((m + 3) // 4) * (4 * ((k + 3) // 4 * 4) + 32)
        assert f"int16 weights {packed:,} B (int8 {m * k:,} B" in l["why"]
        assert fw.widened(node, g) == (k != 640 and m != 640), (k, m)
    assert cm.report["arena_bytes"] == 768
    xs = [np.random.default_rng(0).integers(-128, 128, g.types[g.inputs[0]].shape).astype(np.int8)]
    want = firmnet.reference.run(g, xs)
    for h, w in zip(cm.build_host().run_raw(xs), want):   # the host build: the kernel's portable path
        assert np.array_equal(h, w)
    constants = sum(a.nbytes for a in g.constants.values())
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + constants + 64
    small = tmp_path / "small-m4.toml"
    small.write_text((boards_dir() / "mps2-an386.toml").read_text().replace("flash_bytes = 4194304",
                                                                             f"flash_bytes = {flash}"))
    tight = _compile(model, tmp_path / "tight", board=str(small), write=False)
    for l in (l for l in tight.report["layers"] if l["op"] == "dense"):
        assert l["kernel"] == "fn_fc_s8_dsp"
        reasons = {r["kernel"]: r["reason"] for r in l["rejected"]}
        assert "int16 weights would not fit small-m4's flash" in reasons[KERNEL]
