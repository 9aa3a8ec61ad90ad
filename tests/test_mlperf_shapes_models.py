"""The MLPerf-Tiny-shaped int8 test models of support/mlperf_shapes.py that bench/boards.py
--mlperf measures (vww_model: MobileNetV1 0.25 at 96x96; mbv3_model: MobileNetV3-style with
hard swish, squeeze-excite and residual ADDs) compile and give TFLite Micro's bytes (the
tflite-micro package) on random inputs, on the host; and they have the layer shapes stated
(VWW's 7.49 M MACs of ../shared/ANCHORS.md, mbv3's element-wise ops through the table kernels).
"""
from __future__ import annotations

import collections

import numpy as np
import pytest

import firmnet
from support.compare import assert_array_equal_first
from support.mlperf_shapes import mbv3_model, vww_model
from support.tflite_oracle import Tflm, random_inputs, run_firmnet

MODELS = {"vww": vww_model, "mbv3": mbv3_model}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = {}
    for name, make in MODELS.items():
        work = tmp_path_factory.mktemp(name)
        path = work / f"{name}.tflite"
        path.write_bytes(make())
        cm = firmnet.compile(path, work / "out", board="host", name=name)
        out[name] = (path.read_bytes(), cm, cm.build_host())
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_matches_tflm(compiled, name):
    model, _, host = compiled[name]
    xs = random_inputs(model, 3, 5)
    want = Tflm(model).run(xs)[0]
    got = run_firmnet(host, model, xs)[0]
    assert_array_equal_first(got, want, f"{name} on 3 random inputs")


def test_vww_has_mobilenet_v1_shapes(compiled):
    _, cm, _ = compiled["vww"]
    assert cm.report["macs"] == 7_489_664       # ANCHORS.md: 7.49 M
    kinds = collections.Counter(layer["kernel"] for layer in cm.report["layers"])
    assert sum(n for k, n in kinds.items() if "depthwise" in k) == 13


def test_mbv3_runs_its_elementwise_ops_as_tables(compiled):
    _, cm, _ = compiled["mbv3"]
    kinds = collections.Counter(layer["kernel"] for layer in cm.report["layers"])
    assert kinds["fn_add_s8_table"] == 2            # the two residual ADDs
    assert kinds["fn_mul_s8"] == 3                  # the squeeze-excite gates
    assert kinds["fn_lut_s8"] == 9                  # 6 hard swish + 3 logistic
    assert "fn_hard_swish_s8" not in kinds and "fn_logistic_s8" not in kinds
    assert np.prod((1, 96, 96, 3)) == cm.lowered_graph.types[cm.lowered_graph.inputs[0]].size
