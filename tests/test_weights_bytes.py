"""The dtype table (python/firmnet/dtypes.py), C object sizes (codegen/c_layout.py) and
weights_bytes: every constant the generated C defines, checked against the objects that
arm-none-eabi-gcc and the host compiler make of the model's C file."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import firmnet
from firmnet import dtypes
from firmnet.boards import get_board
from firmnet.codegen.c_layout import ABIS, Layout, public_headers
from firmnet.ir import FirmnetError, TensorType
from firmnet.resources import runtime_include_dir
from support.paths import REPO
from support.qemu_harness import require_tools

MODELS = {"digits": REPO / "examples" / "digits" / "digits_cnn.onnx",
          "digits_int8": REPO / "examples" / "digits" / "digits_cnn.int8.onnx",
          "kws": REPO.parent / "shared" / "models" / "kws_ref_model.tflite",
          "ad01": REPO.parent / "shared" / "models" / "ad01_int8.tflite"}
PACKED = [n for n, d in dtypes.TABLE.items() if d.packed]


def _require_compiler(board) -> None:
    if board.toolchain == "arm-none-eabi":
        require_tools(("arm-none-eabi-gcc",))


# --- the dtype table ---------------------------------------------------------------------

def test_table_has_every_type_the_issue_names():
    want = {"int8": 8, "uint8": 8, "int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "float32": 32,
            "bit1": 1, "int2": 2, "uint2": 2, "int4": 4, "uint4": 4}
    assert {n: dtypes.TABLE[n].bits for n in want} == want
    assert {n: dtypes.c_type(n) for n in ("int8", "uint16", "uint32", "float32", "int4", "bool")} == {
        "int8": "int8_t", "uint16": "uint16_t", "uint32": "uint32_t", "float32": "float", "int4": "uint8_t",
        "bool": "uint8_t"}
    # the numpy dtype of a byte type has the table's size
    assert all(d.numpy.itemsize * 8 == d.bits for d in dtypes.TABLE.values() if not d.packed)


def test_packing_is_lsb_first_along_the_last_axis_rows_padded_to_a_byte():
    # int4 [1, -1, 7]: 1 in the low nibble of byte 0, -1 (0xF) in its high nibble, 7 alone in byte 1
    assert dtypes.pack(np.array([1, -1, 7], np.int8), "int4").tolist() == [0xF1, 0x07]
    # bit1, two rows of 9: each row starts a byte, the 9th element is bit 0 of the row's 2nd byte
    rows = np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 1, 0]], np.uint8)
    assert dtypes.pack(rows, "bit1").tolist() == [[0x0D, 0x01], [0x80, 0x00]]
    # int2 [-2, 1, -1]: 0b10, 0b01, 0b11 at bits 0, 2, 4
    assert dtypes.pack(np.array([-2, 1, -1], np.int8), "int2").tolist() == [0b00110110]
    assert dtypes.pack(np.array([3, 0, 2, 1, 3], np.uint8), "uint2").tolist() == [0b01100011, 0b11]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PACKED), st.data())
def test_pack_unpack_round_trip_and_nbytes(name, data):
    """Rows are whole words (bytes; uint32 for b1), LSB first, unused bits 0."""
    d = dtypes.TABLE[name]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40))
    elements = st.sampled_from([-1, 1]) if name == "b1" else st.integers(d.lo, d.hi)
    values = data.draw(hnp.arrays(d.numpy, shape, elements=elements))
    packed = dtypes.pack(values, name)
    word = np.dtype(f"uint{d.word_bits}")
    assert packed.dtype == word and packed.shape == shape[:-1] + (-(-shape[-1] * d.bits // d.word_bits),)
    assert np.array_equal(dtypes.unpack(packed, name, shape[-1]), values)
    assert TensorType(shape, name).nbytes == packed.nbytes == d.nbytes(shape)
    tail_bits = shape[-1] * d.bits % d.word_bits      # the unused bits of each row's last word are 0
    if tail_bits:
        assert not (packed[..., -1] >> word.type(tail_bits)).any()


def test_pack_refuses_values_out_of_range():
    with pytest.raises(ValueError, match=r"do not fit int4 \[-8, 7\]"):
        dtypes.pack(np.array([8], np.int16), "int4")


def test_tensor_type_refuses_an_unknown_dtype_naming_the_table():
    with pytest.raises(FirmnetError, match="dtype complex64 is not supported .*uint16.*int4"):
        TensorType((2,), "complex64")


# --- C object sizes ----------------------------------------------------------------------

def _object_symbols(compiler, flags, source: Path, nm) -> dict[str, int]:
    obj = source.with_suffix(".o")
    subprocess.run([compiler, *flags, "-c", str(source), "-o", str(obj)], check=True, capture_output=True, text=True)
    out = subprocess.run([nm, "-S", str(obj)], check=True, capture_output=True, text=True).stdout
    return {m[3]: int(m[1], 16) for m in (line.split() for line in out.splitlines()) if len(m) == 4}


@pytest.mark.parametrize("toolchain", ["arm-none-eabi", "host"])
def test_layout_of_every_runtime_struct_and_enum_matches_the_compiler(tmp_path, toolchain):
    """sizeof and alignment of each typedef in runtime_c/include (structs, enums and aliases
    such as `typedef fn_logistic_s8_params fn_tanh_s8_params;`), as c_layout computes them,
    equal the compiler's (arrays sized by sizeof/__alignof__, measured with nm)."""
    board = get_board("mps2-an386" if toolchain == "arm-none-eabi" else "host")
    _require_compiler(board)
    layout = Layout(ABIS[toolchain])
    names = sorted(layout.structs) + sorted(layout.enums)
    assert "fn_tanh_s8_params" in layout.structs   # an alias typedef
    headers = [p.name for p in public_headers(runtime_include_dir())]
    src = tmp_path / "sizes.c"
    src.write_text("".join(f'#include "{h}"\n' for h in headers) + "".join(
        f"char size_{n}[sizeof({n})];\nchar align_{n}[__alignof__({n})];\n" for n in names))
    sym = _object_symbols(board.compiler, [*board.cpu_flags, "-O2", "-fno-common", f"-I{runtime_include_dir()}"],
                          src, board.tool("nm"))
    assert {n: (sym[f"size_{n}"], sym[f"align_{n}"]) for n in names} == \
        {n: (layout.sizeof(n), layout.alignof(n)) for n in names}


# --- weights_bytes against the model object ----------------------------------------------

def _constant_sections(board, obj: Path) -> dict[str, int]:
    out = subprocess.run([board.tool("size"), "-A", str(obj)], check=True, capture_output=True, text=True).stdout
    sections = {m.group(1): int(m.group(2)) for m in re.finditer(r"(?m)^(\S+)\s+(\d+)\s+\d+$", out)}
    return sections


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("board_name", ["mps2-an386", "host"])
def test_weights_bytes_equal_the_constant_bytes_of_the_model_object(tmp_path, model, board_name):
    """The model's C file compiled with the board's compiler and flags (the host: its -O2 plus
    -fdata-sections, so that each object is a section of its own): the bytes of its constant
    sections, .rodata.* (and on the host .data.rel.ro.*, where a position-independent build
    puts constant structs holding pointers), equal report["weights_bytes"], and each
    constant object (nm) has the size the report counted for it. Nothing else is constant
    in that file: no string literals, no .rodata.cst* literal pools here (the host compiler
    would put a float constant of the code there: the check would then fail and say so).
    The object's .data is empty, so none of it is initialised RAM."""
    board = get_board(board_name)
    _require_compiler(board)
    cm = firmnet.compile(MODELS[model], tmp_path / "out", board=board_name, name="m")
    flags = [*board.cpu_flags, *board.cflags, "-fdata-sections", f"-I{tmp_path / 'out' / 'runtime' / 'include'}"]
    obj = tmp_path / "m.o"
    subprocess.run([board.compiler, *flags, "-c", str(tmp_path / "out" / "m.c"), "-o", str(obj)], check=True,
                   capture_output=True, text=True)
    sections = _constant_sections(board, obj)
    constant = {s: n for s, n in sections.items() if s.startswith((".rodata", ".data.rel.ro")) and n}
    assert not [s for s in constant if s.startswith(".rodata.cst") or s in (".rodata", ".data.rel.ro")], constant
    assert sections.get(".data", 0) == 0
    assert cm.report["weights_bytes"] == sum(constant.values()), (cm.report["constants_bytes"], constant)
    assert cm.report["constants_abi"] == board.toolchain

    layout = Layout(ABIS[board.toolchain])
    symbols = {s.rsplit(".", 1)[-1]: n for s, n in constant.items()}
    from firmnet.codegen.emit import emit
    emitted = emit(cm.lowered_graph, cm.lowered, cm.memory, "m", cm.report["provenance"])
    assert {c.name: layout.sizeof(c.ctype) * c.count for c in emitted.constants} == symbols
    assert sum(l["weight_bytes"] + l["table_bytes"] + l["params_bytes"] for l in cm.report["layers"]) == \
        cm.report["weights_bytes"]


def test_fit_estimate_counts_every_constant(tmp_path):
    """A board whose flash holds the int8 example's tensors (6,288 B) but not its parameter
    arrays and structs is refused by the memory plan's figure, before any code (--winograd off: the
    direct kernels' weights, which auto keeps on a board this small)."""
    # on a board whose flash holds the int8 weights but not the int16 ones of
    # fn_conv2d_s8_w16_dsp (which the full 2 MB would take)
    from firmnet.boards import CODE_ESTIMATE_BASE, CODE_ESTIMATE_PER_STEP
    full = firmnet.compile(MODELS["digits_int8"], "unused", board="nucleo-l4r5zi", name="probe", write=False,
                           winograd="off")
    g = full.lowered_graph
    text = (REPO / "boards" / "nucleo-l4r5zi.toml").read_text()
    mid = tmp_path / "mid.toml"
    flash = CODE_ESTIMATE_BASE + CODE_ESTIMATE_PER_STEP * len(g.nodes) + sum(a.nbytes for a in g.constants.values())
    mid.write_text(re.sub(r"(?m)^flash_bytes = .*$", f"flash_bytes = {flash + 64}", text))
    cm = firmnet.compile(MODELS["digits_int8"], "unused", board=str(mid), name="probe", write=False, winograd="off")
    parts = cm.report["constants_bytes"]
    assert parts["tensors"] + parts["repacked"] == 6288 and parts["tables"] > 0 and parts["params"] > 0
    board = tmp_path / "tight.toml"
    board.write_text(re.sub(r"(?m)^flash_bytes = .*$", "flash_bytes = 6400", text))
    with pytest.raises(FirmnetError, match=rf"flash: the weights alone need {cm.report['weights_bytes']:,} bytes, "
                                           r"the board has 6,400"):
        firmnet.compile(MODELS["digits_int8"], tmp_path / "out", board=str(board), name="probe", write=False,
                        winograd="off")


def test_doctests():
    import doctest

    from firmnet.codegen import c_layout
    for module in (dtypes, c_layout):
        failures, tried = doctest.testmod(module)
        assert tried > 0 and failures == 0, module.__name__


def test_a_packed_constant_is_held_unpacked_and_emitted_packed():
    """The graph holds a packed type's constant as its values (the reference computes on them);
    its C array is the packed bytes, TensorType.nbytes of them."""
    from firmnet.codegen.emit import constant_array
    t = TensorType((3, 5), "int4")
    values = np.arange(-7, 8, dtype=np.int8).reshape(3, 5)
    assert t.holds(values) and not t.holds(values.astype(np.int16)) and not TensorType((15,), "int4").holds(values)
    packed = constant_array(values, t)
    assert packed.dtype == np.uint8 and packed.nbytes == t.nbytes == 9
    # row 0: -7..-3 = nibbles 9, A, B, C, D; row 1: -2..2 = E, F, 0, 1, 2; row 2: 3..7
    assert packed.tolist() == [[0xA9, 0xCB, 0x0D], [0xFE, 0x10, 0x02], [0x43, 0x65, 0x07]]
    weights = np.ones((2, 3), np.int8)
    assert constant_array(weights, TensorType((2, 3), "int8")) is weights
