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

import ast
import dataclasses
import hashlib
import heapq
import re
from collections import Counter
from collections.abc import Sequence

from snapshot_runner.capture.artifacts import SECTION_PREFIX
from snapshot_runner.capture.vocabulary import StrEnum


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


@dataclasses.dataclass(frozen=True)
class Input:
    name: str
    ann: str
    descriptor: str  # the AOT descriptor comment, or a Dynamo source name; "" when none


# A reference to an input or another node inside a node's template.
REF = "\x00"
_IN_PLACE = re.compile(r"(?:^|\.)(?!_)\w*[a-z0-9]_(?:\.\w+)?\(")
_STATEFUL = re.compile(r"set_|_enter|_exit|assert|record|print|seed|rand|bernoulli|dropout|normal|uniform|multinomial|exponential|cauchy|geometric")


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    ann: str
    template: str  # the right-hand side with each reference replaced by ``REF``
    refs: tuple[str, ...]  # the referenced names, in order

    @property
    def op(self) -> str:
        return _op_of(self.template)

    @property
    def ordered(self) -> bool:
        """In-place ops (``copy_``, ``.add_()``), global state and random numbers:
        no node may move across one of these."""
        return bool(_IN_PLACE.search(self.template) or _STATEFUL.search(self.op))

    def body(self, names: dict[str, str]) -> str:
        """The right-hand side with each reference written by its name in ``names`` (or as is)."""
        parts = self.template.split(REF)
        return parts[0] + "".join(names.get(ref, ref) + part for ref, part in zip(self.refs, parts[1:], strict=False))


@dataclasses.dataclass(frozen=True)
class Output:
    ref: str  # a name, or a literal such as ``None``
    descriptor: str


@dataclasses.dataclass(frozen=True)
class Graph:
    title: str  # section and module: ``forward/GraphModule``
    inputs: tuple[Input, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[Output, ...]
    aliases: tuple[str, ...] = ()  # ``l_x_ = L_x_``: names only, so renaming one is a rename


# --- parsing -----------------------------------------------------------------------

_CLASS = re.compile(r"^\s*class (?P<name>\S+)\(.*\):\s*$")
_DEF = re.compile(r"^\s*def forward\((?P<rest>.*)$")
_PARAM = re.compile(r'(?P<name>\w+)(?:: "(?P<ann>[^"]*)")?')
_ASSIGN = re.compile(r'^\s*(?P<name>\w+)(?:: "(?P<ann>[^"]*)")? = (?P<rhs>.*)$')
# Dynamo names a placeholder after its source (``L['tt']`` -> ``L_tt_``): the name is the input's identity.
_SOURCE_NAME = re.compile(r"^[LG]_\w+_$")


def _split_comment(line: str) -> tuple[str, str]:
    """``code  # comment`` -> (code, comment), ignoring ``#`` inside quotes."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def _drop_dead_names(code: str) -> str:
    """``view = f(x);  x = None`` -> ``view = f(x)``: the cleanup is codegen, not dataflow."""
    head, sep, tail = code.partition(";  ")
    return head if sep and re.fullmatch(r"(?:\w+ = )+None", tail.strip()) else code


class _Refs(ast.NodeTransformer):
    def __init__(self, defined: dict[str, str]) -> None:
        self.defined, self.refs = defined, []  # type: ignore[var-annotated]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.defined:
            self.refs.append(self.defined[node.id])
            return ast.copy_location(ast.Name(id="_REF_", ctx=node.ctx), node)
        return node


def _template(rhs: str, defined: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    try:
        tree = ast.parse(rhs.strip(), mode="eval")
    except SyntaxError:  # not Python: kept verbatim, so any change in it shows
        return rhs.strip(), ()
    visitor = _Refs(defined)
    tree = visitor.visit(tree)
    return ast.unparse(tree).replace("_REF_", REF), tuple(visitor.refs)


def _op_of(template: str) -> str:
    if template.startswith(REF + "."):
        return "Tensor." + re.split(r"[(\[]", template[2:], maxsplit=1)[0]
    call = re.match(r"^([\w.]+)\(", template)
    if call:
        return call[1].removeprefix("torch.ops.")
    if template == REF:
        return "alias"
    if re.fullmatch(REF + r"\[.*\]", template):
        return "getitem"
    binary = re.fullmatch(r"[-\w\x00. ]*?([-+*/%<>=!]+|//)[-\w\x00. ]*", template)
    return f"operator {binary[1]}" if binary else template


def _sections(text: str) -> list[tuple[str, str]]:
    parts = re.split("(?m)^" + re.escape(SECTION_PREFIX) + r"(.*)$", text)
    if len(parts) == 1:
        return [("", text)]
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _parse_section(section: str, text: str) -> list[Graph]:
    graphs: list[Graph] = []
    module = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if match := _CLASS.match(line):
            module = match["name"]
        if not (match := _DEF.match(line)):
            i += 1
            continue
        # The signature: on one line, or one parameter per line with its descriptor.
        inputs: list[Input] = []
        rest = match["rest"]
        params = [(rest, "")] if rest.rstrip().endswith("):") else []
        if not params:
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("):"):
                params.append(_split_comment(lines[i]))
                i += 1
        for code, comment in params:
            for param in _PARAM.finditer(code.removesuffix("):")):
                if param["name"] == "self":
                    continue
                descriptor = comment or (param["name"] if _SOURCE_NAME.match(param["name"]) else "")
                inputs.append(Input(param["name"], param["ann"] or "", descriptor))
        i += 1
        graph, i = _parse_body(lines, i, inputs, "/".join(filter(None, [section, module])) or "graph")
        graphs.append(graph)
    return graphs


def _parse_body(lines: list[str], i: int, inputs: list[Input], title: str) -> tuple[Graph, int]:
    defined = {inp.name: inp.name for inp in inputs}
    nodes: list[Node] = []
    outputs: list[Output] = []
    aliases: list[str] = []
    while i < len(lines):
        code, _ = _split_comment(lines[i])
        stripped = _drop_dead_names(code.strip())
        i += 1
        if not stripped:
            continue
        if stripped.startswith("return"):
            returned = stripped.removeprefix("return").strip()
            if returned == "(":  # one output per line, each with its descriptor
                while i < len(lines) and lines[i].strip() != ")":
                    value, comment = _split_comment(lines[i])
                    outputs.append(Output(defined.get(value.strip().rstrip(","), value.strip().rstrip(",")), comment))
                    i += 1
                i += 1
            else:
                template, refs = _template(returned, defined)
                outputs += _flat_outputs(template, refs)
            break
        if (match := _ASSIGN.match(stripped)) and match["name"] != "self":
            template, refs = _template(match["rhs"], defined)
            if template == REF and not match["ann"]:  # ``l_x_ = L_x_``: an alias, no node
                defined[match["name"]] = refs[0]
                aliases.append(match["name"])
                continue
            name = match["name"]
        else:  # an expression statement, or text this parser does not know: kept whole
            template, refs = _template(stripped, defined)
            name = f"_stmt{len(nodes)}"
        nodes.append(Node(name, (match["ann"] or "") if match else "", template, refs))
        defined[name] = name
    return Graph(title, tuple(inputs), tuple(nodes), tuple(outputs), tuple(aliases)), i


def _flat_outputs(template: str, refs: tuple[str, ...]) -> list[Output]:
    """``(REF, None, REF)`` -> one output per element; any other form is one output."""
    inner = template.strip()
    if inner.startswith(("(", "[")) and inner.endswith((")", "]")):
        inner = inner[1:-1]
    items = [item.strip() for item in inner.split(",") if item.strip()] if "(" not in inner else [template]
    pending = iter(refs)
    return [Output(next(pending) if item == REF else item, "") for item in items]


def parse(text: str) -> list[Graph]:
    """Every graph of a graph artifact, in order: sections, then modules within each."""
    return [graph for section, body in _sections(text) for graph in _parse_section(section, body)]


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


def _node_keys(graph: Graph, view: View) -> dict[str, str]:
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
    keys = _node_keys(graph, view)
    users: dict[str, list[str]] = {node.name: [] for node in graph.nodes}
    for node in graph.nodes:
        for ref in dict.fromkeys(node.refs):
            if ref in users:
                users[ref].append(node.name)
    rank = [(keys[n.name], _digest(keys[n.name], sorted(keys[u] for u in users[n.name]))) for n in graph.nodes]
    return topological(graph, rank)


def canonical(graph: Graph, order: Sequence[int] | None = None, view: View = View()) -> tuple[str, ...]:
    """The graph with inputs named ``in0..`` and nodes ``v0..`` in ``order`` (text order by default)."""
    order = range(len(graph.nodes)) if order is None else order
    names = {inp.name: f"in{i}" for i, inp in enumerate(graph.inputs)}
    lines = [f"in{i}: {inp.ann if view.meta else ''}  # {inp.descriptor}" for i, inp in enumerate(graph.inputs)] if view.signature else []
    for position, i in enumerate(order):
        names[graph.nodes[i].name] = f"v{position}"
    for i in order:
        node = graph.nodes[i]
        lines.append(f"{names[node.name]}: {node.ann if view.meta else ''} = {node.body(names)}")
    if view.signature:
        lines += [f"out: {names.get(out.ref, out.ref)}  # {out.descriptor}" for out in graph.outputs]
    return tuple(lines)


def _same_body(old: Graph, new: Graph) -> bool:
    """The same nodes reading the same inputs (known by descriptor), types aside,
    and the same computed values returned; inputs and outputs themselves may differ."""
    view = View(meta=False, signature=False)
    old_keys, new_keys = _node_keys(old, view), _node_keys(new, view)
    body = Counter(old_keys[n.name] for n in old.nodes) == Counter(new_keys[n.name] for n in new.nodes)
    old_nodes, new_nodes = {n.name for n in old.nodes}, {n.name for n in new.nodes}
    returned = {old_keys[o.ref] for o in old.outputs if o.ref in old_nodes} == {new_keys[o.ref] for o in new.outputs if o.ref in new_nodes}
    return body and returned


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
