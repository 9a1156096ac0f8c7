"""Stability as a checked property: the same cases captured in several fresh
workers that differ in everything that must not matter (``capture/perturb.py``)
must give the same artifacts, byte for byte.

``check`` runs the captures (``capture(K)`` is run K of ``repeat``) and
``compare`` says which artifacts differ and how. ``check-stable`` prints the
result; ``pytest --snapshot-update`` refuses to write an unstable golden
(``refusal``) and suggests a ``normalize`` rule for it (``suggest_rule``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from snapshot_runner.capture.results import CaptureReport, CaseResult, CaseStatus
from snapshot_runner.drift import bounded

DEFAULT_REPEAT = 2
# Context lines around each difference, as in a ``git diff``.
DIFF_CONTEXT = 1


@dataclasses.dataclass(frozen=True)
class Unstable:
    """One artifact of one case that differs between two runs."""

    case: str
    artifact: str
    runs: tuple[int, int]  # the two runs whose texts differ
    diff: tuple[str, ...]  # unified diff lines, run a -> run b, bounded as a report's (``drift/bounded.py``)
    # The first line that differs, as each run wrote it ('' where one run has none):
    # found in the texts, not the diff, which a big artifact's bound may cut before it.
    first_lines: tuple[str, str]


@dataclasses.dataclass(frozen=True)
class StabilityReport:
    repeat: int
    cases: tuple[str, ...]  # the cases every run captured
    unstable: tuple[Unstable, ...]
    # Cases that failed (error, timeout, mismatch) in some run: not comparable.
    failed: tuple[CaseResult, ...] = ()

    @property
    def stable(self) -> bool:
        return not self.unstable and not self.failed


def _diff(case: str, key: str, runs: tuple[int, int], a: str, b: str) -> Unstable:
    old, new = a.splitlines(), b.splitlines()
    codes = [code for code in bounded.opcodes(old, new) if code[0] != "equal"]
    removed = next((old[i1] for _, i1, i2, _, _ in codes if i2 > i1), "")
    added = next((new[j1] for _, _, _, j1, j2 in codes if j2 > j1), "")
    lines = bounded.unified_lines(old, new, f"run {runs[0]}/{key}", f"run {runs[1]}/{key}", DIFF_CONTEXT)
    return Unstable(case, key, runs, tuple(lines), (removed, added))


def compare(reports: Sequence[CaptureReport]) -> StabilityReport:
    """Every artifact of every case that is not the same in all ``reports``
    (each against the first); an artifact one run has and another lacks counts."""
    by_run = [{result.name: result for result in report.cases} for report in reports]
    names = [result.name for result in reports[0].cases]
    failed: dict[str, CaseResult] = {}
    unstable: list[Unstable] = []
    for name in names:
        results = [run.get(name) for run in by_run]
        bad = next((r for r in results if r is None or r.status not in (CaseStatus.OK, CaseStatus.SKIPPED)), None)
        if bad is not None or any(r is None for r in results):
            failed[name] = bad or CaseResult(name=name, status=CaseStatus.ERROR, error="not captured in every run")
            continue
        first = results[0]
        assert first is not None
        for index, other in enumerate(results[1:], start=2):
            assert other is not None
            for key in sorted(set(first.artifacts) | set(other.artifacts)):
                a, b = first.artifacts.get(key, ""), other.artifacts.get(key, "")
                if a != b and not any(u.case == name and u.artifact == key for u in unstable):
                    unstable.append(_diff(name, key, (1, index), a, b))
    return StabilityReport(len(reports), tuple(names), tuple(unstable), tuple(failed.values()))


def check(capture: Callable[[int], CaptureReport], repeat: int = DEFAULT_REPEAT) -> StabilityReport:
    """Capture ``repeat`` times (``capture(K)``: run K, from 1) and compare the runs."""
    if repeat < 2:
        raise ValueError(f"a stability check needs at least 2 runs, not {repeat}")
    return compare([capture(run) for run in range(1, repeat + 1)])


# --- telling the user --------------------------------------------------------------

# The differing part's kind, as a pattern for at least as many characters as
# the shorter side has: an id, never every number.
_CLASSES = ((re.compile(r"\d+"), r"\d{%d,}"), (re.compile(r"(?:0x)?[0-9a-fA-F]+"), r"(?:0x)?[0-9a-fA-F]{%d,}"))
# Word characters kept on each side of the differing part in a suggested pattern.
_BEFORE, _AFTER = re.compile(r"\w{0,16}$"), re.compile(r"^\w{0,16}")


def suggest_rule(removed: str, added: str) -> str:
    """A ``normalize`` entry that would make the two lines the same: the
    differing part generalized (as many digits or hex digits or more, else a
    token), with the word characters next to it as context."""
    start = len(_common_prefix(removed, added))
    end = len(_common_prefix(removed[start:][::-1], added[start:][::-1]))
    # Grow the differing part to whole digit/hex runs, so 1398...000 vs 1402...123 is one number.
    while start > 0 and removed[start - 1].isalnum():
        start -= 1
    while end > 0 and removed[len(removed) - end].isalnum():
        end -= 1
    middle_a, middle_b = removed[start : len(removed) - end], added[start : len(added) - end]
    before, after = _found(_BEFORE, removed[:start]), _found(_AFTER, removed[len(removed) - end :])
    shortest = max(1, min(len(middle_a.removeprefix("0x")), len(middle_b.removeprefix("0x"))))
    general = next((cls % shortest for plain, cls in _CLASSES if plain.fullmatch(middle_a) and plain.fullmatch(middle_b)), r"\S+")
    pattern = re.escape(before) + general + re.escape(after)
    return f"normalize = [{{ name = \"my_ids\", pattern = '{pattern}', replace = '{before}<id>{after}' }}]"


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return match.group(0) if match else ""


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def refusal(unstable: Unstable) -> str:
    """The one line ``--snapshot-update`` says instead of writing an unstable golden."""
    removed, added = unstable.first_lines
    return (
        f"{unstable.case}: not writing {unstable.artifact}: it differs between fresh runs"
        f" (run {unstable.runs[0]}: {removed.strip()!r}; run {unstable.runs[1]}: {added.strip()!r});"
        f" if that is noise, add to [tool.snapshot-runner]: {suggest_rule(removed, added)}"
    )
