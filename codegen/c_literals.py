"""numpy values → C99 literals and identifiers.

>>> c_identifier("onnx::Conv_12/w")
'onnx__Conv_12_w'
>>> c_identifier("3x")
't_3x'
>>> float_literal(0.1)
'0.1f'
>>> float_literal(float("-inf"))
'(-FN_INFINITY)'
>>> int_literal(-2147483648, "int32_t")
'(-2147483647 - 1)'
>>> array_literal(np.array([1.5, -2.0], np.float32), per_line=8)
'1.5f, -2.0f'
>>> print(comment_text("conv */ #error x /* y"))
conv \\x2a/ #error x /\\x2a y
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..dtypes import c_type

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary".split())


def c_identifier(name: str, max_len: int = 48) -> str:
    """A valid C identifier derived from an arbitrary tensor or node name."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)[:max_len] or "t"
    if ident[0].isdigit() or ident in _C_KEYWORDS:
        ident = "t_" + ident
    return ident


def port_names(tensors, stem: str) -> list[str]:
    """The generated API's names for a model's inputs or outputs: `stem` alone for one tensor,
    else `stem_<name>`, made unique even where two names differ only in characters C does not
    allow, in case (the header's macros are upper case) or beyond the identifier length cut.

    >>> port_names(["a/b", "a_b", "A_B"], "input")
    ['input_a_b', 'input_a_b_2', 'input_A_B_3']
    """
    if len(tensors) == 1:
        return [stem]
    names, used = [], set()
    for t in tensors:
        base = f"{stem}_{c_identifier(t)}"
        name, k = base, 1
        while name.upper() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.upper())
        names.append(name)
    return names


def comment_text(text: str, max_len: int = 120) -> str:
    """Any text (a tensor or node name from an untrusted model file) made safe inside a C
    block comment or a CMake/shell `#` comment: printable ASCII only, one line, no comment
    delimiter, no trigraph. Backslashes and control or non-ASCII characters become Python-style escapes, a
    `*` next to a `/` becomes `\\x2a` (so neither `/*` nor `*/` can occur), and long text is
    cut with `...` (names of 10 kB stay readable)."""
    escaped = str(text).encode("unicode_escape").decode("ascii")   # backslash, newline, non-ASCII
    escaped = re.sub(r"\*(?=/)|(?<=/)\*", r"\\x2a", escaped)
    escaped = re.sub(r"\?(?=\?)", r"\\x3f", escaped)   # no trigraphs (??/ is a backslash in C99)
    escaped = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in escaped)
    return escaped if len(escaped) <= max_len else escaped[:max_len - 3] + "..."


def float_literal(value: float) -> str:
    """The shortest decimal that reads back as exactly this float32."""
    if math.isnan(value):
        raise ValueError("NaN cannot be emitted as a constant")
    if math.isinf(value):
        return "FN_INFINITY" if value > 0 else "(-FN_INFINITY)"
    text = np.format_float_positional(np.float32(value), unique=True, trim="0")
    if len(text) > 12:
        text = np.format_float_scientific(np.float32(value), unique=True, trim="0")
    return text + "f"


def int_literal(value: int, ctype: str = "int32_t") -> str:
    value = int(value)
    if ctype == "int32_t" and value == -2**31:
        return "(-2147483647 - 1)"   # the literal 2147483648 does not fit int
    if ctype == "int64_t":
        return f"INT64_C({value})" if value != -2**63 else "(-INT64_C(9223372036854775807) - 1)"
    return str(value)


def scalar_literal(value, ctype: str) -> str:
    return float_literal(float(value)) if ctype == "float" else int_literal(value, ctype)


def array_literal(values: np.ndarray, per_line: int = 12, indent: str = "    ") -> str:
    """Comma-separated elements, `per_line` per line."""
    flat = np.asarray(values).ravel()
    ctype = c_type(flat.dtype)
    items = [scalar_literal(v, ctype) for v in flat.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return (",\n" + indent).join(lines)
