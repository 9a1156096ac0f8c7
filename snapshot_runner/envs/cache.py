"""The cache of torch environments that ``--torch SPEC`` makes and reuses.

One directory per key (``TorchSpec.key``) under the cache root
(``--envs-dir``, else ``$SNAPSHOT_RUNNER_ENVS``, else
``$XDG_CACHE_HOME/snapshot-runner/envs``, else ``~/.cache/snapshot-runner/envs``).

An environment counts only once its marker file is written, last, after torch
imported in it; a directory without one is half-made (an install that failed or
was killed) and is removed before it is made again, never used. A lock file
per key orders the processes: making or removing holds it exclusively, using
holds it shared, so concurrent makers of one env build it once and ``prune``
never removes an env a capture is running in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from snapshot_runner.envs.disk import Scan, Usage, scan, usage
from snapshot_runner.envs.installer import Installer, choose_installer, env_python, make_torch_env
from snapshot_runner.envs.torch_spec import TorchSpec
from snapshot_runner.redact import redact

ENVS_VAR = "SNAPSHOT_RUNNER_ENVS"
MARKER = "snapshot-runner-env.json"
LAST_USED = "snapshot-runner-last-used"
LOCKS = ".locks"

Build = Callable[[Path], dict[str, Any]]  # makes the env in the directory; returns facts for the marker


def default_envs_dir() -> Path:
    if os.environ.get(ENVS_VAR):
        return Path(os.environ[ENVS_VAR])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "snapshot-runner" / "envs"


@dataclasses.dataclass(frozen=True)
class CachedEnv:
    path: Path
    info: dict[str, Any] | None  # the marker; None while half-made

    @property
    def key(self) -> str:
        return self.path.name

    @property
    def complete(self) -> bool:
        return self.info is not None

    @property
    def python(self) -> Path:
        return env_python(self.path)

    @property
    def last_used(self) -> float:
        for candidate in (self.path / LAST_USED, self.path / MARKER, self.path):
            with contextlib.suppress(OSError):
                return candidate.stat().st_mtime
        return 0.0

    def size(self) -> int:
        """Bytes on disk, hardlinked files once."""
        return usage([scan(self.path)]).on_disk


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class EnvCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_envs_dir()

    def envs(self) -> list[CachedEnv]:
        """Every env directory, complete or half-made, most recently used first."""
        if not self.root.is_dir():
            return []
        found = [CachedEnv(p, _read_marker(p)) for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return sorted(found, key=lambda env: env.last_used, reverse=True)

    @contextlib.contextmanager
    def _lock_file(self, key: str) -> Iterator[int]:
        locks = self.root / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            yield fd
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _acquire(fd: int, mode: int, key: str, log: TextIO | None) -> None:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if log:
                print(f"waiting for another snapshot-runner with environment {key} ...", file=log)
            fcntl.flock(fd, mode)

    @contextlib.contextmanager
    def use_env(self, key: str, build: Build, log: TextIO | None = None) -> Iterator[Path]:
        """The python of env ``key``, made by ``build`` unless a complete one is cached.

        Inside the block the env is locked shared: other captures may use it,
        prune and rebuild wait.
        """
        env_dir = self.root / key
        with self._lock_file(key) as fd:
            self._acquire(fd, fcntl.LOCK_SH, key, log)
            if _read_marker(env_dir) is None:
                # Not atomic (flock drops, then takes): another maker may have
                # finished meanwhile, so look again once exclusive.
                self._acquire(fd, fcntl.LOCK_EX, key, log)
                if _read_marker(env_dir) is None:
                    self._make(env_dir, build, log)
                fcntl.flock(fd, fcntl.LOCK_SH)
            (env_dir / LAST_USED).touch()
            yield env_python(env_dir)

    def _make(self, env_dir: Path, build: Build, log: TextIO | None) -> None:
        if env_dir.exists():  # half-made by a failed or killed run: start over
            shutil.rmtree(env_dir)
        if log:
            print(f"making environment {env_dir.name} in {self.root} ...", file=log)
        start = time.monotonic()
        try:
            facts = build(env_dir)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        marker = {
            **facts,
            "python": platform.python_version(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        # An installer may keep an entry's URL (credentials and all) in the env:
        # only its owner reads it. The marker is redacted and private too.
        env_dir.chmod(0o700)
        # Written whole, then renamed into place: the env counts from this instant.
        partial = env_dir / f"{MARKER}.partial"
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as file:
            file.write(redact(json.dumps(marker, indent=2)) + "\n")
        os.replace(partial, env_dir / MARKER)
        if log:
            print(f"made environment {env_dir.name} in {time.monotonic() - start:.0f} s", file=log)

    @contextlib.contextmanager
    def use(self, spec: TorchSpec, log: TextIO | None = None, verbose: bool = False, installer: Installer | None = None) -> Iterator[Path]:
        """The python of a cached env with exactly ``spec``'s torch, made if needed (with ``installer``, else uv where it runs)."""

        def build(env_dir: Path) -> dict[str, Any]:
            installer_used, why_pip = choose_installer(installer)
            if why_pip and log:
                print(f"installing with pip, a full copy of torch per environment: {why_pip}", file=log)
            return make_torch_env(spec, env_dir, log if verbose else None, installer_used)

        with self.use_env(spec.key(), build, log) as python:
            yield python

    def usage(self) -> Usage:
        """Disk used by every environment together, hardlinked files once."""
        return usage(scan(env.path) for env in self.envs())

    def prune(self, keep: int | None = None, max_size: int | None = None, older_than: float | None = None, keys: Sequence[str] = ()) -> Pruned:
        """Remove half-made envs and those named in ``keys``, then complete ones least
        recently used first: all but the ``keep`` most recent, those unused for
        ``older_than`` seconds, and more until all left take at most ``max_size``
        bytes. An env in use is kept. Raises ``KeyError`` for a key not in the cache."""
        envs = self.envs()
        unknown = sorted(set(keys) - {env.key for env in envs})
        if unknown:
            raise KeyError(", ".join(unknown))
        scans = {env.key: scan(env.path) for env in envs}
        before = usage(scans.values())
        complete = [env for env in envs if env.complete]
        doomed = [env for env in envs if not env.complete or env.key in keys]
        if keep is not None:
            doomed += [env for env in complete[keep:] if env not in doomed]
        if older_than is not None:
            doomed += [env for env in complete[:keep] if env.last_used < time.time() - older_than and env not in doomed]
        pruned = Pruned()
        for env in doomed:
            self._remove(env, scans, pruned)
        for env in reversed(complete):  # least recently used first
            if max_size is None or usage(scans.values()).on_disk <= max_size:
                break
            if env.key in scans and env not in pruned.busy:
                self._remove(env, scans, pruned)
        after = self.usage()
        # Files uv's package cache also links stay on disk: not freed.
        pruned.freed = (before.on_disk - before.shared) - (after.on_disk - after.shared)
        return pruned

    def _remove(self, env: CachedEnv, scans: dict[str, Scan], pruned: Pruned) -> None:
        with self._lock_file(env.key) as fd:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pruned.busy.append(env)
                return
            shutil.rmtree(env.path)
            pruned.removed.append((env, usage([scans.pop(env.key)]).on_disk))


@dataclasses.dataclass
class Pruned:
    removed: list[tuple[CachedEnv, int]] = dataclasses.field(default_factory=list)  # with each one's size on disk
    busy: list[CachedEnv] = dataclasses.field(default_factory=list)  # in use: kept
    freed: int = 0  # less than the sizes removed where uv's cache (or a kept env) still links their files
