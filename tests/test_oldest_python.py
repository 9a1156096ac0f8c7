"""The worker on the oldest Python the README claims (3.9): a real interpreter
with a real torch for it (2.8.0, the newest torch with Python 3.9 wheels; ~4 GB
with its CUDA libraries), made once in the env cache and reused. Run with
``make test-torch``; ``make test`` leaves it out."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from snapshot_runner.envs.cache import EnvCache

from .conftest import run_cli
from .tools import require

pytestmark = pytest.mark.multi_torch

OLDEST = "3.9"
TORCH = "2.8.0"
CHOSEN = ["subclasses.two_tensor::twotensor_view", "subclasses.torch_function::passthrough_add"]


def _python39() -> str | None:
    """pyenv's build first: pyenv's shim on PATH may name a Python that is not active."""
    pyenv = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / f"{OLDEST}.*" / "bin" / "python")))
    return pyenv[-1] if pyenv else shutil.which(f"python{OLDEST}")


def _build(python: str):  # type: ignore[no-untyped-def]
    def build(env_dir: Path) -> dict[str, str]:
        subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
        pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, f"torch=={TORCH}", "numpy"], check=True)
        return {"spec": f"torch=={TORCH}", "torch_version": TORCH}

    return build


def test_capture_in_a_python_3_9_worker(tmp_path: Path) -> None:
    python = _python39()
    require(python, f"no Python {OLDEST} interpreter (python{OLDEST} on PATH or pyenv's)")
    assert python is not None
    with EnvCache().use_env(f"py{OLDEST.replace('.', '')}-torch-{TORCH}-test", _build(python)) as env_python:
        out = tmp_path / "report.json"
        selection = [a for name in CHOSEN for a in ("--case", name)]
        proc = run_cli("capture", "--python", str(env_python), *selection, "--json", str(out))
        assert proc.returncode == 0, proc.stderr
        report = json.loads(out.read_text())
    environment = report["environment"]
    assert environment["python"].startswith(f"{OLDEST}.") and environment["torch_version"].startswith(TORCH)
    assert {c["name"]: c["status"] for c in report["cases"]} == dict.fromkeys(CHOSEN, "ok"), proc.stderr
    # The same artifacts as the goldens made under Python 3.11 and torch 2.13
    # (passthrough_add is an eager-backend case: no AOT graphs).
    expected = {
        CHOSEN[0]: {"dynamo_graph", "aot_forward", "aot_backward", "guards", "compile"},
        CHOSEN[1]: {"dynamo_graph", "guards", "compile"},
    }
    for case in report["cases"]:
        assert set(case["artifacts"]) == expected[case["name"]], case["name"]
        assert case["artifacts"]["dynamo_graph"].startswith("class GraphModule(torch.nn.Module):")
