"""Board descriptions (boards/<name>.toml): CPU, FPU, extensions, memory sizes, toolchain, emulation.

A board file says (see DESIGN.md "Boards"):

    description, cpu, arch, fpu ("none", "auto" or an -mfpu name), float_abi, dsp, mve, neon,
    toolchain ("host", "arm-none-eabi", "aarch64-linux-gnu"), cflags (beyond the CPU flags),
    [memory] flash_bytes, ram_bytes, stack_bytes (reserved at the top of RAM),
    [emulation] qemu, machine, sysclk_hz, linker_script, startup (paths under boards/).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .ir import FirmnetError
from .resources import boards_dir

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
    linker_script: str | None = None   # paths relative to boards/
    startup: str | None = None

    @property
    def emulated(self) -> bool:
        return self.machine is not None

    @property
    def cortex_m(self) -> bool:
        return self.cpu.startswith("cortex-m")

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

    def check_fits(self, report: dict) -> None:
        """Refuse a model that cannot fit, with the numbers."""
        problems = []
        if self.flash_bytes is not None and report["weights_bytes"] > self.flash_bytes:
            problems.append(f"weights need {report['weights_bytes']} bytes of flash, the board has {self.flash_bytes}")
        if self.ram_bytes is not None and report["arena_bytes"] + self.stack_bytes > self.ram_bytes:
            stack = f" plus a {self.stack_bytes}-byte stack" if self.stack_bytes else ""
            problems.append(f"the arena needs {report['arena_bytes']} bytes of RAM{stack}, "
                            f"the board has {self.ram_bytes}")
        if problems:
            raise FirmnetError(f"the model does not fit board '{self.name}': {'; '.join(problems)}. "
                               "Try a board with more memory, or compress the model (firmnet compress)")


def list_boards() -> list[Board]:
    return [get_board(p.stem) for p in sorted(boards_dir().glob("*.toml"))]


def get_board(name: str) -> Board:
    path = boards_dir() / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(boards_dir().glob("*.toml")))
        raise FirmnetError(f"unknown board '{name}' (known boards: {known})")
    data = tomllib.loads(path.read_text())
    mem = data.get("memory", {})
    emu = data.get("emulation", {})
    return Board(name=name, description=data.get("description", ""), cpu=data["cpu"], toolchain=data["toolchain"],
                 flash_bytes=mem.get("flash_bytes"), ram_bytes=mem.get("ram_bytes"),
                 cflags=tuple(data.get("cflags", ())), arch=data.get("arch", ""), fpu=data.get("fpu", "none"),
                 float_abi=data.get("float_abi", "soft"), dsp=bool(data.get("dsp", False)),
                 mve=bool(data.get("mve", False)), neon=bool(data.get("neon", False)),
                 stack_bytes=int(mem.get("stack_bytes", 0)), qemu=emu.get("qemu"), machine=emu.get("machine"),
                 sysclk_hz=emu.get("sysclk_hz"), linker_script=emu.get("linker_script"),
                 startup=emu.get("startup"))
