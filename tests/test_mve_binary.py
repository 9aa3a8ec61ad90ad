"""The binary kernels on the emulated Cortex-M55 (QEMU mps3-an547, arm-none-eabi-gcc -O2
-mcpu=cortex-m55 -Werror), where the XOR-popcount of each row runs in Helium
(fn_b1_mismatches_mve, fn_binary_b1_impl.h): four words per vector, the last n % 4 words
under a VCTP predicate. The int32 output is the accumulator itself, compared with
np.array_equal against the numpy reference's +-1 arithmetic (reference/binary.py, never
bits), over hypothesis layers (channel counts across word boundaries, filters, strides, zero
and one padding: the masked border windows and the whole-word runs) and fully connected rows
of every length class mod 4, all bits differing or equal. One firmware per session
(tests/support/mve_binary_harness.py); cases go in by semihosting, several per QEMU run.
Instruction counts: python bench/binary.py --board mps3-an547. Tests never assert timing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmnet.dtypes import pack_b1
from firmnet.kernels import params_binary as pb
from firmnet.reference import binary as ref
from support import mve_binary_harness as bh
from support.binary_cases import conv_cases, pm1
from support.qemu_harness import require_tools


@pytest.fixture(scope="session")
def m55_binary(tmp_path_factory):
    """The binary test firmware for mps3-an547, built once per session: (elf, work folder)."""
    require_tools()
    work = tmp_path_factory.mktemp("mve-binary-firmware")
    return bh.build(work), work


def run_and_compare(m55_binary, cases: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Encoded cases with their expected int32 outputs: each returns FN_OK, stays in its
    scratch and gives exactly the expected accumulators."""
    results = bh.run(*m55_binary, [encoded for encoded, _ in cases])
    for i, ((status, out, _), (_, want)) in enumerate(zip(results, cases)):
        assert status == 0, f"case {i}: status {status}"
        got = np.frombuffer(out, np.int32).reshape(want.shape)
        bad = np.argwhere(got != want)
        assert not bad.size, f"case {i}: first mismatch at {tuple(bad[0])}: {got[tuple(bad[0])]} vs " \
                             f"{want[tuple(bad[0])]}"


def conv_case(case: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    x = pm1(rng, (case["n"], case["h"], case["w"], case["c"]))
    w = pm1(rng, (case["o"], case["kh"], case["kw"], case["c"]))
    want = ref.bconv2d_acc(x, w, strides=case["strides"], pads=case["pads"], pad_value=case["pad_value"])
    bout = pb.bout_params("int32", case["o"], case["kh"] * case["kw"] * case["c"])
    params = pb.bconv2d_b1_params(x.shape, w.shape, want.shape, strides=case["strides"], pads=case["pads"],
                                  bout=bout, pad_value=case["pad_value"])
    return bh.encode(bh.CONV, params, pack_b1(x), pb.pack_dense_filters(w), want.size), want.astype(np.int32)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(conv_cases(), min_size=6, max_size=6))
def test_bconv2d_on_cortex_m55_equals_reference(m55_binary, cases):
    run_and_compare(m55_binary, [conv_case(c) for c in cases])


def test_fc_rows_of_every_length_on_cortex_m55(m55_binary):
    """Rows of 1 to 41 words (every n % 4 after 0 to 10 whole vectors) and a partial last
    word, against 5 filters; row 0 differs from filter 0 in every bit and row 1 equals
    filter 1's values everywhere (the largest byte counts), the rest at random."""
    cases = []
    for words in range(1, 42):
        rng = np.random.default_rng(words)
        c = 32 * words - (words % 3) * 7          # some rows end inside a word
        x, wt = pm1(rng, (3, 1, 1, c)), pm1(rng, (5, 1, 1, c))
        x[0], wt[0] = 1, -1
        x[1], wt[1] = -1, -1
        bout = pb.bout_params("int32", 5, c)
        params = pb.fc_b1_params(3, (1, 1, c), 5, bout)
        want = ref.bconv2d_acc(x, wt).reshape(3, 5).astype(np.int32)
        assert want[0, 0] == -c and want[1, 1] == c
        cases.append((bh.encode(bh.FC, params, pack_b1(x), pb.pack_filters(wt), want.size), want))
    run_and_compare(m55_binary, cases)
