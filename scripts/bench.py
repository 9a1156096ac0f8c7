"""`make bench`: capture speed as medians of several runs.

1. The tool's capture of every case (one warm process, resets between cases)
   against a bare loop that compiles the same cases with a recording backend
   and no tool around it (no eager check, no guards, no normalization).
2. `make snapshot` under `pytest -n 2` against serial.

Each measurement runs in a fresh interpreter; runs of the two sides alternate.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 3

TOOL = """
import json, time
from snapshot_runner.discovery import discover
from snapshot_runner.capture import capture_cases
from snapshot_runner.normalize import Context
found = discover("cases")
start = time.perf_counter()
results = capture_cases(found.cases, ctx=Context.current("cases"))
print(json.dumps({"seconds": time.perf_counter() - start, "cases": len(results)}))
"""

BARE = """
import json, time, torch
import torch.utils._pytree as pytree
from torch._dynamo.backends.common import aot_autograd
from torch._functorch._aot_autograd.utils import make_boxed_compiler
from torch._functorch.compilers import min_cut_rematerialization_partition
from snapshot_runner.discovery import discover
found = discover("cases")
texts = []
def keep(gm, _):
    texts.append(gm.print_readable(print_output=False))
    return gm
aot = aot_autograd(fw_compiler=make_boxed_compiler(keep), bw_compiler=make_boxed_compiler(keep),
                   partition_fn=min_cut_rematerialization_partition, keep_inference_input_mutations=True)
def record(gm, inputs):
    texts.append(gm.print_readable(print_output=False))
    return aot(gm, inputs)
def record_eager(gm, inputs):
    texts.append(gm.print_readable(print_output=False))
    return gm.forward
start = time.perf_counter()
for case in found.cases:
    torch._dynamo.reset()
    torch.manual_seed(0)
    fn, args = case()
    calls = args if isinstance(args, list) else [args]
    backend = record_eager if case.options.backend == "eager" else record
    compiled = torch.compile(fn, backend=backend, dynamic=case.options.dynamic, fullgraph=case.options.fullgraph)
    for call in calls:
        out = compiled(*call)
        if case.options.backward:
            for t in pytree.tree_leaves(out):
                if isinstance(t, torch.Tensor) and t.requires_grad:
                    (t.values() if t.is_nested else t).sum().backward(retain_graph=True)
print(json.dumps({"seconds": time.perf_counter() - start, "cases": len(found.cases)}))
"""


def _python(code: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    tool, bare = [], []
    for _ in range(RUNS):
        tool.append(_python(TOOL)["seconds"])
        bare.append(_python(BARE)["seconds"])
    cases = _python("from snapshot_runner.discovery import discover; import json; print(json.dumps({'seconds': 0, 'cases': len(discover('cases').cases)}))")["cases"]
    serial, parallel = [], []
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_goldens.py"]
    for _ in range(2):
        serial.append(_wall(pytest))
        parallel.append(_wall([*pytest, "-n", "2"]))
    t, b = statistics.median(tool), statistics.median(bare)
    s, p = statistics.median(serial), statistics.median(parallel)
    print(f"cases: {int(cases)}   runs: {RUNS} (capture), 2 (snapshot)")
    print(f"capture, tool (median):       {t:7.2f} s   runs: {', '.join(f'{x:.2f}' for x in tool)}")
    print(f"capture, bare loop (median):  {b:7.2f} s   runs: {', '.join(f'{x:.2f}' for x in bare)}")
    print(f"ratio tool / bare:            {t / b:7.3f}   (target <= 1.10)")
    print(f"make snapshot, serial:        {s:7.2f} s   runs: {', '.join(f'{x:.2f}' for x in serial)}")
    print(f"make snapshot, -n 2:          {p:7.2f} s   runs: {', '.join(f'{x:.2f}' for x in parallel)}")
    print(f"speed-up -n 2 vs serial:      {s / p:7.2f}x")


if __name__ == "__main__":
    main()
