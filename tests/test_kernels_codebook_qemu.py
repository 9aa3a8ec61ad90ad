"""fn_fc_s8_codebook_dsp and fn_conv2d_s8_codebook_dsp (fn_s8_dsp.h) on the emulated
Cortex-M4F (mps2-an386, QEMU), byte for byte against the dense numpy reference on the
decoded weights, built with __ARM_FEATURE_DSP (their table and SMLAD loops) and without
(their portable reading of the same pair-ordered indices): seeded random cases with K = 3,
4 (2-bit indices) and 16 (4-bit), int8 extremes in the codebooks, every requantization
mode, per-channel and per-tensor scales, full and clamped activation ranges, batches and
pixel counts with and without a block-of-4 remainder; fully connected layers (AD01's
640 -> 128 among them) and convolutions (1x1 as KWS's pointwise layer, KWS's first
convolution, padded, strided and dilated windows of any depth, rows padded to groups of 4). Firmware helpers:
support/qemu_harness.py."""
from __future__ import annotations

import numpy as np

from firmnet.kernels.params_codebook import (conv2d_s8_codebook_params, fc_s8_codebook_params, pair_ordered,
                                             rows4_interleaved)
from firmnet.kernels.params_requant import FIELD, SCALAR_FIELDS
from firmnet.reference.conv_s8 import conv2d_s32
from firmnet.reference.dense_s8 import fc_s32
from support.qemu_harness import (BLOCK_ARRAY_CTYPES, FIRMWARE_MAIN, RUNTIME, _c_array, build_firmware,
                                  kernel_mnemonics, require_tools, run_firmware)
from support.s8_cases import int8_data, make_bias, make_scales, quant_kwargs, random_quant
from support.s8_kernels import expected_conv, expected_fc

CALL = """    {
        const %(ptype)s p = {%(fields)s};
        static int8_t y[%(size)d];
        const size_t need = %(fn)s_scratch_size(&p);
        if (need == 0 || need > sizeof scratch) {
            return 6;
        }
        memset((uint8_t *)scratch + need, 0xA5, sizeof scratch - need);
        const uint64_t t0 = fn_timer_ticks();
        if (%(fn)s(&p, x%(k)d, cb%(k)d, ix%(k)d, %(bias)s, y, scratch) != FN_OK) {
            return 3;
        }
        ticks[%(k)d] = (uint32_t)(fn_timer_ticks() - t0);
        for (size_t i = need; i < sizeof scratch; ++i) {
            if (((const uint8_t *)scratch)[i] != 0xA5) {
                return 7;
            }
        }
        if (fn_sh_save("out%(k)d.bin", y, sizeof y)) {
            return 4;
        }
    }
"""
SOURCES = [RUNTIME / "src" / f"{name}.c" for name in ("fn_fc_s8_codebook_dsp", "fn_conv2d_s8_codebook_dsp")]


def decoded(rng, rows, depth, k, extremes):
    """codebook[indices] of a random per-layer int8 codebook of k values (numpy's decoding)."""
    book = (rng.choice(256, k, replace=False) - 128).astype(np.int8)
    if extremes:
        book[:2] = [-128, 127]
    return book[rng.integers(0, k, (rows, depth))]


def fc_case(rng, k, batch, rows, depth):
    q = random_quant(rng)
    w = decoded(rng, rows, depth, k, q["data"] == "extremes")
    x = int8_data(rng, (batch, depth), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], rows)
    s_in, s_w, s_out = make_scales(rng, q, fc_s32(x, w, bias, input_zero_point=q["zp_in"]), rows)
    kw = dict(quant_kwargs(q, s_in, s_w, s_out))
    params, arrays, p, folded = fc_s8_codebook_params(x.shape, w, bias, **kw)
    return ("fn_fc_s8_codebook_dsp", "fn_fc_s8_codebook_params", x, p, folded, params, arrays,
            expected_fc(x, w, bias, kw))


def conv_case(rng, k, n, h, w_, cin, cout, kh, kw_, geo):
    q = random_quant(rng)
    w = decoded(rng, cout, kh * kw_ * cin, k, q["data"] == "extremes").reshape(cout, kh, kw_, cin)
    x = int8_data(rng, (n, h, w_, cin), q["data"], q["zp_in"])
    bias = make_bias(rng, q["bias"], cout)
    acc = conv2d_s32(x, w, bias, input_zero_point=q["zp_in"], **geo)
    s_in, s_w, s_out = make_scales(rng, q, acc, cout)
    kw = dict(**geo, **quant_kwargs(q, s_in, s_w, s_out))
    params, arrays, p = conv2d_s8_codebook_params(x.shape, w, **kw)
    return ("fn_conv2d_s8_codebook_dsp", "fn_conv2d_s8_codebook_params", x, p, bias, params, arrays,
            expected_conv(x, w, bias, kw))


def cases(seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = [fc_case(rng, 16, 1, 128, 640), fc_case(rng, 4, 1, 128, 640),          # AD01's layer
           conv_case(rng, 16, 1, 5, 5, 64, 64, 1, 1, {}), conv_case(rng, 4, 1, 5, 5, 64, 64, 1, 1, {}),   # KWS 1x1
           conv_case(rng, 16, 1, 49, 10, 1, 16, 10, 4, dict(strides=(2, 2), pads=(4, 1, 5, 1)))]   # KWS first
    for j in range(10):
        k = int(rng.choice([3, 4, 16]))
        out.append(fc_case(rng, k, int(rng.integers(1, 10)), int(rng.integers(1, 10)), 4 * int(rng.integers(1, 20))))
        kh, kw_ = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        cin = int(rng.choice([1, 2, 3, 4, 5, 8, 12]))
        geo = dict(strides=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
                   dilations=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
                   pads=tuple(int(v) for v in rng.integers(0, 3, 4)))
        if j % 3 == 0:                                   # 1x1, read in place
            kh = kw_ = 1
            geo = {}
        h = (kh - 1) * geo.get("dilations", (1, 1))[0] + 1 + int(rng.integers(0, 6))
        w = (kw_ - 1) * geo.get("dilations", (1, 1))[1] + 1 + int(rng.integers(0, 6))
        out.append(conv_case(rng, k, int(rng.integers(1, 3)), h, w, cin, int(rng.integers(1, 7)), kh, kw_, geo))
    return out


def firmware(chosen) -> str:
    decls, calls = [], []
    for k, (fn, ptype, x, p, bias, params, arrays, expected) in enumerate(chosen):
        ix = pair_ordered(p, pad=True) if "conv" in fn else rows4_interleaved(p)
        decls += [_c_array("int8_t", f"x{k}", x), _c_array("int8_t", f"cb{k}", p.codebook),
                  _c_array("uint8_t", f"ix{k}", ix), _c_array("int32_t", f"b{k}", bias)]
        fields = [f".{f} = {int(v)}" for f, v in params.items() if f != FIELD]
        block = [f".{f} = {int(params[FIELD][f])}" for f in SCALAR_FIELDS]
        for field, ctype in BLOCK_ARRAY_CTYPES:
            if arrays.get(field) is not None:
                decls.append(_c_array(ctype, f"{field}{k}", arrays[field]))
                block.append(f".{field} = {field}{k}")
        fields.append(f".{FIELD} = {{{', '.join(block)}}}")
        calls.append(CALL % dict(ptype=ptype, fields=", ".join(fields), size=expected.size, fn=fn, k=k,
                                 bias=f"b{k}" if bias is not None else "0"))
    return FIRMWARE_MAIN.replace("SCRATCH_BYTES", "16384") % dict(decls="".join(decls), n=len(chosen),
                                                                  calls="".join(calls))


def test_codebook_dsp_kernels_match_the_reference_in_qemu(tmp_path):
    require_tools()
    chosen = cases(15)
    main_c = firmware(chosen)
    for dsp in (True, False):
        work = tmp_path / ("dsp" if dsp else "portable")
        elf = build_firmware(work, main_c, sources=[*SOURCES, RUNTIME / "src" / "fn_finish_channel_s8.c"], dsp=dsp)
        if dsp:
            for fn in ("pixels4_b4", "pixel1_b2", "row1_b4"):
                assert "smlad" in kernel_mnemonics(elf, fn), f"the DSP path of {fn} was not compiled in"
        outs, _ = run_firmware(elf, work, len(chosen))
        for k, (fn, _, x, p, _, params, _, expected) in enumerate(chosen):
            got = np.frombuffer(outs[k], np.int8).reshape(expected.shape)
            assert np.array_equal(got, expected), f"case {k} {fn} ({'DSP' if dsp else 'portable'}): {params}"
