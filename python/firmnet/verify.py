"""C vs reference: integer tensors must be identical, float tensors within FLOAT_RTOL.

Float tolerance: the C kernels and numpy add the same terms in different orders
(and numpy's reference accumulates in float64), so results differ by about
n·eps32·Σ|terms|; for the layer sizes firmnet targets this stays below 1e-4 of a
tensor's largest magnitude, hence |c - ref| <= FLOAT_RTOL · max|ref| + FLOAT_ATOL.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import reference
from .boundary import to_c_inputs

FLOAT_RTOL = 1e-4
FLOAT_ATOL = 1e-6


def compare(actual: np.ndarray, expected: np.ndarray):
    """(ok, max_abs_diff, index of the largest difference)."""
    if actual.shape != expected.shape:
        return False, float("inf"), None
    if not np.issubdtype(expected.dtype, np.floating):
        diff = np.abs(actual.astype(np.int64) - expected.astype(np.int64))
        worst = int(diff.argmax()) if diff.size else 0
        return bool((diff == 0).all()), float(diff.max(initial=0)), np.unravel_index(worst, diff.shape)
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(a) & (a == e))
    diff = np.where(same_special, 0.0, np.abs(a - e))
    diff = np.nan_to_num(diff, nan=np.inf)
    finite = np.abs(e[np.isfinite(e)])
    bound = FLOAT_RTOL * (finite.max() if finite.size else 0.0) + FLOAT_ATOL
    worst = int(diff.argmax()) if diff.size else 0
    return bool((diff <= bound).all()), float(diff.max(initial=0.0)), np.unravel_index(worst, diff.shape)


@dataclass
class VerifyResult:
    ok: bool
    outputs: list = field(default_factory=list)        # (name, ok, max diff)
    first_bad_step: tuple | None = None                 # (index, node, op, tensor, max diff, where)
    steps_checked: int = 0
    # steps whose output has no trace: producers writing strided slices of an elided Concat's
    # output (concat_views.py); the Concat's own step checks the joined bytes
    untraced: list = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        for name, ok, diff in self.outputs:
            lines.append(f"output '{name}': {'equal' if ok else 'DIFFERS'} (max |C - reference| = {diff:.3g})")
        if self.first_bad_step:
            i, node, op, tensor, diff, where = self.first_bad_step
            lines.append(f"first differing node: #{i} '{node}' ({op}), tensor '{tensor}', "
                         f"max |C - reference| = {diff:.3g} at index {tuple(int(x) for x in where)}")
        if self.untraced:
            lines.append(f"not traced (they write strided slices of a Concat's output, checked joined at the "
                         f"Concat): {', '.join(self.untraced)}")
        lines.append(f"{self.steps_checked} steps traced; verdict: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def same_interface(a, b) -> bool:
    """Whether two graphs take and return the same types (not so when a quantized model's
    float boundaries became int8)."""
    return [a.types[t] for t in a.inputs + a.outputs] == [b.types[t] for t in b.inputs + b.outputs]


def verify(compiled, inputs) -> VerifyResult:
    """Inputs in the model's own types (float where the model takes float; quantized by the
    model's own QuantizeLinear where the C takes int8), or already in the C API's int8."""
    inputs = to_c_inputs(compiled, inputs, accept_raw=True)
    host = compiled.build_host(trace=True)
    c_outputs, c_values = host.run_trace(inputs)
    lowered_outputs, ref_values = reference.run(compiled.lowered_graph, inputs, trace=True)
    expected = reference.run(compiled.graph, inputs) \
        if same_interface(compiled.graph, compiled.lowered_graph) else lowered_outputs
    result = VerifyResult(ok=True)
    for name, c, e in zip(compiled.lowered_graph.outputs, c_outputs, expected):
        ok, diff, _ = compare(c, e)
        result.outputs.append((name, ok, diff))
        result.ok &= ok
    for index, node in enumerate(compiled.lowered_graph.nodes):
        tensor = node.outputs[0]
        if tensor not in c_values:
            result.untraced.append(node.name)
            continue
        result.steps_checked += 1
        ok, diff, where = compare(c_values[tensor], ref_values[tensor])
        if not ok:
            result.first_bad_step = (index, node.name, node.op, tensor, diff, where)
            result.ok = False
            break
    return result
