"""The fork template: the worker side's start-up, paid once per run.

A template is a worker (``worker.main``) that loads the cases and then,
instead of running them, warms what every process pays for in its first
compile and forks the workers from that state: ``import torch``, the case
modules, Dynamo's and AOTAutograd's first-compile setup, Inductor's vector-ISA
verdict and C++ toolchain checks (cached per process only). Each forked
worker runs cases exactly as a spawned one would (``Session.run`` restores the
state before each case), without that start-up.

Fork is safe only while the template has one thread: a pool (OpenMP, torch's
intra-op threads, a CUDA context) started before the fork is missing in the
child, whose first parallel region then waits for it forever. So the warm-up
compiles tiny CPU graphs that run on the calling thread, CUDA is never
touched here (CUDA cases initialize in the worker), and the template counts
its threads after the warm-up: more than one and it declines to fork, and the
host spawns the workers instead.

The host (``envs/template.py``) talks to it over a ``SOCK_SEQPACKET`` socket,
one JSON object a message:

    host -> template   {"op": "fork", "output": PATH} + fds (commands, events, output)
                         -> {"pid": PID}
                       {"op": "wait", "pid": PID, "block": BOOL}
                         -> {"status": CODE or null}   (CODE as Popen.returncode)
                       end of the socket                finish
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import torch

from snapshot_runner.capture.case import Case, CaseOptions
from snapshot_runner.capture.recorder import capture_case, reset_compiler_state
from snapshot_runner.capture.vocabulary import StrEnum

MESSAGE_BYTES = 1 << 16


class Op(StrEnum):
    FORK = "fork"
    WAIT = "wait"


def _tiny() -> tuple[Any, Any]:
    # Small enough that Inductor's C++ kernel has no parallel region.
    return (lambda x: (x.sin() * 2).sum()), (torch.ones(4, requires_grad=True),)


def gpu_name_in_child() -> str | None:
    """``environment.gpu_name`` asked in a forked child: any CUDA call (even
    ``is_available``) initializes the driver, which a later fork cannot
    carry into the workers."""
    from snapshot_runner.capture.environment import gpu_name

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.write(write, json.dumps(gpu_name()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    name: str | None = json.loads(data) if data else None
    return name


def warm(backends: Iterable[str]) -> None:
    """Capture one tiny CPU case with each backend, then forget it: what is
    left is what any later compile in this process reuses. Inductor first: it
    sets up Dynamo and AOTAutograd too, leaving the others little to do."""
    for backend in sorted(set(backends), key=lambda name: (name != "inductor", name)):
        case = Case(factory=_tiny, options=CaseOptions(backend=backend), name=f"warm_{backend}")
        capture_case(case)
    reset_compiler_state()


def threads() -> frozenset[int]:
    """The ids of this process's threads (none where /proc does not say)."""
    try:
        return frozenset(map(int, os.listdir("/proc/self/task")))
    except OSError:
        return frozenset()


def fork_unsafe(at_import: frozenset[int]) -> str | None:
    """Why forking this process now would be unsafe, or None. ``at_import``:
    its threads right after ``import torch``; those are pools that survive a
    fork by design (NumPy's OpenBLAS stops its pool around a fork, so they
    may be gone since), and any thread started since then (warm-up, case
    modules) would not. Ids, not a count: a pool gone must not hide a new thread."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return f"fork is not used on {sys.platform}"
    started = len(threads() - at_import)
    if started > 0:
        return f"{started} thread(s) started after import torch, while loading the cases or warming up"
    return None


def _status(pid: int, block: bool) -> int | None:
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # not ours, or reaped already
        return None
    return os.waitstatus_to_exitcode(status) if done else None


def _reply(sock: socket.socket, **data: Any) -> None:
    sock.send(json.dumps(data).encode())


def serve(sock: socket.socket, own: Iterable[IO[Any]]) -> tuple[int, int, Path] | None:
    """Fork workers as the host asks until it closes the socket (then None).

    Returns only in a forked worker: its command and event fds and its output
    path, with stdout and stderr going to that output, in its own session,
    without the template's channels (``own``, and the socket).
    """
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, 3)
        if not data:
            return None
        message = json.loads(data)
        if message["op"] == Op.WAIT:
            _reply(sock, status=_status(int(message["pid"]), bool(message["block"])))
            continue
        commands, events, output = fds
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.setsid()  # killing its session kills it and what it started, not the template
            sock.close()
            for channel in own:
                channel.close()
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.close(output)
            return commands, events, Path(message["output"])
        for fd in fds:
            os.close(fd)
        _reply(sock, pid=pid)
