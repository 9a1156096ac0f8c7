"""`make bench-db`: the history database at a year's scale.

Builds a synthetic history (default 365 runs × 200 cases × 6 artifacts, ~2%
of artifacts changing per run) through the Store API, then measures, as
medians of several repetitions:

- drift between random pairs of runs: REF resolution by id, comparison,
  markdown and JSON rendering (the library path the CLI takes), and the CLI
  end to end once;
- the history (timeline) of one case artifact;
- database size against the distinct artifact text it holds.

Texts are real goldens from ``snapshots/`` mutated the way graphs drift (an op
swapped, a size changed, a node added or dropped), so they have the length,
vocabulary and diff shape of the real thing.

    .venv/bin/python scripts/bench_db.py [--db URL] [--runs 365] [--cases 200]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.capture.results import CaseResult, CaseStatus  # noqa: E402
from snapshot_runner.drift.compare import compare, resolve  # noqa: E402
from snapshot_runner.drift.renderers import renderer  # noqa: E402
from snapshot_runner.history.store import Store  # noqa: E402
from snapshot_runner.redact import redact_url  # noqa: E402

TARGET_DRIFT_S = 1.0
TARGET_HISTORY_S = 0.5
TARGET_SIZE_RATIO = 2.0
KEYS = ("dynamo_graph", "aot_forward", "aot_backward", "guards", "compile", "inductor_post_grad")

OP = re.compile(r"aten\.\w+\.\w+")
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
NODE = re.compile(r"^(\s*)(\w+)( = .*)$")


# --- synthetic texts --------------------------------------------------------------------


def golden_pools(snapshots: Path) -> dict[str, list[str]]:
    """Real golden texts by artifact key (``aot_forward.1`` counts as ``aot_forward``)."""
    pools: dict[str, list[str]] = {}
    for path in sorted(snapshots.rglob("*.txt")):
        key = path.name.removesuffix(".txt").split(".")[0]
        pools.setdefault(key, []).append(path.read_text(encoding="utf-8"))
    if not pools:
        raise SystemExit(f"no goldens under {snapshots}: run `make snapshot-update` first")
    return pools


class Mutator:
    """Changes a text the way a torch nightly changes a graph."""

    def __init__(self, rng: random.Random, corpus: list[str]) -> None:
        self.rng = rng
        self.ops = sorted({op for text in corpus for op in OP.findall(text)}) or ["aten.add.Tensor"]
        self.serial = 0

    def __call__(self, text: str) -> str:
        lines = text.splitlines(keepends=True) or ["\n"]
        kind = self.rng.choice(("op", "number", "add", "drop"))
        i = self.rng.randrange(len(lines))
        line = lines[i]
        if kind == "op" and OP.search(line):
            lines[i] = OP.sub(lambda _m: self.rng.choice(self.ops), line, count=1)
        elif kind == "number" and NUMBER.search(line):
            lines[i] = NUMBER.sub(lambda _m: str(self.rng.randrange(1, 4096)), line, count=1)
        elif kind == "drop" and len(lines) > 8:
            del lines[i]
        else:  # a new node next to an existing one
            self.serial += 1
            match = NODE.match(line.rstrip("\n"))
            indent, rest = (match.group(1), match.group(3)) if match else ("    ", f" = torch.ops.{self.rng.choice(self.ops)}(arg0_1)")
            lines.insert(i, f"{indent}extra_{self.serial}{rest}\n")
        return "".join(lines)


def initial_texts(pools: dict[str, list[str]], cases: int, mutate: Mutator, rng: random.Random) -> dict[tuple[str, str], str]:
    """One distinct text per case × key, each a mutated real golden of that key."""
    everything = [t for pool in pools.values() for t in pool]
    texts: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    for c in range(cases):
        for key in KEYS:
            pool = pools.get(key) if len(pools.get(key, [])) >= 2 else everything
            text = rng.choice(pool)
            while text in seen:
                text = mutate(text)
            for _ in range(rng.randrange(1, 4)):
                text = mutate(text)
            seen.add(text)
            texts[(f"synthetic.module_{c // 20:02d}::case_{c:03d}", key)] = text
    return texts


def generate(store: Store, runs: int, cases: int, change: float, seed: int) -> tuple[list[int], list[tuple[str, str]], float]:
    rng = random.Random(seed)
    pools = golden_pools(REPO / "snapshots")
    mutate = Mutator(rng, [t for pool in pools.values() for t in pool])
    current = initial_texts(pools, cases, mutate, rng)
    names = sorted({case for case, _ in current})
    start = dt.datetime(2026, 1, 1, 3, 0)
    run_ids = []
    began = time.perf_counter()
    for day in range(runs):
        if day:
            for slot in current:
                if rng.random() < change:
                    current[slot] = mutate(current[slot])
        date = start + dt.timedelta(days=day)
        environment = {
            "torch_version": f"2.14.0.dev{date:%Y%m%d}+cpu",
            "torch_git_sha": f"{rng.getrandbits(160):040x}",
            "python": "3.11.9",
            "platform": "Linux-x86_64",
            "device": "cpu",
        }
        run_id = store.begin_run(
            environment=environment,
            label=f"nightly-{date:%Y-%m-%d}",
            runner_version="bench",
            case_set_fingerprint="bench",
            cases_expected=cases,
            normalize="canonical",
            started_at=date,
        )
        results = [
            CaseResult(name=name, status=CaseStatus.OK, artifacts={key: current[(name, key)] for key in KEYS}, compile_seconds=rng.uniform(0.05, 2.0))
            for name in names
        ]
        store.add_results(run_id, results)
        store.finish_run(run_id, finished_at=date + dt.timedelta(minutes=20))
        run_ids.append(run_id)
        if (day + 1) % 50 == 0:
            print(f"  {day + 1}/{runs} runs, {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return run_ids, sorted(current), time.perf_counter() - began


# --- measuring --------------------------------------------------------------------------------


def median_seconds(action: Callable[[], object], repetitions: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repetitions):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times), times


def drift_once(store: Store, pairs: list[tuple[int, int]], counts: list[int]) -> Callable[[], None]:
    """One drift per call, each call the next pair: what `snapshot-runner drift` does in-process."""
    queue = list(pairs)

    def run() -> None:
        a, b = queue.pop(0)
        sides = [resolve(store, str(r), snapshots_dir=REPO / "snapshots") for r in (a, b)]
        report = compare(*sides)
        renderer("md")(report)
        renderer("json")(report)
        counts.append(sum(len(c.changed_artifacts) for c in report.cases))

    return run


# Bytes per table with its indexes and TOAST: where the size goes.
SQLITE_TABLES = "SELECT tbl_name, sum(pgsize) FROM dbstat JOIN sqlite_schema USING (name) GROUP BY tbl_name"
POSTGRES_TABLES = (
    "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
)


def database_size(url: str) -> tuple[int, int, int, dict[str, int]]:
    """(bytes on disk, bytes of distinct artifact text, distinct artifacts, bytes by table);
    call with every Store closed."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url)
    tables: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                # Fold the WAL into the main file so the file size is the whole database.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                texts = conn.execute(text("SELECT sum(length(CAST(text AS BLOB))), count(*) FROM artifacts")).one()
                with contextlib.suppress(OperationalError):  # SQLite built without the dbstat table
                    tables = dict(conn.execute(text(SQLITE_TABLES)).all())
            else:
                # The database alone: WAL is the server's, shared by all its databases.
                on_disk = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                texts = conn.execute(text("SELECT sum(octet_length(text)), count(*) FROM artifacts")).one()
                tables = dict(conn.execute(text(POSTGRES_TABLES)).all())
    finally:
        engine.dispose()
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        on_disk = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    return int(on_disk), int(texts[0] or 0), int(texts[1]), {k: int(v) for k, v in tables.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=None, help="an empty database URL (default: SQLite in a temp dir)")
    parser.add_argument("--runs", type=int, default=365)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--change", type=float, default=0.02, help="fraction of artifacts changing per run")
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-db-") as tmp:
        url = args.db or f"sqlite:///{tmp}/history.sqlite"
        store = Store.open(url)
        if store.runs(limit=1):
            raise SystemExit(f"{store.url} already holds runs: give an empty database")
        print(
            f"generating {args.runs} runs × {args.cases} cases × {len(KEYS)} artifacts, {args.change:.0%} changing per run, into {store.url}", file=sys.stderr
        )
        run_ids, slots, generation_s = generate(store, args.runs, args.cases, args.change, args.seed)

        rng = random.Random(args.seed + 1)
        reps = args.repetitions
        # Random pairs (any two runs, the target) and neighbours (a nightly's previous → latest).
        random_pairs = [tuple(sorted(rng.sample(run_ids, 2))) for _ in range(reps)]
        neighbour_pairs = [(i - 1, i) for i in rng.sample(run_ids[1:], reps)]
        drift_store = Store.open(url)  # a fresh engine: no warm caches from generation
        random_counts: list[int] = []
        neighbour_counts: list[int] = []
        drift_random, _ = median_seconds(drift_once(drift_store, random_pairs, random_counts), reps)  # type: ignore[arg-type]
        drift_neighbour, _ = median_seconds(drift_once(drift_store, neighbour_pairs, neighbour_counts), reps)  # type: ignore[arg-type]

        history_slots = rng.sample(slots, reps)
        versions: list[int] = []
        history_s, _ = median_seconds(lambda: versions.append(len(drift_store.history(*history_slots[len(versions)]))), reps)

        a, b = random_pairs[0]
        began = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "snapshot_runner.cli", "drift", "--db", url, "--from", str(a), "--to", str(b), "--format", "md", "--out", f"{tmp}/drift.md"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        cli_s = time.perf_counter() - began
        if cli.returncode != 0:
            raise SystemExit(f"drift CLI failed: {cli.stderr.strip()}")
        case, key = history_slots[0]
        began = time.perf_counter()
        cli_history = subprocess.run([sys.executable, "-m", "snapshot_runner.cli", "history", "--db", url, case, key], cwd=REPO, capture_output=True, text=True)
        cli_history_s = time.perf_counter() - began
        if cli_history.returncode != 0:
            raise SystemExit(f"history CLI failed: {cli_history.stderr.strip()}")

        drift_store.close()
        store.close()
        on_disk, text_bytes, distinct, tables = database_size(url)

    ratio = on_disk / text_bytes
    mb = 1024 * 1024
    rows = [
        (
            "drift, random pairs (resolve+compare+md+json)",
            f"{drift_random:.3f} s",
            f"< {TARGET_DRIFT_S} s",
            drift_random < TARGET_DRIFT_S,
            f"{statistics.median(random_counts):.0f} changed artifacts (median)",
        ),
        (
            "drift, neighbouring runs",
            f"{drift_neighbour:.3f} s",
            f"< {TARGET_DRIFT_S} s",
            drift_neighbour < TARGET_DRIFT_S,
            f"{statistics.median(neighbour_counts):.0f} changed artifacts (median)",
        ),
        (
            "history of one case artifact",
            f"{history_s:.3f} s",
            f"< {TARGET_HISTORY_S} s",
            history_s < TARGET_HISTORY_S,
            f"{statistics.median(versions):.0f} versions (median)",
        ),
        (
            "database size / distinct text",
            f"{ratio:.2f}×",
            f"≤ {TARGET_SIZE_RATIO}×",
            ratio <= TARGET_SIZE_RATIO,
            f"{on_disk / mb:.1f} MiB on disk, {text_bytes / mb:.1f} MiB in {distinct} texts ({text_bytes / distinct / 1024:.2f} KiB each)",
        ),
        ("drift CLI end to end, once (md, random pair)", f"{cli_s:.3f} s", "-", None, "includes interpreter start"),
        ("history CLI end to end, once", f"{cli_history_s:.3f} s", "-", None, "includes interpreter start"),
    ]
    print(
        f"\nbench-db: {len(run_ids)} runs × {args.cases} cases × {len(KEYS)} artifacts in {masked_url(url, bool(args.db))}; "
        f"generated in {generation_s:.0f} s; medians of {reps}\n"
    )
    header = ("measure", "median", "target", "result", "detail")
    table = [header] + [(m, v, t, "-" if ok is None else ("PASS" if ok else "MISS"), d) for m, v, t, ok, d in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    largest = sorted(tables.items(), key=lambda kv: -kv[1])[:5]
    if largest:
        print(
            "\nlargest tables (with indexes): "
            + ", ".join(f"{name} {size / mb:.1f} MiB" for name, size in largest)
            + f"; everything else {(on_disk - sum(tables.values())) / mb:.1f} MiB"
        )
    missed = [m for m, _, _, ok, _ in rows if ok is False]
    return 1 if missed else 0


def masked_url(url: str, given: bool) -> str:
    return redact_url(url) if given else "SQLite (temp dir)"


if __name__ == "__main__":
    sys.exit(main())
