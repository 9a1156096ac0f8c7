"""docs/tutorial.md, followed as a user would: its shell blocks run in order as
one bash script in a fresh directory outside the checkout (its own venv, the
tool installed from a copy of this checkout, not editable), its
``python title="PATH"`` blocks written to PATH when the script reaches them.

Blocks after a ``<!-- multi_torch -->`` line need another torch (GBs): they run
in ``make test-torch`` only, after the rest."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO

TUTORIAL = REPO / "docs" / "tutorial.md"
# The placeholder a reader replaces with their checkout (or a git URL).
CHECKOUT = "/path/to/snapshot_runner"
_BLOCK = re.compile(r'(?P<marker><!-- multi_torch -->\n)?```(?P<lang>\w+)(?: title="(?P<title>[^"]+)")?\n(?P<body>.*?)```', re.DOTALL)


def tutorial_blocks(text: str) -> list[tuple[str, str | None, str, bool]]:
    """(language, title, body, needs another torch) of each fenced block, in order."""
    return [(m["lang"], m["title"], m["body"], bool(m["marker"])) for m in _BLOCK.finditer(text)]


def tutorial_script(text: str, checkout: Path, *, multi_torch: bool) -> str:
    """The tutorial as one bash script: every command echoed before it runs, the first failure stops it."""
    lines = ["set -euo pipefail"]
    for lang, title, body, needs_torch in tutorial_blocks(text):
        if needs_torch and not multi_torch:
            continue
        if lang == "python" and title:
            lines.append(f"mkdir -p {shlex.quote(str(Path(title).parent))} && cat > {shlex.quote(title)} <<'TUTORIAL_EOF'\n{body}TUTORIAL_EOF")
        elif lang == "sh":
            for command in body.replace(CHECKOUT, str(checkout)).splitlines():
                if command.strip():
                    lines += [f"echo {shlex.quote('$ ' + command)}", command]
    return "\n".join(lines) + "\n"


def test_every_tutorial_block_is_run_or_written() -> None:
    """No block the test would skip: a shell block or a file for the project."""
    blocks = tutorial_blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert blocks and all(lang == "sh" or (lang == "python" and title) for lang, title, _body, _torch in blocks)
    assert sum(lang == "sh" for lang, *_ in blocks) == TUTORIAL.read_text(encoding="utf-8").count("```sh")


def _follow(tmp_path: Path, *, multi_torch: bool) -> subprocess.CompletedProcess[str]:
    # Installed from a copy: setuptools keeps a checkout's build/ between builds.
    checkout = tmp_path / "snapshot_runner"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", "examples", "db", "reports", "site"))
    env = {k: v for k, v in os.environ.items() if k not in ("SNAPSHOT_RUNNER_DB", "PYTHONPATH", "VIRTUAL_ENV")}
    script = tutorial_script(TUTORIAL.read_text(encoding="utf-8"), checkout, multi_torch=multi_torch)
    home = tmp_path / "home"
    home.mkdir()
    return subprocess.run(
        ["bash", "-c", script], cwd=home, capture_output=True, text=True, timeout=1800, env={**env, "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"}
    )


@pytest.mark.slow
def test_the_tutorial_works(tmp_path: Path) -> None:
    proc = _follow(tmp_path, multi_torch=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    project = tmp_path / "home" / "mylib"
    assert (project / "snapshots" / "scaled" / "scaled_add" / "aot_forward.txt").is_file()
    # The example case, ours and the orphan check, written then checked.
    assert "scaled::scaled_add" in proc.stdout and proc.stdout.count("3 passed") == 2
    assert "run 1 complete: 2 ok" in proc.stderr


@pytest.mark.multi_torch
def test_the_tutorial_works_with_another_torch(tmp_path: Path) -> None:
    proc = _follow(tmp_path, multi_torch=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = tmp_path / "home" / "mylib" / "reports"
    assert sorted(path.suffix for path in reports.iterdir()) == [".html", ".json", ".md", ".xml"]
    assert "first bad: torch 2.14.0" in proc.stdout + proc.stderr
