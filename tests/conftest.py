from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .tools import require

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "cases"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "snapshot_runner.cli", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=600,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server per test process (xdist workers each get
    their own); skipped only where no server binary is installed."""
    from .postgres import find_bindir, running_server

    bindir = find_bindir()
    require(
        bindir,
        "PostgreSQL is not installed: no initdb/pg_ctl/postgres on PATH or in /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql; .ci/run installs it)",
    )
    assert bindir is not None
    with running_server(bindir) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh empty database on the test server, as a URL with a password."""
    import re
    import uuid

    # Readable (test name) and unique (uuid): parametrized names share prefixes.
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:10]
    return postgres_server.create_database(name)
