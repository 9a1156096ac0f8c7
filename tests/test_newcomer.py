"""A newcomer's paper cuts (issue 22): what a library author hit in the first
hour with real libraries, each fixed and kept fixed here. The nightly's second
report of a day is in ``test_nightly.py``, ``envs prune KEY`` in ``test_envs.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.recorder import capture_cases
from snapshot_runner.capture.results import CaseStatus

from .conftest import REPO, run_cli


def _capture(cases_dir: Path, module: str, source: str) -> dict[str, object]:
    (cases_dir / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    (result,) = capture_cases(discover(cases_dir).cases, ctx=Context.current(cases_dir))
    assert result.status == CaseStatus.OK, result.error
    return result.artifacts


def test_backward_gets_the_output_as_returned(tmp_path: Path) -> None:
    """A dict output (as a TensorDict's) reaches ``backward=`` whole, not leaf by leaf."""
    artifacts = _capture(
        tmp_path,
        "pytree_output",
        """
        import torch
        from snapshot_runner import case

        @case(backward=lambda out: out["out"].sum() + out["aux"]["scale"])
        def dict_output():
            w = torch.randn(3, 4, requires_grad=True)

            def f(x):
                y = x @ w
                return {"out": y, "aux": {"scale": y.abs().amax()}}

            return f, (torch.randn(2, 3, requires_grad=True),)
        """,
    )
    assert "aot_backward" in artifacts


def test_graph_break_reasons_say_how_often(tmp_path: Path) -> None:
    """7 graph breaks of 3 kinds: Dynamo counts repeats of one reason; the artifact
    says each reason's count, so the listed reasons add up to the total."""
    artifacts = _capture(
        tmp_path,
        "graph_breaks",
        """
        import torch
        from snapshot_runner import case

        @case(fullgraph=False, backward=False)
        def seven_breaks():
            def f(x):
                x = x + 1
                torch._dynamo.graph_break()
                x = x * 2
                print("a")
                x = x - 1
                torch._dynamo.graph_break()
                x = x.sin()
                print("b")
                n = int(x.sum().item() > 0)
                x = x + n
                torch._dynamo.graph_break()
                m = int(x.mean().item() > 0)
                return x + m

            return f, (torch.randn(4),)
        """,
    )
    summary = str(artifacts["compile"])
    assert "graph breaks: 7\n" in summary
    assert "  - Call to `torch._dynamo.graph_break()` (3 times)\n" in summary
    assert "  - Unsupported Tensor.item() call with capture_scalar_outputs=False (2 times)\n" in summary
    listed = [line for line in summary.splitlines() if line.startswith("  - ")]
    assert sum(int(line.rsplit("(", 1)[1].split()[0]) if line.endswith("times)") else 1 for line in listed) == 7


@pytest.fixture
def import_name_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project tracking ``quanto``, an import name, where the distribution
    ``optimum-quanto`` provides it (a real dist-info on the path, as pip writes one)."""
    site = tmp_path / "site"
    info = site / "optimum_quanto-0.2.7.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: optimum-quanto\nVersion: 0.2.7\n")
    (info / "top_level.txt").write_text("quanto\n")
    project = tmp_path / "project"
    (project / "cases").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text('[tool.snapshot-runner]\ntrack = ["quanto"]\n')
    for name in ("one", "two", "three"):
        (project / "cases" / f"{name}.py").write_text(
            f"import torch\nfrom snapshot_runner import case\n\n@case\ndef {name}():\n    return torch.sin, (torch.ones(2),)\n"
        )
    (project / "tests" / "test_goldens.py").write_text("from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401\n")
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONWARNINGS": "ignore"}
    return project, env


HINT = (
    "; did you mean optimum-quanto (it provides `import quanto`; track takes distribution names)?"
    "; the environments the tool makes get a package with `with` in [tool.snapshot-runner] or --with REQ"
)


def test_track_of_an_import_name_suggests_its_distribution(import_name_project: tuple[Path, dict[str, str]]) -> None:
    project, env = import_name_project
    proc = subprocess.run(
        [sys.executable, "-m", "snapshot_runner.cli", "capture", "--python", sys.executable], cwd=project, capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 2
    (line,) = [line for line in proc.stderr.splitlines() if "quanto" in line]
    assert line.startswith("snapshot-runner: error: track: quanto is not installed under torch ") and line.endswith(HINT)


def test_a_plugin_configuration_error_is_one_line_once(import_name_project: tuple[Path, dict[str, str]]) -> None:
    project, env = import_name_project
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"], cwd=project, capture_output=True, text=True, env=env
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, output
    quanto = [line for line in output.splitlines() if "quanto" in line]
    assert len(quanto) == 1 and quanto[0].startswith("ERROR: track: quanto is not installed") and quanto[0].endswith(HINT), output
    assert "Traceback" not in output and "raise pytest.UsageError" not in output


def test_track_of_a_missing_distribution_hints_at_with(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.snapshot-runner]\ntrack = ["no-such-distribution"]\n')
    proc = run_cli("capture", "--python", sys.executable, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "track: no-such-distribution is not installed"
        f" under torch {_torch_version()} ({sys.executable}); the environments the tool makes get a package with `with` in [tool.snapshot-runner] or --with REQ"
    )


def _torch_version() -> str:
    import torch

    return torch.__version__


@pytest.mark.multi_torch
def test_capture_under_another_torch_says_how_to_compare_with_the_goldens() -> None:
    proc = run_cli("capture", "--torch", "2.14.1", "-k", "twotensor_view", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "compared with the goldens by: snapshot-runner drift --from golden --torch 2.14.1 -k twotensor_view"


def test_a_failed_compile_leaves_no_globals_for_the_next_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compile that fails (here a graph break under fullgraph) in a frame of a
    library module shared by the cases (a quantized layer's ``forward``) left
    ``__builtins_dict___0`` in that module; the next case compiling that frame
    failed with ``Name '__builtins_dict___0' already exists in scope``."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "shared_block.py").write_text(
        textwrap.dedent(
            """
            import torch

            class Block(torch.nn.Module):
                def __init__(self, broken):
                    super().__init__()
                    self.broken = broken

                def forward(self, x):
                    y = x * len(x.shape)
                    if self.broken:
                        torch._dynamo.graph_break()
                    return y.sin()
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(lib))
    cases_dir = tmp_path / "cases"
    cases_dir.mkdir()
    (cases_dir / "leak.py").write_text(
        textwrap.dedent(
            """
            import torch
            from shared_block import Block
            from snapshot_runner import case

            @case(backward=False)
            def a_broken():
                return Block(True), (torch.randn(2, 3),)

            @case(backward=False)
            def b_fine():
                return Block(False), (torch.randn(2, 3),)
            """
        ),
        encoding="utf-8",
    )
    cases = discover(cases_dir).cases
    results = capture_cases([*cases, *cases], ctx=Context.current(cases_dir))
    assert [r.status for r in results] == [CaseStatus.ERROR, CaseStatus.OK] * 2, [r.error for r in results]
    assert all("graph_break" in (r.error or "") for r in results[::2])
    import shared_block

    assert not [name for name in vars(shared_block) if name.startswith("__builtins_dict")]
