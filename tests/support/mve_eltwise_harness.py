"""int8 Mul and lookup-table kernels on the emulated Cortex-M55 (QEMU mps3-an547, MVE): the
firmware of mve_harness (its build, case.bin / out.bin / res.bin protocol and run()) with a
main.c of its own that reads elementwise cases: per case (status, output bytes, instructions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from support import mve_harness as mh

# kind: (number in case.bin, C function)
KINDS = {"mul_mve": (0, "fn_mul_s8_mve"), "mul": (1, "fn_mul_s8"), "lut_mve": (2, "fn_lut_s8_mve"),
         "lut": (3, "fn_lut_s8")}
SOURCES = ["fn_mul_s8_mve", "fn_mul_s8", "fn_lut_s8_mve", "fn_lut_s8"]
MUL_FIELDS = ["a_offset", "b_offset", "output_offset", "multiplier", "shift", "act_min", "act_max"]

MAIN = """/* Test firmware (tests/support/mve_eltwise_harness.py): int8 mul and table cases from case.bin. */
#include <stdint.h>
#include <string.h>
#include "fn_board.h"
#include "fn_s8_mve.h"
#include "fn_semihost.h"

static int32_t in[IN_WORDS];
static int8_t out[OUT_BYTES];
static int32_t res[3 * 256];

""" + mh.MAIN_OPEN + """        const int32_t n = *q++;
        const int32_t *f = q;
        q += 7;
        const int8_t *table = (const int8_t *)q;
        q += 64;
        const int8_t *a = (const int8_t *)q;
        q += (n + 3) / 4;
        const int8_t *b = (const int8_t *)q;
        q += (n + 3) / 4;
        const int32_t ny = *q++;
        if (used + (uint32_t)ny > sizeof out || ny != n) {
            return 4;
        }
        int8_t *y = out + used;
        memset(y, 0x5A, (size_t)ny);
        int32_t status = 99;
        uint64_t t0 = 0, t1 = 0;
        fn_mul_s8_params mp;
        memset(&mp, 0, sizeof mp);
        mp.ndim = 1;
        mp.out_shape[0] = n;
        mp.a_strides[0] = 1;
        mp.b_strides[0] = 1;
        mp.method = FN_ELTWISE_S8_TFLM;
        mp.requant_mode = FN_REQUANT_TFLM;
        mp.a_offset = f[0];
        mp.b_offset = f[1];
        mp.output_offset = f[2];
        mp.multiplier = f[3];
        mp.shift = f[4];
        mp.act_min = f[5];
        mp.act_max = f[6];
        fn_lut_s8_params lp;
        lp.count = n;
        lp.table = table;
        t0 = fn_timer_ticks();
        switch (kind) {
        case 0: status = (int32_t)fn_mul_s8_mve(&mp, a, b, y); break;
        case 1: status = (int32_t)fn_mul_s8(&mp, a, b, y); break;
        case 2: status = (int32_t)fn_lut_s8_mve(&lp, a, y); break;
        case 3: status = (int32_t)fn_lut_s8(&lp, a, y); break;
        default: break;
        }
        t1 = fn_timer_ticks();
""" + mh.MAIN_CLOSE


def build(work: Path) -> Path:
    main = MAIN.replace("IN_WORDS", str(mh.IN_WORDS)).replace("OUT_BYTES", str(mh.OUT_BYTES))
    return mh.build(work, main, SOURCES)


def _bytes(a) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, np.int8)).ravel()
    padded = np.zeros((a.size + 3) // 4 * 4, np.int8)
    padded[:a.size] = a
    return padded.view(np.int32)


def encode(kind: str, a, b=None, mul: dict | None = None, table=None) -> np.ndarray:
    """One case: a Mul (the fn_mul_s8_params fields MUL_FIELDS as the builder returns them, of a
    one-dimensional walk) or a table lookup (its 256 entries) over len(a) elements."""
    a = np.asarray(a, np.int8).ravel()
    n = a.size
    fields = [int(mul[f]) for f in MUL_FIELDS] if mul is not None else [0] * 7
    tab = np.asarray(table, np.int8) if table is not None else np.zeros(256, np.int8)
    assert tab.size == 256
    other = np.asarray(b, np.int8).ravel() if b is not None else np.zeros(n, np.int8)
    return np.concatenate([np.array([KINDS[kind][0], n, *fields], np.int32), _bytes(tab), _bytes(a), _bytes(other),
                           np.array([n], np.int32)]).astype(np.int32)


run = mh.run
