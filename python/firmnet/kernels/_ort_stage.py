"""What onnxruntime's arithmetic (--requant ort) adds to an int8 layer's instructions: each
output requantized in float32 (fn_conv_s8.h's ORT stage) instead of the kernel's TFLM stage.
The variants' cost() functions are TFLM figures; kernels.cost() adds this per output of a
conv/dense layer in ORT mode, so the estimates, and the choice of kernel, follow what the
board runs.

Instructions per output, ORT minus TFLM (`python bench/ort_stage.py`): the median over the
conv/dense layers of bench/requant_cost.py's models (digits, lenet5, resnet_tiny,
mobilenet_tiny, squeezenet_tiny) compiled with the variant forced, once per mode
(mps2-an386; the MVE variants on mps3-an547). Variants with an ORT path of their own
(fn_conv2d_s8_w16_dsp's channel pairs, the depthwise DSP blocks) pay least; those that trade a
fast TFLM stage for the general one most (the 1x1 and fully connected DSP kernels, Winograd,
MVE); the portable kernels run the general stage in both modes, ORT's the cheaper. fn_depthwise_conv2d_s8_w16_dsp is not here:
its cost() already leaves its fast path outside TFLM mode (77 more per output, measured).
The codebook variants are not listed (not measured) and add nothing."""
from __future__ import annotations

PER_OUTPUT = {   # python bench/ort_stage.py (its medians; the MVE rows: --board mps3-an547 --only mve)
    "fn_conv2d_s8": -5.0,
    "fn_conv2d_s8_dsp": 13.1,
    "fn_conv2d_s8_w16_dsp": 12.2,
    "fn_conv2d_1x1_s8": 18.6,
    "fn_conv2d_1x1_s8_dsp": 43.9,
    "fn_conv2d_1x1_s8_w16_dsp": 47.2,
    "fn_depthwise_conv2d_s8": 5.2,
    "fn_depthwise_conv2d_s8_rows_dsp": 8.6,
    "fn_depthwise_conv2d_s8_blocks_dsp": 8.0,
    "fn_conv2d_s8_winograd": 39.1,
    "fn_conv2d_s8_winograd_dsp": 39.7,
    "fn_conv2d_s8_csr": 13.6,
    "fn_fc_s8": -2.8,
    "fn_fc_s8_dsp": 12.0,
    "fn_fc_s8_w16_dsp": 56.0,
    "fn_fc_s8_csr": 24.3,
    "fn_conv2d_s8_mve": 43.9,
    "fn_conv2d_1x1_s8_mve": 44.0,
    "fn_depthwise_conv2d_s8_mve": 48.2,
    "fn_fc_s8_mve": 38.7,
}


def extra(kernel_name: str, node, graph) -> float:
    """The ORT stage's instructions over the layer's outputs beyond the TFLM stage's; 0
    outside ORT mode."""
    q = getattr(node.attrs, "quant", None) if node.op in ("conv2d", "dense") else None
    if q is None or q.output is None or q.mode != "ort":
        return 0.0
    return PER_OUTPUT.get(kernel_name, 0.0) * graph.types[node.outputs[0]].size
