"""``StrEnum`` for the worker side, which runs on Python 3.9 too (``enum.StrEnum`` is 3.11+)."""

from __future__ import annotations

import enum


class StrEnum(str, enum.Enum):
    """Members are their values: they compare, hash, print and format as plain strings."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
