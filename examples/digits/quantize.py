"""Make the int8 version of the digits CNN with `firmnet compress`, and measure both.

Calibration uses 200 images of the training split (the same split as train.py);
accuracy is measured on the 450 test images by the generated C of each model.
Writes digits_cnn.int8.onnx, digits_calib.npz and COMPARISON.md (the README's table).
Run from the repository root: python examples/digits/quantize.py (needs firmnet[compress]).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import firmnet
from firmnet.compress import accuracy, quantize_int8, read_labels, read_samples

HERE = Path(__file__).resolve().parent


def main() -> None:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    train, _, _, _ = train_test_split(images, digits.target, test_size=0.25, random_state=0)
    np.savez(HERE / "digits_calib.npz", input=train[:200])
    float_model, int8_model = HERE / "digits_cnn.onnx", HERE / "digits_cnn.int8.onnx"
    quantize_int8(float_model, HERE / "digits_calib.npz", int8_model)

    test = HERE / "digits_test.npz"
    import onnx
    samples = read_samples(test, onnx.load(float_model), what="evaluation")
    labels = read_labels(test)
    rows = []
    for label, model in (("float32", float_model), ("int8", int8_model)):
        # weights as a 32-bit Arm target lays the constants out (parameter structs hold pointers)
        report = firmnet.compile(model, "unused", board="mps2-an386", name="digits", write=False).report
        rows.append((label, report["weights_bytes"], report["arena_bytes"], accuracy(model, samples, labels)))
    lines = ["| model | weights (flash) | arena (RAM) | test accuracy of the C (450 images) |",
             "|---|---|---|---|"]
    lines += [f"| {m} | {w:,} B | {a:,} B | {acc * 100:.2f} % |" for m, w, a, acc in rows]
    (HERE / "COMPARISON.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
