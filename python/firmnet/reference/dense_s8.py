"""Numpy reference of the int8 fully connected layer (runtime_c/include/fn_fc_s8.h), bit-exact.

Arithmetic (TFLite reference_integer_ops::FullyConnectedPerChannel, and FullyConnected
with weights_offset 0): out[b, o] = output_stage_s8(wrap32(sum_i (x[b, i] +
input_offset) * w[o, i] + bias[o])), the output stage of reference/conv_s8.py.

`fc_s8_params` returns (params, arrays) like conv2d_s8_params. The effective scale
follows the runtime being matched:
  tflm, single: double(s_in) * double(s_w[o]) / double(s_out), per-channel and
      per-tensor weights alike (TFLM CalculateOpDataFullyConnected,
      micro/kernels/fully_connected_common.cc). Some TFLite versions of
      GetQuantizedConvolutionMultipler, which the per-tensor branch calls, round the
      product s_in * s_w to float32 first; the pinned tflite-micro interpreter does not,
      and tests/test_kernels_conv_s8.py pins that down with accumulators placed between
      the two roundings;
  ort: float32 (s_in * s_w[o]) / s_out (onnxruntime QLinearMatMul::Compute,
      onnxruntime/core/providers/cpu/quantization/quantize_linear_matmul.cc:
      `a_scale_data * b_scale_data[i] / y_scale_data`).
"""
from __future__ import annotations

import numpy as np

from .dense import check_fc_shapes
from .conv_s8 import (INT8_MAX, INT8_MIN, add_bias, check_depth, output_stage_s8, quant_fields,
                      requant_arrays)


def _check_fc(x_shape, w_shape) -> None:
    check_fc_shapes(x_shape, w_shape)
    check_depth(int(x_shape[1]), "fc")


def fc_s8_params(x_shape, w_shape, *, input_scale, input_zero_point, weight_scales, output_scale,
                 output_zero_point, act=(INT8_MIN, INT8_MAX), mode: str = "tflm") -> tuple[dict, dict]:
    """(fn_fc_s8_params scalar fields, arrays) for x [N, K] and w [M, K]."""
    _check_fc(x_shape, w_shape)
    m = int(w_shape[0])
    per_channel, arrays = requant_arrays(input_scale, weight_scales, output_scale, mode, m)
    params = {
        "batch": int(x_shape[0]), "in_features": int(x_shape[1]), "out_features": m,
        **quant_fields(input_zero_point, output_zero_point, act, mode, per_channel),
    }
    return params, arrays


def fc_s8(x, w, bias, params: dict, arrays: dict) -> np.ndarray:
    """int8 fully connected: x [N, K] int8, w [M, K] int8, bias int32 [M] or None → int8 [N, M]."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.dtype != np.int8 or w.dtype != np.int8:
        raise ValueError(f"x and w must be int8, got {x.dtype} and {w.dtype}")
    _check_fc(x.shape, w.shape)
    if (x.shape[0], x.shape[1], w.shape[0]) != (params["batch"], params["in_features"], params["out_features"]):
        raise ValueError(f"x {x.shape} / w {w.shape} do not match the parameters")
    sums = (x.astype(np.int64) + params["input_offset"]) @ w.astype(np.int64).T
    return output_stage_s8(add_bias(sums, bias), params, arrays)
