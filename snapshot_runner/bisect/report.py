"""Bisect results as text (a terminal), markdown (an issue) or JSON (automation)."""

from __future__ import annotations

import json
from collections.abc import Callable

from snapshot_runner.bisect.bisector import BisectReport
from snapshot_runner.bisect.search import ChangePoint, Judgement, Verdict
from snapshot_runner.drift.renderers.markdown import fenced_diff

FORMATS = ("text", "md", "json")


def _answer(point: ChangePoint) -> str:
    if point.is_range:
        return (
            f"the change is in {', '.join(point.skipped_between)} or {point.first_bad}: "
            f"{len(point.skipped_between)} version(s) between {point.last_good} (good) and {point.first_bad} (bad) could not be judged"
        )
    return f"first bad: torch {point.first_bad} (last good: {point.last_good})"


def _source(verdict: Verdict) -> str:
    if verdict.reused:
        return "history"
    return "tried" if verdict.verdict == Judgement.SKIP else "captured"


def _variant(report: BisectReport, version: str) -> str:
    build = report.build(version)
    return build.variant if build else "-"


def _builds_line(report: BisectReport) -> str:
    """Which build variants the ends and the candidates were: the reference is ``+cpu``, the index's builds ``+cu130``/``+cu132``."""
    found: dict[str, list[str]] = {}
    for version in dict.fromkeys([report.good.version, *report.search.verdicts, report.bad.version]):
        found.setdefault(_variant(report, version), []).append(version)
    return "build variants: " + "; ".join(f"{variant}: {', '.join(versions)}" for variant, versions in found.items())


def _summary_lines(report: BisectReport) -> list[str]:
    lines = [
        f"bisect {report.target}: good {report.good.ref} (torch {report.good.run.environment['torch_version']}), "
        f"bad {report.bad.ref} (torch {report.bad.run.environment['torch_version']})",
        _builds_line(report),
    ]
    for verdict in report.search.verdicts.values():
        lines.append(f"  {verdict.version:<24} {verdict.verdict:<5} {verdict.detail} ({_source(verdict)}, build {_variant(report, verdict.version)})")
    lines.append(f"versions captured: {report.captured}, skipped: {report.search.skipped}, reused from history: {report.search.reused}")
    return lines


def _classification_lines(report: BisectReport, point: ChangePoint) -> list[str]:
    """``aot_forward: renamed (same graph, 8 names changed)`` per changed artifact."""
    return [
        f"{c['key']}: {c['classification'] or 'added or removed'}" + (f" ({'; '.join(c['summary'][:2])})" if c["summary"] else "")
        for c in report.classifications.get(point.span, [])
    ]


def _point_lines(report: BisectReport, point: ChangePoint) -> list[str]:
    lines = [_answer(point), *_classification_lines(report, point)]
    if note := report.build_difference(point):
        lines.append(note)
    good_sha, bad_sha = report.sha(point.last_good), report.sha(point.first_bad)
    if good_sha or bad_sha:
        lines.append(f"torch git: {point.last_good} = {good_sha or '?'}, {point.first_bad} = {bad_sha or '?'}")
    url = report.compare_url(point)
    if url:
        lines.append(f"compare: {url}")
    return lines


def render_text(report: BisectReport) -> str:
    lines = _summary_lines(report)
    for point in report.search.change_points:
        lines += ["", *_point_lines(report, point), "", report.diffs.get(point.span, "").rstrip("\n")]
    lines += ["", f"reproduce: {report.command}"]
    return "\n".join(lines) + "\n"


def render_markdown(report: BisectReport) -> str:
    lines = [f"## Bisect of `{report.target}`", ""]
    for point in report.search.change_points:
        lines += [f"**{_answer(point)}**", ""]
        lines += [f"- {line}" for line in _point_lines(report, point)[1:]]
        diff = report.diffs.get(point.span, "").rstrip("\n")
        lines += ["", "<details><summary>diff across the boundary</summary>", "", fenced_diff(diff), "</details>", ""]
    lines += [_builds_line(report), "", "| version | verdict | detail | from | build variant |", "|---|---|---|---|---|"]
    for v in report.search.verdicts.values():
        lines.append(f"| {v.version} | {v.verdict} | {v.detail.replace('|', '/')} | {_source(v)} | {_variant(report, v.version)} |")
    counts = f"Versions captured: {report.captured}; skipped: {report.search.skipped}; reused from history: {report.search.reused}."
    lines += ["", counts, "", f"Reproduce: `{report.command}`"]
    return "\n".join(lines) + "\n"


def render_json(report: BisectReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def renderer(fmt: str) -> Callable[[BisectReport], str]:
    return {"text": render_text, "md": render_markdown, "json": render_json}[fmt]
