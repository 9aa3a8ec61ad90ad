"""Larq Compute Engine .tflite models (tests/fixtures/models/lce/, made by LCE's own converter;
make_lce_models.py says how) through the whole compiler.

The generated C equals firmnet's numpy reference exactly (np.array_equal, and `verify`'s
trace of every step) and matches the outputs LCE's interpreter recorded at fixture time:
exactly where LCE's arithmetic is integer from the input to the output (lce_bits: float
signs, bitpacked convolutions through thresholds, binary max pooling, +-1 output;
lce_int8: an int8 convolution then the same; lce_int8_sign: int8 signs dequantized to
int8), within a float32 bound where LCE computes float (lce_float: the float output stage,
then a float dense layer; lce_zero_pad: a zero-padded convolution's float output, which LCE
corrects at the border in float; lce_birealnet: Bi-Real Net blocks, float outputs added to
float shortcuts), within one step where it rounds a float to int8 (lce_int8_out:
LceBconv2d's int8 output, its fused ReLU, int8 max pooling). The LCE bit convention
(bit 1 = -1) is checked on hand-made words; the importer's refusals name the operator."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmnet
from firmnet import qemu
from firmnet.cli import main
from firmnet.dtypes import pack_b1
from firmnet.dtypes import unpack_b1
from firmnet.frontend.tflite_lce import bits_stage, options, unpack_lce_words
from firmnet.kernels import params_binary as pb
from firmnet.reference import binary as ref
from firmnet.ir import FirmnetError, UnsupportedError
from firmnet.verify import verify
from support.paths import FIXTURES, REPO
from support.qemu_harness import BOARD_TOOLS, require_tools
from support.sanitize import run_sanitized

LCE = FIXTURES / "lce"
EXACT = ("lce_bits", "lce_int8", "lce_int8_sign")
OPS = {   # the IR ops each fixture's LCE operators become (before the passes)
    "lce_bits": {"binarize", "bconv2d", "unbinarize", "bmaxpool"},
    "lce_float": {"binarize", "bconv2d", "binary", "pool2d", "reshape", "dense"},
    "lce_int8": {"pad", "conv2d", "binarize", "bconv2d", "unbinarize", "bmaxpool"},
    "lce_int8_out": {"binarize", "bconv2d", "binary", "quantize", "pool2d"},
    "lce_int8_sign": {"binarize", "unbinarize", "quantize"},
    "lce_zero_pad": {"binarize", "bconv2d"},
    "lce_birealnet": {"binarize", "bconv2d", "binary", "reduce", "dense"},
}
FLOAT = ("lce_float", "lce_zero_pad", "lce_birealnet")
BINARY_KERNELS = {"fn_bconv2d_b1", "fn_bmaxpool2d_b1"}


def recorded(name):
    d = np.load(LCE / f"{name}.npz")
    return d["inputs"], d["outputs"]


@pytest.fixture(scope="module", params=sorted(OPS))
def compiled(request, tmp_path_factory):
    name = request.param
    return name, firmnet.compile(LCE / f"{name}.tflite", tmp_path_factory.mktemp(name), name=name,
                                 board="mps2-an386")


def test_lce_ops_become_binary_ops(compiled):
    name, cm = compiled
    assert {n.op for n in cm.graph.nodes} == OPS[name]
    kernels = {layer["kernel"] for layer in cm.report["layers"]}
    assert "fn_binarize_f32" in kernels or "fn_binarize_s8" in kernels
    if "bconv2d" in OPS[name]:
        assert "fn_bconv2d_b1" in kernels
    if "bmaxpool" in OPS[name]:
        assert "fn_bmaxpool2d_b1" in kernels
    assert any(ty.dtype == "b1" for ty in cm.graph.types.values()), "the tensors between LCE ops are b1"


def test_bits_round_trips_and_signs_of_float_stages_are_folded(compiled):
    """LCE's LceDequantize -> LceQuantize pairs leave no float round trip, and a binary
    layer's float output read only by LceQuantize becomes its bits output."""
    name, cm = compiled
    g = cm.lowered_graph
    producers = g.producers()
    for node in g.nodes:
        if node.op == "binarize":
            inner = producers.get(node.inputs[0])
            assert inner is None or inner.op not in ("unbinarize", "bconv2d"), node.name
    if name == "lce_bits":
        assert [n.op for n in g.nodes].count("unbinarize") == 1   # the output only
    if name == "lce_float":
        assert [n.attrs.out for n in g.nodes if n.op == "bconv2d"] == ["bits", "float"]


def test_c_equals_reference_exactly(compiled):
    """Every step the C traces equals the reference's: bits, int8 and the binary layers' float
    stage exactly; the float dense layer of lce_float (its sums in another order) to 1e-5."""
    name, cm = compiled
    inputs, _ = recorded(name)
    host = cm.build_host(trace=True)
    for x in inputs:
        outs, c_values = host.run_trace([x])
        _, ref_values = firmnet.reference.run(cm.lowered_graph, [x], trace=True)
        binary_steps = [n.outputs[0] for n in cm.lowered_graph.nodes if n.op in ("binarize", "bconv2d", "bmaxpool",
                                                                                "unbinarize", "pad", "conv2d",
                                                                                "quantize")]
        assert binary_steps and all(t in c_values for t in binary_steps)
        for t in binary_steps:
            assert np.array_equal(c_values[t], ref_values[t]), t
        want = ref_values[cm.lowered_graph.outputs[0]]
        if name not in FLOAT:
            assert outs[0].dtype == want.dtype and np.array_equal(outs[0], want)
        else:
            np.testing.assert_allclose(outs[0], want, rtol=1e-5, atol=1e-5)
    assert verify(cm, [inputs[0]]).ok


def test_matches_lce_interpreter(compiled):
    name, cm = compiled
    inputs, outputs = recorded(name)
    host = cm.build_host()
    got = np.stack([host.run([x])[0] for x in inputs])
    assert got.shape == outputs.shape
    assert got.dtype == outputs.dtype
    if name in EXACT:   # integer arithmetic all the way: the values equal LCE's
        assert len(np.unique(outputs)) == 2   # +-1, or its two int8 codes
        np.testing.assert_array_equal(got, outputs)
    elif name == "lce_int8_out":   # LCE rounds its own float multiply-add to int8
        assert np.abs(got.astype(np.int32) - outputs.astype(np.int32)).max() <= 1
        assert len(np.unique(outputs)) > 10
    else:               # LCE computes the output stage and the dense layer in float32
        np.testing.assert_allclose(got, outputs, rtol=1e-5, atol=1e-4)
        assert not np.array_equal(np.sign(got), -np.sign(outputs))


def test_sanitizers_clean(compiled, tmp_path):
    name, cm = compiled
    inputs, _ = recorded(name)
    for s, h in zip(run_sanitized(cm, [inputs[1]], tmp_path), cm.build_host().run([inputs[1]])):
        np.testing.assert_array_equal(s, h)


def test_on_the_emulated_m4(compiled):
    """mps2-an386 (Cortex-M4F, QEMU) gives LCE's outputs: exactly on the integer models, within
    the float bound on lce_float (the board's FPU may contract multiply-adds)."""
    name, cm = compiled
    require_tools(BOARD_TOOLS)
    inputs, outputs = recorded(name)
    board = qemu.run(cm.out_dir, "mps2-an386", [inputs[2]]).outputs[0]
    if name in EXACT:
        np.testing.assert_array_equal(board, outputs[2])
    elif name == "lce_int8_out":
        assert np.abs(board.astype(np.int32) - outputs[2].astype(np.int32)).max() <= 1
    else:
        np.testing.assert_allclose(board, outputs[2], rtol=1e-5, atol=1e-4)


def test_larq_trained_digits_model(tmp_path):
    """examples/digits/larq_bnn.py's Larq-trained BNN as LCE converted it: the C's logits on
    the 450 test images within 1e-4 of LCE's interpreter, the same predictions (97.78 %),
    and on mps2-an386 the host's values."""
    folder = REPO / "examples" / "digits" / "lce"
    d = np.load(folder / "digits_bnn.lce.npz")
    cm = firmnet.compile(folder / "digits_bnn.lce.tflite", tmp_path / "digits", name="digits", board="mps2-an386")
    assert sum(layer["kernel"] == "fn_bconv2d_b1" for layer in cm.report["layers"]) == 2
    host = cm.build_host()
    logits = np.stack([host.run([x])[0] for x in d["x"]])
    np.testing.assert_allclose(logits, d["logits"], rtol=1e-5, atol=1e-4)
    predicted = logits[:, 0].argmax(axis=1)
    assert np.array_equal(predicted, d["logits"][:, 0].argmax(axis=1))
    assert np.mean(predicted == d["y"]) > 0.95
    require_tools(BOARD_TOOLS)
    board = qemu.run(cm.out_dir, "mps2-an386", [d["x"][3]]).outputs[0]
    np.testing.assert_allclose(board, logits[3], rtol=1e-5, atol=1e-5)


def test_cli_compile_verify_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(LCE / "lce_bits.tflite"), "-o", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"CUSTOM \(LceBconv2d\) +bconv2d +fn_bconv2d_b1 +1x8x8x33 b1", text), text
    assert re.search(r"CUSTOM \(LceBMaxPool2d\) +bmaxpool +fn_bmaxpool2d_b1 +1x4x4x33 b1", text), text
    assert (out / "model.c").read_text().count("binary 3x3 conv, bits output, one padding") == 2


def test_one_padding_and_thresholds_are_imported():
    """lce_bits' first LceBconv2d: SAME with pad_values=1 gives pad_value 1, bits output
    through thresholds (scale 1, offset 2 * threshold - K)."""
    g = firmnet.load(LCE / "lce_bits.tflite")
    convs = [n for n in g.nodes if n.op == "bconv2d"]
    assert [n.attrs.pad_value for n in convs] == [1, 1]
    assert [n.attrs.out for n in convs] == ["bits", "bits"]
    assert convs[1].attrs.strides == (2, 2)
    scale = g.constants[convs[0].inputs[2]]
    assert np.array_equal(scale, np.ones_like(scale))
    offset = g.constants[convs[0].inputs[3]]
    k = 3 * 3 * 40
    assert np.array_equal(offset, np.round(offset)) and np.all(offset >= -k - 2) and np.all(offset <= k)


def test_zero_padded_float_output_is_imported():
    (conv,) = [n for n in firmnet.load(LCE / "lce_zero_pad.tflite").nodes if n.op == "bconv2d"]
    assert (conv.attrs.pad_value, conv.attrs.pads, conv.attrs.out) == (0, (1, 1, 1, 1), "float")


def test_zero_padding_and_fused_activation_are_imported():
    """lce_float: the first conv is SAME zero-padded (pad_value 0), float output with the
    multiplier and bias as its stage; the second is one-padded with a fused RELU: the
    accumulator is clamped at 0 and a Mul and an Add follow."""
    g = firmnet.load(LCE / "lce_float.tflite")
    convs = [n for n in g.nodes if n.op == "bconv2d"]
    assert [(n.attrs.pad_value, n.attrs.pads, n.attrs.out) for n in convs] == \
        [(0, (0, 0, 1, 1), "float"), (1, (1, 1, 1, 1), "float")]
    assert convs[0].attrs.act[0] == -np.inf and convs[1].attrs.act == (0.0, np.inf)
    assert [n.attrs.kind for n in g.nodes if n.op == "binary"] == ["mul", "add"]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_lce_words_read_bit_one_as_minus_one(n, seed):
    """LCE packs channel c into bit c % 32 of word c / 32, 1 for -1: the opposite of b1."""
    rng = np.random.default_rng(seed)
    values = np.where(rng.random((3, n)) < 0.5, 1, -1).astype(np.int8)
    words = np.zeros((3, -(-n // 32)), np.int64)
    for r in range(3):
        for c in range(n):
            if values[r, c] < 0:
                words[r, c // 32] |= 1 << (c % 32)
    lce_words = words.astype(np.uint32).view(np.int32)   # the file's int32
    assert np.array_equal(unpack_lce_words(lce_words, n, "t"), values)
    assert np.array_equal(pack_b1(values), (~words.astype(np.uint32)) & pack_b1(np.ones_like(values)))


def lce_bconv_bits(x, w, strides, pads, t):
    """LCE's bitpacked LceBconv2d in bits: bit 1 = -1, a padded pixel all bits 0 (one padding),
    p = popcount(x XOR w) over every tap, -1 where p > threshold."""
    xb, wb = x < 0, w < 0
    xp = np.pad(xb, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)))
    (n, hp, wp, _), (o, kh, kw, _) = xp.shape, w.shape
    oh, ow = (hp - kh) // strides[0] + 1, (wp - kw) // strides[1] + 1
    out = np.empty((n, oh, ow, o), np.int8)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw, :]
            p = (win[:, None] != wb[None]).sum(axis=(2, 3, 4))
            out[:, i, j, :] = np.where(p > t, -1, 1)
    return out


def c_bconv(runtime, x, w, strides, pads, scale, offset, pad_value):
    """fn_bconv2d_b1 with the bits output of (scale, offset)."""
    ffi, lib = runtime.ffi, runtime.lib
    n, h, wd, c = x.shape
    o, kh, kw, _ = w.shape
    oh, ow = (h + pads[0] + pads[2] - kh) // strides[0] + 1, (wd + pads[1] + pads[3] - kw) // strides[1] + 1
    bout = pb.bout_params("bits", o, kh * kw * c, scale, offset)
    keep = [ffi.new("int32_t[]", bout["threshold"].tolist()), ffi.new("uint32_t[]", bout["flip"].tolist())]
    params = pb.bconv2d_b1_params(x.shape, w.shape, (n, oh, ow, o), strides=strides, pads=pads, pad_value=pad_value,
                                  bout=dict(bout, scale=ffi.NULL, offset=ffi.NULL, threshold=keep[0], flip=keep[1]))
    c_params = ffi.new("fn_bconv2d_b1_params *", params)
    out = np.full((n, oh, ow, pb.words(o)), 0xA5A5A5A5, np.uint32)
    scratch = np.zeros(pb.bconv2d_scratch(params) // 4, np.uint32)
    status = lib.fn_bconv2d_b1(c_params, ffi.from_buffer("uint32_t[]", pack_b1(x)),
                               ffi.from_buffer("uint32_t[]", pb.pack_dense_filters(w)), ffi.from_buffer(out),
                               ffi.from_buffer(scratch))
    assert status == lib.FN_OK
    return unpack_b1(out, o)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 5, 32, 33, 40]), st.sampled_from([1, 7, 33]),
       st.integers(1, 2), st.booleans(), st.integers(0, 2**32 - 1))
def test_lce_thresholds_and_one_padding_are_exact(runtime, kh, kw, c, o, stride, same, seed):
    """LCE's bitpacked convolution (computed here in LCE's own bits) equals bconv2d with one
    padding and the bits stage of bits_stage(thresholds), in the reference and in the C, for
    thresholds across [-3, K + 3] and at int32's ends."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((1, 5, 4, c)) < 0.5, 1, -1).astype(np.int8)
    w = np.where(rng.random((o, kh, kw, c)) < 0.5, 1, -1).astype(np.int8)
    k = kh * kw * c
    t = rng.integers(-3, k + 4, o)
    t[rng.random(o) < 0.2] = np.iinfo(np.int32).max
    t[rng.random(o) < 0.2] = np.iinfo(np.int32).min
    pads = (kh // 2, kw // 2, (kh - 1) // 2, (kw - 1) // 2) if same else (0, 0, 0, 0)
    want = lce_bconv_bits(x, w, (stride, stride), pads, t)
    scale, offset = bits_stage(t.astype(np.int32), k)
    got_ref = ref.bconv2d(x, w, scale, offset, strides=(stride, stride), pads=pads, kind="bits", pad_value=1)
    assert np.array_equal(got_ref, want)
    assert np.array_equal(c_bconv(runtime, x, w, (stride, stride), pads, scale, offset, 1), want)


def test_lce_words_with_stray_bits_are_refused():
    with pytest.raises(UnsupportedError, match="unused bits"):
        unpack_lce_words(np.array([[1 << 5]], np.int32), 5, "filter")
    with pytest.raises(UnsupportedError, match="words per row"):
        unpack_lce_words(np.zeros((1, 2), np.int32), 5, "filter")


def test_dilation_is_refused_naming_the_op():
    with pytest.raises(UnsupportedError, match=r"operator #1 \(CUSTOM \(LceBconv2d\)\): dilation 2x2 is not "
                                               r"supported"):
        firmnet.load(LCE / "lce_dilated.tflite")


def _patched(tmp_path, name, op_index, **changes):
    """The fixture with one operator's custom options rewritten (same byte length: integer
    fields that flexbuffers stored in a byte keep fitting)."""
    import flatbuffers.flexbuffers as fx
    import tflite
    data = bytearray((LCE / f"{name}.tflite").read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    op = model.Subgraphs(0).Operators(op_index)
    raw = op.CustomOptionsAsNumpy().tobytes()
    new = fx.Dumps({**fx.Loads(raw), **changes})
    assert len(new) == len(raw)
    start = data.find(raw)
    data[start:start + len(raw)] = new
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("changes, match", [
    (dict(pad_values=2), r"LceBconv2d\)\): pad_values 2"),
    (dict(fused_activation_function=5), r"LceBconv2d\)\): fused activation 5"),
    (dict(channels_in=7), r"LceBconv2d\)\): channels_in 7, but its input has 8"),
    (dict(padding=7), r"LceBconv2d\)\): padding 7"),
])
def test_bad_lce_options_are_refused_naming_the_op(tmp_path, changes, match):
    path = _patched(tmp_path, "lce_float", 1, **changes)
    with pytest.raises(FirmnetError, match=match):
        firmnet.load(path)


def test_bits_with_same_zero_padding_is_refused(tmp_path):
    """LCE's thresholds count padded taps as +1: bitpacked output with SAME zero padding has
    no exact meaning here and is refused."""
    path = _patched(tmp_path, "lce_bits", 1, pad_values=0)
    with pytest.raises(UnsupportedError, match=r"LceBconv2d\)\): bitpacked output with SAME zero padding"):
        firmnet.load(path)


def test_an_unknown_lce_operator_is_refused_by_name(tmp_path):
    data = (LCE / "lce_int8_sign.tflite").read_bytes()
    assert data.count(b"LceDequantize") == 1
    path = tmp_path / "renamed.tflite"
    path.write_bytes(data.replace(b"LceDequantize", b"LceDequantizz"))
    with pytest.raises(UnsupportedError, match=r"operator #1 \(CUSTOM \(LceDequantizz\)\) is not supported; "
                                               r"supported operators: .*CUSTOM \(LceBconv2d\)"):
        firmnet.load(path)


def _custom_options_spans(data: bytes):
    import tflite
    model = tflite.Model.GetRootAsModel(data, 0)
    sg = model.Subgraphs(0)
    spans = []
    for i in range(sg.OperatorsLength()):
        raw = sg.Operators(i).CustomOptionsAsNumpy()
        if sg.Operators(i).CustomOptionsLength():
            start = data.find(raw.tobytes())
            spans.append((start, len(raw)))
    return spans


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["lce_bits", "lce_float"]), st.data())
def test_damaged_custom_options_give_a_clear_error_or_a_model(tmp_path_factory, name, data):
    """Bytes of an LCE operator's flexbuffer options overwritten at random: the load either
    succeeds (the options still read as valid values) or raises FirmnetError naming an LCE
    operator, never another exception."""
    original = (LCE / f"{name}.tflite").read_bytes()
    start, length = data.draw(st.sampled_from(_custom_options_spans(original)))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[start + data.draw(st.integers(0, length - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("damaged") / f"{name}.tflite"
    path.write_bytes(bytes(damaged))
    try:
        firmnet.load(path)
    except FirmnetError as exc:
        assert "(CUSTOM (Lce" in str(exc)


def test_unreadable_options_are_refused():
    with pytest.raises(UnsupportedError, match="not a readable flexbuffer|not a flexbuffer map"):
        options(b"\x01\x02")
