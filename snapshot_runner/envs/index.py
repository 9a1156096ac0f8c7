"""Which torch builds the package index offers: bisect's candidates, ``newest``, nightly dates.

The index is asked through pip itself (``pip index versions torch``), run by
this Python with the same index options an environment would be made with:
pip then reads the user's own configuration (files, ``PIP_*`` variables:
extra indexes, find-links, certificates, credentials), and lists only builds
it could install here (this Python, this platform), which is what a bisect
can judge. Pre-releases and ``.devYYYYMMDD`` nightlies are asked for only
when wanted (``--pre``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence

from snapshot_runner.redact import redact_url
from snapshot_runner.torch_version import InvalidVersion, Version, order_versions, parse_version

NEWEST = "newest"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PackageIndexError(Exception):
    """The index could not answer (unreachable, no torch on it): one line."""


@functools.cache
def list_versions(installer_args: tuple[str, ...] = (), *, pre: bool = False) -> list[str]:
    """Every torch version the index offers for this Python and platform, oldest first
    (local tags dropped: ``2.13.0+cpu`` is ``2.13.0``). Asked once per process."""
    command = [sys.executable, "-m", "pip", "index", "versions", "torch", "--disable-pip-version-check", "--retries", "1", *installer_args]
    if pre:
        command.append("--pre")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise PackageIndexError("the package index did not answer within 300 s") from None
    # pip lists what the reachable indexes hold and only warns about the others:
    # a list missing one index's builds would make a bisect name a wrong version.
    unreachable = _unreachable(proc.stderr)
    found = re.search(r"^Available versions: (.*)$", proc.stdout, re.MULTILINE)
    versions = order_versions(v.strip() for v in found[1].split(",") if _is_version(v.strip())) if found else []
    if proc.returncode == 0 and versions and not unreachable:
        return versions
    where = " ".join(redact_url(a) for a in installer_args) or "pip's configured index"
    if unreachable:
        raise PackageIndexError(f"cannot reach the package index ({where}): {unreachable}")
    error = next((line.strip().removeprefix("ERROR: ") for line in proc.stderr.splitlines() if line.startswith("ERROR: ")), None)
    raise PackageIndexError(f"no torch on the package index ({where}): {error or 'pip index versions listed none'}")


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _unreachable(stderr: str) -> str | None:
    """Why pip could not read an index (connection, TLS, HTTP error), from its warnings."""
    for line in stderr.splitlines():
        reason = re.search(r"Could not fetch URL (\S+): (.*)|(Failed to establish a new connection: [^'\"]*)|(HTTP error \d+ while getting \S+)", line)
        if reason:
            text = f"{reason[1]}: {reason[2]}" if reason[1] else reason[3] or reason[4]
            return redact_url(text.rstrip(" -"))[:300]
    return None


def wants_pre(versions: Iterable[str]) -> bool:
    """A pre-release or nightly among ``versions``: then the index is asked for those too."""
    return any(parse_version(v).is_prerelease for v in versions)


def between(versions: Iterable[str], good: str, bad: str) -> list[str]:
    """The versions strictly between the ends, oldest first. Pre-releases
    (``rc``) and nightlies (``.dev``) only when an end is of that kind."""
    low, high = parse_version(good), parse_version(bad)
    dev = low.is_devrelease or high.is_devrelease
    pre = low.pre is not None or high.pre is not None
    inside = []
    for text in order_versions(versions):
        version = parse_version(text)
        if low < version < high and (dev or not version.is_devrelease) and (pre or version.pre is None):
            inside.append(text)
    return inside


def newest(installer_args: tuple[str, ...] = (), *, pre: bool = False) -> str:
    """The newest torch on the index (pre-releases and nightlies only with ``pre``)."""
    return list_versions(installer_args, pre=pre)[-1]  # list_versions never returns an empty list


def offered_between(installer_args: tuple[str, ...] = ()) -> Callable[[str, str], list[str]]:
    """Bisect's candidates from the index: the versions strictly between two ends."""
    return lambda good, bad: between(list_versions(installer_args, pre=wants_pre([good, bad])), good, bad)


def is_date(text: str) -> bool:
    return bool(_DATE.match(text))


def nightly_of(date: str, versions: Sequence[str]) -> str:
    """The ``.devYYYYMMDD`` build of ``date`` (``2026-11-01``) among ``versions``."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise PackageIndexError(f"not a date: {date!r} (expected YYYY-MM-DD)") from None
    stamp = int(day.strftime("%Y%m%d"))
    builds = [v for v in versions if parse_version(v).dev == stamp]
    if builds:
        return order_versions(builds)[-1]
    nightlies = [v for v in versions if parse_version(v).is_devrelease]
    hint = f"nightlies there: {nightlies[0]} ... {nightlies[-1]}" if nightlies else "it has no nightlies (--index-url a nightly index?)"
    raise PackageIndexError(f"no torch nightly of {date} on the package index; {hint}")
