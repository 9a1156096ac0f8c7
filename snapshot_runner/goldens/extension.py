"""The syrupy extension that keeps each artifact as one plain-text golden file,
and the check of one case's artifacts against its goldens."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from syrupy.data import SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from snapshot_runner.capture.case import Case
from snapshot_runner.capture.results import CaseResult
from snapshot_runner.drift import bounded
from snapshot_runner.drift.semantic import Level
from snapshot_runner.drift.structure import describe, fails
from snapshot_runner.goldens.layout import SUFFIX, case_root, environment_note, golden_path, read_goldens, write_environment

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.location import PyTestLocation
    from syrupy.types import SnapshotIndex

# Where the pytest plugin keeps the snapshots root for the extension to find.
SNAPSHOTS_DIR = pytest.StashKey[Path]()


class GoldenExtension(SingleFileSnapshotExtension):
    """Stores each artifact at ``<snapshots>/<case path>/<artifact>.txt``.

    The pytest item carries the case (its ``golden_case`` parameter) and the
    config carries the snapshots root, so the location is derived from both.
    Orphaned goldens are found from the case list, not by syrupy's name-based
    discovery (see ``orphan_case_dirs``), so discovery is turned off here.
    """

    _write_mode = WriteMode.TEXT
    file_extension = SUFFIX.lstrip(".")

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        import torch

        item: Any = test_location.item
        case = item.callspec.params["golden_case"]
        root = case_root(snapshots_root(item.config), case, torch.__version__)
        return str(golden_path(root, case, str(index)))

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return f"{test_location.testname}/{index}"

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        return True

    def discover_snapshots(self, **_kwargs: Any) -> SnapshotCollections:
        return SnapshotCollections()


def snapshots_root(config: pytest.Config) -> Path:
    return config.stash[SNAPSHOTS_DIR]


def unified_diff(golden: str | None, captured: str, key: str, update_command: str = "pytest --snapshot-update") -> str:
    """A plain unified diff (golden -> captured), like ``git diff`` of the file, bounded as a report's."""
    if golden is None:
        return f"no golden for {key} yet (write it with `{update_command}`)"
    return bounded.unified_diff(golden, captured, key, "golden", "captured").rstrip("\n")


# --- checking one case --------------------------------------------------------


def _difference(key: str, before: str | None, text: str, raw_diff: bool, update_command: str) -> tuple[Level | None, list[str]]:
    """The classification of one differing artifact and what to show of it."""
    if before is None:
        return None, [unified_diff(before, text, key, update_command)]
    description = describe(key, before, text, from_name="golden", to_name="captured")
    view = unified_diff(before, text, key) if raw_diff or not description.semantic_diff else description.semantic_diff.rstrip("\n")
    return description.level, [f"    {line}" for line in description.summary[:3]] + [view]


def _write_failure(golden: SnapshotAssertion) -> str | None:
    """Why syrupy could not write the golden it was just told to (a read-only or immutable file), or None."""
    failure = golden.executions[golden.num_executions - 1].exception
    if failure is None:
        return None
    return f"{failure.strerror} (errno {failure.errno})" if isinstance(failure, OSError) else f"{type(failure).__name__}: {failure}"


def check_case(
    result: CaseResult,
    case: Case,
    snapshot: SnapshotAssertion,
    root: Path,
    environment: dict[str, Any],
    update_command: str = "pytest --snapshot-update",
    *,
    fail_on: Level = Level.TEXT,
    raw_diff: bool = False,
    user_rules: Sequence[dict[str, str]] = (),
    refused: Mapping[str, str] | None = None,
) -> list[str]:
    """Compare (or, with --snapshot-update, write) every artifact of one case.

    Returns the failure report, empty when all goldens match or every change is
    below ``fail_on`` (those are warned about). Each artifact shows its
    classification, its summary and its semantic diff (``raw_diff``: the text
    diff); a missing golden names ``update_command``, the way to write it.
    ``refused``: artifacts not to write, each with its one-line reason (an
    unstable artifact); their goldens stay as they are. ``user_rules`` go
    into the ENVIRONMENT file with the goldens.
    """
    refused = refused or {}
    update = bool(snapshot.session.update_snapshots)
    golden = snapshot.use_extension(GoldenExtension)
    problems: list[str] = []
    differing = 0
    for key, text in result.artifacts.items():
        if key in refused:
            continue
        path = golden_path(root, case, key)
        before = path.read_text(encoding="utf-8") if path.exists() else None
        if not golden(name=key) == text:  # noqa: SIM201  # syrupy's assertion is its __eq__
            failed = _write_failure(golden) if update else None
            if failed:
                differing += 1
                problems.append(f"--- {key}: cannot write {path}: {failed}")
                continue
            level, shown = _difference(key, before, text, raw_diff, update_command)
            if not update and not fails(level, fail_on):
                warnings.warn(f"{case.name}: {key} changed ({level}); passes under --snapshot-runner-fail-on {fail_on}", stacklevel=1)
                continue
            differing += 1
            problems.append(f"--- {key}: {level or 'new'} ({path})")
            problems += shown
    stale = sorted(set(read_goldens(root, case)) - set(result.artifacts))
    for key in stale:
        path = golden_path(root, case, key)
        if update:
            try:
                path.unlink()
            except OSError as exc:
                differing += 1
                problems.append(f"--- {key}: cannot remove {path}, no longer produced: {exc.strerror}")
        else:
            differing += 1
            problems.append(f"--- {key}: golden {path} is no longer produced")
    if update:
        write_environment(root, environment, user_rules)
    if problems:
        note = environment_note(root, environment, user_rules)
        header = (
            f"{case.name}: {differing} golden(s) not written"
            if update
            else f"{case.name}: {differing} artifact(s) differ (if the change is meant, accept it with `{update_command}`)"
        )
        problems.insert(0, header)
        if note:
            problems.insert(0, note)
    return [refused[key] for key in result.artifacts if key in refused] + problems
