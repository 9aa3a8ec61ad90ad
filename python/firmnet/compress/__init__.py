"""Compression front step: writes a compressed ONNX model that `firmnet compile` reads."""
from .binarize import binarize
from .codebook import codebook
from .evaluate import accuracy, read_labels
from .prune import prune
from .quantize import quantize_int8, read_samples
from .structured import prune_structured

__all__ = ["accuracy", "binarize", "codebook", "prune", "prune_structured", "quantize_int8", "read_labels",
           "read_samples"]
