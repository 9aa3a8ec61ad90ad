"""Numpy reference of the int8 fully connected layer (runtime_c/include/fn_fc_s8.h), bit-exact.

Arithmetic (TFLite reference_integer_ops::FullyConnectedPerChannel, and FullyConnected
with weights_offset 0): out[b, o] = output_stage_s8(wrap32(sum_i (x[b, i] - zp_in) *
w[o, i] + bias[o])), the output stage of reference/conv_s8.py, with the requantization
derived there from the scales (`requantizer`):
  tflm, single: double(s_in) * double(s_w[o]) / double(s_out), per-channel and
      per-tensor weights alike (TFLM CalculateOpDataFullyConnected,
      micro/kernels/fully_connected_common.cc). Some TFLite versions of
      GetQuantizedConvolutionMultipler, which the per-tensor branch calls, round the
      product s_in * s_w to float32 first; the pinned tflite-micro interpreter does not,
      and tests/test_kernels_conv_s8_oracles.py pins that down with accumulators placed
      between the two roundings;
  ort: float32 (s_in * s_w[o]) / s_out (onnxruntime QLinearMatMul::Compute,
      onnxruntime/core/providers/cpu/quantization/quantize_linear_matmul.cc:
      `a_scale_data * b_scale_data[i] / y_scale_data`).
"""
from __future__ import annotations

import numpy as np

from .conv_s8 import INT8_MAX, INT8_MIN, add_bias, output_stage_s8, requantizer
from .dense import check_fc_shapes


def fc_s32(x, w, bias, *, input_zero_point) -> np.ndarray:
    """The int32 accumulators wrap32(sum_i (x[b, i] - zp_in) * w[o, i] + bias[o]), int64 [N, M]."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError(f"x and w must be int8, got {x.dtype} and {w.dtype}")
    check_fc_shapes(x.shape, w.shape)
    sums = (x.astype(np.int64) - int(input_zero_point)) @ w.astype(np.int64).T
    return add_bias(sums, bias)


def fc_s8(x, w, bias, *, input_scale, input_zero_point, weight_scales, output_scale, output_zero_point,
          act=(INT8_MIN, INT8_MAX), mode: str = "tflm") -> np.ndarray:
    """int8 fully connected: x [N, K] int8, w [M, K] int8, bias int32 [M] or None → int8 [N, M]."""
    acc = fc_s32(x, w, bias, input_zero_point=input_zero_point)
    return output_stage_s8(acc, requantizer(input_scale, weight_scales, output_scale, mode), output_zero_point, act)
