"""`make bench-bounds`: big artifacts against the bounds of issue 19, medians of ``--repeat`` runs.

1. Drift report of a changed artifact of ``--drift-mb`` MB, generated code
   and a graph (every line differs, the worst case for a diff): ``drift --format html|json|junit`` as a fresh
   command each time, its wall time and its peak RSS (``os.wait4`` of the
   child). Target: html under 60 s and 1 GB for 10 MB.
2. Reading a worker's output: a child writes one ``--read-mb`` MB result event
   to a pipe; the host's ``WorkerProcess.read`` reads it against a bare loop
   that only reads the pipe (``os.read``, 64 KiB, thrown away). Target: within 2×.
3. ``capture`` of a case whose guards artifact is ``--read-mb`` MB against the
   same case with a tiny one, whole commands: what the big artifact adds end
   to end (the worker's Dynamo and normalization passes included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.capture.results import CaptureReport, CaseResult, CaseStatus  # noqa: E402
from snapshot_runner.envs.host import WorkerProcess  # noqa: E402

ENV = {"torch_version": "2.13.0+cpu", "python": "3.11", "platform": "linux", "device": "cpu"}
MB = 1_000_000
CASE = """\
import os
import torch
from snapshot_runner import case

BIG = "x" * int(os.environ["BENCH_GUARD_BYTES"])


@case(backend="eager", backward=False)
def guarded():
    def fn(x):
        if BIG == "y":  # Dynamo guards on BIG's value: a guards artifact as big as BIG
            return x - 1
        return x + 1

    return fn, (torch.ones(2),)
"""
# One result event of N bytes, written to fd 1 in 1 MB pieces as the worker's json.dump does.
WRITER = """\
import json, os, sys
text = json.dumps({"event": "result", "result": {"name": "m::c", "artifacts": {"guards": "x" * int(sys.argv[1])}}}) + "\\n"
data = text.encode()
for at in range(0, len(data), 1 << 20):
    os.write(1, data[at : at + (1 << 20)])
"""


def child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{' '.join(argv[:6])} ... failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "snapshot_runner.cli", *args]


def median(runs: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    found = [measure() for _ in range(runs)]
    return statistics.median(s for s, _ in found), max(m for _, m in found)


def _artifact(key: str, side: str, lines: int) -> str:
    """About 50 bytes a line, every line different between the sides."""
    if key == "dynamo_graph":
        body = "".join(f'        add_{i}: "f32[2]" = torch.ops.aten.add.Tensor(add_{i - 1}, {i if side == "old" else -i})\n' for i in range(1, lines))
        return f'class GraphModule(torch.nn.Module):\n    def forward(self, add_0: "f32[2]"):\n{body}        return (add_{lines - 1},)\n'
    return "".join(f"    buf{i} = kernel_{i:07d}({side}, {i % 7}, stride={i % 13})\n" for i in range(lines))


def drift(work: Path, megabytes: float, runs: int, key: str) -> None:
    db = f"sqlite:///{work / f'{key}.sqlite'}"
    lines = int(megabytes * MB / 50)
    for side in ("old", "new"):
        text = _artifact(key, side, lines)
        report = CaptureReport(environment=ENV, cases=[CaseResult("ops::big", CaseStatus.OK, {key: text}, None, 0.1)])
        path = work / f"{side}.json"
        path.write_text(report.dumps(), encoding="utf-8")
        child(cli("record", "--db", db, "--from-json", str(path)))
    size = len(text.encode()) / MB
    print(f"1. drift of one changed {key} artifact of {size:.1f} MB ({lines} lines, all changed), {runs} runs each:")
    for fmt in ("html", "json", "junit"):
        out = work / f"drift.{fmt}"
        seconds, rss = median(runs, lambda fmt=fmt, out=out: child(cli("drift", "--db", db, "--from", "1", "--to", "2", "--format", fmt, "--out", str(out))))
        verdict = f" (target < 60 s, < 1000 MB: {'met' if seconds < 60 and rss < 1000 else 'NOT met'})" if fmt == "html" else ""
        print(f"   --format {fmt:5}: median {seconds:6.1f} s, peak RSS {rss:6.0f} MB, report {out.stat().st_size / 1024:7.0f} KiB{verdict}")


def _read_bare(fd: int) -> None:
    while os.read(fd, 1 << 16):
        pass


def _read_host(fd: int) -> None:
    commands_read, commands_write = os.pipe()
    os.close(commands_read)
    placeholder = subprocess.Popen(["true"])  # the worker's process: here the writer stands in for it
    worker = WorkerProcess(Path(sys.executable), placeholder, commands_write, fd, Path(os.devnull))
    events = []
    while not worker.closed:
        events += worker.read()
    placeholder.wait()
    assert len(events) == 1 and len(events[0]["result"]["artifacts"]["guards"]) > 0


def _timed_read(nbytes: int, reader: Callable[[int], None]) -> float:
    read_end, write_end = os.pipe()
    start = time.monotonic()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(nbytes)], stdout=write_end)
    os.close(write_end)
    reader(read_end)
    writer.wait()
    seconds = time.monotonic() - start
    os.close(read_end)
    return seconds


def read(megabytes: float, runs: int) -> None:
    nbytes = int(megabytes * MB)
    bare = statistics.median(_timed_read(nbytes, _read_bare) for _ in range(runs))
    host = statistics.median(_timed_read(nbytes, _read_host) for _ in range(runs))
    ratio = host / bare
    print(f"2. a {megabytes:.0f} MB result event through a pipe (writer and reader together), {runs} runs each:")
    print(f"   bare read loop {bare:.2f} s, WorkerProcess.read {host:.2f} s: {ratio:.2f}× (target ≤ 2×: {'met' if ratio <= 2 else 'NOT met'})")


def capture(work: Path, megabytes: float, runs: int) -> None:
    cases = work / "cases"
    cases.mkdir()
    (cases / "big.py").write_text(CASE, encoding="utf-8")
    argv = cli("capture", "--cases-dir", str(cases), "--json", str(work / "capture.json"))
    tiny, tiny_rss = median(runs, lambda: child(argv, {"BENCH_GUARD_BYTES": "1"}))
    big, big_rss = median(runs, lambda: child(argv, {"BENCH_GUARD_BYTES": str(int(megabytes * MB))}))
    print(f"3. capture, whole command, {runs} runs each:")
    print(f"   tiny guards artifact {tiny:.1f} s ({tiny_rss:.0f} MB); {megabytes:.0f} MB guards artifact {big:.1f} s ({big_rss:.0f} MB): +{big - tiny:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drift-mb", type=float, default=10)
    parser.add_argument("--read-mb", type=float, default=100)
    parser.add_argument("--only", choices=("drift", "read", "capture"), default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bounds-") as tmp:
        work = Path(tmp)
        if args.only in (None, "drift"):
            for key in ("inductor_code", "dynamo_graph"):
                drift(work, args.drift_mb, args.repeat, key)
        if args.only in (None, "read"):
            read(args.read_mb, args.repeat)
        if args.only in (None, "capture"):
            capture(work, args.read_mb, args.repeat)


if __name__ == "__main__":
    main()
