"""`make bench`: capture speed as medians of several runs.

1. Capture: the tool against a bare loop, each run in a fresh interpreter
   (``scripts/bench.py --side tool|bare``), the two sides alternating.

   Both sides, before their clock starts (``_prelude``): one throwaway
   Inductor compile, which imports Dynamo, AOTAutograd and Inductor and
   probes the C++ compiler and vector ISA (seconds that either side pays once
   per process, whatever it does per case), and discovery of the cases. The
   clock then covers the loop over all cases in that one warm process.

   * tool: ``capture_cases`` on every case: skip check, reset of the compiler
     state and counters, a fresh copy of the case module, the case config,
     compile with the recording backend (Dynamo graph, AOT graphs; for
     Inductor also its post-grad graphs, kernel provenance tracking and the
     kernel summary, the generated code where asked), a second build of the
     case run eagerly (with backward) and compared with the compiled outputs
     and grads, guard trees, compile summary, canonical normalization.
   * bare: what a user would write by hand to get the graphs, and no more.
     Per case: the tool's skip rule (``capture.skip_reason``), ``torch._dynamo
     .reset()``, the same config (``capture.case_config``: the case's
     ``config``, and for Inductor the same no-cache / pinned-threads and ISA
     settings, without the tool's kernel provenance tracking), the same RNG
     seeding (``torch.manual_seed(0)`` before the factory and before each
     call), ``torch.compile`` with the case's ``dynamic``/``fullgraph`` and a
     backend of the case's kind that keeps the text of each graph
     (``print_readable``): ``eager``: the Dynamo graph; ``aot_eager``: the
     Dynamo graph, then AOTAutograd with the same partitioner and options
     keeping the forward and backward graphs; ``inductor``: the Dynamo graph,
     then Inductor's ``compile_fx`` whose inner compile keeps the post-grad
     graph (``gm`` after ``compile_fx_inner``, which rewrites it in place) and
     the generated code (``source_code`` of its result). Each call's outputs are backpropagated as
     the tool does (``capture.run_backward``). No eager run, no comparison, no
     guards, no summary, no normalization, no fresh module copy.

   The bench stops if the tool reports an error or mismatch, or if the two
   sides ran different numbers of cases.

2. ``make snapshot`` (the golden test) under ``pytest -n 2`` against serial,
   wall time of the whole command.

3. Supervision: ``snapshot-runner capture`` (cases in supervised worker
   processes) with ``-j 1`` and ``-j N`` against an in-process capture
   (``scripts/bench.py --in-process``: discovery, ``capture_cases``, the JSON
   report, in one interpreter: what ``capture`` did before it supervised),
   wall time of each whole command, fresh interpreters, alternating.
   ``--only supervision --jobs 1 2 8`` runs just this part with those ``-j``;
   ``-k`` narrows the cases.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CASES = "cases"
RUNS = 3


def _prelude() -> list[Any]:
    """Warm the process up the same way for both sides, off the clock."""
    import torch

    from snapshot_runner.capture.discovery import discover
    from snapshot_runner.capture.inductor import compile_config
    from snapshot_runner.capture.recorder import config_patches

    # One throwaway Inductor compile (caches off, so it writes nothing) imports
    # the compiler stacks and probes the C++ compiler and vector ISA.
    with config_patches(compile_config()):
        torch.compile(lambda x: x.sin() + 1, backend="inductor")(torch.ones(8))
    torch._dynamo.reset()
    return discover(CASES).cases


def tool_side(cases: list[Any]) -> int:
    from snapshot_runner.capture.normalize import Context
    from snapshot_runner.capture.recorder import capture_cases
    from snapshot_runner.capture.results import CaseStatus

    results = capture_cases(cases, ctx=Context.current(CASES))
    failed = [r.name for r in results if r.status.failed]
    if failed:
        raise SystemExit(f"cases failed: {', '.join(failed)}")
    return sum(r.status != CaseStatus.SKIPPED for r in results)


def bare_side(cases: list[Any]) -> int:
    import torch
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch._aot_autograd.utils import make_boxed_compiler
    from torch._functorch.compilers import min_cut_rematerialization_partition
    from torch._inductor.compile_fx import compile_fx, compile_fx_inner

    from snapshot_runner.capture.recorder import case_config, config_patches, run_backward, skip_reason

    texts: list[str] = []

    def keep(gm: torch.fx.GraphModule, _inputs: Any) -> Any:
        texts.append(gm.print_readable(print_output=False))
        return gm

    aot = aot_autograd(
        fw_compiler=make_boxed_compiler(keep),
        bw_compiler=make_boxed_compiler(keep),
        partition_fn=min_cut_rematerialization_partition,
        keep_inference_input_mutations=True,
    )

    def inductor_inner(gm: torch.fx.GraphModule, inputs: Any, **kwargs: Any) -> Any:
        compiled = compile_fx_inner(gm, inputs, **kwargs)
        # Post-grad passes rewrote gm in place: the graph Inductor lowered.
        texts.append(gm.print_readable(print_output=False))
        texts.append(compiled.source_code)
        return compiled

    def recorder(kind: str) -> Any:
        def backend(gm: torch.fx.GraphModule, inputs: Any) -> Any:
            texts.append(gm.print_readable(print_output=False))
            if kind == "eager":
                return gm.forward
            if kind == "inductor":
                return compile_fx(gm, inputs, inner_compile=inductor_inner)
            return aot(gm, inputs)

        return backend

    ran = 0
    for case in cases:
        if skip_reason(case):
            continue
        opts = case.options
        torch._dynamo.reset()
        with config_patches(case_config(case, kernel_provenance=False)):
            torch.manual_seed(0)
            fn, args = case()
            backend = recorder(opts.backend)
            compiled = torch.compile(fn, backend=backend, dynamic=opts.dynamic, fullgraph=opts.fullgraph)
            for call in args if isinstance(args, list) else [args]:
                torch.manual_seed(0)
                out = compiled(*call)
                if opts.backward:
                    run_backward(out, opts.backward if callable(opts.backward) else None)
        ran += 1
    return ran


SIDES = {"tool": tool_side, "bare": bare_side}


def _run_side(name: str) -> None:
    cases = _prelude()
    start = time.perf_counter()
    ran = SIDES[name](cases)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "cases": len(cases), "ran": ran}))


def _side(name: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--side", name], cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bench side {name!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def in_process(substring: str | None) -> None:
    """Capture every case in this process and write the report (to nowhere)."""
    from snapshot_runner.capture import environment
    from snapshot_runner.capture.discovery import discover, select
    from snapshot_runner.capture.normalize import Context
    from snapshot_runner.capture.recorder import capture_cases
    from snapshot_runner.capture.results import CaptureReport

    found = discover(CASES)
    results = capture_cases(select(found.cases, (), substring), ctx=Context.current(CASES))
    report = CaptureReport(environment.describe(), results, load_errors=[e.one_line() for e in found.errors])
    Path("/dev/null").write_text(report.dumps(), encoding="utf-8")
    if any(r.status.failed for r in results) or found.errors:
        raise SystemExit("cases failed")


def supervision(jobs: list[int], substring: str | None) -> None:
    selection = ["-k", substring] if substring else []
    here = [sys.executable, __file__, "--in-process", *selection]
    cli = [sys.executable, "-m", "snapshot_runner.cli", "capture", "--cases-dir", CASES, "--json", "/dev/null", *selection]
    walls: dict[str, list[float]] = {"in-process": [], **{f"-j {n}": [] for n in jobs}}
    for _ in range(RUNS):
        walls["in-process"].append(_wall(here))
        for n in jobs:
            walls[f"-j {n}"].append(_wall([*cli, "-j", str(n)]))
    medians = {name: statistics.median(values) for name, values in walls.items()}
    for name, values in walls.items():
        print(f"capture {name + ' (median):':21} {medians[name]:7.2f} s   runs: {_runs(values)}")
    if "-j 1" in medians:
        print(f"supervision cost -j 1 / in-process: {medians['-j 1'] / medians['in-process']:7.3f}   (target <= 1.05)")
    for n in jobs:
        if n != 1 and "-j 1" in medians:
            print(f"speed-up -j {n} vs -j 1:              {medians['-j 1'] / medians[f'-j {n}']:7.2f}x")


def _runs(values: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


def main() -> None:
    tool, bare = [], []
    for _ in range(RUNS):
        tool.append(_side("tool"))
        bare.append(_side("bare"))
    if {(r["cases"], r["ran"]) for r in tool + bare} != {(tool[0]["cases"], tool[0]["ran"])}:
        raise SystemExit(f"the two sides ran different cases: {tool + bare}")
    serial, parallel = [], []
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_goldens.py"]
    for _ in range(2):
        serial.append(_wall(pytest))
        parallel.append(_wall([*pytest, "-n", "2"]))
    t = statistics.median(r["seconds"] for r in tool)
    b = statistics.median(r["seconds"] for r in bare)
    s, p = statistics.median(serial), statistics.median(parallel)
    skipped = tool[0]["cases"] - tool[0]["ran"]
    print(f"cases: {tool[0]['cases']} ({skipped} skipped here)   runs: {RUNS} (capture), 2 (snapshot)")
    print(f"capture, tool (median):       {t:7.2f} s   runs: {_runs([r['seconds'] for r in tool])}")
    print(f"capture, bare loop (median):  {b:7.2f} s   runs: {_runs([r['seconds'] for r in bare])}")
    print(f"ratio tool / bare:            {t / b:7.3f}   (target <= 1.10)")
    print(f"make snapshot, serial:        {s:7.2f} s   runs: {_runs(serial)}")
    print(f"make snapshot, -n 2:          {p:7.2f} s   runs: {_runs(parallel)}")
    print(f"speed-up -n 2 vs serial:      {s / p:7.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=sorted(SIDES), help="run one side once and print its JSON")
    parser.add_argument("--in-process", action="store_true", help="capture the cases in this process once (part 3's baseline)")
    parser.add_argument("--only", choices=("supervision",), help="run only this part")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="part 3: the -j values to time (default: 1 2)")
    parser.add_argument("-k", dest="substring", default=None, help="part 3: only cases whose name contains it")
    args = parser.parse_args()
    if args.side:
        _run_side(args.side)
    elif args.in_process:
        in_process(args.substring)
    else:
        if not args.only:
            main()
        supervision(args.jobs, args.substring)
