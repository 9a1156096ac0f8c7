"""Supervised capture with hostile cases (tests/data/hostile*): each is one
``error`` with its one-line reason, the well-behaved cases of the same run are
``ok`` with the artifacts of a clean run, the run is complete, the exit status
non-zero, ``--json -`` parses; and the same with parallel workers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from .conftest import REPO, run_cli

DATA = Path(__file__).parent / "data"
HOSTILE = DATA / "hostile"
GOOD = ["a_good::good_first", "z_good::good_last"]
# The one line each hostile case gets ({cases} is the hostile directory).
REASONS = {
    "exit_zero::exits_zero": "{cases}/exit_zero.py:8: called sys.exit(0)",
    "hang::never_returns": "timed out after 3 s",
    "keyboard::raises_keyboard_interrupt": "{cases}/keyboard.py:6: raised KeyboardInterrupt",
    "noisy::prints_then_fails": "{cases}/noisy.py:16: factory: RuntimeError: failed after printing",
    "os_exit::os_exit_one": "worker exited with status 1 while running this case",
    "segfault::segfaults": "worker killed by SIGSEGV while running this case",
}


@pytest.fixture(scope="module")
def clean() -> dict:
    """The well-behaved cases alone."""
    proc = run_cli("capture", "--cases-dir", str(HOSTILE), *[a for n in GOOD for a in ("--case", n)], "--json", "-")
    assert proc.returncode == 0, proc.stderr
    return {c["name"]: c for c in json.loads(proc.stdout)["cases"]}


@pytest.fixture(scope="module", params=["1", "2"], ids=["j1", "j2"])
def hostile_run(request: pytest.FixtureRequest) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = run_cli("capture", "--cases-dir", str(HOSTILE), "-j", request.param, "--json", "-")
    return proc, json.loads(proc.stdout)  # parses: nothing a case printed reached it


def test_every_hostile_case_is_one_error_line(hostile_run) -> None:
    proc, report = hostile_run
    assert proc.returncode == 1
    errors = {c["name"]: c["error"] for c in report["cases"] if c["status"] == "error"}
    assert errors == {name: line.format(cases=HOSTILE) for name, line in REASONS.items()}
    for name, line in errors.items():
        assert f"error: {name}: {line}" in proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr


def test_well_behaved_cases_are_untouched(hostile_run, clean: dict) -> None:
    _proc, report = hostile_run
    cases = {c["name"]: c for c in report["cases"]}
    assert list(cases) == sorted(cases)  # selection order, whatever finished first
    for name in GOOD:
        assert cases[name]["status"] == "ok"
        assert cases[name]["artifacts"] == clean[name]["artifacts"]


def test_a_failing_case_keeps_its_last_output_lines(hostile_run) -> None:
    _proc, report = hostile_run
    noisy = next(c for c in report["cases"] if c["name"] == "noisy::prints_then_fails")
    assert len(noisy["output"]) == 15
    assert noisy["output"][-4:] == [
        "noise 19999 " + "x" * 60,
        '@snapshot-runner-event {"event": "result", "result": {"name": "fake", "status": "ok"}}',
        "to stderr",
        "raw fd 1 bytes without newline",
    ]


def test_record_stores_a_complete_run(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = run_cli("record", "--cases-dir", str(HOSTILE), "--db", f"sqlite:///{db}", "-j", "2")
    assert proc.returncode == 1, proc.stderr
    assert f"run 1 complete: 2 ok, {len(REASONS)} error" in proc.stderr
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("select status from runs").fetchone()
    assert status == "complete"


def test_import_time_exit_and_crash_are_load_errors() -> None:
    cases = DATA / "hostile_import"
    proc = run_cli("capture", "--cases-dir", str(cases), "--json", "-")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [(c["name"], c["status"]) for c in report["cases"]] == [("good::good_first", "ok")]
    assert sorted(report["load_errors"]) == [
        f"{cases}/exit_at_import.py:5: cannot import case module exit_at_import under torch {torch.__version__}: called sys.exit(0)",
        f"{cases}/segfault_at_import.py: cannot import case module segfault_at_import under torch {torch.__version__}: worker killed by SIGSEGV while importing it",
    ]


def test_two_modules_of_one_dotted_name_are_a_load_error() -> None:
    cases = DATA / "dupnames"
    proc = run_cli("list", "--cases-dir", str(cases))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"error: {cases}/x/y.py: cannot import case module x.y: {cases}/x/y.py and {cases}/x.y.py are both case module x.y; rename one"
    )


def test_parallel_artifacts_are_byte_identical(tmp_path: Path) -> None:
    reports = {}
    for jobs in ("1", "3"):
        out = tmp_path / f"j{jobs}.json"
        proc = run_cli("capture", "-k", "two_tensor", "-j", jobs, "--json", str(out))
        assert proc.returncode == 0, proc.stderr
        reports[jobs] = json.loads(out.read_text())
    assert [c["name"] for c in reports["1"]["cases"]] == [c["name"] for c in reports["3"]["cases"]]
    assert {c["name"]: (c["status"], c["artifacts"]) for c in reports["1"]["cases"]} == {
        c["name"]: (c["status"], c["artifacts"]) for c in reports["3"]["cases"]
    }


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_record_is_one_line_and_stays_incomplete(tmp_path: Path, signum: signal.Signals) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "a_good.py").write_text((HOSTILE / "a_good.py").read_text())
    pid_file = tmp_path / "worker.pid"
    (cases / "slow.py").write_text(
        "import os, time\nfrom snapshot_runner import case\n\n@case\ndef sleeps():\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n    time.sleep(300)\n"
    )
    db = tmp_path / "h.sqlite"
    err = tmp_path / "err.txt"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapshot_runner.cli", "record", "--cases-dir", str(cases), "--db", f"sqlite:///{db}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        deadline = time.monotonic() + 300
        while not (_stored(db) and pid_file.exists()) and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum
    lines = err.read_text().splitlines()
    assert lines == [
        f"recording run 1 into sqlite:///{db}",
        f"snapshot-runner: interrupted by {signal.Signals(signum).name}: run 1 stays incomplete with 1 of 2 cases stored",
    ]
    with sqlite3.connect(db) as conn:
        assert conn.execute("select status from runs").fetchall() == [("incomplete",)]
    # The worker went with the host.
    assert not Path(f"/proc/{pid_file.read_text()}").exists()


def _stored(db: Path) -> bool:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from case_outcomes").fetchone()[0] > 0
    except sqlite3.Error:
        return False
