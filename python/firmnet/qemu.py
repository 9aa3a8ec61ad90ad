"""Cross-build a generated project for a board and run it in QEMU (emulated boards).

    build(out, board)              cmake + the board's cross compiler → OUT/build-<board>/<name>_firmware.elf
                                   (every Cortex-M board, emulated or real)
    run(out, board, inputs)        one inference in QEMU: outputs, instructions, stack, per-layer counts
    elf_sizes(elf, board)          flash (text + rodata + data), static RAM (data + bss) and the stack
                                   reserve of an ELF

How instructions are counted: QEMU runs with `-icount shift=0`, which advances the virtual
clock by exactly 1 ns per guest instruction, whatever the host does. The firmware reads
SysTick, clocked by the CPU clock of the board (25 MHz on MPS2, 32 MHz on MPS3), before and
after `<name>_run()`; a tick is therefore 1e9 / f instructions (40 on MPS2, 31.25 on MPS3),
and that is the resolution of every count, per inference and per layer. SysTick's 24-bit
counter wraps every 2^24 ticks; its interrupt counts the wraps (a few instructions per
671 M). Counts are deterministic: the same ELF and inputs give the same numbers every run.
QEMU counts instructions, not cycles (no pipeline, cache or memory wait states), so the
figures compare code paths (kernels, compilers, libraries), not wall-clock time on silicon.

Profile builds (-DFIRMNET_PROFILE) call `<name>_profile(step)` after every step; the tick
count at each call gives the instructions of each layer (the call itself, ~15
instructions, is counted in the layer it follows).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boards import Board, get_board
from .codegen.c_literals import c_identifier
from .ir import FirmnetError

STATS_MAGIC = 0x74736E66   # "fnst"
SHF_WRITE, SHF_ALLOC, SHT_NOBITS = 0x1, 0x2, 8
DEFAULT_TIMEOUT = 600.0


@dataclass
class FirmwareRun:
    board: str
    outputs: list[np.ndarray]
    ticks: int                      # SysTick ticks of one <name>_run()
    instructions_per_tick: float
    stack_bytes: int                # stack high-water mark of the whole program
    elf: Path
    layers: list[dict] = field(default_factory=list)   # with profile=True: per step

    @property
    def instructions(self) -> int:
        """Guest instructions of one inference (resolution: one tick)."""
        return round(self.ticks * self.instructions_per_tick)


def _board(board) -> Board:
    return board if isinstance(board, Board) else get_board(board)


def require_tools(board: Board, emulate: bool = False) -> None:
    """A FirmnetError saying what to install when the board's tools are missing."""
    missing = board.missing_tools()
    if emulate and board.emulated and shutil.which(board.qemu) is None:
        missing.append((board.qemu, "qemu-system-arm"))
    if missing:
        tools = ", ".join(t for t, _ in missing)
        packages = " ".join(p for _, p in missing)
        raise FirmnetError(f"board '{board.name}' needs {tools}, which is not installed: install it "
                           f"(Debian/Ubuntu: apt-get install {packages})")


def _meta(out: Path) -> dict:
    path = out / "report.json"
    if not path.is_file():
        raise FirmnetError(f"{out} has no report.json: run firmnet compile first")
    return json.loads(path.read_text())


def _check_board_files(out: Path, board: Board) -> None:
    from .firmware import board_of
    have = board_of(out)
    if have != board.name:
        raise FirmnetError(f"{out} holds no files for board '{board.name}' "
                           f"({'it was compiled for ' + have if have else 'it was compiled for the host'}): "
                           f"run firmnet compile --board {board.name}")


def build_dir(out, board, profile: bool = False) -> Path:
    return Path(out) / f"build-{_board(board).name}{'-profile' if profile else ''}"


def _run_tool(cmd, what: str, cwd=None) -> None:
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        raise FirmnetError(f"{what} failed:\n{' '.join(str(c) for c in cmd)}\n{res.stdout[-4000:]}{res.stderr[-4000:]}")


def build(out, board, profile: bool = False, werror: bool = False, jobs: int | None = None) -> Path:
    """Configure (once) and build the project in OUT for the board; the firmware ELF
    (Cortex-M boards) or the build folder (other boards)."""
    out, board = Path(out).resolve(), _board(board)
    require_tools(board)
    _check_board_files(out, board)
    bdir = build_dir(out, board, profile)
    options = [f"-DFIRMNET_PROFILE={'ON' if profile else 'OFF'}", f"-DFIRMNET_WERROR={'ON' if werror else 'OFF'}"]
    stamp = bdir / "firmnet-configure.txt"
    wanted = " ".join(options)
    if not (bdir / "CMakeCache.txt").is_file() or not stamp.is_file() or stamp.read_text() != wanted:
        shutil.rmtree(bdir, ignore_errors=True)
        _run_tool(["cmake", "-S", out, "-B", bdir, f"-DCMAKE_TOOLCHAIN_FILE={out / 'board' / 'toolchain.cmake'}",
                   *options], f"configuring {out} for board {board.name} (cmake)")
        stamp.write_text(wanted)
    _run_tool(["cmake", "--build", bdir, "-j", str(jobs or os.cpu_count() or 2)],
              f"building {out} for board {board.name}")
    if not board.bare_metal:
        return bdir
    prefix = c_identifier(_meta(out)["name"]).lower()
    return bdir / f"{prefix}_firmware.elf"


def elf_sizes(elf, board=None) -> dict:
    """Bytes of a 32-bit little-endian ELF, from its section headers (what `size -A` lists):
    text = allocated read-only sections (vector table, code, rodata: the weights), data =
    allocated writable ones with contents (.data: in RAM, its initial values in flash), bss =
    allocated sections without contents, except .stack, the stack reserve (stack).
    flash = text + data, ram = data + bss (static RAM, the arena included; the stack comes
    on top). board: unused (kept for callers)."""
    raw = Path(elf).read_bytes()
    if raw[:4] != b"\x7fELF" or raw[4] != 1 or raw[5] != 1:
        raise FirmnetError(f"{elf} is not a 32-bit little-endian ELF file")
    shoff, = struct.unpack_from("<I", raw, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", raw, 0x2E)
    headers = [struct.unpack_from("<IIIIII", raw, shoff + k * shentsize) for k in range(shnum)]
    strtab = headers[shstrndx][4]
    sizes = {"text": 0, "data": 0, "bss": 0, "stack": 0}
    for name_off, sh_type, flags, _addr, _offset, size in headers:
        if not flags & SHF_ALLOC or size == 0:
            continue
        name = raw[strtab + name_off:raw.index(b"\0", strtab + name_off)].decode()
        if sh_type == SHT_NOBITS:
            sizes["stack" if name == ".stack" else "bss"] += size
        else:
            sizes["data" if flags & SHF_WRITE else "text"] += size
    sizes["flash"] = sizes["text"] + sizes["data"]
    sizes["ram"] = sizes["data"] + sizes["bss"]
    return sizes


def _as_inputs(meta: dict, inputs) -> list[np.ndarray]:
    specs = meta["inputs"]
    inputs = list(inputs)
    if len(inputs) != len(specs):
        raise FirmnetError(f"the model takes {len(specs)} input(s) ({', '.join(s['name'] for s in specs)}), "
                           f"got {len(inputs)}")
    arrays = []
    for spec, x in zip(specs, inputs):
        x = np.asarray(x)
        if list(x.shape) != spec["shape"]:
            raise FirmnetError(f"input '{spec['name']}' must have shape {spec['shape']}, got {list(x.shape)}")
        if x.dtype != np.dtype(spec["dtype"]):
            if not np.can_cast(x.dtype, spec["dtype"], "same_kind"):
                raise FirmnetError(f"input '{spec['name']}' must be {spec['dtype']}, got {x.dtype}")
            x = x.astype(spec["dtype"])
        arrays.append(np.ascontiguousarray(x))
    return arrays


def run_elf(elf, board, meta: dict, inputs, timeout: float = DEFAULT_TIMEOUT, profile: bool = False) -> FirmwareRun:
    """Run a built firmware once in QEMU on these inputs."""
    board = _board(board)
    if not board.emulated:
        raise FirmnetError(f"board '{board.name}' is not emulated: firmnet run works on "
                           f"{', '.join(b.name for b in _emulated())}; cross-compile for it with cmake")
    require_tools(board, emulate=True)
    arrays = _as_inputs(meta, inputs)
    with tempfile.TemporaryDirectory(prefix="firmnet-qemu-") as tmp:
        work = Path(tmp)
        for k, x in enumerate(arrays):
            (work / f"fn_in{k}.bin").write_bytes(x.tobytes())
        cmd = [board.qemu, "-M", board.machine, "-nographic", "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
        try:
            res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FirmnetError(f"QEMU ({board.machine}) did not finish within {timeout:.0f} s: {' '.join(cmd)}") from None
        if res.returncode != 0:
            raise FirmnetError(f"the firmware failed on {board.machine} (exit status {res.returncode}): "
                               f"{(res.stderr + res.stdout).strip()[-2000:] or 'no message'}")
        stats = np.frombuffer((work / "fn_stats.bin").read_bytes(), np.uint32)
        if stats[0] != STATS_MAGIC:
            raise FirmnetError(f"the firmware wrote no valid fn_stats.bin on {board.machine}")
        outputs = []
        for k, spec in enumerate(meta["outputs"]):
            raw = (work / f"fn_out{k}.bin").read_bytes()
            outputs.append(np.frombuffer(raw, np.dtype(spec["dtype"])).reshape(spec["shape"]).copy())
        per_tick = 1e9 / int(stats[5])
        result = FirmwareRun(board.name, outputs, int(stats[2]) | (int(stats[3]) << 32), per_tick,
                             int(stats[4]), Path(elf))
        if profile:
            ticks = np.frombuffer((work / "fn_profile.bin").read_bytes(), np.uint32).astype(np.int64)
            cumulative = np.cumsum(np.diff(ticks) % (1 << 32))
            instructions = np.diff(np.round(np.concatenate([[0], cumulative]) * per_tick).astype(np.int64))
            for layer, n in zip(meta["layers"], instructions):
                result.layers.append({"index": layer["index"], "name": layer["name"], "op": layer["op"],
                                      "kernel": layer["kernel"], "macs": layer["macs"], "instructions": int(n)})
    return result


def run(out, board, inputs, profile: bool = False, timeout: float = DEFAULT_TIMEOUT,
        werror: bool = False) -> FirmwareRun:
    """Cross-build OUT for an emulated board (reusing an earlier build) and run one inference."""
    elf = build(out, board, profile=profile, werror=werror)
    return run_elf(elf, board, _meta(Path(out)), inputs, timeout=timeout, profile=profile)


def _emulated() -> list[Board]:
    from .boards import list_boards
    return [b for b in list_boards() if b.emulated]
