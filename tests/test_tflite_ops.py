"""Every TFLite builtin op and parameter combination the importer supports, one small int8
model each (tests/support/tflite_models.py), compiled by firmnet and run on 20 random inputs:
the generated C must give TensorFlow Lite Micro's bytes exactly (np.array_equal; the first
differing index is printed). Known compiler bugs are strict xfails with the reason."""
from __future__ import annotations

import re

import numpy as np
import pytest

import firmnet
from firmnet.ir import FirmnetError
from support import tflite_models
from support.tflite_models import (ACTS, binary_model, chain_model, concat_model, conv2d_model, depthwise_model,
                                   dequantize_model, fc_model, gather_model, mean_model, pad_model, pool_model,
                                   quant_from_range, quantize_model, reshape_model, seed_of, softmax_model,
                                   squeeze_model, unary_model)
from support.tflite_oracle import first_mismatch, random_inputs, run_firmnet, run_tflm

N_INPUTS = 20


def _conv_cases():
    c = []
    for act in ACTS:
        c.append((f"conv2d-3x3-s1-SAME-{act}", conv2d_model, dict(act=act)))
    c += [
        ("conv2d-3x3-s2-VALID-RELU", conv2d_model, dict(strides=(2, 2), padding="VALID", act="RELU")),
        ("conv2d-3x3-s2-SAME-even-RELU6", conv2d_model, dict(in_shape=(1, 10, 10, 3), strides=(2, 2), act="RELU6")),
        ("conv2d-3x3-d2-SAME", conv2d_model, dict(dilations=(2, 2))),
        ("conv2d-3x2-s2x1-d1x2-VALID", conv2d_model, dict(kernel=(3, 2), strides=(2, 1), dilations=(1, 2),
                                                          padding="VALID")),
        ("conv2d-1x1-VALID-RELU", conv2d_model, dict(in_shape=(1, 5, 5, 16), out_c=8, kernel=(1, 1),
                                                     padding="VALID", act="RELU")),
        ("conv2d-10x4-s2-SAME-RELU-kws", conv2d_model, dict(in_shape=(1, 20, 10, 1), out_c=8, kernel=(10, 4),
                                                            strides=(2, 2), act="RELU")),
        ("conv2d-5x5-per-tensor", conv2d_model, dict(kernel=(5, 5), per_channel=False)),
        ("conv2d-no-bias", conv2d_model, dict(bias=False)),
        ("conv2d-RELU-loose-quant", conv2d_model, dict(act="RELU", loose=True)),
        ("conv2d-RELU6-loose-quant", conv2d_model, dict(act="RELU6", loose=True)),
        ("conv2d-RELU_N1_TO_1-loose-quant", conv2d_model, dict(act="RELU_N1_TO_1", loose=True)),
        ("conv2d-batch2", conv2d_model, dict(in_shape=(2, 6, 6, 3))),
        ("conv2d-relu-input-zp-128", conv2d_model, dict(in_q=quant_from_range(0.0, 4.0), act="RELU")),
        ("conv2d-input-zp127", conv2d_model, dict(in_q=quant_from_range(-3.0, 0.0))),
    ]
    return c


def _depthwise_cases():
    return [
        ("depthwise-3x3-m1-SAME-RELU", depthwise_model, dict(act="RELU")),
        ("depthwise-3x3-m2-VALID", depthwise_model, dict(multiplier=2, padding="VALID")),
        ("depthwise-3x3-m3-s2-SAME-RELU6", depthwise_model, dict(multiplier=3, strides=(2, 2), act="RELU6")),
        ("depthwise-1ch-m8", depthwise_model, dict(in_shape=(1, 7, 7, 1), multiplier=8)),
        ("depthwise-3x3-d2-SAME", depthwise_model, dict(dilations=(2, 2))),
        ("depthwise-5x3-s1x2-VALID", depthwise_model, dict(kernel=(5, 3), strides=(1, 2), padding="VALID")),
        ("depthwise-per-tensor", depthwise_model, dict(per_channel=False)),
        ("depthwise-RELU_N1_TO_1-loose-quant", depthwise_model, dict(act="RELU_N1_TO_1", loose=True)),
    ]


def _fc_cases():
    c = []
    for per_channel in (False, True):
        pc = "per-channel" if per_channel else "per-tensor"
        for act in ACTS:
            c.append((f"fc-{pc}-{act}", fc_model, dict(per_channel=per_channel, act=act)))
        c.append((f"fc-{pc}-keep_num_dims", fc_model, dict(in_shape=(1, 3, 16), per_channel=per_channel,
                                                           keep_num_dims=True)))
    c += [
        ("fc-3d-input-flattened", fc_model, dict(in_shape=(1, 3, 16), keep_num_dims=False)),
        ("fc-RELU-loose-quant", fc_model, dict(act="RELU", loose=True)),
        ("fc-no-bias", fc_model, dict(bias=False)),
        ("fc-batch2", fc_model, dict(in_shape=(2, 32))),
        ("fc-relu-input-zp-128", fc_model, dict(in_q=quant_from_range(0.0, 5.0), per_channel=True)),
        ("fc-wide-640x128", fc_model, dict(in_shape=(1, 640), units=128, act="RELU")),
    ]
    return c


def _pool_cases():
    c = []
    for kind in ("avg", "max"):
        c += [
            (f"{kind}pool-2x2-s2-VALID", pool_model, dict(kind=kind)),
            (f"{kind}pool-3x3-s1-SAME", pool_model, dict(kind=kind, filt=(3, 3), strides=(1, 1), padding="SAME")),
            (f"{kind}pool-3x3-s2-SAME-odd", pool_model, dict(kind=kind, in_shape=(1, 7, 9, 2), filt=(3, 3),
                                                             padding="SAME")),
            (f"{kind}pool-3x2-s2x1-VALID", pool_model, dict(kind=kind, filt=(3, 2), strides=(2, 1))),
            (f"{kind}pool-global-5x5", pool_model, dict(kind=kind, in_shape=(1, 5, 5, 4), filt=(5, 5),
                                                        strides=(5, 5))),
            (f"{kind}pool-2x2-s2-RELU6", pool_model, dict(kind=kind, act="RELU6")),
            (f"{kind}pool-2x2-s2-RELU", pool_model, dict(kind=kind, act="RELU")),
        ]
    return c


def _binary_cases():
    c = []
    for kind in ("ADD", "SUB", "MUL"):
        k = kind.lower()
        c += [
            (f"{k}-same-shape", binary_model, dict(kind=kind)),
            (f"{k}-same-quant", binary_model, dict(kind=kind, same_quant=True)),
            (f"{k}-bcast-channel", binary_model, dict(kind=kind, shape_b=(1, 1, 1, 8))),
            (f"{k}-bcast-spatial", binary_model, dict(kind=kind, shape_b=(1, 4, 4, 1))),
            (f"{k}-bcast-both", binary_model, dict(kind=kind, shape_a=(1, 4, 1, 8), shape_b=(1, 1, 5, 1))),
            (f"{k}-bcast-scalar", binary_model, dict(kind=kind, shape_b=(1, 1, 1, 1))),
            (f"{k}-const-operand", binary_model, dict(kind=kind, shape_b=(1, 1, 1, 8), const_b=True)),
            (f"{k}-2d", binary_model, dict(kind=kind, shape_a=(1, 10), shape_b=(1, 10))),
            (f"{k}-2d-const-operand", binary_model, dict(kind=kind, shape_a=(1, 10), shape_b=(1, 10), const_b=True)),
        ]
        for act in ("RELU", "RELU6", "RELU_N1_TO_1"):
            c.append((f"{k}-{act}", binary_model, dict(kind=kind, act=act)))
    return c


def _shape_cases():
    return [
        ("reshape-4d-to-2d", reshape_model, {}),
        ("reshape-minus-one", reshape_model, dict(new_shape=(1, -1))),
        ("reshape-option-only", reshape_model, dict(as_input=False)),
        ("reshape-input-only", reshape_model, dict(as_option=False)),
        ("reshape-2d-to-4d", reshape_model, dict(in_shape=(1, 24), new_shape=(1, 2, 3, 4))),
        ("squeeze-dims-1-2", squeeze_model, {}),
        ("squeeze-negative-dims", squeeze_model, dict(dims=(-2, -3))),
        ("squeeze-all", squeeze_model, dict(dims=())),
        ("pad-spatial", pad_model, {}),
        ("pad-channels", pad_model, dict(paddings=((0, 0), (1, 1), (0, 0), (2, 3)))),
        ("pad-2d", pad_model, dict(in_shape=(1, 8), paddings=((0, 0), (3, 2)))),
    ]


def _other_cases():
    c = [
        ("softmax-10", softmax_model, {}),
        ("softmax-rows-3x12", softmax_model, dict(shape=(1, 3, 12))),
        ("softmax-beta-0.5", softmax_model, dict(beta=0.5)),
    ]
    for kind in ("LOGISTIC", "TANH", "RELU", "RELU6", "HARD_SWISH"):
        c.append((f"{kind.lower()}", unary_model, dict(kind=kind)))
        c.append((f"{kind.lower()}-4d-relu-input", unary_model, dict(kind=kind, shape=(1, 4, 4, 4),
                                                                     in_q=quant_from_range(0, 7.5))))
    c += [
        ("concat-equal-q-axis3", concat_model, {}),
        ("concat-equal-q-axis-1", concat_model, dict(axis=-1)),
        ("concat-equal-q-axis1", concat_model, dict(shapes=((1, 3, 4, 2), (1, 5, 4, 2)), axis=1)),
        ("concat-equal-q-three", concat_model, dict(shapes=((1, 4, 4, 3), (1, 4, 4, 1), (1, 4, 4, 2)))),
        ("concat-equal-q-2d", concat_model, dict(shapes=((1, 6), (1, 10)), axis=1)),
        ("concat-different-q-requantized-axis3", concat_model, dict(same_quant=False)),
        ("concat-different-q-requantized-axis1", concat_model, dict(shapes=((1, 3, 4, 2), (1, 5, 4, 2)), axis=1,
                                                                    same_quant=False)),
        ("concat-different-q-requantized-three", concat_model,
         dict(shapes=((1, 4, 4, 3), (1, 4, 4, 1), (1, 4, 4, 2)), same_quant=False)),
    ]
    for keep in (True, False):
        for same in (True, False):
            c.append((f"mean-axes12-keep_dims={keep}-{'same' if same else 'different'}-q", mean_model,
                      dict(keep_dims=keep, same_quant=same)))
    c += [
        ("quantize-float-to-int8", quantize_model, dict(from_float=True)),
        ("quantize-int8-to-int8", quantize_model, {}),
        ("quantize-int8-to-int8-2d", quantize_model, dict(shape=(1, 100))),
        ("dequantize-int8-to-float", dequantize_model, {}),
    ]
    for kind in ("kws", "residual", "branches", "float_io"):
        c.append((f"chain-{kind}", chain_model, dict(kind=kind)))
    return c


def op_cases() -> list[tuple[str, callable]]:
    """[(id, () -> model bytes)]: every op and parameter combination the importer supports;
    each model's seed comes from its id."""
    cases = []
    for name, fn, kwargs in (_conv_cases() + _depthwise_cases() + _fc_cases() + _pool_cases() + _binary_cases()
                             + _shape_cases() + _other_cases()):
        cases.append((name, lambda fn=fn, kwargs=kwargs, name=name: fn(seed_of(name), **kwargs)))
    ids = [c[0] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


# Known compiler bugs by case id: {id: (reason, the exception compiling raises)}. Each is a
# strict xfail on that exception only: remove it when fixed. None open.
KNOWN_BUGS: dict[str, tuple[str, type]] = {}


def _params():
    for case_id, make in op_cases():
        marks = []
        if case_id in KNOWN_BUGS:
            reason, raises = KNOWN_BUGS[case_id]
            marks = [pytest.mark.xfail(strict=True, raises=raises, reason=reason)]
        yield pytest.param(case_id, make, id=case_id, marks=marks)


def compile_model(model: bytes, tmp_path, name: str):
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    return firmnet.compile(path, tmp_path / name, name=name)


@pytest.mark.parametrize("case_id, make", list(_params()))
def test_op_matches_tflm(case_id, make, tmp_path):
    model = make()
    cm = compile_model(model, tmp_path, "op_" + re.sub(r"\W", "_", case_id).lower())
    xs = random_inputs(model, N_INPUTS, seed_of(case_id, "inputs"))
    expected = run_tflm(model, xs)
    actual = run_firmnet(cm.build_host(), model, xs)
    assert len(actual) == len(expected), f"{len(actual)} outputs, TFLM has {len(expected)}"
    problems = [first_mismatch(a, e, f"output {k}") for k, (a, e) in enumerate(zip(actual, expected))]
    problems = [p for p in problems if p]
    assert not problems, f"{case_id}: C != TFLM on {N_INPUTS} inputs: " + "; ".join(problems)


def test_unsupported_op_names_op_and_index(tmp_path):
    """GATHER is operator 1 of the model (after a QUANTIZE): the error names the op and its index."""
    model = gather_model()
    xs = random_inputs(model, 1, 0)
    run_tflm(model, xs)                       # a valid model: TFLM runs it
    with pytest.raises(FirmnetError) as err:
        compile_model(model, tmp_path, "gather")
    msg = str(err.value)
    assert "GATHER" in msg, msg
    assert re.search(r"operator #?1\b", msg), f"operator index 1 not in: {msg}"


def test_tflm_refuses_concat_of_different_quantizations():
    """Why the 'concat-different-q' cases requantize first: TFLM's int8 CONCATENATION is a
    copy and refuses (at prepare) inputs quantized differently from its output; the
    converter puts an int8 -> int8 QUANTIZE before such inputs."""
    model = concat_model(seed_of("concat-bare"), same_quant=False, requantize=False)
    with pytest.raises(RuntimeError):
        run_tflm(model, random_inputs(model, 1, 0))


def test_every_unsupported_op_is_named_in_one_error(tmp_path):
    """Two GATHERs after a QUANTIZE: one error names both (operators #1 and #2), so a model is
    fixed in one round; the QUANTIZE, which converts, is not named."""
    rng, b = np.random.default_rng(0), tflite_models.Builder()
    x = b.input((4, 6), tflite_models.input_quant(rng))
    r = b.act((4, 6), tflite_models.input_quant(rng), "requantized")
    b.op("QUANTIZE", [x], [r])
    idx = b.const(np.array([2, 0], np.int32), "indices")
    g1 = b.op("GATHER", [r, idx], [b.act((2, 6), x.q, "g1")], tflite_models._options("GatherOptionsT", axis=0,
                                                                                       batchDims=0))
    g2 = b.op("GATHER", [g1, idx], [b.act((2, 6), x.q, "g2")], tflite_models._options("GatherOptionsT", axis=0,
                                                                                        batchDims=0))
    with pytest.raises(FirmnetError) as err:
        compile_model(b.build(g2), tmp_path, "gathers")
    lines = str(err.value).splitlines()
    assert lines[0] == "2 operators cannot be compiled:"
    assert lines[1] == "  operator #1 (GATHER) is not supported" and lines[2] == "  operator #2 (GATHER) is not supported"
    assert lines[3].startswith("supported operators: ") and "QUANTIZE" not in "".join(lines[:3])
