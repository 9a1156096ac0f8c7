"""Bisect over a history only (no install): a real capture recorded as six
"versions", three of them with the forward graph edited, so the answer is
known. The install and capture paths run for real in test_torch_drift_bisect.py
(`make test-torch`)."""

from __future__ import annotations

import copy
import json

import pytest

from .conftest import CASES
from .test_drift import run

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("bisect")

CASE = "subclasses.two_tensor::twotensor_view"
# A, B: two texts of the forward graph; the history changes, reverts, changes again.
TIMELINE = [("2.12.0", "A"), ("2.12.1", "A"), ("2.12.2", "B"), ("2.12.3", "A"), ("2.13.0.dev20260101", "B"), ("2.13.0", "B")]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("bisect")
    code, out, err = run("capture", "--cases-dir", str(CASES), "--case", CASE, "--json", "-")
    assert code == 0, err
    captured = json.loads(out)
    url = f"sqlite:///{tmp / 'h.sqlite'}"
    for number, (version, text) in enumerate(TIMELINE):
        report = copy.deepcopy(captured)
        report["environment"]["torch_version"] = f"{version}+cpu"
        report["environment"]["torch_git_sha"] = f"{number:040x}"
        if text == "B":
            forward = report["cases"][0]["artifacts"]["aot_forward"]
            report["cases"][0]["artifacts"]["aot_forward"] = forward.replace("aten.clone.default(primals_3)", "aten.mul.Tensor(primals_3, 2)")
        path = tmp / f"{version}.json"
        path.write_text(json.dumps(report))
        code, _, err = run("record", "--from-json", str(path), "--db", url, "--label", f"at-{version}")
        assert code == 0, err
    return url


def bisect(db: str, *argv: str) -> tuple[int, str, str]:
    return run("bisect", f"{CASE}/aot_forward", "--db", db, "--cases-dir", str(CASES), *argv)


def test_first_change_from_history_alone(db):
    code, out, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    # The history judges every candidate, so every change point is known (for free).
    point = report["change_points"][0]
    assert len(report["change_points"]) == 3
    assert (point["last_good"], point["first_bad"], point["skipped_between"]) == ("2.12.1", "2.12.2", [])
    assert point["compare_url"] == f"https://github.com/pytorch/pytorch/compare/{1:040x}...{2:040x}"
    assert '+        clone: "f32[s47, s16]" = torch.ops.aten.mul.Tensor(primals_3, 2)' in point["diff"]
    assert [(c["key"], c["classification"]) for c in point["classifications"]] == [("aot_forward", "structural")]
    assert "aten.mul.Tensor 0 → 1" in point["classifications"][0]["summary"]
    # Nothing installed: the four versions between the ends are all judged from the history.
    assert (report["captured"], report["reused"]) == (0, 4)
    assert {v["version"]: (v["verdict"], v["reused"]) for v in report["verdicts"]} == {
        "2.12.1": ("good", True),
        "2.12.2": ("bad", True),
        "2.12.3": ("good", True),
        "2.13.0.dev20260101": ("bad", True),
    }
    assert "capturing" not in err


def test_all_finds_the_change_its_revert_and_the_change_again(db):
    code, out, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--all", "--format", "json")
    assert code == 0, err
    points = [(p["last_good"], p["first_bad"]) for p in json.loads(out)["change_points"]]
    assert points == [("2.12.1", "2.12.2"), ("2.12.2", "2.12.3"), ("2.12.3", "2.13.0.dev20260101")]


def test_text_and_markdown_reports(db):
    code, text, _ = bisect(db, "--good", "2.12.0", "--bad", "2.13.0")
    assert code == 0
    assert "first bad: torch 2.12.2 (last good: 2.12.1)" in text
    assert "aot_forward: structural (aten.clone.default 2 → 1; aten.mul.Tensor 0 → 1)" in text
    assert "reproduce: snapshot-runner bisect subclasses.two_tensor::twotensor_view/aot_forward --good 2.12.0 --bad 2.13.0" in text
    code, markdown, _ = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--format", "md")
    assert code == 0
    assert markdown.startswith("## Bisect of `subclasses.two_tensor::twotensor_view/aot_forward`")
    assert "| 2.12.2 | bad | same as bad | history |" in markdown and "```diff" in markdown


def test_equal_ends_stop_early(db):
    code, out, err = bisect(db, "--good", "2.12.0", "--bad", "2.12.3")
    assert (code, out) == (0, "")
    assert "nothing to bisect" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--good", "2.13.0", "--bad", "2.12.0"], "is not older than --bad 2.12.0"),
        (["--good", "2.12.0", "--bad", "2.13.0", "--versions", "banana"], "not a torch version: 'banana'"),
        (["--good", "nolabel", "--bad", "2.13.0"], "--good nolabel: unknown REF 'nolabel'"),
        (["--good", "2.12.0", "--bad", "2.13.0", "--torch", "2.14.1"], "--python and --torch do not apply"),
    ],
)
def test_bad_input_is_one_line(db, argv, message):
    code, out, err = bisect(db, *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("subclasses.two_tensor::no_such_case", "defines no function no_such_case"),
        ("no.such.module::case", "no case module"),
    ],
)
def test_a_mistyped_case_fails_before_any_install(db, name, message):
    code, _, err = run("bisect", name, "--good", "2.12.0", "--bad", "2.99.0", "--db", db, "--cases-dir", str(CASES))
    assert code == 2 and message in err and "capturing" not in err


def test_a_case_error_is_a_skip_that_is_tried_again(db):
    """A version whose capture errors is skipped, not stored: the next bisect tries it again."""
    from snapshot_runner.bisect.bisector import Bisector, Subject
    from snapshot_runner.capture.results import CaptureReport, CaseResult
    from snapshot_runner.history.store import Store

    tried: list[str] = []

    def capture_at(version: str) -> CaptureReport:
        tried.append(version)
        environment = {"torch_version": f"{version}+cpu", "device": "cpu", "python": "3.11", "platform": "Linux"}
        return CaptureReport(environment, [CaseResult(CASE, "error", error="RuntimeError: out of memory")])

    store = Store.open(db)
    try:
        before = len(store.runs())
        for _ in range(2):
            report = Bisector(store, Subject(CASE, "aot_forward"), capture_at).run("2.12.0", "2.13.0", ["2.12.5"], every_change=True, command="")
            verdict = report.search.verdicts["2.12.5"]
            assert (verdict.verdict, verdict.reused) == ("skip", False)
            assert "case error at torch 2.12.5: RuntimeError: out of memory" in verdict.detail
        assert tried == ["2.12.5", "2.12.5"]
        assert len(store.runs()) == before  # nothing recorded as a verdict
    finally:
        store.close()


def test_the_reproduce_line_masks_index_credentials(db):
    # --versions: the history judges them all, so the (unreachable) index is never asked.
    mirror = ("--index-url", "https://user:hunter22@mirror.example/simple")
    code, text, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--versions", "2.12.2", *mirror)
    assert code == 0, err
    assert "--index-url 'https://user:***@mirror.example/simple'" in text and "hunter22" not in text + err


def test_an_index_that_cannot_be_reached_is_one_line_with_the_password_masked(db):
    code, text, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--index-url", "https://user:hunter22@mirror.example/simple")
    assert (code, text) == (2, "")
    assert err.startswith("snapshot-runner: error: cannot reach the package index (--index-url https://user:***@mirror.example/simple)")
    assert len(err.strip().splitlines()) == 1 and "hunter22" not in err


@pytest.mark.parametrize(
    ("ends", "message"),
    [
        (("2.12.1", "2.12.1+cpu"), "--good 2.12.1 and --bad 2.12.1+cpu are the same torch build: nothing to bisect between them"),
        (("2.12.1", "2.12.1"), "are the same torch build"),
    ],
)
def test_ends_of_one_build_are_one_line(db, ends, message):
    code, text, err = bisect(db, "--good", ends[0], "--bad", ends[1])
    assert (code, text) == (2, "") and message in err and len(err.strip().splitlines()) == 1


def test_the_candidates_are_shown_before_any_install(db):
    """The real index offers 2.12.1 between the ends; this history holds it and more: nothing to install."""
    code, _, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0")
    assert code == 0, err
    assert "candidates between 2.12.0 and 2.13.0: 2.12.1, 2.12.2, 2.12.3, 2.13.0.dev20260101 (4 in the history); nothing to install\n" in err


def test_bisect_prunes_the_env_cache_to_its_bound_when_done(db, tmp_path):
    from snapshot_runner.envs.cache import EnvCache

    from .test_envs import cheap_build

    cache = EnvCache(tmp_path / "envs")
    with cache.use_env("torch-old", cheap_build()):
        pass
    code, _, err = bisect(db, "--good", "2.12.0", "--bad", "2.13.0", "--versions", "2.12.2", "--envs-dir", str(cache.root), "--envs-max-size", "1K")
    assert code == 0, err
    assert "1 removed" in err and cache.envs() == []
