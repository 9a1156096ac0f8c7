"""Discovery takes exactly the names ``capture/names.py`` takes: any other module
or factory name is a load error line and never reaches the database or a golden
path; an unusable cases directory or one unlistable folder is one line; what a
case prints or raises reaches the terminal with its control characters escaped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from snapshot_runner.capture.discovery import discover

from .conftest import run_cli

GOOD = """
import torch
from snapshot_runner import case

@case(backend="eager", backward=False)
def {name}():
    return (lambda x: x + 1), (torch.ones(2),)
"""

BAD_FILES = ["bad name.py", "x<y.py", "a]]>b.py", "ctl\x1b.py", "café.py"]


@pytest.fixture
def named_cases(tmp_path: Path) -> Path:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "good.py").write_text(GOOD.format(name="good"))
    for name in BAD_FILES:
        (cases / name).write_text(GOOD.format(name="good"))
    (cases / "factories.py").write_text(GOOD.format(name="café"))
    return cases


def test_discovery_takes_only_case_names(named_cases: Path) -> None:
    found = discover(named_cases)
    assert [c.name for c in found.cases] == ["good::good"]
    lines = sorted(e.one_line() for e in found.errors)
    assert len(lines) == len(BAD_FILES) + 1
    assert all("cannot be part of a case name" in line for line in lines)
    assert any("the factory 'café'" in line for line in lines)
    # A badly named file is never imported: it is refused by its name alone.
    assert sum("the file name" in line for line in lines) == len(BAD_FILES)


def test_record_takes_the_projects_own_capture_json(named_cases: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    captured = run_cli("capture", "--cases-dir", str(named_cases), "--json", str(report))
    assert captured.returncode == 1  # the badly named modules are load errors
    assert "\x1b" not in captured.stderr and "ctl\\x1b.py" in captured.stderr
    assert [c["name"] for c in json.loads(report.read_text())["cases"]] == ["good::good"]
    db = tmp_path / "h.sqlite"
    recorded = run_cli("record", "--from-json", str(report), "--db", f"sqlite:///{db}")
    assert recorded.returncode == 1, recorded.stderr  # recorded, with load errors
    assert "run 1 recorded with load errors: 1 ok; 6 case modules failed to import" in recorded.stderr


def test_a_symlink_loop_as_cases_dir_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    proc = run_cli("list", "--cases-dir", str(tmp_path / "loop"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"snapshot-runner: error: cases directory not usable: {tmp_path / 'loop'}: Symlink loop from '{tmp_path / 'loop'}'"]


def _path_over_path_max(cases: Path) -> None:
    """A case module 25 folders of 200 characters deep: its path is over PATH_MAX (4096)."""
    here = os.open(cases, os.O_RDONLY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=here)
        deeper = os.open("d" * 200, os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = deeper
    module = os.open("deep.py", os.O_WRONLY | os.O_CREAT, dir_fd=here)
    os.write(module, GOOD.format(name="deep").encode())
    os.close(module)
    os.close(here)


def test_one_path_over_path_max_hides_no_other_module(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "good.py").write_text(GOOD.format(name="good"))
    _path_over_path_max(cases)
    found = discover(cases)
    assert [c.name for c in found.cases] == ["good::good"]
    (error,) = found.errors
    assert "cannot list the folder: File name too long; its case modules were not loaded" in error.one_line()
    assert len(error.one_line()) < 500


def test_a_cases_error_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "noisy.py").write_text(
        "from snapshot_runner import case\n\n@case\ndef noisy():\n    print('\\x1b[2Jcleared')\n    raise ValueError('\\x1b]0;title\\x07\\x00boom')\n"
    )
    proc = run_cli("capture", "--cases-dir", str(cases))
    assert proc.returncode == 1
    assert not any(ch in proc.stderr for ch in "\x1b\x00\x07")
    assert "noisy.py:6: factory: ValueError: \\x1b]0;title\\x07\\x00boom\n    | \\x1b[2Jcleared\n" in proc.stderr
