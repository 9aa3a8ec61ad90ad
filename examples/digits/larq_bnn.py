"""Train a binarized digits CNN with Larq, convert it with Larq Compute Engine, and record what
LCE's interpreter computes: the Larq → LCE → firmnet path (tests/test_lce_models.py compiles
the file to C and checks it against these records).

The network (NHWC, input [1, 8, 8, 1], train.py's data and split: sklearn's load_digits,
pixels / 16, train_test_split(test_size=0.25, random_state=0)):

    QuantConv2D 3x3 1->32, SAME, pad_values=1, kernel ste_sign (float input: LCE writes
        PADV2 with 1.0 and a float CONV_2D of +-1 weights) - BatchNorm
    QuantConv2D 3x3 32->32, SAME, pad_values=1, input and kernel ste_sign - BatchNorm - MaxPool 2
    QuantConv2D 3x3 32->64, SAME, pad_values=1, input and kernel ste_sign - BatchNorm - MaxPool 2
    Flatten - Dense 10 (float)

Larq's straight-through estimators (ste_sign, weight_clip), Adam 1e-2 with cosine decay, 40
epochs, batch 64, seeded. LCE's converter (convert_keras_model, float input and output)
writes LceQuantize, LceBconv2d (bitpacked output through thresholds where a binary layer
follows, float output before the dense layer), LceBMaxPool2d and the float layers.

Writes lce/digits_bnn.lce.tflite and lce/digits_bnn.lce.npz: "x" the 450 test images
float32 [450, 1, 8, 8, 1], "y" their labels, "logits" LCE's interpreter outputs [450, 1, 10],
and prints the test accuracy of Keras and of LCE's interpreter.
Run (a separate venv: tensorflow-cpu, larq, larq-compute-engine, scikit-learn):
  python3 -m venv /work/lcevenv
  /work/lcevenv/bin/pip install tensorflow-cpu==2.15.1 larq==0.13.3 larq-compute-engine==0.16.0 scikit-learn
  /work/lcevenv/bin/python examples/digits/larq_bnn.py
"""
from __future__ import annotations

import os

import larq as lq
import larq_compute_engine as lce
import numpy as np
import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lce")
EPOCHS, BATCH, LR = 40, 64, 1e-2
BIN = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
           use_bias=False, padding="same", pad_values=1.0)


def load_split():
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 8, 8, 1)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=0)


def model() -> tf.keras.Model:
    inp = tf.keras.Input((8, 8, 1))
    x = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, kernel_quantizer="ste_sign",
                              kernel_constraint="weight_clip", use_bias=False)(inp)
    x = tf.keras.layers.BatchNormalization(momentum=0.9)(x)
    x = tf.keras.layers.BatchNormalization(momentum=0.9)(lq.layers.QuantConv2D(32, 3, **BIN)(x))
    x = tf.keras.layers.MaxPool2D(2)(x)
    x = tf.keras.layers.BatchNormalization(momentum=0.9)(lq.layers.QuantConv2D(64, 3, **BIN)(x))
    x = tf.keras.layers.MaxPool2D(2)(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(10)(tf.keras.layers.Flatten()(x)))


def main():
    tf.keras.utils.set_random_seed(0)
    x_tr, x_te, y_tr, y_te = load_split()
    m = model()
    steps = EPOCHS * -(-len(x_tr) // BATCH)
    m.compile(optimizer=tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(LR, steps)),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    m.fit(x_tr, y_tr, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    keras_acc = float(np.mean(np.argmax(m.predict(x_te, verbose=0), axis=1) == y_te))
    flat = lce.convert_keras_model(m)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "digits_bnn.lce.tflite"), "wb") as f:
        f.write(flat)
    it = Interpreter(flat)
    x = x_te[:, None].astype(np.float32)
    logits = np.stack([it.predict(v) for v in x])
    lce_acc = float(np.mean(np.argmax(logits[:, 0], axis=1) == y_te))
    np.savez_compressed(os.path.join(OUT, "digits_bnn.lce.npz"), x=x, y=y_te, logits=logits)
    print(f"{len(flat)} bytes; test accuracy: Keras {keras_acc:.2%}, LCE interpreter {lce_acc:.2%}")


if __name__ == "__main__":
    main()
