"""Mutation check of the change classifier over every committed golden.

Each graph, guard tree and kernel summary under ``snapshots/`` (GPU variant
folders included) and ``examples/*/snapshots/`` is edited the way a compiler
change would edit it; each edit is classified as ``drift`` would. A real change
(another op, argument order, constant, shape, dtype, node, output, input
mutation, guard or fusion group) must never come out below ``metadata``; a
consistent renaming must come out ``renamed`` and a swap of two independent
nodes ``renamed`` or ``reordered``. Seeded, so the same goldens give the same
mutants. ``tests/test_classifier_mutations.py`` runs it in ``make test``.

    .venv/bin/python scripts/classifier_mutations.py [--seed 0] [--per-kind 2]

Prints the count of mutants per kind and their levels; exit 1 with one line per
wrong verdict.

Why so long: one small generator per mutation kind, kept together with the check
that runs them so the kinds and their expected levels are read in one place.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import itertools
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from snapshot_runner.capture.artifacts import Family, family  # noqa: E402
from snapshot_runner.capture.vocabulary import StrEnum  # noqa: E402
from snapshot_runner.drift.graph_text import Graph, Node, parse  # noqa: E402
from snapshot_runner.drift.semantic import Level, View, node_keys  # noqa: E402
from snapshot_runner.drift.structure import describe  # noqa: E402


class Kind(StrEnum):
    OP = "op"
    ARGUMENT_ORDER = "argument order"
    CONSTANT = "constant"
    SHAPE = "shape"
    DTYPE = "dtype"
    NODE_ADDED = "node added"
    NODE_REMOVED = "node removed"
    OUTPUT = "output"
    INPUT_MUTATION = "input mutation"
    BARRIER_MOVE = "move across in-place op"
    GUARD = "guard"
    FUSION = "fusion group"
    RENAME = "consistent rename"
    SWAP = "independent swap"


# What each harmless edit must be classified as; every other kind is a real change.
HARMLESS = {Kind.RENAME: {Level.RENAMED}, Kind.SWAP: {Level.RENAMED, Level.REORDERED}}
COMMUTATIVE = re.compile(r"(?:^|\.)(?:add|mul|eq|ne|maximum|minimum|logical_and|logical_or|bitwise_and|bitwise_or|bitwise_xor)(?:\.|$)")


@dataclasses.dataclass(frozen=True)
class Mutant:
    kind: Kind
    path: Path
    after: str


def golden_files(repo: Path = REPO) -> list[Path]:
    """Every committed golden text: this repository's (variant folders included) and the examples'."""
    roots = [repo / "snapshots", *sorted((repo / "examples").glob("*/snapshots"))]
    return sorted(p for root in roots for p in root.rglob("*.txt"))


def artifact_key(path: Path) -> str:
    """``aot_forward.1.txt`` -> ``aot_forward.1`` (the key ``family`` reads)."""
    return path.name.removesuffix(".txt")


# --- editing text ---------------------------------------------------------------------

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _outside_quotes(code: str, edit: Callable[[str], str]) -> str:
    """``edit`` applied to the parts of ``code`` outside string literals (annotations, attribute names)."""
    parts, last = [], 0
    for match in _QUOTED.finditer(code):
        parts += [edit(code[last : match.start()]), match[0]]
        last = match.end()
    return "".join([*parts, edit(code[last:])])


def _head(line: str) -> tuple[str, str]:
    """A body line as (its first statement, the rest: ``;  x = None`` cleanups, comment, newline)."""
    cut = min(i for i in (line.find(";  "), line.find("  #"), len(line.rstrip("\n"))) if i >= 0)
    return line[:cut], line[cut:]


def _rename(code: str, old: str, new: str) -> str:
    return _outside_quotes(code, lambda part: re.sub(rf"(?<![.\w]){re.escape(old)}(?!\w)", new, part))


def _sole_nodes(graph: Graph) -> list[Node]:
    """Nodes alone on their line (cleanups aside), and parsed from Python."""
    per_line = Counter(n.line for n in graph.nodes)
    return [n for n in graph.nodes if per_line[n.line] == 1 and not n.name.startswith("_stmt")]


def _graph_end(graph: Graph, lines: list[str]) -> int:
    return max([o.line for o in graph.outputs] + [n.line for n in graph.nodes] + [0]) + 1


# --- graph mutations ---------------------------------------------------------------------


def _op_change(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    calls = [(n, m) for n in _sole_nodes(graph) if (m := re.match(r"\s*\w+(?:: \"[^\"]*\")? = ([\w.]+)\(", lines[n.line]))]
    pool = sorted({m[1] for _, m in calls} | {"torch.ops.aten.neg.default"})
    for node, match in rng.sample(calls, len(calls)):
        other = rng.choice([op for op in pool if op != match[1]])
        line = lines[node.line]
        yield _replaced(lines, node.line, line[: match.start(1)] + other + line[match.end(1) :])


def _replaced(lines: list[str], index: int, line: str) -> list[str]:
    return [*lines[:index], line, *lines[index + 1 :]]


def _distinct(graph: Graph) -> Callable[[str, str], bool]:
    """Whether two names (resolved refs) hold different values: not the same node and
    not two pure nodes the classifier may rightly take as one (same key)."""
    keys = node_keys(graph, View())
    return lambda a, b: a != b and keys.get(a, a) != keys.get(b, b)


def _argument_order(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    distinct = _distinct(graph)
    nodes = [n for n in _sole_nodes(graph) if not COMMUTATIVE.search(n.op) and n.op not in ("operator +", "operator *")]
    for node in rng.sample(nodes, len(nodes)):
        head, rest = _head(lines[node.line])
        try:
            statement = ast.parse(head.strip()).body[0]
        except SyntaxError:
            continue
        value = getattr(statement, "value", None)
        operands: list[ast.expr] = []
        if isinstance(value, ast.Call):
            operands = value.args
        elif isinstance(value, ast.BinOp):
            operands = [value.left, value.right]
        pair = [p.id for p in operands if isinstance(p, ast.Name)][:2]
        if len(pair) < 2 or (isinstance(value, ast.BinOp) and len(operands) != len(pair)):
            continue
        first, second = pair
        if not distinct(first, second):
            continue
        exchange = {first: second, second: first}
        pattern = re.compile(rf"(?<![.\w])({re.escape(first)}|{re.escape(second)})(?!\w)")
        target, eq, rhs = head.partition(" = ")
        swapped = _outside_quotes(rhs, lambda part: pattern.sub(lambda m: exchange[m[1]], part))  # noqa: B023  # used at once
        yield _replaced(lines, node.line, target + eq + swapped + rest)


_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?(?:e-?\d+)?|True|False)(?![\w.])")


def _constant(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    candidates = []
    for node in _sole_nodes(graph):
        head, rest = _head(lines[node.line])
        target, eq, rhs = head.partition(" = ")
        if eq and _outside_quotes(rhs, lambda p: _NUMBER.sub("\x01", p)) != rhs:
            candidates.append((node, target + eq, rhs, rest))
    for node, left, rhs, rest in rng.sample(candidates, len(candidates)):
        yield _replaced(lines, node.line, left + _outside_quotes(rhs, _FirstNumberChanged()) + rest)


class _FirstNumberChanged:
    """An edit of text parts that changes the first number (or bool) it meets, once."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, part: str) -> str:
        return _NUMBER.sub(self._one, part)

    def _one(self, match: re.Match[str]) -> str:
        if self.done:
            return match[0]
        self.done = True
        text = match[0]
        return {"True": "False", "False": "True"}.get(text) or (str(int(text) + 1) if re.fullmatch(r"-?\d+", text) else repr(float(text) * 2 + 0.5))


_ANN = re.compile(r': "(?P<dtype>[a-z]+\d*)\[(?P<dims>[^\]]*)\]')


def _annotated(graph: Graph, lines: list[str]) -> list[int]:
    annotated = [(x.line, x.ann) for x in graph.inputs] + [(n.line, n.ann) for n in graph.nodes]
    return sorted({line for line, ann in annotated if ann and _ANN.search(lines[line])})


def _shape(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    for index in rng.sample(_annotated(graph, lines), len(_annotated(graph, lines))):
        match = _ANN.search(lines[index])
        assert match is not None
        dims = match["dims"]
        if not dims:
            continue
        first = dims.split(",")[0].strip()
        changed = str(int(first) + 1) if first.isdigit() else f"{first}+1"
        line = lines[index]
        yield _replaced(lines, index, line[: match.start("dims")] + changed + dims[len(dims.split(",")[0]) :] + line[match.end("dims") :])


def _dtype(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    for index in rng.sample(_annotated(graph, lines), len(_annotated(graph, lines))):
        match = _ANN.search(lines[index])
        assert match is not None
        other = "bf16" if match["dtype"] != "bf16" else "f32"
        line = lines[index]
        yield _replaced(lines, index, line[: match.start("dtype")] + other + line[match.end("dtype") :])


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _node_added(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    nodes = _sole_nodes(graph)
    for node in rng.sample(nodes, len(nodes)):
        ann = f': "{node.ann}"' if node.ann else ""
        extra = f"{_indent(lines[node.line])}added_node{ann} = torch.ops.aten.neg.default({_head(lines[node.line])[0].split(':')[0].split('=')[0].strip()})\n"
        yield [*lines[: node.line + 1], extra, *lines[node.line + 1 :]]


def _node_removed(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    """A node dropped, its users reading its first argument instead."""
    end = _graph_end(graph, lines)
    nodes = [n for n in _sole_nodes(graph) if n.refs]
    for node in rng.sample(nodes, len(nodes)):
        head = _head(lines[node.line])[0].strip()
        name = re.split(r"[:= ]", head, maxsplit=1)[0]
        statement = ast.parse(head).body[0]
        reads = [n.id for n in ast.walk(getattr(statement, "value", statement)) if isinstance(n, ast.Name) and n.id != "torch"]
        if not reads:
            continue
        users = [_rename(line, name, reads[0]) if i > node.line and i < end else line for i, line in enumerate(lines)]
        yield [*users[: node.line], *users[node.line + 1 :]]


def _outputs(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    """Two outputs holding different values swap places (nested returns included);
    the outputs are read off the ``return`` text, not the parser's idea of them."""
    if not graph.outputs:
        return
    distinct = _distinct(graph)
    start = min(o.line for o in graph.outputs)
    start = next(i for i in range(start, -1, -1) if lines[i].strip().startswith("return"))
    if lines[start].strip() == "return (":  # one output per line: the values swap, the descriptors stay
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == ")")
        slots = list(range(start + 1, end))
        values = {i: _head(lines[i])[0].strip().rstrip(",") for i in slots}
        pairs = [(i, j) for i in slots for j in slots if i < j and distinct(values[i], values[j])]
        for i, j in rng.sample(pairs, len(pairs)):
            (va, ra), (vb, rb) = _head(lines[i]), _head(lines[j])
            changed = _replaced(lines, i, _indent(va) + vb.strip() + ra)
            yield _replaced(changed, j, _indent(vb) + va.strip() + rb)
        return
    line = lines[start]
    leaves = _leaves(ast.parse(line.strip().removeprefix("return").strip(), mode="eval").body)
    texts = [ast.unparse(leaf) for leaf in leaves]
    pairs = [(i, j) for i in range(len(leaves)) for j in range(i + 1, len(leaves)) if distinct(texts[i], texts[j])]
    for i, j in rng.sample(pairs, len(pairs)):
        tree = ast.parse(line.strip().removeprefix("return").strip(), mode="eval").body
        swapped = _leaves(tree)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        yield _replaced(lines, start, f"{_indent(line)}return {ast.unparse(_rebuild(tree, iter(swapped)))}\n")


def _leaves(tree: ast.expr) -> list[ast.expr]:
    return [leaf for e in tree.elts for leaf in _leaves(e)] if isinstance(tree, ast.Tuple | ast.List) else [tree]


def _rebuild(tree: ast.expr, leaves: Iterator[ast.expr]) -> ast.expr:
    if isinstance(tree, ast.Tuple | ast.List):
        return type(tree)(elts=[_rebuild(e, leaves) for e in tree.elts], ctx=ast.Load())
    return next(leaves)


def _input_mutation(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    """An input written in place (``x += 1``) after one of the nodes."""
    nodes = _sole_nodes(graph)
    names = [i.name for i in graph.inputs if i.ann and "Sym" not in i.ann]
    for node in rng.sample(nodes, len(nodes)):
        if names:
            extra = f"{_indent(lines[node.line])}{rng.choice(names)} += 1\n"
            yield [*lines[: node.line + 1], extra, *lines[node.line + 1 :]]


# In-place writes and global state, read off the text (not the classifier's own idea of them).
_IN_PLACE_TEXT = re.compile(r" (?:[-+*/@%&|^]|//|\*\*|<<|>>)= |\.[a-z]\w*[a-z0-9]_(?:\.\w+)?\(|setitem|_set_grad_enabled|\] = ")


def _barrier_move(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    """An in-place or stateful statement swapped with the node line before or after it."""
    node_lines = sorted({n.line for n in graph.nodes})
    ordered = {i for i in node_lines if _IN_PLACE_TEXT.search(_outside_quotes(lines[i].partition("  #")[0], lambda p: p))}
    moves = [(a, b) for a, b in itertools.pairwise(node_lines) if (a in ordered) != (b in ordered)]
    for i, j in rng.sample(moves, len(moves)):
        changed = _replaced(lines, i, lines[j])
        yield _replaced(changed, j, lines[i])


def _swap(graph: Graph, lines: list[str], rng: random.Random) -> Iterator[list[str]]:
    """Two adjacent pure nodes, the second not reading the first, swap lines; two
    identical computations first (the case a classifier keyed on position gets wrong)."""
    sole = {n.line: n for n in _sole_nodes(graph) if not n.ordered}
    pairs = [(a, b) for line, a in sole.items() if (b := sole.get(line + 1)) and a.name not in b.refs]
    pairs = rng.sample(pairs, len(pairs))
    pairs.sort(key=lambda pair: (pair[0].template, pair[0].refs) != (pair[1].template, pair[1].refs))
    for a, b in pairs:
        changed = _replaced(lines, a.line, lines[b.line])
        yield _replaced(changed, b.line, lines[a.line])


GRAPH_MUTATIONS = {
    Kind.OP: _op_change,
    Kind.ARGUMENT_ORDER: _argument_order,
    Kind.CONSTANT: _constant,
    Kind.SHAPE: _shape,
    Kind.DTYPE: _dtype,
    Kind.NODE_ADDED: _node_added,
    Kind.NODE_REMOVED: _node_removed,
    Kind.OUTPUT: _outputs,
    Kind.INPUT_MUTATION: _input_mutation,
    Kind.BARRIER_MOVE: _barrier_move,
    Kind.SWAP: _swap,
}


def _renamed(text: str, graphs: list[Graph]) -> str | None:
    """Every node, alias and input name of every graph renamed consistently (Dynamo's
    source names and submodule names stay: they are identities, not names)."""
    classes = set(re.findall(r"(?m)^\s*class (\w+)", text))
    names = {n.name.rstrip("'") for g in graphs for n in g.nodes if not n.name.startswith("_stmt")}
    names |= {a for g in graphs for a in g.aliases} | {i.name for g in graphs for i in g.inputs}
    names = {n for n in names if not re.fullmatch(r"[LG]_\w+_", n) and n not in classes and n != "self"}
    if not names:
        return None
    fresh = {name: f"r{k}_{name}" for k, name in enumerate(sorted(names))}
    pattern = re.compile(r"(?<![.\w])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?!\w)")

    def rename_code(line: str) -> str:
        code, sep, comment = line.partition("  #")
        return _outside_quotes(code, lambda part: pattern.sub(lambda m: fresh[m[1]], part)) + sep + comment

    return "".join(rename_code(line) for line in text.splitlines(keepends=True))


# --- guards and kernels -----------------------------------------------------------------

_GUARD = re.compile(r"^(?P<lead>(?:\| )*\+- (?!GuardManager|RootGuardManager)\w+: )(?P<expr>.*?)(?P<comment>  # .*)?$")


def _guard_mutants(text: str, rng: random.Random) -> Iterator[str]:
    lines = text.splitlines(keepends=True)
    guards = [i for i, line in enumerate(lines) if _GUARD.match(line.rstrip("\n"))]
    for i in rng.sample(guards, len(guards)):
        match = _GUARD.match(lines[i].rstrip("\n"))
        assert match is not None
        if rng.random() < 0.5:  # a guard dropped
            yield "".join(lines[:i] + lines[i + 1 :])
        else:  # its expression changed
            expr = match["expr"]
            changed = _NUMBER.sub(lambda m: str(int(m[0]) + 1) if m[0].lstrip("-").isdigit() else m[0], expr, count=1)
            changed = changed if changed != expr else expr + " and False"
            yield "".join([*lines[:i], match["lead"] + changed + (match["comment"] or "") + "\n", *lines[i + 1 :]])


def _fusion_mutants(text: str, rng: random.Random) -> Iterator[str]:
    """One node moved out of its kernel's fusion group (into the next kernel, or out of all)."""
    lines = text.splitlines(keepends=True)
    groups = [i for i, line in enumerate(lines) if line.strip().startswith("nodes: ") and "," in line]
    for i in rng.sample(groups, len(groups)):
        nodes = lines[i].strip().removeprefix("nodes: ").split(", ")
        moved = nodes.pop(rng.randrange(len(nodes)))
        changed = _replaced(lines, i, f"{_indent(lines[i])}nodes: {', '.join(nodes)}\n")
        later = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("nodes: ")), None)
        if later is not None:
            changed = _replaced(changed, later, changed[later].rstrip("\n") + f", {moved}\n")
        yield "".join(changed)


# --- the check ----------------------------------------------------------------------------


def mutants(path: Path, text: str, rng: random.Random, per_kind: int) -> Iterator[Mutant]:
    """Up to ``per_kind`` mutants of each kind that applies to the artifact at ``path``."""
    kind_of_artifact = family(artifact_key(path))
    if kind_of_artifact == Family.GUARDS:
        yield from (Mutant(Kind.GUARD, path, m) for m in _take(_guard_mutants(text, rng), per_kind, text))
    elif kind_of_artifact == Family.KERNELS:
        yield from (Mutant(Kind.FUSION, path, m) for m in _take(_fusion_mutants(text, rng), per_kind, text))
    elif kind_of_artifact == Family.GRAPH and "def forward(" in text:
        graphs = parse(text)
        lines = text.splitlines(keepends=True)
        for kind, mutate in GRAPH_MUTATIONS.items():
            edits = ("".join(edited) for graph in graphs for edited in mutate(graph, lines, rng))
            yield from (Mutant(kind, path, m) for m in _take(edits, per_kind, text))
        renamed = _renamed(text, graphs)
        if renamed is not None and renamed != text:
            yield Mutant(Kind.RENAME, path, renamed)


def _take(edits: Iterator[str], count: int, original: str) -> list[str]:
    taken: list[str] = []
    for edit in edits:
        if edit != original and edit not in taken:
            taken.append(edit)
        if len(taken) == count:
            break
    return taken


@dataclasses.dataclass
class Result:
    levels: dict[Kind, Counter[str]]
    wrong: list[str]


def check(files: list[Path], *, seed: int = 0, per_kind: int = 2) -> Result:
    rng = random.Random(seed)
    levels: dict[Kind, Counter[str]] = {kind: Counter() for kind in Kind}
    wrong = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for mutant in mutants(path, text, rng, per_kind):
            level = describe(artifact_key(path), text, mutant.after).level
            levels[mutant.kind][level] += 1
            expected = HARMLESS.get(mutant.kind)
            if (level not in expected) if expected else level.rank < Level.METADATA.rank:
                wrong.append(f"{path.relative_to(REPO)}: {mutant.kind} classified {level}")
    return Result(levels, wrong)


def table(result: Result) -> str:
    rows = [f"{'mutation':<26} {'mutants':>7}  levels"]
    for kind, found in result.levels.items():
        rows.append(f"{kind:<26} {sum(found.values()):>7}  " + ", ".join(f"{lvl} {n}" for lvl, n in sorted(found.items(), key=lambda x: Level(x[0]).rank)))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=2, help="mutants of each kind per artifact")
    args = parser.parse_args(argv)
    files = golden_files()
    result = check(files, seed=args.seed, per_kind=args.per_kind)
    print(f"{len(files)} golden files")
    print(table(result))
    for line in result.wrong:
        print(f"WRONG: {line}")
    return 1 if result.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
