"""Supervised capture: cases run in worker processes; no case can end, hang or
silence the run.

``run_capture`` starts up to ``jobs`` workers (``host.WorkerProcess``) under
the chosen interpreter and hands each one case at a time. A worker that dies
(a signal, ``os._exit``) or a case that runs past its timeout makes *that*
case an ``error`` with one line saying what happened; a fresh worker takes
over and the remaining cases run. A case module whose import kills a worker
becomes a load error and is left out of the workers started after it. Results
reach ``on_result`` as they finish; the report lists them in selection order.

With ``fork`` (the default), a fork template (``envs/template.py``) loads the
cases and warms up once, and every worker, a replacement too, is forked from
it; where it cannot fork, the workers are spawned as without ``fork``. The
queue runs in the order ``order`` gives (e.g. longest first), else in
selection order.
"""

from __future__ import annotations

import collections
import dataclasses
import select
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from snapshot_runner.capture.discovery import LoadError
from snapshot_runner.capture.results import CaptureReport, CaseResult, CaseStatus
from snapshot_runner.capture.worker import CaptureRequest, CaptureStart, OnResult, OnStart, RequestError, output_tail
from snapshot_runner.envs.host import WorkerError, WorkerProcess
from snapshot_runner.envs.template import Template

__all__ = ["DEFAULT_TIMEOUT", "CaptureRequest", "CaptureStart", "RequestError", "WorkerError", "run_capture"]

DEFAULT_TIMEOUT = 600.0
# The selected cases in the order the workers take them.
Order = Callable[[Sequence[str]], list[str]]


@dataclasses.dataclass
class _Slot:
    """One of the ``jobs`` places a worker runs in; a dead worker's slot gets a fresh one."""

    index: int
    worker: WorkerProcess
    loaded: bool = False
    importing: tuple[str, str, str | None] | None = None  # (path, module, torch) being imported
    case: str | None = None
    deadline: float = 0.0
    timeout: float = 0.0


class Supervisor:
    def __init__(
        self,
        python: Path,
        request: CaptureRequest,
        workdir: Path,
        *,
        jobs: int,
        timeout: float,
        fork: bool,
        order: Order | None,
        on_start: OnStart | None,
        on_result: OnResult | None,
        log: TextIO | None,
    ) -> None:
        self.python = python
        self.request = request
        self.workdir = workdir
        self.jobs = jobs
        self.timeout = timeout
        self.on_start = on_start
        self.on_result = on_result
        self.log = log
        self.fork = fork
        self.order = order
        self.template: Template | None = None
        self.template_slot: _Slot | None = None  # the template's events (loading, warm-up) and its end
        self.start: CaptureStart | None = None
        self.crash_load_errors: list[str] = []
        self.pending: collections.deque[str] = collections.deque()
        self.results: dict[str, CaseResult] = {}
        self.slots: list[_Slot] = []

    # --- workers ---------------------------------------------------------------

    def _spawn(self, index: int) -> _Slot:
        output = self.workdir / f"worker-{index}.out"
        forked = self.template.fork(output) if self.template is not None else None
        worker = forked or WorkerProcess.start(self.python, self.request, output)
        slot = _Slot(index, worker)
        if index < len(self.slots):
            self.slots[index] = slot
        else:
            self.slots.append(slot)
        return slot

    def _replace(self, slot: _Slot) -> None:
        """A fresh worker in the slot, if there is work left for it."""
        slot.worker.kill()
        if self.pending or self.start is None:
            self._spawn(slot.index)
        else:
            self.slots.remove(slot)

    def _forward_output(self, slot: _Slot) -> None:
        """Under --debug, what the worker printed (tracebacks, warnings) goes to the log."""
        if self.log is not None:
            text = slot.worker.output.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                self.log.write(text if text.endswith("\n") else text + "\n")

    # --- events ------------------------------------------------------------------

    def _on_event(self, slot: _Slot, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "loading":
            slot.importing = (str(event["path"]), str(event["module"]), event.get("torch"))
        elif kind == "error":
            raise RequestError(str(event["message"]))
        elif kind == "start":
            self._loaded(slot, CaptureStart.from_json(event))
        elif kind == "template" and slot is self.template_slot:
            self._template_ready(event.get("reason"))
        elif kind == "result":
            result = CaseResult.from_json(event["result"])
            if result.name != slot.case:
                raise WorkerError(f"the worker in {self.python} answered for {result.name!r}, not {slot.case!r}")
            self._forward_output(slot)
            slot.case = None
            self._finished(result)

    def _loaded(self, slot: _Slot, start: CaptureStart) -> None:
        slot.loaded, slot.importing = True, None
        self._forward_output(slot)
        if self.start is None:
            load_errors = [*self.crash_load_errors, *start.load_errors]
            self.start = dataclasses.replace(start, load_errors=load_errors)
            self.pending.extend(self.order(start.cases) if self.order else start.cases)
            if self.on_start:
                self.on_start(self.start)
            if slot is not self.template_slot:
                self._spawn_workers(first=1)
        elif start.cases != self.start.cases:
            raise WorkerError(f"the workers in {self.python} found different cases: is a case module nondeterministic?")

    # --- the template ----------------------------------------------------------------

    def _start_template(self) -> None:
        self.template = Template.start(self.python, self.request, self.workdir / "template.out")
        self.template_slot = _Slot(-1, self.template.process)

    def _template_ready(self, reason: str | None) -> None:
        """Warmed up: fork the workers (spawn them, if it said why it cannot fork)."""
        assert self.template is not None and self.start is not None
        if reason is None:
            self.template.ready = True
        else:
            self._drop_template(f"fork template: {reason}; spawning the workers")
        self._spawn_workers(first=0)

    def _spawn_workers(self, first: int) -> None:
        """Workers ``first`` up to ``jobs`` (no more than there are cases)."""
        assert self.start is not None
        for index in range(first, min(self.jobs, len(self.start.cases))):
            self._spawn(index)

    def _drop_template(self, why: str) -> None:
        if self.template is not None:
            if self.log is not None and why:
                self.log.write(why + "\n")
            self.template.close()
        self.template = self.template_slot = None

    def _template_died(self, slot: _Slot) -> None:
        """Before loading, as a worker's death would be; after, workers are spawned from now on."""
        if slot.loaded:
            self._forward_output(slot)
            ready = self.template is not None and self.template.ready
            self._drop_template(f"fork template {slot.worker.died()}; spawning the workers")
            if not ready:  # it died warming up: nobody started the workers
                self._spawn_workers(first=0)
        elif slot.importing is not None:
            self._import_killed(slot)
            self._drop_template("")
            self._start_template()
        else:
            slot.worker.check_started()

    def _finished(self, result: CaseResult) -> None:
        self.results[result.name] = result
        if self.on_result:
            self.on_result(result)

    def _died(self, slot: _Slot) -> None:
        worker = slot.worker
        if slot.case is not None:
            output = output_tail(worker.output)
            self._forward_output(slot)
            self._finished(CaseResult(name=slot.case, status=CaseStatus.ERROR, error=f"worker {worker.died()} while running this case", output=output))
        elif not slot.loaded and slot.importing is not None:
            self._import_killed(slot)
        elif not slot.loaded:
            worker.check_started()
        self._replace(slot)

    def _import_killed(self, slot: _Slot) -> None:
        """A case module killed the worker importing it: a load error, left out from now on."""
        assert slot.importing is not None
        path, module, torch_version = slot.importing
        error = LoadError(module, path, line=0, message=f"worker {slot.worker.died()} while importing it", traceback="", torch_version=torch_version)
        self.crash_load_errors.append(error.one_line())
        self.request = dataclasses.replace(self.request, exclude=(*self.request.exclude, path))

    def _timed_out(self, slot: _Slot) -> None:
        assert slot.case is not None
        slot.worker.kill()
        output = output_tail(slot.worker.output)
        self._forward_output(slot)
        self._finished(CaseResult(name=slot.case, status=CaseStatus.ERROR, error=f"timed out after {slot.timeout:g} s", output=output))
        self._replace(slot)

    # --- the loop ------------------------------------------------------------------

    def _assign(self) -> None:
        assert self.start is not None
        for slot in self.slots:
            if slot.loaded and slot.case is None and self.pending:
                name = self.pending.popleft()
                slot.case = name
                slot.timeout = self.start.timeouts.get(name, self.timeout)
                slot.deadline = time.monotonic() + slot.timeout
                slot.worker.send({"op": "run", "name": name})

    def _wait(self) -> None:
        busy = [s.deadline for s in self.slots if s.case is not None]
        wait = max(0.0, min(busy) - time.monotonic()) if busy else None
        watched = [*self.slots, *([self.template_slot] if self.template_slot else [])]
        readable, _, _ = select.select([s.worker for s in watched], [], [], wait)
        for worker in readable:
            slot = next(s for s in watched if s.worker is worker)
            for event in worker.read():
                self._on_event(slot, event)
            if worker.closed and slot is self.template_slot:
                self._template_died(slot)
            elif worker.closed:
                self._died(slot)
        now = time.monotonic()
        for slot in list(self.slots):
            if slot.case is not None and now >= slot.deadline:
                self._timed_out(slot)

    def run(self) -> CaptureReport:
        try:
            if self.fork and sys.platform == "linux":
                self._start_template()
            else:
                self._spawn(0)
            while self.start is None or len(self.results) < len(self.start.cases):
                if self.start is not None:
                    self._assign()
                self._wait()
        finally:  # done, interrupted or failed: no worker outlives the run
            for slot in self.slots:
                slot.worker.kill()
            self._drop_template("")
        return CaptureReport(
            environment=self.start.environment,
            cases=[self.results[name] for name in self.start.cases],
            normalize=self.request.level,
            load_errors=self.start.load_errors,
            user_rules=self.start.user_rules,
        )


def run_capture(
    python: Path | None,
    request: CaptureRequest,
    *,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    fork: bool = True,
    order: Order | None = None,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
    log: TextIO | None = None,
) -> CaptureReport:
    """Capture what ``request`` selects in ``jobs`` supervised workers under
    ``python`` (None: this interpreter), forked from a template unless ``fork``
    is False, taking the cases in the order ``order`` gives them.

    ``on_start`` gets the environment and the selected cases before the first
    case runs, ``on_result`` each case as it finishes (for progress, or to store
    it at once). A case may run ``timeout`` seconds unless it sets its own.
    Under ``request.debug``, ``log`` gets tracebacks and the workers' own output
    (torch warnings, prints). Raises ``RequestError`` (no torch there, no cases
    directory, unknown case) or ``WorkerError`` (not an interpreter, a worker
    that died before loading the cases), each with a one-line message.
    """
    with tempfile.TemporaryDirectory(prefix="snapshot-runner-") as tmp:
        supervisor = Supervisor(
            python or Path(sys.executable),
            request,
            Path(tmp),
            jobs=max(1, jobs),
            timeout=timeout,
            fork=fork,
            order=order,
            on_start=on_start,
            on_result=on_result,
            log=(log or sys.stderr) if request.debug else None,
        )
        return supervisor.run()
