"""Train a small CNN on scikit-learn's bundled 8x8 digits and export it to ONNX.

Makes, next to this file:
  digits_cnn.onnx   float32 model, input "input" [1,1,8,8] (pixels / 16, so 0..1),
                    output "logits" [1,10] (raw logits, no softmax in the model)
  digits_test.npz   the fixed test split: x float32 [N,1,8,8], y int64 [N]
  ACCURACY.txt      one line: accuracy of the exported ONNX model, run with
                    onnxruntime over the whole test split

Run (torch is a generation-time tool only, the firmnet package never imports it):
  pip install torch==2.13.0 scikit-learn
  python examples/digits/train.py

The data come from sklearn.datasets.load_digits (shipped with scikit-learn, no
download). Split: train_test_split(test_size=0.25, random_state=0, stratify=None).
Training is CPU-only, single-threaded, seeded, with
torch.use_deterministic_algorithms(True); on the same machine and library
versions a rerun writes the same bytes. Another CPU (other SIMD kernels) may
give slightly different float weights.

Export: torch.onnx.export, TorchScript exporter (dynamo=False), opset 17, fixed
batch 1, default constant folding, so the exporter folds the BatchNorm into the
first Conv.
"""

from __future__ import annotations

import os
import random
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_PATH = os.path.join(HERE, "digits_cnn.onnx")
NPZ_PATH = os.path.join(HERE, "digits_test.npz")
ACC_PATH = os.path.join(HERE, "ACCURACY.txt")

SEED = 0
EPOCHS = 60
BATCH = 32
LR = 3e-3


class DigitsCNN(nn.Module):
    """Conv-BN-ReLU, Conv-ReLU, MaxPool 2, Conv-ReLU, flatten, Linear -> 10 logits.

    widths: the three convs' filters; batchnorm=False makes bn1 an identity (the exported
    model has it folded into conv1 anyway: prune_finetune.py loads such weights)."""

    def __init__(self, widths: tuple[int, int, int] = (8, 16, 16), batchnorm: bool = True) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c1) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.fc = nn.Linear(c3 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        x = self.pool(x)
        x = torch.relu(self.conv3(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0)
    return (np.ascontiguousarray(x_tr), np.ascontiguousarray(x_te),
            np.ascontiguousarray(y_tr), np.ascontiguousarray(y_te))


def train(model: nn.Module, x_tr: np.ndarray, y_tr: np.ndarray, epochs: int = EPOCHS, lr: float = LR,
          after_step=None, loss=None) -> None:
    """Adam with cosine decay; after_step() runs after every optimizer step (prune_finetune.py
    uses it to keep pruned weights at 0); loss(logits, idx) replaces the cross-entropy on the
    labels of the batch's samples idx (distill.py adds the teacher's soft targets)."""
    xt = torch.from_numpy(x_tr)
    yt = torch.from_numpy(y_tr)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    n = xt.shape[0]
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            value = loss_fn(model(xt[idx]), yt[idx]) if loss is None else loss(model(xt[idx]), idx)
            value.backward()
            opt.step()
            if after_step is not None:
                after_step()
            total += value.item() * idx.numel()
        sched.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  train loss {total / n:.4f}")


def export(model: nn.Module, path: str = ONNX_PATH) -> None:
    model.eval()
    dummy = torch.zeros(1, 1, 8, 8, dtype=torch.float32)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo=True, which
        # needs onnxscript; we use the TorchScript one on purpose.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        torch.onnx.export(
            model, (dummy,), path,
            dynamo=False, opset_version=17,
            input_names=["input"], output_names=["logits"],
            do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(path), full_check=True)


def onnx_accuracy(x_te: np.ndarray, y_te: np.ndarray, path: str = ONNX_PATH) -> float:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    preds = np.empty(len(y_te), dtype=np.int64)
    for i in range(len(y_te)):
        (logits,) = sess.run(["logits"], {"input": x_te[i:i + 1]})
        preds[i] = int(np.argmax(logits[0]))
    return float(np.mean(preds == y_te))


def main() -> None:
    seed_everything(SEED)
    x_tr, x_te, y_tr, y_te = load_split()
    model = DigitsCNN()
    train(model, x_tr, y_tr)
    model.eval()
    with torch.no_grad():
        torch_acc = float((model(torch.from_numpy(x_te)).argmax(1).numpy() == y_te).mean())
    export(model)
    np.savez(NPZ_PATH, x=x_te, y=y_te)
    acc = onnx_accuracy(x_te, y_te)
    line = f"test accuracy (onnxruntime, {len(y_te)} images): {acc:.4f}"
    print(f"torch test accuracy: {torch_acc:.4f}")
    print(line)
    with open(ACC_PATH, "w", encoding="utf-8") as f:
        f.write(line + "\n")
    ops = sorted({n.op_type for n in onnx.load(ONNX_PATH).graph.node})
    print("onnx ops:", ", ".join(ops))
    if acc < 0.95:
        raise SystemExit(f"accuracy {acc:.4f} below the 0.95 target")


if __name__ == "__main__":
    main()
