"""Hostile input: broken and mutated model files end as one clear error (exit 2) or as a
model that compiles and verifies, never as an internal error, wrong C or an invalid model
accepted. The corpus (tests/support/hostile_models.py) holds every kind of damage found so far,
each one a regression test; hypothesis adds fresh byte damage and field mutations.
bench/fuzz.py runs any number of cases and prints the outcome table."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import hostile_models as hm

GOOD = ("clean error", "compiles and verifies")


def _defects(cases) -> list[str]:
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            result, message = hm.outcome(case, Path(tmp))
            if result not in GOOD:
                found.append(f"{result}: {case.kind} {case.name}: {message.strip()[:300]}")
    return found


def test_corpus_gives_only_clear_outcomes():
    """Every kind of the corpus, several times over (each with other random choices)."""
    defects = _defects(hm.corpus(200, seed=1))
    assert not defects, f"{len(defects)} defects:\n" + "\n".join(defects[:20])


def test_corpus_covers_every_kind_and_both_outcomes():
    """The corpus is no empty promise: all its kinds occur, and byte damage also yields
    models that compile and verify (so the verify path is exercised)."""
    cases = list(hm.corpus(200, seed=1))
    kinds = {c.kind for c in cases}
    assert len(kinds) >= len(hm._onnx_breakers()) + len(hm._tflite_breakers()) + 4
    with tempfile.TemporaryDirectory() as tmp:
        results = {hm.outcome(c, Path(tmp))[0] for c in cases if c.kind.endswith("flip")}
    assert "compiles and verifies" in results


SEEDS = [("cnn.onnx", hm._onnx_cnn().SerializeToString()), ("qdq.onnx", hm._onnx_qdq().SerializeToString())] + \
    [(f"{name}.tflite", data) for name, data in hm._tflite_seeds() if len(data) < 64_000]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                                     min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_byte_damage(seed, edits, cut):
    name, data = seed
    b = bytearray(data)
    for where, value in edits:
        b[int(where * len(b))] = value
    if cut is not None:
        b = b[:int(cut * len(b))]
    case = hm.Case("byte damage", "case", bytes(b), Path(name).suffix, False)
    assert not _defects([case])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.integers(0, len(hm._onnx_breakers()) + len(hm._tflite_breakers()) - 1), seed=st.integers(0, 2**31))
def test_field_mutations(kind, seed):
    """A hand-broken kind with hypothesis' choice of the values (random generator seed)."""
    rng = np.random.default_rng(seed)
    onnx_breakers, tfl_breakers = hm._onnx_breakers(), hm._tflite_breakers()
    if kind < len(onnx_breakers):
        name, expect, make = onnx_breakers[kind]
        case = hm.Case(name, "case", make(rng).SerializeToString(), ".onnx", True, expect)
    else:
        name, mutate = tfl_breakers[kind - len(onnx_breakers)]
        for seed_name, data in hm._tflite_seeds():
            model = hm._tflite_model(data)
            try:
                if mutate(model, rng) is not False:
                    break
            except (AttributeError, TypeError):
                continue
        case = hm.Case(name, seed_name, hm._tflite_bytes(model), ".tflite", True)
    assert not _defects([case])
