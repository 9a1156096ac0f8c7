"""The worker: a supervised capture in any interpreter gives the same artifacts
as in process, needs nothing but torch there, and every way it can fail is one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snapshot_runner.envs.supervisor import CaptureRequest, RequestError, WorkerError, run_capture

from .conftest import CASES, REPO, run_cli

SAME_CASES = [
    "subclasses.two_tensor::twotensor_view",
    "nested.jagged_views::nt_base_basic_view",
    "subclasses.two_tensor::twotensor_graph_break",
]
# What the host has and the target environment need not: none may be imported by the worker.
HOST_ONLY = ["syrupy", "sqlalchemy", "alembic", "rich", "pytest", "packaging"]


def _report(*args: str, out: Path) -> dict:
    selection = [a for name in SAME_CASES for a in ("--case", name)]
    proc = run_cli("capture", *selection, "--json", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def test_worker_artifacts_are_byte_identical_to_in_process(tmp_path: Path) -> None:
    """In process: what the pytest plugin does (and `make bench` times)."""
    from snapshot_runner.capture.discovery import discover, select
    from snapshot_runner.capture.normalize import Context
    from snapshot_runner.capture.recorder import capture_cases

    here = capture_cases(select(discover(CASES).cases, SAME_CASES), ctx=Context.current(CASES))
    there = _report("--python", sys.executable, out=tmp_path / "there.json")
    assert there["environment"]["python_executable"] == sys.executable
    assert [c["name"] for c in there["cases"]] == SAME_CASES
    assert {c["name"]: (c["status"], c["artifacts"]) for c in there["cases"]} == {c.name: (c.status, c.artifacts) for c in here}


@pytest.fixture(scope="module")
def torch_only_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This interpreter with every host-only package unimportable: a stand-in for
    an environment that has torch and nothing else."""
    root = tmp_path_factory.mktemp("torch_only")
    (root / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import sys

        class HostOnly:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {HOST_ONLY!r}:
                    raise ImportError(f"{{name}} is not in a torch-only environment")
                return None

        sys.meta_path.insert(0, HostOnly())
    """)
    )
    wrapper = root / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={root} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_the_stand_in_really_blocks_host_packages(torch_only_python: Path) -> None:
    for name in HOST_ONLY:
        proc = subprocess.run([str(torch_only_python), "-c", f"import {name}"], capture_output=True, text=True)
        assert proc.returncode != 0 and "not in a torch-only environment" in proc.stderr


def test_worker_needs_only_torch_and_streams_events(torch_only_python: Path) -> None:
    events: list[tuple[str, object]] = []
    report = run_capture(
        torch_only_python,
        CaptureRequest(str(CASES), substring="twotensor_view"),
        on_start=lambda start: events.append(("start", start.cases)),
        on_result=lambda result: events.append(("result", result.name)),
    )
    names = [c.name for c in report.cases]
    assert names and all(c.status == "ok" for c in report.cases)
    assert events == [("start", names)] + [("result", name) for name in names]


def test_capture_runs_with_only_torch_installed(torch_only_python: Path) -> None:
    """The host side of `capture -j N` too: what a GPU machine with torch alone runs."""
    proc = subprocess.run(
        [str(torch_only_python), "-m", "snapshot_runner.cli", "capture", "-k", "twotensor_view", "-j", "2", "--json", "-"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    cases = json.loads(proc.stdout)["cases"]
    assert cases and all(c["status"] == "ok" for c in cases)


@pytest.fixture(scope="module")
def not_pythons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("not_pythons")
    text = root / "notes.txt"
    text.write_text("not a program\n")
    text.chmod(0o755)
    no_torch = root / "no_torch"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(no_torch)], check=True)
    return {"text": text, "true": Path("/bin/true"), "no_torch": no_torch / "bin" / "python", "missing": root / "nowhere"}


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("text", "{path} is not an interpreter: Exec format error"),
        ("true", "{path} is not a Python interpreter: it exited with status 0 without running the worker"),
        ("no_torch", "no torch in {path}: ModuleNotFoundError: No module named 'torch'"),
        ("missing", "python not found: {path}"),
    ],
)
def test_bad_python_is_one_line(not_pythons: dict[str, Path], which: str, message: str) -> None:
    path = not_pythons[which]
    proc = run_cli("capture", "-k", "twotensor_view", "--python", str(path))
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("snapshot-runner: error: " + message.format(path=path))


def test_worker_crash_is_the_case_error(tmp_path: Path) -> None:
    (tmp_path / "crash.py").write_text(
        textwrap.dedent("""
        import os, signal
        from snapshot_runner import case

        @case
        def segfaults():
            os.kill(os.getpid(), signal.SIGSEGV)
    """)
    )
    proc = run_cli("capture", "--cases-dir", str(tmp_path), "--python", sys.executable)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["error: crash::segfaults: worker killed by SIGSEGV while running this case", "1 cases: 1 error"]


def test_request_errors_come_back_as_such() -> None:
    with pytest.raises(RequestError, match="unknown case name: nope::nothing"):
        run_capture(Path(sys.executable), CaptureRequest(str(CASES), names=("nope::nothing",)))


def test_malformed_events_are_a_worker_error(tmp_path: Path) -> None:
    """An interpreter that says hello on the event pipe (the 5th argument), then garbage."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/bash\necho "@snapshot-runner-worker python 3.11.0" >&$5\necho "not json" >&$5\nsleep 5\n')
    fake.chmod(0o755)
    with pytest.raises(WorkerError, match=f"the worker in {fake} sent a malformed event: 'not json'"):
        run_capture(fake, CaptureRequest(str(CASES)))
