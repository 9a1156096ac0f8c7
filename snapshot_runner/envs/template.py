"""The host's handle on the fork template (``capture/template.py``).

``Template.start`` spawns it like a worker (``WorkerProcess.start``, so
under any interpreter: ``--python``, ``--torch``) with one more channel, a
socket; the supervisor reads its events like a worker's (``loading``,
``start``, ``error``) until ``template`` says whether it forks. Then
``fork(output)`` gives a ``WorkerProcess`` forked from it: same pipes, same
output file, own session, already past ``import torch``, discovery and the
first compile.

A forked worker is the template's child, not ours: its exit status comes
from the template (``ForkedProcess.wait``), and a template gone (killed,
crashed) makes ``fork`` return None so that the caller spawns instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from snapshot_runner.capture.worker import CaptureRequest
from snapshot_runner.envs.host import WorkerProcess

MESSAGE_BYTES = 1 << 16
# A forked worker's status once its template is gone: unknowable; it was killed by us or died.
STATUS_UNKNOWN = -int(signal.SIGKILL)


class Template:
    def __init__(self, process: WorkerProcess, sock: socket.socket) -> None:
        self.process = process
        self._sock = sock
        self.ready = False  # the template said it forks

    @classmethod
    def start(cls, python: Path, request: CaptureRequest, output: Path) -> Template:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = WorkerProcess.start(python, request, output, fork_socket=theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, ours)

    def ask(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> dict[str, Any] | None:
        """Send a message and read the answer; None if the template is gone."""
        try:
            socket.send_fds(self._sock, [json.dumps(message).encode()], list(fds))
            answer = self._sock.recv(MESSAGE_BYTES)
        except OSError:
            answer = b""
        if not answer:
            self.ready = False
            return None
        reply: dict[str, Any] = json.loads(answer)
        return reply

    def fork(self, output: Path) -> WorkerProcess | None:
        """A worker forked from the template writing to ``output``; None if the template is gone."""
        if not self.ready:
            return None
        command_read, command_write = os.pipe()
        event_read, event_write = os.pipe()
        out = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            reply = self.ask({"op": "fork", "output": str(output)}, (command_read, event_write, out))
        finally:
            for fd in (command_read, event_write, out):
                os.close(fd)
        if reply is None:
            os.close(command_write)
            os.close(event_read)
            return None
        return WorkerProcess(self.process.python, ForkedProcess(self, int(reply["pid"])), command_write, event_read, output)

    def close(self) -> None:
        """Stop forking; the template exits (it is killed too, should it hang)."""
        self.ready = False
        self._sock.close()
        self.process.kill()


class ForkedProcess:
    """A worker the template forked, as ``WorkerProcess`` uses a ``Popen``."""

    def __init__(self, template: Template, pid: int) -> None:
        self.template = template
        self.pid = pid
        self.returncode: int | None = None

    def _status(self, block: bool) -> int | None:
        if self.returncode is None:
            reply = self.template.ask({"op": "wait", "pid": self.pid, "block": block})
            status = STATUS_UNKNOWN if reply is None else reply["status"]
            if status is not None or block:
                self.returncode = STATUS_UNKNOWN if status is None else int(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._status(block=False)

    def wait(self) -> int:
        status = self._status(block=True)
        assert status is not None
        return status

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
