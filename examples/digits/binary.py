"""Binarize the digits CNN with firmnet compress, fine-tune it with a straight-through estimator
(torch), and export the binary model in the ONNX form firmnet compiles.

1. firmnet.compress.binarize(model, "auto") rewrites digits_cnn.onnx's middle layers conv2 and
   conv3 XNOR-Net style (weights sign(W), α = mean |W| per filter, inputs through Sign); conv1
   and fc stay float (int8 after --quantize int8), as `firmnet compress --binarize auto` does.
2. Both binarized layers read a ReLU output, whose sign is +1 everywhere (firmnet binarizes
   x >= 0 -> +1): the binary network drops the ReLU in front of each Sign (after conv1, and
   after conv2, whose MaxPool then feeds the Sign: sign and max commute). Its torch twin
   starts from the binarized model's weights (latent weights α·sign(W), the biases) and is
   fine-tuned: forward sign(x) and sign(W) with x >= 0 -> +1, α = mean |W| of the latent
   weights (XNOR-Net), backward the straight-through estimator (the gradient passes where
   |x| <= 1). Adam with cosine decay, train.py's loop and data.
3. The fine-tuned model is exported with torch.onnx.export (frozen: ±1 weight constants, α and
   bias constants) as

       conv1 - Sign - Conv(±1) - Mul(α) - Add(b) - MaxPool - Sign - Conv(±1) - Mul(α) - Add(b)
       - Relu - Flatten - Gemm

   to binary/digits_cnn.binary.onnx, then quantized as `firmnet compress --quantize int8`
   would after --binarize (binary layers left float) to binary/digits_cnn.binary.int8.onnx.

Prints the accuracy on the 450 test images before and after fine-tuning (torch with firmnet's
sign; onnxruntime on the exported files, whose ONNX Sign gives 0 at exactly 0; and the C that
firmnet generates for them) and writes them to BINARY.md.
Run from the repository root (torch and scikit-learn are tools of this example only):
  pip install torch==2.13.0 scikit-learn
  python examples/digits/binary.py
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from train import SEED, export, load_split, seed_everything, train  # noqa: E402

from firmnet.compress import accuracy, binarize, read_labels, read_samples  # noqa: E402
from firmnet.compress.binarize import binary_nodes, format_binarized  # noqa: E402
from firmnet.compress.quantize import quantize_int8  # noqa: E402

OUT = os.path.join(HERE, "binary")
BINARY = os.path.join(OUT, "digits_cnn.binary.onnx")
BINARY_INT8 = os.path.join(OUT, "digits_cnn.binary.int8.onnx")
REPORT = os.path.join(HERE, "BINARY.md")
EPOCHS = 60
LR = 3e-3


class SignSTE(torch.autograd.Function):
    """firmnet's sign (x >= 0 -> +1, else -1) forward; straight-through inside [-1, 1] backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class BinaryConv2d(nn.Module):
    """α ⊙ (sign(x) * sign(W)) + b, with α = mean |W| per filter of the latent weights W."""

    def __init__(self, signs: np.ndarray, alpha: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.weight = nn.Parameter(torch.from_numpy(signs * alpha.reshape(-1, 1, 1, 1)))
        self.bias = nn.Parameter(torch.from_numpy(bias.reshape(-1).copy()))

    def alpha(self) -> torch.Tensor:
        return self.weight.abs().mean(dim=(1, 2, 3)).reshape(1, -1, 1, 1)

    def forward(self, x):
        y = nn.functional.conv2d(SignSTE.apply(x), SignSTE.apply(self.weight), padding=1)
        return y * self.alpha() + self.bias.reshape(1, -1, 1, 1)


class FrozenBinaryConv2d(nn.Module):
    """The same layer with its ±1 weights, α and bias as constants, for export: Sign, Conv, Mul, Add."""

    def __init__(self, layer: BinaryConv2d):
        super().__init__()
        with torch.no_grad():
            self.register_buffer("signs", torch.where(layer.weight >= 0, 1.0, -1.0))
            self.register_buffer("alpha", layer.alpha().clone())
            self.register_buffer("bias", layer.bias.reshape(1, -1, 1, 1).clone())

    def forward(self, x):
        return nn.functional.conv2d(torch.sign(x), self.signs, padding=1) * self.alpha + self.bias


class BinaryDigits(nn.Module):
    """conv1 (float) - [ReLU] - binary conv2 - [ReLU] - MaxPool - binary conv3 - ReLU - fc (float);
    relu_before_sign=True is the network as firmnet compress wrote it (ReLU outputs into the Signs)."""

    def __init__(self, conv1, conv2, conv3, fc, relu_before_sign: bool = False):
        super().__init__()
        self.conv1, self.conv2, self.conv3, self.fc = conv1, conv2, conv3, fc
        self.pool = nn.MaxPool2d(2)
        self.relu_before_sign = relu_before_sign

    def forward(self, x):
        act = torch.relu if self.relu_before_sign else (lambda t: t)
        x = self.pool(act(self.conv2(act(self.conv1(x)))))
        x = torch.relu(self.conv3(x))
        return self.fc(torch.flatten(x, 1))


def _float_layer(module: nn.Module, weight: np.ndarray, bias: np.ndarray) -> nn.Module:
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight.copy()))
        module.bias.copy_(torch.from_numpy(bias.copy()))
    return module


def from_binarized(model: onnx.ModelProto, relu_before_sign: bool = False) -> BinaryDigits:
    """The torch network holding the binarized model's weights: each binary layer's ±1 weight, α
    (the Mul after it) and bias (the Add after that); conv1 and fc as they are."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    readers = {x: n for n in model.graph.node for x in n.input}
    layers = {n.name: n for n in model.graph.node if n.op_type in ("Conv", "Gemm")}

    def binary(name):
        node = layers[name]
        mul = readers[node.output[0]]
        add = readers[mul.output[0]]
        return BinaryConv2d(inits[node.input[1]], inits[mul.input[1]].reshape(-1), inits[add.input[1]])

    conv1, fc = layers["/conv1/Conv"], layers["/fc/Gemm"]
    c1 = inits[conv1.input[1]].shape[0]
    return BinaryDigits(_float_layer(nn.Conv2d(1, c1, 3, padding=1), inits[conv1.input[1]], inits[conv1.input[2]]),
                        binary("/conv2/Conv"), binary("/conv3/Conv"),
                        _float_layer(nn.Linear(*inits[fc.input[1]].shape[::-1]), inits[fc.input[1]],
                                     inits[fc.input[2]]), relu_before_sign)


def torch_accuracy(net: nn.Module, x, y) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def onnx_accuracy(path_or_model, x, y) -> float:
    data = path_or_model if isinstance(path_or_model, str) else path_or_model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    hits = sum(int(np.argmax(session.run(None, {name: x[i:i + 1]})[0]) == y[i]) for i in range(len(y)))
    return hits / len(y)


def sign_input_zeros(path: str, x) -> tuple[int, int]:
    """(exact zeros, values) over the inputs of the model's Sign nodes on the images x."""
    model = onnx.load(path)
    names = [n.input[0] for n in model.graph.node if n.op_type == "Sign"]
    del model.graph.output[:]
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL    # keep each Sign's input
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    values = [session.run(None, {"input": x[i:i + 1]}) for i in range(len(x))]
    return (sum(int(np.count_nonzero(v == 0)) for vs in values for v in vs),
            sum(v.size for vs in values for v in vs))


def export_binary(net: BinaryDigits, path: str) -> onnx.ModelProto:
    frozen = BinaryDigits(net.conv1, FrozenBinaryConv2d(net.conv2), FrozenBinaryConv2d(net.conv3), net.fc)
    export(frozen, path)
    model = onnx.load(path)
    ops = [n.op_type for n in model.graph.node]
    expected = ["Conv", "Sign", "Conv", "Mul", "Add", "MaxPool", "Sign", "Conv", "Mul", "Add", "Relu", "Flatten",
                "Gemm"]
    if ops != expected:
        raise SystemExit(f"the exported graph is {ops}, not the binary form {expected}")
    return model


def main() -> None:
    seed_everything(SEED)
    os.makedirs(OUT, exist_ok=True)
    x_tr, x_te, y_tr, y_te = load_split()
    source = onnx.load(os.path.join(HERE, "digits_cnn.onnx"))
    float_acc = onnx_accuracy(source, x_te, y_te)
    binarized = onnx.ModelProto()
    binarized.CopyFrom(source)
    rows = binarize(binarized, "auto")
    print("firmnet compress --binarize auto\n" + format_binarized(rows))
    accuracies = [("float (digits_cnn.onnx)", "onnxruntime", float_acc),
                  ("binarized by --binarize auto, ReLU before Sign", "torch, x >= 0 -> +1",
                   torch_accuracy(from_binarized(binarized, relu_before_sign=True), x_te, y_te)),
                  ("binarized by --binarize auto, ReLU before Sign", "onnxruntime (Sign(0) = 0)",
                   onnx_accuracy(binarized, x_te, y_te))]
    net = from_binarized(binarized)
    accuracies.append(("binarized, ReLU before each Sign removed", "torch", torch_accuracy(net, x_te, y_te)))
    train(net, x_tr, y_tr, epochs=EPOCHS, lr=LR)
    accuracies.append(("fine-tuned (STE)", "torch", torch_accuracy(net, x_te, y_te)))
    export_binary(net, BINARY)
    accuracies.append(("fine-tuned, binary/digits_cnn.binary.onnx", "onnxruntime", onnx_accuracy(BINARY, x_te, y_te)))
    zeros, values = sign_input_zeros(BINARY, x_te)
    print(f"exact zeros into a Sign on the test images: {zeros} of {values:,} values")
    quantize_int8(BINARY, os.path.join(HERE, "digits_calib.npz"), BINARY_INT8,
                  exclude=binary_nodes(onnx.load(BINARY)))
    accuracies.append(("fine-tuned, int8 ends (binary/digits_cnn.binary.int8.onnx)", "onnxruntime (Sign(0) = 0)",
                       onnx_accuracy(BINARY_INT8, x_te, y_te)))
    test = os.path.join(HERE, "digits_test.npz")
    for what, path in (("fine-tuned, binary/digits_cnn.binary.onnx", BINARY),
                       ("fine-tuned, int8 ends (binary/digits_cnn.binary.int8.onnx)", BINARY_INT8)):
        samples = read_samples(test, onnx.load(path), what="evaluation")
        accuracies.append((what, "firmnet's C (host build, x >= 0 -> +1)", accuracy(path, samples, read_labels(test))))
    zeros8, values8 = sign_input_zeros(BINARY_INT8, x_te)
    print(f"int8 ends: exact zeros into a Sign on the test images: {zeros8:,} of {values8:,} values")
    lines = ["| model | measured with | test accuracy (450 images) |", "|---|---|---:|"]
    lines += [f"| {m} | {how} | {acc:.2%} |" for m, how, acc in accuracies]
    table = "\n".join(lines)
    print(table)
    weights = "\n".join(f"| {r.layer} | {r.op} | {'x'.join(map(str, r.shape))} | {r.bytes_before:,} B | "
                        f"{r.bytes_after:,} B | {r.note} |" for r in rows)
    with open(REPORT, "w", encoding="utf-8") as f:
        f.write(f"""# Binary digits CNN

Written by `python examples/digits/binary.py` (torch {torch.__version__.split('+')[0]}, CPU, seeded): firmnet compress
binarizes conv2 and conv3 (`--binarize auto`: not the first and last layers), torch fine-tunes
the binary network ({EPOCHS} epochs, straight-through estimator, the ReLU before each Sign
removed), and the result is exported to `binary/digits_cnn.binary.onnx` (float ends) and
`binary/digits_cnn.binary.int8.onnx` (int8 ends, binary layers float ±1).

{table}

The model as `--binarize auto` writes it reads ReLU outputs into its Signs: with firmnet's
x >= 0 -> +1 their sign is +1 everywhere and conv2/conv3 see no information (onnxruntime's
Sign gives 0 at exactly 0, so there it keeps a little). Removing those ReLUs and fine-tuning
with the straight-through estimator recovers the accuracy. In the fine-tuned model, {zeros} of the
{values:,} values reaching a Sign on the test images are exactly 0, so onnxruntime's Sign and
firmnet's x >= 0 -> +1 agree on them. With int8 ends, conv1's output reaches the first Sign
dequantized from int8, and {zeros8:,} of the {values8:,} values reaching a Sign are exactly 0 (the
int8 value equal to the zero point): there onnxruntime's Sign gives 0 where firmnet's C gives +1,
which is why the C's accuracy of that model differs from onnxruntime's.

Weights (firmnet compress rows: float bytes before, 1 bit per weight + α as float32 after):

| layer | op | shape | before | after | |
|---|---|---|---:|---:|---|
{weights}
""")
    print(f"wrote {BINARY}, {BINARY_INT8} and {REPORT}")


if __name__ == "__main__":
    main()
