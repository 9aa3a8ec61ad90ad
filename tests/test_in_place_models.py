"""In-place execution on whole models (firmnet/in_place.py, memory.py, --in-place): the
generated C gives the same bytes with in place on and off and TensorFlow Lite Micro's,
the arena drops below the classic live-set bound (KWS ≤ 8,600 B from 16,000 B; AD01 stays
≤ 768 B), the report prints the bound of the execution model next to the live-set bound,
and a model whose every layer runs in place is clean under ASan+UBSan as a standalone
executable (support/sanitize.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import firmnet
from firmnet.report import format_report
from support.sanitize import run_sanitized
from support.tflite_models import Builder, conv2d_layer, binary_layer, input_quant, quant_from_range, real_range
from support.tflite_oracle import Tflm, first_mismatch, run_firmnet

MODELS_DIR = Path(__file__).resolve().parents[2] / "shared" / "models"
N_RANDOM = 200


@pytest.fixture(autouse=True)
def _shared_models_present():
    assert MODELS_DIR.is_dir(), f"{MODELS_DIR} not found: check out the repository beside ../shared"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    cache = {}

    def get(model, in_place, name="m", board="host"):
        import hashlib   # (bytes by content: an id() may be reused once a model is freed)
        key = (model if isinstance(model, str) else hashlib.sha256(model).hexdigest(), in_place, board)
        if key not in cache:
            path = model
            if isinstance(model, bytes):
                path = tmp_path_factory.mktemp("model") / f"{name}.tflite"
                path.write_bytes(model)
            elif isinstance(model, str):
                path = MODELS_DIR / f"{model}.tflite"
            cm = firmnet.compile(path, tmp_path_factory.mktemp(f"{name}_{in_place}"), name=name,
                                 in_place=in_place, board=board)
            cache[key] = (cm, Path(path).read_bytes())
        return cache[key]
    return get


@pytest.mark.parametrize("name,goal", [("kws_ref_model", 8600), ("ad01_int8", 768)])
def test_mlperf_models_same_bytes_smaller_arena(compiled, name, goal):
    on, model = compiled(name, "on", name.split("_")[0])
    off, _ = compiled(name, "off", name.split("_")[0])
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    xs = np.random.default_rng(17).integers(-128, 128, (N_RANDOM, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    got_on, = run_firmnet(on.build_host(), model, xs)
    got_off, = run_firmnet(off.build_host(), model, xs)
    for label, got in (("in place on", got_on), ("in place off", got_off)):
        problem = first_mismatch(got, expected, f"{name} {label}")
        assert problem is None, problem
    r_on, r_off = on.report, off.report
    print(f"\n{name}: arena {r_off['arena_bytes']:,} B (off) -> {r_on['arena_bytes']:,} B (on); bound "
          f"{r_on['lower_bound_bytes']:,} B, live-set bound {r_on['live_set_bound_bytes']:,} B")
    assert r_on["arena_bytes"] <= goal
    assert r_on["lower_bound_bytes"] <= r_on["arena_bytes"] <= r_off["arena_bytes"]
    assert r_on["live_set_bound_bytes"] == r_off["lower_bound_bytes"] == r_off["live_set_bound_bytes"]
    assert r_off["in_place"] == {"enabled": False, "layers": []}


def test_kws_reaches_below_the_live_set_bound(compiled):
    cm, _ = compiled("kws_ref_model", "on", "kws")
    r = cm.report
    assert r["live_set_bound_bytes"] == 16000          # two 25x5x64 int8 tensors
    # the busiest step is now the first convolution: its 490-byte input (16-aligned: 496)
    # beside its 8,000-byte output; every depthwise and pointwise layer runs in place
    assert r["lower_bound_bytes"] == 8000 + 490
    assert r["arena_bytes"] == 8000 + 496
    layers = {entry["layer"] for entry in r["in_place"]["layers"]}
    for node in cm.lowered_graph.nodes:
        if "DEPTHWISE" in node.name or node.name in ("op2/CONV_2D", "op4/CONV_2D", "op6/CONV_2D", "op8/CONV_2D"):
            assert node.name in layers, node.name
    text = format_report(r)
    assert "lower bound (in place):  8,490 bytes (live-set bound 16,000)" in text


def all_in_place_model(seed: int, c: int = 8) -> bytes:
    """dw 3x3 -> 1x1 (c -> c) -> dw 3x3 stride 2 -> 1x1 (c -> c/2) -> ADD a constant -> RELU:
    every layer has an overlap in in_place.py and its input dies there."""
    rng, b = np.random.default_rng(seed), Builder()
    x = b.input((1, 7, 6, c), input_quant(rng))
    y = conv2d_layer(b, rng, x, c, depthwise=True, name="dw1")
    y = conv2d_layer(b, rng, y, c, kernel=(1, 1), name="pw1")
    y = conv2d_layer(b, rng, y, c, strides=(2, 2), depthwise=True, name="dw2")
    y = conv2d_layer(b, rng, y, c // 2, kernel=(1, 1), name="pw2")
    other = b.const(rng.integers(-128, 128, y.shape).astype(np.int8), "operand", input_quant(rng))
    y = binary_layer(b, rng, "ADD", y, other, name="add")
    lo, hi = real_range(y.q)
    r = b.act(y.shape, quant_from_range(0, max(hi, 0.5)), "relu/out")
    return b.build(b.op("RELU", [y], [r]))


@pytest.mark.parametrize("seed", [1, 2])
def test_every_layer_in_place_sanitized(compiled, seed, tmp_path):
    model = all_in_place_model(seed)
    cm, _ = compiled(model, "on", f"every{seed}")
    compute = [n.name for n in cm.lowered_graph.nodes]
    assert [e["layer"] for e in cm.report["in_place"]["layers"]] == compute
    assert cm.report["arena_bytes"] < compiled(model, "off", f"every{seed}")[0].report["arena_bytes"]
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    rng = np.random.default_rng(seed)
    for k, x in enumerate(rng.integers(-128, 128, (3, *shape), dtype=np.int8)):
        (tmp_path / f"run{k}").mkdir()
        out, = run_sanitized(cm, [x], tmp_path / f"run{k}")
        expected, = tflm.run(x[None])
        problem = first_mismatch(out.reshape(expected.shape[1:]), expected[0], f"sanitized run {k}")
        assert problem is None, problem


def test_ic_shaped_resnet8_direct_kernels(tmp_path):
    """The IC-shaped ResNet-8 (--winograd off: the direct and CSR 3x3 kernels in_place.py
    declares): TFLM's bytes, arena ≤ 36,000 B (issue 17's goal) from 49,152 B."""
    from support.mlperf_shapes import resnet8_model
    model = resnet8_model(0)
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    xs = np.random.default_rng(8).integers(-128, 128, (20, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    reports = {}
    for mode in ("on", "off"):
        cm = _compile_bytes(model, tmp_path / mode, mode, winograd="off")
        got, = run_firmnet(cm.build_host(), model, xs)
        problem = first_mismatch(got, expected, f"resnet8 in place {mode}")
        assert problem is None, problem
        reports[mode] = cm.report
    print(f"\nIC-shaped: arena {reports['off']['arena_bytes']:,} B (off) -> {reports['on']['arena_bytes']:,} B (on)")
    assert reports["off"]["arena_bytes"] == reports["on"]["live_set_bound_bytes"] == 49152
    assert reports["on"]["lower_bound_bytes"] <= reports["on"]["arena_bytes"] <= 36000


@pytest.mark.parametrize("board,n", [("host", 20), ("mps2-an386", 3)])
def test_ic_shaped_resnet8_default_kernels(board, n, tmp_path):
    """The IC-shaped ResNet-8 with the default compile (the int8 Winograd kernels on the host;
    fn_conv2d_s8_w16_dsp and the DSP Winograd on mps2-an386, run in QEMU): TFLM's bytes with in
    place on and off, arena <= 36,000 B (issue 17's goal). Its peak is the 32x32x16 block: the
    first conv's output kept for the ADD beside the next conv's output and scratch, so the
    3x3 kernels there must run at delta 0 with at most 3,232 B of scratch."""
    from firmnet import qemu
    from support.mlperf_shapes import resnet8_model
    model = resnet8_model(0)
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    xs = np.random.default_rng(9).integers(-128, 128, (n, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    reports = {}
    for mode in ("on", "off"):
        d = tmp_path / mode
        d.mkdir()
        (d / "m.tflite").write_bytes(model)
        cm = firmnet.compile(d / "m.tflite", d / "out", name="ic", in_place=mode, board=board)
        if board == "host":
            got, = run_firmnet(cm.build_host(), model, xs)
        else:
            got = np.stack([qemu.run(cm.out_dir, board, [x]).outputs[0] for x in xs]).reshape(expected.shape)
        problem = first_mismatch(got, expected, f"resnet8 on {board}, in place {mode}")
        assert problem is None, problem
        reports[mode] = cm.report
    kernels = {layer["kernel"] for layer in reports["on"]["layers"]}
    assert ("fn_conv2d_s8_winograd" if board == "host" else "fn_conv2d_s8_w16_dsp") in kernels
    print(f"\nIC-shaped on {board}: arena {reports['off']['arena_bytes']:,} B (off) -> "
          f"{reports['on']['arena_bytes']:,} B (on)")
    assert reports["on"]["lower_bound_bytes"] <= reports["on"]["arena_bytes"] <= 36000


def _compile_bytes(model: bytes, d: Path, in_place: str, **options):
    d.mkdir()
    (d / "m.tflite").write_bytes(model)
    return firmnet.compile(d / "m.tflite", d / "out", name="ic", in_place=in_place, **options)


@pytest.mark.parametrize("variant", ["fn_depthwise_conv2d_s8_rows_dsp", "fn_depthwise_conv2d_s8_w16_dsp"])
@pytest.mark.parametrize("in_shape,kernel,strides,padding", [
    ((1, 9, 7, 8), (3, 3), (1, 1), "SAME"),
    ((1, 10, 9, 12), (3, 3), (2, 2), "SAME"),
    ((1, 8, 8, 6), (5, 5), (1, 1), "SAME"),      # 6 channels: a last block of 2 (the portable walk)
    ((1, 9, 6, 4), (3, 3), (1, 2), "VALID"),
])
def test_dsp_row_depthwise_in_place_on_mps2(in_shape, kernel, strides, padding, variant, tmp_path):
    """The DSP row depthwise kernels (fn_depthwise_conv2d_s8_rows_dsp; fn_depthwise_conv2d_s8_w16_dsp,
    which has the same declaration) in place on mps2-an386 (QEMU, the DSP path) give the bytes
    of the build with in place off."""
    from firmnet import qemu
    from support.tflite_models import depthwise_model
    model = depthwise_model(11, in_shape, 1, kernel, strides, (1, 1), padding)
    (tmp_path / "m.tflite").write_bytes(model)
    xs = list(np.random.default_rng(4).integers(-128, 128, (2, *in_shape), dtype=np.int8))
    name = firmnet.compile(tmp_path / "m.tflite", tmp_path / "probe", board="mps2-an386", name="dw",
                           write=False).report["layers"][0]["name"]
    runs = {}
    for mode in ("on", "off"):
        cm = firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, board="mps2-an386", name="dw", in_place=mode,
                             kernels={name: variant})
        assert [layer["kernel"] for layer in cm.report["layers"]] == [variant]
        runs[mode] = [qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0] for x in xs]
        if mode == "on":
            assert [e["layer"] for e in cm.report["in_place"]["layers"]] == [cm.lowered_graph.nodes[0].name]
    for k, (a, b) in enumerate(zip(runs["on"], runs["off"])):
        assert np.array_equal(a, b), f"input {k}: in place {a.ravel()[:8]} != {b.ravel()[:8]}"


def test_cli_in_place_off_is_recorded_and_verified(tmp_path, capsys):
    """`firmnet compile --in-place off` records the mode in firmnet.json (verify recompiles
    with it: the sources it finds are the ones it would write) and the report says so."""
    import json
    from firmnet.cli import main
    kws = MODELS_DIR / "kws_ref_model.tflite"
    for mode, arena in (("off", "16,000"), ("on", "8,496")):
        out = tmp_path / mode
        assert main(["compile", str(kws), "-o", str(out), "--in-place", mode]) == 0
        meta = json.loads((out / "firmnet.json").read_text())
        assert meta.get("in_place", "on") == mode
        assert f"arena {arena} B" in capsys.readouterr().out
        assert main(["report", str(out)]) == 0
        text = capsys.readouterr().out
        assert ("live-set bound 16,000" in text) == (mode == "on")
        assert main(["verify", str(out)]) == 0, capsys.readouterr().out
        capsys.readouterr()


def test_kws_on_mps2_reaches_its_bound(tmp_path):
    """On mps2-an386 the depthwise layers run the DSP int16-weight depthwise kernel (in place,
    the output a multiple of 64 bytes low: 8,000 + 192 + its 168-byte scratch) and the 1x1
    layers the int16-weight 1x1 kernel (in place at delta 0: 8,000 + its 1,288-byte scratch), so
    the first layer sets the bound: its 490-byte input, 8,000-byte output and fn_conv2d_s8_dsp's
    1,024-byte scratch; the plan reaches it (rounded up to the 8-byte alignment)."""
    cm = firmnet.compile(MODELS_DIR / "kws_ref_model.tflite", tmp_path, board="mps2-an386", name="kws", write=False)
    r = cm.report
    kernels = {layer["kernel"] for layer in r["layers"]}
    assert {"fn_depthwise_conv2d_s8_w16_dsp", "fn_conv2d_1x1_s8_w16_dsp", "fn_conv2d_s8_dsp"} <= kernels
    assert len(r["in_place"]["layers"]) == 8
    assert r["lower_bound_bytes"] == 490 + 8000 + 1024
    assert r["arena_bytes"] == (r["lower_bound_bytes"] + 7) // 8 * 8 == 9520
    assert r["live_set_bound_bytes"] == 8000 + 8000 + 1288    # a 1x1 layer's input, output and scratch


@pytest.mark.parametrize("in_shape,out_c,kernel,strides", [
    ((1, 7, 9, 8), 8, (3, 3), (1, 1)),
    ((1, 5, 7, 4), 6, (3, 3), (1, 1)),     # 35 pixels: an odd last pixel, computed twice
    ((1, 10, 8, 8), 16, (3, 3), (2, 2)),
])
def test_dsp_conv_in_place_on_mps2(in_shape, out_c, kernel, strides, tmp_path):
    """fn_conv2d_s8_dsp in place on mps2-an386 (QEMU, the DSP path: pixel pairs through the
    scratch) gives the bytes of the build with in place off."""
    from firmnet import qemu
    from support.tflite_models import conv2d_model
    model = conv2d_model(12, in_shape, out_c, kernel, strides)
    (tmp_path / "m.tflite").write_bytes(model)
    xs = list(np.random.default_rng(5).integers(-128, 128, (2, *in_shape), dtype=np.int8))
    runs = {}
    for mode in ("on", "off"):
        cm = firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, board="mps2-an386", name="cv", in_place=mode,
                             winograd="off", kernels={"op0/CONV_2D": "fn_conv2d_s8_dsp"})
        assert [layer["kernel"] for layer in cm.report["layers"]] == ["fn_conv2d_s8_dsp"]
        runs[mode] = [qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0] for x in xs]
        if mode == "on":
            assert [e["layer"] for e in cm.report["in_place"]["layers"]] == [cm.lowered_graph.nodes[0].name]
    for k, (a, b) in enumerate(zip(runs["on"], runs["off"])):
        assert np.array_equal(a, b), f"input {k}: in place {a.ravel()[:8]} != {b.ravel()[:8]}"


@pytest.mark.parametrize("board,in_shape,out_c", [
    ("host", (1, 8, 10, 8), 8), ("host", (1, 7, 5, 6), 10),      # odd rows and columns: partial tiles
    ("mps2-an386", (1, 8, 10, 8), 8), ("mps2-an386", (1, 7, 5, 8), 4),
])
def test_winograd_in_place(board, in_shape, out_c, tmp_path):
    """The int8 Winograd kernels (portable on the host, DSP on mps2-an386 in QEMU) in place give
    the bytes of the build with in place off, and TFLM's."""
    from firmnet import qemu
    from support.tflite_models import conv2d_model
    model = conv2d_model(13, in_shape, out_c, (3, 3), (1, 1))
    (tmp_path / "m.tflite").write_bytes(model)
    xs = np.random.default_rng(6).integers(-128, 128, (3, *in_shape), dtype=np.int8)
    expected, = Tflm(model).run(xs)
    for mode in ("on", "off"):
        cm = firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, board=board, name="wg", in_place=mode,
                             winograd="on")
        assert cm.report["layers"][0]["kernel"].startswith("fn_conv2d_s8_winograd")
        assert bool(cm.report["in_place"]["layers"]) == (mode == "on")
        if board == "host":
            got, = run_firmnet(cm.build_host(), model, xs)
        else:
            got = np.stack([qemu.run(cm.out_dir, board, [x]).outputs[0] for x in xs]).reshape(expected.shape)
        problem = first_mismatch(got, expected, f"winograd in place {mode} on {board}")
        assert problem is None, problem


@pytest.mark.parametrize("in_shape,out_c,strides", [
    ((1, 7, 9, 8), 8, (1, 1)),
    ((1, 5, 7, 8), 6, (1, 1)),      # odd pixels and output channels: the kernel's tail loops
    ((1, 10, 8, 8), 16, (2, 2)),
])
def test_w16_conv_in_place_on_mps2(in_shape, out_c, strides, tmp_path):
    """fn_conv2d_s8_w16_dsp in place on mps2-an386 (QEMU, the DSP path) gives the bytes of the
    build with in place off, and TFLM's."""
    from firmnet import qemu
    from support.tflite_models import conv2d_model
    model = conv2d_model(14, in_shape, out_c, (3, 3), strides)
    (tmp_path / "m.tflite").write_bytes(model)
    xs = np.random.default_rng(7).integers(-128, 128, (2, *in_shape), dtype=np.int8)
    expected, = Tflm(model).run(xs)
    for mode in ("on", "off"):
        cm = firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, board="mps2-an386", name="cw", in_place=mode,
                             winograd="off", kernels={"op0/CONV_2D": "fn_conv2d_s8_w16_dsp"})
        assert [layer["kernel"] for layer in cm.report["layers"]] == ["fn_conv2d_s8_w16_dsp"]
        assert bool(cm.report["in_place"]["layers"]) == (mode == "on")
        got = np.stack([qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0] for x in xs]).reshape(expected.shape)
        problem = first_mismatch(got, expected, f"w16 conv in place {mode}")
        assert problem is None, problem


@pytest.mark.parametrize("in_shape,out_c", [
    ((1, 5, 5, 16), 16),       # delta 0
    ((1, 3, 5, 8), 16),        # the output grows ahead of the input: odd pixels, pair_delta > 0
    ((1, 4, 3, 12), 7),        # output channels not a multiple of 4: the last block's tail
])
def test_pw16_conv_in_place_on_mps2(in_shape, out_c, tmp_path):
    """fn_conv2d_1x1_s8_w16_dsp in place on mps2-an386 (QEMU, the DSP path) gives the bytes of
    the build with in place off, and TFLM's."""
    from firmnet import qemu
    from support.tflite_models import conv2d_model
    model = conv2d_model(15, in_shape, out_c, (1, 1), (1, 1))
    (tmp_path / "m.tflite").write_bytes(model)
    xs = np.random.default_rng(8).integers(-128, 128, (2, *in_shape), dtype=np.int8)
    expected, = Tflm(model).run(xs)
    for mode in ("on", "off"):
        cm = firmnet.compile(tmp_path / "m.tflite", tmp_path / mode, board="mps2-an386", name="pw", in_place=mode)
        assert [layer["kernel"] for layer in cm.report["layers"]] == ["fn_conv2d_1x1_s8_w16_dsp"]
        assert bool(cm.report["in_place"]["layers"]) == (mode == "on")
        got = np.stack([qemu.run(cm.out_dir, "mps2-an386", [x]).outputs[0] for x in xs]).reshape(expected.shape)
        problem = first_mismatch(got, expected, f"1x1 int16-weight conv in place {mode}")
        assert problem is None, problem
