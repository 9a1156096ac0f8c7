"""Recording a capture as one run: checked before anything is stored, stored case by case."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from snapshot_runner import __version__
from snapshot_runner.capture.results import CaptureReport, CaseResult, load_error_module
from snapshot_runner.capture.worker import CaptureStart
from snapshot_runner.history.models import RunKind, RunStatus
from snapshot_runner.history.store import RunInfo, Store, case_set_fingerprint
from snapshot_runner.refs import name_problem
from snapshot_runner.torch_version import is_torch_version


class RecordError(Exception):
    """Nothing (more) can be recorded: one line for the user."""


def load_report(path: str) -> CaptureReport:
    """A ``capture --json`` report made elsewhere, checked completely before a run is begun."""
    try:
        report = CaptureReport.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise RecordError(f"--from-json: no such file: {path}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"--from-json: {path} is not a capture report: {exc}") from None
    names = [r.name for r in report.cases]
    problems = [
        "it holds no cases" if not names else None,
        report.problem(),
        f"case {next(n for n in names if names.count(n) > 1)} appears twice" if len(set(names)) != len(names) else None,
        next(
            (
                f"case {r.name} has a non-text artifact"
                for r in report.cases
                if not all(isinstance(k, str) and isinstance(t, str) for k, t in r.artifacts.items())
            ),
            None,
        ),
        f"it was normalized {report.normalize!r}; the history holds canonical captures" if report.normalize != "canonical" else None,
    ]
    if not is_torch_version(str(report.environment.get("torch_version"))):
        problems.append(f"its environment has no torch version ({report.environment.get('torch_version')!r})")
    problem = next((p for p in problems if p), None)
    if problem:
        raise RecordError(f"--from-json: {path} cannot be recorded: {problem}")
    return report


MAX_LABEL = 200  # the column's width


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot name a run (a REF would read it as something else), or None."""
    if not label.strip():
        return "a label may not be empty"
    reading = name_problem(label, "label")
    if reading:
        return reading
    if any(not ch.isprintable() for ch in label):
        return f"{label!r} holds control characters"
    if len(label) > MAX_LABEL:
        return f"a label may have at most {MAX_LABEL} characters, not {len(label)}"
    return None


def check_label(label: str | None) -> None:
    """``RecordError`` for a label that cannot name a run: before any database is opened."""
    problem = label_problem(label) if label is not None else None
    if problem:
        raise RecordError(f"--label: {problem}")


class RunRecorder:
    """Stores one run case by case: begun at its first case (so an empty
    selection records nothing), each case committed as soon as it is captured
    (a killed run keeps what it did, and stays incomplete).

    Pass ``started`` and ``add`` as a capture's ``on_start`` / ``on_result``,
    then ``finish`` with the capture's report.
    """

    def __init__(self, store: Store, label: str | None, *, on_begin: Callable[[int], None] | None = None) -> None:
        """Raises ``RecordError`` for a label that cannot name a run or that names one already."""
        if label is not None:
            check_label(label)
            taken = self._labelled(store, label)
            if taken is not None:
                state = "" if taken.status == RunStatus.COMPLETE else f" (it is {taken.status}: `drift --include-incomplete` can still use it)"
                raise RecordError(f"--label: run {taken.id} is already labelled {label!r}; labels name one run{state}")
        self.store, self.label, self.on_begin = store, label, on_begin
        self.start: CaptureStart | None = None
        self.run_id: int | None = None
        self.stored: set[str] = set()

    def _begin(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str, user_rules: Sequence[dict[str, str]]) -> int:
        if self.run_id is None:
            self.run_id = self._open(environment, names, sources, normalize, user_rules)
            if self.on_begin:
                self.on_begin(self.run_id)
        return self.run_id

    def _open(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str, user_rules: Sequence[dict[str, str]]) -> int:
        """Begin the run these cases go into; its id."""
        texts = (Path(f).read_text(encoding="utf-8") for f in sources)
        return self.store.begin_run(
            environment=environment,
            label=self.label,
            runner_version=__version__,
            case_set_fingerprint=case_set_fingerprint(names, texts),
            cases_expected=len(names),
            normalize=normalize,
            normalize_rules=user_rules,
        )

    def _store(self, run_id: int, results: Sequence[CaseResult]) -> None:
        self.store.add_results(run_id, results)

    def _close(self, run_id: int, expected: int, load_errors: Sequence[dict[str, str]] = ()) -> None:
        """Close the run with the case modules that failed to import; ``RecordError``
        if it is incomplete (a run with load errors is kept, status ``load-errors``)."""
        status = self.store.finish_run(run_id, load_errors=load_errors)
        if status == RunStatus.INCOMPLETE:
            raise RecordError(f"run {run_id} is {status}: {len(self.stored)} of {expected} cases stored")

    def started(self, start: CaptureStart) -> None:
        self.start = start

    def add(self, result: CaseResult) -> None:
        start = self.start
        run_id = self._begin(start.environment, start.cases, start.source_files, "canonical", start.user_rules) if start else None
        if run_id is not None and result.name not in self.stored:
            self._store(run_id, [result])
            self.stored.add(result.name)

    def _labelled(self, store: Store, label: str) -> RunInfo | None:
        """The run that already has ``label``, which this one may not take too."""
        return next((r for r in store.runs(kind=RunKind.RECORD) if r.label == label), None)

    def left_incomplete(self) -> str:
        """What a run stopped part way leaves behind, in words."""
        if self.run_id is None:
            return "nothing recorded"
        expected = len(self.start.cases) if self.start else 0
        return f"run {self.run_id} stays incomplete with {len(self.stored)} of {expected} cases stored"

    def finish(self, report: CaptureReport) -> int:
        """Store what the progress events missed (the report is the authority),
        then close the run with its load errors (that a module broke is worth
        keeping); its id. Raises ``RecordError`` if it is incomplete."""
        if not report.cases and not report.load_errors:
            raise RecordError("no cases selected: nothing to record")
        names = [r.name for r in report.cases]
        sources = self.start.source_files if self.start else []
        run_id = self._begin(report.environment, names, sources, report.normalize, report.user_rules)
        missing = [r for r in report.cases if r.name not in self.stored]
        if missing:
            self._store(run_id, missing)
            self.stored.update(r.name for r in missing)
        self._close(run_id, len(names), [{"module": load_error_module(line), "error": line} for line in report.load_errors])
        return run_id
