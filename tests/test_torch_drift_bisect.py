"""End to end on two real torch releases (``make test-torch``): record under
2.13.0 (this venv) and 2.14.1 (``--torch``, and ``--python`` at its env), drift
between them, and bisect the TwoTensor forward graph over 2.13.5 (no such
release: skipped) and 2.14.0 (installed from the registry, a CUDA build)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from snapshot_runner.envs.cache import EnvCache

from .conftest import run_cli

pytestmark = pytest.mark.multi_torch

VIEW = "subclasses.two_tensor::twotensor_view"
NESTED = "nested.jagged_views::nt_base_basic_view"
GUARDS_ONLY = "subclasses.torch_function::passthrough_add"
SAME = "subclasses.two_tensor::twotensor_input_mutation"
CASES = [arg for name in (VIEW, NESTED, GUARDS_ONLY, SAME) for arg in ("--case", name)]


def ok(proc):  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('torch') / 'history.sqlite'}"
    ok(run_cli("record", *CASES, "--db", url, "--label", "reference"))
    ok(run_cli("record", *CASES, "--db", url, "--torch", "2.14.1"))
    return url


def test_python_path_records_a_run_under_that_interpreter(db, tmp_path):
    env = next(e for e in EnvCache().envs() if e.key.startswith("torch-2.14.1-") and e.complete)
    db = f"sqlite:///{tmp_path / 'by-path.sqlite'}"
    run_id = int(ok(run_cli("record", "--case", SAME, "--db", db, "--python", str(env.python), "--label", "by-path")))
    runs = ok(run_cli("runs", "--db", db))
    row = next(line.split() for line in runs.splitlines() if line.split()[0] == str(run_id))
    assert row[1:3] == ["by-path", "2.14.1+cu130"] and "complete" in row


def test_drift_lists_the_changed_graphs_and_only_those(db):
    report = json.loads(ok(run_cli("drift", "--db", db, "--from", "2.13.0", "--to", "2.14.1", "--format", "json")))
    assert report["from"]["environment"]["torch_version"].startswith("2.13.0")
    assert report["to"]["environment"]["torch_version"].startswith("2.14.1")
    changed = {c["name"]: {a["key"]: a["classification"] for a in c["artifacts"] if a["change"] == "changed"} for c in report["cases"]}
    assert changed[VIEW] == {"aot_forward": "signature", "aot_backward": "signature"}
    assert {changed[NESTED][k] for k in ("aot_forward", "aot_backward")} == {"signature"}
    assert changed[GUARDS_ONLY] == {"guards": "guards"}  # reported apart from graphs
    assert changed[SAME] == {}
    statuses = {c["name"]: c["status"] for c in report["cases"]}
    assert statuses == {VIEW: "changed", NESTED: "changed", GUARDS_ONLY: "changed", SAME: "unchanged"}
    assert (report["counts"]["graphs_changed"], report["counts"]["guards_only"]) == (2, 1)


def test_bisect_finds_the_release_and_reuses_history(db):
    argv = ["bisect", f"{VIEW}/aot_forward", "--good", "2.13.0", "--bad", "2.14.1", "--versions", "2.14.0,2.13.5", "--db", db, "--format", "json"]
    first = json.loads(ok(run_cli(*argv, "--prefetch")))
    (point,) = first["change_points"]
    # 2.13.5 does not exist: skipped, and next to the answer it makes a range.
    assert (point["last_good"], point["first_bad"], point["skipped_between"]) == ("2.13.0", "2.14.0", ["2.13.5"])
    verdicts = {v["version"]: v for v in first["verdicts"]}
    assert verdicts["2.13.5"]["verdict"] == "skip" and "2.13.5" in verdicts["2.13.5"]["detail"]
    assert (verdicts["2.14.0"]["verdict"], verdicts["2.14.0"]["detail"]) == ("bad", "same as bad")
    assert point["compare_url"].startswith("https://github.com/pytorch/pytorch/compare/")
    assert point["last_good_sha"] and point["first_bad_sha"] and point["last_good_sha"] != point["first_bad_sha"]
    assert '+        primals_13: "Sym(s16)"' in point["diff"]
    assert first["captured"] == 1 and first["reused"] == 0

    again = json.loads(ok(run_cli(*argv)))
    assert again["change_points"] == first["change_points"]
    assert again["captured"] == 0 and again["reused"] == 1  # 2.14.0 comes from the history now

    # The bisect's capture is kept but is not a suite run: `latest` is still 2.14.1's record.
    latest = json.loads(ok(run_cli("drift", "--db", db, "--from", "latest", "--to", "latest", "--format", "json")))
    assert latest["from"]["environment"]["torch_version"].startswith("2.14.1")
    assert len(latest["cases"]) == 4


def test_bisect_takes_its_candidates_from_the_package_index(tmp_path):
    """History only at the ends and no --versions: the registry offers 2.14.0
    between 2.13.0 and 2.14.1; it alone is installed (or reused from the env
    cache) and captured, and it is the first bad version."""
    db = f"sqlite:///{tmp_path / 'ends.sqlite'}"
    ok(run_cli("record", "--case", VIEW, "--db", db, "--label", "good-end"))
    ok(run_cli("record", "--case", VIEW, "--db", db, "--torch", "2.14.1"))
    proc = run_cli("bisect", f"{VIEW}/aot_forward", "--good", "2.13.0", "--bad", "2.14.1", "--db", db, "--format", "json")
    report = json.loads(ok(proc))
    # The list, and how many installs it may take, come before any capture.
    announced = proc.stderr.index("candidates between 2.13.0 and 2.14.1: 2.14.0 (0 in the history); at most 1 to install")
    assert announced < proc.stderr.index("capturing")
    (point,) = report["change_points"]
    assert (point["last_good"], point["first_bad"], point["skipped_between"]) == ("2.13.0", "2.14.0", [])
    assert [(v["version"], v["verdict"], v["reused"]) for v in report["verdicts"]] == [("2.14.0", "bad", False)]
    assert report["captured"] == 1 and report["reused"] == 0
    assert proc.stderr.count("capturing ") == 1


def test_capture_torch_newest_runs_the_newest_torch_on_the_index():
    from packaging.version import Version

    listed = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "torch"], capture_output=True, text=True, check=True).stdout
    newest = max(Version(v.strip()) for v in listed.split("Available versions:")[1].splitlines()[0].split(","))
    proc = run_cli("capture", "--torch", "newest", "-k", "two_tensor", "--json", "-")
    report = json.loads(ok(proc))
    assert f"--torch newest: torch {newest.base_version} is the newest on the package index" in proc.stderr
    assert Version(report["environment"]["torch_version"]).base_version == newest.base_version  # 2.15.0 on 2026-12-03
    assert report["cases"] and all(c["status"] == "ok" for c in report["cases"])


def test_drift_from_a_recorded_version_to_a_fresh_torch_capture(db):
    report = json.loads(ok(run_cli("drift", "--db", db, "--from", "2.13.0", "--torch", "2.14.1", "--case", VIEW, "--format", "json")))
    assert report["to"]["title"].startswith("capture: torch 2.14.1")
    view = next(c for c in report["cases"] if c["name"] == VIEW)
    assert {a["key"] for a in view["artifacts"] if a["change"] == "changed"} == {"aot_forward", "aot_backward"}


def test_nightly_on_a_new_torch_bisects_the_new_drift(tmp_path):
    """Night 1 on 2.13.0, night 2 on 2.14.1: the changed graphs are bisected
    over the versions the package index offers in between (2.14.0)."""
    import datetime as dt

    db, reports = f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "reports"

    def nightly(*extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli("nightly", "--db", db, "--reports", str(reports), "--bisect", "--case", VIEW, *extra)

    assert nightly("--python", sys.executable).returncode == 0
    second = nightly("--torch", "2.14.1")
    assert second.returncode == 0, second.stderr
    assert "candidates between 2.13.0 and 2.14.1: 2.14.0" in second.stderr
    bisect = (reports / f"bisect-{dt.date.today().isoformat()}-{VIEW.replace('::', '_')}.md").read_text()
    assert "**first bad: torch 2.14.0 (last good: 2.13.0)**" in bisect
