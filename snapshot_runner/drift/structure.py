"""What changed between two texts of one artifact, in a compiler engineer's terms.

Each family has its semantic comparison: graphs by their canonical form
(``semantic``), guard trees as sets of guards and compile summaries by counts
and stable reasons (``guard_sets``); Inductor's kernels and code change
``structural``ly on any change. The result is a ``Level`` (the classification),
summary lines and a semantic diff: one line where the graph is the same
(renamed, reordered), a diff aligned by dataflow where it is not.
"""

from __future__ import annotations

import dataclasses

from snapshot_runner.capture.artifacts import Family, family
from snapshot_runner.drift import bounded, graph_diff, guard_sets
from snapshot_runner.drift.graph_text import parse
from snapshot_runner.drift.semantic import Level

SUMMARY_LINES = 8


@dataclasses.dataclass(frozen=True)
class Description:
    level: Level
    summary: list[str]
    semantic_diff: str  # "" where the raw diff is all there is (generated code); bounded (``bounded.cap_text``)


def _line_delta(before: str, after: str) -> str:
    old, new = before.splitlines(), after.splitlines()
    codes = bounded.opcodes(old, new)  # linear-ish: a huge generated kernel must not stall the report
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in codes if tag in ("replace", "delete"))
    added = sum(j2 - j1 for tag, _, _, j1, j2 in codes if tag in ("replace", "insert"))
    return f"{removed} line(s) removed, {added} added (of {len(old)} → {len(new)})"


def _cap(summary: list[str]) -> list[str]:
    if len(summary) > SUMMARY_LINES:
        return [*summary[: SUMMARY_LINES - 1], f"... and {len(summary) - SUMMARY_LINES + 1} more"]
    return summary


BOM = "\ufeff"


def _whitespace_change(before: str, after: str) -> str | None:
    """What differs when only whitespace does (a golden saved by an editor), else None."""
    lines = [[line.rstrip() for line in text.removeprefix(BOM).splitlines()] for text in (before, after)]
    if lines[0] != lines[1]:
        return None
    kinds = [
        "a byte-order mark" if before.startswith(BOM) != after.startswith(BOM) else "",
        "line endings" if ("\r\n" in before) != ("\r\n" in after) else "",
        "trailing whitespace" if before.removeprefix(BOM).replace("\r\n", "\n") != after.removeprefix(BOM).replace("\r\n", "\n") else "",
    ]
    return "whitespace only: " + ", ".join(k for k in kinds if k)


def describe(key: str, before: str, after: str, *, from_name: str = "before", to_name: str = "after", with_diff: bool = True) -> Description:
    """Classification, summary and semantic diff of two different texts of ``key``
    (without ``with_diff``, graphs get no aligned diff: the service's grid needs levels only)."""
    whitespace = _whitespace_change(before, after)
    if whitespace:
        # Not a guard or count change: each family's parser would read the edit as one.
        return Description(Level.TEXT, [whitespace], whitespace + "\n")
    kind = family(key)
    if kind == Family.GRAPH and max(before.count("\n"), after.count("\n")) > bounded.MATCH_LINES:
        # Aligning graph nodes is quadratic: a graph this big is compared as text, and counts as a real change.
        return Description(Level.STRUCTURAL, [f"over {bounded.MATCH_LINES} lines: compared as text, not as graphs", _line_delta(before, after)], "")
    if kind == Family.GRAPH and "def forward(" in before + after:
        # Parsed once: the summary and the aligned diff read the same graphs.
        old, new = parse(before), parse(after)
        level, summary = graph_diff.describe_parsed(old, new)
        if level in (Level.TEXT, Level.RENAMED, Level.REORDERED) or not with_diff:
            view = "; ".join(summary) + "\n"
        else:
            view = graph_diff.aligned_diff_parsed(old, new, f"{from_name}/{key}", f"{to_name}/{key}")
        return Description(level, _cap(summary), bounded.cap_text(view))
    if kind == Family.GUARDS:
        level, summary = guard_sets.describe_guards(before, after)
    elif kind == Family.SUMMARY:
        level, summary = guard_sets.describe_summary(before, after)
    else:  # generated code and other text: any change counts
        return Description(Level.STRUCTURAL, [_line_delta(before, after)], "")
    return Description(level, _cap(summary), bounded.cap_text("\n".join(summary) + "\n"))


def fails(level: str | None, fail_on: Level) -> bool:
    """Whether a change at ``level`` fails under ``--fail-on fail_on``; a change
    with no level (an artifact added or removed) always does."""
    return level is None or Level(level).rank >= fail_on.rank
