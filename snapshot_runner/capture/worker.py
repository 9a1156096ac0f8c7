"""The worker: capture cases inside whichever interpreter has the torch under test.

It needs only torch (and numpy) and the standard library, so any interpreter
with torch can run it: a cached environment made by ``envs``, a conda env with a
nightly. The host (``host.py``) loads this package into it by path, sends a
``CaptureRequest`` as JSON on stdin and reads the response from the file named
on the command line:

    {"report": <CaptureReport JSON>}   the capture ran (cases may still have failed)
    {"error": "<one line>"}            it could not: no torch, no cases directory, unknown case

As it goes it writes ``EVENT`` lines to stderr: a ``start`` (environment and
selected cases) and a ``result`` per case, so the host can show progress and
store each case as it finishes. Anything else there (torch warnings, prints,
tracebacks under --debug) is for the user.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from snapshot_runner.capture.discovery import CaseSelectionError, discover, select
from snapshot_runner.capture.results import CaptureReport, CaseResult

EVENT = "@snapshot-runner-event "


class RequestError(Exception):
    """The request cannot run here: one line for the user."""


@dataclasses.dataclass(frozen=True)
class CaptureRequest:
    cases_dir: str
    names: tuple[str, ...] = ()
    substring: str | None = None
    level: str = "canonical"
    # Print tracebacks of failures to stderr: they are not part of the report.
    debug: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "names": list(self.names)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureRequest:
        return cls(
            cases_dir=str(data["cases_dir"]),
            names=tuple(data.get("names") or ()),
            substring=data.get("substring"),
            level=data.get("level", "canonical"),
            debug=bool(data.get("debug")),
        )


@dataclasses.dataclass(frozen=True)
class CaptureStart:
    """What is known once the cases are selected, before the first one runs."""

    environment: dict[str, Any]
    cases: list[str]  # selected case names, in capture order
    source_files: list[str]  # the files that define them

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureStart:
        return cls(dict(data["environment"]), list(data["cases"]), list(data["source_files"]))


OnStart = Callable[[CaptureStart], None]
OnResult = Callable[[CaseResult], None]


def _require_torch() -> None:
    """Import torch first so that its absence is one line, not a traceback."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # not installed, or a broken build (missing libraries, ABI)
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == "torch"
        what = "no torch in" if missing else "torch does not import in"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RequestError(f"{what} {sys.executable}: {type(exc).__name__}: {first}") from None


def capture(
    request: CaptureRequest,
    log: TextIO,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
) -> CaptureReport:
    """Discover, select and capture in this process."""
    _require_torch()
    from snapshot_runner.capture.normalize import Context
    from snapshot_runner.capture.recorder import capture_cases

    from . import environment

    try:
        found = discover(request.cases_dir)
        cases = select(found.cases, request.names, request.substring)
    except (FileNotFoundError, CaseSelectionError) as exc:
        raise RequestError(str(exc)) from None
    if request.debug:
        for error in found.errors:
            print(error.traceback, file=log)
    env = environment.describe()
    if on_start:
        sources = list(dict.fromkeys(case.source_file for case in cases if case.source_file))
        on_start(CaptureStart(env, [case.name for case in cases], sources))
    results = capture_cases(
        cases,
        level=request.level,
        ctx=Context.current(found.cases_dir),
        progress=(lambda _case, result: on_result(result)) if on_result else None,
    )
    return CaptureReport(
        environment=env,
        cases=results,
        normalize=request.level,
        load_errors=[error.one_line() for error in found.errors],
    )


def _emit(kind: str, data: dict[str, Any]) -> None:
    # The case's own output shares the host's pipe: flush it, and start the
    # event on a line of its own, so a print(..., end="") cannot swallow it.
    sys.stdout.flush()
    print("\n" + EVENT + json.dumps({"event": kind, **data}), file=sys.stderr, flush=True)


def _emit_start(start: CaptureStart) -> None:
    _emit("start", start.to_json())


def _emit_result(debug: bool) -> OnResult:
    def emit(result: CaseResult) -> None:
        if debug and result.debug_traceback:
            print(result.debug_traceback, file=sys.stderr)
        _emit("result", {"result": result.to_json()})

    return emit


def main(argv: Sequence[str]) -> int:
    """``main([RESPONSE_PATH])`` with the request on stdin; see ``host.BOOTSTRAP``."""
    (response_path,) = argv
    request = CaptureRequest.from_json(json.loads(sys.stdin.read()))
    try:
        report = capture(request, sys.stderr, _emit_start, _emit_result(request.debug))
        response: dict[str, Any] = {"report": report.to_json()}
    except RequestError as exc:
        response = {"error": str(exc)}
    # Written whole then renamed: a crash never leaves half a response behind.
    partial = Path(f"{response_path}.partial")
    partial.write_text(json.dumps(response), encoding="utf-8")
    os.replace(partial, response_path)
    return 0
