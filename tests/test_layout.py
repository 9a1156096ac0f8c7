"""The package layout check (`scripts/check_layout.py`, run by `make lint`):
clean on the real tree, and failing on each kind of violation it exists for."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from .conftest import REPO

spec = importlib.util.spec_from_file_location("check_layout", REPO / "scripts" / "check_layout.py")
assert spec and spec.loader
check_layout = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layout)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "snapshot_runner"
    shutil.copytree(REPO / "snapshot_runner", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_package_has_no_cycles_and_a_torch_only_worker_side():
    assert check_layout.check(REPO / "snapshot_runner") == []


def test_an_import_cycle_is_found(tmp_path):
    root = _copy(tmp_path)
    common = root / "cli" / "common.py"
    # cli/__init__ imports cli.capture, which imports cli.common: now back again.
    common.write_text(common.read_text() + "\nfrom snapshot_runner.cli import main  # noqa: E402\n")
    problems = check_layout.check(root)
    assert [p for p in problems if p.startswith("import cycle:")] == [
        "import cycle: snapshot_runner.cli -> snapshot_runner.cli.bisect -> snapshot_runner.cli.capture -> snapshot_runner.cli.common"
        " -> snapshot_runner.cli.envs -> snapshot_runner.cli.history -> snapshot_runner.cli.init -> snapshot_runner.cli.nightly"
        " -> snapshot_runner.cli.serve"
    ]


def test_the_worker_side_may_not_import_the_host_side(tmp_path):
    root = _copy(tmp_path)
    case = root / "capture" / "case.py"
    case.write_text(case.read_text() + "\n\ndef _late():\n    from snapshot_runner.history.store import Store\n    import sqlalchemy\n")
    problems = check_layout.check(root)
    assert f"{case}: the worker side imports snapshot_runner.history.store (capture/ may import only capture/)" in problems
    assert f"{case}: the worker side imports sqlalchemy (the worker needs only torch)" in problems


def test_a_long_module_must_say_why(tmp_path):
    root = _copy(tmp_path)
    module = root / "drift" / "structure.py"
    module.write_text(module.read_text() + "\n" * 400)
    problems = check_layout.check(root)
    assert any(p.startswith(f"{module}: ") and "over 400" in p for p in problems)
