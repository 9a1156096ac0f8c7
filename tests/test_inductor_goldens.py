"""Inductor goldens end to end: a real change in fusion fails the golden test
(real syrupy, through the installed plugin, in another repository) while
unchanged code passes; GPU cases skip cleanly without CUDA and keep their
goldens in a variant directory that no CPU run touches or deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapshot_runner.capture.case import case
from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.recorder import capture_case
from snapshot_runner.capture.results import CaptureReport
from snapshot_runner.goldens.layout import case_root, orphan_case_dirs, read_goldens, variant
from snapshot_runner.goldens.variants import write_goldens

from .conftest import CASES, REPO, run_cli
from .test_golden_workflow import _pytest, plugin_repo

FUSION_CASE = """
import torch
from snapshot_runner import case

@case(backend="inductor", backward=False, config={{{config}}})
def shifted_exp():
    return (lambda x: (x - x.amax(1, keepdim=True)).exp()), (torch.randn(4, 8),)
"""
NO_FUSION = '"torch._inductor.config.max_fusion_size": 1'


@pytest.fixture
def inductor_repo(tmp_path: Path) -> Path:
    return plugin_repo(tmp_path, {"fused.py": FUSION_CASE.format(config="")})


def test_fusion_change_fails_and_unchanged_passes(inductor_repo: Path) -> None:
    kernels = (inductor_repo / "snapshots" / "fused" / "shifted_exp" / "inductor_kernels.txt").read_text()
    assert "kernels: 1\n" in kernels and "     nodes: amax, sub, exp\n" in kernels

    assert _pytest(inductor_repo).returncode == 0

    (inductor_repo / "cases" / "fused.py").write_text(FUSION_CASE.format(config=NO_FUSION))
    proc = _pytest(inductor_repo)
    assert proc.returncode == 1
    assert "--- golden/inductor_kernels" in proc.stdout
    # The reduction no longer fuses with its consumer: two scheduler nodes in one C++ kernel.
    assert "-     nodes: amax, sub, exp" in proc.stdout
    assert "+     nodes: amax | sub, exp" in proc.stdout


def test_gpu_cases_skip_without_cuda_with_the_reason() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    gpu = [c for c in discover(CASES).cases if c.module.startswith("gpu.")]
    assert len(gpu) >= 10
    result = capture_case(gpu[0], ctx=Context.current(CASES))
    assert (result.status, result.error) == ("skipped", "requires cuda: no CUDA device available")


@case(backend="inductor", requires=("cuda", "triton"))
def _gpu_case():
    raise AssertionError("never run")


def test_gpu_goldens_live_in_a_variant_named_from_torch(tmp_path: Path) -> None:
    gpu = _gpu_case.with_location("gpu.models::mlp", "")
    cpu = case(lambda: None).with_location("inductor.models::mlp", "")
    assert variant(gpu, "2.11.0+cu130") == "cuda-torch2.11"
    assert variant(cpu, "2.11.0+cu130") is None
    assert case_root(tmp_path, gpu, "2.13.0+cpu") == tmp_path / "cuda-torch2.13"
    assert case_root(tmp_path, cpu, "2.13.0+cpu") == tmp_path


def test_orphan_check_keeps_other_variants_goldens(tmp_path: Path) -> None:
    gpu = _gpu_case.with_location("gpu.models::mlp", "")
    for variant_dir in ("cuda-torch2.11", "cuda-torch2.12"):
        (tmp_path / variant_dir / "gpu" / "models" / "mlp").mkdir(parents=True)
        (tmp_path / variant_dir / "gpu" / "models" / "mlp" / "inductor_kernels.txt").write_text("x\n")
        (tmp_path / variant_dir / "ENVIRONMENT").write_text("torch ...\n")
    (tmp_path / "cuda-torch2.11" / "gpu" / "models" / "deleted").mkdir()
    (tmp_path / "cuda-torch2.11" / "gpu" / "models" / "deleted" / "compile.txt").write_text("x\n")
    assert orphan_case_dirs(tmp_path, [gpu]) == [tmp_path / "cuda-torch2.11" / "gpu" / "models" / "deleted"]


def test_goldens_from_a_report_equal_those_syrupy_wrote(tmp_path: Path) -> None:
    name = "inductor.subclasses::scaled_sin"
    out = tmp_path / "report.json"
    proc = run_cli("capture", "--case", name, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = CaptureReport.from_json(json.loads(out.read_text()))
    assert write_goldens(report, discover(CASES).cases, tmp_path / "snapshots") == []
    the_case = discover(CASES).by_name()[name]
    assert read_goldens(tmp_path / "snapshots", the_case) == read_goldens(REPO / "snapshots", the_case)
