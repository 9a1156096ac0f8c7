"""A real second torch: ``--torch 2.14.1`` installs it (~5.5 GB with its CUDA
libraries, minutes) into the env cache once, then reuses it. Run with
``make test-torch``; ``make test`` leaves these out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapshot_runner.envs.cache import EnvCache

from .conftest import REPO, run_cli

pytestmark = pytest.mark.multi_torch

OTHER_TORCH = "2.14.1"
# `-k two_tensor`: every case of cases/subclasses/two_tensor.py, in file order.
TWO_TENSOR_CASES = [
    "twotensor_simple", "twotensor_clone_view", "twotensor_mul_sizes", "twotensor_view", "twotensor_view_mul",
    "twotensor_return_tensor_and_subclass", "twotensor_then_plain_recompiles", "twotensor_narrow_view_input",
    "twotensor_split_view_input", "twotensor_input_mutation", "twotensor_automatic_dynamic", "twotensor_mark_dynamic",
    "twotensor_graph_break", "twotensor_and_plain_inputs",
]  # fmt: skip


def _golden(name: str, key: str) -> str | None:
    module, _, function = name.partition("::")
    path = REPO / "snapshots" / Path(*module.split(".")) / function / f"{key}.txt"
    return path.read_text(encoding="utf-8") if path.exists() else None


@pytest.fixture(scope="module")
def other_torch_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("multi_torch") / "report.json"
    proc = run_cli("capture", "--torch", OTHER_TORCH, "-k", "two_tensor", "--json", str(out))
    return proc, json.loads(out.read_text()) if out.exists() else None


def test_capture_runs_under_the_requested_torch(other_torch_run) -> None:
    proc, report = other_torch_run
    assert report is not None, proc.stderr
    assert report["environment"]["torch_version"].split("+")[0] == OTHER_TORCH
    env = next(e for e in EnvCache().envs() if e.key.startswith(f"torch-{OTHER_TORCH}-"))
    assert report["environment"]["python_executable"] == str(env.python)
    # Every TwoTensor case compiles under 2.14.1 (real run: 14 ok).
    statuses = {c["name"]: c["status"] for c in report["cases"]}
    assert statuses == {f"subclasses.two_tensor::{name}": "ok" for name in TWO_TENSOR_CASES}, proc.stderr


def test_twotensor_forward_graphs_differ_from_the_2_13_goldens(other_torch_run) -> None:
    # Real change between 2.13.0 and 2.14.1: subclass inner sizes become graph inputs.
    # Real run: these 9 forward graphs change, the other 4 stay as they were, and
    # twotensor_then_plain_recompiles is eager-backend (no AOT graph).
    _, report = other_torch_run
    forwards = {c["name"].split("::")[1]: c["artifacts"]["aot_forward"] for c in report["cases"] if "aot_forward" in c["artifacts"]}
    changed = {name for name, text in forwards.items() if text != _golden(f"subclasses.two_tensor::{name}", "aot_forward")}
    assert changed == {
        "twotensor_simple", "twotensor_clone_view", "twotensor_mul_sizes", "twotensor_view", "twotensor_view_mul",
        "twotensor_return_tensor_and_subclass", "twotensor_split_view_input", "twotensor_mark_dynamic",
        "twotensor_and_plain_inputs",
    }  # fmt: skip
    assert set(forwards) - changed == {"twotensor_narrow_view_input", "twotensor_input_mutation", "twotensor_automatic_dynamic", "twotensor_graph_break"}


def test_envs_list_shows_the_installed_torch(other_torch_run) -> None:
    proc = run_cli("envs", "list")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith(f"torch-{OTHER_TORCH}-"))
    assert f" {OTHER_TORCH} " in line and f"torch=={OTHER_TORCH}" in line
