"""Capture under a chosen torch: this interpreter, another one (``--python``), or a cached environment (``--torch``).

The one library entry point every command that captures goes through
(``capture``, ``show``, ``record``, ``drift``, ``bisect``, the nightly job).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from snapshot_runner.capture.results import CaptureReport
from snapshot_runner.capture.worker import CaptureRequest, OnResult, OnStart
from snapshot_runner.envs.installer import Installer
from snapshot_runner.envs.supervisor import DEFAULT_TIMEOUT, Order, run_capture
from snapshot_runner.envs.torch_spec import TorchSpec


@dataclasses.dataclass(frozen=True)
class Target:
    """Which torch runs a capture: ``python`` (an interpreter), ``torch`` (a
    spec for the environment cache under ``envs_dir``), or neither (this process)."""

    python: Path | None = None
    torch: TorchSpec | None = None
    envs_dir: Path | None = None
    installer: Installer | None = None  # None: uv where it runs

    def __post_init__(self) -> None:
        if self.python is not None and self.torch is not None:
            raise ValueError("a target is an interpreter or a torch spec, not both")

    def with_torch(self, spec: TorchSpec) -> Target:
        """The same cache, another torch (bisect's probes)."""
        return Target(torch=spec, envs_dir=self.envs_dir, installer=self.installer)

    def tracked(self, track: Sequence[str]) -> tuple[str, ...]:
        """``track`` and the distributions of the ``--with`` entries this target installs."""
        if self.torch is None or not self.torch.with_:
            return tuple(track)  # and no import of packaging: a torch-only interpreter may run this
        from snapshot_runner.envs.with_packages import distribution_name

        installed = (distribution_name(entry) for entry in self.torch.with_)
        return tuple(dict.fromkeys([*track, *(name for name in installed if name)]))


@contextlib.contextmanager
def target_python(target: Target, log: TextIO | None = None, *, verbose: bool = False) -> Iterator[Path | None]:
    """The interpreter of ``target`` (None: this process), its environment held
    (made first if needed) for the block. Raises ``SpecError`` / ``InstallError``."""
    if target.torch is None:
        yield target.python
        return
    from snapshot_runner.envs.cache import EnvCache

    with EnvCache(target.envs_dir).use(target.torch, log=log, verbose=verbose, installer=target.installer) as python:
        yield python


def capture(
    target: Target,
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
    """Capture what ``request`` selects under ``target`` in ``jobs`` supervised
    workers (see ``supervisor.run_capture`` for ``timeout``, ``fork``, ``order``
    and the callbacks).

    Raises ``SpecError``/``InstallError`` (no environment) and
    ``RequestError``/``WorkerError`` (no capture), each with a one-line message.
    """
    request = dataclasses.replace(request, track=target.tracked(request.track))
    with target_python(target, log, verbose=request.debug) as python:
        return run_capture(python, request, jobs=jobs, timeout=timeout, fork=fork, order=order, on_start=on_start, on_result=on_result, log=log)
