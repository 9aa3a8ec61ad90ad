"""Bytes of the C objects the generated code defines, as the target's compiler lays them out.

A parameter struct's size is read from the runtime headers (their `typedef struct {...} name;`
and `typedef enum {...} name;`), with C's layout rules: each field at the next multiple
of its alignment, the struct's alignment the largest of its fields', its size a multiple
of that. Scalar sizes come from the dtype table (dtypes.py); pointers and enums from the
target's ABI. tests/test_weights_bytes.py checks every size against arm-none-eabi-gcc's
and the host compiler's objects.

>>> arm = Layout(ABIS["arm-none-eabi"])
>>> arm.sizeof("fn_conv2d_s8_params"), arm.sizeof("fn_requant_mode"), arm.sizeof("float")
(104, 1, 4)
"""
from __future__ import annotations

import ctypes
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..dtypes import CTYPE_BYTES
from ..resources import runtime_include_dir


@dataclass(frozen=True)
class Abi:
    pointer_bytes: int
    int64_align: int
    short_enums: bool   # an enum takes the smallest integer type holding its values (AAPCS, arm-none-eabi)


ABIS = {
    "arm-none-eabi": Abi(4, 8, True),
    "aarch64-linux-gnu": Abi(8, 8, False),
    "host": Abi(ctypes.sizeof(ctypes.c_void_p), ctypes.alignment(ctypes.c_int64), False),
}


@dataclass(frozen=True)
class _Field:
    name: str
    ctype: str
    pointer: bool
    count: int            # elements of an array field (1: a scalar)


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", " ", text, flags=re.S))


def public_headers(include_dir: Path) -> list[Path]:
    return [p for p in sorted(include_dir.glob("*.h")) if not p.name.endswith("_impl.h")]


@functools.lru_cache(maxsize=4)
def _declarations(include_dir: str) -> tuple[dict, dict, dict]:
    """({struct name: its body}, {enum name: its body}, {macro: integer}) of every public runtime
    header (not the *_impl.h code the variants of a kernel share, whose types are internal and
    depend on the CPU); a body is read when its type's size is asked for."""
    structs, enums, macros = {}, {}, {}
    texts = [_strip_comments(p.read_text()) for p in public_headers(Path(include_dir))]
    for text in texts:
        macros.update(re.findall(r"^\s*#define\s+(\w+)\s+(\d+)\s*$", text, re.M))
    for text in texts:
        for kind, body, name in re.findall(r"typedef\s+(struct|enum)\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            (enums if kind == "enum" else structs)[name] = body
    for text in texts:   # `typedef other_params name;`: the same layout under a second name
        for target, name in re.findall(r"typedef\s+(\w+)\s+(\w+)\s*;", text):
            for table in (structs, enums):
                if target in table:
                    table[name] = table[target]
    return structs, enums, macros


def _enum_values(body: str, name: str) -> list[int]:
    values, last = [], -1
    for item in (i.strip() for i in body.split(",") if i.strip()):
        m = re.fullmatch(r"\w+(?:\s*=\s*(-?\d+))?", item)
        if not m:
            raise ValueError(f"enum {name}: cannot read '{item}' (c_layout reads integer literals only)")
        last = int(m.group(1)) if m.group(1) is not None else last + 1
        values.append(last)
    return values


def _fields(decl: str, macros: dict, struct: str) -> list[_Field]:
    """`const int32_t *a, b[FN_MAX_DIMS]` → one _Field per declarator."""
    m = re.fullmatch(r"\s*(?:const\s+)?(\w+)\s+(.*?)\s*", decl, re.S)
    if not m:
        raise ValueError(f"struct {struct}: cannot read the field '{' '.join(decl.split())}'")
    ctype, fields = m.group(1), []
    for declarator in m.group(2).split(","):
        d = re.fullmatch(r"\s*(\*?)\s*(?:const\s+)?(\w+)\s*((?:\[\s*\w+\s*\]\s*)*)", declarator)
        if not d:
            raise ValueError(f"struct {struct}: cannot read the field '{declarator.strip()}' of type {ctype}")
        dims = [int(macros.get(x, x)) for x in re.findall(r"\[\s*(\w+)\s*\]", d.group(3))]
        fields.append(_Field(d.group(2), ctype, bool(d.group(1)), math.prod(dims)))
    return fields


class Layout:
    """sizeof / alignof of C types under one ABI, from the runtime headers."""

    def __init__(self, abi: Abi, include_dir: Path | None = None):
        self.abi = abi
        self.structs, self.enums, self.macros = _declarations(str(include_dir or runtime_include_dir()))
        self._known: dict[str, tuple[int, int]] = {}

    def sizeof(self, ctype: str) -> int:
        return self._layout(ctype)[0]

    def alignof(self, ctype: str) -> int:
        return self._layout(ctype)[1]

    def field_names(self, struct: str) -> list[str]:
        """The fields of a struct type of the headers, in declaration order (for the tests that
        hold Python mirrors of a struct against its header)."""
        return [f.name for f in self._struct_fields(struct)]

    def _struct_fields(self, struct: str) -> list[_Field]:
        if struct not in self.structs:
            raise ValueError(f"no struct {struct} in the runtime headers")
        return [f for decl in self.structs[struct].split(";") if decl.strip()
                for f in _fields(decl, self.macros, struct)]

    def _layout(self, ctype: str) -> tuple[int, int]:
        if ctype not in self._known:
            self._known[ctype] = self._compute(ctype)
        return self._known[ctype]

    def _compute(self, ctype: str) -> tuple[int, int]:
        if ctype in CTYPE_BYTES:
            size = CTYPE_BYTES[ctype]
            return size, (self.abi.int64_align if size == 8 else size)
        if ctype in ("int", "unsigned"):   # 32 bits on every target firmnet builds for (ILP32, LP64)
            return 4, 4
        if ctype in ("ptrdiff_t", "size_t", "intptr_t", "uintptr_t"):
            return self.abi.pointer_bytes, self.abi.pointer_bytes
        if ctype in self.enums:
            size = self._enum_bytes(_enum_values(self.enums[ctype], ctype))
            return size, size
        if ctype not in self.structs:
            raise ValueError(f"C type {ctype} is neither in the dtype table nor a typedef of the runtime headers")
        offset, align = 0, 1
        for f in self._struct_fields(ctype):
            size, a = (self.abi.pointer_bytes,) * 2 if f.pointer else self._layout(f.ctype)
            offset = -(-offset // a) * a + size * f.count
            align = max(align, a)
        return -(-offset // align) * align, align

    def _enum_bytes(self, values: list[int]) -> int:
        if not self.abi.short_enums:
            return 4
        lo, hi = min(values), max(values)
        for size in (1, 2):
            bits = 8 * size
            if (lo >= 0 and hi < 1 << bits) or (-(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1)):
                return size
        return 4
