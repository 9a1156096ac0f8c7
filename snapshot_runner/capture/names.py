"""Case names and the paths they map to: the one place that spells the mapping.

``subclasses.two_tensor::twotensor_view`` is the factory ``twotensor_view`` of
``<cases>/subclasses/two_tensor.py``; its goldens live in
``<snapshots>/subclasses/two_tensor/twotensor_view/``.
"""

from __future__ import annotations

import re
from pathlib import Path

SEPARATOR = "::"
# What a name may hold: each part becomes a directory or file name under the
# snapshots directory, so no empty part, no "..", no separators or controls.
_MODULE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def case_name(module: str, function: str) -> str:
    return f"{module}{SEPARATOR}{function}"


def split_case_name(name: str) -> tuple[str, str]:
    """``a.b::f`` -> (``a.b``, ``f``); ``f`` is empty when the name has none."""
    module, _, function = name.partition(SEPARATOR)
    return module, function


def is_module_name(module: str) -> bool:
    """Whether ``module`` (``a.b``) may name a case module: each part a golden directory."""
    return all(_MODULE_PART.fullmatch(part) for part in module.split("."))


def case_name_problem(name: str) -> str | None:
    """Why ``name`` is not a case name (``a.b::f``), or None."""
    module, function = split_case_name(name)
    if not name:
        return "an empty case name"
    if not is_module_name(module) or not _FUNCTION.fullmatch(function):
        return f"{name!r} is not a case name (<module path>{SEPARATOR}<factory>)"
    return None


# What discovery says of a file or factory whose name no case may have.
NAME_RULE = "names are ASCII letters, digits and _ (and - in folder and file names)"


def module_name(cases_dir: Path, path: Path) -> str:
    """``<cases>/a/b.py`` -> ``a.b``."""
    return ".".join(path.relative_to(cases_dir).with_suffix("").parts)


def module_path(cases_dir: Path, module: str) -> Path:
    """``a.b`` -> ``<cases>/a/b.py``."""
    return cases_dir.joinpath(*module.split(".")).with_suffix(".py")


def golden_parts(name: str) -> tuple[str, ...]:
    """``a.b::f`` -> (``a``, ``b``, ``f``): the case's golden directory under a snapshots root."""
    module, function = split_case_name(name)
    return (*module.split("."), function)


def name_of_golden_parts(parts: tuple[str, ...]) -> str:
    """The inverse of ``golden_parts``."""
    *module, function = parts
    return case_name(".".join(module), function)
