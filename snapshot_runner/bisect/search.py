"""The search order of a bisect, apart from how a version is judged.

Versions are ordered PEP 440 (nightlies ``2.10.0.dev20251015`` sort before
``2.10.0`` and after ``2.9.1``; local tags such as ``+cu130`` are ignored).
A probe of a version answers with the artifact's value there (a content hash,
or a tuple of them) or with a reason to skip it, like ``git bisect run``'s
exit 125. Values already known (from the history) cost nothing and are used
first, so a range the nightly job recorded is settled without installing.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Callable, Hashable, Sequence

from snapshot_runner.torch_version import parse_version


class Judgement(enum.StrEnum):
    GOOD = "good"  # same as the good end
    BAD = "bad"  # same as the bad end, or unlike both
    SKIP = "skip"  # could not be judged (no wheel, failed install, case error)


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one version gave: a value, or why it could not be judged."""

    value: Hashable | None
    skip_reason: str | None = None
    reused: bool = False  # came from the history, nothing installed or run


@dataclasses.dataclass
class Verdict:
    version: str
    verdict: str  # good / bad / skip
    detail: str  # "same as good", "same as bad", "differs from both", a skip reason
    reused: bool


@dataclasses.dataclass
class ChangePoint:
    last_good: str
    first_bad: str
    skipped_between: list[str]

    @property
    def is_range(self) -> bool:
        return bool(self.skipped_between)

    @property
    def span(self) -> str:
        """``2.13.0..2.14.1``: the point's key in a bisect report's diffs and classifications."""
        return f"{self.last_good}..{self.first_bad}"


@dataclasses.dataclass
class SearchResult:
    verdicts: dict[str, Verdict]
    change_points: list[ChangePoint]

    @property
    def captured(self) -> int:
        """Versions judged by a new capture (each needed an environment)."""
        return sum(not v.reused and v.verdict != Judgement.SKIP for v in self.verdicts.values())

    @property
    def skipped(self) -> int:
        return sum(v.verdict == Judgement.SKIP for v in self.verdicts.values())

    @property
    def reused(self) -> int:
        return sum(v.reused for v in self.verdicts.values())


def judge(version: str, probe: Probe, good: Hashable, bad: Hashable) -> Verdict:
    if probe.value is None:
        return Verdict(version, Judgement.SKIP, probe.skip_reason or "no value", probe.reused)
    if probe.value == good:
        return Verdict(version, Judgement.GOOD, "same as good", probe.reused)
    if probe.value == bad:
        return Verdict(version, Judgement.BAD, "same as bad", probe.reused)
    return Verdict(version, Judgement.BAD, "differs from both good and bad", probe.reused)


class Search:
    """Bisect ``versions`` (oldest first; the first is good, the last is bad)."""

    def __init__(
        self,
        versions: Sequence[str],
        probe: Callable[[str], Probe],
        known: Callable[[str], Probe | None],
        good_value: Hashable,
        bad_value: Hashable,
        prefetch: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.versions = list(versions)
        self._probe = probe
        self._known = known
        # Told, before each probe, the versions the search may need right after
        # it (one per possible verdict), so their environments can be made
        # while the probe's capture runs.
        self._prefetch = prefetch
        self.good_value, self.bad_value = good_value, bad_value
        self.values: dict[int, Hashable | None] = {0: good_value, len(versions) - 1: bad_value}
        self.verdicts: dict[str, Verdict] = {}

    def _record(self, index: int, probe: Probe) -> None:
        verdict = judge(self.versions[index], probe, self.good_value, self.bad_value)
        self.verdicts[verdict.version] = verdict
        self.values[index] = None if verdict.verdict == Judgement.SKIP else probe.value

    def _settle(self, index: int) -> None:
        self._record(index, self._probe(self.versions[index]))

    def run(self, *, every_change: bool = False) -> SearchResult:
        # History first: every version it already holds is judged for free.
        for index in range(1, len(self.versions) - 1):
            probe = self._known(self.versions[index])
            if probe is not None:
                self._record(index, probe)
        if every_change:
            for index in range(1, len(self.versions) - 1):
                if index not in self.values:
                    self._settle(index)
        else:
            self._bisect()
        return SearchResult(dict(sorted(self.verdicts.items(), key=lambda kv: parse_version(kv[0]))), self._change_points())

    def _judged(self) -> list[int]:
        return sorted(i for i, v in self.values.items() if v is not None)

    def _bisect(self) -> None:
        """Narrow to the first value differing from good, skipping versions that
        cannot be judged: probe the untried version nearest the middle."""
        while True:
            lo, hi = self._bracket()
            index = self._next_probe(lo, hi)
            if index is None:
                return
            if self._prefetch:
                after = [self._next_probe(lo, index), self._next_probe(index, hi)]
                self._prefetch([self.versions[i] for i in after if i is not None])
            self._settle(index)

    def _next_probe(self, lo: int, hi: int) -> int | None:
        """The untried version nearest the middle of (lo, hi), if any."""
        untried = [i for i in range(lo + 1, hi) if i not in self.values]
        middle = (lo + hi) / 2
        return min(untried, key=lambda i: (abs(i - middle), i)) if untried else None

    def _bracket(self) -> tuple[int, int]:
        """The last judged good before the first judged non-good, and that one."""
        judged = self._judged()
        first_bad = next(i for i in judged if self.values[i] != self.good_value)
        last_good = max(i for i in judged if i < first_bad)
        return last_good, first_bad

    def _change_points(self) -> list[ChangePoint]:
        judged = self._judged()
        points = []
        for before, after in itertools.pairwise(judged):
            if self.values[before] != self.values[after]:
                skipped = [self.versions[i] for i in range(before + 1, after)]
                points.append(ChangePoint(self.versions[before], self.versions[after], skipped))
        if len(self.values) < len(self.versions):
            # Bisecting proves only the first change; later ones are unexplored.
            points = points[:1]
        return points
