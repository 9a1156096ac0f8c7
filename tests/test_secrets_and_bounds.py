"""Issue 19, part B: nothing reaches the installer but what ``--with`` documents,
no password of any URL or DSN form reaches stdout, stderr, a report or a file
outside the database, and every diff a report shows is bounded."""

from __future__ import annotations

import contextlib
import difflib
import http.server
import json
import random
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapshot_runner.capture.results import CaptureReport, CaseResult, CaseStatus
from snapshot_runner.drift import bounded
from snapshot_runner.drift.renderers.html import side_by_side
from snapshot_runner.envs.with_packages import resolve_entry
from snapshot_runner.redact import redact

from .conftest import run_cli

SECRET = "Sup3rSecretPw"
ENV = {"torch_version": "2.13.0+cpu", "python": "3.11", "platform": "linux", "device": "cpu"}


def _files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]


# --- --with: requirements, paths and -e PATH only ------------------------------------------

INSTALLER_OPTIONS = ["--requirement=file:///tmp/req.txt", "--index-url=http://127.0.0.1:9/simple", "-e --index-url=http://127.0.0.1:9/simple", "-r req.txt"]


@pytest.mark.parametrize("entry", INSTALLER_OPTIONS)
def test_a_with_entry_that_is_an_installer_option_is_refused(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ValueError, match="is an installer option: only a requirement, a path or -e PATH is allowed"):
        resolve_entry(entry, tmp_path)


@pytest.mark.parametrize("entry", INSTALLER_OPTIONS[:2])
def test_the_command_refuses_it_in_one_line_before_any_environment(tmp_path: Path, entry: str) -> None:
    envs = tmp_path / "envs"
    proc = run_cli("capture", "--torch", "2.13.0", f"--with={entry}", "--envs-dir", str(envs), "--cases-dir", str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith("snapshot-runner: error: --with entry ") and "is an installer option" in line, line
    assert not envs.exists()


# --- redaction: every URL and DSN form -----------------------------------------------------

SECRET_FORMS = [
    f"host=x password={SECRET} dbname=h",  # libpq key=value
    f"host=x password = '{SECRET} two' dbname=h",  # quoted, spaces around =
    f"dbname=h PASSWORD={SECRET}",
    f"postgresql://u:{SECRET}@127.0.0.1:1/x",
    f"postgresql://u@127.0.0.1:1/x?sslmode=require&password={SECRET}",
    f"postgresql+psycopg://u:{SECRET}@127.0.0.1:notaport/x",
    f"postgresql//u:{SECRET}@127.0.0.1:1/x",
    f"foo @ https://alice:{SECRET}@host.example/foo.whl",
    f"https://{SECRET}@host.example/simple",
]


@pytest.mark.parametrize("text", SECRET_FORMS)
def test_redact_masks_every_form_anywhere_in_a_message(text: str) -> None:
    message = f"snapshot-runner: error: cannot use {text!r}: ({text}) see {text}"
    shown = redact(message)
    assert SECRET not in shown and "***" in shown
    assert shown.startswith("snapshot-runner: error: cannot use ")


def test_redact_leaves_text_without_credentials_alone() -> None:
    text = "sqlite:///path/with@sign.db git+ssh://git@github.com/pytorch/pytorch torch==2.13.0 a.b@example.org passwords=3"
    assert redact(text) == text


@pytest.mark.parametrize("dsn", SECRET_FORMS[:7])
@pytest.mark.parametrize("via", ["--db", "$SNAPSHOT_RUNNER_DB"])
def test_no_database_password_is_printed_or_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dsn: str, via: str) -> None:
    (tmp_path / "cases").mkdir()
    args = ["--db", dsn] if via == "--db" else []
    if via != "--db":
        monkeypatch.setenv("SNAPSHOT_RUNNER_DB", dsn)
    for command in (["runs"], ["record", "--cases-dir", "cases"]):
        proc = run_cli(*command, *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        [line] = proc.stderr.splitlines()
        assert SECRET not in proc.stdout + proc.stderr and "***" in line, line
    assert _files_holding(tmp_path, SECRET) == []


def test_a_with_entry_with_credentials_is_shown_masked(tmp_path: Path) -> None:
    entry = f"foo @ https://alice:{SECRET}@host.example/foo.whl ; python_version >"
    proc = run_cli("capture", "--torch", "2.13.0", "--with", entry, "--envs-dir", str(tmp_path / "envs"), "--cases-dir", str(tmp_path))
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert "is not a requirement, a path or -e PATH" in line and "alice:***@host.example" in line and SECRET not in line


# --- one bounded diff for every report -------------------------------------------------------


def test_the_bounded_diff_is_difflibs_on_ordinary_texts() -> None:
    rng = random.Random(19)
    for _ in range(500):
        old = [rng.choice("abcdefg") for _ in range(rng.randint(0, 40))]
        new = list(old)
        for _ in range(rng.randint(0, 5)):
            at = rng.randint(0, len(new))
            new[at:at] = [rng.choice("xyz")] if rng.random() < 0.5 else []
            if new and rng.random() < 0.4:
                del new[rng.randrange(len(new))]
        before, after = "\n".join(old) + "\n", "\n".join(new) + ("\n" if rng.random() < 0.8 else "")
        expected = "".join(
            line if line.endswith("\n") else line + "\n"
            for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), "a/k", "b/k")
        )
        assert bounded.unified_diff(before, after, "k", "a", "b") == expected


def _big_artifact(lines: int, changed: bool) -> str:
    # Every line differs between the sides: the worst case for difflib and for the report's size.
    return "".join(f"    buf{i} = kernel_{i}({'new' if changed else 'old'}, {i % 7})\n" for i in range(lines))


def _record(tmp_path: Path, db: str, text: str) -> None:
    report = CaptureReport(environment=ENV, cases=[CaseResult("ops::big", CaseStatus.OK, {"inductor_code": text}, None, 0.1)])
    path = tmp_path / "capture.json"
    path.write_text(report.dumps(), encoding="utf-8")
    proc = run_cli("record", "--db", db, "--from-json", str(path))
    assert proc.returncode == 0, proc.stderr


def test_every_report_of_a_big_changed_artifact_is_bounded_and_says_so(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    old, new = _big_artifact(12_000, False), _big_artifact(12_000, True)  # ~0.5 MB each
    _record(tmp_path, db, old)
    _record(tmp_path, db, new)
    limit = 4 * bounded.MAX_BYTES  # the diff, its semantic view and the page around them
    for fmt in ("md", "html", "json", "junit"):
        out = tmp_path / f"drift.{fmt}"
        proc = run_cli("drift", "--db", db, "--from", "1", "--to", "2", "--format", fmt, "--out", str(out))
        assert proc.returncode in (0, 1), proc.stderr
        text = out.read_text(encoding="utf-8")
        assert len(text.encode()) < limit, (fmt, len(text))
        # md is a PR comment, capped as a whole: a diff that does not fit is left out and said so.
        note = "diff(s) left out to fit a comment" if fmt == "md" else "the full texts are in the history database"
        assert note in text, fmt
    diff = json.loads((tmp_path / "drift.json").read_text())["cases"][0]["artifacts"][0]["diff"]
    assert diff.count("\n") <= bounded.MAX_LINES + 3  # headers and the note


def test_the_pytest_plugins_views_of_a_big_change_are_bounded() -> None:
    from snapshot_runner.drift.structure import describe
    from snapshot_runner.goldens.extension import unified_diff as plugin_diff

    old, new = _big_artifact(12_000, False), _big_artifact(12_000, True)
    raw = plugin_diff(old, new, "inductor_code")
    assert raw.count("\n") <= bounded.MAX_LINES + 3 and bounded.truncated(bounded.MAX_LINES) in raw
    # Guards: the semantic view lists every changed guard, bounded as the raw diff is.
    guards = ["".join(f"+- TYPE_MATCH: L['x{i}{side}'], 9\n" for i in range(12_000)) for side in "ab"]
    view = describe("guards", *guards).semantic_diff
    assert view.count("\n") <= bounded.MAX_LINES + 1, view.count("\n")


def test_a_huge_line_is_clipped_in_every_view() -> None:
    before, after = "x = 1\n" + "a" * 50_000 + "\n", "x = 2\n" + "b" * 50_000 + "\n"
    diff = bounded.unified_diff(before, after, "k", "a", "b")
    assert len(diff) < 3 * bounded.MAX_LINE_CHARS + 200 and "(49001 more characters)" in diff  # the "-" counts
    page = side_by_side(before, after, "from", "to")
    assert len(page) < 10 * bounded.MAX_LINE_CHARS and "(49000 more characters)" in page


# --- --with credentials in a real environment ------------------------------------------------

WHEEL = "tinylib-1.0-py3-none-any.whl"


def _wheel(folder: Path) -> None:
    """The smallest installable wheel, written by hand (no build backend)."""
    files = {
        "tinylib/__init__.py": "VALUE = 1\n",
        "tinylib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n",
        "tinylib-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "tinylib-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(folder / WHEEL, "w") as archive:
        for name, text in {**files, "tinylib-1.0.dist-info/RECORD": record}.items():
            archive.writestr(name, text)


@contextlib.contextmanager
def _index(folder: Path) -> Iterator[int]:
    """A real HTTP server over ``folder`` (it ignores the credentials the URL sends)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("found", [True, False])
def test_with_credentials_reach_neither_the_terminal_nor_the_env_cache(tmp_path: Path, found: bool) -> None:
    """Makes a torch 2.13.0 environment from the local wheel, then installs an entry
    from an index URL holding a password (a 404 when not ``found``)."""
    served = tmp_path / "served"
    served.mkdir()
    _wheel(served)
    root = tmp_path / "project"
    (root / "cases").mkdir(parents=True)
    (root / "cases" / "ops.py").write_text(
        "import torch\nfrom snapshot_runner import case\n\n\n@case(backend='eager', backward=False)\ndef shift():\n    return (lambda x: x + 1), (torch.ones(2),)\n"
    )
    envs = tmp_path / "envs"
    with _index(served) as port:
        url = f"http://alice:{SECRET}@127.0.0.1:{port}/{WHEEL if found else 'gone/' + WHEEL}"
        proc = run_cli("capture", "--torch", "2.13.0", "--with", f"tinylib @ {url}", "--envs-dir", str(envs), "--json", str(tmp_path / "c.json"), cwd=root)
        listing = run_cli("envs", "list", "--envs-dir", str(envs))
    assert SECRET not in proc.stdout + proc.stderr + listing.stdout + listing.stderr
    assert _files_holding(tmp_path, SECRET) == []
    if not found:
        assert proc.returncode == 2
        assert "alice:***@127.0.0.1" in proc.stderr.splitlines()[-1] and "cannot be installed" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    [env] = [p for p in envs.iterdir() if not p.name.startswith(".")]
    marker = env / "snapshot-runner-env.json"
    assert "tinylib @ http://alice:***@127.0.0.1" in marker.read_text()
    assert (env.stat().st_mode & 0o777, marker.stat().st_mode & 0o777) == (0o700, 0o600)


def test_a_graph_too_big_to_align_is_compared_as_text_and_counts_as_a_change() -> None:
    from snapshot_runner.drift.semantic import Level
    from snapshot_runner.drift.structure import describe

    def graph(constant: int) -> str:
        body = "".join(f'        add_{i}: "f32[2]" = torch.ops.aten.add.Tensor(add_{i - 1}, {constant})\n' for i in range(1, bounded.MATCH_LINES + 2))
        return f'class GraphModule(torch.nn.Module):\n    def forward(self, add_0: "f32[2]"):\n{body}        return (add_{bounded.MATCH_LINES + 1},)\n'

    description = describe("dynamo_graph", graph(1), graph(2))
    assert description.level == Level.STRUCTURAL and description.semantic_diff == ""
    assert description.summary == [f"over {bounded.MATCH_LINES} lines: compared as text, not as graphs", "5001 line(s) removed, 5001 added (of 5004 → 5004)"]


@pytest.mark.parametrize("error", ["CliError", "RuntimeError"])
def test_every_error_line_the_command_prints_is_redacted(monkeypatch: pytest.MonkeyPatch, error: str) -> None:
    """Whatever raised it (here: before any command ran), the one error line masks every form."""
    import io

    from snapshot_runner import cli
    from snapshot_runner.cli.common import CliError

    def fail(args: object) -> None:
        raise (CliError if error == "CliError" else RuntimeError)(" and ".join(SECRET_FORMS))

    monkeypatch.setattr(cli, "apply_project_config", fail)
    err = io.StringIO()
    assert cli.main(["runs"], io.StringIO(), err) == 2
    [line] = err.getvalue().splitlines()
    assert line.startswith("snapshot-runner: error: ") and SECRET not in line and line.count("***") >= len(SECRET_FORMS)
