"""Stability as a checked property: ``check-stable`` reports an artifact that
differs between fresh workers with its lines, ``pytest --snapshot-update``
refuses to write it (and writes the rest), and a user's ``normalize`` rule
makes it stable, recorded with the goldens and with each run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapshot_runner.capture.results import CaptureReport, CaseResult, CaseStatus
from snapshot_runner.stability import compare, refusal, suggest_rule

from .conftest import run_cli

# One worker runs this module (make test: --dist loadgroup); each test starts real workers.
pytestmark = pytest.mark.xdist_group("stability")

# A graph constant taken from id(): different in every process; one from
# str hashing: different under each run's hash seed. ``steady`` is neither.
LEAK = """
import torch
from snapshot_runner import case

TOKEN = object()


@case(backend="eager", backward=False)
def leaky():
    key = id(TOKEN)

    def f(x):
        return x + key

    return f, (torch.ones(2, dtype=torch.float64),)


@case(backend="eager", backward=False)
def steady():
    return (lambda x: x * 3), (torch.ones(2),)
"""
HASHED = """
import torch
from snapshot_runner import case


@case(backend="eager", backward=False)
def hashed():
    key = hash("snapshot") % 997

    def f(x):
        return x * key

    return f, (torch.ones(2),)
"""
RULE = "normalize = [{ name = \"token_ids\", pattern = '\\b\\d{9,}\\b', replace = '<token-id>' }]"


def _project(root: Path, section: str = "", *, hashed: bool = False) -> Path:
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "leak.py").write_text(LEAK)
    if hashed:
        (root / "cases" / "hashing.py").write_text(HASHED)
    (root / "tests").mkdir()
    (root / "tests" / "test_goldens.py").write_text("from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401\n")
    (root / "pyproject.toml").write_text(f"[tool.snapshot-runner]\n{section}\n\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_check_stable_reports_a_leaked_id_with_its_line(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo", hashed=True)
    done = run_cli("check-stable", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "unstable: leak::leaky: dynamo_graph" in out
    # The differing line itself, from each run: the constant is the id.
    removed = [line for line in out.splitlines() if line.startswith("    -") and "add" in line and "l_x_ +" in line]
    added = [line for line in out.splitlines() if line.startswith("    +") and "add" in line and "l_x_ +" in line]
    assert removed and added and removed[0][5:] != added[0][5:]
    # The hash seed differs between runs (1 and 2: 584 and 935).
    assert "unstable: hashing::hashed: dynamo_graph" in out
    assert '-        mul: "f32[2]" = l_x_ * 584' in out and '+        mul: "f32[2]" = l_x_ * 935' in out
    assert "steady" not in out
    assert "3 cases, 2 runs:" in done.stderr and "unstable artifact(s)" in done.stderr


def test_check_stable_passes_stable_cases_and_a_bad_rule_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    done = run_cli("check-stable", "-k", "steady", "--repeat", "3", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 cases, 3 runs: all stable" in done.stderr
    bad = _project(tmp_path / "bad", "normalize = [{ name = \"ids\", pattern = '(', replace = '' }]")
    done = run_cli("check-stable", cwd=bad)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "normalize rule 'ids': pattern '(' is not a regular expression" in done.stderr


def test_snapshot_update_refuses_the_unstable_artifact_and_a_user_rule_fixes_it(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    written = _pytest(root, "--snapshot-update")
    assert written.returncode == 1, written.stdout + written.stderr
    refusals = [line for line in written.stdout.splitlines() if "not writing" in line]
    # One line: case, artifact, the first differing line of each run, and a rule to add.
    assert any(line.startswith("leak::leaky: not writing dynamo_graph: it differs between fresh runs (run 1: ") for line in refusals), written.stdout
    assert all("add to [tool.snapshot-runner]: normalize = [{ name = " in line for line in refusals)
    leaky, steady = root / "snapshots" / "leak" / "leaky", root / "snapshots" / "leak" / "steady"
    assert not (leaky / "dynamo_graph.txt").exists()
    assert (leaky / "compile.txt").is_file()  # stable artifacts of the same case are written
    assert (steady / "dynamo_graph.txt").is_file() and (steady / "guards.txt").is_file()

    # The rule it suggests, in general form: the goldens are written, recorded with the rule, and pass.
    (root / "pyproject.toml").write_text(f"[tool.snapshot-runner]\n{RULE}\n\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    written = _pytest(root, "--snapshot-update")
    assert written.returncode == 0, written.stdout
    assert "l_x_ + <token-id>" in (leaky / "dynamo_graph.txt").read_text()
    environment = (root / "snapshots" / "ENVIRONMENT").read_text().splitlines()
    assert environment[1:] == ['normalize token_ids: "\\\\b\\\\d{9,}\\\\b" -> "<token-id>"']
    checked = _pytest(root)
    assert checked.returncode == 0, checked.stdout

    # A run records the rules it applied.
    from snapshot_runner.history.store import Store

    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    recorded = run_cli("record", "--db", url, cwd=root)
    assert recorded.returncode == 0, recorded.stderr
    store = Store.open(url)
    try:
        (run,) = store.runs()
        assert run.normalize_rules == [{"name": "token_ids", "pattern": "\\b\\d{9,}\\b", "replace": "<token-id>"}]
    finally:
        store.close()
    # The worker applied the rule: the run equals the goldens.
    drift = run_cli("drift", "--db", url, "--from", "golden", "--to", "1", cwd=root)
    assert drift.returncode == 0 and "0 changed" in drift.stderr + drift.stdout, drift.stdout + drift.stderr


def test_environment_file_keeps_the_rules_and_notes_a_difference(tmp_path: Path) -> None:
    from snapshot_runner.goldens.layout import environment_note, read_environment, write_environment

    env = {"torch_version": "2.13.0+cpu", "device": "cpu", "python": "3.11.7"}
    rule = {"name": "ids", "pattern": "_\\d{15,}", "replace": "_<id>"}
    write_environment(tmp_path, env, [rule])
    assert (tmp_path / "ENVIRONMENT").read_text() == 'torch 2.13.0+cpu, cpu, python 3.11.7\nnormalize ids: "_\\\\d{15,}" -> "_<id>"\n'
    assert read_environment(tmp_path) == "torch 2.13.0+cpu, cpu, python 3.11.7"
    assert environment_note(tmp_path, env, [rule]) is None
    note = environment_note(tmp_path, env)
    assert note is not None and "goldens made with normalize rules [normalize ids:" in note and "running with [none]" in note


def _report(**artifacts: str) -> CaptureReport:
    return CaptureReport(environment={}, cases=[CaseResult(name="m::c", status=CaseStatus.OK, artifacts=artifacts)])


def test_compare_names_each_differing_artifact_and_its_first_line() -> None:
    a = _report(guards="+- A\n+- G['_140220710397776_c0'].Tensor\n", compile="same\n")
    b = _report(guards="+- A\n+- G['_139866582778000_c0'].Tensor\n", compile="same\n")
    result = compare([a, b])
    (unstable,) = result.unstable
    assert (unstable.case, unstable.artifact, unstable.runs) == ("m::c", "guards", (1, 2))
    assert unstable.first_lines == ("+- G['_140220710397776_c0'].Tensor", "+- G['_139866582778000_c0'].Tensor")
    assert not result.stable
    assert compare([a, a]).stable
    # An artifact only one run has is unstable too.
    assert [u.artifact for u in compare([a, _report(compile="same\n")]).unstable] == ["guards"]


def test_suggested_rule_makes_the_lines_equal() -> None:
    import re
    import tomllib

    old, new = "+- G['_140220710397776_c0'].Tensor", "+- G['_139866582778000_c0'].Tensor"
    suggestion = suggest_rule(old, new)
    (rule,) = tomllib.loads(suggestion)["normalize"]
    assert re.sub(rule["pattern"], rule["replace"], old) == re.sub(rule["pattern"], rule["replace"], new)
    assert rule["pattern"] == "_\\d{15,}_c0"  # an id's length: not every number
    # The refusal is one line naming case, artifact and both versions of the line.
    line = refusal(compare([_report(guards=old), _report(guards=new)]).unstable[0])
    assert "\n" not in line and line.startswith("m::c: not writing guards: it differs between fresh runs")


def test_a_big_unstable_artifact_has_a_bounded_diff() -> None:
    from snapshot_runner.drift import bounded

    # Every line holds an id: the diff of two runs is as big as the artifact, unless bounded.
    a = _report(guards="".join(f"+- G['_{140220710397776 + n}_c0'].Tensor\n" for n in range(20_000)))
    b = _report(guards="".join(f"+- G['_{139866582778000 + n}_c0'].Tensor\n" for n in range(20_000)))
    (unstable,) = compare([a, b]).unstable
    assert len(unstable.diff) <= bounded.MAX_LINES + 3  # two file lines, the lines shown, the note
    assert unstable.diff[-1] == bounded.truncated(bounded.MAX_LINES)
    assert unstable.first_lines == ("+- G['_140220710397776_c0'].Tensor", "+- G['_139866582778000_c0'].Tensor")


def test_check_stable_shows_an_artifacts_control_characters_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from snapshot_runner import stability
    from snapshot_runner.cli import main

    unstable = compare([_report(guards="+- A \x1b[2J\n"), _report(guards="+- B \x1b[2J\n")])
    monkeypatch.setattr(stability, "check", lambda _capture, _repeat: unstable)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["check-stable"], out, err) == 1, err.getvalue()
    assert "\x1b" not in out.getvalue() and "+- A \\x1b[2J" in out.getvalue()
