"""Drift report formats: ``json`` for automation, ``md`` for an issue comment,
``html`` for a browser (one self-contained file), ``junit`` for a CI system's test view."""

from __future__ import annotations

import json
from collections.abc import Callable

from snapshot_runner.drift.compare import DriftReport

from . import markdown

FORMATS = ("md", "html", "json", "junit")


def _json(report: DriftReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def renderer(fmt: str) -> Callable[[DriftReport], str]:
    if fmt == "html":
        from . import html

        return html.render
    if fmt == "junit":
        from . import junit

        return junit.render
    return {"md": markdown.render, "json": _json}[fmt]
