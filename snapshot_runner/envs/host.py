"""The host's handle on one worker process (``worker.py``) in any interpreter.

``WorkerProcess.start(python, ...)`` runs ``python`` on the worker, which this
package reaches by path, so the target interpreter needs nothing but torch.
The worker gets its own session (a Ctrl-C at the terminal reaches only the
host, which stops it), two pipes for the protocol, and an output file for its
stdout and stderr. ``supervisor.py`` decides what each worker runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Protocol

from snapshot_runner.capture.perturb import hash_seed
from snapshot_runner.capture.worker import CaptureRequest, output_tail

PACKAGE_DIR = Path(__file__).resolve().parent.parent
HELLO = "@snapshot-runner-worker python "
MIN_PYTHON = (3, 9)

# Run with ``python -c``: says hello first (so a non-Python is told apart from a
# Python that failed), then loads this package from PACKAGE_DIR by path without
# putting its parent directory on sys.path: that may be the host's
# site-packages, whose torch must not leak into the target. Old-Python-safe
# syntax up to the version check.
BOOTSTRAP = f"""
import os, sys
os.write(int(sys.argv[3]), ("{HELLO}%d.%d.%d\\n" % tuple(sys.version_info[:3])).encode())
if sys.version_info < {MIN_PYTHON!r}:
    sys.exit(3)
if sys.path and sys.path[0] == "":
    del sys.path[0]
import importlib.util
package_dir = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "snapshot_runner", package_dir + "/__init__.py", submodule_search_locations=[package_dir])
module = importlib.util.module_from_spec(spec)
sys.modules["snapshot_runner"] = module
spec.loader.exec_module(module)
from snapshot_runner.capture.worker import main
sys.exit(main(sys.argv[2:]))
"""


class WorkerError(RuntimeError):
    """The worker could not start or load the cases: one line for the user."""


def signal_name(number: int) -> str:
    return signal.Signals(number).name if number in signal.valid_signals() else str(number)


class Process(Protocol):
    """What a worker runs as: a ``Popen`` (spawned) or a ``template.ForkedProcess``."""

    @property
    def pid(self) -> int: ...
    def poll(self) -> int | None: ...
    def wait(self) -> int: ...
    def kill(self) -> None: ...


class WorkerProcess:
    """One worker: send it the request and cases, read its events, stop it."""

    def __init__(self, python: Path, proc: Process, commands: int, events: int, output: Path) -> None:
        self.python = python
        self.proc = proc
        self.output = output
        self._commands = os.fdopen(commands, "w", encoding="utf-8")
        self._events = events
        self._partial: list[bytes] = []  # the chunks of the line not yet ended
        self.hello: str | None = None
        self.closed = False  # the event pipe ended: the worker exited or died

    @classmethod
    def start(cls, python: Path, request: CaptureRequest, output: Path, *, fork_socket: int | None = None) -> WorkerProcess:
        """Spawn a worker; with ``fork_socket``, the fork template (``envs/template.py``) that listens on it."""
        template = () if fork_socket is None else (fork_socket,)
        command_read, command_write = os.pipe()
        event_read, event_write = os.pipe()
        seed = hash_seed(request.perturbation)
        try:
            with open(output, "ab") as out:  # appending: the worker truncates it before each case
                proc = subprocess.Popen(
                    [str(python), "-c", BOOTSTRAP, str(PACKAGE_DIR), str(command_read), str(event_write), str(output), *map(str, template)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    pass_fds=(command_read, event_write, *template),
                    start_new_session=True,
                    env={**os.environ, "PYTHONHASHSEED": seed} if seed else None,
                )
        except FileNotFoundError:
            raise WorkerError(f"python not found: {python}") from None
        except OSError as exc:
            raise WorkerError(f"{python} is not an interpreter: {exc.strerror}") from None
        finally:
            os.close(command_read)
            os.close(event_write)
        worker = cls(python, proc, command_write, event_read, output)
        worker.send(request.to_json())
        return worker

    def fileno(self) -> int:
        return self._events

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._commands.write(json.dumps(message) + "\n")
            self._commands.flush()
        except (BrokenPipeError, ValueError):  # it died: the event pipe says so
            pass

    def read(self) -> list[dict[str, Any]]:
        """The events that arrived (call when the pipe is readable); sets ``closed`` at its end."""
        chunk = os.read(self._events, 1 << 16)
        if not chunk:
            self.closed = True
        # A line's chunks are joined once, when its end arrives: a 100 MB
        # result is read in linear time, not re-split at every chunk.
        end = chunk.rfind(b"\n")
        if end < 0:
            self._partial.append(chunk)
            return []
        lines = b"".join([*self._partial, chunk[:end]]).split(b"\n")
        self._partial = [chunk[end + 1 :]]
        events = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if self.hello is None and line.startswith(HELLO):
                self.hello = line[len(HELLO) :].strip()
                continue
            try:
                event = json.loads(line)
            except ValueError:
                raise WorkerError(f"the worker in {self.python} sent a malformed event: {line[:200]!r}") from None
            if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                raise WorkerError(f"the worker in {self.python} sent a malformed event: {line[:200]!r}")
            events.append(event)
        return events

    def kill(self) -> None:
        """Kill it and whatever it started (its session): compile workers, a hung child."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        self._close_commands()
        self._close_events()

    def exit_status(self) -> int:
        return self.proc.wait()

    def died(self) -> str:
        """How it ended, for a message: ``killed by SIGSEGV``, ``exited with status 1``."""
        status = self.exit_status()
        return f"killed by {signal_name(-status)}" if status < 0 else f"exited with status {status}"

    def last_line(self) -> str:
        lines = output_tail(self.output, 1)
        return lines[-1] if lines else "no output"

    def check_started(self) -> None:
        """Raise the ``WorkerError`` that explains a worker gone before it loaded the cases."""
        if self.hello is None:
            raise WorkerError(
                f"{self.python} is not a Python interpreter: it exited with status {self.exit_status()} without running the worker ({self.last_line()})"
            )
        version = tuple(int(part) for part in self.hello.split("."))
        if version < MIN_PYTHON:
            needed = ".".join(map(str, MIN_PYTHON))
            raise WorkerError(f"{self.python} is Python {self.hello}; the worker needs Python {needed} or newer")
        raise WorkerError(f"the worker in {self.python} {self.died()} before it loaded the cases: {self.last_line()}")

    def _close_commands(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):  # it died with data unread
            self._commands.close()

    def _close_events(self) -> None:
        if self._events >= 0:
            os.close(self._events)
            self._events = -1
