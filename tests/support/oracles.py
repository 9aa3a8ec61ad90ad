"""onnxruntime as the oracle: a whole model's outputs, and sessions at a chosen optimization level."""
from __future__ import annotations

from pathlib import Path


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
