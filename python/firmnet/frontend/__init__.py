"""Model readers: each turns a file into an IR graph."""
from __future__ import annotations

from pathlib import Path

from ..ir import FirmnetError, Graph


def load(model, input_shapes=None, requant: str = "auto") -> Graph:
    """Read an ONNX (path or onnx.ModelProto) or TFLite (.tflite path) model into the IR.
    requant: the rounding of the model's quantize nodes; auto: onnxruntime's for ONNX."""
    from .onnx_loader import load_onnx
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".tflite":
        from .tflite_loader import load_tflite
        return load_tflite(model, input_shapes=input_shapes)
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() not in (".onnx", ""):
        raise FirmnetError(f"{model}: unknown model format '{Path(model).suffix}' (supported: .onnx, .tflite)")
    return load_onnx(model, input_shapes=input_shapes, requant="ort" if requant == "auto" else requant)
