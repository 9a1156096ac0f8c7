"""``snapshot-runner init``: set up an existing repository in one step.

Writes a ``[tool.snapshot-runner]`` section into ``pyproject.toml`` (made if
there is none), an example case and the golden test module. Refuses, before
writing anything, when any of them is already there.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import TextIO

from snapshot_runner.cli.common import CliError, Exit, Handler, add_debug
from snapshot_runner.config import PYPROJECT, SECTION

CONFIG = f"""
[tool.{SECTION}]
cases-dir = "cases"
snapshots-dir = "snapshots"
db = "db/history.sqlite"
# Installed after torch into every environment the tool makes (--torch, bisect):
# your library, e.g. "-e ." for this repository or "yourlib==1.2".
with = []
# Distributions whose versions each run and golden records.
track = []
"""

EXAMPLE_CASE = '''"""An example case: replace it with your own tensor subclass's code.

The factory returns (fn, args); fn is compiled with torch.compile and its
Dynamo graph, AOTAutograd graphs, guards and compile summary become goldens.
"""

import torch
from torch.testing._internal.two_tensor import TwoTensor

from snapshot_runner import case


@case(dynamic=False, backward=True)
def two_tensor_sin():
    def f(x):
        return (x * 2).sin()

    a = torch.randn(3, 4, requires_grad=True)
    return f, (TwoTensor(a, a.clone()),)
'''

GOLDEN_TEST = '''"""The golden check: one test per case (pytest checks, pytest --snapshot-update rewrites)."""

from snapshot_runner.goldens.pytest_plugin import test_golden, test_golden_orphans  # noqa: F401
'''

NEXT = """next:
  pytest {test} --snapshot-update   # write the goldens (commit them with the cases)
  snapshot-runner record                  # store a first run in the history ({db})"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p_init = sub.add_parser("init", help="set up this repository: [tool.snapshot-runner], an example case, the golden test")
    add_debug(p_init)
    return {"init": cmd_init}


def _has_section(pyproject: Path) -> bool:
    try:
        with pyproject.open("rb") as file:
            return SECTION in tomllib.load(file).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{pyproject}: not valid TOML: {exc}") from None


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    root = Path.cwd()
    pyproject = root / PYPROJECT
    files = {root / "cases" / "example.py": EXAMPLE_CASE, root / "tests" / "test_goldens.py": GOLDEN_TEST}
    if pyproject.is_file() and _has_section(pyproject):
        raise CliError(f"{pyproject} already has [tool.{SECTION}]: nothing written")
    existing = [path for path in files if path.exists()]
    if existing:
        raise CliError(f"{existing[0]} exists: nothing written (init never overwrites)")
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    if text:  # appended after what is there, one blank line between
        text = text.rstrip("\n") + "\n\n"
    pyproject.write_text(text + CONFIG.lstrip("\n"), encoding="utf-8")
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    for path in [pyproject, *files]:
        print(f"wrote {path.relative_to(root)}", file=out)
    print(NEXT.format(test="tests/test_goldens.py", db="db/history.sqlite"), file=out)
    return Exit.OK
