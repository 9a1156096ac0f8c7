"""Markdown drift report: a summary table first, then one collapsed diff per
changed artifact; sized to fit a GitHub issue comment (65,536 characters)."""

from __future__ import annotations

import html

from snapshot_runner.drift.compare import CaseDrift, Change, DriftReport

# GitHub refuses longer comments; leave room for the table and the notes.
COMMENT_LIMIT = 60_000


def fenced_diff(diff: str) -> str:
    """A ```diff block; a fence inside the diff would end the block early."""
    return "```diff\n" + diff.rstrip("\n").replace("```", "`\u200b``") + "\n```"


def _text(text: str) -> str:
    """Text from a case (its name, a guard) outside a code fence: shown, never read as HTML (``<script>``, ``<!--``)."""
    return html.escape(text, quote=False)


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _row(case: CaseDrift) -> str:
    changed = case.changed_artifacts
    if case.status in ("added", "removed"):
        keys = f"{len(changed)} artifact{'s' if len(changed) != 1 else ''}"
    else:
        keys = ", ".join(f"`{a.key}` ({a.change})" if a.change != "changed" else f"`{a.key}`" for a in changed)
    classes = ", ".join(dict.fromkeys(a.classification for a in changed if a.classification))
    summary = "; ".join(f"{a.key}: {', '.join(a.summary[:2])}" for a in changed if a.summary)
    status = case.status if case.status != "status-changed" else f"status-changed ({case.from_status} → {case.to_status})"
    if case.status == Change.NOT_CAPTURED:
        summary = case.reason or ""
    return f"| `{_cell(case.name)}` | {status} | {keys or '-'} | {classes or '-'} | {_cell(summary) or '-'} |"


def render(report: DriftReport, *, raw_diff: bool = False) -> str:
    """``raw_diff``: the text diff of each artifact instead of its semantic diff."""
    counts = report.counts()
    lines = [
        f"## Graph drift: {report.before.title} → {report.after.title}",
        "",
        *([f"> **{_cell(note)}.**", ""] if (note := report.build_difference()) else []),
        ", ".join(f"**{n}** {status}" for status, n in counts.items()) + f" (of {len(report.cases)} cases)",
        "",
        "Of the changed cases: {graphs_changed} with graph changes (structural, signature or metadata), {guards_only} with guard changes only.".format(
            **report.graph_and_guard_counts()
        ),
        "",
    ]
    classes = report.classification_counts()
    if classes:
        lines += ["Changed artifacts by classification: " + ", ".join(f"**{n}** {level}" for level, n in classes.items()) + ".", ""]
    # What changed inside a case first; cases only one side has (often just not
    # selected on the other) after.
    order = {"status-changed": 0, "changed": 1, "not-captured": 2, "added": 3, "removed": 4}
    changed = sorted((c for c in report.cases if c.status != Change.UNCHANGED), key=lambda c: order[c.status])
    if not changed:
        lines.append("No case changed.")
        return "\n".join(lines) + "\n"
    lines += ["| case | status | artifacts | classification | summary |", "|---|---|---|---|---|"]
    size = sum(len(line) + 1 for line in lines)
    rows = 0
    for case in changed:
        row = _row(case)
        # The table comes first and is the part that must fit; keep room for the notes.
        if size + len(row) + 1 > COMMENT_LIMIT - 500:
            break
        lines.append(row)
        size += len(row) + 1
        rows += 1
    if rows < len(changed):
        lines.append(f"\n_{len(changed) - rows} more changed case(s) left out to fit a comment; the HTML and JSON reports have them all._")
    lines.append("")
    details: list[str] = []
    size = sum(len(line) + 1 for line in lines)
    omitted = 0
    for case in changed:
        if case.status in ("added", "removed", "not-captured"):  # the whole text is new or gone, or was never made: the table says enough
            continue
        for artifact in case.changed_artifacts:
            title = " · ".join(filter(None, [f"<code>{_text(case.name)}</code>", f"<code>{artifact.key}</code>", artifact.change, artifact.classification]))
            block = "\n".join(
                [
                    f"<details><summary>{title}</summary>",
                    "",
                    *[f"- {_text(line)}" for line in artifact.summary],
                    "",
                    fenced_diff(artifact.diff if raw_diff or not artifact.semantic_diff else artifact.semantic_diff),
                    "</details>",
                    "",
                ]
            )
            if size + len(block) > COMMENT_LIMIT:
                omitted += 1
                continue
            details.append(block)
            size += len(block) + 1
    lines += details
    if omitted:
        lines.append(f"_{omitted} diff(s) left out to fit a comment; the HTML and JSON reports have them all._")
    return "\n".join(lines) + "\n"
