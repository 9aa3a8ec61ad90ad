"""Board-specific files of a generated project (example main, toolchain, startup, linker script)."""
from __future__ import annotations


def write_board_files(out, board, graph, name) -> None:
    """Nothing beyond the model library for the host board."""
