"""The history database: open (and migrate), record runs, read them back.

Any SQLAlchemy URL works; SQLite (``db/history.sqlite``) is the default and
PostgreSQL (psycopg 3) is what teams share. Every problem a user can cause (a
file that is not a database, a server that does not answer, a bad URL, a
schema newer than this code) becomes a ``StoreError`` with one line; URLs are
only ever shown with the password masked.

Why so long: ``Store`` is the one class that reads and writes the history;
keeping every query beside the sessions and dialect handling it shares (SQLite
WAL and ``BEGIN IMMEDIATE``, PostgreSQL advisory locks) is what keeps them
consistent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, inspect, select, tuple_
from sqlalchemy import text as sql_text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from snapshot_runner.capture.results import CaseResult
from snapshot_runner.history.models import (
    Artifact,
    ArtifactKey,
    ArtifactSet,
    ArtifactSetMember,
    CaseOutcome,
    Environment,
    Run,
    RunKind,
    RunStatus,
    StoredCase,
)
from snapshot_runner.redact import redact_url, scrub

DEFAULT_URL = "sqlite:///db/history.sqlite"
URL_VARIABLE = "SNAPSHOT_RUNNER_DB"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key taken while migrating (any constant unique to this tool).
MIGRATION_LOCK = 0x736E6170


class StoreError(Exception):
    """A database problem the user can act on; printed as one line."""


def database_url(given: str | None) -> str:
    """``--db`` first, then ``$SNAPSHOT_RUNNER_DB``, then the SQLite default."""
    return given or os.environ.get(URL_VARIABLE) or DEFAULT_URL


def rules_json(rules: Sequence[dict[str, str]]) -> str | None:
    """A run's normalization rules as stored: a JSON list, NULL when none."""
    return json.dumps(list(rules)) if rules else None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- engines ---------------------------------------------------------------------


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return not parsed.database or parsed.database == ":memory:" or parsed.query.get("mode") == "memory"


def _file_identity(url: str) -> tuple[int, int] | None:
    """(device, inode) of a SQLite URL's file; None for an in-memory database or a missing file."""
    if _in_memory(url):
        return None
    try:
        found = os.stat(str(make_url(url).database))
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _sqlite_engine(url: str, create: bool, read_only: bool = False) -> Engine:
    if _in_memory(url):
        if create:  # a recording that is thrown away when the command ends
            raise StoreError(f"{redact_url(url)} is an in-memory database: nothing recorded there would be kept; give a file, e.g. {DEFAULT_URL}")
    else:
        path = Path(str(make_url(url).database))
        if not create and not path.exists():
            # A typo in --db must not leave an empty database behind.
            raise StoreError(f"no database at {path}: record a run first, or check --db / ${URL_VARIABLE}")
        if not create and path.is_file() and path.stat().st_size == 0:
            # Opening it would write a database into someone's empty file.
            raise StoreError(f"{path} is an empty file, not a snapshot-runner history database: record a run first, or check --db / ${URL_VARIABLE}")
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    # The file's identity at the first connection: a file deleted (or replaced)
    # while we use it would take every later write with it, unseen.
    opened: list[tuple[int, int] | None] = []

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun by the "begin" hook below, not by the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Two recorders may write at once: wait for the lock instead of failing,
        # and let readers go on beside a writer (WAL).
        cursor.execute("PRAGMA busy_timeout = 60000")
        if create:  # a file setting, written once by a writer; a reader writes nothing
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        if read_only:  # `serve`: SQLite itself refuses any write through this connection
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()
        if not opened:
            opened.append(_file_identity(url))

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that upgrades to
        # a writer after another process committed fails at once (SQLITE_BUSY)
        # instead of waiting. A reader takes no lock: it reads beside writers (WAL).
        if opened and opened[0] is not None and _file_identity(url) != opened[0]:
            raise StoreError(f"{make_url(url).database}: the database file was deleted or replaced while in use; nothing more was written")
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_engine(url: str, *, create: bool = True, read_only: bool = False) -> Engine:
    """An engine for ``url``; a SQLite file is made only when ``create``; a
    ``read_only`` one cannot write (the server refuses it)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StoreError(f"not a database URL: {redact_url(url)!r} (expected e.g. sqlite:///db/history.sqlite)") from None
    if parsed.drivername == "postgresql":
        # We ship psycopg 3; SQLAlchemy's default for plain postgresql:// is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, create and not read_only, read_only)
        connect_args: dict[str, Any] = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
        if read_only and parsed.get_backend_name() == "postgresql":
            connect_args["options"] = "-c default_transaction_read_only=on"
        return create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except NoSuchModuleError:
        raise StoreError(f"unsupported database URL {redact_url(url)}: no SQLAlchemy dialect {parsed.drivername!r}") from None
    except ImportError as exc:
        hint = " (pip install 'snapshot-runner[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        raise StoreError(f"cannot use {redact_url(url)}: {exc}{hint}") from None


# --- schema ----------------------------------------------------------------------


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, *, create: bool = True, read_only: bool = False) -> None:
    """Create the schema (only when ``create``, for a SQLite file), or upgrade an
    older one; refuse one newer than this code. ``read_only`` changes nothing:
    it refuses any schema but this code's."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two recorders opening a new database at once would both CREATE the
            # tables (duplicate pg_type rows); this lock, held to commit, makes
            # the second wait and then see the first one's schema. SQLite's
            # BEGIN IMMEDIATE already serializes.
            connection.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config = _alembic_config(connection)
        scripts = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(connection).get_current_revision()
        head = scripts.get_current_head()
        if current == head:
            return
        if read_only and current is not None and current in {s.revision for s in scripts.walk_revisions()}:
            raise StoreError(f"database schema {current} is older than this snapshot-runner's ({head}): run `snapshot-runner runs` once to upgrade it")
        if current is None and inspect(connection).get_table_names():
            raise StoreError(f"{redact_url(str(engine.url))} holds tables but is not a snapshot-runner history database")
        if current is None and (read_only or (not create and connection.dialect.name == "sqlite")):
            raise StoreError(f"{redact_url(str(engine.url))} holds no snapshot-runner history: record a run first, or check --db / ${URL_VARIABLE}")
        if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
            raise StoreError(f"database schema {current} is newer than this snapshot-runner knows (newest: {head}); upgrade snapshot-runner to use it")
        command.upgrade(config, "head")


# --- what callers read back ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunInfo:
    id: int
    label: str | None
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    environment: dict[str, Any]
    runner_version: str
    case_set_fingerprint: str
    cases_expected: int
    cases_stored: int
    counts: dict[str, int]
    kind: str = RunKind.RECORD
    run_key: str | None = None  # shared by the shards of a sharded run
    load_errors: list[dict[str, str]] = dataclasses.field(default_factory=list)  # {"module", "error"}
    normalize_rules: list[dict[str, str]] = dataclasses.field(default_factory=list)  # {"name", "pattern", "replace"}

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["started_at"] = self.started_at.isoformat(timespec="seconds")
        data["finished_at"] = self.finished_at.isoformat(timespec="seconds") if self.finished_at else None
        return data


@dataclasses.dataclass(frozen=True)
class StoredResult:
    """One case in one run: its status and its artifacts as content hashes."""

    status: str
    error: str | None
    artifacts: dict[str, str]  # key -> sha256


@dataclasses.dataclass(frozen=True)
class Version:
    """One distinct text of a case artifact and the runs it was seen in."""

    sha256: str
    first: RunInfo
    last: RunInfo
    runs: int


ENVIRONMENT_FIELDS = ("torch_version", "torch_git_sha", "python", "platform", "device", "cuda", "triton", "gpu_name")


def _environment_json(env: Environment) -> dict[str, Any]:
    packages = json.loads(env.packages) if env.packages else {}
    return {name: getattr(env, name) for name in ENVIRONMENT_FIELDS} | {"packages": packages}


def case_set_fingerprint(names: Sequence[str], sources: Iterable[str]) -> str:
    """Same names and same module source → same fingerprint."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
    for text in sorted(sources):
        digest.update(sha256(text).encode())
    return digest.hexdigest()


class Store:
    """A history database. Sessions are short: one per call, one per stored case."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = redact_url(str(engine.url))
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True, read_only: bool = False) -> Store:
        """Open (and migrate) the database; with ``create=False`` a missing SQLite file is an error;
        ``read_only`` (for ``serve``) never writes: no file made, no migration, a server-side read-only session."""
        url = database_url(url)
        engine = make_engine(url, create=create, read_only=read_only)
        try:
            migrate(engine, create=create, read_only=read_only)
        except StoreError:
            engine.dispose()
            raise
        except DBAPIError as exc:
            engine.dispose()
            what = "is not a database" if "not a database" in str(exc.orig) else "cannot be opened"
            raise StoreError(f"{redact_url(url)} {what}: {scrub(_first_line(exc), url)}") from None
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"{redact_url(url)} cannot be opened: {scrub(_first_line(exc), url)}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # --- writing ------------------------------------------------------------

    def begin_run(
        self,
        *,
        environment: dict[str, Any],
        label: str | None,
        runner_version: str,
        case_set_fingerprint: str,
        cases_expected: int,
        normalize: str,
        started_at: dt.datetime | None = None,
        kind: str = RunKind.RECORD,
        normalize_rules: Sequence[dict[str, str]] = (),
    ) -> int:
        with self.session() as session:
            env_id = self.environment_id(session, environment)
            run = Run(
                label=label,
                environment_id=env_id,
                started_at=started_at or _now(),
                status=RunStatus.INCOMPLETE,
                runner_version=runner_version,
                case_set_fingerprint=case_set_fingerprint,
                cases_expected=cases_expected,
                normalize=normalize,
                normalize_rules=rules_json(normalize_rules),
                kind=kind,
            )
            session.add(run)
            session.flush()
            return run.id

    def add_results(self, run_id: int, results: Sequence[CaseResult], *, check: Callable[[Session], None] | None = None) -> None:
        """Store cases of a run in one transaction: all of them or none
        (none when ``check``, run first in that transaction, raises)."""
        # Hashed once, before the transaction: on SQLite it holds the write lock.
        hashed = [{k: sha256(t) for k, t in r.artifacts.items()} for r in results]
        texts = {digest: r.artifacts[k] for r, pairs in zip(results, hashed, strict=True) for k, digest in pairs.items()}
        digests = [set_digest(pairs) if pairs else None for pairs in hashed]
        with self.session() as session:
            if check:
                check(session)
            case_ids = self.case_ids(session, {r.name for r in results})
            key_ids = self._ids(session, ArtifactKey, ArtifactKey.name, {k for pairs in hashed for k in pairs})
            artifact_ids = self._artifact_ids(session, texts)
            members = {digest: pairs for digest, pairs in zip(digests, hashed, strict=True) if digest}
            set_ids = self._set_ids(session, members, key_ids, artifact_ids)
            session.add_all(
                CaseOutcome(
                    run_id=run_id,
                    case_id=case_ids[result.name],
                    status=result.status,
                    error=result.error,
                    compile_seconds=result.compile_seconds,
                    artifact_set_id=set_ids[digest] if digest else None,
                )
                for result, digest in zip(results, digests, strict=True)
            )

    @staticmethod
    def _set_ids(session: Session, sets: dict[str, dict[str, str]], key_ids: dict[str, int], artifact_ids: dict[str, int]) -> dict[str, int]:
        """Ids of the artifact sets (digest → key → artifact sha256), adding the new ones."""
        if not sets:
            return {}
        known = dict(session.execute(select(ArtifactSet.sha256, ArtifactSet.id).where(ArtifactSet.sha256.in_(sets))).all())
        new = [digest for digest in sets if digest not in known]
        if new:
            _insert_missing(session, ArtifactSet, [{"sha256": d} for d in new], ["sha256"])
            added = dict(session.execute(select(ArtifactSet.sha256, ArtifactSet.id).where(ArtifactSet.sha256.in_(new))).all())
            rows = [{"set_id": added[d], "key_id": key_ids[key], "artifact_id": artifact_ids[digest]} for d in new for key, digest in sets[d].items()]
            # Another recorder may have made the same set meanwhile: its members are the same.
            _insert_missing(session, ArtifactSetMember, rows, ["set_id", "key_id"])
            known.update(added)
        return known

    def finish_run(self, run_id: int, finished_at: dt.datetime | None = None, *, load_errors: Sequence[dict[str, str]] = ()) -> str:
        """Close the run with the case modules that failed to import; return its
        status: complete if every expected case is stored and no module failed."""
        with self.session() as session:
            run = session.get_one(Run, run_id)
            stored = session.scalar(select(func.count()).where(CaseOutcome.run_id == run_id)) or 0
            run.finished_at = finished_at or _now()
            run.load_errors = json.dumps(list(load_errors)) if load_errors else None
            if stored < run.cases_expected:
                run.status = RunStatus.INCOMPLETE
            else:
                run.status = RunStatus.LOAD_ERRORS if load_errors else RunStatus.COMPLETE
            return run.status

    def environment_id(self, session: Session, environment: dict[str, Any]) -> int:
        """The id of ``environment`` (as ``environment.describe()`` tells it), adding it if new."""
        fields = {name: _text_or_none(environment.get(name)) for name in ENVIRONMENT_FIELDS}
        fields["torch_version"] = fields["torch_version"] or "unknown"
        for name in ("python", "platform", "device"):
            fields[name] = fields[name] or ""
        # Only when tracked: an environment without packages keeps the fingerprint it had before they were.
        if environment.get("packages"):
            fields["packages"] = json.dumps(dict(sorted(environment["packages"].items())))
        fingerprint = sha256(json.dumps(fields, sort_keys=True))
        _insert_missing(session, Environment, [{"fingerprint": fingerprint, **fields}], ["fingerprint"])
        return session.scalars(select(Environment.id).where(Environment.fingerprint == fingerprint)).one()

    def case_ids(self, session: Session, names: set[str]) -> dict[str, int]:
        """Ids of the named cases, adding the new ones."""
        return self._ids(session, StoredCase, StoredCase.name, names)

    @staticmethod
    def _ids(session: Session, model: Any, column: Any, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        _insert_missing(session, model, [{"name": n} for n in sorted(names)], ["name"])
        return dict(session.execute(select(column, model.id).where(column.in_(names))).all())

    @staticmethod
    def _artifact_ids(session: Session, texts: dict[str, str]) -> dict[str, int]:
        if not texts:
            return {}
        known = dict(session.execute(select(Artifact.sha256, Artifact.id).where(Artifact.sha256.in_(texts))).all())
        missing = [{"sha256": h, "text": t} for h, t in texts.items() if h not in known]
        if missing:
            _insert_missing(session, Artifact, missing, ["sha256"])
            new = [h["sha256"] for h in missing]
            known.update(session.execute(select(Artifact.sha256, Artifact.id).where(Artifact.sha256.in_(new))).all())
        return known

    # --- reading ------------------------------------------------------------

    def runs(self, *, include_incomplete: bool = True, limit: int | None = None, kind: str | None = None) -> list[RunInfo]:
        """Newest first; ``kind`` keeps only ``record`` or ``bisect`` runs."""
        with self.session() as session:
            query = select(Run).order_by(Run.id.desc())
            if not include_incomplete:
                query = query.where(Run.status == RunStatus.COMPLETE)
            if kind:
                query = query.where(Run.kind == kind)
            if limit:
                query = query.limit(limit)
            runs = session.scalars(query).all()
            return self._run_infos(session, runs)

    def run(self, run_id: int) -> RunInfo | None:
        with self.session() as session:
            run = session.get(Run, run_id)
            return self._run_infos(session, [run])[0] if run else None

    def runs_by_id(self, run_ids: Iterable[int]) -> list[RunInfo]:
        """The runs named, newest first (a page of the service's runs list)."""
        with self.session() as session:
            return self._run_infos(session, session.scalars(select(Run).where(Run.id.in_(set(run_ids))).order_by(Run.id.desc())).all())

    def _run_infos(self, session: Session, runs: Sequence[Run]) -> list[RunInfo]:
        ids = [r.id for r in runs]
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        if ids:
            rows = session.execute(
                select(CaseOutcome.run_id, CaseOutcome.status, func.count()).where(CaseOutcome.run_id.in_(ids)).group_by(CaseOutcome.run_id, CaseOutcome.status)
            )
            for run_id, status, n in rows:
                counts[run_id][status] = n
        return [
            RunInfo(
                id=r.id,
                label=r.label,
                status=r.status,
                started_at=r.started_at,
                finished_at=r.finished_at,
                environment=_environment_json(r.environment),
                runner_version=r.runner_version,
                case_set_fingerprint=r.case_set_fingerprint,
                cases_expected=r.cases_expected,
                cases_stored=sum(counts[r.id].values()),
                counts=counts[r.id],
                kind=r.kind,
                run_key=r.run_key,
                load_errors=json.loads(r.load_errors) if r.load_errors else [],
                normalize_rules=json.loads(r.normalize_rules) if r.normalize_rules else [],
            )
            for r in runs
        ]

    def runs_with_case(self, case: str, *, status: str | None = None) -> list[RunInfo]:
        """Complete runs (of any kind) holding ``case``, with that status if given; newest first."""
        with self.session() as session:
            query = (
                select(Run)
                .join(CaseOutcome, CaseOutcome.run_id == Run.id)
                .join(StoredCase, StoredCase.id == CaseOutcome.case_id)
                .where(StoredCase.name == case, Run.status == RunStatus.COMPLETE)
                .order_by(Run.id.desc())
            )
            if status:
                query = query.where(CaseOutcome.status == status)
            return self._run_infos(session, session.scalars(query).all())

    def results(self, run_id: int, cases: Iterable[str] | None = None) -> dict[str, StoredResult]:
        """The cases of a run (all, or those named), by name."""
        where = [CaseOutcome.run_id == run_id] + ([StoredCase.name.in_(list(cases))] if cases is not None else [])
        with self.session() as session:
            outcomes = session.execute(
                select(StoredCase.name, CaseOutcome.status, CaseOutcome.error).join(StoredCase, StoredCase.id == CaseOutcome.case_id).where(*where)
            )
            results = {name: StoredResult(status, error, {}) for name, status, error in outcomes}
            rows = session.execute(_artifact_rows(StoredCase.name, ArtifactKey.name, Artifact.sha256).where(*where))
            for case, key, digest in rows:
                results[case].artifacts[key] = digest
            return {name: results[name] for name in sorted(results)}

    def texts(self, hashes: Iterable[str]) -> dict[str, str]:
        wanted = set(hashes)
        if not wanted:
            return {}
        with self.session() as session:
            return dict(session.execute(select(Artifact.sha256, Artifact.text).where(Artifact.sha256.in_(wanted))).all())

    def history(self, case: str, key: str, *, include_incomplete: bool = False) -> list[Version]:
        """Each distinct text of ``case``'s ``key`` artifact, oldest first."""
        with self.session() as session:
            query = (
                _artifact_rows(CaseOutcome.run_id, Artifact.sha256)
                .join(Run, Run.id == CaseOutcome.run_id)
                .where(StoredCase.name == case, ArtifactKey.name == key)
                .order_by(CaseOutcome.run_id)
            )
            if not include_incomplete:
                query = query.where(Run.status == RunStatus.COMPLETE)
            rows = session.execute(query).all()
            seen: dict[str, list[int]] = {}
            for run_id, digest in rows:
                seen.setdefault(digest, []).append(run_id)
            run_ids = {ids[0] for ids in seen.values()} | {ids[-1] for ids in seen.values()}
            infos = {r.id: r for r in self._run_infos(session, session.scalars(select(Run).where(Run.id.in_(run_ids))).all())}
            return [Version(digest, infos[ids[0]], infos[ids[-1]], len(ids)) for digest, ids in seen.items()]

    def case_names(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(StoredCase.name).order_by(StoredCase.name)))

    def keys_of(self, case: str) -> list[str]:
        with self.session() as session:
            return list(session.scalars(_artifact_rows(ArtifactKey.name).where(StoredCase.name == case).distinct().order_by(ArtifactKey.name)))

    def version_matrix(self, run_ids: Sequence[int], case_names: Iterable[str] | None = None) -> dict[tuple[str, str], dict[int, str]]:
        """(case, key) → run id → sha256 of that run's text, for the given runs.

        One query: the HTML report's cases × runs grid reads 20 runs × every
        case × every key at once, and a query per cell would take seconds.
        """
        ids = list(run_ids)
        if not ids:
            return {}
        query = _artifact_rows(StoredCase.name, ArtifactKey.name, CaseOutcome.run_id, Artifact.sha256).where(CaseOutcome.run_id.in_(ids))
        if case_names is not None:
            query = query.where(StoredCase.name.in_(set(case_names)))
        matrix: dict[tuple[str, str], dict[int, str]] = {}
        with self.session() as session:
            for case, key, run_id, digest in session.execute(query):
                matrix.setdefault((case, key), {})[run_id] = digest
        return matrix


def set_digest(artifacts: dict[str, str]) -> str:
    """The identity of a case's artifact set: sha256 over its sorted (key, sha256) pairs."""
    return sha256("".join(f"{key}\t{sha}\n" for key, sha in sorted(artifacts.items())))


def _artifact_rows(*columns: Any) -> Any:
    """SELECT ``columns`` over every (run, case, key, artifact) of the history."""
    return (
        select(*columns)
        .select_from(CaseOutcome)
        .join(StoredCase, StoredCase.id == CaseOutcome.case_id)
        .join(ArtifactSetMember, ArtifactSetMember.set_id == CaseOutcome.artifact_set_id)
        .join(ArtifactKey, ArtifactKey.id == ArtifactSetMember.key_id)
        .join(Artifact, Artifact.id == ArtifactSetMember.artifact_id)
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _insert_missing(session: Session, model: Any, rows: list[dict[str, Any]], unique: list[str]) -> None:
    """INSERT, skipping rows whose ``unique`` columns exist: safe when two
    recorders add the same artifact at the same moment."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]  # the same interface as SQLite's
    else:  # other backends: one writer at a time
        columns = [getattr(model, name) for name in unique]
        wanted = [tuple(r[name] for name in unique) for r in rows]
        existing = {tuple(row) for row in session.execute(select(*columns).where(tuple_(*columns).in_(wanted)))}
        session.add_all(model(**r) for r, values in zip(rows, wanted, strict=True) if values not in existing)
        session.flush()
        return
    # SQLite allows ~32k bound parameters per statement; stay well below.
    for start in range(0, len(rows), 500):
        session.execute(insert(model).values(rows[start : start + 500]).on_conflict_do_nothing(index_elements=unique))
