"""What the service's pages show, read from the history in a few queries each.

Each function returns plain JSON-able data: an HTML page and its JSON API
render the same dicts, so they cannot disagree. Field names follow
``drift --format json`` (and ``RunInfo.to_json``) where they overlap.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.orm import aliased

from snapshot_runner.drift.structure import describe
from snapshot_runner.history.bisects import bisects_of
from snapshot_runner.history.models import Artifact, ArtifactKey, CaseOutcome, Environment, Run, RunKind, RunStatus, StoredCase
from snapshot_runner.history.shards import describe as describe_parts
from snapshot_runner.history.shards import progress
from snapshot_runner.history.store import Store, _artifact_rows

# A case's timeline shows this many changes per artifact, newest first.
TIMELINE_CHANGES = 100


@dataclasses.dataclass(frozen=True)
class RunFilters:
    label: str | None = None  # a part of the label
    kind: RunKind | None = None
    torch: str | None = None  # a prefix of the torch version: 2.14 matches 2.14.1+cu130
    device: str | None = None

    def keeps(self, row: RunRow) -> bool:
        return (
            (not self.label or self.label in (row.label or ""))
            and (not self.kind or row.kind == self.kind)
            and (not self.torch or row.torch.startswith(self.torch))
            and (not self.device or row.device == self.device)
        )


@dataclasses.dataclass(frozen=True)
class RunRow:
    """The little of a run that lists and filters need."""

    id: int
    kind: str
    status: str
    label: str | None
    torch: str
    device: str


@dataclasses.dataclass(frozen=True)
class Page:
    number: int  # from 1
    size: int

    def of(self, items: Sequence[Any]) -> tuple[Sequence[Any], int]:
        """This page's items, and how many pages there are."""
        pages = max(1, -(-len(items) // self.size))
        start = (self.number - 1) * self.size
        return items[start : start + self.size], pages


class Levels:
    """The level of a change (``describe``'s classification), by artifact key
    and the two texts' hashes: a pure function of the texts, so it is kept."""

    def __init__(self, store: Store, size: int = 50_000) -> None:
        self.store, self.size = store, size
        self.known: dict[tuple[str, str, str], str] = {}
        # Requests run on a thread pool; one fills the cache at a time.
        self.lock = threading.Lock()

    def of(self, changes: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        with self.lock:
            return self._of(set(changes))

    def _of(self, wanted: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        missing = wanted - self.known.keys()
        if missing:
            texts = self.store.texts({h for _, old, new in missing for h in (old, new)})
            if len(self.known) + len(missing) > self.size:
                self.known.clear()
            for key, old, new in missing:
                self.known[(key, old, new)] = str(describe(key, texts.get(old, ""), texts.get(new, ""), with_diff=False).level)
        return {change: self.known[change] for change in wanted}


def _run_rows(store: Store) -> list[RunRow]:
    """Every run, newest first (one light query: a year of nightlies is a few hundred rows)."""
    query = (
        select(Run.id, Run.kind, Run.status, Run.label, Environment.torch_version, Environment.device)
        .join(Environment, Environment.id == Run.environment_id)
        .order_by(Run.id.desc())
    )
    with store.session() as session:
        return [RunRow(*row) for row in session.execute(query)]


def _previous_comparable(rows: list[RunRow]) -> dict[int, int]:
    """Run id → the complete suite run just before it on the same device (what a nightly compares with)."""
    last: dict[str, int] = {}
    found: dict[int, int] = {}
    for row in reversed(rows):  # oldest first
        if row.kind != RunKind.RECORD:
            continue
        if row.device in last:
            found[row.id] = last[row.device]
        if row.status == RunStatus.COMPLETE:
            last[row.device] = row.id
    return found


def _changes(store: Store, pairs: dict[int, int], finished: set[int]) -> dict[int, dict[str, int]]:
    """Run id → cases changed, added, removed and unchanged since its previous run
    (``pairs``: run id → that run), counted by the database, not read row by
    row; a run still recording (not in ``finished``) has removed nothing yet."""
    if not pairs:
        return {}
    # The pairs as a table (SQLite has no VALUES with column names).
    pair = union_all(*(select(literal(run).label("run_id"), literal(previous).label("previous_id")) for run, previous in pairs.items())).subquery("pairs")
    now, before = aliased(CaseOutcome), aliased(CaseOutcome)
    differs = or_(now.status != before.status, now.artifact_set_id.is_distinct_from(before.artifact_set_id))
    query = (
        select(
            pair.c.run_id,
            func.count(before.case_id),
            func.sum(sql_case((before.case_id.is_(None), 1), else_=0)),
            func.sum(sql_case((and_(before.case_id.is_not(None), differs), 1), else_=0)),
        )
        .select_from(pair)
        .join(now, now.run_id == pair.c.run_id)
        .outerjoin(before, and_(before.run_id == pair.c.previous_id, before.case_id == now.case_id))
        .group_by(pair.c.run_id)
    )
    sizes = select(CaseOutcome.run_id, func.count()).where(CaseOutcome.run_id.in_(set(pairs.values()))).group_by(CaseOutcome.run_id)
    with store.session() as session:
        counted = {run_id: (int(both), int(added or 0), int(changed or 0)) for run_id, both, added, changed in session.execute(query)}
        stored = dict(session.execute(sizes).all())
    found = {}
    for run_id, previous in pairs.items():
        both, added, changed = counted.get(run_id, (0, 0, 0))
        removed = stored.get(previous, 0) - both if run_id in finished else 0
        found[run_id] = {"changed": changed, "added": added, "removed": removed, "unchanged": both - changed}
    return found


def runs_page(store: Store, filters: RunFilters, page: Page) -> dict[str, Any]:
    rows = _run_rows(store)
    kept = [r for r in rows if filters.keeps(r)]
    shown, pages = page.of(kept)
    previous = _previous_comparable(rows)
    infos = store.runs_by_id(r.id for r in shown)
    finished = {r.id for r in infos if r.status != RunStatus.INCOMPLETE}
    changes = _changes(store, {r.id: previous[r.id] for r in infos if r.id in previous}, finished)
    parts = progress(store, [r.run_key for r in infos if r.run_key])
    runs = []
    for info in infos:
        shards = parts.get(info.run_key or "", [])
        runs.append(
            info.to_json()
            | {
                "previous": previous.get(info.id),
                "changes": changes.get(info.id),
                "shards": [{"shard": p.shard, "shards": p.shards, "status": p.status, "attempts": p.attempts} for p in shards],
                "shards_summary": describe_parts(shards) if shards else None,
            }
        )
    return {
        "runs": runs,
        "total": len(kept),
        "page": page.number,
        "pages": pages,
        "per_page": page.size,
        "filters": {k: v for k, v in dataclasses.asdict(filters).items() if v},
        "choices": {
            "kinds": sorted({r.kind for r in rows}),
            "devices": sorted({r.device for r in rows}),
            "torch": sorted({r.torch for r in rows}, reverse=True),
        },
    }


def _run_summaries(store: Store, run_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    query = (
        select(Run.id, Run.label, Run.kind, Run.started_at, Environment.torch_version, Environment.device)
        .join(Environment, Environment.id == Run.environment_id)
        .where(Run.id.in_(set(run_ids)))
    )
    with store.session() as session:
        return {
            run_id: {"id": run_id, "label": label, "kind": kind, "started_at": started.isoformat(timespec="seconds"), "torch_version": torch, "device": device}
            for run_id, label, kind, started, torch, device in session.execute(query)
        }


def grid(store: Store, *, last: int, page: Page, substring: str | None, device: str | None, levels: Levels) -> dict[str, Any]:
    """Cases × the last ``last`` complete suite runs (oldest first): per case
    artifact and run, its version (numbered per row in order of appearance),
    and where it changed, the change's level and the runs to compare."""
    rows = [r for r in _run_rows(store) if r.kind == RunKind.RECORD and r.status == RunStatus.COMPLETE and (not device or r.device == device)]
    run_ids = sorted(r.id for r in rows[:last])
    with store.session() as session:
        names = session.scalars(
            select(StoredCase.name).distinct().join(CaseOutcome, CaseOutcome.case_id == StoredCase.id).where(CaseOutcome.run_id.in_(run_ids))
        ).all()
    names = sorted(n for n in names if not substring or substring in n)
    shown, pages = page.of(names)
    matrix = store.version_matrix(run_ids, shown)
    pending: list[tuple[dict[str, Any], tuple[str, str, str]]] = []  # a changed cell, its change
    table: list[dict[str, Any]] = []
    most = 0  # the most versions a row has: the page's palette
    for case, key in sorted(matrix):
        by_run = matrix[(case, key)]
        numbers: dict[str, int] = {}
        cells: list[dict[str, Any]] = []
        last_seen: tuple[int, str] | None = None  # (run id, sha256) of the previous recorded cell
        for run_id in run_ids:
            digest = by_run.get(run_id)
            cell: dict[str, Any] = {"run": run_id, "sha256": digest}
            if digest is not None:
                cell["version"] = numbers.setdefault(digest, len(numbers) + 1)
                if last_seen is not None and last_seen[1] != digest:
                    cell["previous_run"] = last_seen[0]
                    pending.append((cell, (key, last_seen[1], digest)))
                last_seen = (run_id, digest)
            cells.append(cell)
        table.append({"case": case, "key": key, "cells": cells})
        most = max(most, len(numbers))
    found = levels.of(change for _, change in pending)
    for cell, change in pending:
        cell["classification"] = found[change]
    summaries = _run_summaries(store, run_ids)
    return {
        "runs": [summaries[i] for i in run_ids],
        "rows": table,
        "most": most,
        "cases": len(names),
        "page": page.number,
        "pages": pages,
        "per_page": page.size,
    }


def case_timeline(store: Store, name: str, levels: Levels) -> dict[str, Any] | None:
    """Per artifact of the case: its versions (runs, torch builds, devices) and
    every change between consecutive suite runs on one device; None: no such case."""
    with store.session() as session:
        if session.scalar(select(StoredCase.id).where(StoredCase.name == name)) is None:
            return None
        query = (
            _artifact_rows(ArtifactKey.name, CaseOutcome.run_id, Artifact.sha256)
            .join(Run, Run.id == CaseOutcome.run_id)
            .where(StoredCase.name == name, Run.status == RunStatus.COMPLETE, Run.kind == RunKind.RECORD)
            .order_by(CaseOutcome.run_id)
        )
        seen = session.execute(query).all()
    runs = _run_summaries(store, {run_id for _, run_id, _ in seen})
    by_key: dict[str, list[tuple[int, str]]] = {}
    for key, run_id, digest in seen:
        by_key.setdefault(key, []).append((run_id, digest))
    transitions: list[tuple[str, int, str, int, str]] = []  # key, from run, from sha, to run, to sha
    for key, history in by_key.items():
        last_on: dict[str, tuple[int, str]] = {}  # device → the previous (run, sha) there
        for run_id, digest in history:
            device = runs[run_id]["device"]
            if device in last_on and last_on[device][1] != digest:
                transitions.append((key, *last_on[device], run_id, digest))
            last_on[device] = (run_id, digest)
    found = levels.of((key, old, new) for key, _, old, _, new in transitions)
    artifacts = []
    for key in sorted(by_key):
        numbers: dict[str, int] = {}
        versions: dict[str, dict[str, Any]] = {}
        for run_id, digest in by_key[key]:
            run = runs[run_id]
            number = numbers.setdefault(digest, len(numbers) + 1)
            version = versions.setdefault(digest, {"version": number, "sha256": digest, "runs": 0, "first_run": run, "torch_versions": [], "devices": []})
            version["runs"] += 1
            version["last_run"] = run
            for field, value in (("torch_versions", run["torch_version"]), ("devices", run["device"])):
                if value not in version[field]:
                    version[field].append(value)
        changes = [
            {
                "from_run": runs[a],
                "to_run": runs[b],
                "from_version": numbers[old],
                "to_version": numbers[new],
                "classification": found[(key, old, new)],
            }
            for k, a, old, b, new in transitions
            if k == key
        ]
        artifacts.append({"key": key, "versions": list(versions.values()), "changes": changes[::-1][:TIMELINE_CHANGES], "change_count": len(changes)})
    return {"name": name, "artifacts": artifacts, "bisects": [b.to_json() for b in bisects_of(store, name)]}
