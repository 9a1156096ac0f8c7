"""Chromium and PostgreSQL in CI: `.ci/run` installs them or fails with one
line, and a test that needs one fails under ``CI=true`` instead of skipping
(locally it skips, saying why)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

NEEDS_A_TOOL = """
from tests.tools import require

def test_needs_it():
    require(None, "Frobnicator is not installed: no frob on PATH")
"""


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_needs.py").write_text(NEEDS_A_TOOL)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci is not None else {})
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path / "test_needs.py")]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)


def test_a_missing_tool_fails_in_ci_with_one_line(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    failures = [line for line in proc.stdout.splitlines() if "Frobnicator" in line]
    assert failures and all("CI=true and Frobnicator is not installed: no frob on PATH" in line for line in failures), proc.stdout
    assert "Traceback" not in proc.stdout and "1 failed" in proc.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_missing_tool_skips_locally_with_the_reason(tmp_path: Path, ci: str | None) -> None:
    proc = _pytest(tmp_path, ci)
    assert proc.returncode == 0, proc.stdout
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1 and skipped[0].endswith(": Frobnicator is not installed: no frob on PATH"), proc.stdout
    assert "1 skipped" in proc.stdout


def _stub(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _ci_tools(tmp_path: Path, *present: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """``.ci/run tools`` with a PATH holding only ``present`` (stubs), an
    apt-get that fails, and what the script itself runs (dirname). Returns the
    result and whether apt-get was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    called = tmp_path / "apt-get-called"
    _stub(bin_dir / "apt-get", f": > {called}\necho 'E: Unable to locate package' >&2\nexit 100")
    for tool in present:
        _stub(bin_dir / tool, "exit 0")
    dirname = shutil.which("dirname")
    assert dirname is not None
    (bin_dir / "dirname").symlink_to(dirname)
    proc = subprocess.run(
        ["/bin/bash", str(REPO / ".ci" / "run"), "tools"],
        capture_output=True, text=True, timeout=60, env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )  # fmt: skip
    return proc, called.exists()


def test_ci_run_fails_with_one_line_when_chromium_cannot_be_installed(tmp_path: Path) -> None:
    proc, apt_called = _ci_tools(tmp_path, "initdb")
    assert apt_called
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ".ci/run: chromium is missing and 'apt-get install chromium' failed\n"


def test_ci_run_installs_nothing_when_both_are_there(tmp_path: Path) -> None:
    proc, apt_called = _ci_tools(tmp_path, "chromium", "initdb")
    assert (proc.returncode, proc.stderr, apt_called) == (0, "", False)
