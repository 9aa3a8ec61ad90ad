"""onnxruntime as the oracle: a whole model's outputs, and sessions at a chosen optimization level."""
from __future__ import annotations

from pathlib import Path

from onnx import TensorProto, helper


def onnxruntime_outputs(model, inputs):
    import onnxruntime as ort
    data = model if isinstance(model, (str, Path)) else model.SerializeToString()
    sess = ort.InferenceSession(str(data) if isinstance(data, Path) else data, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))


ORT_LEVELS = ("ORT_DISABLE_ALL", "ORT_ENABLE_ALL")


def ort_session(model, level, optimized_path=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    so.log_severity_level = 3
    if optimized_path is not None:
        so.optimized_model_filepath = str(optimized_path)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def graph_session(nodes, inputs, inits, outputs=None, optimize=True):
    """An onnxruntime session (one thread) of the graph of `nodes` (opsets: ONNX 13 and
    com.microsoft 1); the outputs default to one int8 tensor Y; optimize=False turns
    onnxruntime's graph optimizer off."""
    import onnxruntime as ort
    if outputs is None:
        outputs = [helper.make_tensor_value_info("Y", TensorProto.INT8, None)]
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
