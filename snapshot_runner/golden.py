"""Golden snapshots: one plain-text file per (case, artifact) kept by syrupy.

Layout under the snapshots directory, mirroring the case name::

    snapshots/ENVIRONMENT                                   torch, device, python
    snapshots/subclasses/two_tensor/twotensor_view/aot_forward.txt
    snapshots/cuda-torch2.11/ENVIRONMENT                    a GPU variant
    snapshots/cuda-torch2.11/gpu/models/mlp_gelu/inductor_kernels.txt

Cases that require CUDA keep their goldens in a variant directory named from
the running torch (``cuda-torch<major>.<minor>``): what Inductor generates for
a GPU depends on the torch/Triton build, and CPU goldens never mix with it.

No escaping and no indentation: a git diff of a golden is a diff of the graph.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syrupy.data import SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from .case import Case
from .environment import golden_key
from .results import CaseResult

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.location import PyTestLocation
    from syrupy.types import SnapshotIndex

SUFFIX = ".txt"
ENVIRONMENT_FILE = "ENVIRONMENT"


GPU_REQUIREMENT = "cuda"


def variant(case: Case, torch_version: str) -> str | None:
    """The variant directory of a case's goldens: None (the root) for CPU cases."""
    if GPU_REQUIREMENT not in case.options.requires:
        return None
    major_minor = ".".join(torch_version.split("+")[0].split(".")[:2])
    return f"cuda-torch{major_minor}"


def case_root(root: Path, case: Case, torch_version: str) -> Path:
    """The snapshots root of one case: ``root`` or its variant directory under it."""
    name = variant(case, torch_version)
    return root / name if name else root


def case_dir(root: Path, case: Case) -> Path:
    return root.joinpath(*case.path_parts)


def golden_path(root: Path, case: Case, key: str) -> Path:
    return case_dir(root, case) / f"{key}{SUFFIX}"


def read_goldens(root: Path, case: Case) -> dict[str, str]:
    """The goldens of one case, keyed by artifact."""
    directory = case_dir(root, case)
    if not directory.is_dir():
        return {}
    return {
        path.name[: -len(SUFFIX)]: path.read_text(encoding="utf-8")
        for path in sorted(directory.glob(f"*{SUFFIX}"))
    }


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


def snapshots_root(config: Any) -> Path:
    return config._snapshot_runner_snapshots_dir


# --- the environment the goldens were made with -------------------------------


def read_environment(root: Path) -> str | None:
    path = root / ENVIRONMENT_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def write_environment(root: Path, environment: dict[str, Any]) -> None:
    """Atomically, since parallel workers may write the same line at once."""
    line = golden_key(environment)
    if read_environment(root) == line:
        return
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".env-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(line + "\n")
    os.replace(tmp, root / ENVIRONMENT_FILE)


def environment_note(root: Path, environment: dict[str, Any]) -> str | None:
    """'golden made on X, running Y' when they differ, else None."""
    made_on = read_environment(root)
    running = golden_key(environment)
    if made_on and made_on != running:
        return f"golden made on {made_on}; running {running}"
    return None


def unified_diff(golden: str | None, captured: str, key: str) -> str:
    """A plain unified diff (golden -> captured), like ``git diff`` of the file."""
    if golden is None:
        return f"no golden for {key} yet (write it with `make snapshot-update`, i.e. pytest --snapshot-update)"
    lines = difflib.unified_diff(
        golden.splitlines(keepends=True),
        captured.splitlines(keepends=True),
        fromfile=f"golden/{key}",
        tofile=f"captured/{key}",
    )
    return "".join(lines).rstrip("\n")


# --- checking one case --------------------------------------------------------


def check_case(
    result: CaseResult,
    case: Case,
    snapshot: SnapshotAssertion,
    root: Path,
    environment: dict[str, Any],
) -> list[str]:
    """Compare (or, with --snapshot-update, write) every artifact of one case.

    Returns the failure report, empty when all goldens match.
    """
    update = bool(snapshot.session.update_snapshots)
    golden = snapshot.use_extension(GoldenExtension)
    problems: list[str] = []
    differing = 0
    for key, text in result.artifacts.items():
        path = golden_path(root, case, key)
        before = path.read_text(encoding="utf-8") if path.exists() else None
        if not golden(name=key) == text:
            differing += 1
            problems.append(f"--- {key} ({path})")
            problems.append(unified_diff(before, text, key))
    stale = sorted(set(read_goldens(root, case)) - set(result.artifacts))
    for key in stale:
        path = golden_path(root, case, key)
        if update:
            path.unlink()
        else:
            differing += 1
            problems.append(f"--- {key}: golden {path} is no longer produced")
    if update:
        write_environment(root, environment)
    if problems:
        note = environment_note(root, environment)
        header = f"{case.name}: {differing} artifact(s) differ"
        problems.insert(0, header)
        if note:
            problems.insert(0, note)
    return problems


# --- goldens of cases that no longer exist ---------------------------------------


def case_dirs(root: Path) -> Iterable[Path]:
    """Directories holding goldens, skipping nested variant roots (their own ENVIRONMENT)."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not (here / d / ENVIRONMENT_FILE).exists())
        if any(name.endswith(SUFFIX) for name in filenames):
            yield here


def variant_roots(root: Path) -> list[Path]:
    """Variant directories directly under the snapshots root (each has its own ENVIRONMENT)."""
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if (d / ENVIRONMENT_FILE).is_file())


def orphan_case_dirs(root: Path, cases: Iterable[Case]) -> list[Path]:
    """Golden directories of no current case: at the root against the CPU cases,
    in every variant directory (whatever torch made it) against the GPU cases."""
    cases = list(cases)
    gpu = [c for c in cases if GPU_REQUIREMENT in c.options.requires]
    cpu = [c for c in cases if c not in gpu]
    known = {case_dir(root, c) for c in cpu}
    orphans = [d for d in case_dirs(root) if d not in known]
    for variant_root in variant_roots(root):
        known = {case_dir(variant_root, c) for c in gpu}
        orphans.extend(d for d in case_dirs(variant_root) if d not in known)
    return orphans


def remove_case_dir(root: Path, directory: Path) -> None:
    shutil.rmtree(directory)
    # Drop parents left empty, up to the root (a variant root keeps its ENVIRONMENT).
    parent = directory.parent
    while parent != root and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
