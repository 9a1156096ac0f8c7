"""`db` in [tool.snapshot-runner] is a path like any other there: a SQLite URL's
file and a plain path both resolve against the pyproject.toml, with `~`
expanded; a pyproject.toml that is not UTF-8 is one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot_runner.config import ConfigError, find_config

from .conftest import run_cli
from .test_config import _project


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        ("sqlite:///relurl.sqlite", "sqlite:///{root}/relurl.sqlite"),
        ("sqlite+pysqlite:///db/h.sqlite?timeout=5", "sqlite+pysqlite:///{root}/db/h.sqlite?timeout=5"),
        ("sqlite:////abs/h.sqlite", "sqlite:////abs/h.sqlite"),
        ("sqlite:///~/h.sqlite", "sqlite:///{home}/h.sqlite"),
        ("~/plain.sqlite", "sqlite:///{home}/plain.sqlite"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite:///file:h?mode=memory&uri=true", "sqlite:///file:h?mode=memory&uri=true"),
    ],
)
def test_db_resolves_like_every_path_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str, expected: str) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    root = _project(tmp_path / "repo", f'db = "{db}"')
    (root / "sub").mkdir()
    assert find_config(root / "sub").db == expected.format(root=root, home=home)


def test_a_pyproject_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.snapshot-runner]\ndb = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'pyproject.toml'}: not UTF-8 text"):
        find_config(tmp_path)
    proc = run_cli("runs", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"snapshot-runner: error: {tmp_path / 'pyproject.toml'}: not UTF-8 text (byte 29), which TOML must be"]
