"""Facts about the interpreter and torch build that produced a capture."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def triton_version() -> str | None:
    try:
        return importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        return None


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def device_name() -> str:
    return _device(gpu_name())


def _device(gpu: str | None) -> str:
    return f"cuda:{gpu}" if gpu else "cpu"


class UntrackedPackage(LookupError):
    """A distribution asked to be tracked is not installed here: one line."""


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """The installed versions of ``names`` (the project's ``track`` and ``with`` packages)."""
    import torch

    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise UntrackedPackage(f"track: {name} is not installed under torch {torch.__version__} ({sys.executable}){_hint(name)}") from None
    return dict(sorted(versions.items()))


def _hint(name: str) -> str:
    """Users write import names; ``track`` and ``with`` take distribution names."""
    # packages_distributions is Python 3.10+; the worker side runs on 3.9 too.
    by_import: Mapping[str, list[str]] = getattr(importlib.metadata, "packages_distributions", dict)()
    providers = by_import.get(name.replace("-", "_"), [])
    mean = f"; did you mean {' or '.join(sorted(set(providers)))} (it provides `import {name}`; track takes distribution names)?" if providers else ""
    return f"{mean}; the environments the tool makes get a package with `with` in [tool.snapshot-runner] or --with REQ"


def describe(track: Sequence[str] = (), *, gpu_name_of: Callable[[], str | None] = gpu_name) -> dict[str, Any]:
    """The facts of this interpreter; ``packages`` (the versions of ``track``) only when asked.
    ``gpu_name_of`` finds the GPU (the fork template asks a child: CUDA must not start in it)."""
    import torch

    gpu = gpu_name_of()

    return {
        "torch_version": torch.__version__,
        "torch_git_sha": getattr(torch.version, "git_version", None),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": f"{platform.system()}-{platform.machine()}",
        "device": _device(gpu),
        "cuda": torch.version.cuda,
        "triton": triton_version(),
        "gpu_name": gpu,
        **({"packages": package_versions(track)} if track else {}),
    }


def golden_key(env: dict[str, Any]) -> str:
    """The facts a golden depends on, as one line: torch, device, python, and the tracked packages."""
    packages = "".join(f", {name} {version}" for name, version in (env.get("packages") or {}).items())
    return f"torch {env.get('torch_version')}, {env.get('device')}, python {env.get('python')}{packages}"
