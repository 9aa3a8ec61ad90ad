#!/usr/bin/env python3
"""The hostile-input corpus: N broken or mutated model files through `firmnet compile` and
`firmnet verify`, and the table of outcomes (tests/support/hostile_models.py makes the files).

    python bench/fuzz.py --cases 540 [--seed 0] [--keep DIR] [--show]

Every case must end as a clean error (exit 2, one message) or a model that compiles and
verifies; the other outcomes are defects. --keep writes the defective files to DIR, --show
prints their messages.
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.hostile_models import OUTCOMES, corpus, outcome  # noqa: E402

GOOD = ("clean error", "compiles and verifies")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=540)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="write defective cases here")
    ap.add_argument("--show", action="store_true", help="print each defect's message")
    args = ap.parse_args()
    totals, by_kind, defects = collections.Counter(), collections.defaultdict(collections.Counter), []
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for case in corpus(args.cases, args.seed):
            result, message = outcome(case, Path(tmp))
            totals[result] += 1
            by_kind[case.kind][result] += 1
            if result not in GOOD:
                defects.append((case, result, message))
    print(f"{args.cases} cases (seed {args.seed}) in {time.time() - start:.0f} s\n")
    print("| outcome | files |\n|---|---|")
    for o in OUTCOMES:
        print(f"| {o} | {totals[o]} |")
    print("\n| kind | " + " | ".join(OUTCOMES) + " |\n|---|" + "---|" * len(OUTCOMES))
    for kind in sorted(by_kind):
        print(f"| {kind} | " + " | ".join(str(by_kind[kind][o]) for o in OUTCOMES) + " |")
    for case, result, message in defects:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / f"{case.name}{case.suffix}").write_bytes(case.data)
        if args.show:
            last = message.strip().splitlines()[-1:] or [""]
            print(f"{result}: {case.kind} {case.name}: {last[0][:300]}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
