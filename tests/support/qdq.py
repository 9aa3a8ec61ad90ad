"""QDQ int8 models against onnxruntime: sessions with and without int8 QDQ fusion, int8
inputs quantized as the model does, onnxruntime's outputs turned back into int8."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from firmnet.ops import OPS
from firmnet.ops import quantize as quantize_op


SESSIONS = {"default": {}, "int8": {"session.qdqisint8allowed": "1"}}


def ort_session(model_or_path, session):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    for key, value in SESSIONS[session].items():
        opts.add_session_config_entry(key, value)
    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def recover_int8(y, quant):
    """The int8 values onnxruntime's DequantizeLinear turned into y (checked to be exact)."""
    scale, zp = np.float32(quant.scale[0]), quant.zero_point[0]
    q = np.clip(np.rint(y.astype(np.float32) / scale) + zp, -128, 127).astype(np.int8)
    back = ((q.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)
    assert np.array_equal(back, y), "onnxruntime's output is not a dequantized int8 value of the output quantization"
    return q


def firmnet_float_nodes(cm):
    """Lowered nodes that compute in float32 (float islands between dequantize and quantize)."""
    g = cm.lowered_graph
    return [n for n in g.nodes if g.types[n.outputs[0]].dtype == "float32"
            and n.op not in ("dequantize", "reshape", "transpose")]


def int8_inputs(cm, xs):
    """Each float input quantized as the model's QuantizeLinear does (round half to even)."""
    g = cm.lowered_graph
    t = g.types[g.inputs[0]]
    assert t.dtype == "int8" and t.quant is not None, f"expected an int8 graph input, got {t}"
    attrs = quantize_op.Attrs(t.quant, "ort")
    return [OPS["quantize"].reference(attrs, x)[0] for x in xs]
