"""Boards: the generated CMake project cross-compiles, and on the emulated Cortex-M boards
(QEMU) the firmware computes the same bytes as the host build, with deterministic
instruction counts.

Needs cmake, arm-none-eabi-gcc with newlib and qemu-system-arm (Debian: cmake
gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm; scripts/test installs them).
A missing tool fails the tests that need it, saying what to install: nothing is skipped.
The Raspberry Pi 4 project is cross-compiled with aarch64-linux-gnu-gcc and run by qemu-aarch64
(Debian: gcc-aarch64-linux-gnu qemu-user).
"""
from __future__ import annotations

import functools
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import qemu
from firmnet.boards import STATIC_RAM_ESTIMATE, get_board, list_boards
from firmnet.firmware import memory_script
from firmnet.ir import FirmnetError
from firmnet.reference.quantize_s8 import quantize_ort

from support.compare import assert_close
from support.paths import REPO
from support.qemu_harness import BOARD_TOOLS, require_tools

EMULATED = ["mps2-an386", "mps2-an500", "mps3-an547"]
REAL_CORTEX_M = ["nucleo-l4r5zi", "stm32f746g-disco", "nrf52840-dk", "rp2040-pico"]
DIGITS = REPO / "examples" / "digits"
KWS = REPO.parent / "shared" / "models" / "kws_ref_model.tflite"
MODELS = {"digits": DIGITS / "digits_cnn.onnx", "digits_int8": DIGITS / "digits_cnn.int8.onnx", "kws": KWS}
# ../shared/ANCHORS.md: input byte i = (i*7 + 3) % 256 - 128 gives this KWS output.
KWS_CHECK_OUTPUT = [-128] * 9 + [127, -128, -127]

@functools.lru_cache(maxsize=None)
def _model_inputs(model: str) -> tuple:
    """One input per model, in the C API's types."""
    path = MODELS[model]
    if model == "kws":
        x = ((np.arange(49 * 10) * 7 + 3) % 256 - 128).astype(np.int8).reshape(1, 49, 10, 1)
        return (x,)
    sample = np.load(DIGITS / "sample_input.npz")
    x = sample[sample.files[0]].astype(np.float32)
    if model == "digits_int8":
        g = firmnet.compile(path, "unused", name="probe", write=False).lowered_graph
        q = g.types[g.inputs[0]].quant
        x = quantize_ort(x, q.scale[0], int(q.zero_point[0])).astype(np.int8)
    return (x,)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(model, board) → compiled model in its own folder; builds in there are reused."""
    cache = {}

    def get(model, board):
        if (model, board) not in cache:
            out = tmp_path_factory.mktemp(f"{model}-{board}")
            cache[model, board] = firmnet.compile(MODELS[model], out, board=board, name=model, requant="tflm")
        return cache[model, board]
    return get


@functools.lru_cache(maxsize=None)
def _host_outputs(model: str, out_dir: str):
    cm = firmnet.compile(MODELS[model], out_dir, name=model, requant="tflm")
    return [o.copy() for o in cm.build_host().run_raw(list(_model_inputs(model)))], cm


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    def get(model):
        return _host_outputs(model, str(tmp_path_factory.getbasetemp() / f"host-{model}"))
    return get


@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("model", list(MODELS))
def test_emulated_board_same_bytes_as_host(projects, host, model, board):
    """Cross-built with -Wall -Wextra -Werror, run twice in QEMU: the outputs equal the host
    build's byte for byte (and the reference), and the instruction counts repeat exactly."""
    require_tools(BOARD_TOOLS)
    cm = projects(model, board)
    inputs = list(_model_inputs(model))
    expected, host_cm = host(model)
    elf = qemu.build(cm.out_dir, board, werror=True)
    meta = json.loads((cm.out_dir / "report.json").read_text())
    first = qemu.run_elf(elf, board, meta, inputs)
    second = qemu.run_elf(elf, board, meta, inputs)
    for got, want in zip(first.outputs, expected):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), f"{model} on {board}: {got.ravel()[:12]} != host {want.ravel()[:12]}"
    for a, b in zip(first.outputs, second.outputs):
        assert a.tobytes() == b.tobytes()
    assert first.ticks == second.ticks and first.instructions == second.instructions > 0
    assert first.stack_bytes == second.stack_bytes
    reference = firmnet.reference.run(host_cm.lowered_graph, inputs)
    for got, ref in zip(first.outputs, reference):
        if got.dtype == np.int8:
            assert np.array_equal(got, ref), f"{model} on {board} differs from the reference"
        else:
            assert_close(got, ref, f"{model} on {board} vs the reference")
    if model == "kws":
        assert first.outputs[0].ravel().tolist() == KWS_CHECK_OUTPUT
    sizes = qemu.elf_sizes(elf, board)
    assert sizes["flash"] >= cm.report["weights_bytes"] and sizes["ram"] >= cm.report["arena_bytes"]
    assert 0 < first.stack_bytes <= get_board(board).stack_bytes


@pytest.mark.parametrize("board", EMULATED)
def test_profile_counts_every_layer_deterministically(projects, board):
    require_tools(BOARD_TOOLS)
    cm = projects("digits_int8", board)
    inputs = list(_model_inputs("digits_int8"))
    total = qemu.run(cm.out_dir, board, inputs, werror=True)
    runs = [qemu.run(cm.out_dir, board, inputs, profile=True, werror=True) for _ in range(2)]
    assert runs[0].layers == runs[1].layers
    layers = runs[0].layers
    assert [layer["name"] for layer in layers] == [layer["name"] for layer in cm.report["layers"]]
    assert all(layer["instructions"] >= 0 for layer in layers)
    assert all(layer["instructions"] > 0 for layer in layers if layer["macs"] > 0)
    # The profile hooks add a few instructions per step; the layers account for the inference.
    per_layer = sum(layer["instructions"] for layer in layers)
    assert total.instructions <= per_layer <= total.instructions + 200 * len(layers)
    assert [o.tobytes() for o in runs[0].outputs] == [o.tobytes() for o in total.outputs]


def test_cli_run_json(projects, tmp_path):
    require_tools(BOARD_TOOLS)
    cm = projects("digits", "mps2-an386")
    np.savez(tmp_path / "x.npz", input=_model_inputs("digits")[0])
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "compile", str(MODELS["digits"]), "-o",
                          str(tmp_path / "out"), "--name", "digits"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    # Compiled for the host: `run --board` adds the board's files.
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "run", str(tmp_path / "out"), "--board", "mps2-an386",
                          "--inputs", str(tmp_path / "x.npz"), "--json", "--profile"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    expected = qemu.run(cm.out_dir, "mps2-an386", list(_model_inputs("digits")), profile=True)
    assert np.array_equal(np.asarray(doc["outputs"]["logits"], np.float32), expected.outputs[0])
    assert doc["instructions"] == expected.instructions and doc["layers"] == expected.layers
    assert len(doc["layers"]) == len(cm.report["layers"]) and doc["flash_bytes"] > doc["weights_bytes"]
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "run", str(tmp_path / "out"), "--board", "rp2040-pico"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "not emulated" in res.stderr


def _word(elf: bytes, address: int) -> int:
    """The 32-bit word at this address in a 32-bit little-endian ELF (from its program headers)."""
    phoff, = struct.unpack_from("<I", elf, 0x1C)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x2A)
    for k in range(phnum):
        p_type, offset, _vaddr, paddr, filesz = struct.unpack_from("<IIIII", elf, phoff + k * phentsize)
        if p_type == 1 and paddr <= address < paddr + filesz:
            return struct.unpack_from("<I", elf, offset + address - paddr)[0]
    raise AssertionError(f"no loaded segment holds 0x{address:08x}")


def _symbols(elf) -> dict:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in (line.split() for line in out.splitlines()) if len(parts) == 3}


@pytest.mark.parametrize("board", REAL_CORTEX_M)
@pytest.mark.parametrize("model", list(MODELS))
def test_real_board_links_a_firmware_that_fits(projects, model, board):
    """`cmake -B build -DCMAKE_TOOLCHAIN_FILE=board/toolchain.cmake && cmake --build build`
    on a real Cortex-M board: the library for the board's CPU and a linked firmware ELF,
    warning-free, whose vector table sits where the board boots from, whose sizes fit the
    board and are the ones the compile-time fit check recorded."""
    require_tools(BOARD_TOOLS)
    b = get_board(board)
    cm = projects(model, board)
    recorded = json.loads((cm.out_dir / "board" / "board.json").read_text())["firmware"]
    elf = qemu.build(cm.out_dir, board, werror=True)
    assert elf.name == f"{model}_firmware.elf" and elf.is_file()
    lib = elf.parent / f"lib{model}.a"
    flags = (elf.parent / "CMakeFiles" / f"{model}.dir" / "flags.make").read_text()
    for flag in b.cpu_flags:
        assert flag in flags
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(lib)], capture_output=True, text=True).stdout
    if board == "rp2040-pico":
        assert "Tag_CPU_arch: v6S-M" in attrs and "Tag_FP_arch" not in attrs
    else:
        assert "Tag_CPU_arch: v7E-M" in attrs and "Tag_ABI_VFP_args: VFP registers" in attrs
    # Boot: the vector table first in flash (after the RP2040's boot2), initial SP at the top of
    # RAM, reset vector = Reset_Handler (Thumb); nothing in the boot2 reserve (not shipped).
    raw = elf.read_bytes()
    syms = _symbols(elf)
    table = b.flash_origin + b.boot2_bytes
    assert syms["fn_vectors"] == table
    assert _word(raw, table) == b.ram_origin + b.ram_bytes == syms["__stack_top"]
    assert _word(raw, table + 4) == syms["Reset_Handler"] | 1
    assert struct.unpack_from("<I", raw, 0x18)[0] == syms["Reset_Handler"] | 1     # e_entry
    assert syms[f"{model}_arena"] >= b.ram_origin and syms[f"{model}_example_result"] >= b.ram_origin
    if b.boot2_bytes:
        assert syms["__boot2_start"] == syms["__boot2_end"] == b.flash_origin
    sizes = qemu.elf_sizes(elf)
    assert {k: sizes[k] for k in ("text", "data", "bss", "stack")} == \
        {k: recorded[k] for k in ("text", "data", "bss", "stack")}
    assert sizes["stack"] == b.stack_bytes
    assert cm.report["weights_bytes"] < sizes["flash"] <= b.code_flash_bytes
    assert cm.report["arena_bytes"] <= sizes["ram"] and sizes["ram"] + sizes["stack"] <= b.ram_bytes
    # The code and constants beyond the weights stay within the documented estimate.
    assert sizes["flash"] - cm.report["weights_bytes"] <= b.code_estimate(cm.report)
    assert sizes["ram"] - cm.report["arena_bytes"] <= STATIC_RAM_ESTIMATE
    size = subprocess.run(["arm-none-eabi-size", "-B", str(elf)], capture_output=True, text=True).stdout
    text, data, bss = (int(v) for v in size.splitlines()[1].split()[:3])
    assert (text, data, bss) == (sizes["text"], sizes["data"], sizes["bss"] + sizes["stack"])


class _QemuMonitor:
    """A firmware running in QEMU without semihosting, its memory read through the monitor."""

    def __init__(self, machine: str, elf):
        self.proc = subprocess.Popen(["qemu-system-arm", "-M", machine, "-display", "none", "-monitor", "stdio",
                                      "-serial", "none", "-icount", "shift=0", "-kernel", str(elf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._until_prompt()

    def _until_prompt(self, timeout: float = 30.0) -> str:
        buf, end = b"", time.monotonic() + timeout
        while not buf.rstrip().endswith(b"(qemu)"):
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, end - time.monotonic()))
            chunk = os.read(self.proc.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"QEMU monitor: no prompt: {buf[-500:]!r}")
            buf += chunk
        return buf.decode(errors="replace")

    def read(self, address: int, n: int) -> bytes:
        self.proc.stdin.write(f"xp /{n}xb 0x{address:x}\n".encode())
        self.proc.stdin.flush()
        text = self._until_prompt()
        return bytes(int(v, 16) for m in re.finditer(r"(?m)^[0-9a-f]{16}: (.*)$", text) for v in m.group(1).split())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


# Each real board's firmware, as linked for a board file that differs from the real one only where
# an emulated machine's memory differs, run by QEMU: the real boards' startup path (no semihosting,
# the weak exit and fault hooks) on the same kind of core, booting the same way.
REAL_ON_QEMU = {
    "nrf52840-dk": ("mps2-an386", {}),                          # its own map fits the MPS2's memory
    "nucleo-l4r5zi": ("netduinoplus2", {"ram_bytes": 131072}),  # STM32F405: flash at 0x08000000, aliased at 0
    "stm32f746g-disco": ("mps2-an500", {"flash_origin": "0x00000000"}),          # Cortex-M7
    "rp2040-pico": ("microbit", {"flash_origin": "0x00000000", "flash_bytes": 262144, "boot2_bytes": 0,
                                 "ram_bytes": 16384}),         # ARMv6-M (Cortex-M0), no boot2
}


@pytest.mark.parametrize("board", REAL_CORTEX_M)
@pytest.mark.parametrize("model", ["digits", "digits_int8"])
def test_real_board_startup_runs_the_example_in_qemu(tmp_path, model, board):
    """The example main of a real board runs the model on zeros, over and over: read in the
    arena, the outputs equal the host build's bytes. Compiled with the linear plan and no
    in-place kernels (no buffer shares bytes with another, the kernels' scratch included), so
    the outputs stay in the arena between runs whatever the monitor's moment of reading; with
    the default plan a later layer's buffer or scratch may reuse them during the next run (in
    place, the whole int8 chain of digits runs in one buffer), and a debugger stops after
    <name>_run() to read them."""
    require_tools(BOARD_TOOLS)
    machine, changes = REAL_ON_QEMU[board]
    text = (REPO / "boards" / f"{board}.toml").read_text()
    for key, value in changes.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, key
    (tmp_path / f"{board}-on-qemu.toml").write_text(text)
    # the QEMU stand-in for the rp2040 has 16 KB of RAM: the linear plan of the float model with
    # the Winograd kernels' scratch (19,152 B) does not fit it, the direct kernels' does
    winograd = "off" if board == "rp2040-pico" and model == "digits" else "auto"
    cm = firmnet.compile(MODELS[model], tmp_path / "out", board=str(tmp_path / f"{board}-on-qemu.toml"), name=model,
                         algorithm="linear", in_place="off", winograd=winograd)
    g = cm.lowered_graph
    want = cm.build_host().run_raw([np.zeros(g.types[g.inputs[0]].shape, g.types[g.inputs[0]].dtype)])[0].tobytes()
    elf = qemu.build(cm.out_dir, str(tmp_path / f"{board}-on-qemu.toml"), werror=True)
    x_at, y_at = cm.memory.offset(g.inputs[0]), cm.memory.offset(g.outputs[0])
    assert x_at + g.types[g.inputs[0]].nbytes <= y_at or y_at + len(want) <= x_at, "output shares the input's bytes"
    address = _symbols(elf)[f"{model}_arena"] + y_at
    monitor = _QemuMonitor(machine, elf)
    try:
        deadline = time.monotonic() + 60
        while (got := monitor.read(address, len(want))) != want and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        monitor.close()
    assert got == want, f"{model} on {board} ({machine}): {got.hex()} != host {want.hex()}"


# Each real board's CPU, FPU and flags on an emulated MPS2 machine with semihosting (the memory
# map moved to the MPS2's): the code the real board runs, its outputs and its stack, measured.
# The RP2040's ARMv6-M code runs on the Cortex-M3 AN385 (ARMv7-M executes every ARMv6-M instruction).
REAL_AS_EMULATED = {"nrf52840-dk": "mps2-an386", "nucleo-l4r5zi": "mps2-an386", "stm32f746g-disco": "mps2-an500",
                    "rp2040-pico": "mps2-an385"}


@pytest.mark.parametrize("board", REAL_CORTEX_M)
@pytest.mark.parametrize("model", list(MODELS))
def test_real_board_code_same_bytes_and_stack_within_its_reserve(host, tmp_path, model, board):
    """Compiled with the real board's CPU flags and run under QEMU: the host build's bytes,
    and a stack high-water mark within the stack the real board reserves (board file)."""
    require_tools(BOARD_TOOLS)
    real = get_board(board)
    text = (REPO / "boards" / f"{board}.toml").read_text()
    for key, value in (("flash_origin", "0x00000000"), ("flash_bytes", 4194304), ("boot2_bytes", 0)):
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    machine = REAL_AS_EMULATED[board]
    text = text.replace(f"stack_bytes = {real.stack_bytes}", "stack_bytes = 65536")   # room to measure
    text += f'\n[emulation]\nqemu = "qemu-system-arm"\nmachine = "{machine}"\nsysclk_hz = 25000000\n'
    path = tmp_path / f"{board}-as-{machine}.toml"
    path.write_text(text)
    cm = firmnet.compile(MODELS[model], tmp_path / "out", board=str(path), name=model, requant="tflm")
    assert get_board(str(path)).cpu_flags == real.cpu_flags
    result = qemu.run(cm.out_dir, str(path), list(_model_inputs(model)), werror=True)
    expected, _ = host(model)
    assert [o.tobytes() for o in result.outputs] == [o.tobytes() for o in expected]
    assert 0 < result.stack_bytes <= real.stack_bytes, \
        f"{model} uses {result.stack_bytes} B of stack on {board}'s CPU, its board file reserves {real.stack_bytes}"


def test_rp2040_boot2_goes_in_front_of_the_vector_table(tmp_path):
    """-DFIRMNET_BOOT2=<file> links a boot2 into the 256 bytes reserved at 0x10000000 (here a
    placeholder of the right size, not a working boot2: firmnet ships none); one of the
    wrong size is refused by the linker."""
    require_tools(BOARD_TOOLS)
    path = tmp_path / "m.onnx"
    onnx.save(_relu_model(8), path)
    cm = firmnet.compile(path, tmp_path / "out", board="rp2040-pico", name="m")
    for size, ok in ((256, True), (200, False)):
        src = tmp_path / f"boot2_{size}.S"
        src.write_text(f'    .section .boot2, "ax"\n    .space {size}, 0xB2\n')
        build = tmp_path / f"b{size}"
        res = [subprocess.run([str(c) for c in cmd], capture_output=True, text=True) for cmd in (
            ["cmake", "-S", cm.out_dir, "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={cm.out_dir / 'board' / 'toolchain.cmake'}",
             f"-DFIRMNET_BOOT2={src}"], ["cmake", "--build", build])]
        assert res[0].returncode == 0, res[0].stdout + res[0].stderr
        if not ok:
            assert res[1].returncode != 0 and "boot2 must be exactly 256 bytes" in res[1].stdout + res[1].stderr
            continue
        assert res[1].returncode == 0, res[1].stdout + res[1].stderr
        elf = build / "m_firmware.elf"
        raw, syms = elf.read_bytes(), _symbols(elf)
        assert _word(raw, 0x10000000) == _word(raw, 0x100000FC) == 0xB2B2B2B2
        assert syms["fn_vectors"] == 0x10000100 and _word(raw, 0x10000104) == syms["Reset_Handler"] | 1
        assert qemu.elf_sizes(elf)["text"] == qemu.elf_sizes(qemu.build(cm.out_dir, "rp2040-pico"))["text"] + 256


def _relu_model(n: int, constant: bool = False):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])
    if constant:
        w = numpy_helper.from_array(np.ones((1, n), np.float32), "w")
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "big", [x], [y], [w])
    else:
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "big", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_too_big_for_the_board_is_refused_with_the_numbers(tmp_path):
    big_arena = _relu_model(150_000)           # 600,000-byte tensors: over the AN547's 512 KiB DTCM
    with pytest.raises(FirmnetError, match=r"does not fit board 'mps3-an547' \(the memory plan alone, before any "
                                           r"code\): RAM: the arena needs [\d,]+ bytes \+ a 16,384-byte stack, the "
                                           r"board has 524,288.*firmnet compress --quantize int8"):
        firmnet.compile(big_arena, tmp_path / "a", board="mps3-an547")
    firmnet.compile(big_arena, tmp_path / "b", board="mps2-an386", write=False)    # 4 MiB: fits
    big_weights = _relu_model(300_000, constant=True)   # 1.2 MB of weights: over the Pico's 264 KiB RAM too
    # the weights: the 1,200,000-byte tensor and the Add's 88-byte fn_binary_f32_params struct
    with pytest.raises(FirmnetError, match=r"does not fit board 'stm32f746g-disco' \(the memory plan alone, before "
                                           r"any code\): flash: the weights alone need 1,200,088 bytes, the board "
                                           r"has 1,048,576"):
        firmnet.compile(big_weights, tmp_path / "c", board="stm32f746g-disco")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


# The vendors' memory maps (datasheets / reference manuals): flash origin and bytes, RAM origin and bytes.
MEMORY_MAPS = {
    "nucleo-l4r5zi": (0x08000000, 2 << 20, 0x20000000, 640 << 10),      # STM32L4R5ZI: SRAM1+2+3
    "stm32f746g-disco": (0x08000000, 1 << 20, 0x20000000, 320 << 10),   # STM32F746NG: DTCM+SRAM1+2
    "nrf52840-dk": (0x00000000, 1 << 20, 0x20000000, 256 << 10),        # nRF52840
    "rp2040-pico": (0x10000000, 2 << 20, 0x20000000, 264 << 10),        # RP2040 XIP flash (W25Q16), SRAM0-5
    "mps2-an386": (0x00000000, 4 << 20, 0x20000000, 4 << 20),
    "mps2-an500": (0x00000000, 4 << 20, 0x20000000, 4 << 20),
    "mps3-an547": (0x01000000, 2 << 20, 0x20000000, 512 << 10),
}


def _regions(script: str) -> dict:
    return {m.group(1): (int(m.group(2), 16), m.group(3)) for m in
            re.finditer(r"^\s*(\w+)\s*\(\w+\)\s*:\s*ORIGIN = 0x([0-9A-Fa-f]+), LENGTH = (\w+)", script, re.M)}


@pytest.mark.parametrize("board", EMULATED + REAL_CORTEX_M)
def test_memory_regions_come_from_the_board_file(board):
    """board/memory.ld: the vendor's memory map from the board's .toml, then the shared layout."""
    b = get_board(board)
    assert (b.flash_origin, b.flash_bytes, b.ram_origin, b.ram_bytes) == MEMORY_MAPS[board]
    script = memory_script(b)
    regions = _regions(script)
    assert regions["RAM"] == (b.ram_origin, str(b.ram_bytes))
    assert regions["FLASH"] == (b.flash_origin + b.boot2_bytes, str(b.flash_bytes - b.boot2_bytes))
    assert script.rstrip().endswith("INCLUDE cortex_m_sections.ld")
    if board == "rp2040-pico":
        assert regions["BOOT2"] == (0x10000000, "256") and b.code_flash_bytes == (2 << 20) - 256
    if board == "mps3-an547":       # the vector table in ITCM, where the core starts
        assert regions["VECTORS"] == (0, str(512 << 10))
    else:
        assert 'REGION_ALIAS("VECTORS", FLASH);' in script
    if board.startswith("mps2"):    # the hand-link script of the DSP kernel tests says the same
        assert _regions((REPO / "boards" / "emulated" / "mps2.ld").read_text()) == \
            {"FLASH": (0, "4M"), "RAM": (0x20000000, "4M")}


def _tiny_board(tmp_path, flash: int, ram: int, stack: int = 2048):
    """A board file of the user's: nucleo-l4r5zi's CPU with less memory."""
    text = (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()
    text = re.sub(r"(?m)^flash_bytes = .*$", f"flash_bytes = {flash}", text)
    text = re.sub(r"(?m)^ram_bytes = .*$", f"ram_bytes = {ram}", text)
    text = re.sub(r"(?m)^stack_bytes = .*$", f"stack_bytes = {stack}", text)
    path = tmp_path / f"tiny-{flash}-{ram}.toml"
    path.write_text(text)
    return path


def _int8_weights(model) -> dict:
    """--kernel choices that keep a model's convs and FCs on int8 weights: the layers that take
    the int16-weight fn_conv2d_s8_w16_dsp / fn_fc_s8_w16_dsp on nucleo-l4r5zi's 2 MB forced to
    fn_conv2d_s8_dsp / fn_fc_s8_dsp, as on a board whose flash refuses the int16 weights (the fit
    tests compare the same C across boards of different flash)."""
    probe = firmnet.compile(model, "unused", board="nucleo-l4r5zi", name="probe", write=False, winograd="off")
    int8 = {"fn_conv2d_s8_w16_dsp": "fn_conv2d_s8_dsp", "fn_fc_s8_w16_dsp": "fn_fc_s8_dsp"}
    return {l["name"]: int8[l["kernel"]] for l in probe.report["layers"] if l["kernel"] in int8}


def _without_cross_compiler(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd.startswith("arm-none-eabi") else
                        real_which(cmd, *a, **k))


def test_fit_check_counts_code_from_the_linked_elf(tmp_path, monkeypatch):
    """The int8 example's weights (its tensors, 6,288 B, and the parameter arrays and structs the
    C defines) fit 8 KiB of flash, its firmware does not: refused
    with the ELF's numbers (the linker's overflow) and what to try. With the flash the ELF
    needs it links and fits; without the cross compiler the conservative estimate refuses
    it there, and says so. --winograd off throughout: with less flash auto keeps the direct
    kernels' smaller weights, so the boards compared here would get different weights."""
    require_tools(BOARD_TOOLS)
    model = MODELS["digits_int8"]
    off = dict(winograd="off", kernels=_int8_weights(model))
    weights = firmnet.compile(model, "unused", board="nucleo-l4r5zi", name="probe", write=False,
                              **off).report["weights_bytes"]
    small = _tiny_board(tmp_path, flash=8192, ram=65536)
    assert weights < 8192
    with pytest.raises(FirmnetError) as err:
        firmnet.compile(model, tmp_path / "small", board=str(small), name="digits", **off)
    msg = str(err.value)
    m = re.search(r"does not fit board 'tiny-8192-65536' \(the firmware does not link, ld: region FLASH overflowed "
                  rf"by ([\d,]+) bytes; .*\): flash: ([\d,]+) bytes \(weights {weights:,} \+ code and initial "
                  r"data ([\d,]+)\), the board has 8,192\. Try a smaller model, or a board with more "
                  r"flash/RAM", msg)
    assert m, msg
    overflow, flash, code = (int(g.replace(",", "")) for g in m.groups())
    assert flash == 8192 + overflow == weights + code and "RAM:" not in msg

    enough = (flash + 1024) // 1024 * 1024          # what the ELF needs, rounded up to KiB
    roomy = _tiny_board(tmp_path, flash=enough, ram=65536)
    cm = firmnet.compile(model, tmp_path / "roomy", board=str(roomy), name="digits", **off)
    sizes = json.loads((cm.out_dir / "board" / "board.json").read_text())["firmware"]
    assert sizes["flash"] == flash <= enough and Path(sizes["elf"]).is_file()

    _without_cross_compiler(monkeypatch)
    assert not get_board(str(roomy)).can_link() and weights + get_board(str(roomy)).code_estimate(cm.report) > enough
    with pytest.raises(FirmnetError, match=rf"does not fit board 'tiny-{enough}-65536' \(an estimate: arm-none-eabi-gcc "
                                           r"not installed, .*apt-get install gcc-arm-none-eabi.*\): flash: weights "
                                           rf"{weights:,} \+ code estimated at [\d,]+ = [\d,]+ bytes, the board has {enough:,}"):
        firmnet.compile(model, tmp_path / "estimated", board=str(roomy), name="digits", **off)
    assert not (tmp_path / "estimated").exists()


def test_board_files_of_the_user_are_checked(tmp_path):
    with pytest.raises(FirmnetError, match=r"must be 8-byte aligned"):
        get_board(str(_tiny_board(tmp_path, flash=65536, ram=65540)))
    path = tmp_path / "noram.toml"
    path.write_text(re.sub(r"(?m)^ram_origin = .*$", "", (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()))
    with pytest.raises(FirmnetError, match=r"flash_origin also needs flash_bytes, ram_origin and ram_bytes"):
        get_board(str(path))
    with pytest.raises(FirmnetError, match=r"board file .*missing\.toml does not exist"):
        get_board(str(tmp_path / "missing.toml"))
    with pytest.raises(FirmnetError, match=r"unknown board 'nope' \(known boards: .*nucleo-l4r5zi.*\.toml file\)"):
        get_board("nope")


@pytest.mark.parametrize("board", EMULATED)
def test_emulated_board_files_name_their_startup_and_linker_script(board):
    """DESIGN.md: an emulated board's file names its QEMU machine, linker script and startup file."""
    text = (REPO / "boards" / f"{board}.toml").read_text()
    assert re.search(r'(?m)^startup = "emulated/startup_cortex_m\.c"', text)
    assert re.search(r'(?m)^linker_script = "emulated/cortex_m_sections\.ld"', text)
    b = get_board(board)   # (installed as package data: the same files)
    assert b.machine and b.startup.read_bytes() == (REPO / "boards" / "emulated" / "startup_cortex_m.c").read_bytes()
    assert b.linker_script.read_bytes() == (REPO / "boards" / "emulated" / "cortex_m_sections.ld").read_bytes()


def test_user_board_brings_its_own_startup_and_section_layout(tmp_path):
    """A board file may name its own startup code and section layout (beside it): the project
    uses those files, and the firmware links with them."""
    require_tools(BOARD_TOOLS)
    support = REPO / "boards" / "emulated"
    (tmp_path / "my_startup.c").write_text("/* my startup */\n" + (support / "startup_cortex_m.c").read_text())
    (tmp_path / "my_sections.ld").write_text("/* my layout */\n" + (support / "cortex_m_sections.ld").read_text())
    text = (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('toolchain = "arm-none-eabi"\n',
                                 'toolchain = "arm-none-eabi"\nstartup = "my_startup.c"\n'
                                 'linker_script = "my_sections.ld"\n'))
    cm = firmnet.compile(MODELS["digits_int8"], tmp_path / "out", board=str(path), name="digits")
    board_dir = tmp_path / "out" / "board"
    assert (board_dir / "my_startup.c").read_text().startswith("/* my startup */")
    assert (board_dir / "my_sections.ld").read_text().startswith("/* my layout */")
    assert not (board_dir / "startup_cortex_m.c").exists()
    assert (board_dir / "memory.ld").read_text().rstrip().endswith("INCLUDE my_sections.ld")
    assert (tmp_path / "out" / "build-mine" / "digits_firmware.elf").is_file(), cm.out_dir
    path.write_text(text.replace('toolchain = "arm-none-eabi"\n', 'toolchain = "arm-none-eabi"\nstartup = "nope.c"\n'))
    with pytest.raises(FirmnetError, match=r"'nope\.c' is neither beside it nor in"):
        get_board(str(path))


def test_fit_check_falls_back_to_the_estimate_when_the_link_fails(tmp_path):
    """A firmware that fails to build for another reason than size (here a compiler flag this
    gcc rejects) still gets its sources, checked by the estimate, which the message names.
    --winograd off: on the smaller board auto would keep the direct kernels' smaller weights."""
    require_tools(BOARD_TOOLS)
    board = _tiny_board(tmp_path, flash=1 << 20, ram=65536)
    board.write_text(board.read_text().replace('cflags = ["-O2",', 'cflags = ["-O2", "-mno-such-option",'))
    off = dict(winograd="off", kernels=_int8_weights(MODELS["digits_int8"]))
    cm = firmnet.compile(MODELS["digits_int8"], tmp_path / "ok", board=str(board), name="digits", **off)
    info = json.loads((cm.out_dir / "board" / "board.json").read_text())["firmware"]
    assert info["linked"] is False and "-mno-such-option" in info["error"]
    assert (cm.out_dir / "digits.c").is_file()
    small = _tiny_board(tmp_path, flash=32768, ram=65536)
    small.write_text(small.read_text().replace('cflags = ["-O2",', 'cflags = ["-O2", "-mno-such-option",'))
    weights = cm.report["weights_bytes"]   # the same C for the same CPU
    with pytest.raises(FirmnetError, match=r"\(an estimate: the firmware could not be linked to be measured: .*"
                                           rf"-mno-such-option.*\): flash: weights {weights:,} \+ code estimated at"):
        firmnet.compile(MODELS["digits_int8"], tmp_path / "small", board=str(small), name="digits", **off)


def test_fit_check_counts_the_stack_and_static_data_in_ram(tmp_path):
    """Arena + a 2,048-byte stack + 8 bytes of RAM (digits int8 on nucleo-l4r5zi's CPU: arena
    2,560 B with the DSP variants' scratch), but the firmware's other .bss (the startup code's
    status words) tips it over: refused with the linker's count."""
    require_tools(BOARD_TOOLS)
    probe = firmnet.compile(MODELS["digits_int8"], "unused", board=str(_tiny_board(tmp_path, 65536, 1 << 20)),
                            name="probe", write=False)
    arena = probe.report["arena_bytes"]
    ram = arena + 2048 + 8
    board = _tiny_board(tmp_path, flash=65536, ram=ram)
    with pytest.raises(FirmnetError, match=r"the firmware does not link, ld: region RAM overflowed by \d+ bytes.*"
                                           rf"RAM: [\d,]+ bytes \(\.data \+ \.bss [\d,]+, of which the arena {arena:,}, "
                                           rf"\+ a 2,048-byte stack\), the board has {ram:,}"):
        firmnet.compile(MODELS["digits_int8"], tmp_path / "out", board=str(board), name="digits")


def test_board_files_and_listing(tmp_path):
    boards = {b.name: b for b in list_boards()}
    assert set(EMULATED + REAL_CORTEX_M + ["raspberrypi4", "host"]) <= set(boards)
    for name in EMULATED:
        b = boards[name]
        assert b.emulated and b.sysclk_hz and b.bare_metal
    for name in REAL_CORTEX_M:
        assert boards[name].bare_metal and not boards[name].emulated
    assert not boards["raspberrypi4"].bare_metal and not boards["host"].bare_metal
    assert boards["rp2040-pico"].cpu_flags == ("-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft")
    assert not boards["rp2040-pico"].dsp and boards["mps2-an386"].dsp and boards["mps3-an547"].mve
    assert boards["raspberrypi4"].toolchain == "aarch64-linux-gnu"
    res = subprocess.run([sys.executable, "-m", "firmnet.cli", "boards"], capture_output=True, text=True)
    assert res.returncode == 0
    line = next(x for x in res.stdout.splitlines() if x.startswith("mps2-an386"))
    assert "4,194,304" in line and "DSP" in line and "cortex-m4" in line
    # A project compiled for a board, then for the host, loses the board's files.
    path = tmp_path / "m.onnx"
    onnx.save(_relu_model(8), path)
    firmnet.compile(path, tmp_path / "out", board="mps2-an386")
    assert (tmp_path / "out" / "board" / "toolchain.cmake").is_file() and (tmp_path / "out" / "main.c").is_file()
    firmnet.compile(path, tmp_path / "out")
    assert not (tmp_path / "out" / "board").exists() and not (tmp_path / "out" / "main.c").exists()


def test_raspberrypi4_example_program_with_the_host_compiler(tmp_path):
    """The Pi's project is a Linux program: its example main reads the inputs from files and
    prints the outputs. aarch64-linux-gnu-gcc is not needed here: the same CMake project
    built by the host compiler (the cross build is `-DCMAKE_TOOLCHAIN_FILE=board/toolchain.cmake`)."""
    if shutil.which("cmake") is None:
        pytest.fail("missing cmake: install it (Debian/Ubuntu: apt-get install cmake)")
    cm = firmnet.compile(MODELS["kws"], tmp_path / "pi", board="raspberrypi4", name="kws")
    assert "aarch64-linux-gnu-gcc" in (cm.out_dir / "board" / "toolchain.cmake").read_text()
    assert '"-mcpu=cortex-a72"' in (cm.out_dir / "board" / "firmnet_board_flags.cmake").read_text()
    for cmd in (["cmake", "-S", cm.out_dir, "-B", tmp_path / "b", "-DFIRMNET_WERROR=ON"],
                ["cmake", "--build", tmp_path / "b"]):
        res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
    (tmp_path / "x.bin").write_bytes(_model_inputs("kws")[0].tobytes())
    res = subprocess.run([str(tmp_path / "b" / "kws_example"), str(tmp_path / "x.bin")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["output:"] + [str(v) for v in KWS_CHECK_OUTPUT]


def test_raspberrypi4_cross_build_runs_under_qemu_user(tmp_path):
    """The Pi's project cross-compiled with its toolchain file (aarch64-linux-gnu-gcc) and
    run by qemu-aarch64 (user mode) prints TFLM's KWS check output."""
    for tool, package in (("cmake", "cmake"), ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
                          ("qemu-aarch64", "qemu-user")):
        if shutil.which(tool) is None:
            pytest.fail(f"missing {tool}: install it (Debian/Ubuntu: apt-get install {package})")
    cm = firmnet.compile(MODELS["kws"], tmp_path / "pi", board="raspberrypi4", name="kws")
    build = tmp_path / "b"
    for cmd in (["cmake", "-S", cm.out_dir, "-B", build, "-DFIRMNET_WERROR=ON",
                 f"-DCMAKE_TOOLCHAIN_FILE={cm.out_dir / 'board' / 'toolchain.cmake'}"],
                ["cmake", "--build", build]):
        res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
    exe = build / "kws_example"
    assert b"\x7fELF" == exe.read_bytes()[:4] and exe.read_bytes()[18] == 0xB7   # e_machine = EM_AARCH64
    (tmp_path / "x.bin").write_bytes(_model_inputs("kws")[0].tobytes())
    res = subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", str(exe), str(tmp_path / "x.bin")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["output:"] + [str(v) for v in KWS_CHECK_OUTPUT]
