"""The docs can't drift from the code: the generated reference pages name every
subcommand, option, config key and normalization rule; each rule's documented
example is what the rule does; the README stays a front page."""

from __future__ import annotations

import argparse
import importlib.util
import sys

import pytest

from snapshot_runner import config
from snapshot_runner.capture.normalize import CANONICAL_RULES
from snapshot_runner.capture.normalize_examples import EXAMPLE_CONTEXT, EXAMPLES
from snapshot_runner.cli import parser

from .conftest import REPO


def _reference():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("docs_reference", REPO / "scripts" / "docs_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docs_reference", module)
    spec.loader.exec_module(module)
    return module


def _all_parsers(root: argparse.ArgumentParser, prefix: str = "snapshot-runner"):  # type: ignore[no-untyped-def]
    """Every parser by its command, found independently of the generator."""
    yield prefix, root
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, f"{prefix} {name}")


def test_the_cli_page_names_every_subcommand_and_option() -> None:
    page = _reference().cli_page()
    root, handlers = parser()
    commands = dict(_all_parsers(root))
    for name in handlers:
        assert f"`snapshot-runner {name}" in page, name
    for command, sub in commands.items():
        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
        if command == "snapshot-runner" or not leaf:
            continue
        section = page.split(f"## `{command}`\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in section, f"{command} {option}"
            if not action.option_strings:
                assert f"`{action.metavar or action.dest}`" in section, f"{command} {action.dest}"


def test_the_config_page_names_every_key_with_its_meaning() -> None:
    page = _reference().config_page()
    for key in config.known_keys():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))
        assert row.removeprefix(f"| `{key}` |").strip(" |"), f"{key} has no meaning in KEY_HELP"


def test_the_rules_page_has_every_rule_in_order() -> None:
    page = _reference().rules_page()
    positions = [page.index(f"## `{rule.name}`\n") for rule in CANONICAL_RULES]
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_documented_example_is_what_the_rule_does(name: str) -> None:
    (rule,) = [r for r in CANONICAL_RULES if r.name == name]
    before, after = EXAMPLES[name]
    assert before != after
    assert rule.apply(before, EXAMPLE_CONTEXT) == after


def test_the_readme_is_a_front_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "make test" in readme and "make snapshot-update" in readme
    for target in [part.split(")")[0] for part in readme.split("](")[1:]]:
        if "://" not in target:
            assert (REPO / target.split("#")[0]).exists(), target
