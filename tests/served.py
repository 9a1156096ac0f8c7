"""A real history behind a real `snapshot-runner serve` for the service's tests.

The history holds real captures (tests/data/semantic: torch 2.13.0 and 2.14.1
on CPU) recorded by the real CLI, a run with a hostile label and case name,
and a real bisect between the two torch builds (judged from the history, so
nothing is installed). The server is the real command in a subprocess on a
free loopback port.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .conftest import REPO, run_cli
from .postgres import _free_port as free_port

DATA = REPO / "tests" / "data" / "semantic"
OLD = DATA / "2.13.0_to_2.14.1.2.13.0.json"
NEW = DATA / "2.13.0_to_2.14.1.2.14.1.json"
BISECTED = "subclasses.two_tensor::twotensor_view"
EVIL_LABEL = '<script>alert("label")</script>'
EVIL_CASE = "subclasses.two_tensor::<img src=x onerror=alert(2)>"


def record(db: str, label: str, report: Path) -> int:
    proc = run_cli("record", "--db", db, "--label", label, "--from-json", str(report))
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip())


def record_hostile(db: str) -> int:
    """What a shared database may hold whatever the CLI checks: markup in a
    label and a case name (stored through the library, past the name check)."""
    from snapshot_runner.capture.results import CaptureReport
    from snapshot_runner.history.recording import RunRecorder
    from snapshot_runner.history.store import Store

    evil = copy.deepcopy(json.loads(NEW.read_text()))
    evil["cases"][0]["name"] = EVIL_CASE
    store = Store.open(db, create=False)
    try:
        return RunRecorder(store, EVIL_LABEL).finish(CaptureReport.from_json(evil))
    finally:
        store.close()


def build_history(db: str) -> dict[str, int]:
    """Runs 1, 2: torch 2.13.0; 3: torch 2.14.1 (real AOT signature and
    renaming drift); 4: 2.14.1 again under a hostile label, one case renamed
    to hostile markup. Then a bisect of ``BISECTED`` between runs 1 and 3."""
    runs = {
        "old": record(db, "nightly-a", OLD),
        "old_again": record(db, "nightly-b", OLD),
        "new": record(db, "nightly-c", NEW),
        "evil": record_hostile(db),
    }
    bisect(db, str(runs["old"]), str(runs["new"]))
    return runs


def bisect(db: str, good: str, bad: str) -> None:
    """A real bisect through the library: both ends and every candidate come
    from the history, so ``capture_at`` is never called."""
    from snapshot_runner.bisect.bisector import Bisector, Subject
    from snapshot_runner.history.store import Store

    def never(version: str) -> object:
        raise AssertionError(f"the bisect tried to capture torch {version}")

    store = Store.open(db, create=False)
    try:
        report = Bisector(store, Subject(BISECTED, None), never).run(good, bad, [], every_change=False, command="test")
        assert report is not None and report.search.change_points
    finally:
        store.close()


class Server:
    def __init__(self, db: str, port: int, root_path: str = "") -> None:
        self.db, self.port, self.root_path = db, port, root_path
        self.base = f"http://127.0.0.1:{port}"
        self.log = ""  # the server's stderr, once it stopped

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) of a GET; error statuses are answers too."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8")

    def json(self, path: str) -> object:
        status, _, body = self.get(path)
        assert status == 200, body
        return json.loads(body)


@contextlib.contextmanager
def serving(db: str, *extra: str, root_path: str = "") -> Iterator[Server]:
    """`snapshot-runner serve` in a subprocess until the block ends."""
    port = free_port()
    args = ["--db", db, "--port", str(port), *extra] + (["--root-path", root_path] if root_path else [])
    proc = subprocess.Popen(
        [sys.executable, "-m", "snapshot_runner.cli", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    server = Server(db, port, root_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("serve did not listen within 60 s") from None
                time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            server.log = proc.stderr.read()
            proc.stderr.close()
