"""Every Python mirror of a C enum equals the enum in runtime_c/include/, read from the
headers themselves: the same members (key -> FN_<PREFIX>_<KEY>) and the same values, so a
member added on one side only, or renumbered, fails here rather than as wrong arithmetic."""
from __future__ import annotations

import re

import pytest

from firmnet.kernels.params_elementwise_s8 import ELTWISE_S8
from firmnet.kernels.params_layout import BINARY_OPS, COMPARE_OPS, REDUCE_OPS, UNARY_OPS
from firmnet.kernels.params_pool_s8 import COUNT_RULE, POOL_S8
from firmnet.kernels.params_quantize_s8 import S8_REQUANT
from firmnet.reference.fixedpoint import REQUANT_MODES
from support.paths import REPO

INCLUDE = REPO / "runtime_c" / "include"


def c_enums() -> dict:
    """{enum type name: {member: value}} of every `typedef enum { ... } name;` in the headers."""
    enums = {}
    for header in sorted(INCLUDE.glob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
        for body, name in re.findall(r"typedef\s+enum\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            members, value = {}, -1
            for item in (i.strip() for i in body.split(",") if i.strip()):
                m = re.fullmatch(r"(\w+)(?:\s*=\s*(-?\d+))?", item)
                assert m, f"{header.name}: {name}: cannot read '{item}'"
                value = int(m.group(2)) if m.group(2) is not None else value + 1
                members[m.group(1)] = value
            enums[name] = members
    return enums


# (Python mirror, C enum type, member prefix)
MIRRORS = [
    (REQUANT_MODES, "fn_requant_mode", "FN_REQUANT_"),
    (BINARY_OPS, "fn_binary_op", "FN_BINARY_"),
    (UNARY_OPS, "fn_unary_op", "FN_UNARY_"),
    (COMPARE_OPS, "fn_compare_op", "FN_COMPARE_"),
    (REDUCE_OPS, "fn_reduce_op", "FN_REDUCE_"),
    (ELTWISE_S8, "fn_eltwise_s8_method", "FN_ELTWISE_S8_"),
    (POOL_S8, "fn_pool_s8_method", "FN_POOL_S8_"),
    (COUNT_RULE, "fn_pool_count_rule", "FN_POOL_COUNT_"),
    (S8_REQUANT, "fn_s8_requant_method", "FN_S8_REQUANT_"),
]


@pytest.mark.parametrize("mirror, ctype, prefix", MIRRORS, ids=[m[1] for m in MIRRORS])
def test_python_mirror_equals_the_c_enum(mirror, ctype, prefix):
    enums = c_enums()
    assert ctype in enums, f"no typedef enum {ctype} in runtime_c/include"
    assert {prefix + key.upper(): value for key, value in mirror.items()} == enums[ctype]


def test_every_c_enum_of_a_kernel_parameter_has_a_mirror():
    """The enums the compiler writes into parameter structs all have a checked mirror
    (fn_status is a return code, which Python reads through cffi's own constants)."""
    assert set(c_enums()) - {ctype for _, ctype, _ in MIRRORS} == {"fn_status"}
