"""One REF grammar (``snapshot_runner/refs.py``): a run label or run key that a
REF would read as something else is refused when made, and a labelled run that
is not used by default says what it is rather than "unknown REF"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from snapshot_runner.history.shards import ShardError, check_run_key
from snapshot_runner.history.store import Store

from .conftest import run_cli
from .test_hostile_input import _one_line, _report

REF_LOOKALIKES = [("latest", "is a REF word"), ("newest", "is a REF word"), ("1", "is a number"), ("2.13.0", "is a version"), ("2026-12-05", "is a date")]


@pytest.mark.parametrize(("key", "problem"), [*REF_LOOKALIKES, ("golden", "is a REF word")])
def test_a_run_key_that_reads_as_another_ref_is_refused(key: str, problem: str) -> None:
    with pytest.raises(ShardError, match=re.escape(f"--run-key: '{key}' {problem}")):
        check_run_key(key)


def test_the_cli_refuses_such_a_run_key_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    _one_line(run_cli("record", "--db", f"sqlite:///{db}", "--shard", "1/2", "--run-key", "latest"), "--run-key: 'latest' is a REF word")
    assert not db.exists()


@pytest.mark.parametrize(("label", "problem"), REF_LOOKALIKES)
def test_a_label_that_reads_as_another_ref_is_refused(tmp_path: Path, label: str, problem: str) -> None:
    db = tmp_path / "h.sqlite"
    _one_line(run_cli("record", "--from-json", str(_report(tmp_path)), "--db", f"sqlite:///{db}", "--label", label), "--label", problem)
    assert not db.exists()


def _labelled_run(url: str, label: str, *, load_errors: bool) -> None:
    """A labelled run killed before its one case (incomplete), or closed with a module that failed to import."""
    store = Store.open(url)
    run_id = store.begin_run(
        environment={"torch_version": "2.13.0", "device": "cpu"},
        label=label,
        runner_version="0",
        case_set_fingerprint="x",
        cases_expected=0,
        normalize="canonical",
    )
    if load_errors:
        store.finish_run(run_id, load_errors=[{"module": "broken", "error": "broken.py:1: SyntaxError"}])
    store.close()


@pytest.mark.parametrize(("load_errors", "status"), [(False, "incomplete (killed or still running)"), (True, "load-errors (case modules failed to import)")])
def test_a_labelled_run_not_used_by_default_says_what_it_is(tmp_path: Path, load_errors: bool, status: str) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    assert run_cli("record", "--from-json", str(_report(tmp_path)), "--db", url).returncode == 0
    _labelled_run(url, "half", load_errors=load_errors)
    _one_line(run_cli("drift", "--from", "1", "--to", "half", "--db", url), f"run 2 ('half') is {status}; pass --include-incomplete to use it")
    assert run_cli("drift", "--from", "1", "--to", "half", "--db", url, "--include-incomplete").returncode in (0, 1)
    again = run_cli("record", "--from-json", str(_report(tmp_path)), "--db", url, "--label", "half")
    _one_line(again, "run 2 is already labelled 'half'", "`drift --include-incomplete` can still use it")
