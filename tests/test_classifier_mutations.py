"""The classifier never hides a real change: every committed golden (this
repository's, its GPU variant folders', the examples') mutated the way a compiler
change would (scripts/classifier_mutations.py), each mutant classified as drift
does. Seeded: the same goldens give the same mutants."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from .conftest import REPO

spec = importlib.util.spec_from_file_location("classifier_mutations", REPO / "scripts" / "classifier_mutations.py")
assert spec is not None and spec.loader is not None
mutations = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mutations  # its dataclasses look their module up
spec.loader.exec_module(mutations)


def test_goldens_of_every_kind_of_folder_are_mutated():
    files = mutations.golden_files()
    assert any("cuda-torch2.11" in p.parts for p in files)
    assert any(p.is_relative_to(REPO / "examples") for p in files)
    assert len(files) == len(list((REPO / "snapshots").rglob("*.txt"))) + len(list((REPO / "examples").glob("*/snapshots/**/*.txt")))


def test_no_real_change_is_classified_below_metadata(capsys: pytest.CaptureFixture[str]):
    result = mutations.check(mutations.golden_files(), seed=0, per_kind=2)
    with capsys.disabled():
        print("\n" + mutations.table(result))
    assert result.wrong == []
    # Every kind of mutation was made (a generator that silently made none would check nothing).
    assert all(sum(found.values()) > 0 for found in result.levels.values()), mutations.table(result)
