"""Goldens edited by hand or locked: a golden saved with trailing spaces or a
byte-order mark reads as a whitespace change (not a guard or count change), and
--snapshot-update that cannot write a golden says why."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_golden_workflow import _pytest, plugin_repo

pytestmark = pytest.mark.xdist_group("golden_workflow")

CASE = """
import torch
from snapshot_runner import case

@case(backend="eager", backward=False)
def shift():
    return (lambda x: x + 1), (torch.ones(2),)
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plugin_repo(tmp_path_factory.mktemp("edits"), {"lib/ops.py": CASE})


@pytest.fixture
def repo(written: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(written, tmp_path / "repo"))


def test_trailing_spaces_and_a_bom_read_as_whitespace(repo: Path) -> None:
    goldens = repo / "snapshots" / "lib" / "ops" / "shift"
    guards, compile_ = goldens / "guards.txt", goldens / "compile.txt"
    guards.write_text(guards.read_text().replace("\n", "  \n"))
    compile_.write_text("\ufeff" + compile_.read_text())
    checked = _pytest(repo)
    assert checked.returncode == 1
    assert "--- guards: text" in checked.stdout and "whitespace only: trailing whitespace" in checked.stdout
    assert "--- compile: text" in checked.stdout and "whitespace only: a byte-order mark" in checked.stdout
    assert "--- guards: guards" not in checked.stdout and "--- compile: structural" not in checked.stdout


@pytest.fixture
def locked(repo: Path) -> Iterator[Path]:
    """A golden that cannot be rewritten: immutable for root (who ignores modes), read-only for others."""
    golden = repo / "snapshots" / "lib" / "ops" / "shift" / "compile.txt"
    golden.write_text("graphs: 99\n")
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(golden)], capture_output=True).returncode:
            pytest.skip("root cannot make a file unwritable here (no chattr +i)")
        yield golden
        subprocess.run(["chattr", "-i", str(golden)], check=True)
    else:
        golden.chmod(0o444)
        yield golden


def test_snapshot_update_says_why_a_golden_is_not_written(repo: Path, locked: Path) -> None:
    updated = _pytest(repo, "--snapshot-update")
    assert updated.returncode == 1
    assert f"--- compile: cannot write {locked}: " in updated.stdout
    assert "Operation not permitted" in updated.stdout or "Permission denied" in updated.stdout
    assert "lib.ops::shift: 1 golden(s) not written" in updated.stdout
    assert "accept it with" not in updated.stdout
    assert locked.read_text() == "graphs: 99\n"
