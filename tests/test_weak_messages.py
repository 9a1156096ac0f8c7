"""Bad input that used to be accepted silently, act before it was checked, or
report success: each is one line and a non-zero exit now."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CASES, run_cli


def _one_line(proc, message: str, code: int = 2) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == f"snapshot-runner: error: {message}"


@pytest.mark.parametrize("days", ["nan", "inf"])
def test_prune_refuses_days_that_are_no_number_of_days(tmp_path: Path, days: str) -> None:
    _one_line(run_cli("envs", "prune", "--older-than", days, "--envs-dir", str(tmp_path)), f"--older-than wants a number of days >= 0, got {days}")


def test_nightly_report_run_refuses_torch_rather_than_ignoring_it(tmp_path: Path) -> None:
    proc = run_cli("nightly", "--report-run", "night-1", "--torch", "2.14.1", "--db", f"sqlite:///{tmp_path / 'h.sqlite'}", "--reports", str(tmp_path))
    _one_line(proc, "--report-run records nothing: --torch and --python do not apply to it")
    assert not (tmp_path / "h.sqlite").exists()


def test_bisect_refuses_reversed_ends_before_installing_anything(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    proc = run_cli(
        "bisect",
        "subclasses.two_tensor::twotensor_view",
        "--good",
        "2.14.1",
        "--bad",
        "2.13.0",
        "--db",
        f"sqlite:///{tmp_path / 'h.sqlite'}",
        "--cases-dir",
        str(CASES),
        "--envs-dir",
        str(envs),
        "--index-url",
        (tmp_path / "no-index").as_uri(),
    )
    _one_line(proc, "--good 2.14.1 (torch 2.14.1) is not older than --bad 2.13.0 (torch 2.13.0): swap them, or bisect between two different versions")
    assert "capturing" not in proc.stderr
    assert not envs.exists() or not any(envs.iterdir())


DELETES_THE_DATABASE = """
import os
import torch
from snapshot_runner import case

@case(backend="eager", backward=False)
def first():
    return (lambda x: x + 1), (torch.ones(2),)

@case(backend="eager", backward=False)
def second_deletes_the_database():
    os.remove(os.environ["SNAPSHOT_RUNNER_TEST_DELETE"])
    return (lambda x: x + 2), (torch.ones(2),)
"""


def test_a_database_deleted_during_record_is_no_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "doomed.py").write_text(DELETES_THE_DATABASE)
    db = tmp_path / "h.sqlite"
    monkeypatch.setenv("SNAPSHOT_RUNNER_TEST_DELETE", str(db))
    proc = run_cli("record", "--cases-dir", str(cases), "--db", f"sqlite:///{db}", "--jobs", "1")
    _one_line(proc, f"{db}: the database file was deleted or replaced while in use; nothing more was written")
    assert "complete" not in proc.stderr
