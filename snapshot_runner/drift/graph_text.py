"""A printed graph (``print_readable`` output, sections ``===== forward`` and
submodules included) read into inputs, nodes and outputs, each node with the
references it reads. Pure text in, no torch.

Every statement form carries its references: one node per assignment (several
statements on a line, multiple targets, tuple unpacking), augmented assignments
(``l_x_ += 1`` reads ``l_x_`` and rebinds the name), writes into subscripts,
expression statements, nested tuples in returns. In-place statements are
``ordered``: no node may move across one.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import re

from snapshot_runner.capture.artifacts import SECTION_PREFIX


@dataclasses.dataclass(frozen=True)
class Input:
    name: str
    ann: str
    descriptor: str  # the AOT descriptor comment, or a Dynamo source name; "" when none
    line: int = dataclasses.field(default=-1, compare=False)


# A reference to an input or another node inside a node's template.
REF = "\x00"
_IN_PLACE = re.compile(r"(?:^|\.)(?!_)\w*[a-z0-9]_(?:\.\w+)?\(")
_STATEFUL = re.compile(r"set_|_enter|_exit|assert|record|print|seed|setitem|rand|bernoulli|dropout|normal|uniform|multinomial|exponential|cauchy|geometric")


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    ann: str
    template: str  # the right-hand side with each reference replaced by ``REF``
    refs: tuple[str, ...]  # the referenced names, in order
    mutates: bool = False  # writes into a tensor it reads (``l_x_ += 1``, ``x[0] = y``)
    line: int = dataclasses.field(default=-1, compare=False)  # where it is in the text (0-based)

    @property
    def op(self) -> str:
        return _op_of(self.template)

    @property
    def ordered(self) -> bool:
        """In-place ops (``copy_``, ``.add_()``), global state and random numbers:
        no node may move across one of these."""
        return bool(self.mutates or _IN_PLACE.search(self.template) or _STATEFUL.search(self.op))

    def body(self, names: dict[str, str]) -> str:
        """The right-hand side with each reference written by its name in ``names`` (or as is)."""
        parts = self.template.split(REF)
        return parts[0] + "".join(names.get(ref, ref) + part for ref, part in zip(self.refs, parts[1:], strict=False))


@dataclasses.dataclass(frozen=True)
class Output:
    ref: str  # a name, or a literal such as ``None``
    descriptor: str
    line: int = dataclasses.field(default=-1, compare=False)


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


class _Refs(ast.NodeTransformer):
    def __init__(self, defined: dict[str, str]) -> None:
        self.defined, self.refs = defined, []  # type: ignore[var-annotated]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.defined:
            self.refs.append(self.defined[node.id])
            return ast.copy_location(ast.Name(id="_REF_", ctx=node.ctx), node)
        return node


def _template(tree: ast.AST, defined: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """Python (an expression or a statement) with each defined name replaced by ``REF``."""
    visitor = _Refs(defined)
    tree = visitor.visit(tree)
    return ast.unparse(tree).replace("_REF_", REF), tuple(visitor.refs)


def _statements(code: str) -> list[ast.stmt] | None:
    """The statements of one line (``a = f(x);  x = None`` is two), or None where it is not Python."""
    try:
        return ast.parse(code).body
    except SyntaxError:
        return None


def _is_cleanup(statement: ast.stmt) -> bool:
    """``x = None`` after a node on its line: codegen freeing names, not dataflow."""
    return (
        isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is None
        and all(isinstance(t, ast.Name) for t in statement.targets)
    )


def _annotation(statement: ast.AnnAssign) -> str:
    ann = statement.annotation
    return ann.value if isinstance(ann, ast.Constant) and isinstance(ann.value, str) else ast.unparse(ann)


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


def _sections(lines: list[str]) -> list[tuple[str, int, int]]:
    """Each section's title and its lines' range (the whole text where there are none)."""
    starts = [i for i, line in enumerate(lines) if line.startswith(SECTION_PREFIX)]
    if not starts:
        return [("", 0, len(lines))]
    bounds = [*starts, len(lines)]
    return [(lines[s].removeprefix(SECTION_PREFIX).strip(), s + 1, e) for s, e in itertools.pairwise(bounds)]


def _parse_section(section: str, lines: list[str], i: int) -> list[Graph]:
    """The graphs of ``lines`` from ``i`` on (the text's lines up to the section's end,
    so that each node knows its line in the text)."""
    graphs: list[Graph] = []
    module = ""
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
        params = [(rest, "", i)] if rest.rstrip().endswith("):") else []
        if not params:
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("):"):
                params.append((*_split_comment(lines[i]), i))
                i += 1
        for code, comment, number in params:
            for param in _PARAM.finditer(code.removesuffix("):")):
                if param["name"] == "self":
                    continue
                descriptor = comment or (param["name"] if _SOURCE_NAME.match(param["name"]) else "")
                inputs.append(Input(param["name"], param["ann"] or "", descriptor, number))
        i += 1
        graph, i = _parse_body(lines, i, inputs, "/".join(filter(None, [section, module])) or "graph")
        graphs.append(graph)
    return graphs


def _parse_body(lines: list[str], i: int, inputs: list[Input], title: str) -> tuple[Graph, int]:
    body = _Body(inputs)
    outputs: list[Output] = []
    while i < len(lines):
        number = i
        code, _ = _split_comment(lines[i])
        stripped = code.strip()
        i += 1
        if not stripped:
            continue
        if re.match(r"return\b", stripped):
            returned = stripped.removeprefix("return").strip()
            if returned == "(":  # one output per line, each with its descriptor
                while i < len(lines) and lines[i].strip() != ")":
                    value, comment = _split_comment(lines[i])
                    outputs += _outputs(value.strip().rstrip(","), body.defined, comment, i)
                    i += 1
                i += 1
            else:
                outputs += _outputs(returned, body.defined, "", number)
            break
        statements = _statements(stripped)
        if statements is None:  # not Python: kept verbatim, so any change in it shows
            body.add(f"_stmt{len(body.nodes)}", "", stripped, (), number)
            continue
        for k, statement in enumerate(statements):
            if not (k and _is_cleanup(statement)):
                body.statement(statement, number)
    return Graph(title, tuple(inputs), tuple(body.nodes), tuple(outputs), tuple(body.aliases)), i


class _Body:
    """The nodes of a graph body as its statements are read, and which node each name means."""

    def __init__(self, inputs: list[Input]) -> None:
        self.defined = {inp.name: inp.name for inp in inputs}
        self.used = set(self.defined)
        self.nodes: list[Node] = []
        self.aliases: list[str] = []

    def add(self, name: str, ann: str, template: str, refs: tuple[str, ...], line: int, *, mutates: bool = False) -> str:
        while name in self.used:  # a name bound again (``z += 3``) is another node
            name += "'"
        self.used.add(name)
        self.nodes.append(Node(name, ann, template, refs, mutates, line))
        return name

    def statement(self, statement: ast.stmt, line: int) -> None:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value is not None:
            template, refs = _template(statement.value, self.defined)
            target = statement.target.id
            self.defined[target] = self.add(target, _annotation(statement), template, refs, line)
            return
        if isinstance(statement, ast.Assign) and all(isinstance(t, ast.Name) for t in statement.targets):
            targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            template, refs = _template(statement.value, self.defined)
            # ``l_x_ = L_x_``: an alias, no node; ``a = b = f(x)``: one node, the other names aliases.
            value = refs[0] if template == REF else self.add(targets[0], "", template, refs, line)
            for target in targets[template != REF :]:
                self.aliases.append(target)
            for target in targets:
                self.defined[target] = value
            return
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            # ``l_x_ += 1`` writes into the tensor ``l_x_`` names: it reads it, and the name now means this node.
            target = statement.target.id  # read first: templating rewrites the tree
            template, refs = _template(statement, self.defined)
            self.defined[target] = self.add(target, "", template, refs, line, mutates=True)
            return
        # Any other statement (a call, ``x[i] = y``, ``a, b = f(x)``) is one node, kept whole.
        bound = [n.id for t in getattr(statement, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        tree = statement.value if isinstance(statement, ast.Expr) else statement
        template, refs = _template(tree, self.defined)
        name = self.add(f"_stmt{len(self.nodes)}", "", template, refs, line, mutates=not isinstance(statement, ast.Expr))
        for k, target in enumerate(bound):  # each name unpacked is its element of the node
            self.defined[target] = self.add(target, "", f"{REF}[{k}]", (name,), line)


def _outputs(code: str, defined: dict[str, str], descriptor: str, line: int) -> list[Output]:
    """One output per element of the returned tuple, nested ones included (``((outs,), (w,))``:
    each known by its place); a literal (``None``) is an output as is."""
    try:
        tree = ast.parse(code, mode="eval").body
    except SyntaxError:
        return [Output(code, descriptor, line)]
    leaves: list[tuple[ast.expr, tuple[int, ...]]] = []

    def walk(node: ast.expr, path: tuple[int, ...]) -> None:
        if isinstance(node, ast.Tuple | ast.List):
            for k, element in enumerate(node.elts):
                walk(element, (*path, k))
        else:
            leaves.append((node, path))

    walk(tree, ())
    found = []
    for leaf, path in leaves:
        place = " ".join(filter(None, [descriptor, f"at {list(path)}" if len(path) > 1 else ""]))
        if isinstance(leaf, ast.Name) and leaf.id in defined:
            found.append(Output(defined[leaf.id], place, line))
        else:  # written with the names it reads resolved, so another input or node shows
            found.append(Output(ast.unparse(_Resolve(defined).visit(leaf)), place, line))
    return found


class _Resolve(ast.NodeTransformer):
    def __init__(self, defined: dict[str, str]) -> None:
        self.defined = defined

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id=self.defined.get(node.id, node.id), ctx=node.ctx), node)


def parse(text: str) -> list[Graph]:
    """Every graph of a graph artifact, in order: sections, then modules within each."""
    lines = text.splitlines()
    return [graph for section, start, end in _sections(lines) for graph in _parse_section(section, lines[:end], start)]
