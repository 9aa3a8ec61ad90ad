"""Compression front step: writes a compressed ONNX model that `firmnet compile` reads."""
from .quantize import quantize_int8, read_samples

__all__ = ["quantize_int8", "read_samples"]
