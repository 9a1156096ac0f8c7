"""Facts about the interpreter and torch build that produced a capture."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
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
    gpu = gpu_name()
    return f"cuda:{gpu}" if gpu else "cpu"


def describe() -> dict[str, Any]:
    import torch

    return {
        "torch_version": torch.__version__,
        "torch_git_sha": getattr(torch.version, "git_version", None),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": f"{platform.system()}-{platform.machine()}",
        "device": device_name(),
        "cuda": torch.version.cuda,
        "triton": triton_version(),
        "gpu_name": gpu_name(),
    }


def golden_key(env: dict[str, Any]) -> str:
    """The facts a golden depends on, as one line: torch, device, python."""
    return f"torch {env.get('torch_version')}, {env.get('device')}, python {env.get('python')}"
