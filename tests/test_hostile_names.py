"""Names from a model file never reach the generated C raw: a tensor or node name can
close a comment, start a preprocessor line or collide with another once made an
identifier, and the C must still compile warning-free and compute the model."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from firmnet.codegen import c_literals
from firmnet.resources import templates_dir

HOSTILE = [
    "*/ #error injected /*",
    "// comment \\",
    "line\nbreak #define FN_X 1",
    "back\\slash\\",
    "#include <stdio.h>",
    "trigraph ??/",
    "??=??(??<",
    "non-ASCII é 名 \u202e",
    "tab\there\r\x00nul",
    "x" * 10_000,
]
STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c", "-o", "/dev/null"]


def _hostile_model():
    """conv → relu feeding two outputs whose names differ only in characters C drops and in case."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), HOSTILE[0])
    bias = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), HOSTILE[3])
    x, conv, relu = HOSTILE[1], HOSTILE[2], HOSTILE[9]
    nodes = [
        helper.make_node("Conv", [x, w.name, bias.name], [conv], name=HOSTILE[4], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", [conv], [relu], name=HOSTILE[5]),
        helper.make_node("Identity", [relu], ["out/a"], name=HOSTILE[6]),
        helper.make_node("Sigmoid", [relu], ["out_a"], name=HOSTILE[7]),
        helper.make_node("Tanh", [relu], ["OUT_A"], name=HOSTILE[8]),
    ]
    graph = helper.make_graph(
        nodes, "*/ graph /*", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("out/a", "out_a", "OUT_A")],
        initializer=[w, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return firmnet.compile(_hostile_model(), tmp_path_factory.mktemp("hostile"), name="hostile")


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_generated_c_compiles_strictly(compiled, cc):
    folder = compiled.out_dir
    for src in [*folder.glob("*.c"), *(folder / "runtime" / "src").glob("*.c")]:
        res = subprocess.run([cc, *STRICT, f"-I{folder}", f"-I{folder / 'runtime' / 'include'}", str(src)],
                             capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr, f"{cc} on {src.name}:\n{res.stderr[-2000:]}"


def test_no_name_escapes_its_comment(compiled):
    """With comments removed, nothing of any hostile name is left in the sources."""
    for f in [*compiled.out_dir.glob("*.[ch]"), compiled.out_dir / "CMakeLists.txt"]:
        text = f.read_text()
        assert text.isascii(), f"{f.name} holds non-ASCII text"
        code = re.sub(r"/\*.*?\*/", " ", text, flags=re.S) if f.suffix in (".c", ".h") else \
            re.sub(r"#.*", "", text)
        for needle in ("#error", "#define FN_X", "<stdio.h>", "??", "back\\slash", "// comment"):
            assert needle not in code, f"{f.name}: {needle!r} outside a comment"


def test_outputs_keep_distinct_names_and_values(compiled, tmp_path):
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    got = compiled.build_host().run([x])
    want = firmnet.reference.run(compiled.graph, [x])
    assert len(got) == 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    header = (compiled.out_dir / "hostile.h").read_text()
    macros = re.findall(r"#define (HOSTILE_OUTPUT\w*_SIZE)", header)
    assert len(macros) == 3 and len(set(macros)) == 3, macros


def test_port_names_are_unique_identifiers():
    names = c_literals.port_names(HOSTILE + ["out/a", "out_a", "OUT_A"], "output")
    assert len({n.upper() for n in names}) == len(names)
    assert all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names)


def test_every_template_comment_escapes_what_it_shows():
    """A template interpolation inside a C comment (or a CMake '#' comment) goes through the
    comment filter, unless it is a number or a name firmnet made itself."""
    made_by_firmnet = {"s.index", "s.op", "p.size", "p.ctype", "steps", "prefix", "kind", "p.shape|join(', ')",
                       "loop.index0", "p.nbytes", "PREFIX"}
    for path in templates_dir().glob("*.j2"):
        text = path.read_text()
        comments = re.findall(r"/\*.*?\*/", text, flags=re.S)
        if path.name.startswith("CMakeLists"):
            comments += re.findall(r"^#.*$", text, flags=re.M)
        for comment in comments:
            for expr in re.findall(r"\{\{\s*(.*?)\s*\}\}", comment):
                assert "|comment" in expr or expr in made_by_firmnet, f"{path.name}: {{{{ {expr} }}}} in a comment"


def test_board_firmware_builds_warning_free(tmp_path):
    """The example firmware (main.c names the inputs in comments) cross-compiles with -Werror."""
    from firmnet import qemu
    cm = firmnet.compile(_hostile_model(), tmp_path / "fw", board="mps2-an386", name="hostile")
    elf = qemu.build(cm.out_dir, "mps2-an386", werror=True)
    assert elf.is_file()
