"""Random small float32 ONNX graphs (support/random_graphs.py draws them): compiled C ==
onnxruntime == numpy reference; and minimal reproducers of the compiler bugs the generator found.
"""
from __future__ import annotations

import tempfile

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper, numpy_helper

import firmnet
from support.compare import assert_close
from support.random_graphs import OPSET, GraphCase, onnxruntime_outputs, random_graphs


# ---- the test -------------------------------------------------------------------------

def check_case(case: GraphCase):
    """Compile, build, run; C, the numpy reference of the loaded graph and of the lowered
    graph must all match onnxruntime."""
    onnx.checker.check_model(case.model)
    expected = onnxruntime_outputs(case.model, case.inputs)
    for out, e in zip(case.model.graph.output, expected):   # the generator's shapes are right
        assert list(e.shape) == [d.dim_value for d in out.type.tensor_type.shape.dim], out.name
    with tempfile.TemporaryDirectory() as out:
        cm = firmnet.compile(case.model, out, name="g")
        got = cm.build_host().run(case.inputs)
    reference = firmnet.reference.run(cm.graph, case.inputs)
    lowered = firmnet.reference.run(cm.lowered_graph, case.inputs)
    names = [o.name for o in case.model.graph.output]
    assert len(got) == len(expected) == len(names)
    for name, c, r, lo, e in zip(names, got, reference, lowered, expected):
        assert_close(r, e, f"output {name}: numpy reference vs onnxruntime")
        assert_close(lo, e, f"output {name}: reference of the lowered graph vs onnxruntime")
        assert_close(c, e, f"output {name}: C vs onnxruntime")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=random_graphs())
def test_random_graph_matches_onnxruntime(case):
    check_case(case)


# ---- minimal reproducers of compiler bugs the generator found (fixed in d585808) ------

def _two_input_model(nodes, outputs):
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("x", "y")]
    vo = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in outputs]
    model = helper.make_model(helper.make_graph(nodes, "repro", vi, vo), opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def test_input_no_output_depends_on():
    """Was: the input became an unused parameter of g_invoke, and the generated C failed
    -Wall -Wextra -Werror (unused-parameter)."""
    model = _two_input_model([helper.make_node("Relu", ["y"], ["out"])], ["out"])
    check_case(GraphCase(model, [np.ones(4, np.float32), -np.ones(4, np.float32)]))


def test_float_unsqueeze_broadcast_loads():
    """Was: the loader ran ONNX shape inference with data_prop=True, which treats small
    1-D float activations as shape data and refused this valid broadcast ("Invalid rank
    for Add broadcasting: (2) vs (4)"), so firmnet refused a model onnxruntime runs."""
    nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["u"]),     # u[2, 1]
             helper.make_node("Add", ["u", "z"], ["y"])]                # [2, 1] + [4] → [2, 4]
    graph = helper.make_graph(nodes, "repro", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                                               helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                              [numpy_helper.from_array(np.array([1], np.int64), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    check_case(GraphCase(model, [np.array([1, -2], np.float32), np.arange(4, dtype=np.float32)]))
