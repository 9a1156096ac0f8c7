"""One run recorded by 4 shard processes at once through the real CLI, on
SQLite (one file) and a real PostgreSQL server: one shard is killed mid-way
and re-run, and the complete run holds exactly what an unsharded run of the
same cases holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from snapshot_runner.history.shards import progress
from snapshot_runner.history.store import Store

from .conftest import REPO, run_cli

# 14 cheap eager cases: 4, 4, 3 and 3 a shard. Their gate (see the module)
# makes the parts overlap and holds the victim mid-way, with no timing.
CASES = REPO / "tests" / "data" / "gated"
SMALL = "gated"
KEY = "ci-4242-2.13.0-cpu"
SHARDS = 4
VICTIM = 1  # holds 4 cases: time to be killed between its first and its last


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _shard(db: str, k: int, gate: Path | None = None) -> subprocess.Popen[str]:
    gated = {"SHARD_GATE": str(gate), "SHARD_INDEX": str(k), "SHARD_COUNT": str(SHARDS)} if gate else {}
    if gate and k == VICTIM:
        gated["SHARD_HOLD"] = "1"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snapshot_runner.cli",
            "record",
            "--db",
            db,
            "--cases-dir",
            str(CASES),
            "-k",
            SMALL,
            "--shard",
            f"{k}/{SHARDS}",
            "--run-key",
            KEY,
            "--label",
            "nightly-cpu",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **gated},
    )


def _stored_of_shard(url: str, shard: int) -> int:
    # A plain engine, not Store: polling must not take a writer's lock.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT count(*) FROM case_outcomes o JOIN runs r ON r.id = o.run_id "
                    "JOIN shard_cases s ON s.case_id = o.case_id AND s.run_key = r.run_key WHERE r.run_key = :key AND s.shard = :shard"
                ),
                {"key": KEY, "shard": shard},
            ).scalar_one()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # no schema yet
        return 0
    finally:
        engine.dispose()


def _outcomes(url: str) -> dict[str, tuple[str, float, int | None]]:
    """Case → (status, compile seconds, artifact set) of the sharded run, as stored."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.name, o.status, o.compile_seconds, o.artifact_set_id FROM case_outcomes o "
                    "JOIN runs r ON r.id = o.run_id JOIN cases c ON c.id = o.case_id WHERE r.run_key = :key"
                ),
                {"key": KEY},
            )
            return {name: (status, seconds, set_id) for name, status, seconds, set_id in rows}
    finally:
        engine.dispose()


def test_four_shards_one_killed_and_rerun_make_the_unsharded_run(db_url: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = {k: _shard(db_url, k, gate) for k in range(1, SHARDS + 1)}
    deadline = time.monotonic() + 300
    while _stored_of_shard(db_url, VICTIM) < 1:
        assert procs[VICTIM].poll() is None, "the victim ended before it could be killed: " + procs[VICTIM].communicate()[1]
        assert time.monotonic() < deadline, "the victim stored nothing in time"
        time.sleep(0.02)
    procs[VICTIM].send_signal(signal.SIGKILL)
    assert procs[VICTIM].wait(timeout=60) == -signal.SIGKILL
    ids = set()
    for k, proc in procs.items():
        if k != VICTIM:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            ids.add(int(out))
    assert len(ids) == 1  # one run, whichever shard made it
    [run_id] = ids

    store = Store.open(db_url)
    try:
        run = store.run(run_id)
        assert run is not None and run.status == "incomplete" and run.run_key == KEY
        parts = {p.shard: p for p in progress(store, [KEY])[KEY]}
        assert {k: p.status for k, p in parts.items()} == {1: "running", 2: "complete", 3: "complete", 4: "complete"}
        assert sum(p.cases_expected for p in parts.values()) == run.cases_expected == 14
        # Parts really were written at the same time (the gate saw to it): some part began before another ended.
        spans = [(p.started_at, p.finished_at) for k, p in parts.items() if k != VICTIM]
        assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :]), spans
        assert 1 <= _stored_of_shard(db_url, VICTIM) < parts[VICTIM].cases_expected
    finally:
        store.close()
    runs = run_cli("runs", "--db", db_url)
    assert runs.returncode == 0, runs.stderr
    assert f"3/4 complete; 1: running ({KEY})" in runs.stdout
    refused = run_cli("drift", "--db", db_url, "--from", "golden", "--to", KEY)
    assert refused.returncode == 2 and "incomplete" in refused.stderr

    before = _outcomes(db_url)
    rerun = _shard(db_url, VICTIM)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert int(out) == run_id
    assert f"run {run_id} complete: shards 4/4 complete" in err
    after = _outcomes(db_url)
    # The re-run replaced its own part and nothing else: the others' rows are untouched.
    store = Store.open(db_url)
    try:
        mine = set(_part_cases(store))
        assert {n: v for n, v in after.items() if n not in mine} == {n: v for n, v in before.items() if n not in mine}
        assert len(after) == 14
        parts = {p.shard: p for p in progress(store, [KEY])[KEY]}
        assert parts[VICTIM].attempts == 2 and all(p.status == "complete" for p in parts.values())
        sharded = store.run(run_id)
        assert sharded is not None and sharded.status == "complete" and sharded.cases_stored == 14
    finally:
        store.close()

    plain = run_cli("record", "--db", db_url, "--cases-dir", str(CASES), "-k", SMALL, "--label", "unsharded")
    assert plain.returncode == 0, plain.stderr
    store = Store.open(db_url)
    try:
        whole = store.results(int(plain.stdout))
        sharded_results = store.results(run_id)
        assert len(whole) == 14
        assert {n: (r.status, r.artifacts) for n, r in sharded_results.items()} == {n: (r.status, r.artifacts) for n, r in whole.items()}
    finally:
        store.close()
    drift = run_cli("drift", "--db", db_url, "--from", KEY, "--to", "unsharded", "--format", "json", "--fail-on-drift")
    assert drift.returncode == 0, drift.stderr


def _part_cases(store: Store) -> list[str]:
    from snapshot_runner.history.models import ShardCase, StoredCase

    with store.session() as session:
        return list(
            session.scalars(
                sa.select(StoredCase.name).join(ShardCase, ShardCase.case_id == StoredCase.id).where(ShardCase.run_key == KEY, ShardCase.shard == VICTIM)
            )
        )
