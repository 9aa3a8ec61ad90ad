"""Host harness: build the generated C with cffi and run it on numpy arrays.

The runtime kernels are compiled once per content (cbuild cache); each model adds
only its own translation unit. A trace build (-DFIRMNET_TRACE) reports every
step's output tensor, which is how `firmnet verify` finds the first node that
differs from the reference.
"""
from __future__ import annotations

import numpy as np

from . import cbuild
from .boundary import from_c_outputs, to_c_inputs
from .dtypes import c_type, from_c_bytes
from .ir import DTYPES, FirmnetError
from .reference import check_inputs
from .resources import runtime_include_dir


class HostModel:
    def __init__(self, compiled, ext, trace: bool):
        self.compiled = compiled
        self.ext = ext
        self.trace_enabled = trace
        self.graph = compiled.lowered_graph
        self.prefix = compiled.name_prefix
        self._trace: dict[int, bytes] = {}
        if trace:
            @ext.ffi.def_extern(name=f"{self.prefix}_trace")
            def _on_step(step, data, nbytes):
                self._trace[step] = bytes(ext.ffi.buffer(data, nbytes))

    def run(self, inputs) -> list[np.ndarray]:
        """Outputs of one inference, in the model's own layout and types: a float input that
        the C takes as int8 (a model quantized at its boundary) is quantized as the model's
        QuantizeLinear does, an int8 output the model dequantizes comes back as float."""
        outputs = self._invoke(to_c_inputs(self.compiled, inputs))
        return from_c_outputs(self.compiled, outputs)

    def run_raw(self, inputs) -> list[np.ndarray]:
        """One inference in the C API's own types (int8 at quantized boundaries), as <name>_invoke."""
        return self._invoke(inputs)

    def run_trace(self, inputs):
        """(outputs, {tensor name: value}) with every step's output, as the C computed it."""
        if not self.trace_enabled:
            raise FirmnetError("this host build has no tracing: use build_host(trace=True)")
        self._trace = {}
        outputs = self._invoke(inputs)
        values = {}
        for step, raw in self._trace.items():
            out = self.graph.nodes[step].outputs[0]
            t = self.graph.types[out]
            values[out] = from_c_bytes(raw, t.shape, t.dtype)
        return outputs, values

    def _invoke(self, inputs):
        ffi, lib = self.ext.ffi, self.ext.lib
        arrays = check_inputs(self.graph, inputs)
        outputs = [np.zeros(self.graph.types[o].shape, DTYPES[self.graph.types[o].dtype])
                   for o in self.graph.outputs]
        args = [ffi.from_buffer(f"{c_type(a.dtype)}[]", a) for a in arrays]
        args += [ffi.from_buffer(f"{c_type(o.dtype)}[]", o) for o in outputs]
        status = getattr(lib, f"{self.prefix}_invoke")(*args)
        if status != 0:
            raise FirmnetError(f"{self.prefix}_invoke returned status {status}")
        return outputs


def build_host(compiled, trace: bool = False) -> HostModel:
    out = compiled.out_dir
    prefix = compiled.name_prefix
    header = (out / f"{prefix}.h").read_text()
    decl = next(line for line in header.splitlines() if line.startswith(f"int {prefix}_invoke("))
    cdef = decl + "\n"
    if trace:
        cdef += f'extern "Python+C" void {prefix}_trace(int32_t step, const void *data, size_t bytes);\n'
    defines = ("FIRMNET_TRACE",) if trace else ()
    objects = cbuild.compile_objects([out / f"{prefix}.c"], [out, runtime_include_dir()], defines=defines)
    ext = cbuild.build_extension(cdef, f'#include "{prefix}.h"\n', [*objects, *cbuild.runtime_objects()],
                                 [out, runtime_include_dir()])
    return HostModel(compiled, ext, trace)
