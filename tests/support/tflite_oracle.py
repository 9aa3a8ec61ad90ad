"""TensorFlow Lite Micro as the oracle of .tflite models (tflite_models.py builds small
ones; ../shared/models holds real ones), and the generated C on the same inputs.

`run_tflm(model, inputs)` runs the `tflite-micro` Python interpreter (the pinned test
dependency), one interpreter for a whole batch; `tflm_intermediates` reads every computed
tensor; `tflm_arena(model)` returns its RecordingMicroAllocator's arena figures.
`run_firmnet(host, model, inputs)` runs the generated C on the same inputs.
"""
from __future__ import annotations

import ctypes
import os
import re
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime as tflm_runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

from support.tflite_models import NP_TYPES, real_range


# ----------------------------------------------------------------------------- TFLM


def io_details(model: bytes):
    """([(shape, dtype, (scale, zp) or None)] of the inputs, the same of the outputs)."""
    m = S.Model.GetRootAsModel(model, 0)
    g = m.Subgraphs(0)

    def describe(i):
        t = g.Tensors(i)
        q = t.Quantization()
        qp = (float(q.Scale(0)), int(q.ZeroPoint(0))) if q is not None and q.ScaleLength() else None
        return tuple(int(d) for d in t.ShapeAsNumpy()), np.dtype(NP_TYPES[t.Type()]), qp
    return ([describe(g.Inputs(i)) for i in range(g.InputsLength())],
            [describe(g.Outputs(i)) for i in range(g.OutputsLength())])


def random_inputs(model: bytes, n: int, seed: int) -> list[np.ndarray]:
    """n random inputs per model input, stacked: int8 uniform over [-128, 127]; float32 inputs
    (a QUANTIZE at the boundary) uniform over the range of the quantization they feed, with
    exact halfway points (the rounding cases) mixed in."""
    rng = np.random.default_rng(seed)
    inputs, _ = io_details(model)
    result = []
    for shape, dtype, _ in inputs:
        if dtype == np.int8:
            result.append(rng.integers(-128, 128, (n, *shape), dtype=np.int8))
        else:
            scale, zp = float_input_quant(model)
            lo, hi = real_range((scale, zp))
            x = rng.uniform(lo * 1.1, hi * 1.1, (n, *shape)).astype(np.float32)
            ties = ((rng.integers(-128, 127, x.shape) - zp + 0.5) * scale).astype(np.float32)
            result.append(np.where(rng.random(x.shape) < 0.2, ties, x))
    return result


def float_input_quant(model: bytes) -> tuple[float, int]:
    """The quantization of the tensor the (first) float input is quantized into."""
    m = S.Model.GetRootAsModel(model, 0)
    g = m.Subgraphs(0)
    first = g.Inputs(0)
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        if op.InputsLength() and op.Inputs(0) == first:
            q = g.Tensors(op.Outputs(0)).Quantization()
            return float(q.Scale(0)), int(q.ZeroPoint(0))
    raise ValueError("no op reads the float input")


class Tflm:
    """One TFLM interpreter for a model, reused for every input. The Python API has no
    resize or batch: set_input wants the exact shape of the model's input, so samples go
    one by one (set_input, invoke, get_output: about 3 us of overhead per sample; a new
    interpreter costs 0.25 ms for a one-op model, 2 ms for KWS)."""

    def __init__(self, model: bytes, arena_size: int | None = None):
        self.model = model
        self.interpreter = tflm_runtime.Interpreter.from_bytes(
            model, arena_size=arena_size or max(len(model) * 10, 256 * 1024))
        self.inputs, self.outputs = io_details(model)

    def run(self, inputs) -> list[np.ndarray]:
        """inputs: one array per model input with a leading sample axis, or one array for a
        one-input model. Returns one array per model output, samples stacked."""
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        n = len(inputs[0])
        outs = [np.empty((n, *shape), dtype) for shape, dtype, _ in self.outputs]
        it = self.interpreter
        for s in range(n):
            for i, x in enumerate(inputs):
                it.set_input(np.ascontiguousarray(x[s]), i)
            it.invoke()
            for k, o in enumerate(outs):
                o[s] = it.get_output(k)
        return outs


def tflm_intermediates(model: bytes, inputs) -> dict[str, np.ndarray]:
    """Every computed tensor of the model, by name, samples stacked: TFLM's interpreter in its
    kPreserveAllTensors config (no tensor reuse in the arena), read with GetTensor."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    it = tflm_runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20),
                                             intrepreter_config=tflm_runtime.InterpreterConfig.kPreserveAllTensors)
    g = S.Model.GetRootAsModel(model, 0).Subgraphs(0)
    computed = sorted({g.Operators(i).Outputs(k) for i in range(g.OperatorsLength())
                       for k in range(g.Operators(i).OutputsLength())})
    values = {i: [] for i in computed}
    for s in range(len(inputs[0])):
        for k, x in enumerate(inputs):
            it.set_input(np.ascontiguousarray(x[s]), k)
        it.invoke()
        for i in computed:
            values[i].append(np.array(it.GetTensor(i, 0)["tensor_data"]))
    return {g.Tensors(i).Name().decode(): np.stack(v) for i, v in values.items()}


def run_tflm(model: bytes, inputs) -> list[np.ndarray]:
    """TFLM's outputs for a batch of inputs (see Tflm.run), one interpreter for all of them."""
    return Tflm(model).run(inputs)


_ALLOC_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def tflm_arena(model: bytes, arena_size: int | None = None) -> dict:
    """TFLM's arena figures for a model, from its RecordingMicroAllocator (the Python
    interpreter's default kAllocationRecording config): after one invoke,
    Interpreter.print_allocations() writes them to the C stderr (fd 2), which is captured
    here. Returns {"total", "head", "tail", "text"}: head = the non-persistent part (the
    planned activation tensors and scratch buffers), tail = persistent allocations
    (TfLiteEvalTensor structs, op data, node structs: these depend on the host's 64-bit
    pointers, so the tail and total are larger than on a 32-bit MCU), total = head + tail."""
    t = Tflm(model, arena_size)
    t.run([np.zeros((1, *shape), dtype) for shape, dtype, _ in t.inputs])
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        libc.fflush(None)
        os.dup2(capture.fileno(), 2)
        try:
            t.interpreter.print_allocations()
            libc.fflush(None)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    figures = {k: int(v) for k, v in _ALLOC_LINE.findall(text)}
    if set(figures) != {"total", "head", "tail"}:
        raise RuntimeError(f"unexpected print_allocations output:\n{text}")
    return {**figures, "text": text}


def weights_bytes(model: bytes) -> int:
    """Bytes of the model's constant tensor data (weights, biases, shapes) in the flatbuffer."""
    m = S.Model.GetRootAsModel(model, 0)
    g = m.Subgraphs(0)
    seen, total = set(), 0
    for i in range(g.TensorsLength()):
        buf = g.Tensors(i).Buffer()
        if buf and buf not in seen:
            seen.add(buf)
            total += m.Buffers(buf).DataLength()
    return total


# ----------------------------------------------------------------------------- firmnet side


def run_firmnet(host, model: bytes, inputs) -> list[np.ndarray]:
    """The generated C (a HostModel from build_host) on the same stacked inputs as run_tflm.
    Where the C interface is int8 but the model's own tensor is float32 (a QUANTIZE or
    DEQUANTIZE at the boundary folded into the interface), inputs are quantized and
    outputs dequantized exactly as TFLM's QUANTIZE / DEQUANTIZE kernels do (float32
    x / scale rounded half away from zero; float32 scale * (q - zp)), so the results
    compare with TFLM's byte for byte."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    g = host.graph
    model_in, model_out = io_details(model)
    c_in = [np.dtype(g.types[name].dtype) for name in g.inputs]
    c_out = [g.types[name] for name in g.outputs]
    converted = []
    for x, dtype, name, (_, mdtype, _) in zip(inputs, c_in, g.inputs, model_in):
        if dtype == mdtype:
            converted.append(x)
        elif dtype == np.int8 and mdtype == np.float32:
            q = g.types[name].quant
            v = (x.astype(np.float32) / np.float32(q.scale[0])).astype(np.float64)   # float32 division
            r = np.sign(v) * np.floor(np.abs(v) + 0.5)                                 # ties away from zero
            converted.append(np.clip(r + q.zero_point[0], -128, 127).astype(np.int8))
        else:
            raise AssertionError(f"C input {name} is {dtype}, the model's is {mdtype}")
    n = len(converted[0])
    results = [[] for _ in g.outputs]
    for s in range(n):
        for k, y in enumerate(host.run_raw([x[s] for x in converted])):
            results[k].append(y)
    outs = []
    for ys, t, (shape, mdtype, _) in zip(results, c_out, model_out):
        y = np.stack(ys)
        if np.dtype(t.dtype) != mdtype:
            if not (np.dtype(t.dtype) == np.int8 and mdtype == np.float32):
                raise AssertionError(f"C output is {t.dtype}, the model's is {mdtype}")
            y = np.float32(t.quant.scale[0]) * (y.astype(np.int32) - t.quant.zero_point[0]).astype(np.float32)
        outs.append(y.reshape((n, *shape)))
    return outs


def first_mismatch(actual: np.ndarray, expected: np.ndarray, what: str) -> str | None:
    """None if equal byte for byte, else a message naming the first differing index and the count."""
    if actual.shape != expected.shape:
        return f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.tobytes() == expected.tobytes():
        return None
    unsigned = f"u{actual.dtype.itemsize}"
    diff = np.ascontiguousarray(actual).view(unsigned) != np.ascontiguousarray(expected).view(unsigned)
    idx = tuple(int(i) for i in np.argwhere(diff)[0])
    worst = np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max()
    return (f"{what}: {int(diff.sum())} of {diff.size} elements differ (max |diff| {worst:g}); first at "
            f"{idx}: got {actual[idx]}, expected {expected[idx]}")


def tflm_run(model: bytes, x: np.ndarray, arena_size: int = 64 * 1024) -> np.ndarray:
    interpreter = tflm_runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return interpreter.get_output(0)
