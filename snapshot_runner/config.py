"""Project configuration: the ``[tool.snapshot-runner]`` section of a ``pyproject.toml``.

Found by walking up from a directory (the command's working directory, the
pytest root) to the nearest ``pyproject.toml`` that has the section; paths in
it are relative to that file. Command-line flags override it. A key this
module does not know, or a value of the wrong type, is a ``ConfigError`` whose
message is one line naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from snapshot_runner.capture.user_rules import UserRule, parse_rules

SECTION = "snapshot-runner"
PYPROJECT = "pyproject.toml"


class ConfigError(ValueError):
    """A ``[tool.snapshot-runner]`` section that cannot be used: one line for the user."""


@dataclasses.dataclass(frozen=True)
class ProjectConfig:
    """What a ``[tool.snapshot-runner]`` section says; empty when there is none."""

    path: Path | None = None  # the pyproject.toml it came from
    cases_dir: Path | None = None
    snapshots_dir: Path | None = None
    db: str | None = None  # a URL; a plain path in the file becomes sqlite:///<absolute path>
    with_: tuple[str, ...] = ()  # requirements added to every environment the tool makes
    track: tuple[str, ...] = ()  # distributions whose versions each run and golden records
    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    fail_on: str | None = None  # the golden check's level (checked by the pytest plugin)
    normalize: tuple[UserRule, ...] = ()  # the project's own normalization rules


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return tuple(value)


def _directory(base: Path) -> Callable[[str, Any], Path]:
    return lambda key, value: (base / _string(key, value)).resolve()


# A SQLite URL's file part (its query kept): parsed by hand, since `capture`
# runs where torch is all there is (no SQLAlchemy).
_SQLITE_URL = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?", re.DOTALL)


def _database(base: Path) -> Callable[[str, Any], str]:
    """A plain path or a SQLite URL's file, like any path of the file: ``~``
    expanded, relative to the pyproject.toml (not to where the tool runs)."""

    def parse(key: str, value: Any) -> str:
        text = _string(key, value)
        if "://" not in text:
            return f"sqlite:///{(base / Path(text).expanduser()).resolve()}"
        match = _SQLITE_URL.fullmatch(text)
        # In-memory and file: URIs name no path of ours.
        if not match or match["path"] in ("", ":memory:") or match["path"].startswith("file:"):
            return text
        return f"{match['scheme']}{(base / Path(match['path']).expanduser()).resolve()}{match['query'] or ''}"

    return parse


def _with_entries(base: Path) -> Callable[[str, Any], tuple[str, ...]]:
    def parse(key: str, value: Any) -> tuple[str, ...]:
        # Imported only for a `with` key: `capture` runs where torch is all there is (no packaging).
        from snapshot_runner.envs.with_packages import resolve_entry

        return tuple(resolve_entry(entry, base) for entry in _strings(key, value))

    return parse


def _find_links(base: Path) -> Callable[[str, Any], tuple[str, ...]]:
    return lambda key, value: tuple(link if "://" in link else str((base / link).resolve()) for link in _strings(key, value))


def _parsers(base: Path) -> dict[str, tuple[str, Callable[[str, Any], Any]]]:
    """Each key of the section: the field it sets and how its value is read."""
    return {
        "cases-dir": ("cases_dir", _directory(base)),
        "snapshots-dir": ("snapshots_dir", _directory(base)),
        "db": ("db", _database(base)),
        "with": ("with_", _with_entries(base)),
        "track": ("track", _strings),
        "index-url": ("index_url", _string),
        "extra-index-url": ("extra_index_url", _strings),
        "find-links": ("find_links", _find_links(base)),
        "fail-on": ("fail_on", _string),
        "normalize": ("normalize", lambda _key, value: parse_rules(value)),
    }


# What each key means, for the docs' generated config reference (docs/reference/config.md).
KEY_HELP = {
    "cases-dir": "path: the case modules' directory, relative to this pyproject.toml (default: `cases`)",
    "snapshots-dir": "path: the goldens' directory, relative to this pyproject.toml (default: `snapshots`)",
    "db": "string: the history database, a path (SQLite) or any SQLAlchemy URL; `$SNAPSHOT_RUNNER_DB` wins over it (default: `db/history.sqlite`)",
    "with": "list of strings: installed after torch into every environment the tool makes (`--torch`, bisect, nightly): requirements, paths, `-e PATH`; `--with` replaces the list",
    "track": "list of strings: distributions (not import names) whose versions each run and golden records",
    "index-url": "string: with `--torch`: the installer's index",
    "extra-index-url": "list of strings: with `--torch`, more indexes",
    "find-links": "list of strings: with `--torch`, local directories or URLs of wheels, relative to this pyproject.toml",
    "fail-on": "string: the golden check's drift level: a change below it passes with a warning (default: `text`, any change fails)",
    "normalize": "list of tables `{ name, pattern, replace }`: your own normalization rules (Python regexes), run after the built-in ones on every artifact; recorded in `snapshots/ENVIRONMENT` and with each run",
}


def known_keys() -> list[str]:
    """The section's keys, in the order the docs list them."""
    return list(_parsers(Path()))


def parse_section(section: Mapping[str, Any], path: Path) -> ProjectConfig:
    """The section of ``path`` (a pyproject.toml) as a ``ProjectConfig``."""
    parsers = _parsers(path.parent)
    fields: dict[str, Any] = {"path": path}
    for key, value in section.items():
        if key not in parsers:
            close = difflib.get_close_matches(key, parsers, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(parsers)}"
            raise ConfigError(f"{path}: unknown key {key!r} in [tool.{SECTION}]{hint}")
        field, parse = parsers[key]
        try:
            fields[field] = parse(key, value)
        except ValueError as exc:
            raise ConfigError(f"{path}: [tool.{SECTION}] {exc}") from None
    return ProjectConfig(**fields)


def _section(path: Path) -> Mapping[str, Any] | None:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}), which TOML must be") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    section = data.get("tool", {}).get(SECTION)
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.{SECTION}] must be a table")
    return section


def find_config(start: Path | None = None) -> ProjectConfig:
    """The nearest ``[tool.snapshot-runner]`` at or above ``start`` (default: the working directory)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PYPROJECT
        if candidate.is_file():
            section = _section(candidate)
            if section is not None:
                return parse_section(section, candidate)
    return ProjectConfig()
