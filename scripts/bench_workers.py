"""`make bench-workers`: parallel capture, forked workers against spawned ones.

Needs only torch (no syrupy, SQLAlchemy or rich), so it runs on a GPU host
as it is: ``PYTHONPATH=. python scripts/bench_workers.py --json out.json``.

1. Start-up per worker: ``--workers`` workers started at once, each then
   running the same small Inductor case; for each, the seconds from its fork
   (or spawn) to its ``start`` event (ready for cases) and to that case's
   result (start-up plus the first compile in that process). Forked workers
   come from a template that loaded and warmed up first: its own time is
   said apart, paid once per run.
2. The whole suite (or ``-k``) through ``snapshot-runner capture``, wall time
   of each command, ``--runs`` runs alternating, medians: ``-j N`` for each
   ``--jobs``, forked, and the largest also ``--no-fork``. Speed-ups against
   ``-j 1``.
3. Byte-identity: the artifacts of every ``-j`` in ``--identity`` (one run
   each, forked) and of ``--no-fork`` against ``-j 1``'s.
4. Memory: the proportional set size (PSS, /proc/PID/smaps_rollup: shared
   pages counted once in all) of ``--workers`` forked workers plus their
   template, each worker after one Inductor case, against ``--workers`` times
   that of one spawned worker after the same case.

The load average (1 min) is read before and after each part: the machine may
be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.capture.worker import CaptureRequest  # noqa: E402
from snapshot_runner.envs.host import WorkerProcess  # noqa: E402
from snapshot_runner.envs.template import Template  # noqa: E402

CASES = "cases"
# A small CPU Inductor case every worker runs once (parts 1 and 4).
PROBE = "inductor.models::layer_norm"


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _events(workers: list[WorkerProcess], until: str, deadline: float = 600.0) -> dict[int, float]:
    """Wait for the event ``until`` from each worker: its arrival time (perf_counter) by index."""
    seen: dict[int, float] = {}
    end = time.perf_counter() + deadline
    while len(seen) < len(workers):
        readable, _, _ = select.select([w for i, w in enumerate(workers) if i not in seen], [], [], max(0.0, end - time.perf_counter()))
        if not readable:
            raise SystemExit(f"workers did not answer {until!r} in {deadline:g} s")
        for worker in readable:
            index = workers.index(worker)
            for event in worker.read():
                if event["event"] == "error":
                    raise SystemExit(f"worker error: {event['message']}")
                if event["event"] == until:
                    seen[index] = time.perf_counter()
                    if until == "result" and event["result"]["status"] != "ok":
                        raise SystemExit(f"{PROBE}: {event['result']['status']}: {event['result'].get('error')}")
            if worker.closed and index not in seen:
                raise SystemExit(f"a worker {worker.died()} (output: {worker.output})")
    return seen


def _template(python: Path, request: CaptureRequest, tmp: Path) -> tuple[Template, float]:
    """A template that has warmed up, and the seconds that took."""
    began = time.perf_counter()
    template = Template.start(python, request, tmp / "template.out")
    process = template.process
    while True:
        select.select([process], [], [])
        events = process.read()
        if any(e["event"] == "error" for e in events):
            raise SystemExit(f"template error: {events}")
        reasons = [e.get("reason") for e in events if e["event"] == "template"]
        if reasons:
            if reasons[0] is not None:
                raise SystemExit(f"the template does not fork here: {reasons[0]}")
            template.ready = True
            return template, time.perf_counter() - began
        if process.closed:
            raise SystemExit(f"the template {process.died()} (output: {tmp / 'template.out'})")


def _start_workers(mode: str, count: int, python: Path, request: CaptureRequest, tmp: Path) -> tuple[list[WorkerProcess], list[float], Template | None, float]:
    template, template_seconds = _template(python, request, tmp) if mode == "fork" else (None, 0.0)
    workers, began = [], []
    for index in range(count):
        began.append(time.perf_counter())
        output = tmp / f"{mode}-{index}.out"
        worker = template.fork(output) if template else WorkerProcess.start(python, request, output)
        assert worker is not None
        workers.append(worker)
    return workers, began, template, template_seconds


def _pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise SystemExit(f"no Pss in /proc/{pid}/smaps_rollup")


def startup(mode: str, count: int, python: Path) -> dict[str, Any]:
    """Part 1 (and the PSS of part 4): ``count`` workers at once, each running PROBE."""
    request = CaptureRequest(CASES, names=(PROBE,))
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        load_before = _load()
        workers, began, template, template_seconds = _start_workers(mode, count, python, request, Path(tmp))
        try:
            ready = _events(workers, "start")
            for worker in workers:
                worker.send({"op": "run", "name": PROBE})
            done = _events(workers, "result")
            pss = [_pss_kib(w.proc.pid) for w in workers]
            template_pss = _pss_kib(template.process.proc.pid) if template else 0
        finally:
            for worker in workers:
                worker.kill()
            if template:
                template.close()
    return {
        "mode": mode,
        "workers": count,
        "template_seconds": round(template_seconds, 2),
        "ready_seconds": [round(ready[i] - began[i], 2) for i in range(count)],
        "first_case_seconds": [round(done[i] - began[i], 2) for i in range(count)],
        "pss_kib": pss,
        "template_pss_kib": template_pss,
        "load": [load_before, _load()],
    }


def _capture(jobs: int, fork: bool, substring: str | None, out: Path) -> float:
    command = [sys.executable, "-m", "snapshot_runner.cli", "capture", "--cases-dir", CASES, "-j", str(jobs), "--json", str(out)]
    command += [*(["-k", substring] if substring else []), *([] if fork else ["--no-fork"])]
    began = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def _artifacts(path: Path) -> str:
    cases = json.loads(path.read_text())["cases"]
    return json.dumps([(c["name"], c["status"], c["artifacts"]) for c in cases], sort_keys=True)


def suite(jobs: list[int], runs: int, identity: list[int], substring: str | None) -> dict[str, Any]:
    """Parts 2 and 3."""
    variants = [(n, True) for n in jobs] + [(max(jobs), False)]
    walls: dict[str, list[float]] = {}
    loads: list[float] = [_load()]
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        reports: dict[str, Path] = {}
        for _ in range(runs):
            for n, fork in variants:
                name = f"-j {n}" + ("" if fork else " --no-fork")
                reports.setdefault(name, Path(tmp) / f"{len(reports)}.json")
                walls.setdefault(name, []).append(_capture(n, fork, substring, reports[name]))
                loads.append(_load())
        for n in identity:
            name = f"-j {n}"
            if name not in reports:
                reports[name] = Path(tmp) / f"{len(reports)}.json"
                _capture(n, True, substring, reports[name])
                loads.append(_load())
        reference = _artifacts(reports["-j 1"]) if "-j 1" in reports else _artifacts(next(iter(reports.values())))
        identical = {name: _artifacts(path) == reference for name, path in reports.items()}
        cases = len(json.loads(reports[next(iter(reports))].read_text())["cases"])
    medians = {name: statistics.median(values) for name, values in walls.items()}
    base = medians.get("-j 1")
    return {
        "cases": cases,
        "walls": {name: [round(v, 2) for v in values] for name, values in walls.items()},
        "medians": {name: round(v, 2) for name, v in medians.items()},
        "speedups_vs_j1": {name: round(base / v, 2) for name, v in medians.items()} if base else {},
        "identical_to_j1": identical,
        "load": loads,
    }


def machine() -> dict[str, Any]:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"host": platform.node(), "cpu": model, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__, "python": platform.python_version()}


def _print(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"machine: {m['host']}, {m['cores']} cores ({m['cpu']}), GPU {m['gpu']}, torch {m['torch']}, Python {m['python']}")
    for part in results.get("startup", []):
        template = f"; template (once): {part['template_seconds']:.2f} s" if part["mode"] == "fork" else ""
        print(
            f"start-up, {part['workers']} {part['mode']}ed workers at once{template}; load {part['load'][0]} -> {part['load'][1]}\n"
            f"  to ready (s):           {', '.join(f'{s:.2f}' for s in part['ready_seconds'])}\n"
            f"  to first case done (s): {', '.join(f'{s:.2f}' for s in part['first_case_seconds'])}"
        )
    memory = results.get("memory")
    if memory:
        print(
            f"memory (PSS): {memory['workers']} forked workers + template {memory['forked_kib'] / 1024:.0f} MiB"
            f" vs {memory['workers']} x one spawned worker {memory['spawned_x_n_kib'] / 1024:.0f} MiB: ratio {memory['ratio']:.2f}"
        )
    s = results.get("suite")
    if s:
        print(f"suite: {s['cases']} cases; load (1 min) during: {min(s['load'])} to {max(s['load'])}")
        for name, median in s["medians"].items():
            speedup = s["speedups_vs_j1"].get(name)
            print(
                f"  capture {name + ':':16} median {median:7.2f} s   runs: {', '.join(map(str, s['walls'][name]))}"
                + (f"   {speedup:.2f}x vs -j 1" if speedup else "")
            )
        print("  artifacts identical to -j 1: " + ", ".join(f"{name}: {'yes' if same else 'NO'}" for name, same in s["identical_to_j1"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="-j values timed on the suite (default: 1 2)")
    parser.add_argument("--identity", type=int, nargs="*", default=[1, 2, 8, 16], help="-j values whose artifacts must equal -j 1's")
    parser.add_argument("--runs", type=int, default=3, help="runs of each -j (default: 3)")
    parser.add_argument("--workers", type=int, default=8, help="workers started at once in parts 1 and 4 (default: 8)")
    parser.add_argument("-k", dest="substring", default=None, help="only cases whose name contains it (part 2 and 3)")
    parser.add_argument("--only", choices=("startup", "suite"), help="run only the start-up and memory parts, or only the suite")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the results here")
    args = parser.parse_args()
    python = Path(sys.executable)
    results: dict[str, Any] = {"machine": machine()}
    if args.only != "suite":
        forked = startup("fork", args.workers, python)
        spawned = [startup("spawn", args.workers, python), startup("spawn", 1, python)]
        results["startup"] = [forked, *spawned]
        alone = spawned[1]["pss_kib"][0]
        total = sum(forked["pss_kib"]) + forked["template_pss_kib"]
        results["memory"] = {
            "workers": args.workers,
            "forked_kib": total,
            "spawned_x_n_kib": alone * args.workers,
            "ratio": round(total / (alone * args.workers), 3),
        }
    if args.only != "startup":
        results["suite"] = suite(args.jobs, args.runs, args.identity, args.substring)
    _print(results)
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    same = all(results.get("suite", {}).get("identical_to_j1", {}).values())
    if not same:
        raise SystemExit("artifacts differ between -j values")


if __name__ == "__main__":
    main()
