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
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet import qemu
from firmnet.boards import get_board, list_boards
from firmnet.ir import FirmnetError
from firmnet.reference.quantize_s8 import quantize_ort

from helpers import REPO, assert_close

EMULATED = ["mps2-an386", "mps2-an500", "mps3-an547"]
REAL_CORTEX_M = ["nucleo-l4r5zi", "stm32f746g-disco", "nrf52840-dk", "rp2040-pico"]
DIGITS = REPO / "examples" / "digits"
KWS = REPO.parent / "shared" / "models" / "kws_ref_model.tflite"
MODELS = {"digits": DIGITS / "digits_cnn.onnx", "digits_int8": DIGITS / "digits_cnn.int8.onnx", "kws": KWS}
# ../shared/ANCHORS.md: input byte i = (i*7 + 3) % 256 - 128 gives this KWS output.
KWS_CHECK_OUTPUT = [-128] * 9 + [127, -128, -127]

TOOLS = {"cmake": "cmake", "arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
         "qemu-system-arm": "qemu-system-arm"}


def require_tools():
    missing = [(t, p) for t, p in TOOLS.items() if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(t for t, _ in missing)}: install them "
                    f"(Debian/Ubuntu: apt-get install {' '.join(p for _, p in missing)}); scripts/test does it as root")


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
            cache[model, board] = firmnet.compile(MODELS[model], out, board=board, name=model)
        return cache[model, board]
    return get


@functools.lru_cache(maxsize=None)
def _host_outputs(model: str, out_dir: str):
    cm = firmnet.compile(MODELS[model], out_dir, name=model)
    return [o.copy() for o in cm.build_host().run(list(_model_inputs(model)))], cm


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
    require_tools()
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
    require_tools()
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
    require_tools()
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


@pytest.mark.parametrize("board", REAL_CORTEX_M)
def test_real_board_project_cross_compiles(projects, board):
    """`cmake -B build -DCMAKE_TOOLCHAIN_FILE=board/toolchain.cmake && cmake --build build`:
    the library and the example main, warning-free, for the board's CPU."""
    require_tools()
    cm = projects("kws", board)
    bdir = qemu.build(cm.out_dir, board, werror=True)
    lib = bdir / "libkws.a"
    assert lib.is_file()
    flags = (bdir / "CMakeFiles" / "kws.dir" / "flags.make").read_text()
    for flag in get_board(board).cpu_flags:
        assert flag in flags
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(lib)], capture_output=True, text=True).stdout
    if board == "rp2040-pico":
        assert "Tag_CPU_arch: v6S-M" in attrs and "Tag_FP_arch" not in attrs
    else:
        assert "Tag_CPU_arch: v7E-M" in attrs and "Tag_ABI_VFP_args: VFP registers" in attrs


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
    with pytest.raises(FirmnetError, match=r"does not fit board 'mps3-an547'.*the arena needs \d+ bytes of RAM "
                                           r"plus a 16384-byte stack, the board has 524288.*firmnet compress"):
        firmnet.compile(big_arena, tmp_path / "a", board="mps3-an547")
    firmnet.compile(big_arena, tmp_path / "b", board="mps2-an386", write=False)    # 4 MiB: fits
    big_weights = _relu_model(300_000, constant=True)   # 1.2 MB of weights: over the Pico's 264 KiB RAM too
    with pytest.raises(FirmnetError, match=r"does not fit board 'stm32f746g-disco': weights need 1200000 bytes "
                                           r"of flash, the board has 1048576"):
        firmnet.compile(big_weights, tmp_path / "c", board="stm32f746g-disco")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_board_files_and_listing(tmp_path):
    boards = {b.name: b for b in list_boards()}
    assert set(EMULATED + REAL_CORTEX_M + ["raspberrypi4", "host"]) <= set(boards)
    for name in EMULATED:
        b = boards[name]
        assert b.emulated and b.sysclk_hz and b.path(b.linker_script).is_file() and b.path(b.startup).is_file()
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
