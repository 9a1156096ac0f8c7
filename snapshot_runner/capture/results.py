"""Capture results and their JSON form (the contract between worker and host)."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from snapshot_runner.capture.artifacts import key_problem
from snapshot_runner.capture.names import case_name_problem
from snapshot_runner.capture.vocabulary import StrEnum


class CaseStatus(StrEnum):
    """How a case ended."""

    OK = "ok"
    SKIPPED = "skipped"  # a requirement (cuda, triton, min_torch) is missing here
    MISMATCH = "mismatch"  # compiled outputs or grads differ from eager
    ERROR = "error"  # the case did not run to the end

    @property
    def failed(self) -> bool:
        return self in (CaseStatus.ERROR, CaseStatus.MISMATCH)


def status_summary(results: list[CaseResult]) -> str:
    """``"12 ok, 1 skipped"``: the statuses that occur, in a fixed order."""
    counts = {s: sum(r.status == s for r in results) for s in CaseStatus}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)


@dataclasses.dataclass
class CaseResult:
    name: str
    status: CaseStatus
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    error: str | None = None
    compile_seconds: float = 0.0
    # The last lines the case printed, kept when it failed.
    output: list[str] = dataclasses.field(default_factory=list)
    # Full traceback for --debug; never part of the JSON contract.
    debug_traceback: str | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "artifacts": self.artifacts,
            "error": self.error,
            "compile_seconds": round(self.compile_seconds, 4),
            **({"output": self.output} if self.output else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        if data["status"] not in {s.value for s in CaseStatus}:
            raise ValueError(f"case {data['name']} has status {data['status']!r}")
        return cls(
            name=data["name"],
            status=CaseStatus(data["status"]),
            artifacts=dict(data.get("artifacts") or {}),
            error=data.get("error"),
            compile_seconds=float(data.get("compile_seconds") or 0.0),
            output=[str(line) for line in data.get("output") or []],
        )


def _encodable(text: object) -> bool:
    try:
        str(text).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_error_module(line: str) -> str:
    """The dotted case module a load error (``LoadError.one_line()``) names; "" if none."""
    match = re.search(r"cannot import case module ([^\s:]+)", line)
    return match[1] if match else ""


@dataclasses.dataclass
class CaptureReport:
    environment: dict[str, Any]
    cases: list[CaseResult]
    normalize: str = "canonical"
    # One line per case module that failed to import (its cases are missing).
    load_errors: list[str] = dataclasses.field(default_factory=list)
    # The user's normalization rules applied after the built-in ones ({"name", "pattern", "replace"}).
    user_rules: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.status.failed]

    def problem(self) -> str | None:
        """Why this report (made elsewhere) may not be stored or written as goldens, or None:
        a name or key that is not one, or text that cannot be encoded (a lone surrogate)."""
        for case in self.cases:
            problems = (
                case_name_problem(case.name),
                *(key_problem(key) for key in case.artifacts),
                next((f"{key!r} is not encodable text" for key, text in case.artifacts.items() if not _encodable(text)), None),
                "its error is not encodable text" if case.error and not _encodable(case.error) else None,
            )
            problem = next((p for p in problems if p), None)
            if problem:
                return f"case {case.name!r}: {problem}" if case.name else problem
        if not _encodable(json.dumps(self.environment, ensure_ascii=False)):
            return "its environment is not encodable text"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "normalize": self.normalize,
            "cases": [c.to_json() for c in self.cases],
            "load_errors": self.load_errors,
            "user_rules": self.user_rules,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureReport:
        return cls(
            environment=dict(data.get("environment") or {}),
            cases=[CaseResult.from_json(c) for c in data.get("cases", [])],
            normalize=data.get("normalize", "canonical"),
            load_errors=list(data.get("load_errors") or []),
            user_rules=[dict(rule) for rule in data.get("user_rules") or ()],
        )
