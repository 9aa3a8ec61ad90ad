"""Cost coefficients of the CSR kernels per CPU, measured on the emulated boards by
bench/sparse.py (`python bench/sparse.py --write` rewrites this file): instructions per cost
term of the kernel module (its terms(): kernels/_csr.py for fn_fc_s8_csr and fn_fc_f32_csr,
conv2d_s8_csr.py), least-squares fits over the bench's layers at 50/70/80/90/95 % random
sparsity: AD01's 640 -> 128 and KWS's 64 -> 64 pointwise layers (the fully connected
kernels), KWS's first convolution and a 3x3 64 -> 64 one (the convolution kernels). CPUs not
measured take the Cortex-M4's figures. The dense variants' figures are the Cortex-M4's on every
target (kernels/_conv.py), so on the M7 and M55 the selection compares their M4 estimate with
these; bench/sparse.py prints the break-even of each board from its own dense runs (within
3 points of the M4's)."""
from __future__ import annotations

COSTS = {
    "cortex-m4": {
        "fn_conv2d_f32_csr": (43.792, 6.061, 31.912),
        "fn_conv2d_s8_csr": (53.963, 8.382, 5.513, 29.856),
        "fn_fc_f32_csr": (3196.664, 22.116, 4.0, 4.0),
        "fn_fc_s8_csr": (8538.42, 24.416, 4.667, 2.333),
    },
    "cortex-m55": {
        "fn_conv2d_f32_csr": (43.734, 5.803, 30.573),
        "fn_conv2d_s8_csr": (53.494, 12.866, 4.76, 29.545),
        "fn_fc_f32_csr": (3455.888, 22.1, 3.0, 4.0),
        "fn_fc_s8_csr": (8879.465, 24.645, 3.667, 2.333),
    },
    "cortex-m7": {
        "fn_conv2d_f32_csr": (43.725, 6.494, 30.203),
        "fn_conv2d_s8_csr": (52.732, 9.645, 6.074, 27.352),
        "fn_fc_f32_csr": (2920.923, 21.134, 4.002, 4.0),
        "fn_fc_s8_csr": (8132.812, 24.449, 4.668, 2.333),
    },
}


def coefficients(kernel: str, target) -> tuple[float, ...]:
    cpu = getattr(target, "cpu", None)
    return COSTS.get(cpu, {}).get(kernel) or COSTS["cortex-m4"][kernel]
