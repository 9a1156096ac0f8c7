"""The history database's tables (SQLAlchemy 2.x typed ORM).

Artifact text is stored once by content hash. A case's artifacts in a run are
an ``ArtifactSet`` (key → artifact), itself stored once by content hash, so a
year of nightlies costs one small row per run × case (``CaseOutcome``) plus
the sets and texts that really changed.

The migrations under ``migrations/`` build exactly these tables; a test
compares the two.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class RunStatus(enum.StrEnum):
    COMPLETE = "complete"  # every selected case is stored
    INCOMPLETE = "incomplete"  # still running, or stopped before its end
    LOAD_ERRORS = "load-errors"  # every selected case stored, but case modules failed to import: never clean


class RunKind(enum.StrEnum):
    """A run of the case suite, or the captures a bisect made of single cases
    (which must not become ``latest`` nor stand for a torch version)."""

    RECORD = "record"
    BISECT = "bisect"


class Base(DeclarativeBase):
    pass


class Environment(Base):
    """One interpreter + torch build + device, as ``environment.describe()`` tells."""

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the fields below: the same environment is stored once.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    torch_version: Mapped[str] = mapped_column(String(128), index=True)
    torch_git_sha: Mapped[str | None] = mapped_column(String(64))
    python: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(128))
    cuda: Mapped[str | None] = mapped_column(String(32))
    triton: Mapped[str | None] = mapped_column(String(32))
    gpu_name: Mapped[str | None] = mapped_column(String(128))
    # The tracked packages' versions, as a sorted JSON object; NULL when none were tracked.
    packages: Mapped[str | None] = mapped_column(Text)


class Run(Base):
    __tablename__ = "runs"
    # NULLs are distinct: only sharded runs have a key, and each its own.
    __table_args__ = (Index("ix_runs_run_key", "run_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str | None] = mapped_column(String(200), index=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.INCOMPLETE)
    runner_version: Mapped[str] = mapped_column(String(32))
    # sha256 over the selected case names and their modules' source.
    case_set_fingerprint: Mapped[str] = mapped_column(String(64))
    cases_expected: Mapped[int] = mapped_column(Integer)
    normalize: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default=RunKind.RECORD, server_default=RunKind.RECORD)
    # The name shards of one run share (``record --shard K/N --run-key KEY``); None: not sharded.
    run_key: Mapped[str | None] = mapped_column(String(200))
    # The case modules that failed to import, as a JSON list of {"module", "error"}; NULL when none did.
    load_errors: Mapped[str | None] = mapped_column(Text)
    # The project's own normalization rules the run applied, as a JSON list of {"name", "pattern", "replace"}; NULL when none.
    normalize_rules: Mapped[str | None] = mapped_column(Text)

    environment: Mapped[Environment] = relationship(lazy="joined")


class StoredCase(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(400), unique=True)


class ArtifactKey(Base):
    """``dynamo_graph``, ``aot_forward.1``, ...: a lookup table keeps result rows small."""

    __tablename__ = "artifact_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)


class ArtifactSet(Base):
    """The artifacts of one case as one run saw them. Runs whose artifacts are
    all the same (98% of cases from one nightly to the next) share the set, so
    a run costs one row per case, not one per artifact."""

    __tablename__ = "artifact_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 over the sorted (key, artifact sha256) pairs: see store.set_digest.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)


class ArtifactSetMember(Base):
    __tablename__ = "artifact_set_members"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012  # SQLAlchemy reads it from the class

    set_id: Mapped[int] = mapped_column(ForeignKey("artifact_sets.id"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("artifact_keys.id"), primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))


class CaseOutcome(Base):
    """A case in one run: its status and its artifacts (none when it failed or was skipped)."""

    __tablename__ = "case_outcomes"
    __table_args__ = (
        # The timeline of one case reads this index only.
        Index("ix_case_outcomes_case_run", "case_id", "run_id"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    compile_seconds: Mapped[float] = mapped_column(Float)
    artifact_set_id: Mapped[int | None] = mapped_column(ForeignKey("artifact_sets.id"))


class PartStatus(enum.StrEnum):
    PLANNED = "planned"  # no shard has started it yet
    RUNNING = "running"  # started and not finished: running, or killed
    INCOMPLETE = "incomplete"  # finished without every case of the part stored
    COMPLETE = "complete"


class ShardPart(Base):
    """Shard K of N of the run named ``run_key``: its progress. The first shard
    to arrive writes all N parts (and ``ShardCase``), before any run exists:
    a run needs the torch and device that only a started capture tells."""

    __tablename__ = "shard_parts"

    run_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    shards: Mapped[int] = mapped_column(Integer)
    # Of the whole selection: every shard must select the same cases from the same source.
    case_set_fingerprint: Mapped[str] = mapped_column(String(64))
    cases_expected: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PartStatus.PLANNED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class ShardCase(Base):
    """Which shard records a case of a sharded run: the split, fixed when planned."""

    __tablename__ = "shard_cases"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012  # SQLAlchemy reads it from the class

    run_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer)


class BisectResult(Base):
    """What one ``bisect`` found, kept for the service's case page: its ends,
    verdicts, change points, classifications and compare links, as the JSON
    ``bisect --format json`` prints (that JSON is the contract; no columns to keep in step)."""

    __tablename__ = "bisect_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_name: Mapped[str] = mapped_column(String(400), index=True)
    artifact: Mapped[str | None] = mapped_column(String(100))
    finished_at: Mapped[dt.datetime]
    result: Mapped[str] = mapped_column(Text)
