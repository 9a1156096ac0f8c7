"""The docs' generated pages, made from the code so they cannot drift from it.

A MkDocs hook (``hooks:`` in mkdocs.yml): at build time it adds

* ``reference/cli.md``: every subcommand and option, read from the argparse
  parsers that ``snapshot_runner.cli.parser()`` builds;
* ``reference/config.md``: every ``[tool.snapshot-runner]`` key, from ``config.py``;
* ``concepts/normalization-rules.md``: every canonical normalization rule in
  the order it applies (``CANONICAL_RULES``: name, artifact families,
  docstring) with its before/after example (``capture/normalize_examples.py``).

``tests/test_docs.py`` checks that the pages name every subcommand, option,
key and rule. Run it alone to print a page: ``python scripts/docs_reference.py cli``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snapshot_runner import config
from snapshot_runner.capture.normalize import CANONICAL_RULES
from snapshot_runner.capture.normalize_examples import EXAMPLES
from snapshot_runner.cli import parser

GENERATED = "<!-- Generated at build time by scripts/docs_reference.py: edit the code it reads, not this page. -->\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def subcommands(root: argparse.ArgumentParser, prefix: str = "snapshot-runner") -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """(full command, its parser, its one-line help) for every subcommand, nested ones too (``envs list``)."""
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                command = f"{prefix} {name}"
                nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if not nested:
                    yield command, sub, helps.get(name, "")
                yield from subcommands(sub, command)


def _option_row(action: argparse.Action) -> str:
    names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.option_strings and action.nargs != 0:
        names += f" `{action.metavar or action.dest.upper()}`" if not action.choices else f" `{{{','.join(map(str, action.choices))}}}`"
    help_text = action.help or ""
    quiet = action.default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 or "default" in help_text
    shown = "" if quiet else f" (default: `{action.default}`)"
    return f"| {_cell(names)} | {_cell(help_text + shown)} |"


def cli_page() -> str:
    root, _handlers = parser()
    lines = [
        "# Command line",
        "",
        GENERATED,
        "Every command finds the project's `pyproject.toml` by walking up from the working directory;"
        " options not given come from `[tool.snapshot-runner]` ([config](config.md)). Bad input is one line"
        " and exit status 2; `--debug` adds tracebacks.",
        "",
    ]
    for command, sub, help_text in subcommands(root):
        lines += [f"## `{command}`", "", help_text[:1].upper() + help_text[1:] + ("." if help_text else ""), "", "```text"]
        lines += [sub.format_usage().strip().replace("usage: ", "", 1), "```", ""]
        rows = [action for action in sub._actions if not isinstance(action, argparse._HelpAction)]
        if rows:
            lines += ["| option | what |", "| --- | --- |", *map(_option_row, rows), ""]
    return "\n".join(lines)


def config_page() -> str:
    lines = [
        "# Configuration: `[tool.snapshot-runner]`",
        "",
        GENERATED,
        "The section of your `pyproject.toml` that `snapshot-runner init` writes. Every command and the pytest"
        " plugin find the nearest one by walking up from the working directory (the pytest root); paths in it are"
        " relative to that file, and command-line flags override it. An unknown key or a value of the wrong type"
        " is one line naming the file and the key (`unknown key 'case-dir' ... (did you mean 'cases-dir'?)`).",
        "",
        "| key | value and meaning |",
        "| --- | --- |",
    ]
    lines += [f"| `{key}` | {_cell(config.KEY_HELP.get(key, ''))} |" for key in config.known_keys()]
    return "\n".join(lines) + "\n"


def _block(text: str) -> list[str]:
    return ["```text", *text.rstrip("\n").splitlines(), "```"]


def rules_page() -> str:
    lines = [
        "# Normalization rules",
        "",
        GENERATED,
        "The `canonical` level (goldens, history) is PyTorch's own `native` normalization plus these rules,"
        " applied in this order to the artifacts of the families named. Each removes one thing that differs"
        " between machines, checkouts or runs and nothing else ([artifacts and normalization](artifacts-and-normalization.md)).",
        "",
    ]
    for rule in CANONICAL_RULES:
        lines += [f"## `{rule.name}`", "", f"Applies to: {', '.join(sorted(rule.families))}.", "", inspect.cleandoc(rule.doc), ""]
        if rule.name in EXAMPLES:
            before, after = EXAMPLES[rule.name]
            lines += ["Before:", "", *_block(before), "", "After:", "", *_block(after), ""]
    return "\n".join(lines)


PAGES = {"reference/cli.md": cli_page, "reference/config.md": config_page, "concepts/normalization-rules.md": rules_page}


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated pages to the site."""
    from mkdocs.structure.files import File

    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files


if __name__ == "__main__":
    names = {path.split("/")[-1].removesuffix(".md").removesuffix("-rules"): make for path, make in PAGES.items()}
    if len(sys.argv) != 2 or sys.argv[1] not in names:
        sys.exit(f"usage: docs_reference.py {{{','.join(names)}}}")
    print(names[sys.argv[1]]())
