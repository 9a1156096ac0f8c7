"""The md drift report shows text from cases (a guard, a case name) as text:
outside code fences it is HTML-escaped, so ``<script>`` or ``<!--`` never
becomes markup in an issue comment."""

from __future__ import annotations

import json
import re
from pathlib import Path

from snapshot_runner.drift.compare import ArtifactDrift, CaseDrift, DriftReport, Side
from snapshot_runner.drift.renderers.markdown import render

from .conftest import run_cli

GUARDS = "TREE_GUARD_MANAGER:\n+- RootGuardManager\n| +- DEFAULT_DEVICE: utils_device.CURRENT_DEVICE == None\n"
HOSTILE = "| +- LAMBDA_GUARD: L['x'] == '<script>alert(1)</script> <!-- hidden'\n"


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```$", "", markdown, flags=re.MULTILINE | re.DOTALL)


def _report(path: Path, guards: str) -> str:
    case = {"name": "m::f", "status": "ok", "artifacts": {"guards": guards}, "error": None}
    report = {"environment": {"torch_version": "2.13.0+cpu", "device": "cpu", "python": "3.11.0"}, "normalize": "canonical", "cases": [case], "load_errors": []}
    path.write_text(json.dumps(report))
    return str(path)


def test_guard_text_outside_fences_is_escaped(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    for name, guards in (("before", GUARDS), ("after", GUARDS + HOSTILE)):
        assert run_cli("record", "--from-json", _report(tmp_path / f"{name}.json", guards), "--db", db).returncode == 0
    proc = run_cli("drift", "--from", "1", "--to", "2", "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "<script>" in proc.stdout  # in the diff's fence, as it is
    prose = _outside_fences(proc.stdout)
    assert "<script" not in prose and "<!--" not in prose
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;!-- hidden" in prose


def test_a_case_name_in_a_summary_is_escaped() -> None:
    side = Side(ref="golden", description={}, results={}, read_texts=dict)
    case = CaseDrift("m::f<!--", "changed", "ok", "ok", [ArtifactDrift("compile", "changed", "text", ["graphs: 1 → 2"], "-graphs: 1\n+graphs: 2\n")])
    text = render(DriftReport(side, side, [case]))
    assert "<summary><code>m::f&lt;!--</code>" in text
    assert "<!--" not in _outside_fences(text)
