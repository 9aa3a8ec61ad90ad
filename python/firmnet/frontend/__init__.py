"""Model readers: each turns a file into an IR graph."""
from __future__ import annotations

from pathlib import Path

from ..ir import FirmnetError, Graph


def load(model, input_shapes=None, requant: str = "tflm") -> Graph:
    """Read an ONNX model (path or onnx.ModelProto) into the IR, with static shapes."""
    from .onnx_loader import load_onnx
    if isinstance(model, (str, Path)) and Path(model).suffix.lower() not in (".onnx", ""):
        raise FirmnetError(f"{model}: unknown model format '{Path(model).suffix}' (supported: .onnx)")
    return load_onnx(model, input_shapes=input_shapes, requant=requant)
