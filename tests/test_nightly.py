"""`make nightly` (scripts/nightly.py) on a real database, twice: the first run
is compared with the goldens, the second with the first."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from .conftest import REPO

SELECTION = ["--case", "subclasses.two_tensor::twotensor_view", "--case", "subclasses.torch_function::passthrough_add"]


def nightly(db: str, reports: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "scripts/nightly.py", "--db", db, "--reports", reports, "--bisect", *SELECTION]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_nightly_writes_reports_from_golden_then_from_previous(tmp_path):
    db, reports = f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "reports"
    date = dt.date.today().isoformat()

    first = nightly(db, str(reports))
    assert first.returncode == 0, first.stderr
    assert "(from golden)" in first.stderr
    markdown = (reports / f"drift-{date}.md").read_text()
    assert markdown.startswith("## Graph drift: goldens")
    assert "**0** changed" in markdown and "**0** status-changed" in markdown
    assert (reports / f"drift-{date}.html").read_text().startswith("<!DOCTYPE html>")

    second = nightly(db, str(reports))
    assert second.returncode == 0, second.stderr
    assert "(from previous)" in second.stderr
    markdown = (reports / f"drift-{date}.md").read_text()
    assert markdown.startswith("## Graph drift: run 1 'nightly-") and "No case changed." in markdown
    assert not list(reports.glob("bisect-*"))  # nothing changed, nothing to bisect
