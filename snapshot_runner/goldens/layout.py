"""The golden layout under a snapshots directory, mirroring the case name::

    snapshots/ENVIRONMENT                                   torch, device, python; the project's normalize rules
    snapshots/subclasses/two_tensor/twotensor_view/aot_forward.txt
    snapshots/cuda-torch2.11/ENVIRONMENT                    a GPU variant
    snapshots/cuda-torch2.11/gpu/models/mlp_gelu/inductor_kernels.txt

Cases that require CUDA keep their goldens in a variant directory named from
the running torch (``cuda-torch<major>.<minor>``): what Inductor generates for
a GPU depends on the torch/Triton build, and CPU goldens never mix with it.

No escaping and no indentation: a git diff of a golden is a diff of the graph.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from snapshot_runner.capture.artifacts import Key, base_key, key_problem
from snapshot_runner.capture.case import Case
from snapshot_runner.capture.environment import golden_key
from snapshot_runner.capture.names import case_name_problem, name_of_golden_parts
from snapshot_runner.torch_version import parse_version

SUFFIX = ".txt"
ENVIRONMENT_FILE = "ENVIRONMENT"


GPU_REQUIREMENT = "cuda"


def variant(case: Case, torch_version: str) -> str | None:
    """The variant directory of a case's goldens: None (the root) for CPU cases."""
    if GPU_REQUIREMENT not in case.options.requires:
        return None
    major, minor = parse_version(torch_version).release[:2]
    return f"cuda-torch{major}.{minor}"


def case_root(root: Path, case: Case, torch_version: str) -> Path:
    """The snapshots root of one case: ``root`` or its variant directory under it."""
    name = variant(case, torch_version)
    return root / name if name else root


def case_dir(root: Path, case: Case) -> Path:
    return root.joinpath(*case.path_parts)


def golden_path(root: Path, case: Case, key: str) -> Path:
    return case_dir(root, case) / f"{key}{SUFFIX}"


# --- what is a golden: the one rule --------------------------------------------
# A golden is ``<artifact key>.txt`` (a key of ``capture/artifacts.py``) in a
# directory whose path under a snapshots root spells a case name
# (``capture/names.py``). Anything else there (README.txt, NOTES.txt) is the
# user's: never read as a golden, never removed.


def golden_key_of(path: Path) -> str | None:
    """The artifact key a golden file holds, or None for a file that is no golden."""
    key = path.name.removesuffix(SUFFIX)
    if key == path.name or key_problem(key) or base_key(key) not in set(Key):
        return None
    return key


def golden_files(directory: Path) -> list[Path]:
    """The golden files directly in ``directory``, by name."""
    return sorted(p for p in directory.glob(f"*{SUFFIX}") if golden_key_of(p) and p.is_file())


def is_case_dir(root: Path, directory: Path) -> bool:
    """Whether ``directory`` is a case's golden directory under ``root``."""
    parts = directory.relative_to(root).parts
    return len(parts) >= 2 and case_name_problem(name_of_golden_parts(parts)) is None and bool(golden_files(directory))


def read_goldens(root: Path, case: Case) -> dict[str, str]:
    """The goldens of one case, keyed by artifact."""
    directory = case_dir(root, case)
    if not directory.is_dir():
        return {}
    return {path.name[: -len(SUFFIX)]: path.read_text(encoding="utf-8") for path in golden_files(directory)}


# --- the environment the goldens were made with -------------------------------


# After the environment line, one line per user normalization rule the goldens were made with.
RULE_PREFIX = "normalize "


def _read(root: Path) -> list[str]:
    path = root / ENVIRONMENT_FILE
    return path.read_text(encoding="utf-8").strip().splitlines() if path.exists() else []


def read_environment(root: Path) -> str | None:
    """The environment line: torch, device, python, tracked packages."""
    lines = _read(root)
    return lines[0] if lines else None


def rule_lines(user_rules: Sequence[dict[str, str]]) -> list[str]:
    """``normalize NAME: PATTERN -> REPLACE``, one line per rule (as JSON strings: any text fits one line)."""
    return [f"{RULE_PREFIX}{rule['name']}: {json.dumps(rule['pattern'])} -> {json.dumps(rule['replace'])}" for rule in user_rules]


def write_environment(root: Path, environment: dict[str, Any], user_rules: Sequence[dict[str, str]] = ()) -> None:
    """Atomically, since parallel workers may write the same lines at once."""
    lines = [golden_key(environment), *rule_lines(user_rules)]
    if _read(root) == lines:
        return
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".env-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, root / ENVIRONMENT_FILE)


def environment_note(root: Path, environment: dict[str, Any], user_rules: Sequence[dict[str, str]] = ()) -> str | None:
    """'golden made on X, running Y' when they differ (the normalize rules too), else None."""
    made = _read(root)
    if not made:
        return None
    notes = []
    running = golden_key(environment)
    if made[0] != running:
        notes.append(f"golden made on {made[0]}; running {running}")
    if made[1:] != rule_lines(user_rules):
        notes.append(f"goldens made with normalize rules [{'; '.join(made[1:]) or 'none'}]; running with [{'; '.join(rule_lines(user_rules)) or 'none'}]")
    return "; ".join(notes) or None


# --- goldens of cases that no longer exist ---------------------------------------


def case_dirs(root: Path) -> Iterable[Path]:
    """Case golden directories (``is_case_dir``), skipping nested variant roots (their own ENVIRONMENT)."""
    if not root.is_dir():
        return
    for dirpath, dirnames, _filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not (here / d / ENVIRONMENT_FILE).exists())
        if is_case_dir(root, here):
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


def remove_goldens(root: Path, directory: Path) -> list[Path]:
    """Delete the golden files of an orphaned case directory, then the
    directories left empty up to ``root``; returns the files kept (not goldens)."""
    for path in golden_files(directory):
        path.unlink()
    # Only empty directories go: a variant root keeps its ENVIRONMENT, a user's file stays.
    here = directory
    while here != root and here.is_dir() and not any(here.iterdir()):
        here.rmdir()
        here = here.parent
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
