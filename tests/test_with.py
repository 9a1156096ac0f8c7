"""--with for real: each entry is installed after torch into the environment
the tool makes, torch pinned; an entry that cannot be installed, or that would
replace torch, is one line naming it, and neither an environment nor a run is
left behind. (Each makes a torch 2.13.0 environment from the local wheel.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli

pytestmark = pytest.mark.slow

OLD_TORCH_LIB = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "needs-old-torch"
version = "1.0"
dependencies = ["torch==2.12.0"]
"""


def _project(root: Path) -> Path:
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "ops.py").write_text(
        "import torch\nfrom snapshot_runner import case\n\n\n@case(backend='eager', backward=False)\ndef shift():\n    return (lambda x: x + 1), (torch.ones(2),)\n"
    )
    (root / "pyproject.toml").write_text('[tool.snapshot-runner]\ndb = "history.sqlite"\n')
    return root


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{lib}", "--with {lib} would replace torch 2.13.0+cpu: "),
        ("no-such-distribution-for-snapshot-runner==1.0", "--with no-such-distribution-for-snapshot-runner==1.0 cannot be installed: "),
    ],
)
def test_a_with_entry_that_fails_is_one_line_and_leaves_nothing(tmp_path: Path, entry: str, message: str) -> None:
    lib = tmp_path / "needs_old_torch"
    lib.mkdir()
    (lib / "pyproject.toml").write_text(OLD_TORCH_LIB)
    root = _project(tmp_path / "project")
    envs = tmp_path / "envs"
    proc = run_cli("record", "--torch", "2.13.0", "--with", entry.format(lib=lib), "--envs-dir", str(envs), cwd=root)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("snapshot-runner: error: " + message.format(lib=lib)), proc.stderr
    if "replace" in message:
        assert "torch==2.12.0" in last  # the installer's reason names the conflict
    assert [p.name for p in envs.iterdir() if not p.name.startswith(".")] == []  # the half-made environment is gone
    assert not (root / "history.sqlite").exists() or "no runs" in run_cli("runs", cwd=root).stderr
