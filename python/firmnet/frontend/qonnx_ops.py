"""QONNX operators (domain qonnx.custom_op.general; Brevitas writes onnx.brevitas, FINN
finn.custom_op.general) -> IR nodes. Only BipolarQuant, the binary quantizer:

    BipolarQuant(X, scale) = (+1 if X >= 0 else -1) * scale

(qonnx's bipolar_quant.py: x >= 0.0 gives +1, so 0 gives +1 and NaN -1). A constant X (the
weights) folds to its +-scale values here; a run-time X becomes the float unary kind
"bipolar" times scale, which passes/binarize.py reads as the input of a binary layer."""
from __future__ import annotations

import numpy as np

from ..ir import UnsupportedError
from ..ops import binary, unary

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general")


def bipolar(x: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(x) >= 0, 1.0, -1.0).astype(np.float32)


def BipolarQuant(b, n, X, scale):
    s = b.value(scale)
    if s is None:
        raise UnsupportedError(f"BipolarQuant '{n.name}': its scale ('{scale}') must be a constant")
    s = np.asarray(s, np.float32)
    if not (np.isfinite(s).all() and (s > 0).all()):
        raise UnsupportedError(f"BipolarQuant '{n.name}': its scale must be positive and finite, got "
                               f"{s.ravel()[:4].tolist()}")
    x = b.value(X)
    if x is not None:
        b.const((bipolar(x) * s).astype(np.float32), n.output[0])
        return
    if (s == 1).all() and s.size == 1:
        b.add("unary", [X], unary.Attrs("bipolar"), outputs=[n.output[0]], name=n.name)
        return
    y = b.add("unary", [X], unary.Attrs("bipolar"), name=f"{n.name}/bipolar")[0]
    b.add("binary", [y, b.const(s, f"{n.name}/scale")], binary.Attrs("mul"), outputs=[n.output[0]], name=n.name)


CONVERTERS = {"BipolarQuant": BipolarQuant}
