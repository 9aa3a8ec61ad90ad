"""The int8 element-wise kernels on the emulated Cortex-M4F (mps2-an386): a firmware main
that calls each case's kernel once on embedded data, saves its output by semihosting and
times it with SysTick (build and run: support/qemu_harness.py). A case is
    Case(function, params type, params, inputs, want)
params: the builder's dict (C field names; numpy arrays become static const arrays the
struct points to, lists become array fields, dicts nested structs); inputs: the int8
arrays passed after the params pointer, in order; want: the reference output (int8), which
also sizes the output buffer. Used by tests/test_elementwise_qemu.py and bench/elementwise.py."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support.qemu_harness import RUNTIME, build_firmware, run_firmware

SOURCES = [RUNTIME / "src" / f"{name}.c" for name in (
    "fn_add_s8", "fn_add_s8_table", "fn_mul_s8", "fn_lut_s8", "fn_hard_swish_s8", "fn_logistic_s8", "fn_tanh_s8",
    "fn_quantize_s8", "fn_pad", "fn_concat")]

MAIN = """/* Test firmware: int8 element-wise kernels; outputs and SysTick ticks by semihosting. */
#include <stdint.h>
#include <string.h>
#include "fn_activation_ort_s8.h"
#include "fn_activation_s8.h"
#include "fn_board.h"
#include "fn_elementwise_s8.h"
#include "fn_semihost.h"
#include "fn_tensor.h"

%(decls)s
static uint32_t ticks[%(n)d];

static int save(const char *name, const void *data, uint32_t n)
{
    int32_t h = fn_sh_open(name, 1);
    if (h < 0 || fn_sh_write(h, data, n) != 0) {
        return 1;
    }
    fn_sh_close(h);
    return 0;
}

int main(void)
{
    fn_timer_start();
%(calls)s
    return save("ticks.bin", ticks, sizeof ticks) ? 5 : 0;
}
"""

CALL = """    {
        static const %(ptype)s p = %(init)s;
        static int8_t y[%(size)d];
        const uint64_t t0 = fn_timer_ticks();
        if (%(fn)s(&p, %(args)s y) != FN_OK) {
            return 3;
        }
        ticks[%(k)d] = (uint32_t)(fn_timer_ticks() - t0);
        if (save("out%(k)d.bin", y, sizeof y)) {
            return 4;
        }
    }
"""

CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t", np.dtype(np.uint8): "uint8_t"}


@dataclass
class Case:
    function: str
    ptype: str
    params: dict
    inputs: tuple
    want: np.ndarray
    input_array: bool = False      # the inputs passed as one array of pointers (fn_concat)


def _scalar(v) -> str:
    if isinstance(v, (float, np.floating)):
        return float(np.float32(v)).hex() + "f"
    v = int(v)
    return "(int32_t)-2147483647 - 1" if v == -2**31 else str(v)


def _array(decls: list, name: str, a: np.ndarray) -> str:
    a = np.asarray(a)
    body = ",".join(str(int(v)) for v in a.ravel()) or "0"
    decls.append(f"static const {CTYPES[a.dtype]} {name}[{max(a.size, 1)}] = {{{body}}};\n")
    return name


def _init(decls: list, prefix: str, params: dict) -> str:
    fields = []
    for key, v in params.items():
        if isinstance(v, dict):
            fields.append(f".{key} = {_init(decls, f'{prefix}_{key}', v)}")
        elif isinstance(v, np.ndarray):
            fields.append(f".{key} = {_array(decls, f'{prefix}_{key}', v)}")
        elif isinstance(v, (bytes, bytearray)):
            fields.append(f".{key} = {{{', '.join(str(x) for x in v)}}}")
        elif isinstance(v, (list, tuple)) and key == "in_block_bytes":      # a pointer field
            fields.append(f".{key} = {_array(decls, f'{prefix}_{key}', np.asarray(v, np.int32))}")
        elif isinstance(v, (list, tuple)):
            fields.append(f".{key} = {{{', '.join(_scalar(x) for x in v)}}}")
        else:
            fields.append(f".{key} = {_scalar(v)}")
    return "{" + ", ".join(fields) + "}"


def firmware_main(cases) -> str:
    decls, calls = [], []
    for k, c in enumerate(cases):
        names = [_array(decls, f"x{k}_{i}", np.ascontiguousarray(x, np.int8)) for i, x in enumerate(c.inputs)]
        if c.input_array:
            decls.append(f"static const void *const xs{k}[{len(names)}] = {{{', '.join(names)}}};\n")
            names = [f"xs{k}"]
        args = "".join(f"{n}, " for n in names)
        init = _init(decls, f"p{k}", c.params)
        calls.append(CALL % dict(ptype=c.ptype, init=init, size=max(c.want.size, 1), fn=c.function, args=args, k=k))
    return MAIN % dict(decls="".join(decls), n=len(cases), calls="".join(calls))


def run_cases(work: Path, cases, dsp: bool = True) -> tuple[list[np.ndarray], list[int]]:
    """Each case's output (shaped like its want) and instructions of its one call."""
    elf = build_firmware(work, firmware_main(cases), SOURCES, dsp=dsp)
    outs, instructions = run_firmware(elf, work, len(cases))
    return [np.frombuffer(o, np.int8)[:c.want.size].reshape(c.want.shape) for o, c in zip(outs, cases)], instructions


# ---------------------------------------------------------------- cases from a layer's quantities

def add_case(a, b, kw: dict, table: bool) -> Case:
    """a OP b (kw: add_s8's keywords) through fn_add_s8_table (table) or fn_add_s8."""
    from firmnet.kernels.params_elementwise_s8 import add_s8_params, add_s8_table_params
    from firmnet.reference.elementwise_s8 import add_s8
    want = add_s8(a, b, **kw)
    if table:
        p = add_s8_table_params(a.shape, b.shape, kw["a_q"], kw["b_q"], kw["y_q"], op=kw.get("op", "add"),
                                act=kw.get("act", (-128, 127)))
        return Case("fn_add_s8_table", "fn_add_s8_table_params", p, (a, b), want)
    return Case("fn_add_s8", "fn_add_s8_params", add_s8_params(a.shape, b.shape, **kw), (a, b), want)


def mul_case(a, b, kw: dict) -> Case:
    from firmnet.kernels.params_elementwise_s8 import mul_s8_params
    from firmnet.reference.elementwise_s8 import mul_s8
    return Case("fn_mul_s8", "fn_mul_s8_params", mul_s8_params(a.shape, b.shape, **kw), (a, b), mul_s8(a, b, **kw))


def unary_attrs(kind: str, x_q, y_q, mode: str = "tflm", act=(-128, 127)):
    """ops/unary.py's Attrs of an int8 layer (what the compiler lowers)."""
    from firmnet.ir import OpQuant, QuantParams
    from firmnet.ops.unary import Attrs
    q = OpQuant((QuantParams((float(x_q[0]),), (int(x_q[1]),)),), QuantParams((float(y_q[0]),), (int(y_q[1]),)), mode)
    return Attrs(kind=kind, act=tuple(act), quant=q)


def unary_case(x, attrs, computed: bool = False) -> Case:
    """The int8 unary layer `attrs` on x as the compiler lowers it (a table: fn_lut_s8), or with
    computed=True through TFLM's computing kernel (fn_hard_swish_s8, fn_logistic_s8, fn_tanh_s8,
    fn_requantize_s8); want: the reference (ops/unary.py reference())."""
    from firmnet.kernels import params_quantize_s8
    from firmnet.ops import unary
    want = unary.reference(attrs, x)[0]
    if not computed:
        function, ptype, params = unary._int8(attrs, x.size)
        return Case(function, ptype, params, (x,), want)
    (s_in, zp_in), (s_out, zp_out) = unary._quant_pairs(attrs)
    if attrs.kind == "identity":
        p = params_quantize_s8.requantize_s8_params(x.size, (s_in, zp_in), (s_out, zp_out), attrs.quant.mode)
        return Case("fn_requantize_s8", "fn_requantize_s8_params", p, (x,), want)
    function, ptype, build, _ = unary.INT8_KERNELS[attrs.kind]
    return Case(function, ptype, build(x.size, s_in, zp_in, s_out, zp_out), (x,), want)
