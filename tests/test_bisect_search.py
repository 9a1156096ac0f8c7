"""The bisect search order, with probes from a table (the verdict and install
paths run for real in test_bisect.py)."""

from __future__ import annotations

import math

import pytest

from snapshot_runner.bisect.search import Judgement, Probe, Search
from snapshot_runner.torch_version import VersionError, order_versions

NIGHTLIES = [f"2.10.0.dev202510{d:02d}" for d in range(1, 17)]


class Table:
    """value per version; versions in ``broken`` cannot be judged; ``history`` are free."""

    def __init__(self, values, broken=(), history=()):
        self.values, self.broken, self.history = values, set(broken), set(history)
        self.probed: list[str] = []

    def probe(self, version):
        self.probed.append(version)
        if version in self.broken:
            return Probe(None, "no wheel for this version")
        return Probe(self.values[version])

    def known(self, version):
        return Probe(self.values[version], reused=True) if version in self.history else None

    def search(self, **kwargs):
        versions = list(self.values)
        return Search(versions, self.probe, self.known, self.values[versions[0]], self.values[versions[-1]]).run(**kwargs)


def test_pep440_orders_nightlies_and_releases_together():
    assert order_versions(["2.10.0", "2.9.1", "2.10.0.dev20251015+cu130", "2.10.0.dev20250901", "2.9.1+cpu"]) == [
        "2.9.1",
        "2.10.0.dev20250901",
        "2.10.0.dev20251015",
        "2.10.0",
    ]
    assert order_versions(["2.14", "2.14.0", "2.14.0+cu130"]) == ["2.14"]  # one version, written three ways
    with pytest.raises(VersionError, match="not a torch version: 'banana'"):
        order_versions(["banana"])


@pytest.mark.parametrize("first_bad", range(1, 16))
def test_finds_the_first_change_within_log2_probes(first_bad):
    table = Table({v: ("B" if i >= first_bad else "A") for i, v in enumerate(NIGHTLIES)})
    result = table.search()
    (point,) = result.change_points
    assert (point.last_good, point.first_bad) == (NIGHTLIES[first_bad - 1], NIGHTLIES[first_bad])
    assert not point.is_range
    inner = len(NIGHTLIES) - 2
    assert len(table.probed) <= math.ceil(math.log2(inner + 1)) and result.captured == len(table.probed)


def test_value_differing_from_both_ends_counts_as_bad():
    values = {v: ("A" if i < 5 else "C" if i < 10 else "B") for i, v in enumerate(NIGHTLIES)}
    result = Table(values).search()
    assert result.change_points[0].first_bad == NIGHTLIES[5]
    verdict = result.verdicts[NIGHTLIES[5]]
    assert (verdict.verdict, verdict.detail) == (Judgement.BAD, "differs from both good and bad")


def test_skip_next_to_the_answer_makes_a_range():
    values = {v: ("B" if i >= 8 else "A") for i, v in enumerate(NIGHTLIES)}
    table = Table(values, broken={NIGHTLIES[8], NIGHTLIES[7]})
    result = table.search()
    (point,) = result.change_points
    assert (point.last_good, point.first_bad, point.skipped_between) == (NIGHTLIES[6], NIGHTLIES[9], NIGHTLIES[7:9])
    assert {result.verdicts[v].verdict for v in NIGHTLIES[7:9]} == {Judgement.SKIP}


def test_history_is_used_first_and_costs_nothing():
    values = {v: ("B" if i >= 11 else "A") for i, v in enumerate(NIGHTLIES)}
    table = Table(values, history=NIGHTLIES[1:-1])
    result = table.search()
    assert table.probed == []
    assert result.captured == 0 and result.reused == len(NIGHTLIES) - 2
    assert (result.change_points[0].last_good, result.change_points[0].first_bad) == (NIGHTLIES[10], NIGHTLIES[11])


def test_a_second_bisect_over_the_same_range_installs_nothing():
    values = {v: ("B" if i >= 3 else "A") for i, v in enumerate(NIGHTLIES)}
    first = Table(values)
    first.search()
    again = Table(values, history=first.probed)
    result = again.search()
    assert again.probed == [] and result.captured == 0
    assert result.change_points[0].first_bad == NIGHTLIES[3]


def test_every_change_finds_a_change_and_its_revert():
    pattern = "AAABBBAAAABBBBBB"
    values = dict(zip(NIGHTLIES, pattern, strict=True))
    result = Table(values).search(every_change=True)
    assert [(p.last_good, p.first_bad) for p in result.change_points] == [
        (NIGHTLIES[2], NIGHTLIES[3]),
        (NIGHTLIES[5], NIGHTLIES[6]),
        (NIGHTLIES[9], NIGHTLIES[10]),
    ]
    assert result.verdicts[NIGHTLIES[7]].verdict == Judgement.GOOD and result.verdicts[NIGHTLIES[4]].verdict == Judgement.BAD


def test_prefetch_is_told_both_possible_next_versions_before_each_probe():
    values = {v: ("B" if i >= 5 else "A") for i, v in enumerate(NIGHTLIES)}
    table = Table(values)
    told: list[tuple[str, list[str]]] = []
    versions = list(values)

    def prefetch(upcoming):
        told.append((len(table.probed), upcoming))

    Search(versions, table.probe, table.known, "A", "B", prefetch=prefetch).run()
    # Before the first probe (the middle, index 7), the middles of both halves.
    assert told[0] == (0, [NIGHTLIES[3], NIGHTLIES[11]])
    # Each next probe was among the versions prefetched before the one before it.
    assert len(told) == len(table.probed) >= 3
    assert all(probed in upcoming for (_, upcoming), probed in zip(told, table.probed[1:], strict=False))
