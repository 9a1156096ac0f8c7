"""Make one virtual environment holding exactly one torch (and numpy), with uv or pip.

uv is used by default: it is a dependency, and its wheel ships the binary
(``uv.find_uv_bin()``; else one on PATH or next to this Python). It installs from its shared package cache (uv's default, or
``$UV_CACHE_DIR``) by hardlinks, so a torch already downloaded costs seconds
and a few MB per environment instead of a full copy (``make bench-envs``).
uv reads none of pip's configuration, so pip's is passed on to it
(``pip_config``), and it takes the best version over all indexes as pip does.
With ``--installer pip``, without a uv that runs, or with a pip setting uv
cannot honour, pip makes the env and the reason is said in one line.
``SNAPSHOT_RUNNER_INSTALLER=uv|pip`` is the default of ``--installer``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from snapshot_runner.envs.pip_config import pip_settings, uv_options
from snapshot_runner.envs.torch_spec import TorchSpec
from snapshot_runner.redact import redact_url

INSTALLER_VAR = "SNAPSHOT_RUNNER_INSTALLER"


class InstallError(RuntimeError):
    """The environment could not be made: one line for the user."""


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


class Installer(StrEnum):
    UV = "uv"
    PIP = "pip"


def uv_binary() -> str | None:
    """The uv binary: the ``uv`` package's (a dependency), else one beside this Python or on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):  # uninstalled by hand, or a wheel without its binary
        beside = Path(sys.executable).parent / "uv"  # the venv's own, not on PATH when run as .venv/bin/...
        return str(beside) if beside.is_file() else shutil.which("uv")


def _uv_runs(uv: str) -> bool:
    try:
        return subprocess.run([uv, "--version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):  # another platform's binary, no exec permission
        return False


def uv_cache_dir() -> Path | None:
    """Where uv keeps its package cache (``$UV_CACHE_DIR`` or uv's default); None without a uv that runs."""
    uv = uv_binary()
    try:
        proc = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, timeout=60) if uv else None
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(proc.stdout.strip()) if proc and proc.returncode == 0 and proc.stdout.strip() else None


def choose_installer(requested: Installer | None = None) -> tuple[Installer, str | None]:
    """``uv`` or ``pip`` (``requested``, else ``$SNAPSHOT_RUNNER_INSTALLER``, else uv), and why pip when it is pip."""
    chosen = requested or os.environ.get(INSTALLER_VAR)
    if chosen in (Installer.UV, Installer.PIP):
        return Installer(chosen), None if chosen == Installer.UV else "--installer pip" if requested else f"{INSTALLER_VAR}=pip"
    uv = uv_binary()
    if not uv:
        return Installer.PIP, "uv is not installed (pip install uv)"
    if not _uv_runs(uv):
        return Installer.PIP, f"{uv} does not run here"
    untranslatable = uv_options(pip_settings()).untranslatable
    if untranslatable:
        return Installer.PIP, f"uv cannot honour pip's {', '.join(untranslatable)}"
    return Installer.UV, None


def _run(command: Sequence[str], log: TextIO | None, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run an installer step; its output goes to ``log`` (verbose) and is kept for errors."""
    environ = {**os.environ, **env} if env else None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=environ)
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
                # uv puts the why on the next line: "╰─▶ Because torch==9.9 was not found ..." (uv >= 0.10: "cause: ...")
                following = lines[index + 1].strip() if index + 1 < len(lines) else ""
                if following.startswith(("╰─▶", "cause: ")):
                    reason += ": " + following.lstrip("╰─▶ ").removeprefix("cause: ")
                conflict = _conflict(lines)
                return f"{reason} ({'; '.join(conflict)})" if conflict else reason
    nonblank = [line.strip() for line in lines if line.strip()]
    return nonblank[-1] if nonblank else "no output"


def _commands(installer: Installer, spec: TorchSpec, env_dir: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """The installer's command that makes the env, its install command (the
    packages go after it), and the variables they need."""
    python = str(env_python(env_dir))
    if installer == "uv":
        uv = uv_binary() or "uv"
        settings = pip_settings()
        if spec.index_url:  # as with pip, the command line's index replaces the configured one
            settings.pop("index-url", None)
        options = uv_options(settings)
        # pip takes the best version over every index; uv, by default, only the first index that has torch.
        install = [uv, "pip", "install", "--python", python, "--index-strategy", "unsafe-best-match", *options.args]
        return [uv, "venv", "--quiet", "--python", sys.executable, str(env_dir)], install, options.env
    return [sys.executable, "-m", "venv", str(env_dir)], [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"], {}


def installed_versions(env_dir: Path, names: Sequence[str]) -> dict[str, str | None]:
    """The versions of distributions installed in the environment (from their metadata: no import)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    proc = subprocess.run([str(env_python(env_dir)), "-c", code, *names], capture_output=True, text=True)
    if proc.returncode != 0:
        raise InstallError(f"cannot read the new environment {env_dir}: {failure_reason(proc.stderr.splitlines())}")
    versions: dict[str, str | None] = json.loads(proc.stdout)
    return versions


def installed_torch(env_dir: Path) -> str:
    """The torch version installed in the environment."""
    version = installed_versions(env_dir, ["torch"])["torch"]
    if version is None:
        raise InstallError(f"no torch in the new environment {env_dir}")
    return version


def _install_with(install: list[str], env: dict[str, str], spec: TorchSpec, env_dir: Path, torch_version: str, log: TextIO | None) -> dict[str, str | None]:
    """Install the --with entries with torch's ``install`` command and variables, one at
    a time (a failure names its entry), torch pinned by a constraint."""
    # Here, not at the top: this module's errors are caught where torch alone is installed (no packaging).
    from snapshot_runner.envs.with_packages import distribution_name, install_args, replaces_torch

    constraints = env_dir / "snapshot-runner-constraints.txt"
    constraints.write_text(f"torch=={torch_version}\n", encoding="utf-8")
    for entry in spec.with_:
        returncode, lines = _run([*install, "-c", str(constraints), *install_args(entry), *spec.installer_args()], log, env)
        if returncode != 0:
            reason = failure_reason(lines)
            if replaces_torch(reason):
                raise InstallError(f"--with {redact_url(entry)} would replace torch {torch_version}: {reason}")
            raise InstallError(f"--with {redact_url(entry)} cannot be installed: {reason}")
    names = [name for name in map(distribution_name, spec.with_) if name]
    return installed_versions(env_dir, names)


def make_torch_env(spec: TorchSpec, env_dir: Path, log: TextIO | None = None, installer: Installer | None = None) -> dict[str, Any]:
    """Make ``env_dir`` with exactly ``spec``'s torch and numpy, then its --with
    entries; what the cache records of it.

    ``log`` gets the installer's output as it runs (None: kept for errors only);
    ``installer`` is ``choose_installer()``'s unless given.
    """
    installer = installer or choose_installer()[0]
    make_env, install, env = _commands(installer, spec, env_dir)
    start = time.monotonic()
    for command in (make_env, [*install, spec.requirement, "numpy", *spec.installer_args()]):
        returncode, lines = _run(command, log, env)
        if returncode != 0:
            raise InstallError(f"{installer} could not install {spec.requirement}: {failure_reason(lines)}")
    installed = time.monotonic()
    # Imported here: `capture` without --torch runs where only torch is installed.
    from packaging.specifiers import SpecifierSet

    version = installed_torch(env_dir)
    # "==2.13.0" is met by "2.13.0+cpu"; anything else means an index gave another torch.
    if not SpecifierSet(f"=={spec.version}").contains(version, prereleases=True):
        raise InstallError(f"{installer} installed torch {version}, not {spec.requirement}")
    returncode, lines = _run([str(env_python(env_dir)), "-c", "import torch"], None)
    if returncode != 0:
        raise InstallError(f"torch {version} was installed but does not import: {failure_reason(lines)}")
    # The check's first `import torch` compiles torch's bytecode: on a busy machine most of the time.
    seconds = {"install": round(installed - start, 1), "check": round(time.monotonic() - installed, 1)}
    facts: dict[str, Any] = {"spec": spec.describe(), "torch_version": version, "installer": installer, "seconds": seconds}
    if spec.with_:
        facts["with"] = [redact_url(entry) for entry in spec.with_]
        facts["packages"] = _install_with(install, env, spec, env_dir, version, log)
        if installed_torch(env_dir) != version:  # the constraint should make this impossible
            raise InstallError(f"--with {' '.join(map(redact_url, spec.with_))} replaced torch {version}")
    return facts
