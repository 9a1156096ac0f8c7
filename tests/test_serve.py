"""`snapshot-runner serve` over real HTTP: every page and API endpoint of a real
server (the CLI in a subprocess, on a free loopback port) reading a real
history on SQLite and on PostgreSQL; its answers checked against `drift
--format json`; bad input, hostile text, read-only access, a reverse proxy's
prefix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import REPO, run_cli
from .served import BISECTED, EVIL_CASE, OLD, build_history, free_port, record, serving

pytestmark = pytest.mark.xdist_group("serve")

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'history.sqlite'}"
    else:
        db = request.getfixturevalue("postgres_server").create_database("serve_" + uuid.uuid4().hex[:10])
    runs = build_history(db)
    with serving(db) as server:
        yield server, runs


def drift_json(db: str, ref_from: str, ref_to: str) -> dict:
    proc = run_cli("drift", "--db", db, "--from", ref_from, "--to", ref_to, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_runs_page_and_api(served) -> None:
    server, runs = served
    data = server.json("/api/runs")
    assert [r["id"] for r in data["runs"]] == [runs["evil"], runs["new"], runs["old_again"], runs["old"]]
    by_id = {r["id"]: r for r in data["runs"]}
    # The torch build with its variant, as recorded.
    assert by_id[runs["new"]]["environment"]["torch_version"] == "2.14.1+cu130"
    assert by_id[runs["old"]]["environment"]["torch_version"] == "2.13.0+cpu"
    # Changes against the previous run on the device agree with drift.
    drift = drift_json(server.db, str(runs["old_again"]), str(runs["new"]))
    assert by_id[runs["new"]]["previous"] == runs["old_again"]
    assert by_id[runs["new"]]["changes"]["changed"] == drift["counts"]["changed"] > 0
    assert by_id[runs["old_again"]]["changes"] == {"changed": 0, "added": 0, "removed": 0, "unchanged": 7}
    assert by_id[runs["evil"]]["changes"]["added"] == 1 and by_id[runs["evil"]]["changes"]["removed"] == 1
    assert by_id[runs["old"]]["previous"] is None

    assert [r["id"] for r in server.json("/api/runs?torch=2.13")["runs"]] == [runs["old_again"], runs["old"]]
    assert [r["id"] for r in server.json("/api/runs?label=nightly-c")["runs"]] == [runs["new"]]
    assert server.json("/api/runs?kind=bisect")["runs"] == []
    assert server.json("/api/runs?device=cuda")["runs"] == []
    paged = server.json("/api/runs?per_page=1&page=2")
    assert [r["id"] for r in paged["runs"]] == [runs["new"]] and paged["pages"] == 4 and paged["total"] == 4

    status, headers, page = server.get("/")
    assert status == 200
    assert "script-src 'self';" in headers["content-security-policy"]
    assert page.index("nightly-c") < page.index("nightly-b") < page.index("nightly-a")  # newest first
    assert f'href="/compare?from={runs["old_again"]}&amp;to={runs["new"]}"' in page
    assert 'data-live="/runs/rows"' in page
    status, _, rows = server.get("/runs/rows?label=nightly-c")
    assert status == 200 and "nightly-c" in rows and "nightly-a" not in rows


def test_compare_api_is_drift_json(served) -> None:
    server, runs = served
    for a, b in ((runs["old_again"], runs["new"]), (runs["new"], runs["evil"])):
        served_json = server.json(f"/api/compare?from={a}&to={b}")
        assert served_json.pop("page") == 1 and served_json.pop("pages") == 1
        assert served_json == drift_json(server.db, str(a), str(b))
    # The server knows this checkout's goldens (the project config's snapshots dir).
    golden = server.json(f"/api/compare?from=golden&to={runs['new']}")
    assert golden["from"]["ref"] == "golden" and golden["cases"]


def test_compare_page_and_fail_on(served) -> None:
    server, runs = served
    drift = drift_json(server.db, "nightly-a", "nightly-c")
    levels = {a["classification"] for c in drift["cases"] for a in c["artifacts"] if a["change"] == "changed"}
    assert {"signature", "renamed"} <= levels
    status, _, page = server.get("/compare?from=nightly-a&to=nightly-c")
    assert status == 200
    assert f"{drift['counts']['changed']} of {len(drift['cases'])} cases changed" in page
    assert 'class="badge b-renamed"' in page and 'class="badge b-signature"' in page
    filtered = server.json("/api/compare?from=nightly-a&to=nightly-c&fail_on=signature")
    kept = {a["classification"] for c in filtered["cases"] for a in c["artifacts"] if a["change"] == "changed"}
    assert "signature" in kept and "renamed" not in kept
    status, _, page = server.get("/compare?from=nightly-a&to=nightly-c&fail_on=signature")
    assert status == 200 and 'class="badge b-renamed"' not in page.split('id="grid"')[0]
    # One case, one artifact: what a grid cell links to.
    one = server.json(f"/api/compare?from={runs['old']}&to={runs['new']}&case={quote(BISECTED)}&artifact=aot_forward")
    assert [(c["name"], [a["key"] for a in c["artifacts"]]) for c in one["cases"]] == [(BISECTED, ["aot_forward"])]
    paged = server.json("/api/compare?from=nightly-a&to=nightly-c&per_page=2&page=2")
    assert [c["name"] for c in paged["cases"]] == sorted(c["name"] for c in drift["cases"])[2:4] and paged["pages"] == 4


def test_grid(served) -> None:
    server, runs = served
    data = server.json("/api/grid")
    assert [r["id"] for r in data["runs"]] == [runs["old"], runs["old_again"], runs["new"], runs["evil"]]
    row = next(r for r in data["rows"] if r["case"] == BISECTED and r["key"] == "aot_forward")
    assert [c["version"] for c in row["cells"]] == [1, 1, 2, 2]
    changed = row["cells"][2]
    assert changed["previous_run"] == runs["old_again"] and changed["classification"] == "signature"
    assert all("previous_run" not in c for i, c in enumerate(row["cells"]) if i != 2)
    assert server.json("/api/grid?k=twotensor_view")["cases"] == 1
    status, _, page = server.get("/grid?k=twotensor_view")
    assert status == 200
    link = f"/compare?case={quote(BISECTED, safe='')}&amp;artifact=aot_forward&amp;from={runs['old_again']}&amp;to={runs['new']}#diff-0-0"
    assert link in page


def test_case_timeline_and_bisect(served) -> None:
    server, runs = served
    data = server.json(f"/api/case/{BISECTED}")
    forward = next(a for a in data["artifacts"] if a["key"] == "aot_forward")
    assert [(v["version"], v["runs"], v["torch_versions"]) for v in forward["versions"]] == [(1, 2, ["2.13.0+cpu"]), (2, 2, ["2.14.1+cu130"])]
    assert [(c["from_run"]["id"], c["to_run"]["id"], c["classification"]) for c in forward["changes"]] == [(runs["old_again"], runs["new"], "signature")]
    [bisect] = data["bisects"]
    [point] = bisect["change_points"]
    assert (point["last_good"], point["first_bad"]) == ("2.13.0", "2.14.1")
    assert point["compare_url"].startswith("https://github.com/pytorch/pytorch/compare/")
    assert {c["key"] for c in point["classifications"]} == {"aot_forward", "aot_backward"}
    status, _, page = server.get(f"/case/{BISECTED}")
    assert status == 200 and "first bad: torch <b>2.14.1</b>" in page and "v1 → v2" in page
    # The bisect's ends ran different builds: said on the page as `bisect` says it.
    assert point["build_difference"].startswith("Different builds: build variant cpu → cu130")
    assert "Different builds: build variant cpu → cu130 (torch 2.13.0+cpu → 2.14.1+cu130)" in page


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/case/no.such::case", 404, "no case &#39;no.such::case&#39;"),
        ("/compare?from=999&to=1", 404, "no run 999"),
        ("/compare?from=1", 400, "missing parameter to"),
        ("/compare?from=nosuchlabel&to=1", 404, "unknown REF"),
        ("/compare?from=1&to=2&fail_on=huge", 400, "fail_on: expected one of"),
        ("/?page=0", 400, "page: expected a whole number from 1"),
        ("/?page=abc", 400, "page: expected a whole number"),
        ("/?per_page=100000", 400, "per_page: expected a whole number from 1 to 200"),
        ("/?kind=nightly", 400, "kind: expected one of record, bisect"),
        ("/grid?runs=1000", 400, "runs: expected a whole number from 1 to 60"),
        ("/?label=" + "x" * 500, 400, "label: longer than 400 characters"),
        ("/no/such/page", 404, "Not Found"),
        ("/api/case/no.such::case", 404, "no case"),
        ("/api/compare?to=1", 400, "missing parameter from"),
        # An error line is redacted as the command line's are: no password echoed back.
        ("/compare?from=postgresql%3A%2F%2Fu%3Ahunter2%40h%2Fdb&to=1", 404, "postgresql://u:***@h/db"),
    ],
)
def test_bad_input_is_a_page_not_a_traceback(served, path: str, status: str, message: str) -> None:
    server, _ = served
    got, headers, body = server.get(path)
    assert got == status, body
    assert message in body
    assert "Traceback" not in body and 'File "' not in body and "hunter2" not in body
    assert "content-security-policy" in headers
    if path.startswith("/api/"):
        assert json.loads(body)["status"] == status


def test_hostile_text_is_escaped(served) -> None:
    server, runs = served
    pages = ["/", "/grid", f"/compare?from={runs['new']}&to={runs['evil']}", "/case/" + quote(EVIL_CASE)]
    for path in pages:
        status, _, body = server.get(path)
        assert status == 200, (path, body)
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;alert" in body or "&lt;img src=x" in body, path
    assert server.json("/api/case/" + quote(EVIL_CASE))["name"] == EVIL_CASE
    # The database URL is shown with its password masked (PostgreSQL's has one).
    _, _, body = server.get("/")
    if "postgresql" in server.db:
        assert ":***@" in body and server.db.split(":")[2].split("@")[0] not in body


@pytest.mark.parametrize("backend", BACKENDS)
def test_serving_reads_while_another_process_records(backend: str, tmp_path: Path, request) -> None:
    # Its own database: the module's history stays as built.
    db = f"sqlite:///{tmp_path / 'h.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    first = record(db, "before-serving", OLD)
    with serving(db) as server:
        assert [r["id"] for r in server.json("/api/runs")["runs"]] == [first]
        new = record(db, "recorded-while-served", OLD)
        data = server.json("/api/runs")
        assert [r["id"] for r in data["runs"]] == [new, first] and data["runs"][0]["label"] == "recorded-while-served"


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_store_cannot_write(backend: str, tmp_path: Path, request) -> None:
    from sqlalchemy.exc import DBAPIError

    from snapshot_runner.history.bisects import add_bisect
    from snapshot_runner.history.store import Store

    db = f"sqlite:///{tmp_path / 'h.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    record(db, "one", OLD)
    store = Store.open(db, read_only=True)
    try:
        assert [r.label for r in store.runs()] == ["one"]
        with pytest.raises(DBAPIError, match=r"(?i)read.?only"):
            add_bisect(store, {"target": {"case": "c", "artifact": None}})
    finally:
        store.close()


def test_serve_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sqlite"
    proc = run_cli("serve", "--db", f"sqlite:///{missing}", "--port", str(free_port()))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no database at" in proc.stderr
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    proc = run_cli("serve", "--db", f"sqlite:///{empty}", "--port", str(free_port()))
    assert proc.returncode == 2 and "empty file" in proc.stderr and empty.stat().st_size == 0
    proc = run_cli("serve", "--root-path", "snap?x", "--db", f"sqlite:///{missing}")
    assert proc.returncode == 2 and "--root-path" in proc.stderr


def test_behind_a_reverse_proxy_prefix(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.sqlite'}"
    run_id = record(db, "proxied", OLD)
    with serving(db, root_path="/snapshots") as server:
        # The proxy strips the prefix; the pages link under it.
        status, _, page = server.get("/")
        assert status == 200
        hrefs = re.findall(r'(?:href|src|action|data-live)="([^"?#]*)', page)
        assert hrefs and all(h.startswith("/snapshots/") for h in hrefs if h.startswith("/")), hrefs
        assert server.json("/api/runs")["runs"][0]["id"] == run_id


def test_serve_help_lists_its_options() -> None:
    proc = subprocess.run([sys.executable, "-m", "snapshot_runner.cli", "serve", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0
    for option in ("--db", "--host", "--port", "--root-path"):
        assert option in proc.stdout
