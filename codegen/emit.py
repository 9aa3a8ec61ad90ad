"""Turns a lowered, planned graph into C source text.

Everything is decided here (names, pointer expressions, literals); the templates
in templates/ only lay the files out.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from ..ir import Graph
from ..lowering import Alias, CArray, CEnum, ConstArg, CStruct, KernelCall, TensorList
from ..resources import runtime_dir, templates_dir
from .. import dtypes
from ..dtypes import c_type
from .c_literals import (array_literal, c_identifier, comment_text, float_literal, int_literal,
                         port_names, scalar_literal)

def _body_calls(text: str) -> set:
    """fn_ names called inside the function bodies of C text (not in comments, prototypes or
    the contracts the headers describe)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    names, depth, pos = set(), 0, 0
    for m in re.finditer(r"[{}]", text):
        if depth > 0:
            names |= set(re.findall(r"\b(fn_\w+)\s*\(", text[pos:m.start()]))
        depth += 1 if m.group() == "{" else -1
        pos = m.end()
    return names


def _header_calls(text: str, include_dir: Path, seen: set) -> set:
    """fn_ names the inline code of the runtime headers text includes calls, recursively: a
    kernel needs the .c files that define them too."""
    names = set()
    for name in re.findall(r'^#include "(\w+\.h)"', text, re.M):
        header = include_dir / name
        if name not in seen and header.exists():
            seen.add(name)
            header_text = header.read_text()
            names |= _body_calls(header_text) | _header_calls(header_text, include_dir, seen)
    return names


@functools.lru_cache(maxsize=4)
def _runtime_symbols(src_dir: str) -> tuple[dict, dict]:
    """(function → defining .c file, .c file → fn_ names it or the headers it includes use)
    for the runtime sources."""
    defined, used = {}, {}
    include_dir = Path(src_dir).parent / "include"
    for path in sorted(Path(src_dir).glob("*.c")):
        text = path.read_text()
        for name in re.findall(r"^(?!static)[\w ]*?\b(fn_\w+)\s*\([^;]*?\)\s*\{", text, re.M):
            defined[name] = path.name
        used[path.name] = _body_calls(text) | _header_calls(text, include_dir, set())
    return defined, used


@dataclass
class Port:
    param: str        # C parameter name
    ctype: str
    tensor: str       # tensor name in the model
    shape: tuple
    size: int
    scale: str | None = None        # C literal of the quantization scale (int8 boundaries)
    zero_point: int | None = None
    arena_pointer: str = ""         # the tensor's place in the arena
    nbytes: int = 0


@dataclass(frozen=True)
class Constant:
    """One constant object (flash) the generated C defines."""
    name: str
    ctype: str
    count: int          # elements (1: a parameter struct)
    kind: str           # a key of CONSTANT_KINDS
    step: int           # the step that first uses it


CONSTANT_KINDS = {"tensors": "the model's constant tensors",
                  "repacked": "constants a kernel derives (repacked filters)",
                  "tables": "parameter arrays (per-channel requantization, lookup tables)",
                  "params": "parameter structs"}


@dataclass(frozen=True)
class Emitted:
    files: dict          # file name -> text
    constants: tuple     # every Constant the files define, in order of use


def constant_array(values: np.ndarray, ttype) -> np.ndarray:
    """The elements of a constant tensor's C array: its values, or for a packed type the bytes
    dtypes.pack makes of them (TensorType.nbytes of them)."""
    return dtypes.pack(values, ttype.dtype) if dtypes.dtype(ttype.dtype).packed else values


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["comment"] = comment_text   # every model-derived text inside a comment goes through it
    return env


def _value(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, CEnum):
        return v.name
    if isinstance(v, int):
        return int_literal(v)
    if isinstance(v, float):
        return float_literal(v)
    if isinstance(v, tuple):
        return "{" + ", ".join(_value(x) for x in v) + "}"
    if isinstance(v, CStruct):
        return "{" + ", ".join(f".{k} = {_value(x)}" for k, x in v.fields) + "}"
    raise TypeError(f"cannot emit parameter value {v!r}")


class _Names:
    """Unique C identifiers, deterministic for a given model."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.used = set()

    def make(self, hint):
        base = f"{self.prefix}_{c_identifier(hint)}"
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


def sources_for(calls) -> list[str]:
    """The runtime .c files the calls need, following calls between runtime files."""
    defined, used = _runtime_symbols(str(runtime_dir() / "src"))
    files, todo = set(), [c.function for c in calls]
    while todo:
        name = todo.pop()
        src = defined.get(name)
        if src is None or src in files:
            continue
        files.add(src)
        todo.extend(used[src])
    return sorted(files)


# What a constant input is to its layer, for the C symbol of the array (<prefix>_<layer>_<role>).
_INPUT_ROLES = {op: {1: "weights", 2: "bias"} for op in ("conv2d", "dense", "conv_transpose")}


def _layer(node) -> str:
    return c_identifier(node.name).strip("_") or "layer"


def _constant_roles(graph: Graph) -> dict:
    """{constant tensor: "<layer>_<role>"} after the first layer that reads it, e.g. a conv named
    '/conv1/Conv' gives conv1_Conv_weights and conv1_Conv_bias (emit makes them unique)."""
    roles = {}
    for node in graph.nodes:
        for k, t in enumerate(node.inputs):
            if t and t in graph.constants and t not in roles:
                roles[t] = f"{_layer(node)}_{_INPUT_ROLES.get(node.op, {}).get(k, f'in{k}')}"
    return roles


def emit(graph: Graph, lowered: dict, memory, name: str, provenance: str, ort_paths: bool = True) -> Emitted:
    """The texts of <name>.h, <name>.c, <name>_weights.h and CMakeLists.txt, and the constants they define.
    ort_paths False: no layer requantizes the onnxruntime way, and CMakeLists.txt defines
    FN_WITHOUT_ORT_PATHS (the kernels leave out their ORT-only fast paths: less flash)."""
    prefix = c_identifier(name).lower()
    names = _Names(prefix)

    def ports(tensors, stem):
        result = []
        for t, param in zip(tensors, port_names(tensors, stem)):
            tt = graph.types[t]
            q = tt.quant
            result.append(Port(param, c_type(tt.dtype), t, tt.shape, tt.size,
                               float_literal(q.scale[0]) if q else None, q.zero_point[0] if q else None))
        return result

    inputs, outputs = ports(graph.inputs, "input"), ports(graph.outputs, "output")

    weights = {}   # constant tensor → (C name, ctype, literal, count)
    roles = _constant_roles(graph)
    constants = []
    first_step = {}   # constant tensor → the first step reading it
    for index, node in enumerate(graph.nodes):
        for t in node.inputs:
            first_step.setdefault(t, index)

    def pointer(tensor):
        s = memory.storage[tensor]
        ctype = c_type(graph.types[tensor].dtype)
        if s.kind == "const":
            if tensor not in weights:
                arr = constant_array(graph.constants[tensor], graph.types[tensor])
                weights[tensor] = (names.make(roles.get(tensor, f"w_{tensor}")), ctype, array_literal(arr), arr.size)
                constants.append(Constant(weights[tensor][0], ctype, arr.size, "tensors", first_step.get(tensor, len(graph.nodes))))
            return weights[tensor][0]
        return f"({ctype} *)(void *)({prefix}_arena.bytes + {memory.offset(tensor)})"

    params, arrays, steps = [], [], []
    for index, node in enumerate(graph.nodes):
        call = lowered[node.name]
        out = node.outputs[0]
        step = {"index": index, "node": node.name, "op": node.op, "lines": [], "kind": "alias",
                "trace": None if memory.storage[out].strided else (pointer(out), graph.types[out].nbytes)}
        if isinstance(call, Alias):
            if node.name in memory.copies:
                step["kind"] = "copy"
                source = pointer(node.inputs[0])
                if call.offset:
                    source = f"(const uint8_t *)(const void *){source} + {call.offset}"
                step["lines"] = [f"memcpy({pointer(out)}, {source}, {graph.types[out].nbytes});"]
            steps.append(step)
            continue
        pname = names.make(f"p{index}")

        def field_value(field, value):
            """The initializer of one field; a constant array becomes a named array (named after
            its own field, also inside a nested struct: p3_multiplier)."""
            if isinstance(value, CArray):
                aname = names.make(f"p{index}_{field}")
                arrays.append({"name": aname, "ctype": value.ctype,
                               "elements": ", ".join(_value(v) if isinstance(v, CStruct) else
                                                     scalar_literal(v, value.ctype) for v in value.values)})
                constants.append(Constant(aname, value.ctype, len(value.values), "tables", index))
                return aname
            if isinstance(value, CStruct):
                return "{" + ", ".join(f".{k} = {field_value(k, x)}" for k, x in value.fields) + "}"
            return _value(value)

        fields = [(field, field_value(field, value)) for field, value in call.params]
        params.append({"type": call.params_type, "name": pname, "fields": fields})
        constants.append(Constant(pname, call.params_type, 1, "params", index))
        args, prelude = [f"&{pname}"], []
        for arg in call.args:
            if arg is None:
                args.append("NULL")
            elif isinstance(arg, ConstArg):
                wname = names.make(f"{_layer(node)}_{_INPUT_ROLES.get(node.op, {}).get(1, 'const')}_"
                                   f"{c_identifier(arg.hint.rsplit('/', 1)[-1])}")
                arr = np.asarray(arg.array)
                weights[wname] = (wname, c_type(arr.dtype), array_literal(arr), arr.size)
                constants.append(Constant(wname, c_type(arr.dtype), arr.size, "repacked", index))
                args.append(wname)
            elif isinstance(arg, TensorList):
                lname = f"list{index}"
                prelude.append(f"const {arg.ctype} *const {lname}[] = {{{', '.join(pointer(t) for t in arg.names)}}};")
                args.append(lname)
            else:
                args.append(pointer(arg))
        shift = (memory.shifts or {}).get(node.name, 0)
        after = []
        if shift:   # in place (memory.py): the kernel writes `shift` bytes low, then the output moves up
            out = node.outputs[0]
            base = f"{prefix}_arena.bytes + {memory.offset(out)}"
            ctype = c_type(graph.types[out].dtype)
            args[[i for i, a in enumerate(call.args) if a == out][-1] + 1] = \
                f"({ctype} *)(void *)({base} - {shift})"
            after.append(f"fn_move_up({base}, {base} - {shift}, {graph.types[out].nbytes});")
        if call.scratch_bytes:
            args.append(f"({prefix}_arena.bytes + {memory.plan.offsets[memory.scratch[node.name]]})")
        step.update(kind="call", function=call.function, description=call.description, prelude=prelude, after=after,
                    call=f"{call.function}({', '.join(args)})")
        steps.append(step)

    for p in inputs + outputs:   # where each interface tensor lives in the arena
        p.arena_pointer = pointer(p.tensor)
        p.nbytes = graph.types[p.tensor].nbytes
    calls = [c for c in lowered.values() if isinstance(c, KernelCall)]
    context = {
        "provenance": provenance, "prefix": prefix, "PREFIX": prefix.upper(),
        "arena_size": memory.arena_size, "arena_decl": max(memory.arena_size, 1),
        "inputs": inputs, "outputs": outputs,
        "weights": [{"name": n, "ctype": ct, "literal": lit, "count": c} for n, ct, lit, c in weights.values()],
        "params": params, "arrays": arrays, "steps": steps,
        "headers": sorted({c.header for c in calls} | ({"fn_in_place.h"} if memory.shifts else set())),
        "runtime_sources": sources_for(calls),
        "ort_paths": ort_paths,
    }
    env = _environment()
    return Emitted({
        f"{prefix}.h": env.get_template("model.h.j2").render(context),
        f"{prefix}.c": env.get_template("model.c.j2").render(context),
        f"{prefix}_weights.h": env.get_template("weights.h.j2").render(context),
        "CMakeLists.txt": env.get_template("CMakeLists.txt.j2").render(context),
    }, tuple(constants))
