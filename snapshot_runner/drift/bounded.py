"""One bound on every diff a report shows: cheap to compute, capped in size.

difflib's matcher is quadratic in the lines that differ, and a diff of two
big artifacts is as big as they are. So lines common to the head and tail of
both texts of more than ``MATCH_LINES`` lines are matched in linear time and
difflib runs only on what lies between, while that is at most ``MATCH_LINES``
lines a side (beyond that it is one replaced block); and a diff shows at most ``MAX_LINES`` lines and
``MAX_BYTES`` bytes per artifact, each line cut at ``MAX_LINE_CHARS``
characters, then ``truncated``'s note. The md, html, json and junit reports
and the bisect report all show diffs made here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

MATCH_LINES = 5000
MAX_LINES = 2000
MAX_LINE_CHARS = 1000
MAX_BYTES = 256 * 1024
CONTEXT = 3

Opcode = tuple[str, int, int, int, int]  # difflib's: tag, a[i1:i2], b[j1:j2]


def truncated(shown: int) -> str:
    """The note that ends a cut diff."""
    return (
        f"⋯ diff truncated after {shown} lines (at most {MAX_LINES} lines, {MAX_BYTES // 1024} KiB, "
        f"{MAX_LINE_CHARS} characters a line per artifact); the full texts are in the history database or the goldens"
    )


def clip(line: str) -> str:
    """One line, cut at ``MAX_LINE_CHARS`` characters."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}⋯ ({len(line) - MAX_LINE_CHARS} more characters)"


class Budget:
    """What one artifact's diff may still show: lines and bytes."""

    def __init__(self) -> None:
        self.lines = 0
        self.bytes = 0

    def take(self, text: str) -> bool:
        """Count ``text`` as one more line shown; False once the diff is full."""
        size = len(text.encode("utf-8", errors="replace"))
        if self.lines >= MAX_LINES or self.bytes + size > MAX_BYTES:
            return False
        self.lines += 1
        self.bytes += size
        return True


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """How ``a`` becomes ``b``, as difflib's opcodes, in time linear in their
    common head and tail."""
    if max(len(a), len(b)) <= MATCH_LINES:  # small: difflib's own alignment, as before
        small: list[Opcode] = list(difflib.SequenceMatcher(None, a, b).get_opcodes()) if a or b else []
        return small
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if max(len(mid_a), len(mid_b)) <= MATCH_LINES:
        inner = difflib.SequenceMatcher(None, mid_a, mid_b).get_opcodes() if mid_a or mid_b else []
    else:  # too big to align: one block replaced
        inner = [("replace", 0, len(mid_a), 0, len(mid_b))]
    found: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    found += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in inner]
    if tail:
        found.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return found


def grouped(codes: list[Opcode], context: int = CONTEXT) -> Iterator[list[Opcode]]:
    """The hunks, ``context`` lines around each change: difflib's
    ``get_grouped_opcodes``, over opcodes that difflib did not compute."""
    if not codes or all(tag == "equal" for tag, *_ in codes):
        return
    codes = list(codes)
    tag, i1, i2, j1, j2 = codes[0]
    if tag == "equal":
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    tag, i1, i2, j1, j2 = codes[-1]
    if tag == "equal":
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    """A hunk header's range, as ``diff -u`` writes it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _unified_lines(a: list[str], b: list[str], context: int) -> Iterator[str]:
    for group in grouped(opcodes(a, b), context):
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            yield from ("-" + line for line in a[i1:i2])
            yield from ("+" + line for line in b[j1:j2])


def capped(lines: Iterable[str]) -> list[str]:
    """``lines`` (without line ends) clipped and cut to one artifact's budget, with the note if cut."""
    budget, shown = Budget(), []
    for line in lines:
        line = clip(line)
        if not budget.take(line):
            shown.append(truncated(budget.lines))
            break
        shown.append(line)
    return shown


def unified_lines(a: list[str], b: list[str], from_file: str, to_file: str, context: int = CONTEXT) -> list[str]:
    """The unified diff of two lists of lines, bounded, as lines without line
    ends (``difflib.unified_diff``'s with ``lineterm=""``); [] when they are the same."""
    body = capped(line.removesuffix("\n") for line in _unified_lines(a, b, context))
    return [f"--- {from_file}", f"+++ {to_file}", *body] if body else []


def unified_diff(before: str, after: str, key: str, from_name: str, to_name: str) -> str:
    """The unified diff of two texts of ``key``, bounded; "" when they are the same."""
    # Line ends kept while comparing: a text that lost only its last newline differs.
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    return "".join(line + "\n" for line in unified_lines(a, b, f"{from_name}/{key}", f"{to_name}/{key}"))


def cap_text(text: str) -> str:
    """Any other diff view (a semantic diff), bounded the same way."""
    lines = text.splitlines()
    if len(lines) <= MAX_LINES and len(text.encode("utf-8", errors="replace")) <= MAX_BYTES and all(len(line) <= MAX_LINE_CHARS for line in lines):
        return text
    return "".join(line + "\n" for line in capped(lines))
