"""No canonical rule hides a real change, as a property over every committed
golden: each golden is taken as raw text; an op, a shape, a stride, a dtype, a
guard or a hex constant is changed in it, at its first, middle and last place,
and the canonical text of the changed raw text must differ from the golden's."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from snapshot_runner.capture.normalize import Context, normalize

from .conftest import REPO

CTX = Context(cases_dir="/home/dev/proj/cases", torch_dir="/home/dev/proj/.venv/lib/python3.11/site-packages/torch")
GOLDENS = sorted((REPO / "snapshots").rglob("*.txt"))

# The code part of a line: everything before an inline `  # comment`.
_CODE = r"(?m)^(?:(?!  # ).)*?"

# aten.mul.Tensor, prims.convert_element_type.default, torch.sin(...), l_x_.clone(...).
_OP = re.compile(r"\b(?:aten|prims)\.(?P<name>[a-z_][a-z0-9_]*)\.|\btorch\.(?P<fn>[a-z_][a-z0-9_]*)\(|\bl_\w+\.(?P<method>[a-z_][a-z0-9_]*)\(")
# A shape: the dims of a type string ("f32[2, s47]") or of a guarded size (size=[2, 3]).
_SHAPE = re.compile(r"(?:\b(?:b8|u8|i8|i16|i32|i64|f16|bf16|f32|f64|c64)\[|\bsize=\[)(?P<dims>[^\]\n]*)\]")
# A stride: a guarded stride, or the second tuple of Inductor's size/stride calls.
_STRIDE = re.compile(
    r"\bstride=\[(?P<dims>[^\]\n]*)\]|\b(?:assert_size_stride|empty_strided_\w+|reinterpret_tensor)\([^()\n]*?\([^()\n]*\), \((?P<tuple>[^()\n]*)\)"
)
_DTYPE = re.compile(
    r"\b(?P<short>b8|u8|i8|i16|i32|i64|f16|bf16|f32|f64)(?=\[)|\btorch\.(?P<long>float16|bfloat16|float32|float64|int8|int32|int64|uint8|bool)\b"
)
# A leaf guard of the guard tree (not a GuardManager node).
_GUARD = re.compile(r"(?m)^[| ]*\+- (?!GuardManager|RootGuardManager)[A-Z_]+\b.*\n")
# An integer literal in code (not inside a name such as primals_3 or s47, nor a comment).
_INT = re.compile(_CODE + r"(?<![\w.<])(?P<int>\d+)(?![\w.>])")

OTHER_DTYPE = {"f32": "f64", "f64": "f32", "f16": "bf16", "bf16": "f16", "i64": "i32", "i32": "i64", "b8": "u8", "u8": "b8", "i8": "u8", "i16": "i32"}
OTHER_TORCH_DTYPE = {
    "float32": "float64",
    "float64": "float32",
    "float16": "bfloat16",
    "bfloat16": "float16",
    "int64": "int32",
    "int32": "int64",
    "int8": "uint8",
    "uint8": "int8",
    "bool": "uint8",
}


def _replace(m: re.Match[str], group: str, new: str) -> str:
    text = m.string
    return text[: m.start(group)] + new + text[m.end(group) :]


def _in_comment(m: re.Match[str]) -> bool:
    """Inside a line's ``  # comment`` (quoted source, a file and line): not the
    program, and the case_source_lines rule rewrites it by design."""
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    return m.string.find("  # ", line_start, m.start()) != -1


def _bump_dims(m: re.Match[str], group: str) -> str | None:
    """A shape or stride with its first integer (else symbol, else None) changed."""
    dims = m.group(group)
    for pattern, bump in (
        (r"(?<![\w-])\d+(?!\w)", lambda d: str(int(d) + 1)),
        (r"\bs\d+\b", lambda d: f"s{int(d[1:]) + 1}"),
        (r"\bNone\b", lambda d: "1"),
    ):
        found = re.search(pattern, dims)
        if found:
            new_dims = dims[: found.start()] + bump(found.group()) + dims[found.end() :]
            return _replace(m, group, new_dims)
    return None


def _op(text: str) -> Iterator[str]:
    for m in (m for m in _OP.finditer(text) if not _in_comment(m)):
        group = next(g for g in ("name", "fn", "method") if m.group(g))
        yield _replace(m, group, "add" if m.group(group) != "add" else "mul")


def _shape(text: str) -> Iterator[str]:
    for m in (m for m in _SHAPE.finditer(text) if not _in_comment(m)):
        if (changed := _bump_dims(m, "dims")) is not None:
            yield changed


def _stride(text: str) -> Iterator[str]:
    for m in (m for m in _STRIDE.finditer(text) if not _in_comment(m)):
        if (changed := _bump_dims(m, "dims" if m.group("dims") is not None else "tuple")) is not None:
            yield changed


def _dtype(text: str) -> Iterator[str]:
    for m in (m for m in _DTYPE.finditer(text) if not _in_comment(m)):
        if m.group("short"):
            yield _replace(m, "short", OTHER_DTYPE[m.group("short")])
        else:
            yield _replace(m, "long", OTHER_TORCH_DTYPE[m.group("long")])


def _guard(text: str) -> Iterator[str]:
    for m in _GUARD.finditer(text):
        yield text[: m.start()] + text[m.end() :]


def _hex(text: str) -> Iterator[tuple[str, str]]:
    """Goldens hold no hex constant (their object addresses are already
    ``0x<address>``), so one is put where an integer literal is, written as
    generated code writes bit patterns (``0x7f800000``); then changed by one."""
    for m in _INT.finditer(text):
        value = int(m.group("int"))
        yield _replace(m, "int", f"0x{value + 0x7F800000:08x}"), _replace(m, "int", f"0x{value + 0x7F800001:08x}")


MUTATIONS: dict[str, Callable[[str], Iterator[str]]] = {"op": _op, "shape": _shape, "stride": _stride, "dtype": _dtype, "guard": _guard}


T = TypeVar("T")


def _spread(items: list[T]) -> list[T]:
    """The first, middle and last: enough places to catch a rule that only
    looks at the start or the end, without thousands of normalizations."""
    return [items[i] for i in sorted({0, len(items) // 2, len(items) - 1})] if items else []


def _key(path: Path) -> str:
    return path.name.removesuffix(".txt")


def _canonical(path: Path, text: str) -> str:
    return normalize(_key(path), text, "canonical", CTX)


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: str(p.relative_to(REPO / "snapshots")))
def test_no_rule_hides_a_change_in_a_golden(path: Path) -> None:
    golden = path.read_text(encoding="utf-8")
    # Its canonical text: the golden itself, unless a rule came after it was made
    # (GPU variants are made elsewhere); the rules are idempotent either way.
    canonical = _canonical(path, golden)
    assert _canonical(path, canonical) == canonical
    hidden = []
    for kind, mutate in MUTATIONS.items():
        for changed in _spread(list(mutate(golden))):
            assert changed != golden
            if _canonical(path, changed) == canonical:
                hidden.append(kind)
    for before, after in _spread(list(_hex(golden))):
        if _canonical(path, before) == _canonical(path, after):
            hidden.append("hex")
    assert not hidden, f"canonical text hides a changed {', '.join(sorted(set(hidden)))}"


def test_every_golden_gets_changes_and_every_kind_many_goldens() -> None:
    """The property is not vacuous: every golden is changed somehow, and each
    kind of change applies to at least as many goldens as on the goldens
    committed when this test was written (384 files)."""
    applies: Counter[str] = Counter()
    for path in GOLDENS:
        golden = path.read_text(encoding="utf-8")
        kinds = [kind for kind, mutate in MUTATIONS.items() if next(mutate(golden), None) is not None]
        kinds += ["hex"] if next(_hex(golden), None) is not None else []
        assert kinds, path
        applies.update(kinds)
    minimum = {"op": 176, "shape": 288, "stride": 93, "dtype": 290, "guard": 84, "hex": 356}
    assert {kind: min(applies[kind], floor) for kind, floor in minimum.items()} == minimum, applies
