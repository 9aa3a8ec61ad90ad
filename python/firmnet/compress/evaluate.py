"""Accuracy of a compiled model on labelled data, measured on the generated C (host build)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np

from ..ir import FirmnetError


@dataclass(frozen=True)
class Evaluation:
    """Labelled samples: one {input name: array} per sample (compress.read_samples), and their labels."""
    samples: list
    labels: np.ndarray


def read_labels(path) -> np.ndarray:
    data = np.load(path)
    for key in ("y", "labels", "label"):
        if key in data.files:
            return np.asarray(data[key]).astype(np.int64).ravel()
    raise FirmnetError(f"evaluation data {path} has no labels: add an array named 'y' (or 'labels')")


def accuracy(model, samples: list[dict], labels: np.ndarray, requant: str = "auto") -> float:
    """Top-1 accuracy of the model's first output over the samples, computed by the C."""
    from ..compiler import compile
    with tempfile.TemporaryDirectory() as out:
        cm = compile(model, out, name="evaluated", requant=requant)
        return compiled_accuracy(cm, Evaluation(samples, labels))


def compiled_accuracy(cm, evaluation: Evaluation) -> float:
    """Top-1 accuracy of a compiled model's first output (its sources written), computed by its C."""
    samples, labels = evaluation.samples, evaluation.labels
    if len(labels) < len(samples):
        raise FirmnetError(f"{len(samples)} samples but only {len(labels)} labels")
    host = cm.build_host()
    hits = 0
    for sample, label in zip(samples, labels):
        scores = host.run([sample[name] for name in cm.graph.inputs])[0]
        hits += int(np.argmax(scores.reshape(-1)) == label)
    return hits / len(samples)
