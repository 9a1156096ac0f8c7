"""Bad input that used to write where it must not, store what it must not, or
print what it must not (issue 11): each is now one line and a non-zero exit,
with nothing written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CASES, REPO, run_cli

CASE = "subclasses.two_tensor::twotensor_view"


def _report(tmp_path: Path, name: str = CASE, artifacts: dict[str, str] | None = None) -> Path:
    report = {
        "environment": {"torch_version": "2.13.0+cpu", "device": "cpu", "python": "3.11.0"},
        "normalize": "canonical",
        "cases": [{"name": name, "status": "ok", "artifacts": artifacts or {"compile": "graphs: 1\n"}, "error": None}],
        "load_errors": [],
    }
    path = tmp_path / "report.json"
    # ensure_ascii keeps a lone surrogate as the escape \udc80: valid JSON, invalid text.
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def _one_line(proc, *parts: str) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "Traceback" not in line
    for part in parts:
        assert part in line


def test_an_artifact_key_never_becomes_a_path_outside_the_snapshots(tmp_path: Path) -> None:
    report = _report(tmp_path, artifacts={"../../../PWNED": "owned\n"})
    snapshots = tmp_path / "deep" / "er" / "snapshots"
    proc = subprocess.run(
        [sys.executable, "-m", "snapshot_runner.goldens.variants", str(report), "--cases-dir", str(CASES), "--snapshots-dir", str(snapshots)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    _one_line(proc, "'../../../PWNED' is not an artifact key")
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p != report]


@pytest.mark.parametrize(
    ("name", "artifacts", "problem"),
    [
        (CASE, {"dynamo_graph": "x\udc80"}, "'dynamo_graph' is not encodable text"),
        ("", None, "an empty case name"),
        ("a/../b::f", None, "'a/../b::f' is not a case name"),
        (CASE, {"guards/../../x": "t"}, "'guards/../../x' is not an artifact key"),
    ],
    ids=["lone-surrogate", "empty-name", "path-in-name", "path-in-key"],
)
def test_a_report_is_checked_completely_before_a_run_begins(tmp_path: Path, name: str, artifacts, problem: str) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "h.sqlite"
    proc = run_cli("record", "--from-json", str(_report(tmp_path, name, artifacts)), "--db", f"sqlite:///{db}")
    _one_line(proc, "cannot be recorded", problem)
    assert not db.exists()


@pytest.fixture
def recorded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    proc = run_cli("record", "--from-json", str(_report(tmp_path)), "--db", url, "--label", "taken")
    assert proc.returncode == 0, proc.stderr
    return url


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("latest", "is a REF word"),
        ("Golden", "is a REF word"),
        ("previous", "is a REF word"),
        ("1", "is a number"),
        ("2.13.0", "is a version"),
        ("2.14.0.dev20251015+cu130", "is a version"),
        ("  ", "may not be empty"),
        ("a\x1b[31mred", "holds control characters"),
        ("taken", "run 1 is already labelled 'taken'"),
    ],
)
def test_a_label_names_one_run_and_nothing_else(recorded: str, tmp_path: Path, label: str, problem: str) -> None:
    proc = run_cli("record", "--from-json", str(_report(tmp_path)), "--db", recorded, "--label", label)
    _one_line(proc, "--label", problem)
    assert len(run_cli("runs", "--db", recorded).stdout.splitlines()) == 2  # header and run 1


def test_runs_escapes_control_characters(tmp_path: Path) -> None:
    from snapshot_runner.history.store import Store

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = Store.open(url)  # a label from before labels were checked
    store.begin_run(
        environment={"torch_version": "2.13.0", "device": "cpu\x07"},
        label="evil\x1b[2Jlabel",
        runner_version="0",
        case_set_fingerprint="x",
        cases_expected=1,
        normalize="canonical",
    )
    store.close()
    proc = run_cli("runs", "--db", url)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "evil\\x1b[2Jlabel" in proc.stdout and "cpu\\x07" in proc.stdout


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", [["runs"], ["history", CASE], ["drift", "--from", "1", "--to", "2"]])
def test_read_only_commands_never_write_to_a_file_not_ours(tmp_path: Path, command: list[str]) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    _one_line(run_cli(*command, "--db", f"sqlite:///{empty}"), "is an empty file, not a snapshot-runner history database")
    assert empty.stat().st_size == 0 and not list(tmp_path.glob("empty.db-*"))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table notes (text)")
    before = _digest(other)
    _one_line(run_cli(*command, "--db", f"sqlite:///{other}"), "is not a snapshot-runner history database")
    assert _digest(other) == before


def test_a_sqlite_file_without_tables_is_not_given_a_schema_by_a_reader(tmp_path: Path) -> None:
    blank = tmp_path / "blank.db"
    with sqlite3.connect(blank) as conn:
        conn.execute("create table t (x)")
        conn.execute("drop table t")
    before = _digest(blank)
    _one_line(run_cli("runs", "--db", f"sqlite:///{blank}"), "holds no snapshot-runner history")
    assert _digest(blank) == before


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:h?mode=memory&uri=true"])
def test_record_refuses_an_in_memory_database(tmp_path: Path, url: str) -> None:
    _one_line(run_cli("record", "--from-json", str(_report(tmp_path)), "--db", url), "is an in-memory database")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["drift", "--from", "1", "--to", "2", "--matrix-runs", "-5"], "argument --matrix-runs: -5 is out of range: 1 to 10000"),
        (["capture", "-j", "0"], "argument -j/--jobs: 0 is out of range: 1 to 1024"),
        (["record", "--jobs", "many"], "argument -j/--jobs: not a whole number: 'many'"),
        (["capture", "--timeout", "0"], "argument --timeout: 0 is out of range: 0.1 to 604800"),
        (["nightly", "--timeout", "nan"], "argument --timeout: nan is out of range"),
        (["history", CASE, "compile", "--show", "0"], "argument --show: 0 is out of range: 1 to"),
    ],
)
def test_numeric_options_are_range_checked(argv: list[str], message: str) -> None:
    proc = run_cli(*argv)
    assert proc.returncode == 2
    assert message in proc.stderr.splitlines()[-1]
