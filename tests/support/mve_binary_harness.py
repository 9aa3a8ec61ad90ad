"""The binary kernels (fn_bconv2d_b1, fn_fc_b1) on the emulated Cortex-M55 (QEMU mps3-an547),
where their popcount runs in Helium (fn_b1_mismatches_mve): the firmware of mve_harness (its
build, case.bin / out.bin / res.bin protocol and run()) with a main.c of its own that reads
binary layers with the int32 output (the accumulators themselves): per case (status, output
bytes, instructions). The firmware fills the scratch with 0xA5 first and reports status 100
if the call wrote past fn_bconv2d_b1_scratch_size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from support import mve_harness as mh

CONV, FC = 0, 1
CONV_FIELDS = ["batch", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w", "stride_h",
               "stride_w", "pad_top", "pad_left", "pad_value"]
FC_FIELDS = ["batch", "in_words", "in_bits", "out_features"]
SOURCES = ["fn_bconv2d_b1", "fn_fc_b1"]
SCRATCH_WORDS = 4096

MAIN = """/* Test firmware (tests/support/mve_binary_harness.py): binary layers from case.bin. */
#include <stdint.h>
#include <string.h>
#include "fn_binary_b1.h"
#include "fn_board.h"
#include "fn_semihost.h"

static int32_t in[IN_WORDS];
static int32_t out[OUT_BYTES / 4];
static int32_t res[3 * 256];
static uint32_t scratch[SCRATCH_WORDS];

""" + mh.MAIN_OPEN + """        const int32_t nf = *q++;
        const int32_t *f = q;
        q += nf;
        int32_t n = *q++;
        const uint32_t *x = (const uint32_t *)q;
        q += n;
        n = *q++;
        const uint32_t *w = (const uint32_t *)q;
        q += n;
        const int32_t ny = *q++;
        if (used + (uint32_t)ny > sizeof out) {
            return 4;
        }
        int32_t *y = out + used / 4;
        memset(y, 0x5A, (size_t)ny);
        memset(scratch, 0xA5, sizeof scratch);
        fn_bout o;
        memset(&o, 0, sizeof o);
        o.kind = FN_BOUT_INT32;
        int32_t status = 99;
        size_t need = 0;
        uint64_t t0 = 0, t1 = 0;
        if (kind == 0) {
            fn_bconv2d_b1_params p;
            p.batch = f[0]; p.in_h = f[1]; p.in_w = f[2]; p.in_c = f[3]; p.out_h = f[4]; p.out_w = f[5];
            p.out_c = f[6]; p.kernel_h = f[7]; p.kernel_w = f[8]; p.stride_h = f[9]; p.stride_w = f[10];
            p.pad_top = f[11]; p.pad_left = f[12]; p.pad_value = f[13]; p.out = o;
            need = fn_bconv2d_b1_scratch_size(&p);
            if (need == 0 || need > sizeof scratch) {
                status = 101;
            } else {
                t0 = fn_timer_ticks();
                status = (int32_t)fn_bconv2d_b1(&p, x, w, y, scratch);
                t1 = fn_timer_ticks();
            }
        } else if (kind == 1) {
            fn_fc_b1_params p;
            p.batch = f[0]; p.in_words = f[1]; p.in_bits = f[2]; p.out_features = f[3]; p.out = o;
            t0 = fn_timer_ticks();
            status = (int32_t)fn_fc_b1(&p, x, w, y);
            t1 = fn_timer_ticks();
        }
""" + mh.SCRATCH_CHECK + mh.MAIN_CLOSE


def build(work: Path) -> Path:
    main = MAIN.replace("IN_WORDS", str(mh.IN_WORDS)).replace("OUT_BYTES", str(mh.OUT_BYTES))
    return mh.build(work, main.replace("SCRATCH_WORDS", str(SCRATCH_WORDS)), SOURCES)


def _words(a) -> list[np.ndarray]:
    a = np.ascontiguousarray(np.asarray(a, np.uint32)).ravel()
    return [np.array([a.size], np.int32), a.view(np.int32)]


def encode(kind: int, params: dict, x_words, w_words, n_out: int) -> np.ndarray:
    """One case: the struct's scalar fields (params, as kernels/params_binary.py builds them),
    the packed input and filter words and the number of int32 outputs."""
    fields = [int(params[f]) for f in (CONV_FIELDS if kind == CONV else FC_FIELDS)]
    parts = [np.array([kind, len(fields), *fields], np.int32), *_words(x_words), *_words(w_words),
             np.array([4 * n_out], np.int32)]
    return np.concatenate(parts).astype(np.int32)


run = mh.run
