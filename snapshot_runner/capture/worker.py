"""The worker: captures cases, one at a time as the supervisor asks, inside
whichever interpreter has the torch under test.

It needs only torch (and numpy) and the standard library, so any interpreter
with torch can run it: this one, a cached environment made by ``envs``, a
conda env with a nightly. The host (``envs/host.py``, ``envs/supervisor.py``) loads this package into it by
path and talks to it over two pipes of their own, never stdin/stdout: whatever
a case prints goes to the worker's output file, which the host reads only for
the last lines of a failing case. One JSON object a line:

    host -> worker   {"op": "run", "name": NAME}        capture this case next
                     end of the pipe                      finish
    worker -> host   {"event": "loading", "path", "module", "torch"}  about to import a case module
                     {"event": "start", ...}              the cases are selected (``CaptureStart``)
                     {"event": "error", "message"}        it cannot run: no torch, no cases directory, unknown case
                     {"event": "result", "result"}        one case done

Before each case the worker restores the process state (``isolation``), so a
case sees the same state whichever cases ran before it in this worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from snapshot_runner.capture.discovery import CaseSelectionError, discover, exit_message, not_loaded, select, torch_version
from snapshot_runner.capture.results import CaseResult, CaseStatus
from snapshot_runner.capture.user_rules import UserRule, rules_from_json

# Lines of a failing case's output kept with its error, and how long each may be.
OUTPUT_LINES = 15
OUTPUT_LINE_CHARS = 300


class RequestError(Exception):
    """The request cannot run here: one line for the user."""


@dataclasses.dataclass(frozen=True)
class CaptureRequest:
    cases_dir: str
    names: tuple[str, ...] = ()
    substring: str | None = None
    level: str = "canonical"
    # Print tracebacks of failures to the output: they are not part of the report.
    debug: bool = False
    # Case modules not to import: importing them killed an earlier worker.
    exclude: tuple[str, ...] = ()
    # Distributions whose versions the report's environment records (``packages``).
    track: tuple[str, ...] = ()
    # The project's own normalization rules (``[tool.snapshot-runner] normalize``).
    user_rules: tuple[UserRule, ...] = ()
    # 0: a plain capture. K > 0: ``check-stable``'s K-th run, which differs from
    # the others in what must not matter (``perturb.py``).
    perturbation: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "names": list(self.names),
            "exclude": list(self.exclude),
            "track": list(self.track),
            "user_rules": [rule.to_json() for rule in self.user_rules],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureRequest:
        return cls(
            cases_dir=str(data["cases_dir"]),
            names=tuple(data.get("names") or ()),
            substring=data.get("substring"),
            level=data.get("level", "canonical"),
            debug=bool(data.get("debug")),
            exclude=tuple(data.get("exclude") or ()),
            track=tuple(data.get("track") or ()),
            user_rules=rules_from_json(data.get("user_rules") or ()),
            perturbation=int(data.get("perturbation") or 0),
        )


@dataclasses.dataclass(frozen=True)
class CaptureStart:
    """What is known once the cases are selected, before the first one runs."""

    environment: dict[str, Any]
    cases: list[str]  # selected case names, in capture order
    source_files: list[str]  # the files that define them
    load_errors: list[str] = dataclasses.field(default_factory=list)
    # A case's own ``timeout=`` option, where it has one (seconds).
    timeouts: dict[str, float] = dataclasses.field(default_factory=dict)
    # The user's normalization rules the worker applies ({"name", "pattern", "replace"}).
    user_rules: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureStart:
        return cls(
            dict(data["environment"]),
            list(data["cases"]),
            list(data["source_files"]),
            list(data.get("load_errors") or []),
            {str(k): float(v) for k, v in (data.get("timeouts") or {}).items()},
            [dict(rule) for rule in data.get("user_rules") or ()],
        )


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


def output_tail(path: Path, lines: int = OUTPUT_LINES) -> list[str]:
    """The last non-blank lines of a case's output (a worker's output file)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - lines * OUTPUT_LINE_CHARS * 2))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    kept = [line.rstrip()[:OUTPUT_LINE_CHARS] for line in text.splitlines() if line.strip()]
    return kept[-lines:]


class Session:
    """The worker's side of one capture: discovery once, then cases on demand."""

    def __init__(self, request: CaptureRequest, events: IO[str], output: Path, *, template: bool = False) -> None:
        self.request = request
        self.events = events
        self.output = output
        self.template = template  # the fork template's session: no CUDA here (``template.py``)

    def emit(self, kind: str, **data: Any) -> None:
        self.events.write(json.dumps({"event": kind, **data}) + "\n")
        self.events.flush()

    def load(self) -> CaptureStart:
        _require_torch()
        from snapshot_runner.capture import environment, perturb
        from snapshot_runner.capture.isolation import Baseline
        from snapshot_runner.capture.normalize import Context
        from snapshot_runner.capture.template import gpu_name_in_child, threads

        self.threads_at_import = threads()  # what the fork template may fork with

        root = Path(self.request.cases_dir).absolute()  # before a perturbed run changes directory
        perturb.before_load(self.request.perturbation, self.output.parent)
        if root.is_dir() and str(root.resolve()) not in sys.path:
            sys.path.insert(0, str(root.resolve()))  # before the baseline: case modules share helpers
        self.baseline = Baseline.take(root)
        try:
            found = discover(
                root,
                exclude=self.request.exclude,
                before_import=lambda path, module: self.emit("loading", path=str(path), module=module, torch=torch_version()),
                reverse_imports=perturb.reverses_imports(self.request.perturbation),
            )
        except FileNotFoundError as exc:
            raise RequestError(str(exc)) from None
        try:
            cases = select(found.cases, self.request.names, self.request.substring)
        except CaseSelectionError as exc:
            # A named case whose module failed to import is that failure, not a typo.
            raise RequestError(not_loaded(self.request.names, found.errors) or str(exc)) from None
        self.baseline.keep_modules()
        if self.request.debug:
            for error in found.errors:
                print(error.traceback, file=sys.stderr)
        cases = perturb.case_order(cases, self.request.perturbation)
        self.cases = {case.name: case for case in cases}
        self.ctx = Context.current(found.cases_dir, self.request.user_rules)
        sources = list(dict.fromkeys(case.source_file for case in cases if case.source_file))
        try:
            gpu_name_of = gpu_name_in_child if self.template else environment.gpu_name
            described = environment.describe(self.request.track, gpu_name_of=gpu_name_of)
        except environment.UntrackedPackage as exc:
            raise RequestError(str(exc)) from None
        return CaptureStart(
            environment=described,
            cases=[case.name for case in cases],
            source_files=sources,
            load_errors=[error.one_line() for error in found.errors],
            timeouts={c.name: float(c.options.timeout) for c in cases if c.options.timeout is not None},
            user_rules=[rule.to_json() for rule in self.request.user_rules],
        )

    def run(self, name: str) -> CaseResult:
        from snapshot_runner.capture.recorder import capture_case, location_in

        self.baseline.restore()
        _clear_output()
        try:
            result = capture_case(self.cases[name], level=self.request.level, ctx=self.ctx)
        except (SystemExit, KeyboardInterrupt) as exc:  # the case tried to end the worker
            where = location_in(exc, self.ctx.cases_dir)
            result = CaseResult(name=name, status=CaseStatus.ERROR, error=f"{where}{exit_message(exc)}", debug_traceback=traceback.format_exc())
        if result.status.failed:
            sys.stdout.flush()
            sys.stderr.flush()
            result.output = output_tail(self.output)
            if self.request.debug and result.debug_traceback:
                print(result.debug_traceback, file=sys.stderr, flush=True)
        return result


def _clear_output() -> None:
    """Empty the output file (stdout and stderr share it, opened for appending)."""
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError):  # not a file (run by hand on a terminal): nothing to clear
        os.ftruncate(1, 0)


def main(argv: Sequence[str]) -> int:
    """``main([COMMAND_FD, EVENT_FD, OUTPUT_PATH])`` with the request as the first
    command; see ``host.BOOTSTRAP``. With a fourth argument, the fd of the fork
    socket, it is the fork template (``template.py``) and runs cases only in
    the workers it forks."""
    command_fd, event_fd, output_path, *fork_socket = argv
    commands: IO[str] = os.fdopen(int(command_fd), "r", encoding="utf-8")
    events = os.fdopen(int(event_fd), "w", encoding="utf-8")
    request = CaptureRequest.from_json(json.loads(commands.readline()))
    session = Session(request, events, Path(output_path), template=bool(fork_socket))
    try:
        start = session.load()
    except RequestError as exc:
        session.emit("error", message=str(exc))
        return 0
    session.emit("start", **start.to_json())
    if fork_socket:
        forked = _be_template(session, commands, int(fork_socket[0]))
        if forked is None:
            return 0
        commands = forked
        session.emit("start", **start.to_json())
    for line in commands:
        command = json.loads(line)
        if command.get("op") == "run":
            session.emit("result", result=session.run(command["name"]).to_json())
    return 0


def _be_template(session: Session, commands: IO[str], fork_fd: int) -> IO[str] | None:
    """Warm up and fork workers until the host is done (None); in a forked
    worker, its command pipe (the session writes to its own event pipe)."""
    import socket

    from snapshot_runner.capture import template

    template.warm(case.options.backend for case in session.cases.values())
    reason = template.fork_unsafe(session.threads_at_import)
    session.emit("template", reason=reason)
    if reason is not None:
        return None
    with socket.socket(fileno=fork_fd) as sock:
        forked = template.serve(sock, (commands, session.events))
    if forked is None:
        return None
    command_fd, event_fd, output = forked
    session.events = os.fdopen(event_fd, "w", encoding="utf-8")
    session.output = output
    return os.fdopen(command_fd, "r", encoding="utf-8")
