"""The golden workflow in another repository, through the installed pytest
plugin: write goldens, pass unchanged, fail a changed graph with a readable
diff, say which torch the goldens came from, and clean up deleted cases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("golden_workflow")

CASE_TEMPLATE = """
import torch
from snapshot_runner import case

@case(dynamic=False)
def scale():
    def f(x):
        return x.{op}() * 2
    return f, (torch.ones(2, 3, requires_grad=True),)

@case(backend="eager", backward=False)
def shift():
    return (lambda x: x + 1), (torch.ones(2),)
"""


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )


def plugin_repo(root: Path, case_modules: dict[str, str]) -> Path:
    """An outside repository that uses only the plugin: ``cases/<path>`` modules,
    a one-line test module, and goldens written by ``--snapshot-update``."""
    for path, source in case_modules.items():
        (root / "cases" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "cases" / path).write_text(source)
    (root / "tests").mkdir()
    (root / "tests" / "test_goldens.py").write_text("from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401\n")
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    written = _pytest(root, "--snapshot-update")
    assert written.returncode == 0, written.stdout + written.stderr
    return root


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository with its goldens written, once per module: tests that only
    read or check it share it."""
    return plugin_repo(tmp_path_factory.mktemp("plugin_repo"), {"lib/ops.py": CASE_TEMPLATE.format(op="sin")})


@pytest.fixture
def repo(written: Path, tmp_path: Path) -> Path:
    """A copy of the written repository, for a test that edits cases or goldens."""
    return Path(shutil.copytree(written, tmp_path / "repo"))


def test_goldens_are_plain_files_mirroring_the_case(written: Path) -> None:
    golden = written / "snapshots" / "lib" / "ops" / "scale" / "aot_forward.txt"
    assert golden.read_text().startswith("class GraphModule(torch.nn.Module):\n")
    assert "torch.ops.aten.sin.default" in golden.read_text()
    assert (written / "snapshots" / "ENVIRONMENT").read_text().startswith("torch ")


def test_unchanged_code_passes(written: Path) -> None:
    proc = _pytest(written)
    assert proc.returncode == 0, proc.stdout


def test_changed_graph_fails_with_a_readable_diff(repo: Path) -> None:
    (repo / "cases" / "lib" / "ops.py").write_text(CASE_TEMPLATE.format(op="cos"))
    proc = _pytest(repo)
    assert proc.returncode == 1
    assert "lib.ops::scale: " in proc.stdout
    assert "--- golden/aot_forward" in proc.stdout and "+++ captured/aot_forward" in proc.stdout
    assert any(line.startswith("-") and "aten.sin.default" in line for line in proc.stdout.splitlines())
    assert any(line.startswith("+") and "aten.cos.default" in line for line in proc.stdout.splitlines())
    # sin -> cos changes the Dynamo graph and both AOT graphs (cos' derivative is
    # -sin); the guards (their comments name the source line, not its text) and
    # the compile summary stay. The header counts them.
    shown = set(re.findall(r"^E?\s*--- golden/(\S+)", proc.stdout, re.MULTILINE))
    assert shown == {"dynamo_graph", "aot_forward", "aot_backward"}
    assert "lib.ops::scale: 3 artifact(s) differ" in proc.stdout
    assert "\x1b[" not in proc.stdout  # plain text, no colour codes


def test_other_torch_is_named_first(repo: Path) -> None:
    (repo / "snapshots" / "ENVIRONMENT").write_text("torch 2.99.0+cu999, cuda:H100, python 3.11.7\n")
    (repo / "cases" / "lib" / "ops.py").write_text(CASE_TEMPLATE.format(op="cos"))
    proc = _pytest(repo)
    failure = proc.stdout[proc.stdout.index("test_golden[lib/ops/scale]") :]
    first = next(line for line in failure.splitlines()[1:] if line.strip() and not line.startswith("[gw"))
    assert first.startswith("golden made on torch 2.99.0+cu999, cuda:H100, python 3.11.7; running torch ")


def test_update_rewrites_and_deleted_cases_are_removed(repo: Path) -> None:
    (repo / "cases" / "lib" / "ops.py").write_text(
        CASE_TEMPLATE.format(op="cos").split("@case(backend")[0]  # drop the `shift` case
    )
    stale = _pytest(repo)
    assert stale.returncode == 1
    assert "goldens of 1 deleted case(s) remain: lib/ops/shift" in stale.stdout
    updated = _pytest(repo, "--snapshot-update")
    assert updated.returncode == 0, updated.stdout
    assert not (repo / "snapshots" / "lib" / "ops" / "shift").exists()
    assert "aten.cos.default" in (repo / "snapshots" / "lib" / "ops" / "scale" / "aot_forward.txt").read_text()
    assert _pytest(repo).returncode == 0


# Inductor draws its own random numbers (unless config.fallback_random): with the
# same seed the compiled result differs from eager, for real.
MISMATCH_CASE = """
import torch
from snapshot_runner import case

@case(backend="inductor", backward=False)
def random_noise():
    def f(x):
        return x + torch.rand_like(x)
    return f, (torch.zeros(8),)
"""


def test_compiled_result_differing_from_eager_fails_the_check(repo: Path) -> None:
    (repo / "cases" / "lib" / "noisy.py").write_text(MISMATCH_CASE)
    proc = _pytest(repo, "-k", "random_noise")
    assert proc.returncode == 1, proc.stdout
    assert "lib.noisy::random_noise: mismatch: compiled result differs from eager: Tensor-likes are not close! Mismatched elements: 8 / 8" in proc.stdout
    assert "1 failed, " in proc.stdout and "passed" not in proc.stdout
    assert not (repo / "snapshots" / "lib" / "noisy").exists()


def test_parallel_workers_pass(written: Path) -> None:
    proc = _pytest(written, "-n", "2")
    assert proc.returncode == 0, proc.stdout


NAMED_TEMPLATE = """
import torch
from snapshot_runner import case

@case(dynamic=False)
def named():
    def f(x):
        {name} = x.sin()
        return {name} * 2
    return f, (torch.ones(2, 3, requires_grad=True),)
"""


def test_a_renamed_graph_fails_by_default_and_passes_under_fail_on(tmp_path: Path) -> None:
    # A variable renamed in the case renames one node of the Dynamo graph; nothing else changes.
    repo = plugin_repo(tmp_path, {"lib/names.py": NAMED_TEMPLATE.format(name="y")})
    (repo / "cases" / "lib" / "names.py").write_text(NAMED_TEMPLATE.format(name="renamed_value"))
    strict = _pytest(repo)
    assert strict.returncode == 1
    assert "lib.names::named: 1 artifact(s) differ" in strict.stdout
    assert "--- dynamo_graph: renamed" in strict.stdout and "same graph, 1 names changed" in strict.stdout
    assert "+++ captured/dynamo_graph" not in strict.stdout  # the semantic view, not the text diff
    raw = _pytest(repo, "--snapshot-runner-raw-diff")
    assert raw.returncode == 1 and "+++ captured/dynamo_graph" in raw.stdout and "renamed_value" in raw.stdout
    lenient = _pytest(repo, "--snapshot-runner-fail-on", "metadata")
    assert lenient.returncode == 0, lenient.stdout
    assert "dynamo_graph changed (renamed); passes under --snapshot-runner-fail-on metadata" in lenient.stdout
    # The same policy from the project's configuration.
    (repo / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nsnapshot_runner_fail_on = reordered\n")
    assert _pytest(repo).returncode == 0
    (repo / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nsnapshot_runner_fail_on = loose\n")
    bad = _pytest(repo)
    assert bad.returncode == 4 and "snapshot_runner_fail_on = 'loose': not a level" in bad.stdout + bad.stderr
