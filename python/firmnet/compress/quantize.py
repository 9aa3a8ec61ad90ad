"""Post-training int8 quantization into a QDQ ONNX model.

Calibration and QDQ insertion are onnxruntime's quantize_static (a well-kept
implementation of exactly this; `pip install firmnet[compress]`): symmetric
per-channel int8 weights, int32 biases with scale s_in * s_w, int8 activations
with ranges from the calibration data (min/max, or a percentile of |x|).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx

from ..ir import FirmnetError

METHODS = ("minmax", "percentile")


def _static_input_shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    init = {t.name for t in model.graph.initializer}
    shapes = {}
    for vi in model.graph.input:
        if vi.name not in init:
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1
                                    for d in vi.type.tensor_type.shape.dim)
    return shapes


def read_samples(path, model: onnx.ModelProto, what="calibration") -> list[dict[str, np.ndarray]]:
    """Samples from an .npz: one array per model input (by name, or the only array for a
    single-input model) with the samples along the first axis."""
    shapes = _static_input_shapes(model)
    try:
        data = np.load(path)
    except (OSError, ValueError) as exc:
        raise FirmnetError(f"cannot read {what} data {path}: {exc}") from None
    arrays = {}
    for name, shape in shapes.items():
        if name in data.files:
            arrays[name] = data[name]
        elif len(shapes) == 1 and "x" in data.files:
            arrays[name] = data["x"]
        elif len(shapes) == 1 and len(data.files) == 1:
            arrays[name] = data[data.files[0]]
        else:
            raise FirmnetError(f"{what} data {path} has no array for input '{name}' (it has: "
                               f"{', '.join(data.files)}); name the arrays after the model's inputs")
    samples = []
    count = None
    for name, shape in shapes.items():
        a = arrays[name]
        per_sample = shape[1:] if shape and shape[0] in (1, -1) else shape
        if a.shape[1:] != tuple(per_sample) and not (len(a.shape) == len(per_sample) + 1 and all(
                s == -1 or s == d for s, d in zip(per_sample, a.shape[1:]))):
            raise FirmnetError(f"{what} array for input '{name}' has shape {list(a.shape)}; expected "
                               f"[samples, {', '.join(map(str, per_sample))}]")
        count = len(a) if count is None else min(count, len(a))
    for i in range(count or 0):
        samples.append({name: np.ascontiguousarray(arrays[name][i:i + 1], dtype=np.float32) for name in shapes})
    if not samples:
        raise FirmnetError(f"{what} data {path} holds no samples")
    return samples


def quantize_int8(model_path, calib_path, out_path, method: str = "minmax", percentile: float = 99.999,
                  per_channel: bool = True, exclude=()) -> Path:
    """Write a QDQ int8 model calibrated on the samples in calib_path; the nodes named in
    `exclude` stay float (binary layers: their weights stay ±1)."""
    if method not in METHODS:
        raise FirmnetError(f"unknown calibration method '{method}' (methods: {', '.join(METHODS)})")
    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
    except ImportError:
        raise FirmnetError("firmnet compress --quantize needs onnxruntime: pip install 'firmnet[compress]'") from None
    model = onnx.load(str(model_path))
    samples = read_samples(calib_path, model)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(samples)

        def get_next(self):
            return next(self._it, None)

    options = {"ActivationSymmetric": False, "WeightSymmetric": True}
    if method == "percentile":
        options["CalibPercentile"] = percentile
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)   # quantize_static logs advice about its own pre-processing tool
    try:
        quantize_static(str(model_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                        calibrate_method=CalibrationMethod.MinMax if method == "minmax" else CalibrationMethod.Percentile,
                        nodes_to_exclude=list(exclude), extra_options=options)
    finally:
        root.setLevel(level)
    return out_path
