"""A tiny U-Net (conv, max pooling, GroupNorm, InstanceNorm, LayerNorm, ConvTranspose,
bilinear and nearest Resize, skip concatenations), built with onnx.helper at opset 21:
it compiles, runs in NHWC with no transpose inside, matches onnxruntime within 1e-4 of
the largest output (C and reference), verifies node by node, runs clean under
AddressSanitizer + UndefinedBehaviorSanitizer, and its generated C compiles
warning-free with gcc, clang and arm-none-eabi-gcc."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import firmnet
from support.compare import assert_close
from support.oracles import onnxruntime_outputs
from support.sanitize import run_sanitized

STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", "-c", "-o", "/dev/null"]
ARM = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


def tiny_unet(seed=0):
    rng = np.random.default_rng(seed)
    inits, nodes = {}, []

    def w(name, shape, scale=None):
        fan_in = int(np.prod(shape[1:]))
        inits[name] = (rng.standard_normal(shape) * (scale or np.sqrt(2.0 / fan_in))).astype(np.float32)
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def const(name, value):
        inits[name] = np.asarray(value)
        return name

    x = "input"
    e1 = node("Conv", [x, w("w1", (8, 3, 3, 3)), w("b1", (8,), 0.1)], "e1_conv", pads=[1, 1, 1, 1])
    e1 = node("GroupNormalization", [e1, w("g1s", (8,), 1.0), w("g1b", (8,), 0.1)], "e1_gn", num_groups=4)
    e1 = node("Relu", [e1], "e1")                                                       # [8, 16, 16]
    d1 = node("MaxPool", [e1], "d1", kernel_shape=[2, 2], strides=[2, 2])               # [8, 8, 8]
    e2 = node("Conv", [d1, w("w2", (16, 8, 3, 3)), w("b2", (16,), 0.1)], "e2_conv", pads=[1, 1, 1, 1])
    e2 = node("InstanceNormalization", [e2, w("i2s", (16,), 1.0), w("i2b", (16,), 0.1)], "e2_in")
    e2 = node("Relu", [e2], "e2")                                                       # [16, 8, 8]
    d2 = node("Conv", [e2, w("w3", (16, 16, 3, 3))], "d2", pads=[1, 1, 1, 1], strides=[2, 2])   # [16, 4, 4]
    m = node("LayerNormalization", [d2, w("ls", (16, 4, 4), 1.0), w("lb", (16, 4, 4), 0.1)], "mid_ln", axis=1)
    m = node("Relu", [m], "mid")
    u1 = node("ConvTranspose", [m, w("wt", (16, 16, 2, 2)), w("bt", (16,), 0.1)], "u1_up", strides=[2, 2])
    u1 = node("Concat", [u1, e2], "u1_cat", axis=1)                                     # [32, 8, 8]
    u1 = node("Conv", [u1, w("w4", (8, 32, 3, 3)), w("b4", (8,), 0.1)], "u1_conv", pads=[1, 1, 1, 1])
    u1 = node("Relu", [u1], "u1")
    u2 = node("Resize", [u1, "", const("up2", np.array([1, 1, 2, 2], np.float32))], "u2_up", mode="linear",
              coordinate_transformation_mode="half_pixel")                              # [8, 16, 16]
    u2 = node("Concat", [u2, e1], "u2_cat", axis=1)                                     # [16, 16, 16]
    u2 = node("Conv", [u2, w("w5", (4, 16, 3, 3)), w("b5", (4,), 0.1)], "u2_conv", pads=[1, 1, 1, 1])
    out = node("Resize", [u2, "", const("up3", np.array([1, 1, 2, 2], np.float32))], "output", mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")       # [4, 32, 32]
    graph = helper.make_graph(nodes, "tiny_unet", [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 4, 32, 32])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    model = tiny_unet()
    cm = firmnet.compile(model, tmp_path_factory.mktemp("unet"), name="unet")
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    return model, cm, x


def test_matches_onnxruntime_and_reference(unet):
    model, cm, x = unet
    (want,) = onnxruntime_outputs(model, [x])
    (got,) = cm.build_host().run([x])
    (ref,) = firmnet.reference.run(cm.graph, [x])
    print(f"tiny U-Net: max |C - onnxruntime| = {np.abs(got - want).max():.3g}, "
          f"max |onnxruntime| = {np.abs(want).max():.3g}")
    assert_close(got, want, "C vs onnxruntime")
    assert_close(ref, want, "reference vs onnxruntime")


def test_runs_in_nhwc_without_inner_transposes(unet):
    _, cm, _ = unet
    ops = [n.op for n in cm.lowered_graph.nodes]
    assert ops.count("transpose") == 2 and ops[0] == ops[-1] == "transpose", ops
    for op in ("conv_transpose", "normalization", "resize"):
        assert op in ops, op
    for n in cm.lowered_graph.nodes:
        if n.op in ("conv_transpose", "resize") or (n.op == "normalization" and n.attrs.kind == "channels"):
            assert n.attrs.layout == "NHWC", n.name


def test_every_node_matches_reference(unet):
    from firmnet.verify import verify
    _, cm, x = unet
    result = verify(cm, [x])
    assert result.ok, result.summary()


def test_sanitizers_clean(unet, tmp_path):
    _, cm, x = unet
    (sanitized,) = run_sanitized(cm, [x], tmp_path)
    assert_close(sanitized, cm.build_host().run([x])[0], "sanitized build vs host build")


@pytest.mark.parametrize("cc", ["gcc", "clang", "arm-none-eabi-gcc"])
def test_generated_c_is_warning_free(unet, cc):
    _, cm, _ = unet
    assert shutil.which(cc), f"{cc} is not installed (scripts/test installs it)"
    folder = cm.out_dir
    sources = sorted(folder.glob("*.c")) + sorted((folder / "runtime" / "src").glob("*.c"))
    names = {s.name for s in sources}
    for kernel in ("fn_conv_transpose2d_f32.c", "fn_norm_f32.c", "fn_resize_nearest.c", "fn_resize_bilinear_f32.c"):
        assert kernel in names, kernel
    for src in sources:
        flags = STRICT + (ARM if cc.startswith("arm") else [])
        res = subprocess.run([cc, *flags, f"-I{folder}", f"-I{folder / 'runtime' / 'include'}", str(src)],
                             capture_output=True, text=True)
        assert res.returncode == 0 and not res.stderr, f"{cc} on {src.name}:\n{res.stderr}"


def test_emulated_cortex_m4_same_bytes_as_host(unet, tmp_path):
    """Cross-built for mps2-an386 (Cortex-M4F, -Werror) and run in QEMU: the float outputs equal
    the host build's byte for byte (IEEE single precision on both, no libm, no contraction)."""
    import json

    from firmnet import qemu
    for tool in ("cmake", "arm-none-eabi-gcc", "qemu-system-arm"):
        assert shutil.which(tool), f"{tool} is not installed (scripts/test installs it)"
    model, host_cm, x = unet
    cm = firmnet.compile(model, tmp_path, board="mps2-an386", name="unet")
    elf = qemu.build(cm.out_dir, "mps2-an386", werror=True)
    run = qemu.run_elf(elf, "mps2-an386", json.loads((cm.out_dir / "report.json").read_text()), [x])
    print(f"tiny U-Net on mps2-an386: {run.instructions:,} instructions for {cm.report['macs']:,} MACs")
    assert run.outputs[0].tobytes() == host_cm.build_host().run([x])[0].tobytes()
