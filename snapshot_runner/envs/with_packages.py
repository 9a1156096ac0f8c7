"""``--with`` / ``with``: the user's own packages, added to every environment the tool makes.

An entry is a requirement (``torchao==0.18.0``, ``name @ git+https://…``), a
local path (a project directory or a wheel) or ``-e PATH``. Paths are made
absolute where they are read (the command line: the working directory; the
config: its pyproject.toml's directory), so an entry means the same from any
directory and the environment key that holds it does too.

Nothing else reaches the installer: an entry that would be read as one of its
options (``--index-url=…``, ``--requirement=…``) is refused before any
environment is made, and error lines show entries with credentials masked.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from snapshot_runner.redact import redact_url

EDITABLE = "-e "
_ARCHIVES = (".whl", ".tar.gz", ".zip")
# A bare VCS or archive URL (``git+https://…``, ``https://…/x.whl``): the installer reads it.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _is_path(text: str, base: Path) -> bool:
    return text.startswith((".", "/", "~")) or text.endswith(_ARCHIVES) or (base / text).exists()


def resolve_entry(entry: str, base: Path) -> str:
    """``entry`` checked and with any path made absolute against ``base`` (raises ``ValueError``)."""
    text = entry.strip()
    shown = redact_url(entry)
    editable = text.startswith(("-e ", "--editable "))
    if editable:
        text = text.split(None, 1)[1].strip()
    if text.startswith("-"):
        raise ValueError(f"with entry {shown!r} is an installer option: only a requirement, a path or -e PATH is allowed")
    if editable or ("://" not in text and _is_path(text, base)):
        path = (base / Path(text).expanduser()).resolve()
        if not path.exists():
            raise ValueError(f"with entry {shown!r}: no such path: {path}")
        return f"{EDITABLE}{path}" if editable else str(path)
    if _URL.fullmatch(text) and "@" not in text:
        return text
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        first = redact_url(str(exc).splitlines()[0])  # packaging adds the text and a caret below
        raise ValueError(f"with entry {shown!r} is not a requirement, a path or -e PATH: {first}") from None
    return text


def install_args(entry: str) -> list[str]:
    """The installer's arguments for one resolved entry."""
    return ["-e", entry[len(EDITABLE) :]] if entry.startswith(EDITABLE) else [entry]


def distribution_name(entry: str) -> str | None:
    """The distribution a resolved entry installs, where that is known without building it."""
    text = entry[len(EDITABLE) :] if entry.startswith(EDITABLE) else entry
    path = Path(text)
    if path.is_absolute():
        if path.suffix == ".whl":
            return canonicalize_name(path.name.split("-")[0])
        try:
            with (path / "pyproject.toml").open("rb") as file:
                name = tomllib.load(file).get("project", {}).get("name")
        except (OSError, tomllib.TOMLDecodeError):
            return None
        return canonicalize_name(name) if isinstance(name, str) else None
    if _URL.fullmatch(text) and "@" not in text:
        return None
    return canonicalize_name(Requirement(text).name)


def replaces_torch(reason: str) -> bool:
    """Whether an installer's failure (one line) is a conflict with the pinned torch:
    pip says "conflicting dependencies", uv "No solution found when resolving"."""
    unresolvable = any(word in reason.lower() for word in ("conflict", "no solution found"))
    return unresolvable and re.search(r"\btorch\b(?![-_.]?\w)", reason) is not None
