"""Every Python mirror of a C enum equals the enum in runtime_c/include/, read from the
headers themselves: the same members (key -> FN_<PREFIX>_<KEY>) and the same values, so a
member added on one side only, or renumbered, fails here rather than as wrong arithmetic.
Likewise the Python mirror of the requantization block (kernels/params_requant.py) and the
builders of the int8 structs that hold it name the fields of their C structs, in order,
and the enum values the builders write are emitted by their C names."""
from __future__ import annotations

import re

import pytest

from firmnet.codegen.c_layout import ABIS, Layout
from firmnet.kernels import params_layout, params_requant
from firmnet.kernels.params_binary import BOUT_KINDS, bout_params
from firmnet.kernels.params_conv_s8 import conv2d_s8_params, depthwise_conv2d_s8_params, fc_s8_params
from firmnet.kernels.params_elementwise_s8 import ELTWISE_S8, add_s8_params
from firmnet.kernels.params_layout import BINARY_OPS, COMPARE_OPS, REDUCE_OPS, UNARY_OPS
from firmnet.kernels.params_pool_s8 import COUNT_RULE, POOL_S8, maxpool2d_s8_params
from firmnet.kernels.params_quantize_s8 import S8_REQUANT, requantize_s8_params
from firmnet.kernels.params_reduce_s8 import mean_s8_params
from firmnet.lowering import CEnum
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
    (BOUT_KINDS, "fn_bout_kind", "FN_BOUT_"),
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


def test_requant_block_mirror_equals_the_c_struct():
    assert params_requant.FIELDS == tuple(Layout(ABIS["host"]).field_names("fn_requant_acc_s8"))


Q = dict(input_scale=0.1, input_zero_point=1, weight_scales=[0.1, 0.2], output_scale=0.3, output_zero_point=-1)
INT8_STRUCTS = [   # (C struct, its builder's (params, arrays))
    ("fn_conv2d_s8_params", lambda mode: conv2d_s8_params((1, 5, 5, 4), (2, 3, 3, 4), mode=mode, **Q)),
    ("fn_depthwise_conv2d_s8_params", lambda mode: depthwise_conv2d_s8_params((1, 5, 5, 1), (1, 3, 3, 2),
                                                                              mode=mode, **Q)),
    ("fn_fc_s8_params", lambda mode: fc_s8_params((1, 4), (2, 4), mode=mode, **Q)),
]


@pytest.mark.parametrize("ctype, build", INT8_STRUCTS, ids=[s[0] for s in INT8_STRUCTS])
@pytest.mark.parametrize("mode", list(REQUANT_MODES))
def test_int8_builders_fill_their_struct_and_its_block_in_order(ctype, build, mode):
    layout = Layout(ABIS["host"])
    struct = params_requant.nest(*build(mode))
    assert list(struct) == layout.field_names(ctype)
    block = struct[params_requant.FIELD]
    assert list(block) == layout.field_names("fn_requant_acc_s8")
    assert isinstance(block["mode"], CEnum) and block["mode"].name == f"FN_REQUANT_{mode.upper()}"
    assert block["mode"] == c_enums()["fn_requant_mode"][block["mode"].name]


ENUM_FIELDS = [   # (a builder's struct, its field, the C enum the field holds)
    (lambda: params_layout.binary_params((2, 3), (3,), "mul"), "op", "fn_binary_op"),
    (lambda: params_layout.unary_params(4, "tanh"), "op", "fn_unary_op"),
    (lambda: params_layout.compare_params((2, 3), (3,), "greater"), "op", "fn_compare_op"),
    (lambda: params_layout.reduce_params((2, 3), (1,), "max"), "op", "fn_reduce_op"),
    (lambda: add_s8_params((2, 3), (3,), (0.1, 0), (0.2, 1), (0.3, -1)), "method", "fn_eltwise_s8_method"),
    (lambda: add_s8_params((2, 3), (3,), (0.1, 0), (0.2, 1), (0.3, -1), mode="ort"), "requant_mode",
     "fn_requant_mode"),
    (lambda: maxpool2d_s8_params((1, 4, 4, 2), kernel=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0),
                                 x_q=(0.1, 0), y_q=(0.2, 3)), "method", "fn_pool_s8_method"),
    (lambda: maxpool2d_s8_params((1, 4, 4, 2), kernel=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0),
                                 x_q=(0.1, 0), y_q=(0.2, 3)), "count_rule", "fn_pool_count_rule"),
    (lambda: mean_s8_params((1, 4, 4, 2), (1, 2), 0.1, 0, 0.2, 1, mode="single"), "requant_mode",
     "fn_requant_mode"),
    (lambda: requantize_s8_params(8, (0.1, 0), (0.2, 1)), "q.requant_mode", "fn_requant_mode"),
    (lambda: requantize_s8_params(8, (0.1, 0), (0.2, 1)), "q.method", "fn_s8_requant_method"),
    (lambda: bout_params("bits", 2, 9, [0.5, -0.5], [0.0, 1.0]), "kind", "fn_bout_kind"),
]


@pytest.mark.parametrize("build, field, ctype", ENUM_FIELDS, ids=[f"{e[2]}-{e[1]}" for e in ENUM_FIELDS])
def test_enum_fields_carry_their_c_name(build, field, ctype):
    """The builders write each enum-valued field as a CEnum (emitted by name in the generated C)
    whose name is a member of the field's C enum with the same value."""
    value = build()
    for key in field.split("."):   # a field of a nested struct: "q.method"
        value = value[key]
    assert isinstance(value, CEnum), f"{field} = {value!r} is a bare integer"
    assert c_enums()[ctype][value.name] == value
