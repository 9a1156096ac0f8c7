"""`make nightly` (`snapshot-runner nightly`) on a real database: the first night is
compared with the goldens, the next with the previous night on the same device
(not with a hand-made run or another device's nightly in between), over the
same case selection; a case edited in between shows up as drift."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import CASES, REPO, run_cli

VIEW = "subclasses.two_tensor::twotensor_view"
SELECTION = ["--case", VIEW, "--case", "subclasses.torch_function::passthrough_add"]


def nightly(db: str, reports: str, cases: str) -> subprocess.CompletedProcess[str]:
    # --python: this torch both nights (the default follows the newest torch on the index).
    command = [
        sys.executable,
        "-m",
        "snapshot_runner.cli",
        "nightly",
        "--db",
        db,
        "--reports",
        reports,
        "--bisect",
        "--cases-dir",
        cases,
        "--python",
        sys.executable,
        *SELECTION,
    ]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_nightly_compares_with_goldens_then_with_the_previous_night(tmp_path):
    db, reports, cases = f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path / "reports", tmp_path / "cases"
    shutil.copytree(CASES, cases)
    date = dt.date.today().isoformat()

    first = nightly(db, str(reports), str(cases))
    assert first.returncode == 0, first.stderr
    assert "(run 1 from golden)" in first.stderr
    markdown = first_markdown = (reports / f"drift-{date}.md").read_text()
    assert markdown.startswith("## Graph drift: goldens")
    # Only the selected cases: the other goldens are not "removed".
    assert "**2** unchanged (of 2 cases)" in markdown
    assert (reports / f"drift-{date}.html").read_text().startswith("<!DOCTYPE html>")

    # Between the nights someone edits the case: y.view(...) becomes y.reshape(...).
    module = cases / "subclasses" / "two_tensor.py"
    source = module.read_text()
    start = source.index("def twotensor_view()")
    body = source[start : source.index("@case", start)]
    assert "y.view(" in body
    module.write_text(source.replace(body, body.replace("y.view(", "y.reshape(")))

    # Runs in between that are not this device's previous nightly: one recorded
    # by hand here (run 2), and another device's nightly (run 3, a GPU box's
    # report). Both hold the edited case, so compared with either the edit would not show.
    capture = tmp_path / "capture.json"
    proc = run_cli("capture", "--cases-dir", str(cases), *SELECTION, "--json", str(capture))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(capture.read_text())
    assert report["environment"]["device"] == "cpu"
    gpu = tmp_path / "gpu.json"
    gpu.write_text(json.dumps({**report, "environment": {**report["environment"], "device": "cuda:NVIDIA H200"}}))
    for source, label in ((capture, "by-hand"), (gpu, "nightly-2099-01-01T000000")):
        proc = run_cli("record", "--from-json", str(source), "--db", db, "--label", label)
        assert proc.returncode == 0, proc.stderr

    second = nightly(db, str(reports), str(cases))
    assert second.returncode == 0, second.stderr
    assert "(run 4 from run 1)" in second.stderr
    # The second night of the day keeps the first one's reports and writes its own beside them.
    assert (reports / f"drift-{date}.md").read_text() == first_markdown
    written = sorted(line.removeprefix("nightly: wrote ") for line in second.stderr.splitlines() if line.startswith("nightly: wrote "))
    second_stem = Path(written[0]).name.removeprefix("drift-").removesuffix(".html")
    assert [Path(path).name for path in written] == [f"drift-{second_stem}.{suffix}" for suffix in ("html", "json", "junit.xml", "md")]
    assert second_stem.startswith(f"{date}T") and len(list(reports.iterdir())) == 8
    markdown = Path(written[-1]).read_text()
    assert markdown.startswith("## Graph drift: run 1 'nightly-")
    assert "**1** changed" in markdown and f"| `{VIEW}` | changed |" in markdown
    # Same torch both nights: the drift is the cases', not torch's.
    assert "nothing to bisect" in second.stderr and not list(reports.glob("bisect-*"))


def test_the_default_night_follows_the_index_and_skips_a_build_already_recorded(tmp_path):
    """Without --torch the night runs the newest torch on the (real) index; when
    the last nightly on this device ran that build, nothing is recorded."""
    import json

    from packaging.version import Version

    listed = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "torch"], capture_output=True, text=True, check=True).stdout
    newest = max(Version(v.strip()) for v in listed.split("Available versions:")[1].splitlines()[0].split(",")).base_version
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    capture = subprocess.run(
        [sys.executable, "-m", "snapshot_runner.cli", "capture", "--case", VIEW, "--json", "-"], cwd=REPO, capture_output=True, text=True, check=True
    )
    report = json.loads(capture.stdout)
    report["environment"]["torch_version"] = f"{newest}+cu130"  # last night's build, as this device recorded it
    (tmp_path / "night.json").write_text(json.dumps(report))
    recorded = subprocess.run(
        [
            sys.executable,
            "-m",
            "snapshot_runner.cli",
            "record",
            "--from-json",
            str(tmp_path / "night.json"),
            "--db",
            db,
            "--label",
            "nightly-2026-12-02T041500",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert recorded.returncode == 0, recorded.stderr

    command = [sys.executable, "-m", "snapshot_runner.cli", "nightly", "--db", db, "--reports", str(tmp_path / "reports"), "--case", VIEW]
    night = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert night.returncode == 0, night.stderr
    assert f"--torch newest: torch {newest} is the newest on the package index" in night.stderr
    assert f"nightly: torch {newest} is what the last nightly on cpu recorded (run 1): nothing new to record" in night.stderr
    runs = subprocess.run([sys.executable, "-m", "snapshot_runner.cli", "runs", "--db", db], cwd=REPO, capture_output=True, text=True).stdout
    assert len([line for line in runs.splitlines() if "nightly-" in line]) == 1 and not (tmp_path / "reports").exists()
