"""External tools some tests need (Chromium, a PostgreSQL server): locally a
missing one skips those tests with the reason; in CI (``CI=true``, set by
``.ci/run``, which installs them) it is a failure, one line naming it."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(found: object, missing: str) -> None:
    """Go on when ``found`` is truthy; else skip, or fail in CI, with ``missing``."""
    if found:
        return
    if in_ci():
        pytest.fail(f"CI=true and {missing}", pytrace=False)
    pytest.skip(missing)
