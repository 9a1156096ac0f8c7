"""Check the package layout: no import cycle between modules, a torch-only
capture side, and no module over the size limit without a reason.

Reads the source (``ast``), imports nothing of the package, so it runs in a
second and also sees imports inside functions. ``make lint`` runs it; exit 1
with one line per problem.

Rules:
- no cycle in the graph "module A imports module B" (any import, at any depth
  in the module, ``TYPE_CHECKING`` blocks excepted: they never run);
- ``snapshot_runner.capture`` (the worker side, run under any torch and any
  Python from 3.9) imports nothing of the package outside itself and none of
  the host side's libraries;
- a module over ``MAX_LINES`` lines says why in its docstring (``Why so long:``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "snapshot_runner"
WORKER_SIDE = f"{PACKAGE}.capture"
HOST_LIBRARIES = ("sqlalchemy", "alembic", "syrupy", "rich", "pytest", "psycopg", "packaging")
MAX_LINES = 400
LONG_REASON = "Why so long:"


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Every module ``name`` imports (absolute names), outside ``if TYPE_CHECKING:``."""
    found: set[str] = set()
    skipped = {id(n) for node in ast.walk(tree) if _type_checking_only(node) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from package import module` imports the module too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def check(root: Path) -> list[str]:
    problems: list[str] = []
    modules: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic's scripts, loaded by Alembic
        name = module_name(root, path)
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
        modules[name] = imports(tree, name, path.name == "__init__.py")
        lines = source.count("\n")
        if lines > MAX_LINES and LONG_REASON not in (ast.get_docstring(tree) or ""):
            problems.append(f"{path}: {lines} lines, over {MAX_LINES}, and its docstring does not say why ({LONG_REASON!r})")
        if name == WORKER_SIDE or name.startswith(WORKER_SIDE + "."):
            for imported in sorted(modules[name]):
                top = imported.split(".")[0]
                if top == PACKAGE and not (imported in (WORKER_SIDE, PACKAGE) or imported.startswith(WORKER_SIDE + ".")):
                    problems.append(f"{path}: the worker side imports {imported} (capture/ may import only capture/)")
                if top in HOST_LIBRARIES:
                    problems.append(f"{path}: the worker side imports {imported} (the worker needs only torch)")
    graph = {name: {i for i in deps if i in modules and i != name} for name, deps in modules.items()}
    problems.extend(f"import cycle: {' -> '.join(component)}" for component in cycles(graph))
    return problems


def main() -> int:
    root = Path(__file__).resolve().parent.parent / PACKAGE
    problems = check(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"layout ok: {PACKAGE}/, no import cycles, worker side torch-only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
