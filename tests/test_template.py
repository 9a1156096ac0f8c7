"""Workers forked from the template (issue 20): the same artifacts as spawned
workers, a crashed worker's replacement forked from the same template,
``--no-fork`` spawning every worker from the host, and the longest-first queue.

The cases in tests/data/template record, in $TEMPLATE_TEST_LOG, the process
that ran them and its parent's command line: a forked worker's parent is the
template (the worker bootstrap, ``python -c ...``), a spawned worker's is the
CLI itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from snapshot_runner.capture.results import CaseResult, CaseStatus
from snapshot_runner.capture.template import fork_unsafe, threads
from snapshot_runner.history.shards import Shard, begin_part, finish_part, longest_first, plan
from snapshot_runner.history.store import Store

from .conftest import REPO

TEMPLATE_CASES = Path(__file__).parent / "data" / "template"
THREAD_CASES = Path(__file__).parent / "data" / "template_thread"
# Real Inductor CPU cases (C++ kernels with OpenMP loops), a handful to stay quick.
INDUCTOR = "inductor.models"


def _capture(*args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **({"TEMPLATE_TEST_LOG": str(log)} if log else {})}
    command = [sys.executable, "-m", "snapshot_runner.cli", "capture", "--json", "-", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)


def _processes(log: Path) -> dict[str, dict]:
    return {entry["case"]: entry for entry in map(json.loads, log.read_text().splitlines())}


def _is_bootstrap(command: list[str]) -> bool:
    return command[1:2] == ["-c"] and "snapshot_runner.capture.worker" in command[2]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_crashed_worker_is_replaced_by_a_fork_of_the_same_template(tmp_path: Path, jobs: str) -> None:
    log = tmp_path / "processes.jsonl"
    proc = _capture("--cases-dir", str(TEMPLATE_CASES), "-j", jobs, log=log)
    assert proc.returncode == 1, proc.stderr  # the crash is an error
    statuses = {c["name"]: c["status"] for c in json.loads(proc.stdout)["cases"]}
    assert statuses == {"a_crash::crashes": "error", "b_who::who_first": "ok", "b_who::who_second": "ok"}
    ran = _processes(log)
    templates = {entry["ppid"] for entry in ran.values()}
    assert len(templates) == 1, ran  # every worker, the replacement too, has the one template as its parent
    assert all(_is_bootstrap(entry["parent"]) for entry in ran.values()), ran
    assert ran["crashes"]["pid"] not in {ran["who_first"]["pid"], ran["who_second"]["pid"]}


def test_no_fork_spawns_every_worker_from_the_host(tmp_path: Path) -> None:
    log = tmp_path / "processes.jsonl"
    proc = _capture("--cases-dir", str(TEMPLATE_CASES), "-j", "2", "--no-fork", log=log)
    assert proc.returncode == 1, proc.stderr
    ran = _processes(log)
    assert len(ran) == 3
    for entry in ran.values():
        assert not _is_bootstrap(entry["parent"]) and entry["parent"][1:3] == ["-m", "snapshot_runner.cli"], entry


def test_a_thread_started_after_import_torch_makes_forking_unsafe() -> None:
    before = threads()
    assert fork_unsafe(before) is None
    idle = threading.Event()
    thread = threading.Thread(target=idle.wait)
    thread.start()
    try:
        assert fork_unsafe(before) == "1 thread(s) started after import torch, while loading the cases or warming up"
    finally:
        idle.set()
        thread.join()


def test_a_template_with_a_thread_spawns_the_workers_instead(tmp_path: Path) -> None:
    log = tmp_path / "processes.jsonl"
    proc = _capture("--cases-dir", str(THREAD_CASES), "-j", "2", "--debug", log=log)
    assert proc.returncode == 0, proc.stderr
    assert [c["status"] for c in json.loads(proc.stdout)["cases"]] == ["ok"]
    assert "fork template: 1 thread(s) started after import torch, while loading the cases or warming up; spawning the workers" in proc.stderr
    (entry,) = _processes(log).values()
    assert entry["parent"][1:3] == ["-m", "snapshot_runner.cli"], entry  # spawned by the host, not forked


def test_forked_and_spawned_workers_give_identical_artifacts() -> None:
    forked = _capture("--cases-dir", "cases", "-k", INDUCTOR, "-j", "2")
    spawned = _capture("--cases-dir", "cases", "-k", INDUCTOR, "-j", "2", "--no-fork")
    assert forked.returncode == 0 and spawned.returncode == 0, forked.stderr + spawned.stderr
    fork_cases, spawn_cases = (json.loads(p.stdout)["cases"] for p in (forked, spawned))
    assert len(fork_cases) >= 3 and all(c["status"] == "ok" for c in fork_cases)
    assert any("inductor_kernels" in key for c in fork_cases for key in c["artifacts"])  # real C++ kernels were made
    artifacts = [[(c["name"], c["artifacts"]) for c in cases] for cases in (fork_cases, spawn_cases)]
    assert json.dumps(artifacts[0], sort_keys=True) == json.dumps(artifacts[1], sort_keys=True)


def _history(tmp_path: Path, seconds: dict[str, float]) -> Store:
    """A history with one complete run whose cases took ``seconds`` to compile."""
    store = Store.open(f"sqlite:///{tmp_path / 'h.sqlite'}")
    shard = Shard(1, 1)
    names = plan(store, "run-1", shard, list(seconds), "fp")
    env = {"torch_version": "2.13.0+cpu", "python": "3.11", "platform": "linux", "device": "cpu"}
    attempt = begin_part(store, "run-1", shard, environment=env, label="r", runner_version="t", normalize="canonical")
    store.add_results(attempt.run_id, [CaseResult(n, CaseStatus.OK, {"dynamo_graph": n}, None, seconds[n]) for n in names])
    finish_part(store, "run-1", shard)
    return store


def test_longest_first_orders_by_the_history_and_keeps_the_selection_order_without_it(tmp_path: Path) -> None:
    store = _history(tmp_path, {"m::fast": 0.5, "m::slow": 9.0, "m::middle": 2.0})
    try:
        order = longest_first(store)
        # A case the history does not know weighs the median of the known ones (2.0): a tie, kept in selection order.
        assert order(["m::fast", "m::new", "m::middle", "m::slow"]) == ["m::slow", "m::new", "m::middle", "m::fast"]
        assert order(["x::c", "x::a", "x::b"]) == ["x::c", "x::a", "x::b"]
    finally:
        store.close()
