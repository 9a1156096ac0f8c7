"""The tool as a user gets it: the wheel built from this checkout, installed
(not editable) into a fresh virtualenv with the reference torch and torchao,
used from a project directory outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

TORCH = "torch==2.13.0"
TORCHAO = "torchao==0.18.0"
DISTRIBUTION = "torch-snapshot-runner"


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{command}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="session")
def installed_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fresh virtualenv's bin directory."""
    root = tmp_path_factory.mktemp("installed")
    # Built from a copy: setuptools keeps a checkout's build/ between builds and
    # would ship files renamed or deleted since (two migration heads, say).
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "examples", "db", "reports"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(root / "dist"), str(source)])
    (wheel,) = (root / "dist").glob("*.whl")
    assert wheel.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    _run([sys.executable, "-m", "venv", str(root / "venv")])
    bin_dir = root / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", TORCH, "numpy", TORCHAO, str(wheel)])
    return bin_dir


def run_tool(bin_dir: Path, cwd: Path, *args: str, command: str = "snapshot-runner") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SNAPSHOT_RUNNER_DB", "PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(bin_dir / command), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**env, "PATH": f"{bin_dir}:{env.get('PATH', '')}", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"},
    )
