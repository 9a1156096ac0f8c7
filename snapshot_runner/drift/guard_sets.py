"""Guard trees and compile summaries compared by meaning, not by text.

A guard tree is a multiset of guards, each known by its kind, the source it
guards (the ``GuardManager`` it hangs under) and its expression; the order of
the lines and their comments (the user code that made the guard, where) are
left out. A compile summary is its counts and the stable forms of its
recompile and graph-break reasons.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

from snapshot_runner.drift.semantic import Level

_GUARD_LINE = re.compile(r"^(?P<depth>(?:\| )*)\+- (?P<kind>\w+)(?::\s?(?P<body>.*))?$")
_MANAGER_SOURCE = re.compile(r"^source=(?P<source>.*?), accessed_by=")
# Guard comments start at the first "  # " (torch pads the code before it).
_COMMENT = re.compile(r"\s{2,}# .*$")


@dataclasses.dataclass(frozen=True, order=True)
class Guard:
    kind: str
    source: str  # the source of the GuardManager it hangs under; "" at the root
    expression: str

    def __str__(self) -> str:
        where = f" on {self.source}" if self.source else ""
        return f"{self.kind}{where}: {self.expression}" if self.expression else f"{self.kind}{where}"


def guards(text: str) -> list[Guard]:
    """The guards of a guard tree, in text order, without comments."""
    found: list[Guard] = []
    sources: list[str] = []  # the manager source at each depth
    for line in text.splitlines():
        match = _GUARD_LINE.match(line)
        if not match:
            continue
        depth = len(match["depth"]) // 2
        body = _COMMENT.sub("", match["body"] or "").strip()
        del sources[depth:]
        parent = sources[-1] if sources else ""
        found.append(Guard(match["kind"], parent, body))
        manager = _MANAGER_SOURCE.match(body)
        sources.append(manager["source"] if manager else parent)
    return found


def _kinds(items: Counter[Guard]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(Counter(g.kind for g in items.elements()).items()))


def describe_guards(before: str, after: str) -> tuple[Level, list[str]]:
    old, new = guards(before), guards(after)
    old_set, new_set = Counter(old), Counter(new)
    if old_set == new_set:
        if old != new:
            return Level.REORDERED, [f"same {len(new)} guards in another order"]
        return Level.TEXT, [f"same {len(new)} guards; comments only"]
    removed, added = old_set - new_set, new_set - old_set
    # A guard of the same kind on the same source on both sides changed its expression.
    changed = []
    for guard in sorted(removed):
        partner = next((g for g in sorted(added) if (g.kind, g.source) == (guard.kind, guard.source)), None)
        if partner is not None:
            changed.append((guard, partner))
            removed[guard] -= 1
            added[partner] -= 1
    removed, added = +removed, +added
    summary = [f"guards {len(old)} → {len(new)}"] if len(old) != len(new) else []
    if added:
        summary.append(f"{added.total()} added ({_kinds(added)})")
    if removed:
        summary.append(f"{removed.total()} removed ({_kinds(removed)})")
    if changed:
        summary.append(f"{len(changed)} changed ({_kinds(Counter(g for g, _ in changed))})")
    summary += [f"+ {g}" for g in sorted(added.elements())] + [f"- {g}" for g in sorted(removed.elements())]
    summary += [f"~ {dataclasses.replace(a, expression='')}: {_delta(a.expression, b.expression)}" for a, b in changed]
    return Level.GUARDS, summary


def _common_length(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _delta(old: str, new: str, context: int = 12) -> str:
    """The part of two long expressions that differs, with a little context:
    ``…":false]},"default_dtype… → …":false]},"cuda_matmul_precision":0,"default_dtype…``."""
    prefix = _common_length(old, new)
    suffix = _common_length(old[prefix:][::-1], new[prefix:][::-1])
    start = max(prefix - context, 0)

    def cut(text: str) -> str:
        end = min(len(text) - suffix + context, len(text))
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

    return f"{cut(old)} → {cut(new)}"


# --- compile summary ----------------------------------------------------------------

_GRAPH_BREAK_ID = re.compile(r"\bGB\d{4}\b")


def stable_reason(reason: str) -> str:
    """A recompile or graph-break reason without the code and place that made it;
    a graph break with a registry id (``GB0025``) is that id."""
    registry = _GRAPH_BREAK_ID.search(reason)
    if registry:
        return registry[0]
    return re.sub(r"\s+", " ", _COMMENT.sub("", reason)).strip()


@dataclasses.dataclass(frozen=True)
class CompileSummary:
    counts: dict[str, str]
    reasons: dict[str, list[str]]  # "recompiles" / "graph breaks" -> stable reasons, in order


def compile_summary(text: str) -> CompileSummary:
    counts: dict[str, str] = {}
    reasons: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("  - ") and section:
            reasons.setdefault(section, []).append(stable_reason(line[4:]))
        elif ": " in line:
            section, value = line.split(": ", 1)
            counts[section] = value.strip()
    return CompileSummary(counts, reasons)


def describe_summary(before: str, after: str) -> tuple[Level, list[str]]:
    old, new = compile_summary(before), compile_summary(after)
    keys = list(dict.fromkeys([*old.counts, *new.counts]))
    summary = [f"{k} {old.counts.get(k, '-')} → {new.counts.get(k, '-')}" for k in keys if old.counts.get(k) != new.counts.get(k)]
    level = Level.STRUCTURAL if summary else Level.TEXT
    for section in dict.fromkeys([*old.reasons, *new.reasons]):
        was, now = Counter(old.reasons.get(section, [])), Counter(new.reasons.get(section, []))
        if was != now:
            # A recompile reason is a guard that failed; a graph break is where the graph splits.
            level = max(level, Level.GUARDS if section == "recompiles" else Level.STRUCTURAL, key=lambda lvl: lvl.rank)
            summary += [f"{section}: - {r}" for r in (was - now).elements()] + [f"{section}: + {r}" for r in (now - was).elements()]
        elif old.reasons.get(section) != new.reasons.get(section):
            level = max(level, Level.REORDERED, key=lambda lvl: lvl.rank)
            summary.append(f"{section}: same reasons in another order")
    return level, summary or ["same counts and reasons; wording only"]
