"""Shards of one run: the split (a pure function), and parts of a run in a real SQLite history."""

from __future__ import annotations

import pytest

from snapshot_runner.history.shard_recording import ShardRecorder
from snapshot_runner.history.shards import Shard, ShardError, begin_part, check_run_key, finish_part, plan, progress, split
from snapshot_runner.history.store import Store

NAMES = [f"m{i % 3}::case_{i:02d}" for i in range(14)]


def test_split_is_disjoint_covering_and_the_same_whatever_the_order():
    share = split(NAMES, 4, {})
    assert set(share) == set(NAMES) and set(share.values()) == {1, 2, 3, 4}
    assert split(list(reversed(NAMES)) + NAMES[:3], 4, {}) == share
    # Without compile times: a round robin over the sorted names.
    assert [share[n] for n in sorted(NAMES)] == [i % 4 + 1 for i in range(14)]


def test_split_balances_by_compile_time():
    # One Inductor case as slow as all the others together.
    seconds = {n: 1.0 for n in NAMES} | {NAMES[0]: 13.0}
    share = split(NAMES, 2, seconds)
    loads = {k: sum(seconds[n] for n, s in share.items() if s == k) for k in (1, 2)}
    assert loads == {1: 13.0, 2: 13.0}
    assert [n for n, s in share.items() if s == 1] == [NAMES[0]]
    # Round robin would have put 7 cases, the slow one among them, on one shard.
    assert max(sum(seconds[n] for n in sorted(NAMES)[k::2]) for k in (0, 1)) == 19.0


def test_a_case_without_history_weighs_the_median():
    seconds = {n: 2.0 for n in NAMES[:10]}
    share = split(NAMES, 7, seconds)
    assert sorted(sum(s == k for s in share.values()) for k in range(1, 8)) == [2] * 7


@pytest.mark.parametrize("text", ["0/4", "5/4", "4", "a/b", "1/0", "-1/2", ""])
def test_bad_shard(text):
    with pytest.raises(ShardError, match="--shard must be K/N with 1 ≤ K ≤ N"):
        Shard.parse(text)


@pytest.mark.parametrize("key", ["", " x", "a b", "x" * 201, "-x", "a\nb"])
def test_bad_run_key(key):
    with pytest.raises(ShardError, match="--run-key must be"):
        check_run_key(key)


ENV = {"torch_version": "2.13.0+cpu", "python": "3.11", "platform": "linux", "device": "cpu"}


def test_parts_of_a_run(tmp_path):
    from snapshot_runner.capture.results import CaseResult, CaseStatus

    store = Store.open(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        shards = [Shard(k, 3) for k in (1, 2, 3)]
        parts = [plan(store, "night-1", s, NAMES, "fp") for s in shards]
        assert sorted(n for p in parts for n in p) == sorted(NAMES)
        with pytest.raises(ShardError, match="begun with 3 shards, not 4"):
            plan(store, "night-1", Shard(1, 4), NAMES, "fp")
        with pytest.raises(ShardError, match="another case set"):
            plan(store, "night-1", Shard(1, 3), NAMES[1:], "fp2")

        def record(shard: Shard, names: list[str], env: dict = ENV) -> tuple[str, str | None]:
            run_id = begin_part(store, "night-1", shard, environment=env, label="n", runner_version="t", normalize="canonical").run_id
            store.add_results(run_id, [CaseResult(n, CaseStatus.OK, {"dynamo_graph": f"graph of {n}"}, None, 0.1) for n in names])
            return finish_part(store, "night-1", shard)

        assert record(shards[0], parts[0]) == ("complete", "incomplete")
        with pytest.raises(ShardError, match=r"recording torch 2.13.0\+cpu on cpu; shard 2/3 has torch 2.14.1 on cpu"):
            begin_part(store, "night-1", shards[1], environment=ENV | {"torch_version": "2.14.1"}, label="n", runner_version="t", normalize="canonical")
        # Shard 2 "killed" after one case: started, never finished.
        run_id = begin_part(store, "night-1", shards[1], environment=ENV, label="n", runner_version="t", normalize="canonical").run_id
        store.add_results(run_id, [CaseResult(parts[1][0], CaseStatus.OK, {"dynamo_graph": "half"}, None, 0.1)])
        assert record(shards[2], parts[2]) == ("complete", "incomplete")
        assert [(p.shard, p.status, p.attempts) for p in progress(store, ["night-1"])["night-1"]] == [(1, "complete", 1), (2, "running", 1), (3, "complete", 1)]
        # The re-run replaces its own part: the killed attempt's case is stored once, anew.
        assert record(shards[1], parts[1]) == ("complete", "complete")
        assert [(p.status, p.attempts) for p in progress(store, ["night-1"])["night-1"]] == [("complete", 1), ("complete", 2), ("complete", 1)]
        results = store.results(run_id)
        assert sorted(results) == sorted(NAMES)
        [digest] = results[parts[1][0]].artifacts.values()
        assert store.texts([digest])[digest] == f"graph of {parts[1][0]}"
        info = store.run(run_id)
        assert info is not None and (info.status, info.cases_stored, info.cases_expected, info.run_key) == ("complete", 14, 14, "night-1")
    finally:
        store.close()


def _night(store: Store, key: str, label: str, env: dict = ENV) -> None:
    from snapshot_runner.capture.results import CaseResult, CaseStatus

    for shard in (Shard(1, 2), Shard(2, 2)):
        names = plan(store, key, shard, NAMES, "fp")
        run_id = begin_part(store, key, shard, environment=env, label=label, runner_version="t", normalize="canonical").run_id
        store.add_results(run_id, [CaseResult(n, CaseStatus.OK, {"dynamo_graph": f"graph of {n}"}, None, 0.1) for n in names])
        finish_part(store, key, shard)


def test_nightly_reports_a_sharded_run_from_the_previous_night_of_its_cell(tmp_path):
    import io
    import json

    from snapshot_runner.cli import main

    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    store = Store.open(db)
    try:
        _night(store, "night-1-cpu", "nightly-2.13.0-cpu")
        _night(store, "night-2-other", "nightly-2.14.1-cpu", ENV | {"torch_version": "2.14.1+cpu"})
        _night(store, "night-2-cpu", "nightly-2.13.0-cpu")
        plan(store, "night-3-cpu", Shard(1, 2), NAMES, "fp")
    finally:
        store.close()

    def nightly(*argv: str) -> tuple[int, str]:
        err = io.StringIO()
        code = main(["nightly", "--db", db, "--reports", str(tmp_path / "reports"), *argv], io.StringIO(), err)
        return code, err.getvalue()

    code, err = nightly("--report-run", "night-2-cpu", "--fail-on-drift")
    assert code == 0, err
    # Compared with its own cell's previous night (run 1), not the other build's run 2 in between.
    assert "nightly: drift (run 3 from run 1): 0 changed, 0 status-changed, 0 added, 0 removed, 14 unchanged" in err
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [name.split(".", 1)[1] for name in written] == ["html", "json", "junit.xml", "md"]
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert (report["from"]["id"], report["to"]["id"], report["to"]["run_key"]) == (1, 3, "night-2-cpu")

    # The first night of a cell has the goldens as its past: none of these cases is there.
    code, err = nightly("--report-run", "night-1-cpu", "-k", "::case_", "--fail-on-drift")
    assert code == 1 and "14 added" in err and "failing: graphs drifted and --fail-on-drift is set" in err

    code, err = nightly("--report-run", "night-3-cpu")
    assert code == 2 and err.strip() == f"snapshot-runner: error: no run 'night-3-cpu' in {db}: shards 0/2 complete; 1: planned, 2: planned"


def _cli(*argv: str) -> tuple[int, str, str]:
    import io

    from snapshot_runner.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--shard", "1/2"], "--shard K/N and --run-key KEY go together"),
        (["--run-key", "k"], "--shard K/N and --run-key KEY go together"),
        (["--shard", "1/2", "--run-key", "a b"], "--run-key must be"),
        (["--shard", "2/1", "--run-key", "k"], "--shard must be K/N with 1 ≤ K ≤ N (e.g. 2/4), not '2/1'"),
        # Issue 19: a million shards took minutes and GBs; 20 digits overflowed SQLite's integer.
        (["--shard", "1/1000000", "--run-key", "big"], "--shard K/N: N may be at most 256, not 1000000"),
        (["--shard", "1/99999999999999999999", "--run-key", "big"], "--shard K/N: N may be at most 256, not 99999999999999999999"),
        (["--shard", "1/2", "--run-key", "k", "--from-json", "r.json"], "--shard records what it captures: it does not take --from-json"),
        (["--shard", "1/2", "--run-key", "k", "-k", "no-such-case"], "no cases selected: nothing to record"),
        (["--shard", "1/2", "--run-key", "k", "--case", "nope::nothing"], "unknown case name: nope::nothing"),
    ],
)
def test_bad_shard_options_are_one_line(tmp_path, argv, message):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    code, out, err = _cli("record", "--db", db, *argv)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("snapshot-runner: error: ") and message in line, err


def test_more_shards_than_cases_leaves_a_part_empty(tmp_path):
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    one = ["--case", "subclasses.torch_function::passthrough_add"]
    # Shard 2 of 2 gets nothing: its part is done at once, and no run is begun yet.
    code, out, err = _cli("record", "--db", db, *one, "--shard", "2/2", "--run-key", "tiny")
    assert (code, out) == (0, ""), err
    assert "shard 2/2 of tiny complete: 0 of 1 cases; nothing to capture" in err
    assert "run not begun yet: shards 1/2 complete; 1: planned" in err
    code, out, err = _cli("record", "--db", db, *one, "--shard", "1/2", "--run-key", "tiny")
    assert code == 0, err
    assert f"run {int(out)} complete: shards 2/2 complete" in err


def test_the_first_shard_weighs_the_split_by_the_history(tmp_path):
    from snapshot_runner.capture.results import CaseResult, CaseStatus

    store = Store.open(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        earlier = store.begin_run(
            environment=ENV, label="earlier", runner_version="t", case_set_fingerprint="fp", cases_expected=len(NAMES), normalize="canonical"
        )
        slow = NAMES[5]
        store.add_results(earlier, [CaseResult(n, CaseStatus.OK, {}, None, 13.0 if n == slow else 1.0) for n in NAMES])
        assert store.finish_run(earlier) == "complete"
        parts = [plan(store, "night-2", Shard(k, 2), NAMES, "fp") for k in (1, 2)]
        # The slow case alone on one shard, the 13 others on the other: 13 s each.
        assert sorted(parts, key=len) == [[slow], sorted(set(NAMES) - {slow})]
    finally:
        store.close()


def test_the_same_shard_started_twice_stops_the_older_attempt_with_one_line(tmp_path):
    """Issue 19: two processes recording one shard a few seconds apart died with
    a raw IntegrityError; the older one now stops, the newer one records the part."""
    from snapshot_runner.capture.results import CaseResult, CaseStatus
    from snapshot_runner.capture.worker import CaptureStart

    store = Store.open(f"sqlite:///{tmp_path / 'h.sqlite'}")
    try:
        shard = Shard(1, 1)
        part = plan(store, "twice", shard, NAMES, "fp")
        start = CaptureStart(environment=ENV, cases=part, source_files=[])
        first, second = ShardRecorder(store, None, "twice", shard), ShardRecorder(store, None, "twice", shard)

        def result(name: str, text: str) -> CaseResult:
            return CaseResult(name, CaseStatus.OK, {"dynamo_graph": text}, None, 0.1)

        first.started(start)
        first.add(result(part[0], "first"))
        second.started(start)
        second.add(result(part[0], "second"))  # begins attempt 2: attempt 1's case is dropped
        with pytest.raises(ShardError, match=r"^shard 1/1 of twice was started again by another process \(attempt 2\): this one \(attempt 1\) stops"):
            first.add(result(part[1], "first"))
        for name in part[1:]:
            second.add(result(name, "second"))
        assert finish_part(store, "twice", shard) == ("complete", "complete")
        results = store.results(second.attempt.run_id)
        texts = store.texts({h for r in results.values() for h in r.artifacts.values()})
        assert sorted(results) == sorted(NAMES) and set(texts.values()) == {"second"}
    finally:
        store.close()
