"""Drift report formats: ``json`` for automation, ``md`` for an issue comment,
``html`` for a browser (one self-contained file), ``junit`` for a CI system's test view."""

from __future__ import annotations

import json
from typing import Protocol

from snapshot_runner.drift.compare import DriftReport

from . import markdown

FORMATS = ("md", "html", "json", "junit")


class Renderer(Protocol):
    def __call__(self, report: DriftReport, *, raw_diff: bool = False) -> str: ...


def _json(report: DriftReport, *, raw_diff: bool = False) -> str:
    """Both diffs are in JSON whatever ``raw_diff`` says."""
    return json.dumps(report.to_json(), indent=2) + "\n"


def renderer(fmt: str) -> Renderer:
    if fmt == "html":
        from . import html

        return html.render
    if fmt == "junit":
        from . import junit

        return junit.render
    return {"md": markdown.render, "json": _json}[fmt]
