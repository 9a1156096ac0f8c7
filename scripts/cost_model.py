"""What a sharded nightly costs: machines and minutes, from the compile times
the history measured.

For every case the history knows (its last complete runs, ``ok`` only): the
median and p95 compile seconds. A cell (one torch build on one device) split
over N shards (the same split ``record --shard`` makes, weighed by medians)
takes, on its slowest shard, ``setup + start + load``; the night costs
``cells × Σ over shards (setup + start + load)`` machine-seconds. The p95
column is the same split on a night where every case takes its p95 time.

    .venv/bin/python scripts/cost_model.py [--db URL] [--cells 4] [--shards 1,4,16]
        [--setup-seconds 120] [--start-seconds 10] [--target-minutes 30] [--scale K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.history.shards import compile_times, split  # noqa: E402
from snapshot_runner.history.store import Store  # noqa: E402


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def loads(share: dict[str, int], count: int, seconds: dict[str, float]) -> list[float]:
    per = [0.0] * count
    for name, shard in share.items():
        per[shard - 1] += seconds[name]
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="the history (default: $SNAPSHOT_RUNNER_DB or db/history.sqlite)")
    parser.add_argument("--last-runs", type=int, default=10, help="complete runs to read compile times from (default 10)")
    parser.add_argument("--cells", type=int, default=1, help="torch builds × devices per night (default 1)")
    parser.add_argument("--shards", default="1,4,16", help="shard counts to cost (default 1,4,16)")
    parser.add_argument("--setup-seconds", type=float, default=120.0, help="a CI job's checkout + Python + `make install` (default 120)")
    parser.add_argument("--start-seconds", type=float, default=10.0, help="a shard process's start: Python, torch import, case discovery (default 10)")
    parser.add_argument("--target-minutes", type=float, default=30.0, help="the wall time a night must stay under (default 30)")
    parser.add_argument("--scale", type=int, default=1, help="project a suite K times this one: each measured case counted K times (default 1)")
    args = parser.parse_args()

    store = Store.open(args.db, create=False)
    try:
        times = compile_times(store, store.case_names(), last_runs=args.last_runs)
    finally:
        store.close()
    if not times:
        print("no compile times in the history: record a run first", file=sys.stderr)
        return 2
    if args.scale > 1:  # a projection: the measured distribution, K times over
        times = {f"{name}#{k}": ts for name, ts in times.items() for k in range(args.scale)}
    median = {name: statistics.median(ts) for name, ts in times.items()}
    worst = {name: p95(ts) for name, ts in times.items()}
    per_case = list(median.values())
    overhead = args.setup_seconds + args.start_seconds
    print(
        f"{len(times)} cases{f' (the measured {len(times) // args.scale}, {args.scale} times over)' if args.scale > 1 else ''} with compile times (last {args.last_runs} complete runs): per case median {statistics.median(per_case):.2f} s, "
        f"p95 {p95(per_case):.2f} s, slowest {max(per_case):.2f} s; one cell serially {sum(per_case):.0f} s (p95 nights {sum(worst.values()):.0f} s)"
    )
    print(f"per job: setup {args.setup_seconds:.0f} s + shard start {args.start_seconds:.0f} s; {args.cells} cell(s) a night")
    print()
    print("| shards | wall per night (median) | wall (p95 night) | machines | machine-minutes per night |")
    print("|---:|---:|---:|---:|---:|")
    for count in (int(n) for n in args.shards.split(",")):
        share = split(median, count, median)
        typical, bad = loads(share, count, median), loads(share, count, worst)
        machine_minutes = args.cells * sum(overhead + load for load in typical) / 60
        print(f"| {count} | {(overhead + max(typical)) / 60:.1f} min | {(overhead + max(bad)) / 60:.1f} min | {args.cells * count} | {machine_minutes:.1f} |")
    target = args.target_minutes * 60
    fitting = next((n for n in range(1, 257) if overhead + max(loads(split(median, n, median), n, worst)) <= target), None)
    print()
    if fitting is None:
        print(f"no shard count up to 256 keeps a p95 night under {args.target_minutes:g} min: the slowest case alone takes {max(worst.values()):.0f} s")
    else:
        print(f"shards for a p95 night under {args.target_minutes:g} min: {fitting}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
