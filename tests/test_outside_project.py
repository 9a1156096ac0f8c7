"""A user's own repository: the wheel installed non-editable into a fresh
virtualenv, a project with only ``[tool.snapshot-runner]`` whose cases import
a library that is not torch (torchao), every command run from inside that
project (outside this checkout) without flags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import REPO
from .installed import installed_tool, run_tool  # noqa: F401  (the fixture)

PYPROJECT = """\
[project]
name = "quantlib"
version = "0.1"

[tool.snapshot-runner]
cases-dir = "goldens/cases"
snapshots-dir = "goldens/snapshots"
db = "goldens/history.sqlite"
with = ["torchao==0.18.0"]
track = ["torchao"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

CASES = """
import torch
from torchao.quantization.quantize_.workflows.nf4.nf4_tensor import linear_nf4, to_nf4

from snapshot_runner import case


@case(dynamic=False, backward=True)
def nf4_linear():
    weight = to_nf4(torch.randn(256, 64, dtype=torch.bfloat16))
    return linear_nf4, (torch.randn(8, 64, dtype=torch.bfloat16, requires_grad=True), weight)
"""

GOLDEN_TEST = "from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401\n"
CASE = "quant::nf4_linear"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "quantlib"
    (root / "goldens" / "cases").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "src").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "goldens" / "cases" / "quant.py").write_text(CASES)
    (root / "tests" / "test_goldens.py").write_text(GOLDEN_TEST)
    return root


def _ok(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_works_from_a_project_outside_the_checkout(installed_tool: Path, project: Path) -> None:  # noqa: F811
    where = _ok(
        run_tool(installed_tool, project, "-c", "import snapshot_runner, pathlib; print(pathlib.Path(snapshot_runner.__file__).parent)", command="python")
    )
    package = Path(where.strip())
    assert package.is_relative_to(installed_tool.parent), "imported from the checkout, not the wheel"
    # uv comes with it (a dependency): the --torch environments are made with it.
    uv = _ok(run_tool(installed_tool, project, "-c", "import uv; print(uv.find_uv_bin())", command="python")).strip()
    assert Path(uv).is_relative_to(installed_tool.parent)
    # Every file of the package ships: modules, migrations, their templates and config.
    source = {p.relative_to(REPO / "snapshot_runner") for p in (REPO / "snapshot_runner").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    installed = {p.relative_to(package) for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert source - installed == set() and installed - source == set()

    _ok(run_tool(installed_tool, project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--snapshot-update", command="python"))
    environment = (project / "goldens" / "snapshots" / "ENVIRONMENT").read_text()
    assert "torchao 0.18.0" in environment
    assert list((project / "goldens" / "snapshots" / "quant" / "nf4_linear").glob("*.txt"))
    assert "2 passed" in _ok(run_tool(installed_tool, project, "-m", "pytest", "-q", "-p", "no:cacheprovider", command="python"))

    # From a subdirectory: the section is found by walking up, its paths are the project's.
    run_id = _ok(run_tool(installed_tool, project / "src", "record", "--label", "first")).strip()
    assert run_id == "1" and (project / "goldens" / "history.sqlite").is_file()
    runs = _ok(run_tool(installed_tool, project / "src", "runs"))
    assert re.search(r"^1\s+first\s+2\.13\.0\S*\s+torchao 0\.18\.0\s+cpu\s+record\s+complete", runs, re.MULTILINE), runs
    drift = run_tool(installed_tool, project, "drift", "--from", "golden", "--to", "latest", "--format", "json")
    report = json.loads(_ok(drift))
    assert [(c["name"], c["status"]) for c in report["cases"]] == [(CASE, "unchanged")]
    assert report["from"]["environment_line"] == environment.strip()


@pytest.mark.multi_torch
def test_record_drift_and_bisect_across_torch_with_the_library_from_with(installed_tool: Path, project: Path) -> None:  # noqa: F811
    """The issue's 'Done when': no flags but --torch/--versions; torchao reaches every environment through `with`."""
    assert _ok(run_tool(installed_tool, project, "record")).strip() == "1"
    recorded = run_tool(installed_tool, project, "record", "--torch", "2.14.1")
    assert _ok(recorded).strip() == "2"
    drift = json.loads(_ok(run_tool(installed_tool, project, "drift", "--from", "1", "--to", "2", "--format", "json")))
    (changed,) = [c for c in drift["cases"] if c["name"] == CASE]
    # Real drift (2.13.0 -> 2.14.1): NF4's backward keeps the inner tensors, not the dequantized weight.
    assert changed["status"] == "changed" and {a["key"] for a in changed["artifacts"] if a["change"] == "changed"} >= {"aot_forward", "aot_backward"}
    assert drift["to"]["environment"]["packages"] == {"torchao": "0.18.0"}

    bisect = run_tool(installed_tool, project, "bisect", CASE, "--good", "1", "--bad", "2", "--versions", "2.14.0")
    text = _ok(bisect)
    assert "first bad: torch 2.14.0 (last good: 2.13.0)" in text, text + bisect.stderr
    assert "skipped: 0" in text
