"""A case's artifacts are byte-identical whether it runs first, last, alone, in
reverse order or from another checkout path. (Parallel workers: `make test`
runs the golden check under `-n 2` against the same goldens.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from snapshot_runner.capture.discovery import discover
from snapshot_runner.capture.normalize import Context
from snapshot_runner.capture.recorder import capture_case

from .conftest import CASES, run_cli

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("determinism")


def _capture_json(*args: str, cases_dir: Path = CASES, out: Path) -> dict[str, dict[str, str]]:
    proc = run_cli("capture", "--cases-dir", str(cases_dir), "--json", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return {c["name"]: c["artifacts"] for c in json.loads(out.read_text())["cases"]}


@pytest.fixture(scope="module")
def forward_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return _capture_json(out=tmp_path_factory.mktemp("fwd") / "r.json")


@pytest.mark.slow
def test_reverse_order_is_byte_identical(forward_run, tmp_path: Path) -> None:
    # Every case but Inductor's models (two thirds of the compile time, and run
    # with every compiler cache off anyway): the subclass, nested-int,
    # graph-break and recompile cases whose state could leak into the next case.
    names = [n for n in forward_run if n.split("::")[0] != "inductor.models"][::-1]
    assert len(names) == len(forward_run) - 5
    reverse = _capture_json(*[a for n in names for a in ("--case", n)], out=tmp_path / "r.json")
    assert list(reverse) == names
    assert reverse == {n: forward_run[n] for n in names}


@pytest.mark.slow
def test_other_checkout_path_is_byte_identical(forward_run, tmp_path: Path) -> None:
    elsewhere = tmp_path / "another" / "checkout" / "cases"
    shutil.copytree(CASES, elsewhere, ignore=shutil.ignore_patterns("__pycache__"))
    moved = _capture_json(cases_dir=elsewhere, out=tmp_path / "r.json")
    assert moved == forward_run


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "subclasses.torch_function::passthrough_add",  # runs right after a graph-break case otherwise
        "subclasses.scaled::ctx_metadata_changed_constant",
        "nested.jagged_views::nt_base_obscure_view",
        "subclasses.two_tensor::twotensor_graph_break",
    ],
)
def test_alone_is_byte_identical(forward_run, name: str, tmp_path: Path) -> None:
    alone = _capture_json("--case", name, out=tmp_path / "r.json")
    assert alone[name] == forward_run[name]


def test_same_process_twice_after_a_graph_break() -> None:
    # The graph break leaves Dynamo globals alive past reset(); the next case
    # in the same module must not see them.
    found = discover(CASES).by_name()
    ctx = Context.current(CASES)
    target = found["subclasses.torch_function::passthrough_add"]
    first = capture_case(target, ctx=ctx)
    capture_case(found["subclasses.torch_function::disabled_subclass_mode_graph_break"], ctx=ctx)
    again = capture_case(target, ctx=ctx)
    assert first.status == again.status == "ok"
    assert again.artifacts == first.artifacts


# A graph break (resume function), a recompile reason quoting the case, a guard
# made inside a helper module's __torch_function__, and a plain case.
EDITED_MODULE_CASES = [
    "subclasses.two_tensor::twotensor_graph_break",
    "subclasses.scaled::optional_scale_recompiles",
    "subclasses.torch_function::non_tensor_wrapper",
    "subclasses.two_tensor::twotensor_view",
]


def test_a_comment_line_at_the_top_of_a_case_module_changes_no_artifact(tmp_path: Path) -> None:
    def capture_all(cases_dir: Path) -> dict[str, dict[str, str]]:
        # One process per checkout: helper modules (subclasses._tensors) are imported once per process.
        selection = [arg for name in EDITED_MODULE_CASES for arg in ("--case", name)]
        return _capture_json(*selection, cases_dir=cases_dir, out=cases_dir.parent / "r.json")

    original, edited = tmp_path / "original" / "cases", tmp_path / "edited" / "cases"
    for root in (original, edited):
        shutil.copytree(CASES, root, ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("subclasses/two_tensor.py", "subclasses/scaled.py", "subclasses/torch_function.py", "subclasses/_tensors.py"):
        path = edited / module
        path.write_text("# a comment added at the top\n" + path.read_text())
    before, after = capture_all(original), capture_all(edited)
    # The artifacts do quote places in the case files, and those moved by one line.
    assert any("<cases>/subclasses/two_tensor.py:+" in text for text in before["subclasses.two_tensor::twotensor_graph_break"].values())
    assert any("<cases>/subclasses/_tensors.py:+" in text for text in before["subclasses.torch_function::non_tensor_wrapper"].values())
    assert after == before
