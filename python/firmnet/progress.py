"""Progress lines for the command line: a step still running after DELAY seconds says so on
stderr ("firmnet: compiling kws.onnx ..."), and when it ends, how long it took.

Only when stderr is a terminal: a person waiting sees what firmnet is doing; logs, pipes and
test captures stay as they were (the same command gives the same output there). Steps shorter
than DELAY print nothing, so small models stay quiet.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

DELAY = 2.0


@contextmanager
def step(what: str, stream=None, delay: float = DELAY, force: bool = False):
    """Run the with-block; if it takes longer than delay, print what it is doing, then its time.
    force: print even when the stream is not a terminal (tests)."""
    stream = stream or sys.stderr
    if not (force or (hasattr(stream, "isatty") and stream.isatty())):
        yield
        return
    start = time.monotonic()
    said = threading.Event()
    done = threading.Event()

    def announce():
        if not done.wait(delay):
            said.set()
            print(f"firmnet: {what} ...", file=stream, flush=True)

    timer = threading.Thread(target=announce, daemon=True)
    timer.start()
    try:
        yield
    finally:
        done.set()
        timer.join()
        if said.is_set():
            print(f"firmnet: {what}: {time.monotonic() - start:.1f} s", file=stream, flush=True)
