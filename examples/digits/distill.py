"""Knowledge distillation: a smaller student CNN trained from the digits teacher.

The teacher is the shipped digits_cnn.onnx (conv widths 8/16/16, 6,088 weights), run with
onnxruntime on the training split (train.py's split) to give its logits. The student is
train.py's DigitsCNN with conv widths 4/8/8 (2,180 weights), trained with train.py's loop
(Adam, cosine decay, same seed, epochs and batches) on

    loss = ALPHA * T^2 * KL(softmax(teacher / T) || softmax(student / T))
           + (1 - ALPHA) * cross_entropy(student, label)

at temperature T = 4 and ALPHA = 0.7 (Hinton et al.'s soft targets; T^2 keeps the soft
term's gradients on the scale of the hard one's). The same student trained on the labels
alone (same seed and loop) is the baseline that shows what the teacher adds.

Writes, in distilled/ next to this file:
  student.onnx        the distilled student (float32; input "input" [1,1,8,8], output "logits")
  student.int8.onnx   its int8 version (firmnet.compress.quantize_int8, calibrated on
                      digits_calib.npz, as `firmnet compress --quantize int8` makes it)
  RESULTS.md          teacher, baseline and student: weights, weight bytes of the generated C,
                      accuracy (onnxruntime and the generated C, float and int8) on the 450
                      test images
Run from the repository root (torch and scikit-learn are tools of this example only):
  pip install torch==2.13.0 scikit-learn
  python examples/digits/distill.py
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from train import DigitsCNN, SEED, export, load_split, onnx_accuracy, seed_everything, train  # noqa: E402

import firmnet  # noqa: E402
from firmnet.compress import accuracy, quantize_int8, read_labels, read_samples  # noqa: E402

OUT = os.path.join(HERE, "distilled")
TEACHER = os.path.join(HERE, "digits_cnn.onnx")
STUDENT_WIDTHS = (4, 8, 8)
T = 4.0
ALPHA = 0.7


def teacher_logits(x: np.ndarray) -> torch.Tensor:
    """The teacher's logits for every sample, by onnxruntime (its model takes one image)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(TEACHER, opts, providers=["CPUExecutionProvider"])
    return torch.from_numpy(np.concatenate([session.run(["logits"], {"input": x[i:i + 1]})[0]
                                            for i in range(len(x))]))


def distillation_loss(teacher: torch.Tensor, labels: torch.Tensor):
    """loss(student logits, batch indices) for train.train: soft targets at T plus hard labels."""
    soft_targets = F.softmax(teacher / T, dim=1)

    def loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        soft = F.kl_div(F.log_softmax(logits / T, dim=1), soft_targets[idx], reduction="batchmean") * T * T
        return ALPHA * soft + (1 - ALPHA) * F.cross_entropy(logits, labels[idx])
    return loss


def weights(path: str) -> int:
    """Weights of a float model's Conv and Gemm layers (biases not counted, as in PRUNING.md)."""
    model = onnx.load(path)
    inits = {t.name: t for t in model.graph.initializer}
    return sum(int(np.prod(inits[n.input[1]].dims)) for n in model.graph.node if n.op_type in ("Conv", "Gemm"))


def measure(path: str, samples, labels, x_te, y_te) -> dict:
    with tempfile.TemporaryDirectory() as work:
        report = firmnet.compile(path, work, write=False).report
    return {"weights": weights(path) if "int8" not in os.path.basename(path) else None,
            "weight_bytes": report["weights_bytes"], "ort": onnx_accuracy(x_te, y_te, path),
            "c": accuracy(path, samples, labels)}


def student(x_tr, y_tr, loss=None) -> DigitsCNN:
    seed_everything(SEED)
    net = DigitsCNN(widths=STUDENT_WIDTHS)
    train(net, x_tr, y_tr, loss=loss)
    return net.eval()


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    x_tr, x_te, y_tr, y_te = load_split()
    test = os.path.join(HERE, "digits_test.npz")
    samples, labels = read_samples(test, onnx.load(TEACHER), what="evaluation"), read_labels(test)
    print("teacher logits (onnxruntime) ...")
    loss = distillation_loss(teacher_logits(x_tr), torch.from_numpy(y_tr))
    print(f"student {STUDENT_WIDTHS}, hard labels only ...")
    with tempfile.TemporaryDirectory() as work:
        baseline_path = os.path.join(work, "baseline.onnx")
        export(student(x_tr, y_tr), baseline_path)
        baseline = measure(baseline_path, samples, labels, x_te, y_te)
    print(f"student {STUDENT_WIDTHS}, distilled at T={T:g}, alpha={ALPHA:g} ...")
    student_path, int8_path = os.path.join(OUT, "student.onnx"), os.path.join(OUT, "student.int8.onnx")
    export(student(x_tr, y_tr, loss), student_path)
    quantize_int8(student_path, os.path.join(HERE, "digits_calib.npz"), int8_path)
    rows = [("teacher (digits_cnn.onnx)", measure(TEACHER, samples, labels, x_te, y_te)),
            ("teacher int8 (digits_cnn.int8.onnx)",
             measure(os.path.join(HERE, "digits_cnn.int8.onnx"), samples, labels, x_te, y_te)),
            (f"student {'/'.join(map(str, STUDENT_WIDTHS))}, labels only", baseline),
            (f"student {'/'.join(map(str, STUDENT_WIDTHS))}, distilled (distilled/student.onnx)",
             measure(student_path, samples, labels, x_te, y_te)),
            ("distilled student int8 (distilled/student.int8.onnx)", measure(int8_path, samples, labels, x_te, y_te))]
    lines = [f"Distillation at T = {T:g}, alpha = {ALPHA:g} (examples/digits/distill.py); accuracy on the "
             f"{len(y_te)} test images.", "",
             "| model | weights | weight bytes (C) | accuracy (onnxruntime) | accuracy (generated C) |",
             "|---|---:|---:|---:|---:|"]
    for name, m in rows:
        count = "-" if m["weights"] is None else f"{m['weights']:,}"
        lines.append(f"| {name} | {count} | {m['weight_bytes']:,} | {m['ort']:.2%} | {m['c']:.2%} |")
    with open(os.path.join(OUT, "RESULTS.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
