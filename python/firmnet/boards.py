"""Board descriptions (boards/<name>.toml): CPU, memory sizes, toolchain."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass

from .ir import FirmnetError
from .resources import boards_dir


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    toolchain: str
    flash_bytes: int | None      # None: not limited (host)
    ram_bytes: int | None
    cflags: tuple[str, ...] = ()

    def check_fits(self, report: dict) -> None:
        """Refuse a model that cannot fit, with the numbers."""
        problems = []
        if self.flash_bytes is not None and report["weights_bytes"] > self.flash_bytes:
            problems.append(f"weights need {report['weights_bytes']} bytes of flash, the board has {self.flash_bytes}")
        if self.ram_bytes is not None and report["arena_bytes"] > self.ram_bytes:
            problems.append(f"the arena needs {report['arena_bytes']} bytes of RAM, the board has {self.ram_bytes}")
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
    return Board(name=name, description=data.get("description", ""), cpu=data["cpu"], toolchain=data["toolchain"],
                 flash_bytes=mem.get("flash_bytes"), ram_bytes=mem.get("ram_bytes"),
                 cflags=tuple(data.get("cflags", ())))
