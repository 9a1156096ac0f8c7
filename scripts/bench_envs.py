"""`make bench-envs`: what a warm (cached) --torch environment adds to a capture.

The env holds the same torch as .venv (2.13.0 by default), so the difference is
the worker and the env alone: a second interpreter, its torch import, the JSON
round trip, the cache lookup and lock. Each run is the command line in a fresh
process (what a user waits for); medians of several runs, the sides alternate:

1. `capture -k SUB` (in process),
2. `capture -k SUB --python .venv/bin/python` (worker, same interpreter),
3. `capture -k SUB --torch SPEC` (worker in the cached env).

The target is under 2 s added (3 minus 1); the exit status is 1 when it is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.envs.cache import EnvCache  # noqa: E402
from snapshot_runner.envs.supervisor import CaptureRequest, run_capture  # noqa: E402
from snapshot_runner.envs.torch_spec import TorchSpec  # noqa: E402

TARGET_SECONDS = 2.0


def _cli_seconds(*args: str) -> float:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "snapshot_runner.cli", "capture", *args]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="2.13.0", help="the cached env's torch (default: 2.13.0, as .venv)")
    parser.add_argument("-k", dest="substring", default="twotensor_view", help="cases to capture (default: twotensor_view)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    spec = TorchSpec.parse(args.torch)

    print(f"warming the {spec.requirement} environment (made once if missing) ...", file=sys.stderr)
    with EnvCache().use(spec, log=sys.stderr) as python:
        count = len(run_capture(python, CaptureRequest(str(REPO / "cases"), substring=args.substring)).cases)
    warm = f"--torch {args.torch} (warm env)"
    sides = {"in process": [], "--python .venv/bin/python": ["--python", sys.executable], warm: ["--torch", args.torch]}
    times: dict[str, list[float]] = {label: [] for label in sides}
    for _ in range(args.runs):
        for label, extra in sides.items():
            times[label].append(_cli_seconds("-k", args.substring, *extra))
    medians = {label: statistics.median(values) for label, values in times.items()}

    print(f"capture -k {args.substring} ({count} cases), command line, median of {args.runs} runs")
    base = medians["in process"]
    for label, median in medians.items():
        print(f"  {label:32} {median:6.2f} s  {median - base:+6.2f} s")
    added = medians[warm] - base
    verdict = "within" if added < TARGET_SECONDS else "OVER"
    print(f"a warm env adds {added:.2f} s to a capture: {verdict} the {TARGET_SECONDS:.0f} s target")
    return 0 if added < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
