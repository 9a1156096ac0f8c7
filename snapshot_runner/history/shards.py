"""Shards of one run: which of the selected cases shard K of N records.

The share is a pure function of the selected case names and their compile
times: every shard of a run, on any machine, computes the same split. The
first shard stores it with the run (``Store.plan_shards``) and the others read
it back, so a history that learns new compile times mid-run cannot move a case
from one part to another. Balancing is "longest first onto the least loaded
shard"; without compile times every case weighs the same and the split is a
round robin over the sorted names. ``longest_first`` orders one machine's
queue by the same weights.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from snapshot_runner.capture.results import CaseResult, CaseStatus
from snapshot_runner.history.models import CaseOutcome, Environment, PartStatus, Run, RunKind, RunStatus, ShardCase, ShardPart, StoredCase
from snapshot_runner.history.store import Store, _now, rules_json
from snapshot_runner.refs import name_problem

# Run keys name a run across machines (e.g. a CI run id plus build and device):
# printable, no spaces, short enough for an index.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+@=-]{0,199}")
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
# GitHub Actions' limit on one matrix: no CI starts more shards of a run. Each
# shard is a row per part (and a column of `runs`): a million took minutes and GBs.
MAX_SHARDS = 256
# The complete runs whose compile times weigh a split: recent enough to follow
# the suite, several so that one slow night does not move every case.
HISTORY_RUNS = 10


class ShardError(ValueError):
    """A --shard or --run-key that cannot be used: one line."""


@dataclasses.dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.fullmatch(text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ShardError(f"--shard must be K/N with 1 ≤ K ≤ N (e.g. 2/4), not {text!r}")
        if int(match[2]) > MAX_SHARDS:
            raise ShardError(f"--shard K/N: N may be at most {MAX_SHARDS}, not {match[2]}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def check_run_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ShardError(f"--run-key must be 1 to 200 letters, digits or ._:/+@=- starting with a letter or digit, not {key!r}")
    problem = name_problem(key, "run key")
    if problem:
        raise ShardError(f"--run-key: {problem}")
    return key


def weights(names: Iterable[str], seconds: Mapping[str, float]) -> dict[str, float]:
    """Each name's expected seconds: its own, else the median of the known
    times (1 s when none is known), so new cases weigh like the others."""
    names = list(names)
    known = [seconds[n] for n in names if n in seconds]
    default = statistics.median(known) if known else 1.0
    return {n: max(seconds.get(n, default), 0.0) for n in names}


def split(names: Iterable[str], count: int, seconds: Mapping[str, float]) -> dict[str, int]:
    """Each name's shard (1..count): disjoint, covering, balanced by ``seconds``.

    A case the history has no time for weighs the median of the known times
    (1 s when none is known), so new cases spread like the others.
    """
    unique = sorted(set(names))
    weight = weights(unique, seconds)
    loads = [0.0] * count
    share: dict[str, int] = {}
    # Heaviest first, ties by name: the same input gives the same split everywhere.
    for name in sorted(unique, key=lambda n: (-weight[n], n)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        loads[lightest] += weight[name]
        share[name] = lightest + 1
    return share


# --- the run's parts in the history database ------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartInfo:
    shard: int
    shards: int
    status: str
    attempts: int
    cases_expected: int
    started_at: dt.datetime | None = None  # of the latest attempt
    finished_at: dt.datetime | None = None


def _lock(session: Session, key: str) -> None:
    """Serialize the shards of one run key for this transaction. SQLite's
    BEGIN IMMEDIATE already serializes every writer; on PostgreSQL two shards
    finishing at once would each see the other's part unfinished and neither
    would complete the run."""
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(sql_text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def compile_times(store: Store, names: Iterable[str], *, last_runs: int = HISTORY_RUNS) -> dict[str, list[float]]:
    """Each case's compile seconds in the last ``last_runs`` complete suite runs
    where it was ``ok`` (newest first): what the split and the cost model weigh."""
    wanted = set(names)
    if not wanted:
        return {}
    with store.session() as session:
        return _compile_times(session, wanted, last_runs)


def median_seconds(store: Store, names: Iterable[str]) -> dict[str, float]:
    """Each case's median compile seconds over ``compile_times`` (cases the history has)."""
    return {name: statistics.median(times) for name, times in compile_times(store, names).items()}


def longest_first(store: Store) -> Callable[[Sequence[str]], list[str]]:
    """A capture order (``supervisor.Order``): the cases slowest first by their
    median compile time in the history, so that no slow case starts last and
    keeps one worker busy alone; ties (all of them, without history) in
    selection order."""

    def order(names: Sequence[str]) -> list[str]:
        weight = weights(names, median_seconds(store, names))
        return sorted(names, key=lambda n: -weight[n])  # stable: ties keep their order

    return order


def _compile_times(session: Session, names: set[str], last_runs: int) -> dict[str, list[float]]:
    recent = select(Run.id).where(Run.status == RunStatus.COMPLETE, Run.kind == RunKind.RECORD).order_by(Run.id.desc()).limit(last_runs).scalar_subquery()
    query = (
        select(StoredCase.name, CaseOutcome.compile_seconds)
        .join(StoredCase, StoredCase.id == CaseOutcome.case_id)
        .where(CaseOutcome.run_id.in_(recent), CaseOutcome.status == CaseStatus.OK, StoredCase.name.in_(names))
        .order_by(CaseOutcome.run_id.desc())
    )
    times: dict[str, list[float]] = {}
    for name, seconds in session.execute(query):
        times.setdefault(name, []).append(seconds)
    return times


def plan(store: Store, key: str, shard: Shard, names: Sequence[str], fingerprint: str) -> list[str]:
    """The cases of ``shard`` in the run ``key``, sorted: split by the first
    shard to arrive (weighed by the history's compile times), read back by the
    others. A shard with another shard count or case set is refused."""
    with store.session() as session:
        _lock(session, key)
        parts = session.scalars(select(ShardPart).where(ShardPart.run_key == key)).all()
        if not parts:
            seconds = {name: statistics.median(times) for name, times in _compile_times(session, set(names), HISTORY_RUNS).items()}
            share = split(names, shard.count, seconds)
            case_ids = store.case_ids(session, set(share))
            session.add_all(
                ShardPart(
                    run_key=key,
                    shard=index,
                    shards=shard.count,
                    case_set_fingerprint=fingerprint,
                    cases_expected=sum(s == index for s in share.values()),
                    status=PartStatus.PLANNED,
                    attempts=0,
                )
                for index in range(1, shard.count + 1)
            )
            session.add_all(ShardCase(run_key=key, case_id=case_ids[name], shard=index) for name, index in share.items())
        else:
            first = parts[0]
            if first.shards != shard.count:
                raise ShardError(f"run key {key} was begun with {first.shards} shards, not {shard.count}")
            if first.case_set_fingerprint != fingerprint:
                raise ShardError(
                    f"run key {key} was begun for another case set: every shard must select the same cases (same -k/--case) from the same checkout"
                )
        return sorted(
            session.scalars(
                select(StoredCase.name).join(ShardCase, ShardCase.case_id == StoredCase.id).where(ShardCase.run_key == key, ShardCase.shard == shard.index)
            )
        )


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One process recording one shard's part: the run it records into, and
    which attempt at the part it is (only the latest may store cases)."""

    run_id: int
    number: int


def begin_part(
    store: Store,
    key: str,
    shard: Shard,
    *,
    environment: dict[str, Any],
    label: str | None,
    runner_version: str,
    normalize: str,
    user_rules: Sequence[dict[str, str]] = (),
) -> Attempt:
    """Start (or start again) ``shard``'s part: the run of ``key`` is made by
    the first shard that gets here, under its torch and device; a later shard
    under another torch or device is refused. What an earlier attempt of this
    part stored is dropped: a re-run replaces its own part and nothing else."""
    with store.session() as session:
        _lock(session, key)
        part = session.get(ShardPart, (key, shard.index))
        if part is None:
            raise ShardError(f"run key {key} has no shard {shard}: plan it first")
        env_id = store.environment_id(session, environment)
        run = session.scalars(select(Run).where(Run.run_key == key)).one_or_none()
        if run is None:
            total = session.scalar(select(func.sum(ShardPart.cases_expected)).where(ShardPart.run_key == key)) or 0
            run = Run(
                label=label,
                environment_id=env_id,
                started_at=_now(),
                status=RunStatus.INCOMPLETE,
                runner_version=runner_version,
                case_set_fingerprint=part.case_set_fingerprint,
                cases_expected=total,
                normalize=normalize,
                normalize_rules=rules_json(user_rules),
                kind=RunKind.RECORD,
                run_key=key,
            )
            session.add(run)
            session.flush()
        else:
            mine = session.get_one(Environment, env_id)
            theirs = run.environment
            if (mine.torch_version, mine.device) != (theirs.torch_version, theirs.device):
                raise ShardError(
                    f"run key {key} is recording torch {theirs.torch_version} on {theirs.device}; shard {shard} has torch {mine.torch_version} on {mine.device}"
                )
        part_cases = select(ShardCase.case_id).where(ShardCase.run_key == key, ShardCase.shard == shard.index)
        session.execute(delete(CaseOutcome).where(CaseOutcome.run_id == run.id, CaseOutcome.case_id.in_(part_cases)))
        part.status, part.attempts, part.environment_id = PartStatus.RUNNING, part.attempts + 1, env_id
        part.started_at, part.finished_at = _now(), None
        run.status, run.finished_at = RunStatus.INCOMPLETE, None
        return Attempt(run.id, part.attempts)


def add_part_results(store: Store, key: str, shard: Shard, attempt: Attempt, results: Sequence[CaseResult]) -> None:
    """Store cases of ``attempt``'s part, unless the same shard was started
    again since (a second process, or a re-run while the first still runs):
    then ``ShardError``, and the newer attempt alone records the part."""

    def still_latest(session: Session) -> None:
        _lock(session, key)
        latest = session.get_one(ShardPart, (key, shard.index)).attempts
        if latest != attempt.number:
            raise ShardError(
                f"shard {shard} of {key} was started again by another process (attempt {latest}): this one (attempt {attempt.number}) stops; the newer one records the part"
            )

    store.add_results(attempt.run_id, results, check=still_latest)


def finish_part(store: Store, key: str, shard: Shard) -> tuple[str, str | None]:
    """Close ``shard``'s part (complete when every one of its cases is stored),
    and the run once all its parts are complete under the run's torch and
    device. The part's status and the run's (None: no shard has begun the run,
    as when every part so far was empty)."""
    with store.session() as session:
        _lock(session, key)
        part = session.get_one(ShardPart, (key, shard.index))
        run = session.scalars(select(Run).where(Run.run_key == key)).one_or_none()
        stored = 0
        if run is not None:
            part_cases = select(ShardCase.case_id).where(ShardCase.run_key == key, ShardCase.shard == shard.index)
            stored = session.scalar(select(func.count()).where(CaseOutcome.run_id == run.id, CaseOutcome.case_id.in_(part_cases))) or 0
        part.status = PartStatus.COMPLETE if stored >= part.cases_expected else PartStatus.INCOMPLETE
        part.finished_at = _now()
        if run is None:
            return part.status, None
        parts = session.scalars(select(ShardPart).where(ShardPart.run_key == key)).all()
        environments = {session.get_one(Environment, p.environment_id) for p in parts if p.environment_id is not None}
        same_build = all((e.torch_version, e.device) == (run.environment.torch_version, run.environment.device) for e in environments)
        if all(p.status == PartStatus.COMPLETE for p in parts) and same_build:
            run.status, run.finished_at = RunStatus.COMPLETE, _now()
        return part.status, run.status


def run_of(store: Store, key: str) -> int | None:
    """The id of the run of ``key``, once a shard has begun it."""
    with store.session() as session:
        return session.scalar(select(Run.id).where(Run.run_key == key))


def progress(store: Store, keys: Iterable[str]) -> dict[str, list[PartInfo]]:
    """The parts of each run key, by shard."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[str, list[PartInfo]] = {}
    with store.session() as session:
        for p in session.scalars(select(ShardPart).where(ShardPart.run_key.in_(wanted)).order_by(ShardPart.run_key, ShardPart.shard)):
            found.setdefault(p.run_key, []).append(PartInfo(p.shard, p.shards, p.status, p.attempts, p.cases_expected, p.started_at, p.finished_at))
    return found


def describe(parts: Sequence[PartInfo]) -> str:
    """``3/4 complete; 2: running (attempt 2)`` for the runs table."""
    done = sum(p.status == PartStatus.COMPLETE for p in parts)
    others = [f"{p.shard}: {p.status}" + (f" (attempt {p.attempts})" if p.attempts > 1 else "") for p in parts if p.status != PartStatus.COMPLETE]
    return f"{done}/{len(parts)} complete" + (f"; {', '.join(others)}" if others else "")
