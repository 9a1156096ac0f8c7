"""Recording one shard of a run: select the whole case set, take this
shard's share of it, capture only that share and store it as the shard's part.

A shard selects cases; the capture (and whatever supervises it) runs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from snapshot_runner import __version__
from snapshot_runner.capture.discovery import CaseSelectionError, discover, select
from snapshot_runner.capture.results import CaptureReport, CaseResult
from snapshot_runner.capture.worker import OnResult, OnStart
from snapshot_runner.history.models import PartStatus
from snapshot_runner.history.recording import RecordError, RunRecorder
from snapshot_runner.history.shards import Attempt, PartInfo, Shard, add_part_results, begin_part, finish_part, plan, progress, run_of
from snapshot_runner.history.store import RunInfo, Store, case_set_fingerprint

# Captures the named cases: the command's capture (target, progress, supervision).
Capture = Callable[[Sequence[str], OnStart, OnResult], CaptureReport]


@dataclasses.dataclass(frozen=True)
class Selection:
    """The whole case set a run's shards split: names and their modules' source."""

    names: list[str]
    fingerprint: str
    load_errors: list[str]


def select_cases(cases_dir: Path, names: Sequence[str] = (), substring: str | None = None) -> Selection:
    """The selected cases, found here (every shard must find the same)."""
    try:
        found = discover(cases_dir)
        chosen = select(found.cases, names, substring)
    except (FileNotFoundError, CaseSelectionError) as exc:
        raise RecordError(str(exc)) from None
    sources = sorted({c.source_file for c in chosen})
    fingerprint = case_set_fingerprint([c.name for c in chosen], (Path(s).read_text(encoding="utf-8") for s in sources))
    return Selection(sorted(c.name for c in chosen), fingerprint, [e.one_line() for e in found.errors])


class ShardRecorder(RunRecorder):
    """A ``RunRecorder`` whose run is the shared run of a key, and whose cases are one shard's part of it."""

    def __init__(self, store: Store, label: str | None, key: str, shard: Shard, *, on_begin: Callable[[int], None] | None = None) -> None:
        super().__init__(store, label, on_begin=on_begin)
        self.key, self.shard = key, shard
        self.run_status: str | None = None
        self.attempt: Attempt | None = None

    def _labelled(self, store: Store, label: str) -> RunInfo | None:
        # A sharded run is named by its key; its label names the series (one
        # CI matrix cell, night after night), so it repeats by design.
        return None

    def _open(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str, user_rules: Sequence[dict[str, str]]) -> int:
        self.attempt = begin_part(
            self.store, self.key, self.shard, environment=environment, label=self.label, runner_version=__version__, normalize=normalize, user_rules=user_rules
        )
        return self.attempt.run_id

    def _store(self, run_id: int, results: Sequence[CaseResult]) -> None:
        assert self.attempt is not None  # _open came first
        add_part_results(self.store, self.key, self.shard, self.attempt, results)

    def _close(self, run_id: int, expected: int, load_errors: Sequence[dict[str, str]] = ()) -> None:
        # A shard's load errors are its selection's (``Selection.load_errors``), reported by the command.
        part, self.run_status = finish_part(self.store, self.key, self.shard)
        if part != PartStatus.COMPLETE:
            raise RecordError(f"shard {self.shard} of run {run_id} ({self.key}) is {part}: {len(self.stored)} of {expected} cases stored")


@dataclasses.dataclass
class ShardOutcome:
    run_id: int | None  # None: no shard has begun the run yet (this part was empty)
    run_status: str | None
    part: list[str]
    results: list[CaseResult]
    parts: list[PartInfo]


def record_shard(
    store: Store,
    key: str,
    shard: Shard,
    selection: Selection,
    capture: Capture,
    *,
    label: str | None = None,
    on_begin: Callable[[int], None] | None = None,
) -> ShardOutcome:
    """Record ``shard``'s part of the run ``key``. Raises ``RecordError`` (and
    ``ShardError``) with one line when the part cannot be recorded whole."""
    if not selection.names:
        raise RecordError("no cases selected: nothing to record")
    part = plan(store, key, shard, selection.names, selection.fingerprint)
    recorder = ShardRecorder(store, label, key, shard, on_begin=on_begin)
    results: list[CaseResult] = []
    if part:
        report = capture(part, recorder.started, recorder.add)
        run_id: int | None = recorder.finish(report)
        run_status, results = recorder.run_status, report.cases
    else:  # more shards than cases: nothing to capture, the part is done
        _, run_status = finish_part(store, key, shard)
        run_id = run_of(store, key)
    return ShardOutcome(run_id, run_status, part, results, progress(store, [key])[key])
