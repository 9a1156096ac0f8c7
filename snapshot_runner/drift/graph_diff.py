"""What changed between two graphs, in words and as a diff: the nodes of one
graph aligned with those of the other (by dataflow, then by the sequence of
ops), so the summary and the diff speak in the old graph's names and renames
or moves do not show as changes."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

from snapshot_runner.drift.graph_text import Graph, parse
from snapshot_runner.drift.semantic import Level, View, canonical_order, graph_level, topological

# --- alignment: which node of one graph is which of the other ------------------------


def align(old: Graph, new: Graph) -> dict[str, str]:
    """new name -> old name, for inputs and nodes that correspond: inputs by
    descriptor, then position; nodes by op and (aligned) arguments, then by their
    place in the sequence of ops."""
    mapping: dict[str, str] = {}
    by_descriptor = {inp.descriptor: inp.name for inp in old.inputs if inp.descriptor}
    free_old = [inp for inp in old.inputs if inp.descriptor not in {n.descriptor for n in new.inputs} or not inp.descriptor]
    free_new = []
    for inp in new.inputs:
        if inp.descriptor and inp.descriptor in by_descriptor:
            mapping[inp.name] = by_descriptor[inp.descriptor]
        else:
            free_new.append(inp)
    for a, b in zip(free_old, free_new, strict=False):
        mapping[b.name] = a.name

    def match_by_dataflow() -> None:
        taken = set(mapping.values())
        wanted: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for node in old.nodes:
            if node.name not in taken:
                wanted.setdefault((node.template, node.refs), []).append(node.name)
        for node in new.nodes:
            if node.name in mapping:
                continue
            candidates = wanted.get((node.template, tuple(mapping.get(r, "?" + r) for r in node.refs)))
            if candidates:
                mapping[node.name] = candidates.pop(0)

    match_by_dataflow()
    taken = set(mapping.values())
    rest_old = [n for n in old.nodes if n.name not in taken]
    rest_new = [n for n in new.nodes if n.name not in mapping]
    matcher = difflib.SequenceMatcher(None, [n.op for n in rest_old], [n.op for n in rest_new], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for was, now in zip(rest_old[i1:i2], rest_new[j1:j2], strict=True):
                mapping[now.name] = was.name
    match_by_dataflow()
    return mapping


def _render(graph: Graph, names: dict[str, str], order: Sequence[int]) -> list[str]:
    lines = [f"# {graph.title}", "inputs:"]
    lines += [f"    {names.get(i.name, i.name)}: {i.ann!r}" + (f"  # {i.descriptor}" if i.descriptor not in ("", i.name) else "") for i in graph.inputs]
    for i in order:
        node = graph.nodes[i]
        lines.append(f"{names.get(node.name, node.name)}: {node.ann!r} = {node.body(names)}")
    lines.append("outputs:")
    lines += [f"    {names.get(o.ref, o.ref)}" + (f"  # {o.descriptor}" if o.descriptor else "") for o in graph.outputs]
    return lines


def _aligned_order(new: Graph, mapping: dict[str, str], old: Graph) -> list[int]:
    """``new``'s nodes in ``old``'s order where they correspond; others after the node before them."""
    old_index = {node.name: i for i, node in enumerate(old.nodes)}
    place: list[tuple[object, ...]] = []
    last = -1.0
    for node in new.nodes:
        target = old_index.get(mapping.get(node.name, ""))
        last = float(target) if target is not None else last + 1e-3
        place.append((last,))
    return topological(new, place)


def aligned_diff(old_text: str, new_text: str, before: str = "before", after: str = "after") -> str:
    """A unified diff of the canonical forms, ``after`` named and ordered like
    ``before`` where its nodes correspond, so renames and moves do not show."""
    return aligned_diff_parsed(parse(old_text), parse(new_text), before, after)


def aligned_diff_parsed(old_graphs: Sequence[Graph], new_graphs: Sequence[Graph], before: str = "before", after: str = "after") -> str:
    """``aligned_diff`` of texts already parsed."""
    old_lines: list[str] = []
    new_lines: list[str] = []
    for index in range(max(len(old_graphs), len(new_graphs))):
        old = old_graphs[index] if index < len(old_graphs) else None
        new = new_graphs[index] if index < len(new_graphs) else None
        if old is not None:
            old_lines += _render(old, {}, range(len(old.nodes)))
        if new is not None:
            mapping = align(old, new) if old is not None else {}
            # A node with no counterpart keeps its name unless that name means another node before.
            clashing = set(mapping.values())
            names = {n: mapping.get(n, n + "'" if n in clashing else n) for n in [i.name for i in new.inputs] + [n.name for n in new.nodes]}
            order = _aligned_order(new, mapping, old) if old is not None else list(range(len(new.nodes)))
            new_lines += _render(new, names, order)
    diff = difflib.unified_diff(old_lines, new_lines, before, after, n=2, lineterm="")
    return "\n".join(diff) + "\n"


# --- what changed, in words -----------------------------------------------------------


def _renamed_count(old: Graph, new: Graph, order_old: Sequence[int], order_new: Sequence[int]) -> int:
    names = sum(a.name != b.name for a, b in zip(old.inputs, new.inputs, strict=True))
    names += sum(a != b for a, b in zip(old.aliases, new.aliases, strict=False)) + abs(len(old.aliases) - len(new.aliases))
    return names + sum(old.nodes[i].name != new.nodes[j].name for i, j in zip(order_old, order_new, strict=True))


def _moved_count(old: Graph, new: Graph, mapping: dict[str, str]) -> int:
    """Nodes out of place: all but the longest run kept in the same relative order."""
    old_index = {node.name: i for i, node in enumerate(old.nodes)}
    sequence = [old_index[mapping[n.name]] for n in new.nodes if mapping.get(n.name) in old_index]
    matcher = difflib.SequenceMatcher(None, sorted(sequence), sequence, autojunk=False)
    return len(sequence) - sum(block.size for block in matcher.get_matching_blocks())


def _signature_lines(old: Graph, new: Graph) -> list[str]:
    lines = []
    if len(old.inputs) != len(new.inputs):
        lines.append(f"inputs {len(old.inputs)} → {len(new.inputs)}")
    elif [i.descriptor for i in old.inputs] != [i.descriptor for i in new.inputs]:
        lines.append("inputs reordered or redescribed")
    if len(old.outputs) != len(new.outputs):
        lines.append(f"outputs {len(old.outputs)} → {len(new.outputs)}")
    elif [o.descriptor for o in old.outputs] != [o.descriptor for o in new.outputs]:
        lines.append("outputs reordered or redescribed")
    old_types, new_types = Counter(i.ann for i in old.inputs), Counter(i.ann for i in new.inputs)
    gone, added = old_types - new_types, new_types - old_types
    if gone or added:
        lines.append(f"input types: {', '.join(sorted(gone.elements())) or '-'} → {', '.join(sorted(added.elements())) or '-'}")
    return lines


def _metadata_lines(old: Graph, new: Graph, mapping: dict[str, str]) -> list[str]:
    old_ann = {i.name: i.ann for i in old.inputs} | {n.name: n.ann for n in old.nodes}
    items = [(x.name, x.ann) for x in new.inputs] + [(x.name, x.ann) for x in new.nodes]
    changed = [f"{mapping[name]}: {old_ann[mapping[name]]} → {ann}" for name, ann in items if name in mapping and old_ann[mapping[name]] != ann]
    return [f"{len(changed)} type(s) changed", *changed]


def _structural_lines(old: Graph, new: Graph, mapping: dict[str, str]) -> list[str]:
    old_ops, new_ops = Counter(n.op for n in old.nodes), Counter(n.op for n in new.nodes)
    lines = [f"{op} {old_ops[op]} → {new_ops[op]}" for op in sorted(set(old_ops) | set(new_ops)) if old_ops[op] != new_ops[op]]
    if len(old.nodes) != len(new.nodes):
        lines.append(f"nodes {len(old.nodes)} → {len(new.nodes)}")
    old_by_name = {n.name: n for n in old.nodes}
    rewired = sum(
        1
        for n in new.nodes
        if n.name in mapping
        and mapping[n.name] in old_by_name
        and (old_by_name[mapping[n.name]].template, old_by_name[mapping[n.name]].refs) != (n.template, tuple(mapping.get(r, r) for r in n.refs))
    )
    if rewired:
        lines.append(f"dataflow changed in {rewired} of {len(new.nodes)} nodes")
    return lines + _signature_lines(old, new)


def describe_graphs(old: Graph, new: Graph) -> tuple[Level, list[str]]:
    level = graph_level(old, new)
    if level == Level.TEXT:
        return level, ["same graph; layout or comments only"]
    if level == Level.RENAMED:
        return level, [f"same graph, {_renamed_count(old, new, range(len(old.nodes)), range(len(new.nodes)))} names changed"]
    mapping = align(old, new)
    if level == Level.REORDERED:
        full = View()
        renamed = _renamed_count(old, new, canonical_order(old, full), canonical_order(new, full))
        return level, [f"same dataflow, {_moved_count(old, new, mapping)} node(s) moved, {renamed} names changed"]
    if level == Level.METADATA:
        return level, _metadata_lines(old, new, mapping)
    if level == Level.SIGNATURE:
        return level, _signature_lines(old, new) or ["inputs or outputs changed"]
    return level, _structural_lines(old, new, mapping) or ["dataflow changed"]


def describe(old_text: str, new_text: str) -> tuple[Level, list[str]]:
    """Level and summary of two texts of a graph artifact (the weakest graph decides)."""
    return describe_parsed(parse(old_text), parse(new_text))


def describe_parsed(old_graphs: Sequence[Graph], new_graphs: Sequence[Graph]) -> tuple[Level, list[str]]:
    """``describe`` of texts already parsed."""
    if [g.title for g in old_graphs] != [g.title for g in new_graphs]:
        return Level.STRUCTURAL, [f"graphs {len(old_graphs)} → {len(new_graphs)}: {', '.join(g.title for g in new_graphs) or '-'}"]
    if not old_graphs:
        return Level.STRUCTURAL, ["no graph found in the text"]
    pairs = list(zip(old_graphs, new_graphs, strict=True))
    changed = [(a, b) for a, b in pairs if a != b] or pairs[:1]  # none: the layout alone changed
    results = [(b.title, *describe_graphs(a, b)) for a, b in changed]
    level = max((lvl for _, lvl, _ in results), key=lambda lvl: lvl.rank)
    several = len(pairs) > 1
    return level, [f"{title}: {line}" if several else line for title, _, lines in results for line in lines]
