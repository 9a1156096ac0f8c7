"""Every bad-input path: one clear line, the other cases still run, a non-zero
exit, and no traceback unless --debug."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

GOOD = """
import torch
from snapshot_runner import case

@case(backend="eager", backward=False)
def good():
    return (lambda x: x + 1), (torch.ones(2),)
"""

BROKEN = {
    "import_error.py": "import torch\nraise RuntimeError('boom at import')\n",
    "factory_raises.py": textwrap.dedent("""
        from snapshot_runner import case

        @case
        def factory_raises():
            raise ValueError("no inputs for you")
    """),
    "compile_fails.py": textwrap.dedent("""
        import torch
        from snapshot_runner import case

        @case(backend="eager", fullgraph=True, backward=False)
        def graph_break_under_fullgraph():
            def f(x):
                torch._dynamo.graph_break()
                return x + 1
            return f, (torch.ones(2),)
    """),
}


@pytest.fixture(scope="module")
def bad_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad_cases")
    (root / "good.py").write_text(GOOD)
    for name, text in BROKEN.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def bad_run(bad_cases: Path):
    from .conftest import run_cli

    out = bad_cases / "report.json"
    return run_cli("capture", "--cases-dir", str(bad_cases), "--json", str(out)), json.loads(out.read_text())


def test_exit_status_is_non_zero(bad_run) -> None:
    proc, _ = bad_run
    assert proc.returncode == 1


def test_no_traceback_without_debug(bad_run) -> None:
    proc, _ = bad_run
    assert "Traceback" not in proc.stderr


def test_import_error_names_file_and_line(bad_run, bad_cases: Path) -> None:
    proc, _ = bad_run
    import torch

    expected = f"{bad_cases / 'import_error.py'}:2: cannot import case module import_error under torch {torch.__version__}: RuntimeError: boom at import"
    (line,) = [line for line in proc.stderr.splitlines() if "import_error.py" in line]
    assert line == f"error: {expected}"  # no --with hint: nothing is missing


def test_factory_error_names_file_and_line(bad_run, bad_cases: Path) -> None:
    _, report = bad_run
    result = {c["name"]: c for c in report["cases"]}["factory_raises::factory_raises"]
    assert result["status"] == "error"
    assert result["error"].startswith(f"{bad_cases / 'factory_raises.py'}:6: factory: ValueError: no inputs for you")


def test_compile_error_is_reported_and_others_still_run(bad_run) -> None:
    _, report = bad_run
    by_name = {c["name"]: c for c in report["cases"]}
    failed = by_name["compile_fails::graph_break_under_fullgraph"]
    assert failed["status"] == "error" and "compile: " in failed["error"]
    assert by_name["good::good"]["status"] == "ok"
    assert "dynamo_graph" in by_name["good::good"]["artifacts"]


def test_each_failure_is_one_line(bad_run) -> None:
    proc, _ = bad_run
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 3
    assert proc.stderr.splitlines()[-1] == "3 cases: 1 ok, 2 error"


def test_debug_shows_the_traceback(bad_cases: Path, cli) -> None:
    proc = cli("capture", "--cases-dir", str(bad_cases), "--case", "factory_raises::factory_raises", "--debug")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr


def test_unknown_case_name(cli) -> None:
    proc = cli("capture", "--case", "subclasses.two_tensor::no_such_case")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "snapshot-runner: error: unknown case name: subclasses.two_tensor::no_such_case"


def test_missing_cases_dir(cli, tmp_path: Path) -> None:
    proc = cli("list", "--cases-dir", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"snapshot-runner: error: cases directory not found: {tmp_path / 'nowhere'}"


def test_show_unknown_artifact(cli) -> None:
    proc = cli("show", "subclasses.torch_function::passthrough_add", "aot_forward")
    assert proc.returncode == 2
    assert "has no artifact 'aot_forward'; it has: dynamo_graph, guards, compile" in proc.stderr
