"""A summary of the code Inductor generated for one graph: its kernels in launch order.

Read from the generated Python wrapper (``CompiledFxGraph.source_code``), the
same text ``torch._inductor.utils.run_and_get_code`` returns. For each launch:
its kind (Triton pointwise / reduction / persistent_reduction / template / ...,
C++ on the CPU, an extern call such as ``extern_kernels.mm``, or an ATen
fallback), its name, the post-grad nodes fused into it, its inputs and outputs,
and for Triton kernels the launch shape (``xnumel``, ``r0_numel``, size hints).

Only the text is parsed; what ties a launch to its post-grad nodes is Inductor's
own provenance tracking (``config.trace.provenance_tracking_level``), passed in
as ``{"kernel_name:handle": [node names]}``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

# `name = async_compile.triton('name', '''...''', device_str='cuda')` or
# `name = async_compile.cpp_pybinding([...], r'''...''')`.
_DEFINITION = re.compile(
    r"^(?P<name>\w+) = async_compile\.(?P<api>\w+)\((?P<head>[^\n]*?)r?'''\n(?P<body>.*?)\n'''",
    re.MULTILINE | re.DOTALL,
)
_TRITON_HEURISTIC = re.compile(r"@triton_heuristics\.(\w+)\(")
_SIZE_HINTS = re.compile(r"size_hints=(\{[^}]*\})")
_PROVENANCE = re.compile(r"#\s*\[Provenance debug handles\]\s*(\S+)")
_CALL = re.compile(r"^(?:(?P<result>[\w, ]+?) = )?(?P<callee>[\w.]+)\((?P<args>.*)\)$")
_EXTERN = re.compile(r"^extern_kernels\.\w+$")
_FALLBACK = re.compile(r"^(?:torch\.ops\.\w+|aten|prims)\.[\w.]+$")
_NUMEL_ASSIGNMENT = re.compile(r"^(\w+numel) = (.+)$")


@dataclasses.dataclass(frozen=True)
class KernelDefinition:
    name: str
    kind: str  # "triton pointwise", "cpp", ...
    params: tuple[str, ...]  # the kernel's runtime parameters, in order
    size_hints: str | None = None


@dataclasses.dataclass(frozen=True)
class Launch:
    kind: str
    name: str
    nodes: tuple[tuple[str, ...], ...]  # post-grad nodes, one tuple per scheduler (fused) node
    lines: tuple[str, ...]  # "inputs: ...", "outputs: ...", ...


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments: ``a, f(b, c), (1, 2)`` -> 3 items."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote: str | None = None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _triton_definition(name: str, body: str) -> KernelDefinition:
    heuristic = _TRITON_HEURISTIC.search(body)
    signature = re.search(rf"^def {re.escape(name)}\((.*?)\):", body, re.MULTILINE | re.DOTALL)
    params = tuple(p.split(":")[0].strip() for p in split_args(signature.group(1) if signature else "") if "constexpr" not in p)
    hints = _SIZE_HINTS.search(body)
    return KernelDefinition(
        name=name,
        kind=f"triton {heuristic.group(1) if heuristic else 'kernel'}",
        params=params,
        size_hints=hints.group(1) if hints else None,
    )


def _cpp_definition(name: str, body: str) -> KernelDefinition:
    signature = re.search(r'extern "C"\s+void\s+\w+\((.*?)\)', body, re.DOTALL)
    params = tuple(p.split()[-1].lstrip("*&") for p in split_args(signature.group(1) if signature else ""))
    return KernelDefinition(name=name, kind="cpp", params=params)


def kernel_definitions(code: str) -> dict[str, KernelDefinition]:
    """The kernels a wrapper module defines, by name."""
    found = {}
    for match in _DEFINITION.finditer(code):
        name, api, body = match.group("name"), match.group("api"), match.group("body")
        if api == "triton":
            found[name] = _triton_definition(name, body)
        elif api.startswith("cpp"):
            found[name] = _cpp_definition(name, body)
        else:
            found[name] = KernelDefinition(name=name, kind=api, params=())
    return found


def _role(param: str) -> str:
    """Inductor names kernel parameters by role: in_ptr0, out_ptr1, in_out_ptr0, xnumel, ks0."""
    if param.startswith("in_out_ptr"):
        return "in-place"
    if param.startswith("in_ptr"):
        return "inputs"
    if param.startswith("out_ptr"):
        return "outputs"
    if param.endswith("numel"):
        return "launch"
    return "sizes"


def _generated_launch(definition: KernelDefinition, args: list[str]) -> list[str]:
    positional = [a for a in args if not re.match(r"^\w+=", a)]  # drop stream=..., grid=...
    grouped: dict[str, list[str]] = {}
    for param, arg in zip(definition.params, positional):
        role = _role(param)
        grouped.setdefault(role, []).append(f"{param}={arg}" if role in ("launch", "sizes") else arg)
    if definition.size_hints:
        grouped.setdefault("launch", []).append(f"size_hints={definition.size_hints}")
    order = ("inputs", "outputs", "in-place", "sizes", "launch")
    return [f"{role}: {', '.join(grouped[role])}" for role in order if role in grouped]


def _extern_launch(result: str | None, args: list[str]) -> list[str]:
    outputs = [a.partition("=")[2] for a in args if a.startswith("out=")]
    inputs = [a for a in args if not a.startswith("out=")]
    lines = [f"inputs: {', '.join(inputs)}"]
    if result or outputs:
        lines.append(f"outputs: {', '.join([*([result] if result else []), *outputs])}")
    return lines


def call_body(code: str) -> list[str]:
    """The lines of the wrapper's ``call`` function (a method of ``Runner`` in
    newer torch, a module-level function before): up to the next unindented line."""
    start = code.find("def call(")
    if start < 0:
        return []
    lines = code[start:].splitlines()[1:]
    end = next((i for i, line in enumerate(lines) if line and not line[0].isspace()), len(lines))
    return lines[:end]


def _grouped(names: Sequence[str], groups: Sequence[Sequence[str]], order: Mapping[str, int]) -> tuple[tuple[str, ...], ...]:
    """A kernel's nodes split by the scheduler node each belongs to, in post-grad
    graph order (a name the graph no longer has goes last); nodes of no known
    scheduler node form one group."""

    def ordered(items: Sequence[str]) -> tuple[str, ...]:
        return tuple(sorted(dict.fromkeys(items), key=lambda n: (order.get(n, len(order)), n)))

    wanted = set(names)
    found = [ordered([n for n in group if n in wanted]) for group in groups]
    found = [group for group in found if group]
    grouped = {n for group in found for n in group}
    rest = ordered([n for n in names if n not in grouped])
    found += [rest] if rest else []
    return tuple(sorted(dict.fromkeys(found), key=lambda g: (order.get(g[0], len(order)), g[0])))


def launches(
    code: str,
    provenance: Mapping[str, Sequence[str]],
    node_order: Mapping[str, int],
    groups: Sequence[Sequence[str]] = (),
) -> list[Launch]:
    """Kernel launches of a wrapper module, in the order ``call`` makes them.

    ``groups``: the post-grad nodes of each scheduler node after fusion."""
    definitions = kernel_definitions(code)
    numels: dict[str, str] = {}  # `triton_poi_fused_add_0_xnumel = 8*s64` (dynamic shapes)
    pending: str | None = None  # the provenance key written above the next launch
    found = []
    for line in call_body(code):
        statement = line.strip()
        handle = _PROVENANCE.match(statement)
        if handle:
            pending = handle.group(1)
            continue
        assignment = _NUMEL_ASSIGNMENT.match(statement)
        if assignment:
            numels[assignment.group(1)] = assignment.group(2)
            continue
        call = _CALL.match(statement)
        if not call:
            continue
        callee, args = call.group("callee"), [numels.get(a, a) for a in split_args(call.group("args"))]
        base = callee.removesuffix(".run")
        nodes = _grouped(provenance.get(pending or "", provenance.get(base, ())), groups, node_order)
        if base in definitions and (callee.endswith(".run") or definitions[base].kind == "cpp"):
            definition = definitions[base]
            launch = Launch(definition.kind, base, nodes, tuple(_generated_launch(definition, args)))
        elif _EXTERN.match(callee):
            launch = Launch("extern", callee, nodes, tuple(_extern_launch(call.group("result"), args)))
        elif _FALLBACK.match(callee):
            launch = Launch("fallback", callee, nodes, tuple(_extern_launch(call.group("result"), args)))
        else:
            continue
        found.append(launch)
        pending = None
    return found


def _graph_inputs(body: Sequence[str]) -> str:
    unpack = [m.group(1) for m in map(re.compile(r"^\s+([\w, ]+?),? = args$").match, body) if m]
    return unpack[0] if unpack else ""


def _graph_outputs(body: Sequence[str]) -> str:
    returns = [m.group(1) for m in map(re.compile(r"^\s+return \((.*)\)$").match, body) if m]
    return ", ".join(split_args(returns[-1])) if returns else ""


def summarize(
    code: str,
    provenance: Mapping[str, Sequence[str]],
    node_order: Mapping[str, int],
    groups: Sequence[Sequence[str]] = (),
) -> str:
    """The ``inductor_kernels`` text of one compiled graph. Nodes fused into one
    scheduler node are joined by ``, ``; separate scheduler nodes that share a
    kernel (a C++ kernel's loop nests) are split by `` | ``."""
    found = launches(code, provenance, node_order, groups)
    body = call_body(code)
    lines = [f"inputs: {_graph_inputs(body)}", f"kernels: {len(found)}"]
    for index, launch in enumerate(found, 1):
        lines.append(f"{index}. {launch.kind}: {launch.name}")
        lines.append(f"     nodes: {' | '.join(', '.join(group) for group in launch.nodes) or '-'}")
        lines.extend(f"     {line}" for line in launch.lines)
    lines.append(f"outputs: {_graph_outputs(body)}")
    return "\n".join(lines) + "\n"
