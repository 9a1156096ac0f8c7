"""Bisect results kept in the history: written by ``bisect``, read by ``serve``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from snapshot_runner.history.models import BisectResult
from snapshot_runner.history.store import Store

# A case bisected every night for a year still shows on one page.
SHOWN = 50


@dataclasses.dataclass(frozen=True)
class StoredBisect:
    id: int
    case: str
    artifact: str | None
    finished_at: dt.datetime
    result: dict[str, Any]  # as `bisect --format json` prints it

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "finished_at": self.finished_at.isoformat(timespec="seconds"), **self.result}


def add_bisect(store: Store, result: dict[str, Any]) -> int:
    """Keep a bisect's JSON report; its id."""
    target = result["target"]
    with store.session() as session:
        row = BisectResult(
            case_name=target["case"],
            artifact=target["artifact"],
            finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            result=json.dumps(result),
        )
        session.add(row)
        session.flush()
        return row.id


def bisects_of(store: Store, case: str, *, limit: int = SHOWN) -> list[StoredBisect]:
    """The newest bisects of ``case`` first."""
    with store.session() as session:
        rows = session.scalars(select(BisectResult).where(BisectResult.case_name == case).order_by(BisectResult.id.desc()).limit(limit))
        return [StoredBisect(r.id, r.case_name, r.artifact, r.finished_at, json.loads(r.result)) for r in rows]
