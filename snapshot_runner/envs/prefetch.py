"""Make the environments a bisect may need next while the current version is captured."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from snapshot_runner.envs.cache import EnvCache
from snapshot_runner.envs.installer import Installer, InstallError
from snapshot_runner.envs.torch_spec import SpecError, TorchSpec

Prefetch = Callable[[list[str]], None]


@contextlib.contextmanager
def prefetcher(cache: EnvCache, spec_of: Callable[[str], TorchSpec], log: TextIO, installer: Installer | None = None) -> Iterator[Prefetch | None]:
    """A function that queues versions for a background install (one at a
    time, each once), or None where there is no free core for it."""
    if (os.cpu_count() or 1) < 2:
        print("note: --prefetch needs a free core; this machine has one, so environments are made when needed", file=log)
        yield None
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
    asked: set[str] = set()

    def make(version: str) -> None:
        # A failure here is not a verdict: the probe tries again and skips with its reason.
        with contextlib.suppress(SpecError, InstallError), cache.use(spec_of(version), installer=installer):
            pass

    def prefetch(versions: list[str]) -> None:
        for version in versions:
            if version not in asked:
                asked.add(version)
                pool.submit(make, version)

    try:
        yield prefetch
    finally:
        # An install already running finishes (its env stays cached); queued ones are dropped.
        pool.shutdown(wait=True, cancel_futures=True)
