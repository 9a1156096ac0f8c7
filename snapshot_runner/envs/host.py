"""The host side of a capture: in this process, or in a worker started with any interpreter.

``run_capture(None, ...)`` captures here; ``run_capture(python, ...)`` starts
``python`` on the worker (``worker.py``), which this package reaches by path,
so the target interpreter needs nothing but torch. Either way the caller gets
a ``CaptureReport``, or one of two exceptions whose message is one line:
``RequestError`` (no torch there, no cases directory, unknown case) and
``WorkerError`` (not an interpreter, the worker crashed or answered garbage).
"""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TextIO

from snapshot_runner.capture.results import CaptureReport, CaseResult
from snapshot_runner.capture.worker import EVENT, CaptureRequest, CaptureStart, OnResult, OnStart, RequestError, capture

__all__ = ["CaptureRequest", "CaptureStart", "RequestError", "WorkerError", "run_capture"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
HELLO = "@snapshot-runner-worker python "
MIN_PYTHON = (3, 9)

# Run with ``python -c``: says hello first (so a non-Python is told apart from a
# Python that failed), then loads this package from PACKAGE_DIR by path without
# putting its parent directory on sys.path: that may be the host's
# site-packages, whose torch must not leak into the target. Old-Python-safe
# syntax up to the version check.
BOOTSTRAP = f"""
import sys
sys.stderr.write("{HELLO}%d.%d.%d\\n" % tuple(sys.version_info[:3]))
sys.stderr.flush()
if sys.version_info < {MIN_PYTHON!r}:
    sys.exit(3)
if sys.path and sys.path[0] == "":
    del sys.path[0]
import importlib.util
package_dir, response_path = sys.argv[1:3]
spec = importlib.util.spec_from_file_location(
    "snapshot_runner", package_dir + "/__init__.py", submodule_search_locations=[package_dir])
module = importlib.util.module_from_spec(spec)
sys.modules["snapshot_runner"] = module
spec.loader.exec_module(module)
from snapshot_runner.capture.worker import main
sys.exit(main([response_path]))
"""

# Lines of worker output kept for the error message when it fails.
TAIL_LINES = 20


class WorkerError(RuntimeError):
    """The worker could not produce a report: one line for the user."""


def run_capture(
    python: Path | None,
    request: CaptureRequest,
    *,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
    log: TextIO | None = None,
) -> CaptureReport:
    """Capture what ``request`` selects with ``python`` (None: in this process).

    ``on_start`` gets the environment and the selected cases before the first
    case runs, ``on_result`` each case as it finishes (for progress, or to store
    it at once). Under ``request.debug``, ``log`` gets tracebacks and a worker's
    own output (torch warnings, prints); without it, a worker's output only
    shows in the one-line error when it fails.
    """
    log = log or sys.stderr
    if python is None:
        return capture(request, log, on_start, on_result)
    return _run_worker(python, request, _Listener(on_start, on_result, log if request.debug else None))


class _Listener:
    """Reads the worker's output: hello, events, and the last lines for errors."""

    def __init__(self, on_start: OnStart | None, on_result: OnResult | None, log: TextIO | None) -> None:
        self.on_start = on_start
        self.on_result = on_result
        self.log = log
        self.hello: str | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def read(self, stream: Iterable[str]) -> None:
        for line in stream:
            if self.hello is None and line.startswith(HELLO):
                self.hello = line[len(HELLO) :].strip()
            elif not (line.startswith(EVENT) and self._event(line[len(EVENT) :])):
                self.tail.append(line.rstrip("\n"))
                if self.log:
                    self.log.write(line)

    def _event(self, text: str) -> bool:
        """Handle an event line; False if it is not one after all (plain output)."""
        try:
            event = json.loads(text)
            start = CaptureStart.from_json(event) if event["event"] == "start" else None
            result = CaseResult.from_json(event["result"]) if event["event"] == "result" else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        if start and self.on_start:
            self.on_start(start)
        if result and self.on_result:
            self.on_result(result)
        return bool(start or result)

    def last_line(self) -> str:
        lines = [line.strip() for line in self.tail if line.strip()]
        return lines[-1] if lines else "no output"


def _run_worker(python: Path, request: CaptureRequest, listener: _Listener) -> CaptureReport:
    with tempfile.TemporaryDirectory(prefix="snapshot-runner-worker-") as tmp:
        response_path = Path(tmp) / "response.json"
        command = [str(python), "-c", BOOTSTRAP, str(PACKAGE_DIR), str(response_path)]
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one stream: prints and warnings stay in order
                text=True,
                errors="replace",
            )
        except FileNotFoundError:
            raise WorkerError(f"python not found: {python}") from None
        except OSError as exc:
            raise WorkerError(f"{python} is not an interpreter: {exc.strerror}") from None
        assert proc.stdin is not None and proc.stdout is not None
        try:
            _send(proc.stdin, request)
            listener.read(proc.stdout)
            returncode = proc.wait()
        finally:
            if proc.poll() is None:  # a callback raised: the worker must not outlive us
                proc.kill()
                proc.wait()
        _check_exit(python, listener, returncode)
        return _read_response(python, response_path, listener)


def _send(stdin: IO[str], request: CaptureRequest) -> None:
    try:
        stdin.write(json.dumps(request.to_json()))
        stdin.close()
    except BrokenPipeError:  # it exited without reading: _check_exit says why
        pass


def _check_exit(python: Path, listener: _Listener, returncode: int) -> None:
    hello = listener.hello
    if hello is None:
        raise WorkerError(f"{python} is not a Python interpreter: it exited with status {returncode} without running the worker ({listener.last_line()})")
    version = tuple(int(part) for part in hello.split("."))
    if version < MIN_PYTHON:
        needed = ".".join(map(str, MIN_PYTHON))
        raise WorkerError(f"{python} is Python {hello}; the worker needs Python {needed} or newer")
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        raise WorkerError(f"the worker in {python} was killed by {name} (last output: {listener.last_line()})")
    if returncode != 0:
        raise WorkerError(f"the worker in {python} failed with status {returncode}: {listener.last_line()}")


def _read_response(python: Path, path: Path, listener: _Listener) -> CaptureReport:
    try:
        response = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkerError(f"the worker in {python} exited without a response: {listener.last_line()}") from None
    except ValueError as exc:
        raise WorkerError(f"the worker in {python} sent a malformed response: {exc}") from None
    return parse_response(python, response)


def parse_response(python: Path, response: object) -> CaptureReport:
    """The report in a decoded response; its error as ``RequestError``."""
    malformed = f"the worker in {python} sent a malformed response"
    if not isinstance(response, dict):
        raise WorkerError(f"{malformed}: not a JSON object")
    if isinstance(response.get("error"), str):
        raise RequestError(response["error"])
    try:
        return CaptureReport.from_json(response["report"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WorkerError(f"{malformed}: {type(exc).__name__}: {exc}") from None
