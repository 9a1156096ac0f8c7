"""A canonical form of a graph, built from its printed text, and the level at
which two graphs are the same.

Pure text in (``print_readable`` output, sections ``===== forward`` and
submodules included), no torch: it reads runs recorded under any torch.

A graph is its inputs (position, type, descriptor comment), its nodes (op and
arguments as references to inputs and other nodes, type annotation) and its
outputs (references with descriptors). Names are not part of it. Two graphs
compare at the strongest level that holds (``Level``, weakest change first):

- ``renamed``: equal once nodes are named by position (alpha-equivalent);
- ``reordered``: the same dataflow DAG in another topological order;
- ``metadata``: the same DAG once shapes, dtypes, strides and symbols are erased;
- ``signature``: the same body (inputs known by descriptor) but other inputs or outputs;
- ``structural``: ops or dataflow changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections import Counter
from collections.abc import Sequence

from snapshot_runner.capture.vocabulary import StrEnum
from snapshot_runner.drift.graph_text import Graph
from snapshot_runner.drift.graph_text import parse as parse  # the text a canonical form is built from


class Level(StrEnum):
    """How much two texts of one artifact differ, least first; ``--fail-on`` takes one."""

    TEXT = "text"  # only layout or comments the canonical form leaves out
    RENAMED = "renamed"  # graphs: alpha-equivalent
    REORDERED = "reordered"  # graphs: same DAG, other topological order; guards: same set, other order
    METADATA = "metadata"  # graphs: same DAG, other shapes, dtypes, strides or symbols
    GUARDS = "guards"  # guards added, removed or changed; recompile reasons changed
    SIGNATURE = "signature"  # graphs: inputs or outputs changed
    STRUCTURAL = "structural"  # ops or dataflow, counts in the compile summary, generated code

    @property
    def rank(self) -> int:
        return list(Level).index(self)


# --- canonical forms -----------------------------------------------------------------


def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class View:
    """Which parts of a graph a comparison looks at."""

    meta: bool = True  # types of inputs and nodes
    signature: bool = True  # inputs known by position (else by descriptor) and outputs


def _dependencies(graph: Graph) -> list[set[int]]:
    """What each node must follow: its arguments, and the barriers of ``ordered``
    nodes (one follows everything before it and precedes everything after it)."""
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    deps: list[set[int]] = []
    barrier: int | None = None
    since: list[int] = []
    for i, node in enumerate(graph.nodes):
        mine = {index[r] for r in node.refs if r in index}
        if barrier is not None:
            mine.add(barrier)
        if node.ordered:
            mine.update(since)
            barrier, since = i, []
        else:
            since.append(i)
        deps.append(mine)
    return deps


def topological(graph: Graph, rank: Sequence[tuple[object, ...]]) -> list[int]:
    """Kahn's algorithm: of the nodes whose dependencies are placed, the lowest rank goes first."""
    deps = _dependencies(graph)
    users: list[list[int]] = [[] for _ in graph.nodes]
    for j, mine in enumerate(deps):
        for i in mine:
            users[i].append(j)
    waiting = [len(mine) for mine in deps]
    ready = [(rank[i], i) for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in users[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (rank[j], j))
    return order


def _input_keys(graph: Graph, view: View) -> dict[str, str]:
    if view.signature:
        return {inp.name: _digest("in", i, inp.ann if view.meta else "", inp.descriptor) for i, inp in enumerate(graph.inputs)}
    # Known by descriptor alone, so a body that reads the same inputs reads the same keys
    # wherever the inputs moved; inputs without one are told apart by type.
    return {inp.name: _digest("in", inp.descriptor or inp.ann) for inp in graph.inputs}


def node_keys(graph: Graph, view: View) -> dict[str, str]:
    """A Merkle key per node: its op, its type and its arguments' keys (names left out)."""
    keys = _input_keys(graph, view)
    barriers = 0
    for node in graph.nodes:
        barriers += node.ordered
        keys[node.name] = _digest(node.template, node.ann if view.meta else "", [keys.get(r, r) for r in node.refs], barriers)
    return keys


def canonical_order(graph: Graph, view: View) -> list[int]:
    """A topological order that depends only on the DAG: among the nodes ready,
    the one with the smallest (key, users' keys) goes first."""
    keys = node_keys(graph, view)
    users: dict[str, list[str]] = {node.name: [] for node in graph.nodes}
    for node in graph.nodes:
        for ref in dict.fromkeys(node.refs):
            if ref in users:
                users[ref].append(node.name)
    rank = [(keys[n.name], _digest(keys[n.name], sorted(keys[u] for u in users[n.name]))) for n in graph.nodes]
    return topological(graph, rank)


def _pinned(graph: Graph) -> set[str]:
    """Nodes whose value an in-place op may change: ordered ones and all they read, transitively."""
    pinned: set[str] = set()
    for node in reversed(graph.nodes):
        if node.ordered or node.name in pinned:
            pinned.add(node.name)
            pinned.update(node.refs)
    return pinned


def canonical(graph: Graph, order: Sequence[int] | None = None, view: View = View()) -> tuple[str, ...]:
    """The graph with inputs named ``in0..`` and nodes ``v0..`` in ``order`` (text order by default).

    Pure nodes with the same key compute the same value: a reference to any of them
    is written as the first one's name, so two identical nodes that swap places
    (``ScaledMMConfig(False, False)`` twice) are not another graph."""
    order = range(len(graph.nodes)) if order is None else order
    names = {inp.name: f"in{i}" for i, inp in enumerate(graph.inputs)}
    lines = [f"in{i}: {inp.ann if view.meta else ''}  # {inp.descriptor}" for i, inp in enumerate(graph.inputs)] if view.signature else []
    for position, i in enumerate(order):
        names[graph.nodes[i].name] = f"v{position}"
    keys, pinned = node_keys(graph, view), _pinned(graph)
    first: dict[str, str] = {}
    refs = dict(names)
    for i in order:
        name = graph.nodes[i].name
        if name not in pinned:
            refs[name] = first.setdefault(keys[name], names[name])
    for i in order:
        node = graph.nodes[i]
        lines.append(f"{names[node.name]}: {node.ann if view.meta else ''} = {node.body(refs)}")
    if view.signature:
        lines += [f"out: {refs.get(out.ref, out.ref)}  # {out.descriptor}" for out in graph.outputs]
    return tuple(lines)


def _same_body(old: Graph, new: Graph) -> bool:
    """The same nodes reading the same inputs (known by descriptor), types aside;
    inputs and outputs themselves may differ (an ``aot_forward`` saving more for backward)."""
    view = View(meta=False, signature=False)
    old_keys, new_keys = node_keys(old, view), node_keys(new, view)
    return Counter(old_keys[n.name] for n in old.nodes) == Counter(new_keys[n.name] for n in new.nodes)


def graph_level(old: Graph, new: Graph) -> Level:
    """The strongest level at which two graphs are the same."""
    if canonical(old) == canonical(new):
        return Level.RENAMED if old != new else Level.TEXT
    full = View()
    if canonical(old, canonical_order(old, full)) == canonical(new, canonical_order(new, full)):
        return Level.REORDERED
    bare = View(meta=False)
    if canonical(old, canonical_order(old, bare), bare) == canonical(new, canonical_order(new, bare), bare):
        return Level.METADATA
    if _same_body(old, new):
        return Level.SIGNATURE
    return Level.STRUCTURAL
