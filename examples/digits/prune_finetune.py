"""Prune -> fine-tune -> prune the digits CNN with your own training loop (torch).

firmnet compress chooses which weights go (firmnet.compress.prune: one global magnitude
ranking, the first conv and layers under 1,000 weights left alone); torch fine-tunes what
is left, with the pruned weights held at 0 after every optimizer step; then the next, higher
sparsity is pruned from the fine-tuned model. Starting from the shipped digits_cnn.onnx
(BatchNorm folded into conv1, so the torch model is built without it):

  0 % --prune 0.5--> fine-tune --prune 0.8--> fine-tune --prune 0.9--> fine-tune

and, for structured pruning, --prune-structured 0.5 (half the filters of conv1..conv3
removed) then a fine-tune of the smaller dense model.

Writes, in pruned/ next to this file: digits_cnn.p50.ft.onnx, digits_cnn.p80.ft.onnx,
digits_cnn.p90.ft.onnx and digits_cnn.s50.ft.onnx (float32; pruning_table.py measures them).
Run from the repository root (torch is a tool of this example only, never of firmnet):
  pip install torch==2.13.0 scikit-learn
  python examples/digits/prune_finetune.py
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from train import DigitsCNN, SEED, export, load_split, seed_everything, train  # noqa: E402

from firmnet.compress import prune, prune_structured  # noqa: E402
from firmnet.compress.prune import format_sparsity  # noqa: E402
from firmnet.compress.structured import format_structured  # noqa: E402

OUT = os.path.join(HERE, "pruned")
SPARSITIES = (0.5, 0.8, 0.9)
STRUCTURED = 0.5
EPOCHS = 20          # per fine-tune
LR = 1e-3


def from_onnx(model: onnx.ModelProto) -> DigitsCNN:
    """The torch model holding an exported digits CNN's weights (Conv, Conv, Conv, Gemm in order)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    weights = [(inits[n.input[1]], inits[n.input[2]]) for n in layers]
    net = DigitsCNN(widths=tuple(w.shape[0] for w, _ in weights[:3]), batchnorm=False)
    with torch.no_grad():
        for module, (w, b) in zip((net.conv1, net.conv2, net.conv3, net.fc), weights):
            module.weight.copy_(torch.from_numpy(w.copy()))
            module.bias.copy_(torch.from_numpy(b.copy()))
    return net


def fine_tune(net: DigitsCNN, x_tr, y_tr) -> None:
    """Train on, keeping every weight that is 0 now at 0 (the pruned ones)."""
    layers = (net.conv1, net.conv2, net.conv3, net.fc)
    masks = [(m.weight != 0).to(m.weight.dtype) for m in layers]

    def keep_zeros():
        with torch.no_grad():
            for m, mask in zip(layers, masks):
                m.weight.mul_(mask)

    train(net, x_tr, y_tr, epochs=EPOCHS, lr=LR, after_step=keep_zeros)


def accuracy(net: DigitsCNN, x_te, y_te) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(torch.from_numpy(x_te)).argmax(1).numpy() == y_te).mean())


def save(net: DigitsCNN, name: str) -> onnx.ModelProto:
    path = os.path.join(OUT, name)
    export(net, path)
    return onnx.load(path)


def main() -> None:
    seed_everything(SEED)
    os.makedirs(OUT, exist_ok=True)
    x_tr, x_te, y_tr, y_te = load_split()
    start = onnx.load(os.path.join(HERE, "digits_cnn.onnx"))
    current = start
    for sparsity in SPARSITIES:
        pruned = onnx.ModelProto()
        pruned.CopyFrom(current)
        print(f"--prune {sparsity}\n" + format_sparsity(prune(pruned, sparsity)))
        net = from_onnx(pruned)
        before = accuracy(net, x_te, y_te)
        fine_tune(net, x_tr, y_tr)
        current = save(net, f"digits_cnn.p{round(sparsity * 100)}.ft.onnx")
        print(f"{sparsity:.0%}: test accuracy {before:.4f} pruned, {accuracy(net, x_te, y_te):.4f} fine-tuned\n")
    smaller = onnx.ModelProto()
    smaller.CopyFrom(start)
    print(f"--prune-structured {STRUCTURED}\n" + format_structured(prune_structured(smaller, STRUCTURED)))
    with tempfile.TemporaryDirectory() as tmp:   # onnx -> torch through the file, as a user would
        onnx.save(smaller, os.path.join(tmp, "s.onnx"))
        net = from_onnx(onnx.load(os.path.join(tmp, "s.onnx")))
    before = accuracy(net, x_te, y_te)
    fine_tune(net, x_tr, y_tr)
    save(net, f"digits_cnn.s{round(STRUCTURED * 100)}.ft.onnx")
    print(f"structured {STRUCTURED:.0%}: test accuracy {before:.4f} pruned, {accuracy(net, x_te, y_te):.4f} "
          "fine-tuned")


if __name__ == "__main__":
    main()
