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
    arrays = []
    for name, x in zip(graph.inputs, inputs):
        t = graph.types[name]
        x = np.asarray(x)
        if tuple(x.shape) != t.shape:
            raise FirmnetError(f"input '{name}' must have shape {list(t.shape)}, got {list(x.shape)}")
        if x.dtype != np.dtype(t.dtype):
            if not np.can_cast(x.dtype, t.dtype, "same_kind"):
                raise FirmnetError(f"input '{name}' must be {t.dtype}, got {x.dtype}")
            x = x.astype(t.dtype)
        arrays.append(np.ascontiguousarray(x))
    return arrays


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
