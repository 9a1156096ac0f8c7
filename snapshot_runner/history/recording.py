"""Recording a capture as one run: checked before anything is stored, stored case by case."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snapshot_runner import __version__
from snapshot_runner.capture.results import CaptureReport, CaseResult
from snapshot_runner.capture.worker import CaptureStart
from snapshot_runner.history.models import RunStatus
from snapshot_runner.history.store import Store, case_set_fingerprint
from snapshot_runner.torch_version import VersionError, parse_version


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
    try:
        parse_version(str(report.environment.get("torch_version")))
    except VersionError:
        problems.append(f"its environment has no torch version ({report.environment.get('torch_version')!r})")
    problem = next((p for p in problems if p), None)
    if problem:
        raise RecordError(f"--from-json: {path} cannot be recorded: {problem}")
    return report


class RunRecorder:
    """Stores one run case by case: begun at its first case (so an empty
    selection records nothing), each case committed as soon as it is captured
    (a killed run keeps what it did, and stays incomplete).

    Pass ``started`` and ``add`` as a capture's ``on_start`` / ``on_result``,
    then ``finish`` with the capture's report.
    """

    def __init__(self, store: Store, label: str | None, *, on_begin: Callable[[int], None] | None = None) -> None:
        self.store, self.label, self.on_begin = store, label, on_begin
        self.start: CaptureStart | None = None
        self.run_id: int | None = None
        self.stored: set[str] = set()

    def _begin(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str) -> int:
        if self.run_id is None:
            self.run_id = self._open(environment, names, sources, normalize)
            if self.on_begin:
                self.on_begin(self.run_id)
        return self.run_id

    def _open(self, environment: dict[str, Any], names: list[str], sources: list[str], normalize: str) -> int:
        """Begin the run these cases go into; its id."""
        texts = (Path(f).read_text(encoding="utf-8") for f in sources)
        return self.store.begin_run(
            environment=environment,
            label=self.label,
            runner_version=__version__,
            case_set_fingerprint=case_set_fingerprint(names, texts),
            cases_expected=len(names),
            normalize=normalize,
        )

    def _close(self, run_id: int, expected: int) -> None:
        """Close the run; ``RecordError`` if it is not complete."""
        status = self.store.finish_run(run_id)
        if status != RunStatus.COMPLETE:
            raise RecordError(f"run {run_id} is {status}: {len(self.stored)} of {expected} cases stored")

    def started(self, start: CaptureStart) -> None:
        self.start = start

    def add(self, result: CaseResult) -> None:
        start = self.start
        run_id = self._begin(start.environment, start.cases, start.source_files, "canonical") if start else None
        if run_id is not None and result.name not in self.stored:
            self.store.add_results(run_id, [result])
            self.stored.add(result.name)

    def finish(self, report: CaptureReport) -> int:
        """Store what the progress events missed (the report is the authority),
        then close the run; its id. Raises ``RecordError`` if it is not complete."""
        if not report.cases:
            raise RecordError("no cases selected: nothing to record")
        names = [r.name for r in report.cases]
        sources = self.start.source_files if self.start else []
        run_id = self._begin(report.environment, names, sources, report.normalize)
        missing = [r for r in report.cases if r.name not in self.stored]
        if missing:
            self.store.add_results(run_id, missing)
            self.stored.update(r.name for r in missing)
        self._close(run_id, len(names))
        return run_id
