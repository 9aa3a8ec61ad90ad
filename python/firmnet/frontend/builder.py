"""Builds an IR graph node by node, inferring each output type as it goes."""
from __future__ import annotations

import numpy as np

from ..ir import FirmnetError, Graph, Node, TensorType, frozen_array, type_of
from ..ops import OPS


class GraphBuilder:
    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Node] = []
        self.types: dict[str, TensorType] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.inputs: list[str] = []
        self._node_names: set[str] = set()
        self._counter = 0
        self.opset = 0
        self.requant = "tflm"     # rounding mode of quantize nodes (compile option --requant)

    def fresh(self, hint: str) -> str:
        """A tensor or node name not used yet, derived from hint."""
        while True:
            self._counter += 1
            name = f"{hint}#{self._counter}"
            if name not in self.types and name not in self._node_names:
                return name

    def add_input(self, name: str, t: TensorType) -> None:
        self.types[name] = t
        self.inputs.append(name)

    def const(self, array, hint: str = "const") -> str:
        arr = frozen_array(array)
        name = hint if hint not in self.types else self.fresh(hint)
        self.constants[name] = arr
        self.types[name] = type_of(arr)
        return name

    def producer(self, name: str | None) -> Node | None:
        for node in reversed(self.nodes):
            if name in node.outputs:
                return node
        return None

    def value(self, name: str | None):
        """The constant value of a tensor, or None if it is computed at run time."""
        return self.constants.get(name) if name else None

    def add(self, op: str, inputs, attrs, outputs=None, name: str | None = None) -> list[str]:
        """Append a node; its output types come from the op's own shape inference."""
        inputs = tuple(i or "" for i in inputs)
        name = name or self.fresh(op)
        if name in self._node_names:
            name = self.fresh(name)
        in_types = [self.types[i] if i else None for i in inputs]
        out_types = OPS[op].infer(attrs, in_types)
        outputs = tuple(outputs) if outputs is not None else tuple(self.fresh(f"{name}:out") for _ in out_types)
        for o, t in zip(outputs, out_types):
            if o in self.types:
                raise FirmnetError(f"tensor '{o}' is produced twice")
            self.types[o] = t
        self.nodes.append(Node(op, name, inputs, outputs, attrs))
        self._node_names.add(name)
        return list(outputs)

    def build(self, outputs) -> Graph:
        g = Graph(self.name, tuple(self.nodes), dict(self.types), dict(self.constants),
                  tuple(self.inputs), tuple(outputs))
        return g.with_nodes(g.nodes)


def rebuild_from(graph: Graph) -> GraphBuilder:
    """A builder holding graph's inputs and constants but no nodes: passes re-add nodes one by one."""
    b = GraphBuilder(graph.name)
    for name in graph.inputs:
        b.add_input(name, graph.types[name])
    for name, arr in graph.constants.items():
        b.constants[name] = arr
        b.types[name] = graph.types[name]
    return b
