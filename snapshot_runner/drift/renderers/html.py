"""HTML drift report: one self-contained file a compiler engineer reads in a minute.

Top to bottom: both sides, the counts, a table of changed cases (one row per
changed artifact, with its classification and structural summary), the
cases × runs grid of artifact versions (when the CLI had a database), then a
collapsible side-by-side diff per changed artifact.

Self-contained means no network at all: inline CSS, system fonts, one tiny
inline script (expand/collapse all) that the page does not need, and a
Content-Security-Policy that allows nothing else to load or run. Every text
that comes from a case, a run or the database goes through ``_e``.

Why so long: the page's stylesheet and script are inline by design (one file,
no network), and they are a third of this module.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import html
from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from snapshot_runner import __version__
from snapshot_runner.capture.artifacts import KEY_ORDER, base_key
from snapshot_runner.drift import bounded
from snapshot_runner.drift.compare import CAPTURE, ArtifactDrift, CaseDrift, Change, DriftReport, Side, VersionMatrix
from snapshot_runner.drift.semantic import Level

# Diffs are context diffs, bounded as every report's are (``bounded``): a
# pathological text (a 10 MB kernel) costs the page a few hundred KB.
CONTEXT_LINES = 3
# Diffs open on load while there are few of them; beyond that, a wall of open
# diffs hides the summary table's structure.
OPEN_DIFFS = 8

# Version colours within one grid row: v1 (the oldest in the window) is calm,
# later versions are loud, so that a change jumps out.
PALETTE = ("#cdd8e4", "#f6c453", "#7dcf95", "#ef8f8f", "#ad98e6", "#74bde6", "#f3a15c", "#c3d96a", "#e69ccb", "#8fd6c9")

# Most telling first: a reader who stops after three rows has seen what broke.
CASE_ORDER = (Change.STATUS_CHANGED, Change.CHANGED, Change.NOT_CAPTURED, Change.ADDED, Change.REMOVED)
CLASS_ORDER = tuple(reversed(Level))  # most serious first
# Changes that leave the graph (or guard set) the same: reported, not opened.
SAME = (Level.TEXT, Level.RENAMED, Level.REORDERED)

SCRIPT = """
document.querySelectorAll('.toggles').forEach(function (bar) {
  [['expand all diffs', true], ['collapse all diffs', false]].forEach(function (b) {
    var button = document.createElement('button');
    button.textContent = b[0];
    button.onclick = function () {
      document.querySelectorAll('details.diff').forEach(function (d) { d.open = b[1]; });
    };
    bar.appendChild(button);
  });
});
"""

CSS = """
:root { --fg: #1d232b; --muted: #5f6b7a; --line: #d9dee5; --bg2: #f5f7fa;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); margin: 0 auto; padding: 20px 28px 60px; max-width: 1600px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 6px; font-family: var(--mono); word-break: break-all; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
a { color: #1f5fbf; text-decoration: none; } a:hover { text-decoration: underline; }
nav { color: var(--muted); margin-bottom: 14px; } nav a { margin-right: 14px; }
.sides { display: grid; grid-template-columns: 1fr auto 1fr; gap: 12px; align-items: stretch; }
.side { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.side h4 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.side .name { font-size: 16px; font-weight: 600; margin-bottom: 4px; word-break: break-all; }
.side dl { display: grid; grid-template-columns: max-content 1fr; gap: 1px 12px; margin: 0; }
.side dt { color: var(--muted); } .side dd { margin: 0; word-break: break-all; }
.arrow { align-self: center; font-size: 26px; color: var(--muted); }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 14px 0 4px; }
.chip { border-radius: 14px; padding: 3px 12px; background: var(--bg2); border: 1px solid var(--line); }
.chip b { font-size: 15px; margin-right: 3px; }
.chip.zero { opacity: .45; }
.verdict { font-size: 16px; font-weight: 600; padding: 10px 14px; border-radius: 6px; margin: 12px 0; }
.verdict.same { background: #e3f5e6; color: #1c6b2c; } .verdict.drift { background: #fff3d6; color: #7a5200; }
.badge { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; vertical-align: 1px; }
.b-structural { background: #fbe0e0; color: #a11d1d; border-color: #efb3b3; }
.b-signature { background: #ffe9cc; color: #8a4b00; border-color: #f3c98f; }
.b-guards { background: #e4e7fb; color: #3140a0; border-color: #b9c0ef; }
.b-metadata { background: #fff6cc; color: #6b5800; border-color: #eedc8a; }
.b-renamed, .b-reordered, .b-text { background: #eceff2; color: #4d5965; border-color: #d3d9df; }
pre.semantic { margin: 6px 10px; white-space: pre-wrap; }
details.raw { margin: 6px 10px; }
.b-changed { background: #fff1c7; color: #7a5600; border-color: #f0d98a; }
.b-status-changed { background: #fbe0e0; color: #a11d1d; border-color: #efb3b3; }
.b-not-captured { background: #fbe0e0; color: #a11d1d; border-color: #efb3b3; }
.b-added { background: #dff3e3; color: #1c6b2c; border-color: #a9dbb4; }
.b-removed { background: #eceff2; color: #4d5965; border-color: #c9d0d7; text-decoration: line-through; }
.b-unchanged { background: #f2f4f6; color: #7b8692; }
table.cases { border-collapse: collapse; width: 100%; }
table.cases th, table.cases td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.cases th { background: var(--bg2); font-weight: 600; }
table.cases td.case { font-family: var(--mono); font-size: 12.5px; word-break: break-all; min-width: 18em; max-width: 34em; }
table.cases ul, .summary { margin: 0; padding-left: 16px; }
table.cases li, .summary li { font-family: var(--mono); font-size: 12px; }
.muted { color: var(--muted); }
.verdict.builds { background: #fdf6e3; color: #7a5c00; }
pre.error { background: #fdf0f0; border-left: 3px solid #d64545; padding: 8px 10px; white-space: pre-wrap;
  overflow-wrap: anywhere; margin: 6px 0; max-height: 20em; overflow: auto; }
details.diff { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; }
details.diff > summary { cursor: pointer; padding: 6px 10px; background: var(--bg2); border-radius: 6px; }
details.diff[open] > summary { border-bottom: 1px solid var(--line); border-radius: 6px 6px 0 0; }
details.diff .summary { padding: 6px 10px 6px 28px; }
.toggles button { font: inherit; font-size: 12px; margin-right: 6px; padding: 2px 10px; cursor: pointer; }
table.sbs { border-collapse: collapse; width: 100%; table-layout: fixed; font-family: var(--mono); font-size: 12px; }
table.sbs col.n { width: 3.6em; }
table.sbs th { background: var(--bg2); font-weight: 600; text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line);
  font-family: system-ui, sans-serif; word-break: break-all; }
table.sbs td { padding: 0 6px; vertical-align: top; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.4; }
table.sbs td.n { color: #98a2ad; text-align: right; user-select: none; border-right: 1px solid var(--line); }
table.sbs td.del { background: #fdecec; } table.sbs td.ins { background: #e8f6eb; }
table.sbs td.empty { background: #f4f5f7; }
table.sbs span.del { background: #f5b8b8; border-radius: 2px; } table.sbs span.ins { background: #a8e0b4; border-radius: 2px; }
table.sbs tr.skip td { background: #eef2f7; color: var(--muted); text-align: center; font-family: system-ui, sans-serif;
  font-size: 11.5px; padding: 1px; }
.grid-wrap { overflow-x: auto; }
table.grid { border-collapse: separate; border-spacing: 2px; font-size: 12px; }
table.grid th { font-weight: 500; color: var(--muted); vertical-align: bottom; padding: 0 2px; }
table.grid th.run { width: 30px; min-width: 30px; }
table.grid th.run .id { display: block; font-weight: 600; color: var(--fg); }
table.grid th.run .v { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; max-height: 11em;
  overflow: hidden; text-overflow: ellipsis; display: inline-block; font-family: var(--mono); font-size: 11px; }
table.grid th.side-col .id { color: #1f5fbf; }
table.grid td.case { font-family: var(--mono); font-size: 12px; padding-right: 6px; max-width: 30em; word-break: break-all; vertical-align: top; }
table.grid td.key { font-family: var(--mono); font-size: 12px; padding-right: 8px; white-space: nowrap; }
table.grid td.key.changed { font-weight: 700; }
table.grid td.c { height: 20px; min-width: 26px; text-align: center; font-size: 10.5px; font-weight: 600; color: #3a3f45; border-radius: 3px; }
table.grid td.m { background: repeating-linear-gradient(45deg, #fff, #fff 3px, #e1e5ea 3px, #e1e5ea 6px); }
table.grid td.s { box-shadow: inset 0 0 0 2px #1f5fbf; }
table.grid td.stable { color: var(--muted); font-size: 11.5px; padding-left: 8px; border-radius: 3px; }
table.grid tbody tr.case-start td { border-top: 3px solid #fff; }
details > summary { cursor: pointer; }
.legend { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


def _e(value: object) -> str:
    """Escape for both element text and quoted attribute values."""
    return html.escape(str(value), quote=True)


def _badge(kind: str | None) -> str:
    return f'<span class="badge b-{_e(kind)}">{_e(kind)}</span>' if kind else ""


def _script_hash() -> str:
    # The CSP allows exactly this script: an injected inline <script> would not
    # run even if some text escaped escaping.
    return "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()


# --- header ------------------------------------------------------------------------


def _side_card(role: str, side: Side) -> str:
    d = side.description
    rows: list[tuple[str, str]] = []
    if side.run_id is None and side.ref != CAPTURE:
        name = "goldens"
        rows += [("directory", d.get("snapshots") or "-"), ("recorded with", d.get("environment_line") or "no ENVIRONMENT file")]
    else:
        env = d.get("environment", {})
        torch = env.get("torch_version", "?") + (f" ({env['torch_git_sha'][:12]})" if env.get("torch_git_sha") else "")
        rows += [
            ("torch", torch),
            ("device", env.get("device") or "-"),
            ("python", f"{env.get('python') or '-'} · {env.get('platform') or '-'}"),
        ]
        rows += [("packages", ", ".join(f"{name} {version}" for name, version in env["packages"].items()))] if env.get("packages") else []
        if side.ref == CAPTURE:
            name = "fresh capture (not stored)"
        else:
            name = f"run {side.run_id}" + (f" · {d['label']}" if d.get("label") else "")
            rows += [
                ("started", (d.get("started_at") or "-").replace("T", " ") + " UTC"),
                ("status", f"{d.get('status')} · {d.get('cases_stored')}/{d.get('cases_expected')} cases"),
            ]
        rows += [(k, env[k]) for k in ("cuda", "triton", "gpu_name") if env.get(k)]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<section class="side"><h4>{_e(role)} · {_e(side.ref)}</h4><div class="name">{_e(name)}</div><dl>{items}</dl></section>'


def _build_note(report: DriftReport) -> str:
    note = report.build_difference()
    return f'<div class="verdict builds">{_e(note)}.</div>' if note else ""


def _counts(report: DriftReport) -> str:
    chips = [f'<span class="chip{" zero" if n == 0 else ""}"><b>{n}</b>{_e(status)}</span>' for status, n in report.counts().items()]
    classes: dict[str, int] = {}
    for case in report.cases:
        for artifact in case.changed_artifacts:
            if artifact.classification:
                classes[artifact.classification] = classes.get(artifact.classification, 0) + 1
    if classes:
        chips.append('<span class="muted" style="align-self:center">changed artifacts:</span>')
        chips += [f"<span>{_badge(kind)} ×{n}</span>" for kind, n in sorted(classes.items(), key=lambda kv: -kv[1])]
    return f'<div class="counts">{"".join(chips)}</div>'


# --- the changed-cases table ----------------------------------------------------------


def _status_text(case: CaseDrift) -> str:
    if case.status == Change.STATUS_CHANGED:
        return f'{_badge(Change.STATUS_CHANGED)}<br><span class="mono">{_e(case.from_status)} → {_e(case.to_status)}</span>'
    if case.status == Change.NOT_CAPTURED:
        return f'{_badge(Change.NOT_CAPTURED)}<br><span class="mono">{_e(case.reason or "")}</span>'
    return _badge(case.status)


def _artifact_kind(artifact: ArtifactDrift) -> str:
    return artifact.classification if artifact.change == Change.CHANGED and artifact.classification else artifact.change


def _artifact_cells(case: CaseDrift, anchors: dict[tuple[str, str], str]) -> list[str]:
    """The artifact, change and summary cells of each table row of a case: one
    row per changed artifact, one per kind for added or removed artifacts (an
    errored case losing five artifacts is one fact, not five)."""

    def link(artifact: ArtifactDrift) -> str:
        return f'<a href="#{anchors[(case.name, artifact.key)]}"><code>{_e(artifact.key)}</code></a>'

    cells = []
    for artifact in case.changed_artifacts:
        if artifact.change == Change.CHANGED:
            summary = "".join(f"<li>{_e(line)}</li>" for line in artifact.summary)
            cells.append(f"<td>{link(artifact)}</td><td>{_badge(_artifact_kind(artifact))}</td><td><ul>{summary}</ul></td>")
    for kind in (Change.ADDED, Change.REMOVED):
        group = [a for a in case.changed_artifacts if a.change == kind]
        if group:
            cells.append(f"<td>{', '.join(link(a) for a in group)}</td><td>{_badge(kind)}</td><td></td>")
    return cells or ['<td class="muted">-</td><td></td><td></td>']


def _cases_table(changed: list[CaseDrift], anchors: dict[tuple[str, str], str]) -> str:
    rows = []
    for index, case in enumerate(changed):
        cells = _artifact_cells(case, anchors)
        span = f' rowspan="{len(cells)}"' if len(cells) > 1 else ""
        head = f'<td class="case"{span}><a href="#case-{index}">{_e(case.name)}</a></td><td{span}>{_status_text(case)}</td>'
        rows += [f"<tr>{head if i == 0 else ''}{c}</tr>" for i, c in enumerate(cells)]
    return (
        '<table class="cases"><thead><tr><th>case</th><th>status</th><th>artifact</th><th>change</th><th>summary</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- side-by-side diffs ---------------------------------------------------------------


def _intraline(old: str, new: str) -> tuple[str, str]:
    """Both lines escaped, with the changed characters marked; lines that share
    little are left unmarked (the row colour already says they differ)."""
    old, new = bounded.clip(old), bounded.clip(new)  # clipped first: character matching is quadratic
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < 0.5:
        return _e(old), _e(new)
    left, right = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = _e(old[i1:i2]), _e(new[j1:j2])
        if tag == "equal":
            left.append(a)
            right.append(b)
            continue
        if a:
            left.append(f'<span class="del">{a}</span>')
        if b:
            right.append(f'<span class="ins">{b}</span>')
    return "".join(left), "".join(right)


def _row(n_old: int | None, old: str | None, n_new: int | None, new: str | None, kind: str) -> str:
    """One table row; ``old``/``new`` are already escaped (None: no line on that side)."""

    def half(n: int | None, text: str | None, cls: str) -> str:
        if text is None:
            return '<td class="n"></td><td class="empty"></td>'
        return f'<td class="n">{n}</td><td class="{cls}">{text}</td>'

    left_cls = "del" if kind in ("replace", "delete") else ""
    right_cls = "ins" if kind in ("replace", "insert") else ""
    return f"<tr>{half(n_old, old, left_cls)}{half(n_new, new, right_cls)}</tr>"


def _skip(count: int) -> str:
    return f'<tr class="skip"><td colspan="4">⋯ {count} unchanged line{"s" if count != 1 else ""} ⋯</td></tr>'


def _e_line(line: str) -> str:
    return _e(bounded.clip(line))


def _diff_rows(before: list[str], after: list[str]) -> Iterator[str]:
    shown_to = 0  # lines of ``before`` accounted for so far
    for group in bounded.grouped(bounded.opcodes(before, after), CONTEXT_LINES):
        if group[0][1] > shown_to:
            yield _skip(group[0][1] - shown_to)
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for k in range(i2 - i1):
                    yield _row(i1 + k + 1, _e_line(before[i1 + k]), j1 + k + 1, _e_line(after[j1 + k]), tag)
            elif tag == "replace":
                for k, (old, new) in enumerate(zip_longest(before[i1:i2], after[j1:j2])):
                    if old is not None and new is not None:
                        left, right = _intraline(old, new)
                        yield _row(i1 + k + 1, left, j1 + k + 1, right, tag)
                    else:
                        yield _row(
                            i1 + k + 1 if old is not None else None,
                            None if old is None else _e_line(old),
                            j1 + k + 1 if new is not None else None,
                            None if new is None else _e_line(new),
                            tag,
                        )
            elif tag == "delete":
                for k in range(i1, i2):
                    yield _row(k + 1, _e_line(before[k]), None, None, tag)
            else:  # insert
                for k in range(j1, j2):
                    yield _row(None, None, k + 1, _e_line(after[k]), tag)
        shown_to = group[-1][2]
    if shown_to < len(before):  # the unchanged tail after the last hunk
        yield _skip(len(before) - shown_to)


def side_by_side(before: str | None, after: str | None, from_title: str, to_title: str) -> str:
    """A two-column context diff of two texts, every line escaped."""
    rows, budget = [], bounded.Budget()
    for row in _diff_rows((before or "").splitlines(), (after or "").splitlines()):
        if not budget.take(row):
            rows.append(f'<tr class="skip"><td colspan="4">{_e(bounded.truncated(budget.lines))}</td></tr>')
            break
        rows.append(row)
    left = _e(from_title) if before is not None else f'{_e(from_title)} <span class="muted">(absent)</span>'
    right = _e(to_title) if after is not None else f'{_e(to_title)} <span class="muted">(absent)</span>'
    return (
        '<table class="sbs"><colgroup><col class="n"><col><col class="n"><col></colgroup>'
        f'<thead><tr><th colspan="2">{left}</th><th colspan="2">{right}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _errors(report: DriftReport, case: CaseDrift) -> str:
    parts = []
    for role, side in (("from", report.before), ("to", report.after)):
        result = side.results.get(case.name)
        if result is not None and result.error:
            parts.append(f'<div class="muted">{_e(role)} ({_e(result.status)}):</div><pre class="error">{_e(result.error)}</pre>')
    return "".join(parts)


def _diffs(report: DriftReport, changed: list[CaseDrift], anchors: dict[tuple[str, str], str]) -> str:
    parts = []
    opened = 0
    for index, case in enumerate(changed):
        parts.append(
            f'<h3 id="case-{index}">{_e(case.name)} {_status_text(case) if case.status != Change.STATUS_CHANGED else _badge(Change.STATUS_CHANGED)}</h3>'
        )
        if case.status == Change.STATUS_CHANGED:
            parts.append(f'<div class="mono">status {_e(case.from_status)} → {_e(case.to_status)}</div>')
        parts.append(_errors(report, case))
        for artifact in case.changed_artifacts:
            # Open what a reader must see: real changes, not whole texts added
            # or removed (those are in the table) nor renamed, reordered or layout-only ones.
            is_open = opened < OPEN_DIFFS and artifact.change == Change.CHANGED and artifact.classification not in SAME
            opened += is_open
            # One summary line fits the title; more get a list under it.
            first = f' <span class="muted">{_e(artifact.summary[0])}</span>' if len(artifact.summary) == 1 else ""
            summary = "".join(f"<li>{_e(line)}</li>" for line in artifact.summary)
            table = side_by_side(artifact.before, artifact.after, f"{report.before.title} · {artifact.key}", f"{report.after.title} · {artifact.key}")
            if artifact.semantic_diff:  # the semantic view first, the raw text one click away
                semantic = f'<pre class="semantic mono">{_e(artifact.semantic_diff)}</pre>'
                table = f'{semantic}<details class="raw"><summary>raw text diff</summary>{table}</details>'

            parts.append(
                f'<details class="diff" id="{anchors[(case.name, artifact.key)]}"{" open" if is_open else ""}>'
                f"<summary><code>{_e(artifact.key)}</code> {_badge(_artifact_kind(artifact))}{first}</summary>"
                f"{f'<ul class=summary>{summary}</ul>' if len(artifact.summary) > 1 else ''}{table}</details>"
            )
    return "".join(parts)


# --- the cases × runs grid ------------------------------------------------------------

Row = tuple[tuple[str, str], list[str | None]]  # (case, key), one hash (or None) per column


def version_colour(number: int) -> str:
    if number <= len(PALETTE):
        return PALETTE[number - 1]
    # Past the palette: golden-angle hues stay distinct from each other.
    return f"hsl({(number * 137.508) % 360:.0f} 65% 72%)"


def _key_order(key: str) -> tuple[int, str]:
    """Artifacts in the order a graph is produced; other keys follow by name."""
    base = base_key(key)
    return (KEY_ORDER.index(base) if base in KEY_ORDER else len(KEY_ORDER), key)


def _columns(report: DriftReport, matrix: VersionMatrix) -> list[dict[str, Any]]:
    """One column per run (oldest first), then one for each side that is not a run
    (goldens ``G``, a fresh capture ``C``)."""
    sides = {report.before.run_id: "from", report.after.run_id: "to"}
    if report.before.run_id == report.after.run_id:
        sides = {report.before.run_id: "from/to"}
    columns: list[dict[str, Any]] = []
    for run in matrix.runs:
        env = run.environment
        tip = (
            f"run {run.id}" + (f" · {run.label}" if run.label else "") + f" · torch {env['torch_version']} · {env['device']} · {run.started_at:%Y-%m-%d %H:%M}"
        )
        columns.append({"id": run.id, "head": str(run.id), "sub": run.label or env["torch_version"], "tip": tip, "side": sides.get(run.id)})
    for side, role in ((report.before, "from"), (report.after, "to")):
        if side.run_id is None and not any(col.get("ref") == side.ref for col in columns):
            versions = {(case, key): digest for case, result in side.results.items() for key, digest in result.artifacts.items()}
            head, sub = ("C", "capture") if side.ref == CAPTURE else ("G", "goldens")
            columns.append({"id": side.ref, "ref": side.ref, "head": head, "sub": sub, "tip": side.title, "side": role, "versions": versions})
    return columns


def _grid_table(rows: list[Row], columns: list[dict[str, Any]], changed_here: set[tuple[str, str]]) -> str:
    head = "".join(
        f'<th class="run{" side-col" if col["side"] else ""}" title="{_e(col["tip"])}">'
        f'<span class="id">{_e(col["side"] or "")}</span><span class="id">{_e(col["head"])}</span><span class="v">{_e(col["sub"])}</span></th>'
        for col in columns
    )
    spans: dict[str, int] = {}
    for (case, _key), _cells in rows:
        spans[case] = spans.get(case, 0) + 1
    body = []
    previous_case = None
    for (case, key), cells in rows:
        # Versions are numbered per row in order of first appearance; the
        # number is written only where it changes, so change points stand out.
        numbers: dict[str, int] = {}
        tds = []
        last = None
        for col, digest in zip(columns, cells, strict=True):
            side = " s" if col["side"] else ""
            if digest is None:
                tds.append(f'<td class="c m{side}" title="not recorded"></td>')
            else:
                number = numbers.setdefault(digest, len(numbers) + 1)
                tds.append(f'<td class="c k{number}{side}" title="v{number} {_e(digest[:12])}">{f"v{number}" if digest != last else ""}</td>')
            last = digest
        first = case != previous_case
        previous_case = case
        case_td = f'<td class="case" rowspan="{spans[case]}">{_e(case)}</td>' if first else ""
        changed = " changed" if (case, key) in changed_here else ""
        body.append(
            f'<tr class="{"case-start" if first else ""}" data-row="{_e(case)}|{_e(key)}">{case_td}<td class="key{changed}">{_e(key)}</td>{"".join(tds)}</tr>'
        )
    thead = f'<thead><tr><th style="text-align:left">case</th><th style="text-align:left">artifact</th>{head}</tr></thead>'
    return f'<div class="grid-wrap"><table class="grid">{thead}<tbody>{"".join(body)}</tbody></table></div>'


def _grid(report: DriftReport) -> str:
    matrix = report.matrix
    if matrix is None:
        return '<p class="muted">No history database was used for this report, so there is no runs grid.</p>'
    columns = _columns(report, matrix)
    names = {c.name for c in report.cases}
    changed_here = {(c.name, a.key) for c in report.cases for a in c.changed_artifacts}
    keys = set(matrix.versions) | {k for col in columns if "versions" in col for k in col["versions"] if k[0] in names}
    here: list[Row] = []
    elsewhere: list[Row] = []
    stable: list[tuple[tuple[str, str], str]] = []
    for row in sorted(keys, key=lambda k: (k[0], _key_order(k[1]))):
        cells = [col["versions"].get(row) if "versions" in col else matrix.versions.get(row, {}).get(col["id"]) for col in columns]
        if row in changed_here:
            here.append((row, cells))
        elif len(set(cells)) == 1 and cells[0] is not None:
            stable.append((row, cells[0]))
        else:
            elsewhere.append((row, cells))
    most = max((len({c for c in cells if c}) for _, cells in here + elsewhere), default=1)
    window = f"{sum(1 for c in columns if 'versions' not in c)} runs"
    parts = [
        "<style>" + "".join(f"table.grid td.k{n}{{background:{version_colour(n)}}}" for n in range(1, most + 1)) + "</style>",
        '<p class="legend">Columns: the last runs of the database, oldest first (outlined: this report\'s sides). '
        "Same colour in a row = same text; <b>v2</b>, <b>v3</b>… mark where a new version appears; hatched = not recorded.</p>",
    ]
    if here:
        parts.append(_grid_table(here, columns, changed_here))
    else:
        parts.append('<p class="muted">No artifact differs between this report\'s sides.</p>')
    if elsewhere:
        # Open while short: on a quiet history it is the story; on a busy one,
        # hundreds of rows would bury the diffs below.
        is_open = " open" if len(elsewhere) <= 20 else ""
        parts.append(
            f"<details{is_open}><summary>{len(elsewhere)} other artifact{'s' if len(elsewhere) != 1 else ''} changed within these {_e(window)}</summary>"
            f"{_grid_table(elsewhere, columns, changed_here)}</details>"
        )
    if stable:
        rows = "".join(
            f'<tr><td class="case">{_e(case)}</td><td class="key">{_e(key)}</td><td class="stable k1" title="{_e(digest[:12])}">v1 in every column</td></tr>'
            for (case, key), digest in stable
        )
        parts.append(
            f"<details><summary>{len(stable)} artifact{'s' if len(stable) != 1 else ''} with one version in every column</summary>"
            f'<table class="grid"><tbody>{rows}</tbody></table></details>'
        )
    return "".join(parts)


# --- the page -------------------------------------------------------------------------


def _severity(case: CaseDrift) -> tuple[int, int, str]:
    classes = [CLASS_ORDER.index(a.classification) for a in case.changed_artifacts if a.classification in CLASS_ORDER]
    return (CASE_ORDER.index(case.status) if case.status in CASE_ORDER else len(CASE_ORDER), min(classes, default=len(CLASS_ORDER)), case.name)


def body(report: DriftReport) -> str:
    """The report without its page: sides, counts, changed cases, grid and diffs
    (``serve`` puts it in its own page, with ``CSS`` and ``SCRIPT`` as files)."""
    changed = sorted((c for c in report.cases if c.status != Change.UNCHANGED), key=_severity)
    anchors = {(c.name, a.key): f"diff-{i}-{j}" for i, c in enumerate(changed) for j, a in enumerate(c.changed_artifacts)}
    if changed:
        verdict = f'<div class="verdict drift">{len(changed)} of {len(report.cases)} cases changed</div>'
        table = _cases_table(changed, anchors)
        diffs = f'<div class="toggles"></div>{_diffs(report, changed, anchors)}'
    else:
        verdict = f'<div class="verdict same">No case changed ({len(report.cases)} cases compared).</div>'
        table = diffs = '<p class="muted">Nothing to show.</p>'
    return f"""<nav><a href="#changed">changed cases</a><a href="#grid">runs grid</a><a href="#diffs">diffs</a></nav>
<div class="sides">{_side_card("from", report.before)}<div class="arrow">→</div>{_side_card("to", report.after)}</div>
{_build_note(report)}
{_counts(report)}
{verdict}
<h2 id="changed">Changed cases</h2>
{table}
<h2 id="grid">Artifact versions across runs</h2>
{_grid(report)}
<h2 id="diffs">Diffs</h2>
{diffs}"""


def render(report: DriftReport, *, raw_diff: bool = False) -> str:
    """The page; ``raw_diff`` changes nothing: the raw diff is one click under each semantic one."""
    title = f"Graph drift: {report.before.title} → {report.after.title}"
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{_script_hash()}'; img-src data:"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>Graph drift</h1>
{body(report)}
<footer>snapshot-runner {_e(__version__)} · a self-contained file: it loads nothing from the network.</footer>
<script>{SCRIPT}</script>
</body>
</html>
"""
