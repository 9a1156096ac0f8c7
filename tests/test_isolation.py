"""A case cannot change the next one's graphs: each state-changing case of
tests/data/poison runs before a copy of the victim, whose graph shape encodes
the state it sees; every copy equals the victim captured alone."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from .conftest import run_cli

POISON = Path(__file__).parent / "data" / "poison"


def _state_module():
    sys.path.insert(0, str(POISON))
    try:
        spec = importlib.util.spec_from_file_location("poison_state", POISON / "state.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(POISON))


STATE = _state_module()


@pytest.mark.parametrize("name", list(STATE.CHANGES))
def test_each_change_is_seen_by_the_victim_and_undone_by_restore(name: str) -> None:
    """The test data is sharp (the victim sees each change) and ``restore`` undoes it."""
    from snapshot_runner.capture.isolation import Baseline

    sys.path.insert(0, str(POISON))
    baseline = Baseline.take(POISON)
    baseline.keep_modules()
    baseline.restore()  # seeds the RNGs
    try:
        before = (STATE._signature(), _draws())
        STATE.CHANGES[name]()
        assert (STATE._signature(), _draws()) != before
        baseline.restore()
        assert (STATE._signature(), _draws()) == before
    finally:
        baseline.restore()
        sys.path.remove(str(POISON))


def _draws() -> tuple[float, float]:
    """The next numbers of the RNGs a case may use, without drawing them."""
    import random

    import torch

    python, torch_state = random.getstate(), torch.get_rng_state()
    try:
        return random.random(), float(torch.rand((), device="cpu", dtype=torch.float32))
    finally:
        random.setstate(python)
        torch.set_rng_state(torch_state)


def test_victim_after_each_change_equals_victim_alone(tmp_path: Path) -> None:
    alone = run_cli("capture", "--cases-dir", str(POISON), "--case", "state::victim", "--json", "-")
    assert alone.returncode == 0, alone.stderr
    (victim,) = json.loads(alone.stdout)["cases"]
    # Relative: a case's chdir must not move where the report goes.
    out = Path("poisoned.json")
    proc = run_cli("capture", "--cases-dir", str(POISON), "--json", str(out), cwd=tmp_path)
    cases = {c["name"]: c for c in json.loads((tmp_path / out).read_text())["cases"]}
    after = {name: cases[f"state::victim_after_{name}"] for name in STATE.CHANGES}
    assert {name: (c["status"], c["artifacts"]) for name, c in after.items()} == {name: (victim["status"], victim["artifacts"]) for name in STATE.CHANGES}
    # Changers may fail (a dispatch mode breaks their own compile), never the victims.
    assert proc.returncode in (0, 1)
