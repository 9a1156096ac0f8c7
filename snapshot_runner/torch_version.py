"""Torch versions, PEP 440: the one place that parses, orders and compares them.

Nightlies ``2.10.0.dev20251015`` sort before ``2.10.0``; a local part
(``+cu130``) is not part of the version: ``2.14.1+cu130`` is ``2.14.1``. It is
the build variant (``build_variant``): the reference torch is ``2.13.0+cpu``,
registry builds are ``+cu130``/``+cu132``.
"""

from __future__ import annotations

from collections.abc import Iterable

try:
    from packaging.version import InvalidVersion, Version
except ImportError:  # a torch-only worker environment: torch vendors packaging
    from torch._vendor.packaging.version import InvalidVersion, Version  # type: ignore[assignment]  # the same classes, vendored

__all__ = ["InvalidVersion", "Version", "VersionError", "base_version", "build_variant", "is_torch_version", "order_versions", "parse_version", "same_version"]


class VersionError(ValueError):
    """Not a torch version: one line for the user."""


def parse_version(text: str) -> Version:
    """``2.14.1``, ``torch==2.14.1``, ``2.14.1+cu130`` -> Version('2.14.1')."""
    try:
        return Version(text.removeprefix("torch==").split("+")[0])
    except InvalidVersion:
        raise VersionError(f"not a torch version: {text!r} (expected e.g. 2.14.1 or 2.10.0.dev20251015)") from None


def is_torch_version(text: str) -> bool:
    """Whether ``parse_version`` reads ``text`` as a torch version."""
    try:
        parse_version(text)
    except VersionError:
        return False
    return True


def build_variant(text: str) -> str:
    """The PEP 440 local version, the build variant: ``2.14.1+cu130`` -> ``cu130``,
    ``torch==2.13.0+cpu`` -> ``cpu``; ``""`` where there is none (``2.14.1``)."""
    try:
        return Version(text.removeprefix("torch==")).local or ""
    except InvalidVersion:
        raise VersionError(f"not a torch version: {text!r} (expected e.g. 2.14.1+cu130)") from None


def base_version(text: str) -> str:
    """The canonical spelling: ``torch==2.14`` -> ``2.14``, ``2.14.1+cu130`` -> ``2.14.1``."""
    return str(parse_version(text))


def same_version(a: str, b: str) -> bool:
    """``2.14`` and ``2.14.0+cu130`` are the same release."""
    return parse_version(a) == parse_version(b)


def order_versions(texts: Iterable[str]) -> list[str]:
    """Distinct versions, oldest first (``2.14`` and ``2.14.0`` are one)."""
    distinct: dict[Version, str] = {}
    for version in map(parse_version, texts):
        distinct.setdefault(version, str(version))
    return [distinct[v] for v in sorted(distinct)]
