"""The nightly job: record a run, compare it with the previous night, write the
reports, and bisect what a new torch changed.

1. record the cases under the chosen torch (by default the newest on the
   package index; the command line skips the night when the last nightly on
   this device ran that very build) as a run labelled ``nightly-<date>T<time>``;
2. compare it with the previous nightly: the newest complete ``nightly-*`` run
   on the same device (a GPU run or a hand-made ``record`` in between is not
   what last night saw), or with the goldens on the first night, over the same
   case selection; write ``drift-<date>.md``, ``.html``, ``.json`` and
   ``.junit.xml`` (a second night on one day: ``drift-<date>T<time>.*``). A run recorded by shards (``record --shard``) is reported
   the same way, without recording (``report_night``);
3. optionally, for every case whose graphs changed under a new torch, bisect
   it between the two nights' versions: ``bisect-<date>-<case>.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from snapshot_runner.bisect.bisector import BisectError, Bisector, CaptureFailed, Subject
from snapshot_runner.bisect.report import renderer as bisect_renderer
from snapshot_runner.capture.results import CaptureReport, CaseResult
from snapshot_runner.capture.user_rules import UserRule
from snapshot_runner.capture.worker import CaptureRequest, CaptureStart
from snapshot_runner.drift.compare import DriftReport, compare, resolve
from snapshot_runner.drift.renderers import renderer as drift_renderer
from snapshot_runner.drift.semantic import Level
from snapshot_runner.envs import target as targets
from snapshot_runner.envs.index import PackageIndexError
from snapshot_runner.envs.installer import InstallError
from snapshot_runner.envs.supervisor import DEFAULT_TIMEOUT, RequestError, WorkerError
from snapshot_runner.envs.torch_spec import SpecError, TorchSpec
from snapshot_runner.history.models import RunKind, RunStatus
from snapshot_runner.history.recording import RunRecorder
from snapshot_runner.history.shards import describe, longest_first, progress, run_of
from snapshot_runner.history.store import RunInfo, Store
from snapshot_runner.torch_version import same_version

LABEL_PREFIX = "nightly-"
DRIFT_FORMATS = ("md", "html", "json", "junit")
DRIFT_SUFFIX = {"junit": "junit.xml"}  # what CI tools look for
# Changes worth a bisect: what a graph computes or receives. Guard-only, renamed,
# reordered and layout-only drift is reported, not bisected.
BISECTED = (Level.STRUCTURAL, Level.SIGNATURE, Level.METADATA)


class NightlyError(Exception):
    """The night could not be recorded or reported: one line."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one night does."""

    cases_dir: Path
    target: targets.Target
    reports_dir: Path = Path("reports")
    snapshots_dir: Path = Path("snapshots")  # the first night compares with these goldens
    names: tuple[str, ...] = ()
    substring: str | None = None
    bisect: bool = False
    versions: tuple[str, ...] = ()  # bisect's candidates besides the history's
    # Without ``versions``: the versions between two ends that could be installed (the index's).
    offered: Callable[[str, str], Sequence[str]] | None = None
    # The torch of a version to bisect, installed like the night's own.
    spec_of: Callable[[str], TorchSpec] | None = None
    debug: bool = False
    track: tuple[str, ...] = ()  # the project's tracked distributions
    user_rules: tuple[UserRule, ...] = ()  # the project's normalization rules
    jobs: int = 1  # supervised workers
    timeout: float = DEFAULT_TIMEOUT  # seconds a case may run unless it sets its own
    fork: bool = True  # workers forked from a warmed-up template (else spawned)


@dataclasses.dataclass
class Night:
    run: RunInfo
    previous: RunInfo | None
    report: DriftReport
    capture: CaptureReport | None  # None: the run was recorded by shards (``report_night``)
    written: list[Path] = dataclasses.field(default_factory=list)
    skipped_bisect: str | None = None  # why nothing was bisected, when asked to

    @property
    def failed(self) -> bool:
        return bool(self.capture and (self.capture.failed or self.capture.load_errors))


def nightlies(store: Store, device: str) -> list[RunInfo]:
    """The complete nightlies recorded on ``device``, newest first."""
    runs = store.runs(include_incomplete=False, kind=RunKind.RECORD)
    return [r for r in runs if (r.label or "").startswith(LABEL_PREFIX) and r.environment["device"] == device]


def previous_nightly(store: Store, this: RunInfo) -> RunInfo | None:
    """The newest complete nightly before ``this`` on the same device. A sharded
    run's is the one of its label: a CI matrix labels each torch build × device
    cell alike every night, and the cells of one night are not each other's past."""

    def same_series(r: RunInfo) -> bool:
        return r.label == this.label if this.run_key else (r.label or "").startswith(LABEL_PREFIX)

    return next(
        (
            r
            for r in store.runs(include_incomplete=False, kind=RunKind.RECORD)
            if r.id < this.id and same_series(r) and r.environment["device"] == this.environment["device"]
        ),
        None,
    )


def already_recorded(store: Store, version: str, device: str) -> RunInfo | None:
    """The last nightly on ``device`` if it ran this very torch build (nothing new to record)."""
    last = next(iter(nightlies(store, device)), None)
    return last if last is not None and same_version(last.environment["torch_version"], version) else None


def sharded_run(store: Store, key: str) -> RunInfo:
    """The complete run the shards of ``key`` recorded; ``NightlyError`` naming the parts still missing."""
    parts = progress(store, [key]).get(key)
    run_id = run_of(store, key)
    run = store.run(run_id) if run_id is not None else None
    if run is None:
        raise NightlyError(f"no run {key!r} in {store.url}" + (f": shards {describe(parts)}" if parts else ""))
    if run.status != RunStatus.COMPLETE:
        raise NightlyError(f"run {run.id} ({key}) is {run.status}: shards {describe(parts or [])}")
    return run


def bisectable_changes(report: DriftReport) -> list[str]:
    """Cases with an artifact changed in ops, dataflow or signature."""
    return [c.name for c in report.cases if any(a.classification in BISECTED for a in c.changed_artifacts)]


def run_night(
    store: Store,
    plan: Plan,
    log: TextIO,
    *,
    now: dt.datetime | None = None,
    on_start: Callable[[CaptureStart], None] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
) -> Night:
    now = now or dt.datetime.now()
    # The time keeps a second run on one day a label of its own.
    recorder = RunRecorder(
        store, f"{LABEL_PREFIX}{now:%Y-%m-%dT%H%M%S}", on_begin=lambda run_id: print(f"nightly: recording run {run_id} into {store.url}", file=log)
    )

    def started(start: CaptureStart) -> None:
        recorder.started(start)
        if on_start:
            on_start(start)

    def finished(result: CaseResult) -> None:
        recorder.add(result)
        if on_result:
            on_result(result)

    try:
        request = CaptureRequest(str(plan.cases_dir), plan.names, plan.substring, debug=plan.debug, track=plan.track, user_rules=plan.user_rules)
        capture = targets.capture(
            plan.target,
            request,
            jobs=plan.jobs,
            timeout=plan.timeout,
            fork=plan.fork,
            order=longest_first(store),
            on_start=started,
            on_result=finished,
            log=log,
        )
    except (SpecError, InstallError, RequestError, WorkerError) as exc:
        raise NightlyError(str(exc)) from None
    run_id = recorder.finish(capture)
    this = store.run(run_id)
    assert this is not None
    return report_night(store, plan, this, log, now=now, capture=capture)


def report_night(store: Store, plan: Plan, this: RunInfo, log: TextIO, *, now: dt.datetime | None = None, capture: CaptureReport | None = None) -> Night:
    """Compare a recorded nightly (by ``run_night``, or by shards) with the
    previous one, write the drift reports and bisect what a new torch changed."""
    now = now or dt.datetime.now()
    previous = previous_nightly(store, this)
    since = resolve(store, str(previous.id) if previous else "golden", snapshots_dir=plan.snapshots_dir)
    until = resolve(store, str(this.id), snapshots_dir=plan.snapshots_dir)
    report = compare(since.selected(plan.names, plan.substring), until.selected(plan.names, plan.substring))
    night = Night(this, previous, report, capture)
    plan.reports_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(plan.reports_dir, now)
    for fmt in DRIFT_FORMATS:
        path = plan.reports_dir / f"drift-{stem}.{DRIFT_SUFFIX.get(fmt, fmt)}"
        path.write_text(drift_renderer(fmt)(report), encoding="utf-8")
        night.written.append(path)
    if plan.bisect:
        _bisect_changes(store, plan, night, stem, log)
    return night


def report_stem(reports_dir: Path, now: dt.datetime) -> str:
    """``<date>`` for the day's first night; a later one on that day adds its time
    (``<date>T<HHMMSS>``), so the first night's reports are kept, never overwritten."""
    date = now.date().isoformat()
    return date if not any(reports_dir.glob(f"drift-{date}.*")) else f"{now:%Y-%m-%dT%H%M%S}"


def _bisect_changes(store: Store, plan: Plan, night: Night, date: str, log: TextIO) -> None:
    if night.previous is None:
        night.skipped_bisect = "the first nightly has nothing to bisect against"
        return
    then, now = night.previous.environment["torch_version"], night.run.environment["torch_version"]
    if then == now:
        night.skipped_bisect = f"same torch as the previous nightly ({now}): any drift is the cases', nothing to bisect"
        return
    spec_of = plan.spec_of
    if spec_of is None:
        night.skipped_bisect = "no installer options to make other torch versions with"
        return

    def capture_at(case: str) -> Callable[[str], CaptureReport]:
        def at(version: str) -> CaptureReport:
            print(f"nightly: capturing {case} with torch {version} ...", file=log)
            try:
                request = CaptureRequest(str(plan.cases_dir), (case,), debug=plan.debug, track=plan.track, user_rules=plan.user_rules)
                return targets.capture(plan.target.with_torch(spec_of(version)), request, log=log)
            except (SpecError, InstallError, RequestError, WorkerError) as exc:
                raise CaptureFailed(str(exc)) from None

        return at

    for name in bisectable_changes(night.report):
        bisector = Bisector(store, Subject(name, None), capture_at(name), offered=None if plan.versions else plan.offered, log=log)
        try:
            good, bad = str(night.previous.id), str(night.run.id)
            command = shlex.join(["snapshot-runner", "bisect", name, "--good", good, "--bad", bad, "--db", store.url])
            result = bisector.run(good, bad, plan.versions, every_change=False, command=command)
        except (BisectError, PackageIndexError) as exc:
            print(f"nightly: cannot bisect {name}: {exc}", file=log)
            continue
        if result is not None:
            path = plan.reports_dir / f"bisect-{date}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.md"
            path.write_text(bisect_renderer("md")(result), encoding="utf-8")
            night.written.append(path)


def summary(night: Night) -> Sequence[str]:
    """What the night did, for the log."""
    since = f"run {night.previous.id}" if night.previous else "golden"
    lines = [f"nightly: drift (run {night.run.id} from {since}): " + ", ".join(f"{n} {s}" for s, n in night.report.counts().items())]
    lines += [f"nightly: wrote {path}" for path in night.written]
    if night.skipped_bisect:
        lines.append(f"nightly: {night.skipped_bisect}")
    return lines
