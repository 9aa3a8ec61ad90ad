"""Kernel variants: one module per runtime_c kernel variant, and each op's candidates in order.

Every variant module (e.g. conv2d_1x1_s8.py beside runtime_c/src/fn_conv2d_1x1_s8.c) provides:
    NAME                                     the variant's name: its C function (what --kernel takes)
    supports(node, graph, target) -> str|None  None, or the reason it cannot run this layer
                                             (also asked by the QDQ pass, through
                                             ops.check_supported: the layer may still be
                                             NCHW, and target None means no board feature)
    why(node, graph, target) -> str          what makes it fit this layer, for the report
    cost(node, graph, target) -> int         estimated instructions of the call (the module says
                                             which measurement each coefficient comes from)
    scratch_bytes(node, graph) -> int        working memory the planner places in the arena
    call(node, graph) -> KernelCall          the C call: parameter struct and (packed) constants
Sparse variants (SPARSE = True: the CSR kernels fc_s8_csr, fc_f32_csr, conv2d_s8_csr,
conv2d_f32_csr) also provide
    flash(node, graph) -> (dense, sparse)    bytes of the weight matrix either way
    density(node, graph) -> float            nonzero weights / all weights
    terms(node, graph) -> tuple              the cost model's terms (bench/sparse.py fits their
                                             coefficients, csr_costs.py)
and --sparse (select.py) decides whether they compete. Winograd variants (WINOGRAD = True:
conv2d_s8_winograd's, conv2d_f32_winograd's WINOGRAD_F2 and WINOGRAD_F4) also provide
    flash(node, graph) -> (direct, winograd) bytes of the layer's weights either way
and --winograd (select.py) decides whether they compete.
Codebook variants (CODEBOOK = True: fc_s8_codebook, fc_s8_codebook_dsp, fc_f32_codebook,
conv2d_s8_codebook, conv2d_s8_codebook_dsp, conv2d_f32_codebook; weights with few distinct
values, _codebook.py)
provide flash() and terms() as the sparse ones do, and --codebook-kernels decides about them.
select.py picks, per layer, the cheapest supported candidate (the first of equal cost) and
records the choice, its reason and every rejected candidate with its reason in the KernelCall.

params_*.py build the parameter structs (and pack weights) of the C kernels: the variant
modules, the ops' lowerings and the kernel tests use them. Ops whose lowering still lives in
ops/<op>.py (one C kernel family, chosen by dtype inside its lower()) have one candidate,
OpLowering(op), named after the op.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import (
    bconv2d_b1,
    conv2d_1x1_s8,
    conv2d_1x1_s8_dsp,
    conv2d_1x1_s8_w16_dsp,
    conv2d_f32,
    conv2d_f32_codebook,
    conv2d_f32_csr,
    conv2d_s8,
    conv2d_s8_codebook,
    conv2d_s8_codebook_dsp,
    conv2d_s8_csr,
    conv2d_s8_dsp,
    conv2d_s8_s32,
    conv2d_s8_w16_dsp,
    depthwise_conv2d_s8,
    depthwise_conv2d_s8_blocks_dsp,
    depthwise_conv2d_s8_rows_dsp,
    depthwise_conv2d_s8_w16_dsp,
    fc_b1,
    fc_f32,
    fc_f32_codebook,
    fc_f32_csr,
    fc_s8,
    fc_s8_codebook,
    fc_s8_codebook_dsp,
    fc_s8_csr,
    fc_s8_dsp,
    fc_s8_w16_dsp,
    softmax_ort_s8,
    softmax_s8,
)
from .conv2d_f32_winograd import WINOGRAD_F2, WINOGRAD_F4
from .conv2d_s8_winograd import CONV2D_S8_WINOGRAD, CONV2D_S8_WINOGRAD_DSP
from .pool2d import POOL2D
from .softmax_f32 import LOG_SOFTMAX_F32, SOFTMAX_F32
from . import add_s8_mve, conv2d_1x1_s8_mve, conv2d_s8_mve, depthwise_conv2d_s8_mve, fc_s8_mve  # noqa: E402  (MVE)
from . import lut_s8_mve, mul_s8_mve  # noqa: E402  (MVE)


@dataclass(frozen=True)
class OpLowering:
    """The single candidate of an op without variants: its op module's lower()."""
    op: str

    @property
    def NAME(self) -> str:   # noqa: N802  (reads like a variant module's NAME)
        return self.op

    def supports(self, node, graph, target):
        return None

    def why(self, node, graph, target) -> str:
        return "the only kernel of this op"

    def cost(self, node, graph, target) -> int:
        return 0

    def scratch_bytes(self, node, graph) -> int:
        return 0

    def call(self, node, graph):
        from ..ops import OPS
        return OPS[self.op].lower(node, graph)


CANDIDATES = {
    "batchnorm": (OpLowering("batchnorm"),),
    "bconv2d": (fc_b1, bconv2d_b1),
    "binarize": (OpLowering("binarize"),),
    "binary": (OpLowering("binary"),),
    "bmaxpool": (OpLowering("bmaxpool"),),
    "compare": (OpLowering("compare"),),
    "concat": (OpLowering("concat"),),
    "conv2d": (conv2d_1x1_s8_w16_dsp, conv2d_1x1_s8_dsp, conv2d_1x1_s8, depthwise_conv2d_s8_rows_dsp,
               depthwise_conv2d_s8_w16_dsp,
               depthwise_conv2d_s8_blocks_dsp,
               depthwise_conv2d_s8, conv2d_s8_dsp, conv2d_s8_w16_dsp, conv2d_s8, CONV2D_S8_WINOGRAD_DSP, CONV2D_S8_WINOGRAD,
               conv2d_s8_s32, fc_s8_csr, conv2d_s8_csr, conv2d_f32, WINOGRAD_F2, WINOGRAD_F4, fc_f32_csr,
               conv2d_f32_csr, conv2d_s8_codebook_dsp, fc_s8_codebook_dsp, fc_s8_codebook, conv2d_s8_codebook,
               fc_f32_codebook, conv2d_f32_codebook),
    "conv_transpose": (OpLowering("conv_transpose"),),
    "dense": (fc_s8_dsp, fc_s8_w16_dsp, fc_s8, conv2d_s8_dsp, conv2d_s8, conv2d_s8_s32, fc_s8_csr, fc_f32, fc_f32_csr, fc_s8_codebook_dsp,
              fc_s8_codebook, fc_f32_codebook),
    "dequantize": (OpLowering("dequantize"),),
    "normalization": (OpLowering("normalization"),),
    "pad": (OpLowering("pad"),),
    "pool2d": POOL2D,
    "quantize": (OpLowering("quantize"),),
    "reduce": (OpLowering("reduce"),),
    "reshape": (OpLowering("reshape"),),
    "resize": (OpLowering("resize"),),
    "slice": (OpLowering("slice"),),
    "softmax": (softmax_s8, softmax_ort_s8, SOFTMAX_F32, LOG_SOFTMAX_F32),
    "transpose": (OpLowering("transpose"),),
    "unary": (OpLowering("unary"),),
    "unbinarize": (OpLowering("unbinarize"),),
    "where": (OpLowering("where"),),
}
CANDIDATES["conv2d"] = (conv2d_1x1_s8_mve, depthwise_conv2d_s8_mve, conv2d_s8_mve, *CANDIDATES["conv2d"])  # MVE first
CANDIDATES["dense"] = (fc_s8_mve, *CANDIDATES["dense"])  # MVE first
CANDIDATES["binary"] = (add_s8_mve, mul_s8_mve, *CANDIDATES["binary"])  # MVE first
CANDIDATES["unary"] = (lut_s8_mve, *CANDIDATES["unary"])  # MVE first
