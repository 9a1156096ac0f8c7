"""What ``check-stable``'s runs vary: everything that must not change an artifact.

Run K (K >= 1) of a stability check differs from the other runs in its hash
seed (``PYTHONHASHSEED=K``, set by the host when it starts the worker), object
addresses (a different amount of memory and objects allocated before the
cases load), working directory, the order the case modules are imported in,
and the order the cases run in. Run 0 is a plain capture: nothing changes.
Torch-only side: standard library here.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Kept alive for the worker's lifetime: what the cases allocate lands elsewhere.
_ballast: list[object] = []


def hash_seed(perturbation: int) -> str | None:
    """The ``PYTHONHASHSEED`` a run's worker starts with (None: inherit)."""
    return str(perturbation) if perturbation else None


def before_load(perturbation: int, workdir: Path) -> None:
    """Shift object addresses and move to a working directory of this run's own."""
    if not perturbation:
        return
    _ballast.extend(object() for _ in range(perturbation * 30_000))
    _ballast.extend({n: str(n)} for n in range(perturbation * 7_919))
    _ballast.append(bytearray(perturbation * ((1 << 20) + 4_099)))
    directory = workdir / f"check-stable-cwd-{perturbation}"
    directory.mkdir(exist_ok=True)
    os.chdir(directory)


def reverses_imports(perturbation: int) -> bool:
    return perturbation % 2 == 1


def case_order(cases: Sequence[T], perturbation: int) -> list[T]:
    """The cases in this run's own order (run 0: as selected)."""
    ordered = list(cases)
    if perturbation:
        random.Random(perturbation).shuffle(ordered)
    return ordered
