"""Disk used by environments, each file once however many hardlinks it has.

uv links torch's files from its package cache into every environment that
holds that torch, so summing file sizes would count one torch once per
environment (and ``du`` of one environment shows the whole torch). Sizes here
are blocks on disk per inode; an inode also linked from outside the scanned
environments (uv's cache) is counted, and reported apart as shared.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path

Inode = tuple[int, int]  # (device, inode)


@dataclasses.dataclass(frozen=True)
class Scan:
    """One directory tree: each inode's bytes on disk, its link count, the links found in the tree."""

    files: dict[Inode, tuple[int, int, int]]


@dataclasses.dataclass(frozen=True)
class Usage:
    on_disk: int  # every inode once
    shared: int  # of which also linked from elsewhere (uv's package cache)


def scan(path: Path) -> Scan:
    files: dict[Inode, tuple[int, int, int]] = {}
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:  # removed meanwhile
                continue
            key = (st.st_dev, st.st_ino)
            found = files[key][2] + 1 if key in files else 1
            files[key] = (st.st_blocks * 512, st.st_nlink, found)
    return Scan(files)


def usage(scans: Iterable[Scan]) -> Usage:
    merged: dict[Inode, tuple[int, int, int]] = {}
    for one in scans:
        for key, (size, links, found) in one.files.items():
            merged[key] = (size, links, found + (merged[key][2] if key in merged else 0))
    on_disk = sum(size for size, _links, _found in merged.values())
    shared = sum(size for size, links, found in merged.values() if links > found)
    return Usage(on_disk, shared)


_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?)B?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``300M``, ``20G``, ``1.5GB``, ``500MB``, ``1048576`` -> bytes (powers of 1000, as ``envs list`` prints)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 20G)")
    return int(float(match["number"]) * 1000 ** " KMGT".index(match["unit"].upper() or " "))
