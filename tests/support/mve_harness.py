"""int8 kernels on the emulated Cortex-M55 (QEMU mps3-an547, Helium/MVE): one bare-metal
firmware, built once per session, reads its cases from a file by semihosting (case.bin),
runs each through the kernel it names, and writes the outputs, return statuses and SysTick
ticks back (out.bin, res.bin). So hypothesis examples cost one QEMU run each, not a build.

The firmware checks each variant's scratch: its size function must be > 0 for the case and
the call must leave the bytes past that size as they were (res.bin: status 100 otherwise)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from firmnet.boards import get_board
from firmnet.firmware import memory_script
from firmnet.kernels.params_requant import FIELD
from support.paths import REPO

RUNTIME = REPO / "runtime_c"
BOARD_SUPPORT = REPO / "boards" / "emulated"
BOARD = "mps3-an547"
M55_FLAGS = ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"]
STRICT = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
SYSCLK_HZ = 32_000_000                  # one SysTick tick = 31.25 instructions under -icount shift=0
SCRATCH_BYTES = 65536
IN_WORDS = 64 * 1024                    # 256 KB of case data per run
OUT_BYTES = 64 * 1024

CONV_FIELDS = ["batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w", "stride_h",
               "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left", "groups"]
DW_FIELDS = ["batch", "in_h", "in_w", "in_c", "out_h", "out_w", "depth_multiplier", "kernel_h", "kernel_w",
             "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left"]
FC_FIELDS = ["batch", "in_features", "out_features"]

# kind: (number in case.bin, C function, struct family, scratch size function or None)
KINDS = {
    "1x1_mve": (0, "fn_conv2d_1x1_s8_mve", "conv", "fn_conv2d_1x1_s8_mve_scratch_size"),
    "conv_mve": (1, "fn_conv2d_s8_mve", "conv", "fn_conv2d_s8_mve_scratch_size"),
    "dw_mve": (2, "fn_depthwise_conv2d_s8_mve", "dw", "fn_depthwise_conv2d_s8_mve_scratch_size"),
    "fc_mve": (3, "fn_fc_s8_mve", "fc", None),
    "1x1": (4, "fn_conv2d_1x1_s8", "conv", None),
    "conv": (5, "fn_conv2d_s8", "conv", None),
    "dw": (6, "fn_depthwise_conv2d_s8", "dw", None),
    "fc": (7, "fn_fc_s8", "fc", None),
    "1x1_dsp": (8, "fn_conv2d_1x1_s8_dsp", "conv", "fn_conv2d_1x1_s8_dsp_scratch_size"),
    "conv_dsp": (9, "fn_conv2d_s8_dsp", "conv", "fn_conv2d_s8_dsp_scratch_size"),
    "dw_rows_dsp": (10, "fn_depthwise_conv2d_s8_rows_dsp", "dw", "fn_depthwise_conv2d_s8_rows_dsp_scratch_size"),
    "fc_dsp": (11, "fn_fc_s8_dsp", "fc", None),
}
FAMILY_FIELDS = {"conv": CONV_FIELDS, "dw": DW_FIELDS, "fc": FC_FIELDS}
FAMILY_TYPE = {"conv": "fn_conv2d_s8_params", "dw": "fn_depthwise_conv2d_s8_params", "fc": "fn_fc_s8_params"}
SOURCES = ["fn_conv2d_1x1_s8_mve", "fn_conv2d_s8_mve", "fn_depthwise_conv2d_s8_mve", "fn_fc_s8_mve",
           "fn_conv2d_1x1_s8", "fn_conv2d_s8", "fn_depthwise_conv2d_s8", "fn_fc_s8", "fn_conv2d_1x1_s8_dsp",
           "fn_conv2d_s8_dsp", "fn_depthwise_conv2d_s8_rows_dsp", "fn_fc_s8_dsp", "fn_finish_channel_s8"]


def _call(kind: str) -> str:
    number, fn, family, size_fn = KINDS[kind]
    args = "&p, x, w, bias, y"
    if family == "conv":
        setup = "fn_conv2d_s8_params p; CONV_SETUP;"
    elif family == "dw":
        setup = "fn_depthwise_conv2d_s8_params p; DW_SETUP;"
    else:
        setup = "fn_fc_s8_params p; FC_SETUP;"
    need = f"{size_fn}(&p)" if size_fn else "0"
    scratch_arg = ", scratch" if size_fn else ""
    return (f"        case {number}: {{\n            {setup}\n            need = {need};\n"
            f"            if ({int(size_fn is not None)} && (need == 0 || need > sizeof scratch)) {{ status = 101; break; }}\n"
            f"            memset((uint8_t *)scratch + need, 0xA5, sizeof scratch - need);\n"
            f"            t0 = fn_timer_ticks();\n            status = (int32_t){fn}({args}{scratch_arg});\n"
            f"            t1 = fn_timer_ticks();\n            break;\n        }}\n")


# main()'s frame in every harness firmware (this one, mve_eltwise_harness, mve_binary_harness):
# case.bin read by semihosting, the loop over its cases (each begins with its kind; the body
# sets status, t0, t1 and ny, the output's bytes), out.bin and res.bin written back.
MAIN_OPEN = """int main(void)
{
    fn_timer_start();
    int32_t h = fn_sh_open("case.bin", 0);
    if (h < 0) {
        return 2;
    }
    int32_t len = fn_sh_flen(h);
    if (len < 4 || len > (int32_t)sizeof in || fn_sh_read(h, in, (size_t)len) != 0) {
        return 3;
    }
    fn_sh_close(h);
    const int32_t *q = in;
    const int32_t n_cases = *q++;
    uint32_t used = 0;
    for (int32_t k = 0; k < n_cases && k < 256; ++k) {
        const int32_t kind = *q++;
"""
# status 100 where the call wrote into the scratch past the `need` bytes it may use (filled with 0xA5 first)
SCRATCH_CHECK = """        for (size_t i = need; i < sizeof scratch && status != 101; ++i) {
            if (((const uint8_t *)scratch)[i] != 0xA5) {
                status = 100;
                break;
            }
        }
"""
MAIN_CLOSE = """        res[3 * k] = status;
        res[3 * k + 1] = (int32_t)(uint32_t)(t1 - t0);
        res[3 * k + 2] = ny;
        used += (uint32_t)ny;
    }
    if (fn_sh_save("out.bin", out, used) || fn_sh_save("res.bin", res, (uint32_t)(12 * (n_cases < 256 ? n_cases : 256)))) {
        return 5;
    }
    return 0;
}
"""

MAIN = """/* Test firmware (tests/support/mve_harness.py): int8 kernels on cases read from case.bin. */
#include <stdint.h>
#include <string.h>
#include "fn_board.h"
#include "fn_conv_1x1_s8.h"
#include "fn_conv_s8.h"
#include "fn_fc_s8.h"
#include "fn_s8_dsp.h"
#include "fn_s8_mve.h"
#include "fn_semihost.h"

static int32_t in[IN_WORDS];
static int8_t out[OUT_BYTES];
static int32_t res[3 * 256];
static uint64_t scratch[SCRATCH_BYTES / 8];

#define CONV_SETUP p.batch = f[0]; p.in_h = f[1]; p.in_w = f[2]; p.in_c = f[3]; p.out_h = f[4]; \\
    p.out_w = f[5]; p.out_c = f[6]; p.kernel_h = f[7]; p.kernel_w = f[8]; p.stride_h = f[9]; \\
    p.stride_w = f[10]; p.dilation_h = f[11]; p.dilation_w = f[12]; p.pad_top = f[13]; \\
    p.pad_left = f[14]; p.groups = f[15]; p.input_offset = f[16]; p.requant = rq; p.filter_offset = 0
#define DW_SETUP p.batch = f[0]; p.in_h = f[1]; p.in_w = f[2]; p.in_c = f[3]; p.out_h = f[4]; \\
    p.out_w = f[5]; p.depth_multiplier = f[6]; p.kernel_h = f[7]; p.kernel_w = f[8]; p.stride_h = f[9]; \\
    p.stride_w = f[10]; p.dilation_h = f[11]; p.dilation_w = f[12]; p.pad_top = f[13]; \\
    p.pad_left = f[14]; p.input_offset = f[15]; p.requant = rq
#define FC_SETUP p.batch = f[0]; p.in_features = f[1]; p.out_features = f[2]; p.input_offset = f[3]; p.requant = rq

""" + MAIN_OPEN + """        const int32_t nf = *q++;
        const int32_t *f = q;
        q += nf;
        fn_requant_acc_s8 rq;
        rq.output_offset = *q++;
        rq.act_min = *q++;
        rq.act_max = *q++;
        rq.mode = *q++;
        rq.per_channel = *q++;
        int32_t n = *q++;
        rq.multiplier = n ? q : 0;
        q += n;
        n = *q++;
        rq.shift = n ? q : 0;
        q += n;
        n = *q++;
        rq.scale = n ? (const float *)(const void *)q : 0;
        q += n;
        n = *q++;
        const int32_t *bias = n ? q : 0;
        q += n;
        n = *q++;
        const int8_t *x = (const int8_t *)q;
        q += (n + 3) / 4;
        n = *q++;
        const int8_t *w = (const int8_t *)q;
        q += (n + 3) / 4;
        const int32_t ny = *q++;
        if (used + (uint32_t)ny > sizeof out) {
            return 4;
        }
        int8_t *y = out + used;
        memset(y, 0x5A, (size_t)ny);
        int32_t status = 99;
        size_t need = 0;
        uint64_t t0 = 0, t1 = 0;
        switch (kind) {
%(cases)s        default:
            break;
        }
""" + SCRATCH_CHECK + MAIN_CLOSE


def firmware_main() -> str:
    text = MAIN.replace("IN_WORDS", str(IN_WORDS)).replace("OUT_BYTES", str(OUT_BYTES))
    text = text.replace("SCRATCH_BYTES", str(SCRATCH_BYTES))
    return text % dict(cases="".join(_call(k) for k in KINDS))


def build(work: Path, main: str | None = None, sources: list[str] | None = None) -> Path:
    """The firmware ELF for mps3-an547 (arm-none-eabi-gcc -O2 -mcpu=cortex-m55, strict warnings):
    this module's firmware, or another main.c text with its runtime sources (mve_eltwise_harness)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "main.c").write_text(firmware_main() if main is None else main)
    (work / "memory.ld").write_text(memory_script(get_board(BOARD)))
    objects = []

    def cc(src: Path, flags) -> None:
        obj = work / (src.stem + ".o")
        cmd = ["arm-none-eabi-gcc", *M55_FLAGS, *flags, f"-I{RUNTIME / 'include'}", f"-I{BOARD_SUPPORT}",
               f"-DFIRMNET_SYSCLK_HZ={SYSCLK_HZ}u", "-c", str(src), "-o", str(obj)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
        objects.append(obj)

    for name in SOURCES if sources is None else sources:
        cc(RUNTIME / "src" / f"{name}.c", STRICT)
    cc(work / "main.c", STRICT)
    for name in ("startup_cortex_m.c", "fn_semihost.c", "fn_board.c"):
        cc(BOARD_SUPPORT / name, ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"])
    elf = work / "firmware.elf"
    cmd = ["arm-none-eabi-gcc", *M55_FLAGS, "-nostartfiles", f"-L{BOARD_SUPPORT}", f"-L{work}", "-Tmemory.ld",
           "-Wl,--defsym=__stack_size=16384", "-Wl,--gc-sections", *map(str, objects), "-o", str(elf)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
    return elf


def _words(a, dtype) -> list[np.ndarray]:
    if a is None:
        return [np.array([0], np.int32)]
    a = np.ascontiguousarray(np.asarray(a, dtype)).ravel()
    return [np.array([a.size], np.int32), a.view(np.int32)]


def _bytes(a) -> list[np.ndarray]:
    a = np.ascontiguousarray(np.asarray(a, np.int8)).ravel()
    padded = np.zeros((a.size + 3) // 4 * 4, np.int8)
    padded[:a.size] = a
    return [np.array([a.size], np.int32), padded.view(np.int32)]


def encode(kind: str, params: dict, arrays: dict, x, w, bias, n_out: int) -> np.ndarray:
    """One case: the struct's scalar fields (params, as the builders return them), the
    requantization block (its arrays from `arrays`), bias, input, filter (as the kernel
    reads it) and the output size."""
    number, _, family, _ = KINDS[kind]
    fields = [int(params[f]) for f in FAMILY_FIELDS[family]] + [int(params["input_offset"])]
    block = params[FIELD]
    parts = [np.array([number, len(fields), *fields, int(block["output_offset"]), int(block["act_min"]),
                       int(block["act_max"]), int(block["mode"]), int(block["per_channel"])], np.int32)]
    parts += _words(arrays.get("multiplier"), np.int32) + _words(arrays.get("shift"), np.int32)
    parts += _words(arrays.get("scale"), np.float32) + _words(bias, np.int32)
    parts += _bytes(x) + _bytes(w) + [np.array([n_out], np.int32)]
    return np.concatenate(parts).astype(np.int32)


def _run_once(elf: Path, work: Path, cases: list[np.ndarray], timeout: float) -> list[tuple[int, bytes, int]]:
    blob = np.concatenate([np.array([len(cases)], np.int32), *cases]).astype(np.int32)
    assert blob.size <= IN_WORDS, f"a case of {blob.size * 4:,} bytes: more than the firmware's {IN_WORDS * 4:,}"
    (work / "case.bin").write_bytes(blob.tobytes())
    cmd = ["qemu-system-arm", "-M", BOARD, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"firmware exit status {res.returncode}: {(res.stderr + res.stdout)[-2000:]}"
    out = (work / "out.bin").read_bytes()
    meta = np.frombuffer((work / "res.bin").read_bytes(), np.int32).reshape(-1, 3)
    results, pos = [], 0
    for status, ticks, n in meta:
        results.append((int(status), out[pos:pos + int(n)], round(int(np.uint32(ticks)) * 1e9 / SYSCLK_HZ)))
        pos += int(n)
    return results


def run(elf: Path, work: Path, cases: list[np.ndarray], timeout: float = 300.0) -> list[tuple[int, bytes, int]]:
    """Run encoded cases in QEMU mps3-an547 (-icount shift=0), as many per run as the
    firmware's buffers take: per case (status, output bytes, instructions = SysTick ticks
    x 31.25)."""
    work.mkdir(parents=True, exist_ok=True)
    results, chunk, words, out_bytes = [], [], 1, 0
    for case in cases:
        n_out = int(case[-1])
        if chunk and (words + case.size > IN_WORDS or out_bytes + n_out > OUT_BYTES or len(chunk) == 256):
            results += _run_once(elf, work, chunk, timeout)
            chunk, words, out_bytes = [], 1, 0
        chunk.append(case)
        words += case.size
        out_bytes += n_out
    if chunk:
        results += _run_once(elf, work, chunk, timeout)
    return results
