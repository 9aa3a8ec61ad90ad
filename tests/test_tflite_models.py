"""The MLPerf Tiny int8 models (../shared/models) end to end against TensorFlow Lite Micro:
the generated C gives TFLM's bytes on 1,000 seeded random inputs per model, the ANCHORS.md
check vector gives the listed KWS output, the C runs clean under ASan+UBSan, and firmnet's
arena is no larger than TFLM's planned activations (the head of its arena).

Run time (2 cores): TFLM's Python interpreter takes ~2.8 ms per KWS inference and ~0.12 ms
per AD01 inference, so 1,000 inputs each cost ~3 s of TFLM; the sanitizer builds dominate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import firmnet
from support.sanitize import run_sanitized
from support.tflite_oracle import Tflm, first_mismatch, run_firmnet, tflm_arena, tflm_intermediates

MODELS_DIR = Path(__file__).resolve().parents[2] / "shared" / "models"
MODELS = ["kws_ref_model", "ad01_int8"]
N_RANDOM = 1000
N_TRACED = 100

# ANCHORS.md: input byte i = (i*7 + 3) % 256 - 128 (flat index i)
KWS_CHECK_SOFTMAX_INPUT = [-55, -41, -3, 3, -62, -71, -36, -90, -68, 105, -128, 63]
KWS_CHECK_OUTPUT = [-128, -128, -128, -128, -128, -128, -128, -128, -128, 127, -128, -127]

@pytest.fixture(autouse=True)
def _shared_models_present():
    """The MLPerf Tiny models come from ../shared beside the checkout (CI has it): fail, never skip."""
    assert MODELS_DIR.is_dir(), f"{MODELS_DIR} not found: check out the repository beside ../shared"


def model_path(name):
    return MODELS_DIR / f"{name}.tflite"


def check_vector(shape):
    i = np.arange(int(np.prod(shape)))
    return ((i * 7 + 3) % 256 - 128).astype(np.int8).reshape(shape)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cm = firmnet.compile(model_path(name), tmp_path_factory.mktemp(name), name=name)
            cache[name] = (cm, cm.build_host(), model_path(name).read_bytes())
        return cache[name]
    return get


@pytest.mark.parametrize("name", MODELS)
def test_random_inputs_match_tflm(compiled, name):
    cm, host, model = compiled(name)
    tflm = Tflm(model)
    (shape, dtype, _), = tflm.inputs
    xs = np.random.default_rng(2024).integers(-128, 128, (N_RANDOM, *shape), dtype=np.int8)
    expected, = tflm.run(xs)
    actual, = run_firmnet(host, model, xs)
    differing = int(np.count_nonzero(actual != expected))
    rows = int(np.count_nonzero((actual != expected).reshape(N_RANDOM, -1).any(axis=1)))
    print(f"\n{name}: {N_RANDOM} random inputs, {expected.size} output bytes, {differing} differ "
          f"({rows} inputs with a difference)")
    problem = first_mismatch(actual, expected, f"{name} outputs (sample, *shape)")
    assert problem is None, problem


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_matches_tflm(compiled, name):
    """Random inputs saturate KWS's softmax (78 distinct outputs in 1,000), so every tensor
    the C computes (trace build, by TFLite tensor name) is compared with TFLM's as well."""
    cm, _, model = compiled(name)
    host = cm.build_host(trace=True)
    (shape, _, _), = Tflm(model).inputs
    xs = np.random.default_rng(99).integers(-128, 128, (N_TRACED, *shape), dtype=np.int8)
    expected = tflm_intermediates(model, xs)
    traces = [host.run_trace([x])[1] for x in xs]
    common = [t for t in expected if t in traces[0]]
    assert len(common) >= len(cm.lowered_graph.nodes) - 1, f"only {len(common)} tensors in common"
    problems = []
    for t in common:
        actual = np.stack([tr[t] for tr in traces]).reshape(expected[t].shape)
        problems.append(first_mismatch(actual, expected[t], f"tensor '{t[:60]}'"))
    problems = [p for p in problems if p]
    print(f"\n{name}: {len(common)} tensors x {N_TRACED} inputs compared with TFLM, {len(problems)} differ")
    assert not problems, "; ".join(problems)


def test_kws_check_vector(compiled):
    cm, _, model = compiled("kws_ref_model")
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    x = check_vector(shape)[None]
    assert tflm.run(x)[0].ravel().tolist() == KWS_CHECK_OUTPUT, "TFLM itself disagrees with ANCHORS.md"
    host = cm.build_host(trace=True)
    outputs, values = host.run_trace([x[0]])
    assert outputs[0].ravel().tolist() == KWS_CHECK_OUTPUT
    softmax = next(n for n in cm.lowered_graph.nodes if n.op == "softmax")
    assert values[softmax.inputs[0]].ravel().tolist() == KWS_CHECK_SOFTMAX_INPUT


@pytest.mark.parametrize("name", MODELS)
def test_sanitized_run_matches_tflm(compiled, name, tmp_path):
    cm, _, model = compiled(name)
    tflm = Tflm(model)
    (shape, _, _), = tflm.inputs
    rng = np.random.default_rng(7)
    for k, x in enumerate([check_vector(shape), *rng.integers(-128, 128, (2, *shape), dtype=np.int8)]):
        (tmp_path / f"run{k}").mkdir()
        out, = run_sanitized(cm, [x], tmp_path / f"run{k}")
        expected, = tflm.run(x[None])
        problem = first_mismatch(out.reshape(expected.shape[1:]), expected[0], f"{name} sanitized run {k}")
        assert problem is None, problem


@pytest.mark.parametrize("name", MODELS)
def test_arena_not_above_tflm_head(compiled, name):
    cm, _, model = compiled(name)
    tflm = tflm_arena(model)
    ours = cm.report["arena_bytes"]
    print(f"\n{name}: firmnet arena {ours} B (input/output included; lower bound "
          f"{cm.report['lower_bound_bytes']} B); TFLM arena head (activations, input/output included) "
          f"{tflm['head']} B, total {tflm['total']} B (64-bit host)")
    assert cm.report["lower_bound_bytes"] <= ours <= tflm["head"]
