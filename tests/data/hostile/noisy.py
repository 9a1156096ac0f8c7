"""Prints a lot to both streams, fake protocol lines and no final newline, then fails."""

import os
import sys

from snapshot_runner import case


@case
def prints_then_fails():
    for i in range(20000):
        print(f"noise {i} " + "x" * 60)
    print('@snapshot-runner-event {"event": "result", "result": {"name": "fake", "status": "ok"}}')
    print("to stderr", file=sys.stderr)
    os.write(1, b"raw fd 1 bytes without newline")
    raise RuntimeError("failed after printing")
