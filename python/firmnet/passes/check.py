"""The IR check run after loading and between passes: every tensor typed and produced once,
in order, and every node's output types what its op infers (ops/*.py infer). It lives
beside the passes, not in ir.py, so that the IR module depends on no op module."""
from __future__ import annotations

from ..ir import FirmnetError, Graph, type_of
from ..ops import OPS


def verify(graph: Graph) -> None:
    """Check the IR invariants; raise AssertionError-like FirmnetError on an internal bug."""
    def fail(msg):
        raise FirmnetError(f"internal error, IR check failed: {msg}")

    defined = set(graph.inputs) | set(graph.constants)
    for name in defined:
        if name not in graph.types:
            fail(f"tensor '{name}' has no type")
    for name, arr in graph.constants.items():
        if not graph.types[name].holds(arr):
            fail(f"constant '{name}' is {type_of(arr)} but typed {graph.types[name]}")
    seen_nodes = set()
    for node in graph.nodes:
        if node.name in seen_nodes:
            fail(f"two nodes are named '{node.name}'")
        seen_nodes.add(node.name)
        if node.op not in OPS:
            fail(f"{node.describe()}: unknown op")
        for i in node.inputs:
            if i and i not in defined:
                fail(f"{node.describe()} reads '{i}' before it is produced")
        in_types = [graph.types[i] if i else None for i in node.inputs]
        out_types = OPS[node.op].infer(node.attrs, in_types)
        for out, t in zip(node.outputs, out_types):
            if out in defined:
                fail(f"tensor '{out}' is produced twice")
            if graph.types.get(out) != t:
                fail(f"{node.describe()}: output '{out}' typed {graph.types.get(out)}, op infers {t}")
            defined.add(out)
    for out in graph.outputs:
        if out not in defined:
            fail(f"graph output '{out}' is never produced")
