"""What changed between two graphs, in words and as a diff: the nodes of one
graph aligned with those of the other (by dataflow, then by the sequence of
ops), so the summary and the diff speak in the old graph's names and renames
or moves do not show as changes. The diff never invents: a line the text
leaves unchanged reads the same on both sides, a node with no counterpart keeps
its own name, and one matched to a node of another op shows both (``gelu→relu``);
tests/test_semantic_view.py checks it as a property."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

from snapshot_runner.drift.graph_text import Graph, parse
from snapshot_runner.drift.semantic import Level, View, canonical_order, graph_level, topological

# --- alignment: which node of one graph is which of the other ------------------------


def _same_text(old: Graph, new: Graph) -> dict[str, str]:
    """Inputs and nodes whose text the two graphs share (name, type, op and the
    names they read), each mapped to itself, and the names those read: a line the
    raw diff leaves unchanged must read the same in the aligned view."""
    anchors: dict[str, str] = {}
    old_inputs = {i.name: i for i in old.inputs}
    old_nodes = {n.name: (n.ann, n.template, n.refs) for n in old.nodes}
    for inp in new.inputs:
        if old_inputs.get(inp.name) == inp:
            anchors[inp.name] = inp.name
    read: list[str] = []
    for node in new.nodes:
        if old_nodes.get(node.name) == (node.ann, node.template, node.refs):
            anchors[node.name] = node.name
            read += node.refs
    old_outputs = set(old.outputs)
    read += [o.ref for o in new.outputs if o in old_outputs and (o.descriptor or new.outputs == old.outputs)]
    known = {i.name for i in old.inputs} | set(old_nodes)
    anchors.update({name: name for name in read if name in known})
    return anchors


def align(old: Graph, new: Graph, *, by_text: bool = False) -> dict[str, str]:
    """new name -> old name, for inputs and nodes that correspond: (``by_text``:
    those with the same text first) inputs by descriptor, then position; nodes by
    op and (aligned) arguments, then by their place in the sequence of ops."""
    mapping: dict[str, str] = _same_text(old, new) if by_text else {}
    taken = set(mapping.values())
    by_descriptor = {inp.descriptor: inp.name for inp in old.inputs if inp.descriptor and inp.name not in taken}
    new_descriptors = {n.descriptor for n in new.inputs if n.name not in mapping}
    free_old = [inp for inp in old.inputs if inp.name not in taken and (inp.descriptor not in new_descriptors or not inp.descriptor)]
    free_new = []
    for inp in new.inputs:
        if inp.name in mapping:
            continue
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


# A line of the aligned view, and the line of the text it shows (-1: a heading).
Shown = tuple[str, int]


def _render(graph: Graph, names: dict[str, str], order: Sequence[int], labels: dict[str, str] | None = None) -> list[Shown]:
    """The graph's lines, each reference written by ``names`` and each input or node
    labelled by ``labels`` (``gelu→relu``) or else by ``names``."""
    label = {**names, **(labels or {})}
    lines: list[Shown] = [(f"# {graph.title}", -1), ("inputs:", -1)]
    lines += [
        (f"    {label.get(i.name, i.name)}: {i.ann!r}" + (f"  # {i.descriptor}" if i.descriptor not in ("", i.name) else ""), i.line) for i in graph.inputs
    ]
    for i in order:
        node = graph.nodes[i]
        # A statement that writes in place (``x += 1``, ``x[0] = y``) is shown as written: it binds no new name.
        shown = node.body(names) if node.mutates else f"{label.get(node.name, node.name)}: {node.ann!r} = {node.body(names)}"
        lines.append((shown, node.line))
    lines.append(("outputs:", -1))
    lines += [(f"    {names.get(o.ref, o.ref)}" + (f"  # {o.descriptor}" if o.descriptor else ""), o.line) for o in graph.outputs]
    return lines


def _shown(old: Graph, new: Graph, mapping: dict[str, str]) -> dict[str, str]:
    """The correspondences the view names by the old name: not an input matched
    only by its place that is another input (another descriptor or type: a new
    packed ``u8`` input is not the old ``sub``); it keeps its own name."""
    old_inputs = {i.name: i for i in old.inputs}
    other = {
        i.name
        for i in new.inputs
        if (was := old_inputs.get(mapping.get(i.name, ""))) is not None and was.name != i.name and (was.descriptor, was.ann) != (i.descriptor, i.ann)
    }
    return {n: o for n, o in mapping.items() if n not in other}


def _labels(old: Graph, new: Graph, mapping: dict[str, str]) -> dict[str, str]:
    """Both names where a node matched to an old one computes another op (``gelu→relu``)."""
    old_ops = {n.name: n.op for n in old.nodes}
    return {n.name: f"{mapping[n.name]}→{n.name}" for n in new.nodes if mapping.get(n.name, n.name) != n.name and old_ops.get(mapping[n.name]) != n.op}


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


def _text_name(name: str) -> str:
    """The name the text writes: ``z'`` is the parser's name for ``z`` bound again (``z += 3``)."""
    return name.rstrip("'")


def _own_name(name: str, clashing: set[str]) -> str:
    """A node with no counterpart keeps its name, primed where that name means another node here
    (not where the text itself binds the name again: it is written so)."""
    return name + "'" if name in clashing else _text_name(name)


def aligned_views(old_graphs: Sequence[Graph], new_graphs: Sequence[Graph]) -> tuple[list[Shown], list[Shown]]:
    """The two sides of the aligned view, each line with the text line it shows:
    ``new`` named like ``old`` where its inputs and nodes correspond (renames do
    not show), in ``old``'s order (moves do not show); a node or input with no
    counterpart keeps its own name (primed where that name means another one here)."""
    old_lines: list[Shown] = []
    new_lines: list[Shown] = []
    for index in range(max(len(old_graphs), len(new_graphs))):
        old = old_graphs[index] if index < len(old_graphs) else None
        new = new_graphs[index] if index < len(new_graphs) else None
        if old is not None:
            old_lines += _render(old, {n.name: _text_name(n.name) for n in old.nodes}, range(len(old.nodes)))
        if new is not None:
            mapping = _shown(old, new, align(old, new, by_text=True)) if old is not None else {}
            clashing = set(mapping.values())
            names = {n: _text_name(mapping[n]) if n in mapping else _own_name(n, clashing) for n in [i.name for i in new.inputs] + [n.name for n in new.nodes]}
            order = _aligned_order(new, mapping, old) if old is not None else list(range(len(new.nodes)))
            new_lines += _render(new, names, order, _labels(old, new, mapping) if old is not None else None)
    return old_lines, new_lines


def aligned_diff_parsed(old_graphs: Sequence[Graph], new_graphs: Sequence[Graph], before: str = "before", after: str = "after") -> str:
    """``aligned_diff`` of texts already parsed."""
    old_lines, new_lines = aligned_views(old_graphs, new_graphs)
    diff = difflib.unified_diff([text for text, _ in old_lines], [text for text, _ in new_lines], before, after, n=2, lineterm="")
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
