"""The history database under stress, on SQLite and a real PostgreSQL server:
concurrent recorders, a recorder killed with SIGKILL, bad input, and schema
migrations. Every recording goes through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from snapshot_runner.capture.results import CaptureReport
from snapshot_runner.drift.compare import DriftError, resolve_run
from snapshot_runner.history.store import Store, StoredResult, StoreError, sha256

from .conftest import REPO, run_cli

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("store_reliability")

# 14 cheap eager/aot cases: enough for two recorders' commits to interleave, and
# for a recorder to be killed midway (one case commits in well under a second, the
# next 13 take several).
SMALL = "subclasses.torch_function"

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _record(db: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "snapshot_runner.cli", "record", "--db", db, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def _finish(proc: subprocess.Popen[str]) -> int:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return int(out.strip())


def _content(results: dict[str, StoredResult]) -> dict[str, tuple[str, dict[str, str]]]:
    return {name: (r.status, r.artifacts) for name, r in results.items()}


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> CaptureReport:
    """The SMALL cases captured once, canonical as `record` stores them."""
    path = tmp_path_factory.mktemp("reference") / "report.json"
    proc = run_cli("capture", "-k", SMALL, "--normalize", "canonical", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    return CaptureReport.from_json(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def reference(captured: CaptureReport) -> dict[str, tuple[str, dict[str, str]]]:
    """What every run of the SMALL cases must hold, however it was written."""
    return {c.name: (c.status, {k: sha256(t) for k, t in c.artifacts.items()}) for c in captured.cases}


# --- concurrency ----------------------------------------------------------------------


def test_two_recorders_at_once_lose_nothing(db_url: str, reference: dict) -> None:
    first, second = _record(db_url, "-k", SMALL, "--label", "a"), _record(db_url, "-k", SMALL, "--label", "b")
    ids = [_finish(first), _finish(second)]
    assert ids[0] != ids[1]

    store = Store.open(db_url)
    try:
        runs = {r.id: r for r in store.runs()}
        assert set(runs) == set(ids)
        a, b = runs[ids[0]], runs[ids[1]]
        # The point of the test: the two recorders really wrote at the same time.
        assert a.started_at < b.finished_at and b.started_at < a.finished_at, (a, b)
        for run in (a, b):
            assert run.status == "complete"
            assert run.cases_stored == run.cases_expected == len(reference)
            assert _content(store.results(run.id)) == reference
        # Every artifact hash a result points at has its text.
        hashes = {h for r in store.results(ids[0]).values() for h in r.artifacts.values()}
        assert set(store.texts(hashes)) == hashes
    finally:
        store.close()

    drift = run_cli("drift", "--db", db_url, "--from", str(ids[0]), "--to", str(ids[1]), "--format", "json")
    assert drift.returncode == 0, drift.stderr
    report = json.loads(drift.stdout)
    assert len(report["cases"]) == len(reference)
    assert {c["status"] for c in report["cases"]} == {"unchanged"}


# --- kill -9 -----------------------------------------------------------------------------


def _stored_cases(url: str) -> int:
    # A plain engine, not Store: polling must not take the recorder's write lock.
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM case_outcomes")).scalar_one()
    except sa.exc.OperationalError:  # the recorder has not created the schema yet
        return 0
    finally:
        engine.dispose()


def test_kill_9_during_record(db_url: str, captured: CaptureReport, reference: dict) -> None:
    # The earlier run goes in through the Store API: only the killed one needs a recorder.
    store = Store.open(db_url)
    try:
        earlier = store.begin_run(
            environment=captured.environment,
            label="before",
            runner_version="test",
            case_set_fingerprint="-",
            cases_expected=len(captured.cases),
            normalize="canonical",
        )
        store.add_results(earlier, captured.cases)
        assert store.finish_run(earlier) == "complete"
    finally:
        store.close()
    before = _stored_cases(db_url)

    # The same selection as the reference, so that every case it stores is compared.
    victim = _record(db_url, "-k", SMALL, "--label", "killed")
    deadline = time.monotonic() + 240
    while _stored_cases(db_url) <= before:
        assert victim.poll() is None, "the recorder ended before it could be killed"
        assert time.monotonic() < deadline, "the recorder stored nothing in time"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL

    runs = run_cli("runs", "--db", db_url)
    assert runs.returncode == 0, runs.stderr
    killed_line = next(line for line in runs.stdout.splitlines() if " killed " in line)
    assert " incomplete " in killed_line

    store = Store.open(db_url)
    try:
        killed = next(r for r in store.runs() if r.label == "killed")
        assert killed.status == "incomplete" and killed.finished_at is None
        assert 1 <= killed.cases_stored < killed.cases_expected
        # Each stored case is whole: its transaction committed or never happened.
        killed_cases = store.results(killed.id)
        assert len(killed_cases) == killed.cases_stored >= 1 and set(killed_cases) <= set(reference)
        for name, result in killed_cases.items():
            assert (result.status, result.artifacts) == reference[name], name
        assert _content(store.results(earlier)) == reference
        assert store.run(earlier).status == "complete"  # type: ignore[union-attr]
        # `latest` is the newest *complete* run: the killed one is skipped, and
        # naming it needs --include-incomplete.
        assert resolve_run(store, "latest").id == earlier
        with pytest.raises(DriftError, match=f"run {killed.id} is incomplete .*--include-incomplete"):
            resolve_run(store, str(killed.id))
    finally:
        store.close()

    allowed = run_cli("drift", "--db", db_url, "--from", str(earlier), "--to", str(killed.id), "--include-incomplete", "--format", "json")
    assert allowed.returncode == 0, allowed.stderr
    report = json.loads(allowed.stdout)
    assert report["to"]["id"] == killed.id and report["to"]["status"] == "incomplete"
    # Cases both runs hold are unchanged; those the killed run never stored are removed.
    expected = {n: "unchanged" if n in killed_cases else "removed" for n in reference}
    assert {c["name"]: c["status"] for c in report["cases"]} == expected


# --- bad input ---------------------------------------------------------------------------


def _closed_port() -> int:
    import socket

    # Bound and never listened on: connecting is refused, and nobody else gets it meanwhile.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _closed_port.keep = sock  # type: ignore[attr-defined]
    return int(sock.getsockname()[1])


def _one_clear_line(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(4096))
    _one_clear_line(run_cli("runs", "--db", f"sqlite:///{junk}"), str(junk), "is not a database")
    assert junk.stat().st_size == 4096  # left as it was


def test_unreachable_server_never_shows_the_password() -> None:
    port = _closed_port()
    proc = run_cli("runs", "--db", f"postgresql+psycopg://u:secret@127.0.0.1:{port}/x")
    line = _one_clear_line(proc, f"127.0.0.1:{port}", "cannot be opened")
    assert "u:***@" in line
    assert "secret" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL"),
        ("nosuchdialect://u:secret@h/x", "no SQLAlchemy dialect"),
        ("postgresql+nosuchdriver://u:secret@h/x", "no SQLAlchemy dialect"),
        # make_url raises ValueError (not ArgumentError) for a port that is not a number.
        ("postgresql+psycopg://u:secret@127.0.0.1:notaport/x", "not a database URL"),
    ],
)
def test_bad_url(url: str, expected: str) -> None:
    proc = run_cli("runs", "--db", url)
    _one_clear_line(proc, expected)
    assert "secret" not in proc.stdout + proc.stderr


def test_wrong_password_is_not_printed(postgres_server) -> None:
    url = postgres_server.url().replace(":s3cret-pw@", ":wrong-pw@")
    proc = run_cli("runs", "--db", url)
    _one_clear_line(proc, "cannot be opened", "password authentication failed")
    assert "wrong-pw" not in proc.stdout + proc.stderr


def test_real_server_url_is_masked(postgres_url: str) -> None:
    from .postgres import PASSWORD

    proc = run_cli("runs", "--db", postgres_url)
    assert proc.returncode == 0, proc.stderr
    assert "no runs in postgresql+psycopg://snapshot:***@127.0.0.1" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


def test_unknown_ref(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    Store.open(url).close()
    _one_clear_line(run_cli("drift", "--db", url, "--from", "no-such-label", "--to", "latest"), "unknown REF 'no-such-label'")
    _one_clear_line(run_cli("drift", "--db", url, "--from", "41", "--to", "latest"), "no run 41")
    _one_clear_line(run_cli("drift", "--db", url, "--from", "latest", "--to", "golden"), "no latest run", "0 complete runs")


# --- schema migrations ---------------------------------------------------------------------


def _upgrade(url: str, revision: str) -> None:
    from alembic import command

    from snapshot_runner.history.store import _alembic_config, make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    finally:
        engine.dispose()


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from snapshot_runner.history.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()  # type: ignore[return-value]


def test_revision_0001_database_is_upgraded_without_losing_runs(db_url: str) -> None:
    import datetime as dt

    _upgrade(db_url, "0001")
    engine = sa.create_engine(db_url)
    try:
        # Raw Core over the reflected 0001 tables: the code's models are the
        # head schema and cannot write the old one.
        meta = sa.MetaData()
        meta.reflect(engine)
        assert "gpu_name" not in meta.tables["environments"].c
        t = meta.tables
        with engine.begin() as conn:
            env = conn.execute(
                t["environments"].insert().values(fingerprint="f" * 64, torch_version="2.9.0+cpu", python="3.11.9", platform="linux", device="cpu")
            ).inserted_primary_key[0]
            started = dt.datetime(2026, 1, 2, 3, 4, 5)
            run = conn.execute(
                t["runs"]
                .insert()
                .values(
                    label="old",
                    environment_id=env,
                    started_at=started,
                    finished_at=started,
                    status="complete",
                    runner_version="0.0.9",
                    case_set_fingerprint="c" * 64,
                    cases_expected=1,
                    normalize="canonical",
                )
            ).inserted_primary_key[0]
            case = conn.execute(t["cases"].insert().values(name="m::old_case")).inserted_primary_key[0]
            key = conn.execute(t["artifact_keys"].insert().values(name="dynamo_graph")).inserted_primary_key[0]
            text = "graph():\n    %x : [num_users=1] = placeholder[target=x]\n    return (x,)\n"
            from snapshot_runner.history.store import sha256

            art = conn.execute(t["artifacts"].insert().values(sha256=sha256(text), text=text)).inserted_primary_key[0]
            conn.execute(t["case_outcomes"].insert().values(run_id=run, case_id=case, status="ok", error=None, compile_seconds=0.5))
            conn.execute(t["artifact_results"].insert().values(run_id=run, case_id=case, key_id=key, artifact_id=art))
    finally:
        engine.dispose()
    assert _revision(db_url) == "0001"

    store = Store.open(db_url)
    try:
        assert _revision(db_url) == _head()
        [info] = store.runs()
        assert (info.id, info.label, info.status, info.started_at) == (run, "old", "complete", started)
        assert info.environment["torch_version"] == "2.9.0+cpu" and info.environment["gpu_name"] is None
        assert store.results(run) == {"m::old_case": StoredResult("ok", None, {"dynamo_graph": sha256(text)})}
        assert store.texts([sha256(text)]) == {sha256(text): text}
        # And the upgraded database takes new runs.
        new = store.begin_run(
            environment={"torch_version": "2.13.0", "gpu_name": "H100"},
            label="new",
            runner_version="x",
            case_set_fingerprint="c",
            cases_expected=0,
            normalize="canonical",
        )
        assert store.finish_run(new) == "complete"
        assert [r.label for r in store.runs()] == ["new", "old"]
    finally:
        store.close()


def test_newer_schema_is_refused(db_url: str) -> None:
    Store.open(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    with pytest.raises(StoreError, match=r"database schema 9999 is newer than this snapshot-runner knows \(newest: \w+\); upgrade snapshot-runner"):
        Store.open(db_url)
    proc = run_cli("runs", "--db", db_url)
    _one_clear_line(proc, "schema 9999 is newer")
    assert _revision(db_url) == "9999"  # refused, not touched


def test_sqlite_file_with_other_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()

    with pytest.raises(StoreError, match="holds tables but is not a snapshot-runner history database"):
        Store.open(f"sqlite:///{path}")
    _one_clear_line(run_cli("runs", "--db", f"sqlite:///{path}"), "not a snapshot-runner history database")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = conn.execute("SELECT * FROM invoices").fetchall()
    conn.close()
    assert (tables, rows) == (["invoices"], [(1, 9.5)])


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from snapshot_runner.history.models import Base

    Store.open(db_url).close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
