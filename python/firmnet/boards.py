"""Board descriptions (boards/<name>.toml): CPU, FPU, extensions, memory sizes, toolchain, emulation.

A board file says (see DESIGN.md "Boards"):

    description, cpu, arch, fpu ("none", "auto" or an -mfpu name), float_abi, dsp, mve, neon,
    toolchain ("host", "arm-none-eabi", "aarch64-linux-gnu"), cflags (beyond the CPU flags),
    [memory] flash_origin, flash_bytes, ram_origin, ram_bytes, stack_bytes (reserved at the
             top of RAM); optionally vectors_origin, vectors_bytes (a separate region for the
             vector table) and boot2_bytes (reserved at the start of flash: the RP2040's boot2),
    startup, linker_script: the bare-metal firmware's startup code and section layout (paths
             relative to the board file's folder or to boards/; default: the ones every
             Cortex-M board here shares, emulated/startup_cortex_m.c and
             emulated/cortex_m_sections.ld, which the emulated boards name explicitly),
    [emulation] qemu, machine, sysclk_hz.

Every bare-metal board (arm-none-eabi with a flash_origin) links a firmware ELF: its startup
code and section layout, and the memory regions written from [memory] (firmware.py), which
INCLUDE the section layout. `--board` also takes the path of
a .toml file in this format (a board of your own); an arm-none-eabi board without
flash_origin gets the library and an example main to link into your own firmware, and is
checked on the weights and the arena only.

Fit check (check_fits): a model must fit the board's flash (weights + code + constants +
initial values of .data) and RAM (.data + .bss, the arena included, + the stack reserve).
When the board's cross compiler and cmake are installed, the project is linked and the
ELF's sizes decide (firmware.check_linked_fit); otherwise check_fits uses the weights and
arena of the memory plan plus a conservative estimate of the rest (CODE_ESTIMATE_*), and
says so.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .ir import FirmnetError
from .resources import boards_dir

# What a firmware needs beyond the weights and the arena, when it cannot be linked to be
# measured: startup code, the kernels, the generated invoke, libgcc/newlib helpers (soft
# float on a Cortex-M0+), the example main. The parameter arrays and structs are part of the
# weights (report weights_bytes: every constant the generated C defines). Measured (README
# "Boards"): 4-31 KB of flash beyond the weights for the bundled example, the MLPerf Tiny models and the test models on every
# Cortex-M board; all the runtime's kernels together are 40 KB for a Cortex-M0+, 44 KB with
# the DSP paths of a Cortex-M4. The estimate is meant as an upper bound: a model it accepts
# links, one it refuses may still fit (install the cross compiler to decide with the ELF).
CODE_ESTIMATE_BASE = 64 * 1024          # bytes of flash for any model
CODE_ESTIMATE_PER_STEP = 512            # bytes of flash per step of the generated invoke
STATIC_RAM_ESTIMATE = 1024              # bytes of .data + .bss beyond the arena

TOOLCHAIN_PREFIXES = {"arm-none-eabi": "arm-none-eabi-", "aarch64-linux-gnu": "aarch64-linux-gnu-", "host": ""}
# Debian packages that provide each toolchain (for the messages when one is missing).
TOOLCHAIN_PACKAGES = {"arm-none-eabi": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
                      "aarch64-linux-gnu": "gcc-aarch64-linux-gnu", "host": "gcc"}


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    toolchain: str
    flash_bytes: int | None      # None: not limited (host)
    ram_bytes: int | None
    cflags: tuple[str, ...] = ()
    arch: str = ""
    fpu: str = "none"
    float_abi: str = "soft"
    dsp: bool = False
    mve: bool = False
    neon: bool = False
    stack_bytes: int = 0         # stack reserved at the top of RAM (checked with the arena)
    qemu: str | None = None      # emulated boards: QEMU system emulator,
    machine: str | None = None   # its -M machine,
    sysclk_hz: int | None = None  # the CPU clock SysTick counts (instructions per tick = 1e9 / sysclk_hz)
    flash_origin: int | None = None    # bare-metal boards: where flash and RAM start,
    ram_origin: int | None = None
    vectors_origin: int | None = None  # a separate region for the vector table (MPS3 ITCM)
    vectors_bytes: int = 0
    boot2_bytes: int = 0               # reserved at the start of flash (RP2040 boot2)
    startup: Path = Path()             # bare-metal boards: startup code and section layout (files)
    linker_script: Path = Path()

    @property
    def emulated(self) -> bool:
        return self.machine is not None

    @property
    def cortex_m(self) -> bool:
        return self.cpu.startswith("cortex-m")

    @property
    def bare_metal(self) -> bool:
        """Links a firmware ELF (startup code, linker script from [memory])."""
        return self.toolchain == "arm-none-eabi" and self.flash_origin is not None

    @property
    def code_flash_bytes(self) -> int | None:
        """Flash available to the firmware (the boot2 reserve excluded)."""
        return None if self.flash_bytes is None else self.flash_bytes - self.boot2_bytes

    def missing_tools(self) -> list[tuple[str, str]]:
        """(program, Debian package) of the tools a cross build needs and this machine lacks."""
        import shutil
        missing = []
        if shutil.which("cmake") is None:
            missing.append(("cmake", "cmake"))
        if shutil.which(self.compiler) is None:
            missing.append((self.compiler, TOOLCHAIN_PACKAGES[self.toolchain]))
        return missing

    def can_link(self) -> bool:
        """A bare-metal board whose firmware can be linked here (fit check on the ELF)."""
        return self.bare_metal and not self.missing_tools()

    @property
    def cpu_flags(self) -> tuple[str, ...]:
        """The compiler flags that select the CPU, FPU and float ABI (also used to link)."""
        if self.toolchain == "host":
            return ()
        if self.toolchain == "aarch64-linux-gnu":
            return (f"-mcpu={self.cpu}",)
        flags = [f"-mcpu={self.cpu}", "-mthumb", f"-mfloat-abi={self.float_abi}"]
        if self.fpu != "none":
            flags.append(f"-mfpu={self.fpu}")
        return tuple(flags)

    @property
    def compiler(self) -> str:
        return "cc" if self.toolchain == "host" else TOOLCHAIN_PREFIXES[self.toolchain] + "gcc"

    def tool(self, name: str) -> str:
        """A binutils program of the board's toolchain (size, objdump, ...)."""
        return name if self.toolchain == "host" else TOOLCHAIN_PREFIXES[self.toolchain] + name

    @property
    def features(self) -> list[str]:
        """CPU features, for `firmnet boards`."""
        feats = []
        if self.fpu != "none" and self.toolchain != "host":
            feats.append(f"FPU {self.fpu}" if self.fpu != "auto" else "FPU")
        if self.dsp:
            feats.append("DSP")
        if self.mve:
            feats.append("MVE (Helium)")
        if self.neon:
            feats.append("NEON")
        if not feats and self.toolchain != "host":
            feats.append("no FPU, no DSP")
        return feats

    def path(self, relative: str) -> Path:
        return boards_dir() / relative

    def code_estimate(self, report: dict) -> int:
        """Conservative bytes of flash beyond the weights (see CODE_ESTIMATE_BASE)."""
        return CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(report.get("layers", ()))

    def check_fits(self, report: dict, sizes: dict | None = None, source: str | None = None,
                   link_error: str | None = None) -> None:
        """Refuse a model that cannot fit, with the numbers and what to try.

        sizes: the linked ELF's (qemu.elf_sizes: flash = text + data, ram = data + bss,
        stack = the reserve), source saying where they come from. Without them: the memory
        plan's weights and arena, plus the conservative code estimate when the firmware
        cannot be linked here (link_error: why a link failed); with the tools installed, the
        ELF check follows once the project is written."""
        if self.flash_bytes is None and self.ram_bytes is None:
            return
        weights, arena = report["weights_bytes"], report["arena_bytes"]
        flash_cap, ram_cap = self.code_flash_bytes, self.ram_bytes
        problems = []
        if sizes is not None:
            stack = sizes.get("stack", self.stack_bytes)
            method = source or "sizes of the linked firmware ELF"
            if flash_cap is not None and sizes["flash"] > flash_cap:
                problems.append(f"flash: {sizes['flash']:,} bytes (weights {weights:,} + code and initial data "
                                f"{sizes['flash'] - weights:,}), the board has {flash_cap:,}")
            if ram_cap is not None and sizes["ram"] + stack > ram_cap:
                problems.append(f"RAM: {sizes['ram'] + stack:,} bytes (.data + .bss {sizes['ram']:,}, of which "
                                f"the arena {arena:,}, + a {stack:,}-byte stack), the board has {ram_cap:,}")
        else:
            stack = self.stack_bytes
            stack_text = f" + a {stack:,}-byte stack" if stack else ""
            if (flash_cap is not None and weights > flash_cap) or (ram_cap is not None and arena + stack > ram_cap):
                method = "the memory plan alone, before any code"
                if flash_cap is not None and weights > flash_cap:
                    problems.append(f"flash: the weights alone need {weights:,} bytes, the board has {flash_cap:,}")
                if ram_cap is not None and arena + stack > ram_cap:
                    problems.append(f"RAM: the arena needs {arena:,} bytes{stack_text}, the board has {ram_cap:,}")
            elif self.bare_metal and (link_error or not self.can_link()):
                tools = self.missing_tools()
                if link_error:
                    method = f"an estimate: the firmware could not be linked to be measured: {link_error}"
                else:
                    method = (f"an estimate: {', '.join(t for t, _ in tools)} not installed, so the firmware could "
                              f"not be linked and measured (Debian/Ubuntu: apt-get install "
                              f"{' '.join(p for _, p in tools)})")
                code = self.code_estimate(report)
                if flash_cap is not None and weights + code > flash_cap:
                    problems.append(f"flash: weights {weights:,} + code estimated at {code:,} = {weights + code:,} "
                                    f"bytes, the board has {flash_cap:,}")
                if ram_cap is not None and arena + STATIC_RAM_ESTIMATE + stack > ram_cap:
                    problems.append(f"RAM: arena {arena:,} + other data estimated at {STATIC_RAM_ESTIMATE:,}"
                                    f"{stack_text} = {arena + STATIC_RAM_ESTIMATE + stack:,} bytes, "
                                    f"the board has {ram_cap:,}")
        if problems:
            float_layers = any(layer.get("dtype") == "float32" for layer in report.get("layers", ()))
            quantize = (", int8 quantization (firmnet compress --quantize int8: weights 4x smaller than float32)"
                        if float_layers or not report.get("layers") else "")
            raise FirmnetError(f"the model does not fit board '{self.name}' ({method}): {'; '.join(problems)}. "
                               f"Try a smaller model{quantize}, or a board with more flash/RAM (firmnet boards)")


def list_boards() -> list[Board]:
    return [get_board(p.stem) for p in sorted(boards_dir().glob("*.toml"))]


def get_board(name) -> Board:
    """A board by name (boards/<name>.toml) or by the path of a .toml file of the same format."""
    if str(name).endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise FirmnetError(f"board file {path} does not exist")
        name = path.stem
    else:
        path = boards_dir() / f"{name}.toml"
        if not path.is_file():
            known = ", ".join(p.stem for p in sorted(boards_dir().glob("*.toml")))
            raise FirmnetError(f"unknown board '{name}' (known boards: {known}; or give the path of a .toml file)")
    try:
        data = tomllib.loads(path.read_text())
        mem = data.get("memory", {})
        emu = data.get("emulation", {})
        board = Board(name=name, description=data.get("description", ""), cpu=data["cpu"],
                      toolchain=data["toolchain"], flash_bytes=mem.get("flash_bytes"), ram_bytes=mem.get("ram_bytes"),
                      cflags=tuple(data.get("cflags", ())), arch=data.get("arch", ""), fpu=data.get("fpu", "none"),
                      float_abi=data.get("float_abi", "soft"), dsp=bool(data.get("dsp", False)),
                      mve=bool(data.get("mve", False)), neon=bool(data.get("neon", False)),
                      stack_bytes=int(mem.get("stack_bytes", 0)), qemu=emu.get("qemu"), machine=emu.get("machine"),
                      sysclk_hz=emu.get("sysclk_hz"), flash_origin=mem.get("flash_origin"),
                      ram_origin=mem.get("ram_origin"), vectors_origin=mem.get("vectors_origin"),
                      vectors_bytes=int(mem.get("vectors_bytes", 0)), boot2_bytes=int(mem.get("boot2_bytes", 0)),
                      startup=_support_file(path, data.get("startup", DEFAULT_STARTUP)),
                      linker_script=_support_file(path, data.get("linker_script", DEFAULT_LINKER_SCRIPT)))
    except (tomllib.TOMLDecodeError, KeyError) as exc:
        raise FirmnetError(f"board file {path} is not valid: {type(exc).__name__}: {exc}") from None
    return _checked(board, path)


DEFAULT_STARTUP = "emulated/startup_cortex_m.c"
DEFAULT_LINKER_SCRIPT = "emulated/cortex_m_sections.ld"


def _support_file(board_file: Path, relative: str) -> Path:
    """A file a board file names: beside the board file, else in boards/."""
    for base in (board_file.parent, boards_dir()):
        if (base / relative).is_file():
            return base / relative
    raise FirmnetError(f"board file {board_file}: '{relative}' is neither beside it nor in {boards_dir()}")


def _checked(board: Board, path: Path) -> Board:
    """A bare-metal board's memory map must give both regions, and a stack top the AAPCS accepts."""
    if board.flash_origin is None:
        return board
    if board.ram_origin is None or board.flash_bytes is None or board.ram_bytes is None:
        raise FirmnetError(f"board file {path}: [memory] with flash_origin also needs flash_bytes, ram_origin and "
                           "ram_bytes")
    if (board.ram_origin + board.ram_bytes) % 8 or board.stack_bytes % 8:
        raise FirmnetError(f"board file {path}: the stack starts at ram_origin + ram_bytes and must be 8-byte "
                           "aligned, as must stack_bytes")
    return board
