"""Which build each side of a comparison ran, said plainly where they differ:
the torch build variant (the PEP 440 local version: the reference ``2.13.0+cpu``,
registry builds ``+cu130``/``+cu132``) and the device. A drift between a CPU
build and a CUDA build may be the build's, not the version's."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from snapshot_runner.torch_version import VersionError, build_variant

# The goldens' ENVIRONMENT line: ``torch 2.13.0+cpu, cpu, python 3.11.7``.
_ENVIRONMENT_LINE = re.compile(r"^torch (?P<torch>\S+), (?P<device>[^,]+),")


@dataclasses.dataclass(frozen=True)
class Build:
    torch_version: str
    device: str

    @property
    def variant(self) -> str:
        """``cu130``; ``"none"`` for a version without a local part, ``"?"`` for one that does not parse."""
        try:
            return build_variant(self.torch_version) or "none"
        except VersionError:
            return "?"


def build_of(description: dict[str, Any]) -> Build | None:
    """The build a side's description names: a run's or capture's environment, or the goldens' ENVIRONMENT line."""
    env = description.get("environment")
    if isinstance(env, dict) and env.get("torch_version"):
        return Build(str(env["torch_version"]), str(env.get("device") or "?"))
    match = _ENVIRONMENT_LINE.match(description.get("environment_line") or "")
    return Build(match["torch"], match["device"].strip()) if match else None


def difference(before: Build | None, after: Build | None) -> str:
    """One plain line where the builds differ in variant or device; "" where they do not (or one is unknown)."""
    if before is None or after is None:
        return ""
    parts = []
    if before.variant != after.variant:
        parts.append(f"build variant {before.variant} → {after.variant} (torch {before.torch_version} → {after.torch_version})")
    if before.device != after.device:
        parts.append(f"device {before.device} → {after.device}")
    return ("Different builds: " + "; ".join(parts) + ": a change may be the build's, not the version's") if parts else ""
