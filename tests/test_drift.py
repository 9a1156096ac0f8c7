"""History and drift on real captures: runs recorded by the real CLI into a real
SQLite file, compared with each other and with goldens altered on purpose."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from snapshot_runner.cli import main
from snapshot_runner.history.models import Artifact
from snapshot_runner.history.store import Store

from .conftest import CASES, REPO, run_cli

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("drift")

CHOSEN = [
    "subclasses.two_tensor::twotensor_view",
    "subclasses.two_tensor::twotensor_view_mul",
    "nested.jagged_views::nt_base_basic_view",
]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two real recordings of the same cases on the same torch, plus the
    capture report they came from (for runs made from edited reports)."""
    tmp = tmp_path_factory.mktemp("history")
    db = f"sqlite:///{tmp / 'history.sqlite'}"
    selection = [arg for name in CHOSEN for arg in ("--case", name)]
    ids = []
    for label in ("first", "second"):
        code, out, err = run("record", "--cases-dir", str(CASES), *selection, "--db", db, "--label", label)
        assert code == 0, err
        ids.append(int(out))
    report = tmp / "capture.json"
    code, _, err = run("capture", "--cases-dir", str(CASES), *selection, "--json", str(report))
    assert code == 0, err
    return {"db": db, "ids": ids, "report": report, "tmp": tmp}


def drift_json(db: str, *argv: str) -> dict:
    code, out, err = run("drift", "--db", db, "--format", "json", *argv)
    assert code == 0, err
    return json.loads(out)


def changes(report: dict) -> dict[str, dict[str, str]]:
    return {c["name"]: {a["key"]: a["change"] for a in c["artifacts"] if a["change"] != "unchanged"} for c in report["cases"]}


def test_two_runs_on_the_same_torch_have_zero_changes(history):
    report = drift_json(history["db"], "--from", "first", "--to", "second")
    assert report["counts"]["unchanged"] == len(CHOSEN)
    assert report["counts"]["changed"] == 0
    assert all(c["status"] == "unchanged" for c in report["cases"])
    assert report["from"]["environment"]["torch_version"] == report["to"]["environment"]["torch_version"]


def test_identical_text_is_stored_once(history):
    store = Store.open(history["db"])
    try:
        first, second = (store.results(i) for i in history["ids"])
        distinct = {h for r in first.values() for h in r.artifacts.values()}
        assert first == second
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Artifact)) == len(distinct)
    finally:
        store.close()


def test_golden_refs_match_the_checkout(history):
    report = drift_json(history["db"], "--from", "golden", "--to", "latest", "--snapshots-dir", str(REPO / "snapshots"), "-k", "view")
    assert {c["name"]: c["status"] for c in report["cases"] if c["name"] in CHOSEN} == dict.fromkeys(CHOSEN, "unchanged")


def _altered_goldens(tmp: Path) -> Path:
    """A copy of the chosen cases' goldens with real-looking edits."""
    root = tmp / "altered"
    shutil.rmtree(root, ignore_errors=True)
    for name in CHOSEN:
        module, function = name.split("::")
        source = REPO / "snapshots" / Path(*module.split(".")) / function
        shutil.copytree(source, root / Path(*module.split(".")) / function)
    view = root / "subclasses/two_tensor/twotensor_view"
    forward = view / "aot_forward.txt"
    forward.write_text(forward.read_text().replace("aten.clone.default(primals_3)", "aten.mul.Tensor(primals_3, 2)"))
    guards = root / "subclasses/two_tensor/twotensor_view_mul/guards.txt"
    lines = guards.read_text().splitlines(keepends=True)
    dropped = next(i for i, line in enumerate(lines) if "TENSOR_MATCH" in line)
    guards.write_text("".join(lines[:dropped] + lines[dropped + 1 :]))
    (root / "nested/jagged_views/nt_base_basic_view/dynamo_graph.txt").unlink()
    shutil.copytree(view, root / "subclasses/two_tensor/gone_case")
    return root


def test_altered_goldens_give_the_right_status_per_artifact(history):
    goldens = _altered_goldens(history["tmp"])
    report = drift_json(history["db"], "--from", "golden", "--to", "latest", "--snapshots-dir", str(goldens))
    assert changes(report) == {
        "nested.jagged_views::nt_base_basic_view": {"dynamo_graph": "added"},
        "subclasses.two_tensor::gone_case": dict.fromkeys(["aot_backward", "aot_forward", "compile", "dynamo_graph", "guards"], "removed"),
        "subclasses.two_tensor::twotensor_view": {"aot_forward": "changed"},
        "subclasses.two_tensor::twotensor_view_mul": {"guards": "changed"},
    }
    by_name = {c["name"]: c for c in report["cases"]}
    assert by_name["subclasses.two_tensor::gone_case"]["status"] == "removed"
    assert by_name["nested.jagged_views::nt_base_basic_view"]["status"] == "changed"
    forward = next(a for a in by_name["subclasses.two_tensor::twotensor_view"]["artifacts"] if a["key"] == "aot_forward")
    assert forward["classification"] == "structural"
    assert "aten.clone.default 1 → 2" in forward["summary"] and "aten.mul.Tensor 1 → 0" in forward["summary"]
    assert '-        clone: "f32[s47, s16]" = torch.ops.aten.mul.Tensor(primals_3, 2)' in forward["diff"]
    guards = next(a for a in by_name["subclasses.two_tensor::twotensor_view_mul"]["artifacts"] if a["key"] == "guards")
    assert guards["classification"] == "guards"
    # The golden holds 50 guard-tree nodes, 3 of them TENSOR_MATCH (counted by hand); the altered one lacks one.
    assert guards["summary"][:2] == ["guards 49 → 50", "1 added (TENSOR_MATCH 1)"]
    assert guards["semantic_diff"].splitlines()[-1].startswith("+ TENSOR_MATCH on L['tt']")


def test_the_database_comes_from_snapshot_runner_db_unless_db_is_given(history, tmp_path, monkeypatch):
    from_env, from_flag = tmp_path / "env.sqlite", tmp_path / "flag.sqlite"
    monkeypatch.setenv("SNAPSHOT_RUNNER_DB", f"sqlite:///{from_env}")
    (tmp_path / "db").mkdir()
    monkeypatch.chdir(tmp_path)  # where the default, db/history.sqlite, would be
    code, out, err = run("record", "--from-json", str(history["report"]), "--label", "via-env")
    assert (code, out) == (0, "1\n"), err
    code, out, err = run("record", "--from-json", str(history["report"]), "--label", "via-flag", "--db", f"sqlite:///{from_flag}")
    assert (code, out) == (0, "1\n"), err
    # Each run went to its own file, and the read commands find them the same way.
    code, out, _ = run("runs")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["via-env"]
    code, out, _ = run("runs", "--db", f"sqlite:///{from_flag}")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["via-flag"]
    code, out, err = run("drift", "--from", "via-env", "--to", "latest", "--format", "json")
    assert code == 0, err
    assert (json.loads(out)["from"]["label"], json.loads(out)["to"]["label"]) == ("via-env", "via-env")
    code, out, _ = run("runs", "--db", f"sqlite:///{from_env}")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[1:]] == ["via-env"]
    assert not (tmp_path / "db" / "history.sqlite").exists()


def test_fail_on_drift_exits_1_only_when_something_changed(history):
    db, goldens = history["db"], _altered_goldens(history["tmp"])
    same = run("drift", "--db", db, "--from", "first", "--to", "second", "--fail-on-drift")
    changed = run("drift", "--db", db, "--from", "golden", "--to", "latest", "--snapshots-dir", str(goldens), "--fail-on-drift")
    plain = run("drift", "--db", db, "--from", "golden", "--to", "latest", "--snapshots-dir", str(goldens))
    assert (same[0], changed[0], plain[0]) == (0, 1, 0)
    # The report is written either way: the exit status is the only difference.
    assert changed[1] == plain[1] and "twotensor_view_mul" in changed[1]
    assert changed[2].splitlines()[1:] == [
        "changed artifacts: 1 guards, 1 structural",
        "4 change(s) at --fail-on text or above, e.g. nested.jagged_views::nt_base_basic_view/dynamo_graph",
    ]
    assert changed[2].splitlines()[0].endswith(": 3 changed, 0 status-changed, 0 added, 1 removed, 0 unchanged")
    assert same[2].endswith(": 0 changed, 0 status-changed, 0 added, 0 removed, 3 unchanged\n")


def test_status_change_and_history_timeline(history, tmp_path):
    report = json.loads(history["report"].read_text())
    broken = report["cases"][0]
    broken["status"], broken["error"], broken["artifacts"] = "error", "compile failed: boom", {}
    changed = report["cases"][1]
    changed["artifacts"]["dynamo_graph"] = changed["artifacts"]["dynamo_graph"].replace("l_tt_", "l_tt_renamed_")
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(report))
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    for label, path in (("base", history["report"]), ("edited", edited)):
        code, _, err = run("record", "--from-json", str(path), "--db", db, "--label", label)
        assert code == 0 or label == "edited", err

    result = drift_json(db, "--from", "base", "--to", "edited")
    by_name = {c["name"]: c for c in result["cases"]}
    assert by_name[broken["name"]]["status"] == "status-changed"
    assert (by_name[broken["name"]]["from_status"], by_name[broken["name"]]["to_status"]) == ("ok", "error")
    renamed = next(a for a in by_name[changed["name"]]["artifacts"] if a["key"] == "dynamo_graph")
    assert (renamed["change"], renamed["classification"]) == ("changed", "renamed")
    assert renamed["semantic_diff"] == "same graph, 1 names changed\n" and "l_tt_renamed_" in renamed["diff"]

    code, out, _ = run("history", changed["name"], "dynamo_graph", "--db", db)
    assert code == 0
    assert f"{changed['name']} dynamo_graph: 2 versions" in out
    assert "first: run 1" in out.splitlines()[1] and "first: run 2" in out.splitlines()[2]
    code, text, _ = run("history", changed["name"], "dynamo_graph", "--db", db, "--show", "2")
    assert code == 0 and "l_tt_renamed_" in text and text.startswith("class GraphModule")
    short = changed["name"].split("::")[1]
    code, _, err = run("history", short, "--db", db)
    assert code == 2 and f"did you mean {changed['name']}?" in err


def test_markdown_report_is_an_issue_comment(history):
    goldens = _altered_goldens(history["tmp"])
    code, out, err = run("drift", "--db", history["db"], "--from", "golden", "--to", "latest", "--snapshots-dir", str(goldens))
    assert code == 0, err
    table = out.index("| case | status |")
    first_diff = out.index("<details>")
    assert table < first_diff  # the summary table comes first
    assert "```diff\n--- golden/aot_forward\n+++ latest/aot_forward" in out
    assert len(out) < 65_536


def test_refs(history):
    db, (first, second) = history["db"], history["ids"]

    def resolved(ref: str) -> int:
        return drift_json(db, "--from", ref, "--to", ref)["from"]["id"]

    assert resolved("latest") == second
    assert resolved("previous") == first
    assert resolved("first") == first
    assert resolved("2.13.0") == second  # matches 2.13.0+cpu, newest complete run
    assert resolved(str(first)) == first


def test_incomplete_runs_are_left_out_unless_asked(history, tmp_path):
    db = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    shutil.copy(history["tmp"] / "history.sqlite", tmp_path / "copy.sqlite")
    store = Store.open(db)
    try:
        env = store.runs()[0].environment
        killed = store.begin_run(environment=env, label="killed", runner_version="0", case_set_fingerprint="x", cases_expected=3, normalize="canonical")
    finally:
        store.close()
    latest = drift_json(db, "--from", "latest", "--to", "latest")["from"]["id"]
    assert latest == history["ids"][1]
    code, _, err = run("drift", "--db", db, "--from", str(killed), "--to", "latest")
    assert code == 2 and f"run {killed} is incomplete" in err and "Traceback" not in err
    assert drift_json(db, "--from", str(killed), "--to", "latest", "--include-incomplete")["from"]["id"] == killed
    code, out, _ = run("runs", "--db", db)
    killed_row = next(line for line in out.splitlines() if line.split()[0] == str(killed))
    assert killed_row.split()[1:2] == ["killed"] and "incomplete" in killed_row.split()


@pytest.mark.parametrize(
    ("ref", "message"),
    [("nonesuch", "unknown REF 'nonesuch'"), ("999", "no run 999")],
)
def test_unknown_refs_are_one_line(history, ref, message):
    code, _out, err = run("drift", "--db", history["db"], "--from", ref, "--to", "latest")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_drift_against_a_fresh_capture_in_another_interpreter(history):
    """``--python`` instead of ``--to``: the capture is compared, not stored."""
    python = str(REPO / ".venv" / "bin" / "python")
    report = drift_json(history["db"], "--from", "first", "--python", python, "--cases-dir", str(CASES), "--case", CHOSEN[0])
    assert report["to"]["ref"] == "capture" and report["to"]["environment"]["python_executable"] == python
    assert {c["name"]: c["status"] for c in report["cases"] if c["name"] == CHOSEN[0]} == {CHOSEN[0]: "unchanged"}
    code, _, err = run("drift", "--db", history["db"], "--from", "first", "--to", "second", "--python", python)
    assert code == 2 and "give exactly one of them" in err


NOISY_CASES = """
import torch
from snapshot_runner import case


@case(backend="eager", backward=False)
def prints_without_newline():
    print("progress...", end="")
    return (lambda x: x + 1), (torch.ones(2),)


@case(backend="eager", backward=False)
def after_it():
    return (lambda x: x * 2), (torch.ones(2),)
"""


def test_a_case_printing_half_a_line_in_a_worker_loses_nothing(tmp_path):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "noisy.py").write_text(NOISY_CASES)
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    code, out, err = run("record", "--cases-dir", str(tmp_path / "cases"), "--db", db, "--python", str(REPO / ".venv/bin/python"))
    assert code == 0, err
    assert "complete: 2 ok" in err
    store = Store.open(db)
    try:
        assert sorted(store.results(int(out))) == ["noisy::after_it", "noisy::prints_without_newline"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({}, "it holds no cases"),
        ({"environment": {"torch_version": "2.13.0"}, "cases": [{"name": "a::b", "status": "ok"}] * 2}, "case a::b appears twice"),
        ({"environment": {"torch_version": "2.13.0"}, "cases": [{"name": "a::b", "status": "weird"}]}, "has status 'weird'"),
        ({"environment": {"torch_version": "2.13.0"}, "cases": [{"name": "a::b", "status": "ok", "artifacts": {"k": 1}}]}, "non-text artifact"),
        ({"environment": {"torch_version": "2.13.0"}, "normalize": "native", "cases": [{"name": "a::b", "status": "ok"}]}, "normalized 'native'"),
        ({"environment": {}, "cases": [{"name": "a::b", "status": "ok"}]}, "no torch version"),
    ],
)
def test_reports_that_cannot_be_recorded_record_nothing(tmp_path, report, message):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    code, out, err = run("record", "--from-json", str(path), "--db", db)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "h.sqlite").exists()  # checked before the database is opened


def test_an_empty_selection_records_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    code, _, err = run("record", "--cases-dir", str(CASES), "-k", "no-case-has-this-name", "--db", db)
    assert code == 2 and "no cases selected" in err
    assert run("runs", "--db", db)[2].startswith("no runs")


@pytest.mark.parametrize("argv", [["runs"], ["drift", "--from", "latest", "--to", "previous"], ["history", "a::b"]])
def test_read_commands_never_create_a_database(tmp_path, argv):
    typo = tmp_path / "histroy.sqlite"
    code, _, err = run(*argv, "--db", f"sqlite:///{typo}")
    assert code == 2 and f"no database at {typo}" in err
    assert not typo.exists()


def test_a_case_skipped_on_one_side_and_absent_on_the_other_is_not_compared(history, tmp_path):
    report = json.loads(history["report"].read_text())
    report["cases"].append({"name": "gpu.models::needs_cuda", "status": "skipped", "error": "requires cuda", "artifacts": {}})
    path = tmp_path / "with-skip.json"
    path.write_text(json.dumps(report))
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    assert run("record", "--from-json", str(path), "--db", db)[0] == 0
    result = drift_json(
        db, "--from", "golden", "--to", "latest", "--snapshots-dir", str(REPO / "snapshots"), "--case", CHOSEN[0], "--case", "gpu.models::needs_cuda"
    )
    assert [(c["name"], c["status"]) for c in result["cases"]] == [(CHOSEN[0], "unchanged")]


def test_markdown_fits_a_comment_however_many_cases_changed(history):
    from snapshot_runner.drift.compare import ArtifactDrift, CaseDrift, DriftReport, Side
    from snapshot_runner.drift.renderers.markdown import COMMENT_LIMIT, render

    side = Side(ref="golden", description={}, results={}, read_texts=dict)
    diff = "".join(f"-old line {i}\n+new line {i}\n" for i in range(40))
    cases = [
        CaseDrift(f"module_{i}::case_{i}", "changed", "ok", "ok", [ArtifactDrift("aot_forward", "changed", "structural", ["aten.mul.Tensor 1 → 2"], diff)])
        for i in range(2000)
    ]
    text = render(DriftReport(side, side, cases))
    assert len(text) <= COMMENT_LIMIT
    assert "more changed case(s) left out to fit a comment" in text
    assert text.index("| case | status |") < text.index("left out")


SEMANTIC = Path(__file__).parent / "data" / "semantic"


@pytest.fixture(scope="module")
def torch_runs(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Real artifacts of torch 2.13.0, 2.14.1 and 2.15.0 recorded as three runs (tests/data/semantic)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('torch_runs') / 'h.sqlite'}"
    for source in ("2.13.0_to_2.14.1.2.13.0", "2.13.0_to_2.14.1.2.14.1", "2.14.1_to_2.15.0.2.14.1", "2.14.1_to_2.15.0.2.15.0"):
        code, _, err = run("record", "--from-json", str(SEMANTIC / f"{source}.json"), "--db", db, "--label", source)
        assert code == 0, err
    return db


def classifications(report: dict) -> dict[tuple[str, str], str]:
    return {(c["name"], a["key"]): a["classification"] for c in report["cases"] for a in c["artifacts"] if a["change"] == "changed"}


def test_real_2_14_1_to_2_15_0_drift_is_renames_and_guards(torch_runs):
    report = drift_json(torch_runs, "--from", "2.14.1_to_2.15.0.2.14.1", "--to", "2.14.1_to_2.15.0.2.15.0")
    found = classifications(report)
    graphs = {k: v for k, v in found.items() if k[1] != "guards"}
    assert len(graphs) == 16 and set(graphs.values()) == {"renamed"}
    assert {v for k, v in found.items() if k[1] == "guards"} == {"guards"}  # a new key in the global-state guard: real
    assert report["counts"]["graphs_changed"] == 0
    assert report["classifications"] == {"renamed": 16, "guards": 2}
    mul_sizes = next(c for c in report["cases"] if c["name"] == "subclasses.two_tensor::twotensor_mul_sizes")
    backward = next(a for a in mul_sizes["artifacts"] if a["key"] == "aot_backward")
    assert backward["semantic_diff"] == "same graph, 8 names changed\n" and "-        mul_32:" in backward["diff"]


def test_real_2_13_0_to_2_14_1_signature_changes_stay_signature(torch_runs):
    found = classifications(drift_json(torch_runs, "--from", "2.13.0_to_2.14.1.2.13.0", "--to", "2.13.0_to_2.14.1.2.14.1"))
    assert found["subclasses.two_tensor::twotensor_view", "aot_forward"] == "signature"
    assert found["nested.jagged_views::nt_base_basic_view", "aot_forward"] == "signature"
    assert found["inductor.subclasses::nested_jagged_sin", "inductor_post_grad"] == "signature"
    assert found["subclasses.torch_function::disabled_torch_function_transposes", "dynamo_graph"] == "structural"


def test_fail_on_level(torch_runs):
    pair = ("--from", "2.14.1_to_2.15.0.2.14.1", "--to", "2.14.1_to_2.15.0.2.15.0", "--format", "json")
    renamed_only = ("--case", "subclasses.two_tensor::twotensor_mul_sizes")
    assert run("drift", "--db", torch_runs, *pair, *renamed_only)[0] == 0  # the default reports, never fails
    assert run("drift", "--db", torch_runs, *pair, *renamed_only, "--fail-on-drift")[0] == 1
    assert run("drift", "--db", torch_runs, *pair, *renamed_only, "--fail-on", "renamed")[0] == 1
    code, _, err = run("drift", "--db", torch_runs, *pair, *renamed_only, "--fail-on", "reordered")
    assert code == 0 and "changed artifacts: 2 renamed" in err
    # Guard changes are above metadata: they fail there, not under --fail-on signature.
    code, _, err = run("drift", "--db", torch_runs, *pair, "--fail-on", "metadata")
    assert code == 1 and "2 change(s) at --fail-on metadata or above" in err
    assert run("drift", "--db", torch_runs, *pair, "--fail-on", "signature")[0] == 0
    bad = run_cli("drift", "--db", torch_runs, *pair, "--fail-on", "cosmetic")
    assert bad.returncode == 2 and "unknown level 'cosmetic'" in bad.stderr and "Traceback" not in bad.stderr


def test_markdown_shows_semantic_diffs_and_raw_ones_on_request(torch_runs):
    pair = ("--from", "2.14.1_to_2.15.0.2.14.1", "--to", "2.14.1_to_2.15.0.2.15.0", "--case", "subclasses.two_tensor::twotensor_mul_sizes")
    semantic = run("drift", "--db", torch_runs, *pair)[1]
    raw = run("drift", "--db", torch_runs, *pair, "--raw-diff")[1]
    assert "same graph, 8 names changed" in semantic and "mul_32" not in semantic
    assert "-        mul_32:" in raw
