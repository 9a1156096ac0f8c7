"""Make one virtual environment holding exactly one torch (and numpy), with uv or pip.

uv is used when it is on PATH and the machine has no pip configuration: uv
does not read pip's (index URLs, find-links, constraints), and an install
that silently ignored it would not be the torch this machine means.
``SNAPSHOT_RUNNER_INSTALLER=uv|pip`` overrides the choice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from snapshot_runner.envs.torch_spec import TorchSpec

INSTALLER_VAR = "SNAPSHOT_RUNNER_INSTALLER"


class InstallError(RuntimeError):
    """The environment could not be made: one line for the user."""


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def pip_configured() -> bool:
    """Whether pip here has any configuration (files or PIP_* variables)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    # PIP_CONFIG_FILE=/dev/null is pip's way of saying "read no configuration"; it lists itself.
    entries = [line for line in proc.stdout.splitlines() if line.strip() and line.strip() != f":env:.config-file='{os.devnull}'"]
    return proc.returncode == 0 and bool(entries)


def choose_installer() -> str:
    chosen = os.environ.get(INSTALLER_VAR)
    if chosen in ("uv", "pip"):
        return chosen
    return "uv" if shutil.which("uv") and not pip_configured() else "pip"


def _run(command: Sequence[str], log: TextIO | None) -> tuple[int, list[str]]:
    """Run an installer step; its output goes to ``log`` (verbose) and is kept for errors."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if log:
            log.write(line)
    return proc.wait(), lines


def _conflict(lines: Sequence[str]) -> list[str]:
    """pip's "The conflict is caused by:" block, e.g. a machine constraint torch<=2.14.1."""
    stripped = [line.strip() for line in lines]
    if "The conflict is caused by:" not in stripped:
        return []
    block = stripped[stripped.index("The conflict is caused by:") + 1 :]
    return block[: block.index("")] if "" in block else block


def failure_reason(lines: Sequence[str]) -> str:
    """The installer's own reason, as one line: pip's first ``ERROR:`` (with the
    conflict that caused it), uv's ``×``/``error:`` line (with its cause)."""
    for index, line in enumerate(lines):
        text = line.strip()
        for prefix in ("ERROR: ", "error: ", "× "):
            if text.startswith(prefix):
                reason = text[len(prefix) :].rstrip(":.")
                # uv puts the why on the next line: "╰─▶ Because torch==9.9 was not found ..."
                # on a terminal, "cause: Because there is no version of torch==9.9 ..." in a pipe.
                following = lines[index + 1].strip() if index + 1 < len(lines) else ""
                for marker in ("╰─▶", "cause:"):
                    if following.startswith(marker):
                        reason += ": " + following[len(marker) :].strip()
                conflict = _conflict(lines)
                return f"{reason} ({'; '.join(conflict)})" if conflict else reason
    nonblank = [line.strip() for line in lines if line.strip()]
    return nonblank[-1] if nonblank else "no output"


def _commands(installer: str, spec: TorchSpec, env_dir: Path) -> list[list[str]]:
    python = str(env_python(env_dir))
    packages = [spec.requirement, "numpy", *spec.installer_args()]
    if installer == "uv":
        return [
            ["uv", "venv", "--quiet", "--python", sys.executable, str(env_dir)],
            ["uv", "pip", "install", "--python", python, *packages],
        ]
    return [
        [sys.executable, "-m", "venv", str(env_dir)],
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *packages],
    ]


def installed_torch(env_dir: Path) -> str:
    """The torch version installed in the environment (from its metadata: no import)."""
    code = "import importlib.metadata as m; print(m.version('torch'))"
    proc = subprocess.run([str(env_python(env_dir)), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InstallError(f"no torch in the new environment {env_dir}: {failure_reason(proc.stderr.splitlines())}")
    return proc.stdout.strip()


def make_torch_env(spec: TorchSpec, env_dir: Path, log: TextIO | None = None) -> dict[str, str]:
    """Make ``env_dir`` with exactly ``spec``'s torch and numpy; what the cache records of it.

    ``log`` gets the installer's output as it runs (None: kept for errors only).
    """
    installer = choose_installer()
    for command in _commands(installer, spec, env_dir):
        returncode, lines = _run(command, log)
        if returncode != 0:
            raise InstallError(f"{installer} could not install {spec.requirement}: {failure_reason(lines)}")
    # Imported here: `capture` without --torch runs where only torch is installed.
    from packaging.specifiers import SpecifierSet

    version = installed_torch(env_dir)
    # "==2.13.0" is met by "2.13.0+cpu"; anything else means an index gave another torch.
    if not SpecifierSet(f"=={spec.version}").contains(version, prereleases=True):
        raise InstallError(f"{installer} installed torch {version}, not {spec.requirement}")
    returncode, lines = _run([str(env_python(env_dir)), "-c", "import torch"], None)
    if returncode != 0:
        raise InstallError(f"torch {version} was installed but does not import: {failure_reason(lines)}")
    return {"spec": spec.describe(), "torch_version": version, "installer": installer}
