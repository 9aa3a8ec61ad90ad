"""The IR op table: one module per op, listed explicitly.

Every op module provides:
    Attrs                                  frozen dataclass of the op's attributes
    infer(attrs, in_types) -> [TensorType] output types; raises FirmnetError on bad shapes or
                                           attributes (the maths only: no kernel's limits)
    reference(attrs, *arrays) -> [ndarray] the numpy oracle, computed from the attributes and the
                                           tensors' quantizations (reference/: arithmetic only)
    macs(attrs, in_types, out_types) -> int multiply-accumulates, for the report
and, unless kernels/ holds its variants (conv2d, dense):
    lower(node, graph) -> KernelCall|Alias the runtime_c call that computes it (its parameter
                                           struct from kernels/params_*.py)
    kernel_check(attrs, in_types)          (optional) FirmnetError for what its kernel cannot run
To add an op: copy ops/softmax.py (the smallest complete example), then add it here and to
kernels.CANDIDATES.
"""
from ..ir import FirmnetError
from ..kernels.select import refusal
from . import (
    batchnorm,
    bconv2d,
    binarize,
    binary,
    bmaxpool,
    compare,
    concat,
    conv2d,
    conv_transpose,
    dense,
    dequantize,
    normalization,
    pad,
    pool2d,
    quantize,
    reduce,
    reshape,
    resize,
    slice,
    softmax,
    transpose,
    unary,
    unbinarize,
    where,
)

OPS = {
    "batchnorm": batchnorm,
    "bconv2d": bconv2d,
    "binarize": binarize,
    "binary": binary,
    "bmaxpool": bmaxpool,
    "compare": compare,
    "concat": concat,
    "conv2d": conv2d,
    "conv_transpose": conv_transpose,
    "dense": dense,
    "dequantize": dequantize,
    "normalization": normalization,
    "pad": pad,
    "pool2d": pool2d,
    "quantize": quantize,
    "reduce": reduce,
    "reshape": reshape,
    "resize": resize,
    "slice": slice,
    "softmax": softmax,
    "transpose": transpose,
    "unary": unary,
    "unbinarize": unbinarize,
    "where": where,
}


def check_supported(op: str, attrs, in_types) -> None:
    """FirmnetError unless the op's maths hold (infer) and a kernel can run it: a candidate of
    kernels.CANDIDATES supports it (kernels/select.py refusal), and the op module's
    kernel_check, where it has one, accepts it. The QDQ pass asks this before it makes an
    integer op, so that a layer no int8 kernel takes stays in float."""
    OPS[op].infer(attrs, in_types)
    reason = refusal(op, attrs, in_types)
    if reason is not None:
        raise FirmnetError(reason)
    kernel_check = getattr(OPS[op], "kernel_check", None)
    if kernel_check is not None:
        kernel_check(attrs, in_types)
