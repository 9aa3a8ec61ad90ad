"""Kernels on the emulated Cortex-M4F board mps2-an386: a small bare-metal firmware built
with arm-none-eabi-gcc from the board support in boards/emulated/ and a generated main that
calls the kernels on data embedded as C arrays, writes their outputs to files by
semihosting and times them with SysTick; QEMU runs it. Missing tools fail the test,
saying what to install."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmnet.kernels.conv2d_1x1_s8_w16_dsp import pack_filter as pack_pw16
from firmnet.kernels.conv2d_s8_w16_dsp import pack_filter as pack_w16
from firmnet.kernels.depthwise_conv2d_s8_w16_dsp import pack_filter as pack_dw_w16
from firmnet.kernels.params_conv_s8 import (conv2d_s8_params, depthwise_conv2d_s8_params, fc_s8_params,
                                            pack_depthwise_filter)
from firmnet.kernels.params_requant import FIELD, SCALAR_FIELDS
from firmnet.kernels.params_winograd import transform_filter, winograd_s8_params
from support.s8_kernels import expected_conv, expected_dw, expected_fc
from support.paths import REPO

KERNEL_1X1 = "fn_conv2d_1x1_s8"
DSP_KERNEL_1X1 = "fn_conv2d_1x1_s8_dsp"      # runtime_c/src/fn_conv2d_1x1_s8_dsp.c (fn_s8_dsp.h)
RUNTIME = REPO / "runtime_c"
BOARD_SUPPORT = REPO / "boards" / "emulated"
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
STACK_BYTES = 16384
SYSCLK_HZ = 25_000_000          # mps2-an386: one SysTick tick = 40 instructions under -icount shift=0

# tool -> the Debian/Ubuntu packages that install it
PACKAGES = {"cmake": "cmake", "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
            "qemu-system-arm": "qemu-system-arm"}
KERNEL_TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")     # a kernel firmware built here
BOARD_TOOLS = ("cmake", *KERNEL_TOOLS)                      # a generated project's CMake build


def require_tools(tools=KERNEL_TOOLS):
    """Fail, saying what to install, when a tool the emulated boards need is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"the emulated boards (QEMU mps2-an386) need {', '.join(missing)}: install them "
                    f"(Debian/Ubuntu: apt-get install {' '.join(PACKAGES[t] for t in missing)}); "
                    f"scripts/test does it as root")


def _c_array(ctype: str, name: str, a) -> str:
    if a is None:
        return ""
    a = np.asarray(a).ravel()
    if ctype == "float":
        values = [float(v).hex() + "f" for v in a.astype(np.float32)]
    elif ctype == "int32_t":
        values = [f"(int32_t){int(v)}" if v == -2**31 else str(int(v)) for v in a]
    else:
        values = [str(int(v)) for v in a]
    body = ",".join(values)
    return f"static const {ctype} {name}[{a.size}] = {{{body}}};\n"


FIRMWARE_MAIN = """/* Test firmware: int8 kernels on embedded cases; outputs and SysTick ticks by semihosting. */
#include <stdint.h>
#include <string.h>
#include "fn_board.h"
#include "fn_conv2d_1x1_s8_w16_dsp.h"
#include "fn_conv2d_s8_w16_dsp.h"
#include "fn_conv2d_s8_winograd.h"
#include "fn_conv_1x1_s8.h"
#include "fn_conv_s8.h"
#include "fn_fc_s8.h"
#include "fn_s8_dsp.h"
#include "fn_semihost.h"

%(decls)s
static uint32_t ticks[%(n)d];
/* the scratch of the variants that take one; the bytes past a call's size are checked after it */
static uint64_t scratch[SCRATCH_BYTES / 8];

int main(void)
{
    (void)scratch;
    fn_timer_start();
%(calls)s
    return fn_sh_save("ticks.bin", ticks, sizeof ticks) ? 5 : 0;
}
"""

FIRMWARE_CALL = """    {
        const %(ptype)s p = {%(fields)s};
        static int8_t y[%(size)d];
%(scratch_check)s        const uint64_t t0 = fn_timer_ticks();
        if (%(fn)s(&p, x%(k)d, w%(k)d, %(bias)s, y%(scratch_arg)s) != FN_OK) {
            return 3;
        }
        ticks[%(k)d] = (uint32_t)(fn_timer_ticks() - t0);
%(scratch_after)s        if (fn_sh_save("out%(k)d.bin", y, sizeof y)) {
            return 4;
        }
    }
"""

SCRATCH_BYTES = 8192
# a variant with scratch: its size must be > 0 (the variant takes the shape) and fit the buffer,
# and the call must leave the bytes past it as they were
SCRATCH_CHECK = """        const size_t need = %(size_fn)s(&p);
        if (need == 0 || need > sizeof scratch) {
            return 6;
        }
        memset((uint8_t *)scratch + need, 0xA5, sizeof scratch - need);
"""
SCRATCH_AFTER = """        for (size_t i = need; i < sizeof scratch; ++i) {
            if (((const uint8_t *)scratch)[i] != 0xA5) {
                return 7;
            }
        }
"""

CONV_FIELDS = ["batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w", "stride_h",
               "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "groups"]


DW_FIELDS = ["batch", "in_h", "in_w", "in_c", "out_h", "out_w", "depth_multiplier", "kernel_h", "kernel_w",
             "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left"]
FC_FIELDS = ["batch", "in_features", "out_features"]


def _conv_out(p):
    return p["batch"] * p["out_h"] * p["out_w"] * p["out_c"]


def _dw_out(p):
    return p["batch"] * p["out_h"] * p["out_w"] * p["in_c"] * p["depth_multiplier"]


def _fc_out(p):
    return p["batch"] * p["out_features"]


# kind: (function, params type, its scalar fields beside the requantization ones, filter as the
# kernel reads it, output bytes, its scratch size function or None); the *_dsp kinds exist on
# CPUs with the DSP extension only (fn_s8_dsp.h)
FIRMWARE_KERNELS = {
    "1x1": (KERNEL_1X1, "fn_conv2d_s8_params", CONV_FIELDS, lambda w: w, _conv_out, None),
    "1x1_dsp": (DSP_KERNEL_1X1, "fn_conv2d_s8_params", CONV_FIELDS, lambda w: w, _conv_out,
                "fn_conv2d_1x1_s8_dsp_scratch_size"),
    "conv": ("fn_conv2d_s8", "fn_conv2d_s8_params", CONV_FIELDS, lambda w: w, _conv_out, None),
    "conv_dsp": ("fn_conv2d_s8_dsp", "fn_conv2d_s8_params", CONV_FIELDS, lambda w: w, _conv_out,
                 "fn_conv2d_s8_dsp_scratch_size"),
    "dw": ("fn_depthwise_conv2d_s8", "fn_depthwise_conv2d_s8_params", DW_FIELDS, pack_depthwise_filter, _dw_out,
           None),
    "dw_rows_dsp": ("fn_depthwise_conv2d_s8_rows_dsp", "fn_depthwise_conv2d_s8_params", DW_FIELDS,
                    pack_depthwise_filter, _dw_out, "fn_depthwise_conv2d_s8_rows_dsp_scratch_size"),
    "dw_blocks_dsp": ("fn_depthwise_conv2d_s8_blocks_dsp", "fn_depthwise_conv2d_s8_params", DW_FIELDS,
                      pack_depthwise_filter, _dw_out, "fn_depthwise_conv2d_s8_blocks_dsp_scratch_size"),
    "dw_w16_dsp": ("fn_depthwise_conv2d_s8_w16_dsp", "fn_depthwise_conv2d_s8_params", DW_FIELDS,
                   lambda w: pack_dw_w16(w.transpose(3, 1, 2, 0)), _dw_out,
                   "fn_depthwise_conv2d_s8_w16_dsp_scratch_size"),
    "wino": ("fn_conv2d_s8_winograd", "fn_conv2d_s8_params", CONV_FIELDS, transform_filter, _conv_out,
             "fn_conv2d_s8_winograd_scratch_size"),
    "wino_dsp": ("fn_conv2d_s8_winograd_dsp", "fn_conv2d_s8_params", CONV_FIELDS, transform_filter, _conv_out,
                 "fn_conv2d_s8_winograd_dsp_scratch_size"),
    "w16": ("fn_conv2d_s8_w16_dsp", "fn_conv2d_s8_params", CONV_FIELDS, pack_w16, _conv_out,
            "fn_conv2d_s8_w16_dsp_scratch_size"),
    "pw16": ("fn_conv2d_1x1_s8_w16_dsp", "fn_conv2d_s8_params", CONV_FIELDS, pack_pw16, _conv_out,
             "fn_conv2d_1x1_s8_w16_dsp_scratch_size"),
    "fc": ("fn_fc_s8", "fn_fc_s8_params", FC_FIELDS, lambda w: w, _fc_out, None),
    "fc_dsp": ("fn_fc_s8_dsp", "fn_fc_s8_params", FC_FIELDS, lambda w: w, _fc_out, None),
}

BLOCK_ARRAY_CTYPES = (("multiplier", "int32_t"), ("shift", "int32_t"), ("scale", "float"))   # in the requant block
ARRAY_CTYPES = (("filter_offset", "int32_t"),)


BUILDERS = {"1x1": (conv2d_s8_params, expected_conv), "conv": (conv2d_s8_params, expected_conv),
            "wino": (winograd_s8_params, expected_conv), "w16": (conv2d_s8_params, expected_conv),
            "pw16": (conv2d_s8_params, expected_conv),
            "dw": (depthwise_conv2d_s8_params, expected_dw), "fc": (fc_s8_params, expected_fc)}


def board_case(kind, x, w, bias, kw, arrays=None) -> tuple:
    """A firmware case (kind, x, w, bias, params, arrays, want): the kernel's struct from the
    builder (its requant arrays replaced by explicit ones if given) and the reference output,
    computed from the layer's quantities kw."""
    builder, expected = BUILDERS[kind]
    params, built = builder(x.shape, w.shape, **kw)
    struct_arrays = built if arrays is None else {**built, **arrays}
    return kind, x, w, bias, params, struct_arrays, expected(x, w, bias, kw, arrays)


def firmware_main(cases) -> str:
    """main.c for board_case tuples (kind: a FIRMWARE_KERNELS key): each is run once, its output
    written to out<k>.bin and its SysTick ticks to ticks.bin (uint32 each). Designated
    initializers: independent of the structs' field order."""
    decls, calls = [], []
    for k, (kind, x, w, bias, params, arrays, _) in enumerate(cases):
        fn, ptype, scalars, filt, size, size_fn = FIRMWARE_KERNELS[kind]
        packed = filt(w)   # int8, or the Winograd kernels' int16 transformed filter
        decls += [_c_array("int8_t", f"x{k}", x), _c_array(f"int{packed.dtype.itemsize * 8}_t", f"w{k}", packed),
                  _c_array("int32_t", f"b{k}", bias)]
        fields = [f".{f} = {int(params[f])}" for f in scalars + ["input_offset"]]
        block = [f".{f} = {int(params[FIELD][f])}" for f in SCALAR_FIELDS]
        for field, ctype in BLOCK_ARRAY_CTYPES:
            if arrays.get(field) is not None:
                decls.append(_c_array(ctype, f"{field}{k}", arrays[field]))
                block.append(f".{field} = {field}{k}")
        fields.append(f".{FIELD} = {{{', '.join(block)}}}")
        for field, ctype in ARRAY_CTYPES:
            if arrays.get(field) is not None:
                decls.append(_c_array(ctype, f"{field}{k}", arrays[field]))
                fields.append(f".{field} = {field}{k}")
        calls.append(FIRMWARE_CALL % dict(ptype=ptype, fields=", ".join(fields), size=size(params), fn=fn, k=k,
                                          bias=f"b{k}" if bias is not None else "0",
                                          scratch_check=SCRATCH_CHECK % dict(size_fn=size_fn) if size_fn else "",
                                          scratch_arg=", scratch" if size_fn else "",
                                          scratch_after=SCRATCH_AFTER if size_fn else ""))
    return FIRMWARE_MAIN.replace("SCRATCH_BYTES", str(SCRATCH_BYTES)) % dict(decls="".join(decls), n=len(cases),
                                                                             calls="".join(calls))


def build_firmware(work: Path, main_c: str, sources=(), dsp: bool = True) -> Path:
    """An ELF for mps2-an386: boards/emulated/ startup, semihosting and SysTick, the
    kernel (and `sources`, other runtime_c files) and main_c; arm-none-eabi-gcc -O2,
    strict warnings. dsp=False builds the kernels without __ARM_FEATURE_DSP (their
    portable path, on the same CPU)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.c").write_text(main_c)
    kernels = [RUNTIME / "src" / f"{name}.c" for name in (KERNEL_1X1, DSP_KERNEL_1X1, "fn_finish_channel_s8")]
    kernels += [src for src in sources if src not in kernels]
    objects = []

    def cc(src: Path, flags) -> None:
        obj = work / (src.stem + ".o")
        cmd = ["arm-none-eabi-gcc", *M4_FLAGS, *flags, f"-I{RUNTIME / 'include'}", f"-I{BOARD_SUPPORT}",
               f"-DFIRMNET_SYSCLK_HZ={SYSCLK_HZ}u", "-c", str(src), "-o", str(obj)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
        objects.append(obj)

    for src in kernels:
        cc(src, STRICT + ([] if dsp else ["-U__ARM_FEATURE_DSP"]))
    cc(work / "main.c", STRICT)
    for name in ("startup_cortex_m.c", "fn_semihost.c", "fn_board.c"):
        cc(BOARD_SUPPORT / name, ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"])
    elf = work / "firmware.elf"
    cmd = ["arm-none-eabi-gcc", *M4_FLAGS, "-nostartfiles", f"-L{BOARD_SUPPORT}", f"-T{BOARD_SUPPORT / 'mps2.ld'}",
           f"-Wl,--defsym=__stack_size={STACK_BYTES}", "-Wl,--gc-sections", *map(str, objects), "-o", str(elf)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
    return elf


def kernel_mnemonics(elf: Path, function: str = KERNEL_1X1) -> set[str]:
    """Instruction mnemonics of `function` in the ELF and of the kernel file's static
    helpers that GCC left out of line (dot_2x2, dot_1x2)."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    ops, inside = set(), False
    for line in dump.splitlines():
        head = re.match(r"^[0-9a-f]+ <(\w+)>:", line)
        if head:
            inside = head.group(1) in (function, "dot_2x2", "dot_1x2")
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(?:[0-9a-f]{4} ?){1,2}\s+(\S+)", line)
        if inside and m:
            ops.add(m.group(1).split(".")[0])
    return ops


def run_firmware(elf: Path, work: Path, n_cases: int, timeout: float = 300.0) -> tuple[list[bytes], list[int]]:
    """Run in QEMU mps2-an386 (-icount shift=0): each case's output bytes and
    instructions (SysTick ticks x 40)."""
    cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"firmware exit status {res.returncode}: {(res.stderr + res.stdout)[-2000:]}"
    outs = [(work / f"out{k}.bin").read_bytes() for k in range(n_cases)]
    ticks = np.frombuffer((work / "ticks.bin").read_bytes(), np.uint32)
    return outs, [int(t) * (1_000_000_000 // SYSCLK_HZ) for t in ticks]


# the other int8 kernels a firmware of FIRMWARE_KERNELS cases links beside the 1x1 kernels
SOURCES = [RUNTIME / "src" / f"{name}.c" for name in (
    "fn_depthwise_conv2d_s8", "fn_depthwise_conv2d_s8_rows_dsp", "fn_depthwise_conv2d_s8_blocks_dsp",
    "fn_depthwise_conv2d_s8_w16_dsp", "fn_fc_s8",
    "fn_fc_s8_dsp", "fn_conv2d_s8_winograd", "fn_conv2d_s8_winograd_dsp", "fn_conv2d_1x1_s8_w16_dsp")]


def reference(case) -> np.ndarray:
    """The numpy reference output of a board_case (computed from the layer's quantities)."""
    return case[-1]
