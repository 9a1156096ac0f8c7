"""Drift between two sides: recorded runs, or a run and the goldens.

A REF names a side: a run id, a run label, a torch version (``2.14.1``
matches ``2.14.1+cu130``), ``latest``, ``previous`` or ``golden``. Labels,
versions, ``latest`` and ``previous`` pick the newest *complete* run;
incomplete runs are left out unless asked for.

Artifacts are compared by content hash; texts are read only for what changed.

Why so long: REF resolution and the report model share the Side and RunInfo
types; the next split is REF resolution into its own module (the service and
the CLI both call it).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from snapshot_runner.capture.artifacts import Family, family
from snapshot_runner.capture.names import name_of_golden_parts, split_case_name
from snapshot_runner.capture.results import CaptureReport, CaseStatus, load_error_module
from snapshot_runner.drift import builds
from snapshot_runner.drift.bounded import unified_diff
from snapshot_runner.drift.semantic import Level
from snapshot_runner.drift.structure import describe, fails
from snapshot_runner.goldens import layout as golden
from snapshot_runner.history.models import RunKind, RunStatus
from snapshot_runner.history.store import RunInfo, Store, StoredResult, sha256
from snapshot_runner.torch_version import VersionError, same_version


class Change(enum.StrEnum):
    """What happened to a case, or to one of its artifacts, between two sides."""

    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    STATUS_CHANGED = "status-changed"  # cases only: ok -> error, ...
    NOT_CAPTURED = "not-captured"  # cases only: its module failed to import on one side


# The side of a drift that was captured by this command (``--python``/``--torch``).
CAPTURE = "capture"


class DriftError(Exception):
    """A REF that names nothing, or a comparison that cannot be made; one line."""


@dataclasses.dataclass
class Side:
    """One end of a comparison: what it is, and its cases' artifacts by hash."""

    ref: str
    description: dict[str, Any]
    results: dict[str, StoredResult]
    read_texts: Callable[[set[str]], dict[str, str]]
    run_id: int | None = None
    # Case modules that failed to import on this side: module -> the one-line error.
    load_errors: dict[str, str] = dataclasses.field(default_factory=dict)

    def selected(self, names: Sequence[str], substring: str | None) -> Side:
        """This side narrowed to the named cases and those whose name contains ``substring``."""
        results = {n: r for n, r in self.results.items() if (not names or n in names) and (not substring or substring in n)}
        return dataclasses.replace(self, results=results)

    @property
    def title(self) -> str:
        if self.run_id is None and self.ref != CAPTURE:
            return f"goldens ({self.description.get('environment_line') or 'no ENVIRONMENT file'})"
        env = self.description["environment"]
        packages = "".join(f", {name} {version}" for name, version in (env.get("packages") or {}).items())
        if self.ref == CAPTURE:
            return f"capture: torch {env['torch_version']} on {env['device']}{packages}"
        label = f" {self.description['label']!r}" if self.description.get("label") else ""
        return f"run {self.run_id}{label}: torch {env['torch_version']} on {env['device']}{packages}"


# --- resolving REFs ------------------------------------------------------------------


def _run_side(store: Store, ref: str, run: RunInfo) -> Side:
    failed = {e["module"]: e["error"] for e in run.load_errors}
    return Side(ref=ref, description=run.to_json(), results=store.results(run.id), read_texts=store.texts, run_id=run.id, load_errors=failed)


def _version_matches(torch_version: str, wanted: str) -> bool:
    """``2.14.1`` names a run of ``2.14.1+cu130``; a REF that is no version names none."""
    try:
        return same_version(torch_version, wanted)
    except VersionError:
        return False


# Why a labelled run is not used unless asked for.
_STATUS_MEANS = {RunStatus.INCOMPLETE: "killed or still running", RunStatus.LOAD_ERRORS: "case modules failed to import"}


def resolve_run(store: Store, ref: str, *, include_incomplete: bool = False) -> RunInfo:
    """The run a REF names (``golden`` is not a run; see ``resolve``)."""
    # An id reads one run, not the whole history (the service resolves REFs on every request).
    runs = [] if ref.isdigit() else store.runs(include_incomplete=True)
    # Named by anything but an id, a run is a suite run: a bisect's
    # single-case captures never stand for a version or for latest.
    usable = [r for r in runs if (include_incomplete or r.status == RunStatus.COMPLETE) and r.kind == RunKind.RECORD]
    # An id, or the key a sharded run's shards share: one run, complete or not.
    run = store.run(int(ref)) if ref.isdigit() else next((r for r in runs if r.run_key == ref), None)
    if ref.isdigit() or run is not None:
        if run is None:
            raise DriftError(f"no run {ref} in {store.url}")
        # Named by id (or run key), a run whose modules failed to import is compared: its missing cases show as not captured.
        if run.status == RunStatus.INCOMPLETE and not include_incomplete:
            name = f"run {run.id} ({ref})" if run.run_key == ref else f"run {ref}"
            raise DriftError(f"{name} is {run.status} (killed or still running); pass --include-incomplete to use it")
        return run
    if ref in ("latest", "previous"):
        index = 0 if ref == "latest" else 1
        if len(usable) <= index:
            have = f"{len(usable)} complete run{'s' if len(usable) != 1 else ''}"
            raise DriftError(f"no {ref} run: {store.url} has {have}")
        return usable[index]
    for matches in (lambda r: r.label == ref, lambda r: _version_matches(r.environment["torch_version"], ref)):
        found = [r for r in usable if matches(r)]
        if found:
            return found[0]
    labelled = next((r for r in runs if r.label == ref and r.kind == RunKind.RECORD), None)
    if labelled is not None:
        raise DriftError(f"run {labelled.id} ({ref!r}) is {labelled.status} ({_STATUS_MEANS[RunStatus(labelled.status)]}); pass --include-incomplete to use it")
    raise DriftError(f"unknown REF {ref!r}: not a run id, run key, run label or recorded torch version in {store.url}, nor latest, previous or golden")


def golden_side(snapshots_dir: Path) -> Side:
    """The checkout's goldens, as a side (cases' names rebuilt from their paths)."""
    root = Path(snapshots_dir)
    if not root.is_dir():
        raise DriftError(f"golden: snapshots directory not found: {snapshots_dir}")
    texts: dict[str, str] = {}
    results: dict[str, StoredResult] = {}
    for directory in golden.case_dirs(root):
        artifacts = {}
        for path in golden.golden_files(directory):
            text = path.read_text(encoding="utf-8")
            digest = sha256(text)
            texts[digest] = text
            artifacts[path.name.removesuffix(golden.SUFFIX)] = digest
        results[name_of_golden_parts(directory.relative_to(root).parts)] = StoredResult(CaseStatus.OK, None, artifacts)
    description = {"snapshots": str(root), "environment_line": golden.read_environment(root)}
    return Side(ref="golden", description=description, results=dict(sorted(results.items())), read_texts=lambda hs: {h: texts[h] for h in hs})


def captured_side(report: CaptureReport) -> Side:
    """A capture made just now (``drift --python/--torch``), not stored."""
    texts = {sha256(t): t for case in report.cases for t in case.artifacts.values()}
    results = {
        case.name: StoredResult(case.status, case.error, {key: sha256(text) for key, text in case.artifacts.items()})
        for case in sorted(report.cases, key=lambda c: c.name)
    }
    failed = {load_error_module(line): line for line in report.load_errors}
    return Side(
        ref=CAPTURE, description={"environment": report.environment}, results=results, read_texts=lambda hs: {h: texts[h] for h in hs}, load_errors=failed
    )


def resolve(store: Store | None, ref: str, *, snapshots_dir: Path, include_incomplete: bool = False) -> Side:
    if ref == "golden":
        return golden_side(snapshots_dir)
    if store is None:
        raise DriftError(f"REF {ref!r} needs a history database")
    return _run_side(store, ref, resolve_run(store, ref, include_incomplete=include_incomplete))


# --- comparing --------------------------------------------------------------------------


@dataclasses.dataclass
class ArtifactDrift:
    key: str
    change: str
    classification: str | None = None
    summary: list[str] = dataclasses.field(default_factory=list)
    diff: str = ""  # the raw text diff
    semantic_diff: str = ""  # one line for a renamed or reordered graph, a dataflow-aligned diff otherwise
    before: str | None = None  # full texts, for side-by-side views; not in JSON
    after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "change": self.change,
            "classification": self.classification,
            "summary": self.summary,
            "semantic_diff": self.semantic_diff,
            "diff": self.diff,
        }


@dataclasses.dataclass
class CaseDrift:
    name: str
    status: str
    from_status: str | None
    to_status: str | None
    artifacts: list[ArtifactDrift]
    reason: str | None = None  # why it is not captured on one side

    @property
    def changed_artifacts(self) -> list[ArtifactDrift]:
        return [a for a in self.artifacts if a.change != Change.UNCHANGED]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "reason": self.reason,
            "artifacts": [a.to_json() for a in self.artifacts],
        }


@dataclasses.dataclass
class VersionMatrix:
    """Which version of each case artifact the last runs had (the HTML report's
    cases × runs grid); filled only where a history database is at hand."""

    runs: list[RunInfo]  # oldest first
    versions: dict[tuple[str, str], dict[int, str]]  # (case, key) -> run id -> sha256


def version_matrix(store: Store, case_names: list[str], *, last: int = 20, also: tuple[int | None, ...] = ()) -> VersionMatrix:
    """The last ``last`` complete runs, plus the runs in ``also`` (the report's
    sides) where they are older or incomplete, so both ends always show."""
    runs = {r.id: r for r in store.runs(include_incomplete=False, limit=last, kind=RunKind.RECORD)}
    for run_id in also:
        if run_id is not None and run_id not in runs and (run := store.run(run_id)):
            runs[run_id] = run
    ordered = [runs[i] for i in sorted(runs)]
    return VersionMatrix(ordered, store.version_matrix(list(runs), case_names))


@dataclasses.dataclass
class DriftReport:
    before: Side
    after: Side
    cases: list[CaseDrift]
    matrix: VersionMatrix | None = None

    def counts(self) -> dict[str, int]:
        statuses = (Change.CHANGED, Change.STATUS_CHANGED, Change.NOT_CAPTURED, Change.ADDED, Change.REMOVED, Change.UNCHANGED)
        counts = {s: sum(c.status == s for c in self.cases) for s in statuses}
        # Not captured is rare (a module failed to import): named only when it happened.
        return {s: n for s, n in counts.items() if n or s != Change.NOT_CAPTURED}

    def graph_and_guard_counts(self) -> dict[str, int]:
        """Changed cases whose graphs changed, and those whose guards alone did:
        a compiler engineer reads the two lists differently."""
        kinds = [{(family(a.key), a.classification) for a in c.changed_artifacts} for c in self.cases if c.status == Change.CHANGED]
        real = {(Family.GRAPH, level) for level in (Level.STRUCTURAL, Level.SIGNATURE, Level.METADATA)}
        return {
            "graphs_changed": sum(bool(k & real) for k in kinds),
            "guards_only": sum({f for f, _ in k} == {Family.GUARDS} for k in kinds),
        }

    def classification_counts(self) -> dict[str, int]:
        """Changed artifacts (of cases on both sides) by classification, least change first."""
        found = [a.classification for c in self.cases for a in c.changed_artifacts if a.change == Change.CHANGED]
        return {level: found.count(level) for level in Level if level in found}

    def build_difference(self) -> str:
        """A plain line where the sides ran other build variants or devices; "" where not."""
        return builds.difference(builds.build_of(self.before.description), builds.build_of(self.after.description))

    @property
    def has_changes(self) -> bool:
        return any(c.status != Change.UNCHANGED for c in self.cases)

    def failing(self, fail_on: Level) -> list[str]:
        """``case/key`` of each change that fails under ``--fail-on fail_on``
        (cases added, removed or changing status always do)."""
        found = []
        for case in self.cases:
            if case.status in (Change.ADDED, Change.REMOVED, Change.STATUS_CHANGED):
                found.append(case.name)
                continue
            found += [f"{case.name}/{a.key}" for a in case.changed_artifacts if a.change != Change.CHANGED or fails(a.classification, fail_on)]
        return found

    def at_fail_on(self, fail_on: Level) -> DriftReport:
        """This report with only what ``--fail-on fail_on`` fails on: changed
        artifacts below it count as unchanged (the service's fail-on filter)."""
        cases = []
        for case in self.cases:
            if case.status == Change.CHANGED:
                artifacts = [
                    a if a.change != Change.CHANGED or fails(a.classification, fail_on) else dataclasses.replace(a, change=Change.UNCHANGED)
                    for a in case.artifacts
                ]
                status = Change.CHANGED if any(a.change != Change.UNCHANGED for a in artifacts) else Change.UNCHANGED
                case = dataclasses.replace(case, status=status, artifacts=artifacts)
            cases.append(case)
        return dataclasses.replace(self, cases=cases)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": {"ref": self.before.ref, "title": self.before.title, "build": _build_json(self.before), **self.before.description},
            "to": {"ref": self.after.ref, "title": self.after.title, "build": _build_json(self.after), **self.after.description},
            "build_difference": self.build_difference() or None,
            "counts": {**self.counts(), **self.graph_and_guard_counts()},
            "classifications": self.classification_counts(),
            "cases": [c.to_json() for c in self.cases],
        }


def _build_json(side: Side) -> dict[str, str] | None:
    build = builds.build_of(side.description)
    return {"torch_version": build.torch_version, "variant": build.variant, "device": build.device} if build else None


def _artifact_changes(before: StoredResult | None, after: StoredResult | None) -> list[ArtifactDrift]:
    old = before.artifacts if before else {}
    new = after.artifacts if after else {}
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            changes.append(ArtifactDrift(key, Change.REMOVED))
        elif key not in old:
            changes.append(ArtifactDrift(key, Change.ADDED))
        else:
            changes.append(ArtifactDrift(key, Change.UNCHANGED if old[key] == new[key] else Change.CHANGED))
    return changes


def _case_status(before: StoredResult | None, after: StoredResult | None, artifacts: list[ArtifactDrift]) -> str:
    if before is None:
        return Change.ADDED
    if after is None:
        return Change.REMOVED
    if before.status != after.status:
        return Change.STATUS_CHANGED
    return Change.CHANGED if any(a.change != Change.UNCHANGED for a in artifacts) else Change.UNCHANGED


def _compared_names(before: Side, after: Side) -> list[str]:
    """The cases a report covers: all of both sides', but a case skipped on one
    side and absent on the other (a GPU case on a CPU machine has no goldens
    here), which was not compared at all."""
    names = set(before.results) | set(after.results)
    return sorted(
        name
        for name in names
        if not any(
            name not in one.results and (two.results[name].status == CaseStatus.SKIPPED)
            for one, two in ((before, after), (after, before))
            if name in two.results
        )
    )


def _not_captured(name: str, before: Side, after: Side) -> str | None:
    """Why a case one side lacks is missing there: its module failed to import."""
    module = split_case_name(name)[0]
    for side in (before, after):
        if name not in side.results and module in side.load_errors:
            return f"not captured in {side.title}: {side.load_errors[module]}"
    return None


def compare(before: Side, after: Side) -> DriftReport:
    cases = []
    for name in _compared_names(before, after):
        old, new = before.results.get(name), after.results.get(name)
        reason = _not_captured(name, before, after)
        if reason:
            cases.append(CaseDrift(name, Change.NOT_CAPTURED, old.status if old else None, new.status if new else None, [], reason))
            continue
        artifacts = _artifact_changes(old, new)
        cases.append(CaseDrift(name, _case_status(old, new, artifacts), old.status if old else None, new.status if new else None, artifacts))
    _fill_in_texts(before, after, cases)
    return DriftReport(before, after, cases)


def _fill_in_texts(before: Side, after: Side, cases: list[CaseDrift]) -> None:
    """Read only the texts of changed, added or removed artifacts, then diff them."""
    wanted_old: set[str] = set()
    wanted_new: set[str] = set()
    pending = []
    for case in cases:
        old, new = before.results.get(case.name), after.results.get(case.name)
        for artifact in case.changed_artifacts:
            old_hash = old.artifacts.get(artifact.key) if old else None
            new_hash = new.artifacts.get(artifact.key) if new else None
            wanted_old.update([old_hash] if old_hash else [])
            wanted_new.update([new_hash] if new_hash else [])
            pending.append((artifact, old_hash, new_hash))
    old_texts, new_texts = before.read_texts(wanted_old), after.read_texts(wanted_new)
    for artifact, old_hash, new_hash in pending:
        artifact.before = old_texts.get(old_hash) if old_hash else None
        artifact.after = new_texts.get(new_hash) if new_hash else None
        artifact.diff = unified_diff(artifact.before or "", artifact.after or "", artifact.key, before.ref, after.ref)
        if artifact.change == Change.CHANGED:
            description = describe(artifact.key, artifact.before or "", artifact.after or "", from_name=before.ref, to_name=after.ref)
            artifact.classification, artifact.summary, artifact.semantic_diff = description.level, description.summary, description.semantic_diff
