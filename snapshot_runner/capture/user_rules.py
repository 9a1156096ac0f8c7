"""Users' own normalization rules: ``normalize = [{ name, pattern, replace }]``
in ``[tool.snapshot-runner]``, for noise only their library makes (an id in a
name Dynamo does not know about, a counter of their own).

Plain data on the way to the worker (``CaptureRequest``), compiled there; they
run after the built-in rules (``normalize.py``). Torch-only side: standard
library here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

KEYS = ("name", "pattern", "replace")


class UserRuleError(ValueError):
    """A rule that cannot be used: one line naming it."""


@dataclasses.dataclass(frozen=True)
class UserRule:
    name: str
    pattern: str
    replace: str

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise UserRuleError(f"normalize rule {self.name!r}: pattern {self.pattern!r} is not a regular expression: {exc}") from None
        try:  # the replacement is checked against the pattern's groups even where nothing matches
            compiled.sub(self.replace, "")
        except (re.error, IndexError) as exc:
            raise UserRuleError(f"normalize rule {self.name!r}: replace {self.replace!r} does not fit its pattern: {exc}") from None

    def apply(self, text: str) -> str:
        return re.sub(self.pattern, self.replace, text)

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def parse_rules(value: Any) -> tuple[UserRule, ...]:
    """The rules of a config's ``normalize`` value (a list of tables); ``UserRuleError`` names the bad one."""
    if not isinstance(value, list):
        raise UserRuleError("normalize must be a list of tables { name, pattern, replace }")
    rules: list[UserRule] = []
    for index, entry in enumerate(value):
        where = f"normalize[{index}]"
        if not isinstance(entry, dict):
            raise UserRuleError(f"{where} must be a table {{ name, pattern, replace }}")
        unknown = sorted(set(entry) - set(KEYS))
        missing = [key for key in KEYS if key not in entry]
        if unknown or missing:
            what = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
            raise UserRuleError(f"{where}: {what} (a rule has exactly {', '.join(KEYS)})")
        if not all(isinstance(entry[key], str) for key in KEYS) or not entry["name"].strip() or not entry["pattern"]:
            raise UserRuleError(f"{where}: name, pattern and replace must be strings (name and pattern non-empty)")
        rules.append(UserRule(entry["name"], entry["pattern"], entry["replace"]))
    names = [rule.name for rule in rules]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise UserRuleError(f"normalize: two rules named {duplicate!r}")
    return tuple(rules)


def rules_from_json(data: Iterable[dict[str, str]]) -> tuple[UserRule, ...]:
    return tuple(UserRule(d["name"], d["pattern"], d["replace"]) for d in data)
