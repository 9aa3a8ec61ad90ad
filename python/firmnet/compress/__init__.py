"""Compression front step: writes a compressed ONNX model that `firmnet compile` reads."""
from .evaluate import accuracy, read_labels
from .quantize import quantize_int8, read_samples

__all__ = ["accuracy", "quantize_int8", "read_labels", "read_samples"]
