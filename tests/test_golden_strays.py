"""`--snapshot-update` deletes only goldens it wrote: a user's file beside the
goldens (README.txt, NOTES.txt) is no golden folder, is kept, and is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot_runner.goldens.layout import case_dirs, golden_key_of, remove_goldens

from .test_golden_workflow import _pytest, plugin_repo

pytestmark = pytest.mark.xdist_group("golden_workflow")

TWO_CASES = """
import torch
from snapshot_runner import case

@case(backend="eager", backward=False)
def shift():
    return (lambda x: x + 1), (torch.ones(2),)

@case(backend="eager", backward=False)
def gone():
    return (lambda x: x - 1), (torch.ones(2),)
"""


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("aot_forward.txt", "aot_forward"),
        ("guards.2.txt", "guards.2"),
        ("README.txt", None),
        ("notes.txt", None),
        ("guards.0.txt", None),
        ("ENVIRONMENT", None),
    ],
)
def test_a_golden_is_an_artifact_key_file(name: str, key: str | None) -> None:
    assert golden_key_of(Path(name)) == key


def test_text_files_outside_case_folders_make_no_golden_folder(tmp_path: Path) -> None:
    case = tmp_path / "lib" / "ops" / "shift"
    case.mkdir(parents=True)
    (case / "dynamo_graph.txt").write_text("graph\n")
    for stray in ("README.txt", "lib/NOTES.txt", "lib/ops/NOTES.txt", "lib/ops/shift/NOTES.txt", "bad name/x/guards.txt"):
        (tmp_path / stray).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / stray).write_text("mine\n")
    assert list(case_dirs(tmp_path)) == [case]


def test_removing_an_orphan_keeps_what_is_no_golden(tmp_path: Path) -> None:
    case = tmp_path / "lib" / "ops" / "gone"
    case.mkdir(parents=True)
    (case / "guards.txt").write_text("g\n")
    (case / "NOTES.txt").write_text("mine\n")
    assert remove_goldens(tmp_path, case) == [case / "NOTES.txt"]
    assert sorted(p.name for p in case.iterdir()) == ["NOTES.txt"]


def test_snapshot_update_keeps_goldens_and_stray_files(tmp_path: Path) -> None:
    repo = plugin_repo(tmp_path, {"lib/ops.py": TWO_CASES})
    snapshots = repo / "snapshots"
    strays = [
        snapshots / "README.txt",
        snapshots / "lib" / "NOTES.txt",
        snapshots / "lib" / "ops" / "NOTES.txt",
        snapshots / "lib" / "ops" / "gone" / "NOTES.txt",
    ]
    for stray in strays:
        stray.write_text("mine\n")
    shift = sorted((snapshots / "lib" / "ops" / "shift").glob("*.txt"))
    assert shift
    # `gone` is deleted: its goldens go, the note beside them stays.
    (repo / "cases" / "lib" / "ops.py").write_text(TWO_CASES.split("@case", 2)[0] + "@case" + TWO_CASES.split("@case", 2)[1])
    updated = _pytest(repo, "--snapshot-update", "-W", "default")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert all(path.read_text() for path in shift)
    assert all(stray.read_text() == "mine\n" for stray in strays)
    assert [p.name for p in (snapshots / "lib" / "ops" / "gone").iterdir()] == ["NOTES.txt"]
    assert "kept 1 file(s) that are not goldens: lib/ops/gone/NOTES.txt" in updated.stdout
    checked = _pytest(repo)
    assert checked.returncode == 0, checked.stdout + checked.stderr
