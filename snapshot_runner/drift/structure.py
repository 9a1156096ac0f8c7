"""What changed between two texts of one artifact, in a compiler engineer's terms.

Graphs (``print_readable`` output) are parsed into their inputs, outputs, an op
histogram and a dataflow skeleton (every name replaced by its position), so a
change is classified as:

- ``structural``: ops or dataflow changed;
- ``signature``: only the graph's inputs or outputs changed;
- ``text-only``: only names or comments changed (same skeleton, same signature);
- ``guards``: any change in the guard tree (summarized by guard kind).

Compile summaries (``compile``) change ``structural``ly when any count changes.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
from collections import Counter

from snapshot_runner.capture.artifacts import Family, family


class Classification(enum.StrEnum):
    """What kind of change an artifact went through, most serious first."""

    STRUCTURAL = "structural"  # ops or dataflow
    SIGNATURE = "signature"  # inputs or outputs
    GUARDS = "guards"
    TEXT_ONLY = "text-only"  # names, comments, wording


SUMMARY_LINES = 8

_ASSIGN = re.compile(r'^\s*(?P<name>\w+)(?:: "(?P<ann>[^"]*)")? = (?P<rhs>.*?)(?:;  .*)?$')
_PLACEHOLDER = re.compile(r'(?P<name>\w+): "(?P<ann>[^"]*)"')
_CALL = re.compile(r"^(?P<target>[\w.]+)\(")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_COMMENT = re.compile(r"\s+#.*$")


@dataclasses.dataclass(frozen=True)
class GraphShape:
    inputs: tuple[str, ...]  # annotations of the placeholders, in order
    outputs: tuple[str, ...]  # output positions as skeleton tokens
    ops: Counter[str]
    skeleton: tuple[str, ...]  # one line per node, names replaced by positions

    @property
    def generic_skeleton(self) -> tuple[str, ...]:
        """The skeleton with every input reference the same token: unchanged when
        only the graph's inputs were added, removed or reordered."""
        return tuple(re.sub(r"\bin\d+\b", "in", line) for line in self.skeleton)


def _op_name(target: str, defined: set[str]) -> str:
    if target.startswith("torch.ops."):
        return target[len("torch.ops.") :]
    head, _, method = target.partition(".")
    if method and head in defined:
        return f"Tensor.{method}"  # a method call on a graph value
    return target


def parse_graph(text: str) -> GraphShape:
    lines = [_COMMENT.sub("", line) for line in text.splitlines()]
    tokens: dict[str, str] = {}
    inputs: list[str] = []
    ops: Counter[str] = Counter()
    skeleton: list[str] = []
    outputs: list[str] = []
    in_signature = False
    open_parens = 0  # > 0 while inside a (multi-line) return statement
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("def forward("):
            # A new graph (the backward section, a higher-order op's submodule):
            # its names are its own.
            in_signature, open_parens, tokens = True, 0, {}
        if in_signature:
            for placeholder in _PLACEHOLDER.finditer(stripped):
                tokens[placeholder["name"]] = f"in{len(inputs)}"
                inputs.append(placeholder["ann"])
            in_signature = not stripped.endswith("):")
            continue
        if stripped.startswith("return") or open_parens > 0:
            outputs.extend(tokens.get(name, name) for name in _IDENT.findall(stripped.removeprefix("return")) if name != "None")
            open_parens += stripped.count("(") - stripped.count(")")
            continue
        match = _ASSIGN.match(line)
        if not match or match["name"] == "self":
            continue
        rhs = match["rhs"]
        call = _CALL.match(rhs)
        if call:
            ops[_op_name(call["target"], set(tokens))] += 1
        body = _IDENT.sub(lambda m, names=tokens: names.get(m.group(0), m.group(0)), rhs)
        token = f"v{len(skeleton)}"
        skeleton.append(f"{token}: {match['ann'] or ''} = {body}")
        tokens[match["name"]] = token
    return GraphShape(tuple(inputs), tuple(outputs), ops, tuple(skeleton))


def _delta_lines(before: Counter[str], after: Counter[str]) -> list[str]:
    return [f"{name} {before[name]} → {after[name]}" for name in sorted(set(before) | set(after)) if before[name] != after[name]]


def _graph_change(before: str, after: str) -> tuple[str, list[str]]:
    old, new = parse_graph(before), parse_graph(after)
    summary = _delta_lines(old.ops, new.ops)
    if len(old.inputs) != len(new.inputs):
        summary.append(f"inputs {len(old.inputs)} → {len(new.inputs)}")
    if len(old.outputs) != len(new.outputs):
        summary.append(f"outputs {len(old.outputs)} → {len(new.outputs)}")
    old_sizes, new_sizes = [a for a in old.inputs if a not in new.inputs], [a for a in new.inputs if a not in old.inputs]
    if old_sizes or new_sizes:
        summary.append(f"input types: {', '.join(old_sizes) or '-'} → {', '.join(new_sizes) or '-'}")
    if old.ops != new.ops or old.generic_skeleton != new.generic_skeleton:
        if len(old.skeleton) != len(new.skeleton):
            summary.append(f"nodes {len(old.skeleton)} → {len(new.skeleton)}")
        elif not summary:
            summary.append(f"dataflow changed in {sum(a != b for a, b in zip(old.skeleton, new.skeleton, strict=True))} of {len(new.skeleton)} nodes")
        return Classification.STRUCTURAL, summary
    if old.inputs != new.inputs or old.outputs != new.outputs:
        return Classification.SIGNATURE, summary or ["inputs or outputs reordered"]
    if old.skeleton != new.skeleton:
        return Classification.SIGNATURE, ["input references changed"]
    return Classification.TEXT_ONLY, ["names or comments only"]


_GUARD_KIND = re.compile(r"\+- (\w+)")


def guard_kinds(text: str) -> Counter[str]:
    return Counter(match[1] for match in _GUARD_KIND.finditer(text) if match[1] != "RootGuardManager")


def _guards_change(before: str, after: str) -> tuple[str, list[str]]:
    old, new = guard_kinds(before), guard_kinds(after)
    summary = _delta_lines(old, new)
    total_old, total_new = sum(old.values()), sum(new.values())
    if total_old != total_new:
        summary.insert(0, f"guards {total_old} → {total_new}")
    return Classification.GUARDS, summary or ["same guard kinds and counts; guard text changed"]


def _counts(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def _summary_change(before: str, after: str) -> tuple[str, list[str]]:
    old, new = _counts(before), _counts(after)
    summary = [f"{k} {old.get(k, '-')} → {new.get(k, '-')}" for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    return (Classification.STRUCTURAL, summary) if summary else (Classification.TEXT_ONLY, ["wording only"])


def _line_delta(before: str, after: str) -> str:
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag in ("replace", "delete"))
    added = sum(j2 - j1 for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert"))
    return f"{removed} line(s) removed, {added} added (of {len(old)} → {len(new)})"


def describe_change(key: str, before: str, after: str) -> tuple[str, list[str]]:
    """``(classification, summary lines)`` for two different texts of ``key``."""
    kind = family(key)
    if kind == Family.GUARDS:
        classification, summary = _guards_change(before, after)
    elif kind == Family.SUMMARY:
        classification, summary = _summary_change(before, after)
    elif kind == Family.GRAPH and "def forward(" in before + after:
        classification, summary = _graph_change(before, after)
    else:  # generated code and other text: any change counts
        classification, summary = Classification.STRUCTURAL, [_line_delta(before, after)]
    if len(summary) > SUMMARY_LINES:
        summary = [*summary[: SUMMARY_LINES - 1], f"... and {len(summary) - SUMMARY_LINES + 1} more"]
    return classification, summary
