"""Query parameters, checked: anything out of its range is a 400 with one line."""

from __future__ import annotations

import enum
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request

E = TypeVar("E", bound=enum.Enum)

# Longer values are no label, case name or REF any run has.
MAX_TEXT = 400


def text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and len(value) > MAX_TEXT:
        raise HTTPException(400, f"{name}: longer than {MAX_TEXT} characters")
    return value or None


def required(request: Request, name: str) -> str:
    value = text(request, name)
    if value is None:
        raise HTTPException(400, f"missing parameter {name}")
    return value


def integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise HTTPException(400, f"{name}: expected a whole number from {low} to {high}, got {value[:40]!r}")
    return int(value)


def choice(request: Request, name: str, kind: type[E]) -> E | None:
    value = text(request, name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise HTTPException(400, f"{name}: expected one of {', '.join(str(k.value) for k in kind)}, got {value[:40]!r}") from None
