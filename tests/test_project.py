"""A user's repository driven by [tool.snapshot-runner] alone, in this
interpreter: commands find the section from any subdirectory, bad keys and
untracked packages stop before anything is recorded, a case module that does
not import is reported everywhere and never makes a clean run, and `init`
sets a repository up without overwriting anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .conftest import run_cli

CASE = """
import torch
from snapshot_runner import case


@case(backend="eager", backward=False)
def shift():
    return (lambda x: x + 1), (torch.ones(2),)
"""

NEEDS_LIBRARY = """
import torch
import quantlib_not_installed

from snapshot_runner import case


@case(backend="eager", backward=False)
def scale():
    return (lambda x: x * 2), (torch.ones(2),)
"""


def _project(root: Path, section: str = "", modules: dict[str, str] | None = None) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f'[tool.snapshot-runner]\ncases-dir = "goldens/cases"\ndb = "goldens/history.sqlite"\n{section}')
    for name, source in (modules or {"ops.py": CASE}).items():
        path = root / "goldens" / "cases" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_commands_use_the_section_from_a_subdirectory(tmp_path: Path) -> None:
    root = _project(tmp_path, 'track = ["pytest"]\n')
    recorded = run_cli("record", cwd=root / "src")
    assert recorded.returncode == 0, recorded.stderr
    assert (root / "goldens" / "history.sqlite").is_file()
    runs = run_cli("runs", cwd=root / "src")
    import pytest as installed

    assert f"pytest {installed.__version__}" in runs.stdout  # the tracked version, with the run
    assert run_cli("list", cwd=root / "src").stdout.split() == ["ops::shift"]
    # A flag wins over the section.
    other = tmp_path / "other-cases"
    other.mkdir()
    (other / "more.py").write_text(CASE.replace("shift", "other"))
    assert run_cli("list", "--cases-dir", str(other), cwd=root).stdout.split() == ["more::other"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('case-dir = "x"\n', "unknown key 'case-dir' in [tool.snapshot-runner] (did you mean 'cases-dir'?)"),
        ('track = ["no-such-distribution-here"]\n', f"track: no-such-distribution-here is not installed under torch {torch.__version__}"),
        ('with = ["./nowhere"]\n', "with entry './nowhere': no such path"),
    ],
)
def test_bad_configuration_is_one_line_and_records_nothing(tmp_path: Path, section: str, message: str) -> None:
    root = _project(tmp_path, section)
    proc = run_cli("record", cwd=root)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert message in line and line.startswith("snapshot-runner: error: ")
    runs = run_cli("runs", cwd=root)
    assert "no runs" in runs.stderr or runs.returncode == 2  # no database, or one without a run
    assert "Traceback" not in proc.stderr + runs.stderr


def test_with_goes_with_torch_only(tmp_path: Path) -> None:
    root = _project(tmp_path)
    proc = run_cli("capture", "--with", "torchao", cwd=root)
    assert proc.returncode == 2
    assert "--with go with --torch" in proc.stderr


def test_a_module_that_does_not_import_is_reported_stored_and_never_clean(tmp_path: Path) -> None:
    root = _project(tmp_path, modules={"ops.py": CASE, "quant.py": NEEDS_LIBRARY})
    first = run_cli("record", "--label", "before", "-k", "ops", cwd=root)
    assert first.returncode == 1  # quant failed to import, also when not selected
    recorded = run_cli("record", cwd=root)
    assert recorded.returncode == 1
    expected = (
        f"cannot import case module quant under torch {torch.__version__}: ModuleNotFoundError: No module named 'quantlib_not_installed'"
        " (hint: quantlib_not_installed is not installed there; the environments the tool makes get it with --with REQ or `with` in [tool.snapshot-runner])"
    )
    assert expected in recorded.stderr
    assert "recorded with load errors: 1 ok; 1 case module failed to import" in recorded.stderr
    runs = run_cli("runs", cwd=root).stdout.splitlines()
    assert runs[1].split()[:2] == ["2", "-"] and "load-errors" in runs[1]
    # `latest` is never a run with load errors; named by id it compares.
    drift = run_cli("drift", "--from", "2", "--to", "latest", cwd=root)
    assert "no latest run" in drift.stderr and "has 0 complete runs" in drift.stderr
    # A case the other side has, of a module that failed: not captured, with the reason.
    (root / "goldens" / "cases" / "quant.py").write_text(NEEDS_LIBRARY.replace("import quantlib_not_installed\n", ""))
    with_quant = run_cli("record", "--label", "with-quant", cwd=root)
    assert with_quant.returncode == 0, with_quant.stderr
    report = json.loads(run_cli("drift", "--from", "with-quant", "--to", "2", "--format", "json", cwd=root).stdout)
    (quant,) = [c for c in report["cases"] if c["name"] == "quant::scale"]
    assert quant["status"] == "not-captured" and expected in quant["reason"]


def test_naming_a_case_whose_module_failed_says_why(tmp_path: Path) -> None:
    root = _project(tmp_path, modules={"quant.py": NEEDS_LIBRARY})
    proc = run_cli("capture", "--case", "quant::scale", cwd=root)
    assert proc.returncode == 2
    assert "quant::scale was not captured: " in proc.stderr and "No module named 'quantlib_not_installed'" in proc.stderr
    assert "unknown case" not in proc.stderr


def test_init_sets_up_a_repository_and_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mylib"\nversion = "1"\n')
    first = run_cli("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "pytest tests/test_goldens.py --snapshot-update" in first.stdout and "snapshot-runner record" in first.stdout
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "mylib"') and "[tool.snapshot-runner]" in text
    env = {**os.environ, "NO_COLOR": "1"}
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_goldens.py"]
    written = subprocess.run([*pytest_cmd, "--snapshot-update"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert written.returncode == 0, written.stdout
    assert (tmp_path / "snapshots" / "example" / "two_tensor_sin" / "aot_forward.txt").is_file()
    checked = subprocess.run(pytest_cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert checked.returncode == 0 and "2 passed" in checked.stdout
    # Outside this repository the hint is pytest's own option.
    (tmp_path / "snapshots" / "example" / "two_tensor_sin" / "aot_forward.txt").unlink()
    missing = subprocess.run(pytest_cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert "no golden for aot_forward yet (write it with `pytest --snapshot-update`)" in missing.stdout

    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 2 and "already has [tool.snapshot-runner]: nothing written" in again.stderr
    bare = tmp_path / "bare"
    (bare / "tests").mkdir(parents=True)
    (bare / "tests" / "test_goldens.py").write_text("# mine\n")
    refused = run_cli("init", cwd=bare)
    assert refused.returncode == 2 and "test_goldens.py exists: nothing written" in refused.stderr
    assert not (bare / "pyproject.toml").exists() and (bare / "tests" / "test_goldens.py").read_text() == "# mine\n"
