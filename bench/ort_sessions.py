"""Why onnxruntime's default session gives other int8 bytes than session.qdqisint8allowed=1.

For each QDQ int8 model given (e.g. bench/zoo.py's cache, CACHE/models/*int8.onnx) it prints:

  nodes       onnxruntime's optimized graph (ORT_ENABLE_EXTENDED, where the QDQ fusions happen)
              by operator, default session and qdqisint8allowed=1
  float       of those, the compute nodes that run on dequantized floats
  kept int8   activation QuantizeLinear outputs the default session leaves int8 (all others
              become uint8, its "qdq_s8_to_u8" nodes), by how many nodes read their dequantized
              value in the model
  first diff  every QuantizeLinear output made a graph output, both sessions run on seeded
              inputs (bench/zoo.py's test inputs): the layers whose int8 output differs while
              every int8 tensor they read is equal (where a difference starts), with the share
              of bytes and LSB, and the share of the model's output bytes equal between the two
              sessions. Exposing the tensors changes onnxruntime's fusions (a QuantizeLinear
              whose output is a graph output stays), so this runs another graph than the model's:
              its float node counts are printed; the differences it finds show the mechanism,
              the model's own figures are bench/zoo.py's =ort def / =ort i8

Run from the repository root: .venv/bin/python bench/ort_sessions.py MODEL.onnx [MODEL.onnx ...]
Nothing here asserts. onnxruntime's behaviour is measured, not emulated: firmnet's ort mode
follows the fused integer kernels (qdqisint8allowed=1).
"""
from __future__ import annotations

import argparse
import collections
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

DATA_MOVEMENT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"}
SEED, INPUTS = 2028, 4


def options(int8_allowed: bool) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if int8_allowed:
        opts.add_session_config_entry("session.qdqisint8allowed", "1")
    return opts


def optimized(model: onnx.ModelProto, int8_allowed: bool) -> onnx.GraphProto:
    opts = options(int8_allowed)
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with tempfile.TemporaryDirectory() as d:
        opts.optimized_model_filepath = os.path.join(d, "optimized.onnx")
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return onnx.load(opts.optimized_model_filepath).graph


def float_nodes(g: onnx.GraphProto) -> collections.Counter:
    floating = {i.name for i in g.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    floating -= {t.name for t in g.initializer}
    found = collections.Counter()
    for node in g.node:
        if node.op_type == "DequantizeLinear":
            floating.update(node.output)
        elif node.op_type != "QuantizeLinear" and any(i in floating for i in node.input):
            floating.update(node.output)
            if node.op_type not in DATA_MOVEMENT:
                found[node.op_type] += 1
    return found


def kept_int8(model: onnx.ModelProto, g: onnx.GraphProto) -> collections.Counter:
    """(kept int8 in the default session, readers of the dequantized value) -> count."""
    readers = collections.defaultdict(list)
    for n in model.graph.node:
        for i in n.input:
            readers[i].append(n)
    init = {t.name: t for t in g.initializer}
    left = {n.input[0] for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] not in init
            and len(n.input) > 2 and n.input[2] in init and init[n.input[2]].data_type == onnx.TensorProto.INT8}
    counts = collections.Counter()
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear":
            dqs = [r for r in readers[n.output[0]] if r.op_type == "DequantizeLinear"]
            counts[("int8" if n.output[0] in left else "uint8", sum(len(readers[d.output[0]]) for d in dqs))] += 1
    return counts


def first_differences(model: onnx.ModelProto):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    producer = {o: n for n in m.graph.node for o in n.output}
    quantized = [n.output[0] for n in m.graph.node if n.op_type == "QuantizeLinear"]
    final = m.graph.output[0].name
    for t in quantized:
        if t not in {o.name for o in m.graph.output}:
            m.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.INT8, None))
    sessions = [ort.InferenceSession(m.SerializeToString(), options(a), providers=["CPUExecutionProvider"])
                for a in (False, True)]
    exposed = [float_nodes(optimized(m, a)) for a in (False, True)]
    names = [o.name for o in sessions[0].get_outputs()]
    x_info = m.graph.input[0]
    shape = [d.dim_value for d in x_info.type.tensor_type.shape.dim]
    rng = np.random.default_rng(SEED)

    def int8_inputs(t):
        """The QuantizeLinear outputs the layer computing t reads (through layout and dequantize)."""
        found, stack = set(), list(producer[producer[t].input[0]].input)
        while stack:
            p = producer.get(stack.pop())
            if p is None:
                continue
            if p.op_type == "QuantizeLinear":
                found.add(p.output[0])
            else:
                stack.extend(p.input)
        return found

    starts, equal = [], []
    for _ in range(INPUTS):
        x = rng.standard_normal(shape).astype(np.float32)
        a, b = (dict(zip(names, s.run(None, {x_info.name: x}))) for s in sessions)
        differ = {t for t in quantized if not np.array_equal(a[t], b[t])}
        for t in quantized:
            if t in differ and not int8_inputs(t) & differ:
                layer = producer[producer[t].input[0]]
                lsb = int(np.abs(a[t].astype(np.int32) - b[t].astype(np.int32)).max())
                starts.append(f"{layer.op_type} {layer.name}: {np.mean(a[t] != b[t]):.2%} of bytes, {lsb} LSB")
        equal.append(float(np.mean(a[final] == b[final])))
    return starts, equal, exposed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/ort_sessions.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    args = p.parse_args(argv)
    for path in args.models:
        model = onnx.load(path)
        print(os.path.basename(path))
        graphs = {"default": optimized(model, False), "int8": optimized(model, True)}
        for name, g in graphs.items():
            nodes = collections.Counter(n.op_type for n in g.node)
            floats = float_nodes(g)
            print(f"  {name:7s} {sum(nodes.values())} nodes: {dict(nodes.most_common())}")
            print(f"  {'':7s} {sum(floats.values())} on floats: {dict(floats.most_common())}")
        kept = kept_int8(model, graphs["default"])
        print("  default session, activation tensors by (type, readers of its DequantizeLinear): "
              + ", ".join(f"{t} read by {r}: {n}" for (t, r), n in sorted(kept.items())))
        starts, equal, exposed = first_differences(model)
        print("  with every QuantizeLinear output exposed, on floats: "
              + "; ".join(f"{name} {sum(c.values())} {dict(c.most_common())}"
                          for name, c in zip(("default", "int8"), exposed)))
        print(f"  its output bytes equal between the sessions, per input: {', '.join(f'{e:.1%}' for e in equal)}")
        for s in starts:
            print(f"  first difference: {s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
