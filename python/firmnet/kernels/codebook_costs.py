"""Cost coefficients of the codebook kernels, measured on mps2-an386 (Cortex-M4F,
arm-none-eabi-gcc -O2) by bench/codebook.py (`python bench/codebook.py --write` rewrites
this file): instructions per cost term of the kernel module (kernels/_codebook.py: fc_terms
for the fully connected variants, conv_terms for fn_conv2d_s8_codebook and
fn_conv2d_f32_codebook; conv2d_s8_codebook_dsp.terms for fn_conv2d_s8_codebook_dsp), per index
width, least-squares fits over the bench's layers (AD01's 640 -> 128 fully connected layer,
KWS's 64 -> 64 pointwise layer on 25 x 5 pixels, KWS's first convolution and a 3x3 64 -> 64
one). Every target takes these figures (as the dense kernels' Cortex-M4 figures)."""
from __future__ import annotations

COSTS = {
    "fn_conv2d_f32_codebook": {
        2: (653.323, 12.096),
        4: (661.267, 12.083),
        8: (580.012, 9.203),
    },
    "fn_conv2d_s8_codebook": {
        2: (812.019, 10.907),
        4: (726.783, 11.04),
    },
    "fn_conv2d_s8_codebook_dsp": {
        2: (28.783, 1.105, 36.479),
        4: (29.57, 1.167, 36.459),
    },
    "fn_fc_f32_codebook": {
        2: (35.057, 11.49, 11.5),
        4: (33.981, 7.99, 8.0),
        8: (24.538, 7.999, 8.001),
    },
    "fn_fc_s8_codebook": {
        2: (67.239, 3.949, 10.004),
        4: (66.983, 4.933, 6.005),
    },
    "fn_fc_s8_codebook_dsp": {
        2: (74.574, 1.966, 1.575),
        4: (70.184, 1.779, 1.823),
    },
}


def coefficients(kernel: str, bits: int) -> tuple[float, ...]:
    return COSTS[kernel][bits]
