"""`make bench-serve`: the history service at a year's scale.

Loads the bench-db history (``scripts/bench_db.py``'s generator: default 365
runs × 200 cases × 6 artifacts, ~2% of artifacts changing per run), starts
the real ``snapshot-runner serve`` on a free loopback port, and requests every
page type over real HTTP: each request a different page (another page of
runs, of the grid, another case, another pair of nightlies), so caches are
cold where a reader's would be. Reports the median and p95 time per page type
(the client's round trip on loopback: the server's time plus a fraction of a
millisecond) against the target.

    .venv/bin/python scripts/bench_serve.py [--db URL] [--runs 365] [--cases 200] [--requests 30]

With ``--db`` an empty PostgreSQL (or SQLite) database is filled first; one
that already holds the history is used as it is (``--reuse``).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_db import generate  # noqa: E402

from snapshot_runner.history.store import Store  # noqa: E402
from snapshot_runner.redact import redact_url  # noqa: E402

TARGET_P95_S = 0.300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(db: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snapshot_runner.cli", "serve", "--db", db, "--port", str(port)], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit("serve did not listen within 60 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def timed_get(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: HTTP {response.status}")
    return time.perf_counter() - began


def page_types(run_ids: list[int], cases: list[str], rng: random.Random) -> dict[str, Callable[[], str]]:
    """Page type → a function giving the next URL path of that type."""
    pages_of_runs = max(1, len(run_ids) // 50)
    pages_of_grid = max(1, len(cases) // 25)

    def pair() -> str:
        i = rng.randrange(1, len(run_ids))
        return f"from={run_ids[i - 1]}&to={run_ids[i]}"

    return {
        "runs": lambda: f"/?page={rng.randrange(1, pages_of_runs + 1)}",
        "runs (filtered)": lambda: f"/?label=nightly-2026-{rng.randrange(1, 13):02d}",
        "runs rows (live poll)": lambda: "/runs/rows",
        "api/runs": lambda: f"/api/runs?page={rng.randrange(1, pages_of_runs + 1)}",
        "grid": lambda: f"/grid?page={rng.randrange(1, pages_of_grid + 1)}",
        "api/grid": lambda: f"/api/grid?page={rng.randrange(1, pages_of_grid + 1)}",
        "case": lambda: "/case/" + quote(rng.choice(cases)),
        "api/case": lambda: "/api/case/" + quote(rng.choice(cases)),
        "compare": lambda: "/compare?" + pair(),
        "compare (fail-on)": lambda: "/compare?fail_on=signature&" + pair(),
        "api/compare": lambda: "/api/compare?" + pair(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--change", type=float, default=0.02, help="chance that an artifact changes from one run to the next")
    parser.add_argument("--requests", type=int, default=30, help="requests per page type")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="--db already holds the history: do not fill it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'history.sqlite'}"
        store = Store.open(db)
        try:
            if not args.reuse:
                print(f"filling {redact_url(db)}: {args.runs} runs × {args.cases} cases × 6 artifacts ...", file=sys.stderr)
                run_ids, _, seconds = generate(store, args.runs, args.cases, args.change, args.seed)
                print(f"  filled in {seconds:.0f} s", file=sys.stderr)
            else:
                run_ids = sorted(r.id for r in store.runs(include_incomplete=False))
            cases = store.case_names()
        finally:
            store.close()
        rng = random.Random(args.seed)
        results: dict[str, list[float]] = {}
        with serving(db) as base:
            for name, next_path in page_types(run_ids, cases, rng).items():
                timed_get(base + next_path())  # the first request of a type warms the interpreter's code path, not the data
                results[name] = [timed_get(base + next_path()) for _ in range(args.requests)]
    print(f"\nsnapshot-runner serve on {redact_url(db).split(':')[0]}: {len(run_ids)} runs × {len(cases)} cases, {args.requests} requests per page type")
    print(f"{'page':<24} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  target p95 < {TARGET_P95_S * 1000:.0f} ms")
    worst = 0.0
    for name, times in results.items():
        p95 = statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) >= 2 else times[0]
        worst = max(worst, p95)
        print(f"{name:<24} {statistics.median(times) * 1000:>10.1f} {p95 * 1000:>8.1f} {max(times) * 1000:>8.1f}  {'ok' if p95 < TARGET_P95_S else 'OVER'}")
    print(f"worst p95: {worst * 1000:.1f} ms ({'meets' if worst < TARGET_P95_S else 'misses'} the {TARGET_P95_S * 1000:.0f} ms target)")
    return 0 if worst < TARGET_P95_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
