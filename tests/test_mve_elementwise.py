"""int8 Mul and lookup-table (logistic, tanh, hard swish, requantization) MVE variants on the
emulated Cortex-M55 (QEMU mps3-an547), as tests/test_mve_kernels.py for the convolutions:
fn_mul_s8_mve and fn_lut_s8_mve, with their portable kernels beside them, give the numpy
reference's bytes (reference/ computes from the tensors' scales and zero points; the C gets
the parameter builders' structs and the compiler's 256-byte tables); the host build of the
variants is the portable kernels; the selection takes them on mps3-an547 only, and compiled
models give TFLM's bytes there."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmnet
from firmnet import qemu
from firmnet.kernels.params_elementwise_s8 import mul_s8_params
from firmnet.reference import activation_s8, quantize_s8
from firmnet.reference import elementwise_s8 as ref
from support import mve_eltwise_harness as eh
from support.qemu_harness import BOARD_TOOLS, require_tools

SETTINGS = dict(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# lengths around the 4- and 16-lane vectors: a predicated last vector for most
LENGTHS = st.one_of(st.integers(1, 40), st.integers(1, 3000), st.sampled_from([15, 16, 17, 31, 33, 255, 4097]))


@pytest.fixture(scope="session")
def m55(tmp_path_factory):
    """The elementwise test firmware for mps3-an547, built once per session: (elf, work folder)."""
    require_tools()
    work = tmp_path_factory.mktemp("mve-eltwise-firmware")
    return eh.build(work), work


def run_pair(m55, kinds, want, **case):
    """The case through an MVE variant and its portable kernel: both FN_OK and equal to want."""
    results = eh.run(*m55, [eh.encode(k, **case) for k in kinds])
    for k, (status, out, _) in zip(kinds, results):
        assert status == 0, f"{k}: status {status}"
        got = np.frombuffer(out, np.int8)
        assert np.array_equal(got, want.ravel()), f"{k}: {int((got != want.ravel()).sum())} of {want.size} differ"


@st.composite
def mul_cases(draw):
    n = draw(LENGTHS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    zps = st.integers(-128, 127)
    sa = 2.0 ** draw(st.floats(-12, 4))
    sb = 2.0 ** draw(st.floats(-12, 4))
    # s_a * s_b / s_y from 2^-31 (every output the zero point) to just under 2^14 (the largest TFLite takes)
    # (small right shifts, -1.5 .. -4.5, make many ties for the rounding divide)
    ratio = 2.0 ** draw(st.one_of(st.floats(-31, 13.9), st.sampled_from([-31.0, -20.0, -1.0, 0.0, 1.0, 13.9]),
                                  st.sampled_from([-1.5, -2.5, -3.5, -4.5])))
    a_q, b_q, y_q = (sa, draw(zps)), (sb, draw(zps)), (sa * sb / ratio, draw(zps))
    lo = draw(st.integers(-128, 127))
    act = draw(st.sampled_from([(-128, 127), (lo, 127), (min(lo, 0), max(lo, 0))]))
    a = rng.integers(-128, 128, n).astype(np.int8)
    b = rng.integers(-128, 128, n).astype(np.int8)
    if draw(st.booleans()):            # the extreme operands: every product at +-255 * 255
        a[::2], b[::3] = -128, 127
        a[1::2] = 127 if -a_q[1] < 0 else -128
    return a, b, a_q, b_q, y_q, act


@settings(**SETTINGS)
@given(case=mul_cases())
def test_mul_mve_on_cortex_m55_matches_reference(m55, case):
    a, b, a_q, b_q, y_q, act = case
    want = ref.mul_s8(a, b, a_q=a_q, b_q=b_q, y_q=y_q, act=act)
    params = mul_s8_params(a.shape, b.shape, a_q, b_q, y_q, act=act)
    run_pair(m55, ("mul_mve", "mul"), want, a=a, b=b, mul=params)


def _lut_reference(kind: str, x, x_q, y_q):
    """The kind's integer arithmetic on x (reference/), from the quantizations."""
    if kind == "requantize":
        return quantize_s8.requantize_s8(x, x_q=x_q, y_q=y_q)
    function = {"sigmoid": activation_s8.logistic_s8, "tanh": activation_s8.tanh_s8,
                "hard_swish": activation_s8.hard_swish_s8}[kind]
    return function(x, input_scale=x_q[0], input_zero_point=x_q[1], output_scale=y_q[0], output_zero_point=y_q[1])


@st.composite
def lut_cases(draw):
    kind = draw(st.sampled_from(["sigmoid", "tanh", "hard_swish", "requantize"]))
    n = draw(LENGTHS)
    x_q = (2.0 ** draw(st.floats(-10, 0)), draw(st.integers(-128, 127)))
    # hard swish: TFLM takes (input_scale / 128) / output_scale < 1 only
    y_q = {"sigmoid": (1 / 256, -128), "tanh": (1 / 128, 0)}.get(
        kind, (x_q[0] * 2.0 ** draw(st.floats(-6.9, 4)), draw(st.integers(-128, 127))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(-128, 128, n).astype(np.int8)
    x[: min(n, 256)] = np.arange(-128, 128, dtype=np.int8)[: min(n, 256)]    # every byte where n allows
    return kind, x, x_q, y_q


@settings(**SETTINGS)
@given(case=lut_cases())
def test_lut_mve_on_cortex_m55_matches_reference(m55, case):
    """The table is the function on every byte (as ops/unary.py builds it at compile time);
    the expected bytes are the function on the input."""
    kind, x, x_q, y_q = case
    want = _lut_reference(kind, x, x_q, y_q).astype(np.int8)
    table = _lut_reference(kind, np.arange(-128, 128), x_q, y_q).astype(np.int8)
    run_pair(m55, ("lut_mve", "lut"), want, a=x, table=table)


def test_mve_elementwise_on_the_host_are_their_portable_kernels(runtime):
    """Without MVE (the host build of a project compiled for the M55), each variant runs its
    portable kernel: the same bytes, FN_ERR_ARG for a NULL argument."""
    ffi, lib = runtime.ffi, runtime.lib
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, 37).astype(np.int8)
    b = rng.integers(-128, 128, 37).astype(np.int8)
    a_q, b_q, y_q = (0.05, 3), (0.02, -7), (0.004, 11)
    want = ref.mul_s8(a, b, a_q=a_q, b_q=b_q, y_q=y_q)
    p = ffi.new("fn_mul_s8_params *")
    for k, v in mul_s8_params(a.shape, b.shape, a_q, b_q, y_q).items():
        if isinstance(v, list):
            for i, e in enumerate(v):
                getattr(p, k)[i] = int(e)
        else:
            setattr(p, k, int(v) if not isinstance(v, float) else v)
    out = np.zeros(37, np.int8)
    ptr = [ffi.cast("int8_t *", ffi.from_buffer(t)) for t in (a, b, out)]
    assert lib.fn_mul_s8_mve(p, *ptr) == lib.FN_OK
    assert np.array_equal(out, want)
    assert lib.fn_mul_s8_mve(p, ptr[0], ffi.NULL, ptr[2]) == lib.FN_ERR_ARG
    table = np.roll(np.arange(-128, 128, dtype=np.int8), 5)
    lp = ffi.new("fn_lut_s8_params *")
    lp.count = 37
    lp.table = ffi.cast("int8_t *", ffi.from_buffer(table))
    assert lib.fn_lut_s8_mve(lp, ptr[0], ptr[2]) == lib.FN_OK
    assert np.array_equal(out, table[a.astype(np.int32) + 128])
    lp.count = -1
    assert lib.fn_lut_s8_mve(lp, ptr[0], ptr[2]) == lib.FN_ERR_ARG


@pytest.mark.parametrize("model_args,kernel", [
    (("MUL", (1, 16, 16, 32), (1, 16, 16, 32)), "fn_mul_s8_mve"),     # the vector path
    (("MUL", (1, 3, 5, 7), (1, 3, 5, 7)), "fn_mul_s8_mve"),           # 105 elements: a predicated last vector
    (("MUL", (1, 4, 4, 8), (1, 1, 1, 8)), "fn_mul_s8_mve"),           # broadcasting: fn_mul_s8 inside the variant
    (("HARD_SWISH", (1, 7, 7, 19)), "fn_lut_s8_mve"),
    (("LOGISTIC", (1, 100)), "fn_lut_s8_mve"),
    (("TANH", (1, 3, 3, 5)), "fn_lut_s8_mve"),
])
def test_models_on_mps3_an547_equal_tflm(model_args, kernel, tmp_path):
    """A one-layer int8 model compiled for mps3-an547 runs its layer on the MVE variant and gives
    TFLM's bytes on two random inputs; its host build (firmnet verify: the variants' portable
    paths) links and equals the reference; for mps2-an386 the variant is refused with the reason."""
    from firmnet.verify import verify
    from support.tflite_models import binary_model, unary_model
    from support.tflite_oracle import run_tflm
    require_tools(BOARD_TOOLS)
    kind = model_args[0]
    seed = sum(map(ord, repr(model_args)))
    model = (binary_model(seed, kind, shape_a=model_args[1], shape_b=model_args[2]) if kind == "MUL"
             else unary_model(seed, kind, shape=model_args[1]))
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    cm = firmnet.compile(path, tmp_path / "p", board="mps3-an547", name="m", requant="tflm")
    assert [layer["kernel"] for layer in cm.report["layers"]] == [kernel]
    m4 = firmnet.compile(path, tmp_path / "q", board="mps2-an386", name="m", requant="tflm", write=False)
    assert [layer["kernel"] for layer in m4.report["layers"]] == [kernel.removesuffix("_mve")]
    assert "needs MVE (Helium) (mps2-an386 has none)" in json.dumps(m4.report)
    meta = json.loads((cm.out_dir / "report.json").read_text())
    elf = qemu.build(cm.out_dir, "mps3-an547", werror=True)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        xs = [rng.integers(-128, 128, i["shape"]).astype(np.int8) for i in meta["inputs"]]
        want = run_tflm(model, [x.reshape(1, *x.shape) for x in xs])[0]
        got = qemu.run_elf(elf, "mps3-an547", meta, xs).outputs[0]
        assert got.tobytes() == want.reshape(got.shape).tobytes()
    result = verify(cm, xs)
    assert result.ok and result.steps_checked == 1, result
