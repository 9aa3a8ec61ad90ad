"""Cost of the requantization modes on the emulated boards: instructions per inference of the
int8 ONNX models compiled with --requant tflm and with --requant ort.

Prints a plain text table (never asserts). Run from the repository root:

    python bench/requant_cost.py [MODEL ...]

Boards: mps2-an386 (Cortex-M4F: single-precision FPU) and the rp2040-pico's code (Cortex-M0+,
no FPU: float arithmetic is the compiler's soft-float library) run on the Cortex-M3 mps2-an385,
as tests/test_boards.py does (its board file with the AN385's memory map). Instructions are
counted as bench/boards.py counts them (QEMU -icount shift=0 + SysTick, exact to 40). `ort`
requantizes each output in float32 (acc * scale, rounded half to even); `tflm` with a 32-bit
fixed-point multiply. Inputs: seeded standard-normal floats quantized as the model does.
"""
from __future__ import annotations

import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

import firmnet  # noqa: E402
from firmnet import qemu  # noqa: E402
from firmnet.boundary import to_c_inputs  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "models"
MODELS = [REPO / "examples" / "digits" / "digits_cnn.int8.onnx", FIXTURES / "lenet5.qdq.onnx",
          FIXTURES / "resnet_tiny.qdq.onnx", FIXTURES / "mobilenet_tiny.qdq.onnx",
          FIXTURES / "squeezenet_tiny.qdq.onnx"]


def rp2040_on_an385(tmp: Path) -> str:
    """The rp2040-pico board file (its CPU flags: -mcpu=cortex-m0plus, soft float) on QEMU's AN385."""
    text = (REPO / "boards" / "rp2040-pico.toml").read_text()
    for key, value in (("flash_origin", "0x00000000"), ("flash_bytes", 4194304), ("boot2_bytes", 0),
                       ("stack_bytes", 65536)):
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    text += '\n[emulation]\nqemu = "qemu-system-arm"\nmachine = "mps2-an385"\nsysclk_hz = 25000000\n'
    path = tmp / "rp2040-pico-on-an385.toml"
    path.write_text(text)
    return str(path)


def instructions(model: Path, board: str, mode: str, work: Path) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm = firmnet.compile(model, work / f"{model.stem}-{Path(board).stem}-{mode}", board=board,
                             name=re.sub(r"\W", "_", model.stem), requant=mode)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(cm.graph.types[n].shape).astype(np.float32) for n in cm.graph.inputs]
    result = qemu.run(cm.out_dir, board, to_c_inputs(cm, xs))
    return result.instructions, cm.report["macs"]


def main(argv=None) -> int:
    models = [Path(m) for m in (argv if argv is not None else sys.argv[1:])] or MODELS
    rows = []
    with tempfile.TemporaryDirectory(prefix="firmnet-requant-") as tmp:
        boards = [("mps2-an386 (M4F)", "mps2-an386"), ("rp2040 code on an385 (M0+, no FPU)", rp2040_on_an385(Path(tmp)))]
        for model in models:
            for label, board in boards:
                tflm, macs = instructions(model, board, "tflm", Path(tmp))
                ort, _ = instructions(model, board, "ort", Path(tmp))
                rows.append([model.stem, label, f"{macs:,}", f"{tflm:,}", f"{ort:,}", f"{ort / tflm:.3f}"])
    header = ["model", "board", "MACs", "tflm instr", "ort instr", "ort/tflm"]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("instructions per inference, --requant tflm vs ort (QEMU -icount + SysTick, arm-none-eabi-gcc -O2)\n")
    for k, row in enumerate([header] + rows):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
