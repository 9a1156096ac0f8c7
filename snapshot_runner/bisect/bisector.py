"""Bisect a case's artifact by torch version: which release or nightly changed it?

The history database is read first: a version with a complete run holding the
case is judged from it, for free. Any other version is captured (one case) by
``capture_at`` (which makes or reuses a cached torch environment) and stored as
a ``bisect`` run, so a second bisect over an overlapping range, or one that was
interrupted, reuses every capture. Without candidates given, ``offered`` names
the versions between the ends (the package index's). A version that cannot be judged (no wheel,
install or import failure, the case errors there) is skipped with its reason;
skips are not stored, since a failed install may work tomorrow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from snapshot_runner import __version__
from snapshot_runner.bisect.search import ChangePoint, Probe, Search, SearchResult
from snapshot_runner.capture.results import CaptureReport, CaseStatus
from snapshot_runner.drift import builds
from snapshot_runner.drift.bounded import unified_diff
from snapshot_runner.drift.compare import DriftError, resolve_run
from snapshot_runner.drift.structure import describe
from snapshot_runner.history.bisects import add_bisect
from snapshot_runner.history.models import RunKind
from snapshot_runner.history.store import RunInfo, Store, StoredResult, case_set_fingerprint
from snapshot_runner.torch_version import base_version, is_torch_version, order_versions, parse_version, same_version

CaptureAt = Callable[[str], CaptureReport]


class BisectError(Exception):
    """A bisect that cannot start (bad ends, unknown case); one line."""


class CaptureFailed(Exception):
    """A version that could not be captured: the reason becomes a skip."""


@dataclasses.dataclass(frozen=True)
class Subject:
    """The case, or one artifact of it, that a bisect follows."""

    case: str
    key: str | None  # None: every artifact of the case together

    def __str__(self) -> str:
        return f"{self.case}/{self.key}" if self.key else self.case

    def value(self, result: StoredResult) -> tuple[tuple[str, str], ...] | None:
        """The artifact hash(es) that decide the verdict; None if there are none."""
        if result.status != CaseStatus.OK:
            return None
        if self.key:
            digest = result.artifacts.get(self.key)
            return ((self.key, digest),) if digest else None
        return tuple(sorted(result.artifacts.items())) or None


@dataclasses.dataclass
class End:
    ref: str
    version: str
    run: RunInfo
    value: tuple[tuple[str, str], ...]


@dataclasses.dataclass
class BisectReport:
    target: Subject
    good: End
    bad: End
    search: SearchResult
    runs: dict[str, RunInfo]  # version -> the run its verdict came from
    diffs: dict[str, str]  # "last_good..first_bad" -> diff
    command: str
    captured_ends: int
    # "last_good..first_bad" -> each changed artifact's key, classification and summary
    classifications: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)

    @property
    def captured(self) -> int:
        return self.search.captured + self.captured_ends

    def sha(self, version: str) -> str | None:
        run = self.runs.get(version)
        return run.environment.get("torch_git_sha") if run else None

    def build(self, version: str) -> builds.Build | None:
        """The build a version's verdict came from (``2.14.0+cu130`` on ``cpu``); None where none ran."""
        run = self.runs.get(version)
        return builds.build_of({"environment": run.environment}) if run else None

    def build_difference(self, point: ChangePoint) -> str:
        """The line saying the two sides of a change point ran different builds, or ""."""
        return builds.difference(self.build(point.last_good), self.build(point.first_bad))

    def _torch_build(self, version: str) -> str | None:
        """The build a verdict came from, variant included (``2.14.0+cu130``)."""
        run = self.runs.get(version)
        return run.environment["torch_version"] if run else None

    def compare_url(self, point: ChangePoint) -> str | None:
        good, bad = self.sha(point.last_good), self.sha(point.first_bad)
        return f"https://github.com/pytorch/pytorch/compare/{good}...{bad}" if good and bad else None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": {"case": self.target.case, "artifact": self.target.key},
            "good": {"ref": self.good.ref, "version": self.good.version, "run": self.good.run.id},
            "bad": {"ref": self.bad.ref, "version": self.bad.version, "run": self.bad.run.id},
            "change_points": [
                {
                    "last_good": p.last_good,
                    "first_bad": p.first_bad,
                    "skipped_between": p.skipped_between,
                    "last_good_sha": self.sha(p.last_good),
                    "first_bad_sha": self.sha(p.first_bad),
                    "compare_url": self.compare_url(p),
                    "build_difference": self.build_difference(p),
                    "classifications": self.classifications.get(p.span, []),
                    "diff": self.diffs.get(p.span, ""),
                }
                for p in self.search.change_points
            ],
            "verdicts": [{**dataclasses.asdict(v), "torch_build": self._torch_build(v.version)} for v in self.search.verdicts.values()],
            "captured": self.captured,
            "skipped": self.search.skipped,
            "reused": self.search.reused,
            "command": self.command,
        }


class Bisector:
    def __init__(
        self,
        store: Store,
        target: Subject,
        capture_at: CaptureAt,
        *,
        prefetch: Callable[[list[str]], None] | None = None,
        offered: Callable[[str, str], Sequence[str]] | None = None,
        log: TextIO | None = None,
    ) -> None:
        self.store = store
        self.target = target
        self.capture_at = capture_at
        self.prefetch = prefetch
        # The versions strictly between two ends that could be installed (the index's).
        self.offered = offered
        self.log = log
        self.runs: dict[str, RunInfo] = {}
        self.captured_ends = 0
        # Set by the ends: versions are compared on the device the ends ran on.
        self.device: str | None = None

    # --- judging one version -------------------------------------------------------

    def _history(self) -> list[RunInfo]:
        """Complete runs holding the case with an ``ok`` result, newest first, on the ends' device.

        A case error is never reused: like a failed install, it may work tomorrow.
        """
        runs = self.store.runs_with_case(self.target.case, status=CaseStatus.OK)
        return [r for r in runs if is_torch_version(r.environment["torch_version"]) and self.device in (None, r.environment["device"])]

    def _result(self, run: RunInfo) -> StoredResult | None:
        return self.store.results(run.id, [self.target.case]).get(self.target.case)

    def _judge_run(self, run: RunInfo, version: str, result: StoredResult, *, reused: bool) -> Probe:
        self.runs[version] = run
        value = self.target.value(result)
        reason = None if value else f"case {result.status} at torch {version}: {result.error or f'no artifact {self.target.key}'}"
        return Probe(value, reason, reused=reused)

    def known(self, version: str) -> Probe | None:
        """The newest run of ``version`` in the history, if any."""
        wanted = parse_version(version)
        run = next((r for r in self._history() if parse_version(r.environment["torch_version"]) == wanted), None)
        result = self._result(run) if run else None
        return self._judge_run(run, version, result, reused=True) if run and result else None

    def probe(self, version: str) -> Probe:
        known = self.known(version)
        if known is not None:
            return known
        try:
            report = self.capture_at(version)
        except CaptureFailed as exc:
            return Probe(None, str(exc))
        result = next((r for r in report.cases if r.name == self.target.case), None)
        if result is None:
            return Probe(None, f"case {self.target.case} not found with torch {version}")
        if result.status != CaseStatus.OK:  # a skip, not a verdict: not stored
            return Probe(None, f"case {result.status} at torch {version}: {result.error}")
        run_id = self.store.begin_run(
            environment=report.environment,
            label=f"bisect {self.target.case}",
            runner_version=__version__,
            case_set_fingerprint=case_set_fingerprint([result.name], []),
            cases_expected=1,
            normalize=report.normalize,
            kind=RunKind.BISECT,
        )
        self.store.add_results(run_id, [result])
        self.store.finish_run(run_id)
        run = self.store.run(run_id)
        stored = self._result(run) if run else None
        assert run is not None and stored is not None
        return self._judge_run(run, version, stored, reused=False)

    # --- the ends ------------------------------------------------------------------

    def end(self, ref: str, which: str) -> End:
        """A run id or label names a run; anything else is a torch version."""
        if not _names_version(ref):
            try:
                run = resolve_run(self.store, ref)
            except DriftError as exc:
                raise BisectError(f"--{which} {ref}: {exc}") from None
            version = base_version(run.environment["torch_version"])
            result = self._result(run)
            if result is None:
                raise BisectError(f"--{which} {ref}: run {run.id} has no case {self.target.case}")
            probe = self._judge_run(run, version, result, reused=True)
        else:
            version = base_version(ref)
            probe = self.probe(version)
            self.captured_ends += not probe.reused and probe.value is not None
        if probe.value is None:
            raise BisectError(f"--{which} {ref}: cannot judge it: {probe.skip_reason}")
        run = self.runs[version]
        device = run.environment["device"]
        if self.device not in (None, device):
            raise BisectError(f"--good ran on {self.device} and --bad on {device}: bisect compares runs of one device")
        self.device = device
        return End(ref, version, run, probe.value)  # type: ignore[arg-type]

    # --- the whole bisect ------------------------------------------------------------

    def candidates(self, good: str, bad: str, extra: Sequence[str]) -> list[str]:
        """The history's versions holding the case strictly between the ends, plus ``extra``."""
        low, high = parse_version(good), parse_version(bad)
        recorded = [r.environment["torch_version"] for r in self._history()]
        inside = [v for v in order_versions([*recorded, *extra]) if low < parse_version(v) < high]
        return [good, *inside, bad]

    def _announce(self, versions: Sequence[str], every_change: bool) -> None:
        """The candidates, before anything is installed for them, and the installs they may take."""
        if self.log is None:
            return
        good, inside, bad = versions[0], versions[1:-1], versions[-1]
        if not inside:
            print(f"no torch versions between {good} and {bad} in the history or the package index: the change came with {bad}", file=self.log)
            return
        recorded = {parse_version(r.environment["torch_version"]) for r in self._history()}
        new = sum(parse_version(v) not in recorded for v in inside)
        most = new if every_change else math.ceil(math.log2(new + 1))
        installs = f"at most {most} to install, more only if some are skipped" if new else "nothing to install"
        print(f"candidates between {good} and {bad}: {', '.join(inside)} ({len(inside) - new} in the history); {installs}", file=self.log)

    def run(self, good_ref: str, bad_ref: str, extra: Sequence[str], *, every_change: bool, command: str) -> BisectReport | None:
        """None when the ends do not differ (nothing to bisect)."""
        if all(_names_version(ref) for ref in (good_ref, bad_ref)):
            if same_version(good_ref, bad_ref):
                raise BisectError(f"--good {good_ref} and --bad {bad_ref} are the same torch build: nothing to bisect between them")
            _check_order(good_ref, good_ref, bad_ref, bad_ref)  # before anything is installed for either end
        good, bad = self.end(good_ref, "good"), self.end(bad_ref, "bad")
        if same_version(good.version, bad.version):
            raise BisectError(f"--good {good_ref} and --bad {bad_ref} both ran torch {good.version}: a change between them is the cases', not torch's")
        if good.value == bad.value:
            return None
        _check_order(good_ref, good.version, bad_ref, bad.version)
        if not extra and self.offered is not None:
            extra = self.offered(good.version, bad.version)
        versions = self.candidates(good.version, bad.version, extra)
        self._announce(versions, every_change)
        search = Search(versions, self.probe, self.known, good.value, bad.value, self.prefetch).run(every_change=every_change)
        report = BisectReport(self.target, good, bad, search, self.runs, {}, command, self.captured_ends)
        for point in search.change_points:
            report.diffs[point.span], report.classifications[point.span] = self._diff(point)
        # Kept beside the captures it made: the service's case page shows it.
        add_bisect(self.store, report.to_json())
        return report

    def _diff(self, point: ChangePoint) -> tuple[str, list[dict[str, Any]]]:
        """The raw diff across a change point, and each changed artifact's classification."""
        before, after = self.runs[point.last_good], self.runs[point.first_bad]
        old_result, new_result = self._result(before), self._result(after)
        assert old_result and new_result  # both sides of a change point were judged from stored results
        old, new = old_result.artifacts, new_result.artifacts
        keys = [self.target.key] if self.target.key else sorted(set(old) | set(new))
        texts = self.store.texts({h for h in (*old.values(), *new.values())})
        changed = [k for k in keys if old.get(k) != new.get(k)]
        diff = "".join(unified_diff(texts.get(old.get(k, ""), ""), texts.get(new.get(k, ""), ""), k, point.last_good, point.first_bad) for k in changed)
        classified: list[dict[str, Any]] = []
        for key in changed:
            if key in old and key in new:
                description = describe(key, texts.get(old[key], ""), texts.get(new[key], ""))
                classified.append({"key": key, "classification": str(description.level), "summary": description.summary})
            else:
                classified.append({"key": key, "classification": None, "summary": ["added" if key in new else "removed"]})
        return diff, classified


def _check_order(good_ref: str, good_version: str, bad_ref: str, bad_version: str) -> None:
    if parse_version(good_version) >= parse_version(bad_version):
        raise BisectError(
            f"--good {good_ref} (torch {good_version}) is not older than --bad {bad_ref} (torch {bad_version}): "
            "swap them, or bisect between two different versions"
        )


def _names_version(ref: str) -> bool:
    """Whether an end's REF is a torch version (a number is a run id, even one that parses)."""
    return not ref.isdigit() and is_torch_version(ref)
