"""The numpy oracle: runs an IR graph with each op's reference arithmetic."""
from __future__ import annotations

import numpy as np

from ..ir import FirmnetError, Graph


def check_inputs(graph: Graph, inputs) -> list[np.ndarray]:
    """The user's arrays as the graph's input types, or a clear error."""
    inputs = list(inputs)
    if len(inputs) != len(graph.inputs):
        raise FirmnetError(f"the model takes {len(graph.inputs)} input(s) ({', '.join(graph.inputs)}), "
                           f"got {len(inputs)}")
    return [check_input(name, graph.types[name], x) for name, x in zip(graph.inputs, inputs)]


def check_input(name: str, t, x) -> np.ndarray:
    """One array as the input type t (contiguous), or a clear error."""
    x = np.asarray(x)
    if tuple(x.shape) != t.shape:
        raise FirmnetError(f"input '{name}' must have shape {list(t.shape)}, got {list(x.shape)}")
    if x.dtype != np.dtype(t.dtype):
        x = _cast(name, x, np.dtype(t.dtype))
    return np.ascontiguousarray(x).reshape(t.shape)   # (ascontiguousarray makes a 0-d array 1-d)


def _cast(name: str, x: np.ndarray, want: np.dtype) -> np.ndarray:
    """x as want, within one kind only: float arrays into a float input (float64 → float32),
    integer arrays whose values all fit into an integer input; anything else is an error
    (int8 data given to a float input is a quantized form the model does not take)."""
    kind = "float" if want.kind == "f" else "integer" if want.kind in "iu" else want.kind
    got = "float" if x.dtype.kind == "f" else "integer" if x.dtype.kind in "iu" else x.dtype.kind
    if kind != got:
        hint = (": give the float values (the model quantizes them itself); HostModel.run_raw takes the C "
                "API's int8" if kind == "float" and got == "integer" else "")
        raise FirmnetError(f"input '{name}' must be {want}, got {x.dtype}{hint}")
    if kind == "integer" and x.size and (x.min() < np.iinfo(want).min or x.max() > np.iinfo(want).max):
        raise FirmnetError(f"input '{name}' must be {want}, got {x.dtype} values outside its range "
                           f"[{x.min()}, {x.max()}]")
    return x.astype(want)


def run(graph: Graph, inputs, trace: bool = False):
    """Outputs of the graph for these inputs (a list, in graph.outputs order).

    With trace=True, returns (outputs, values) where values maps every tensor name to its value.
    """
    from ..ops import OPS
    values = dict(graph.constants)
    values.update(zip(graph.inputs, check_inputs(graph, inputs)))
    for node in graph.nodes:
        args = [values[i] if i else None for i in node.inputs]
        for name, value in zip(node.outputs, OPS[node.op].reference(node.attrs, *args)):
            values[name] = value
    outputs = [values[o] for o in graph.outputs]
    return (outputs, values) if trace else outputs
