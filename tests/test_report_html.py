"""The HTML drift report on real data: real captures recorded by the real CLI
into a real SQLite file, one run made from a capture edited to carry hostile
text (script tags, quotes, a case name with markup, an error message), then
``drift --format html``; rendered by headless Chromium where it is installed."""

from __future__ import annotations

import copy
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import event

from snapshot_runner.goldens import layout as golden
from snapshot_runner.history.store import Store

from .conftest import CASES, REPO
from .test_drift import run
from .tools import require

# One worker runs this module, so its module fixture is made once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("report_html")

CHOSEN = [
    "subclasses.two_tensor::twotensor_simple",
    "subclasses.torch_function::sigmoid_becomes_exp",
    "subclasses.torch_function::passthrough_add",
]
EVIL_COMMENT = """  # <script>alert(1)</script> "double" 'single' & done"""
EVIL_NAME = "subclasses.torch_function::<img src=x onerror=alert(2)>"
EVIL_ERROR = 'RuntimeError: boom\n</pre><script>alert("err")</script>'
EVIL_LABEL = '<i>evil</i> "label"'


def _evil(report: dict) -> dict:
    """The capture with real-looking edits: a layout-only (text), a structural and a
    guards change on one case, an error on another, a third renamed."""
    evil = copy.deepcopy(report)
    cases = {c["name"]: c for c in evil["cases"]}
    tt = cases[CHOSEN[0]]["artifacts"]
    tt["dynamo_graph"] = tt["dynamo_graph"].replace("l_tt_ = s47 = None", "l_tt_ = s47 = None" + EVIL_COMMENT, 1)
    assert EVIL_COMMENT in tt["dynamo_graph"]
    tt["aot_forward"] = tt["aot_forward"].replace("aten.mul.Tensor(primals_4", "aten.add.Tensor(primals_4", 1)
    tt["guards"] = "\n".join(tt["guards"].splitlines()[:-1]) + "\n"
    sigmoid = cases[CHOSEN[1]]
    sigmoid.update(status="error", error=EVIL_ERROR, artifacts={})
    cases[CHOSEN[2]]["name"] = EVIL_NAME
    return evil


def _store_unchecked(db: str, label: str, source: Path) -> int:
    from snapshot_runner.capture.results import CaptureReport
    from snapshot_runner.history.recording import RunRecorder
    from snapshot_runner.history.store import Store

    store = Store.open(db)
    try:
        return RunRecorder(store, label).finish(CaptureReport.from_json(json.loads(source.read_text())))
    finally:
        store.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Four runs (base, base, evil, base) and two HTML reports: run 2 → run 3,
    and goldens → run 3."""
    tmp = tmp_path_factory.mktemp("html")
    db = f"sqlite:///{tmp / 'history.sqlite'}"
    capture = tmp / "capture.json"
    code, _, err = run("capture", "--cases-dir", str(CASES), *[a for n in CHOSEN for a in ("--case", n)], "--json", str(capture))
    assert code == 0, err
    evil = tmp / "evil.json"
    evil.write_text(json.dumps(_evil(json.loads(capture.read_text()))))
    ids = []
    for label, source in (("first", capture), ("second", capture), (EVIL_LABEL, evil), ("fourth", capture)):
        if source is evil:
            # `record` refuses a name like EVIL_NAME now; a database written before may hold one.
            ids.append(_store_unchecked(db, label, source))
            continue
        code, out, err = run("record", "--from-json", str(source), "--db", db, "--label", label)
        assert int(out), err
        ids.append(int(out))
    # Goldens: the checkout's, for the chosen cases only (the others would be
    # "removed" rows drowning the ones under test).
    snapshots = tmp / "snapshots"
    for name in CHOSEN:
        module, function = name.split("::")
        shutil.copytree(REPO / "snapshots" / Path(*module.split(".")) / function, snapshots / Path(*module.split(".")) / function)
    shutil.copy(REPO / "snapshots" / golden.ENVIRONMENT_FILE, snapshots / golden.ENVIRONMENT_FILE)
    pages = {}
    for name, ref_from in (("runs", str(ids[1])), ("golden", "golden")):
        out_path = tmp / f"{name}.html"
        code, _, err = run(
            "drift", "--db", db, "--from", ref_from, "--to", str(ids[2]), "--format", "html", "--out", str(out_path), "--snapshots-dir", str(snapshots)
        )
        assert code == 0, err
        pages[name] = out_path
    return {"db": db, "ids": ids, "pages": pages, "tmp": tmp}


class _Grid(HTMLParser):
    """The runs grids as data: column names from the first grid's header, and
    per row (``case|key``) each cell's colour by column (None: not recorded)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.colours = dict(re.findall(r"td\.(k\d+)\{background:([^}]+)\}", page))
        self.columns: list[str] = []
        self.rows: dict[str, dict[str, str | None]] = {}
        self._head = False
        self._row: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "table" and "grid" in classes and not self.columns:
            self._head = True
        elif tag == "tbody":
            self._head = False
        elif tag == "th" and self._head and "run" in classes:
            self.columns.append("")
        elif tag == "tr":
            self._row = a.get("data-row")
            if self._row:
                self.rows[self._row] = {}
        elif tag == "td" and self._row and "c" in classes:
            version = next((c for c in classes if re.fullmatch(r"k\d+", c)), None)
            cells = self.rows[self._row]
            cells[self.columns[len(cells)]] = self.colours[version] if version else None

    def handle_data(self, data: str) -> None:
        # A run column's header: a from/to marker, the run id, its label.
        if self._head and self.columns and not self.columns[-1] and data.strip() not in ("", "from", "to", "from/to"):
            self.columns[-1] = data.strip()


def _grid(page: Path) -> _Grid:
    return _Grid(page.read_text(encoding="utf-8"))


def test_hostile_text_comes_out_escaped(reports):
    for page in reports["pages"].values():
        text = page.read_text(encoding="utf-8")
        # The artifact comment, the error text, the case name and the label.
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;double&quot; &#x27;single&#x27; &amp; done" in text
        assert "<script>alert" not in text and "<img" not in text and "<i>evil" not in text
        assert "&lt;img src=x onerror=alert(2)&gt;" in text
        # The only script element is the report's own, inline, allowed by hash.
        assert re.findall(r"<script[^>]*>", text) == ["<script>"]
    runs_page = reports["pages"]["runs"].read_text(encoding="utf-8")
    assert "&lt;/pre&gt;&lt;script&gt;alert(&quot;err&quot;)&lt;/script&gt;" in runs_page
    assert "&lt;i&gt;evil&lt;/i&gt; &quot;label&quot;" in runs_page


def test_report_is_self_contained(reports):
    for page in reports["pages"].values():
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
        assert not re.search(r"<link\b|<iframe\b|<object\b|<embed\b|@import|url\(|<script[^>]+src", text, re.I)
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        # Readable without JS: every diff is in the markup, not built by script.
        # 3 edited on twotensor_simple, 3 gone with the error, 3 removed + 3 added by the rename.
        assert text.count('<details class="diff"') == 12


def test_changed_cases_carry_status_and_classification(reports):
    text = reports["pages"]["runs"].read_text(encoding="utf-8")
    table = text[text.index('<table class="cases">') : text.index("</table>", text.index('<table class="cases">'))]
    for kind in ("structural", "guards", "text", "status-changed", "added", "removed"):
        assert f'class="badge b-{kind}"' in table, kind
    assert "aten.add.Tensor 0 → 1" in table and "aten.mul.Tensor 2 → 1" in table
    assert "ok → error" in table
    # The semantic diff first, the raw side-by-side one click under it.
    assert '<pre class="semantic mono">' in text and "<summary>raw text diff</summary>" in text
    assert re.search(r'<pre class="semantic mono">[^<]*\n\+[^\n<]*= torch\.ops\.aten\.add\.Tensor\(primals_4', text)
    # Side by side: the changed op on the left (old) and right (new), marked.
    assert '<span class="del">mul</span>' in text and '<span class="ins">add</span>' in text


def test_grid_has_one_column_per_run_and_a_colour_per_version(reports):
    ids = [str(i) for i in reports["ids"]]
    grid = _grid(reports["pages"]["runs"])
    assert grid.columns == ids
    # Each edited artifact: runs 1, 2, 4 share a colour, run 3 has another.
    for key in ("dynamo_graph", "aot_forward", "guards"):
        cells = grid.rows[f"{CHOSEN[0]}|{key}"]
        assert list(cells) == ids
        assert cells[ids[0]] == cells[ids[1]] == cells[ids[3]] != cells[ids[2]], key
    # The errored case stored no artifacts in run 3: an uncoloured cell there.
    sigmoid = grid.rows[f"{CHOSEN[1]}|dynamo_graph"]
    assert sigmoid[ids[2]] is None and sigmoid[ids[0]] is not None
    # Unedited artifacts are folded away as one-version rows.
    assert f"{CHOSEN[0]}|compile" not in grid.rows and f"{CHOSEN[0]}|aot_backward" not in grid.rows
    assert "artifacts with one version in every column" in reports["pages"]["runs"].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("sides", "matrix_runs", "columns"),
    [
        # The newest complete run (4), plus the two sides (1, 3) wherever they are: not run 2.
        ((0, 2), "1", [0, 2, 3]),
        # The newest two (3, 4), plus side 2: not run 1.
        ((1, 2), "2", [1, 2, 3]),
    ],
)
def test_matrix_runs_limits_the_grid_to_the_newest_runs_and_the_sides(reports, sides, matrix_runs, columns):
    ids = reports["ids"]
    page = reports["tmp"] / f"matrix-{matrix_runs}.html"
    argv = ["--from", str(ids[sides[0]]), "--to", str(ids[sides[1]]), "--matrix-runs", matrix_runs]
    code, _, err = run("drift", "--db", reports["db"], *argv, "--format", "html", "--out", str(page))
    assert code == 0, err
    assert _grid(page).columns == [str(ids[i]) for i in columns]


def test_golden_side_still_shows_the_runs_and_a_goldens_column(reports):
    ids = [str(i) for i in reports["ids"]]
    grid = _grid(reports["pages"]["golden"])
    assert grid.columns == [*ids, "G"]
    cells = grid.rows[f"{CHOSEN[0]}|dynamo_graph"]
    # The goldens hold the same text as the unedited runs: same colour.
    assert cells["G"] == cells[ids[0]] != cells[ids[2]]


def test_version_matrix_is_one_query(reports):
    store = Store.open(reports["db"])
    selects: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: selects.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)
    try:
        ids = reports["ids"]
        matrix = store.version_matrix(ids, [CHOSEN[0]])
    finally:
        store.close()
    assert len(selects) == 1
    assert {case for case, _ in matrix} == {CHOSEN[0]}
    assert {key for _, key in matrix} == {"dynamo_graph", "aot_forward", "aot_backward", "guards", "compile"}
    assert all(set(by_run) == set(ids) for by_run in matrix.values())
    assert len(set(matrix[(CHOSEN[0], "dynamo_graph")].values())) == 2


# --- headless Chromium -------------------------------------------------------------------


def _chromium(tmp: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    require(chromium, "Chromium is not installed: no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    assert chromium is not None
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]  # fmt: skip
    return subprocess.run([chromium, *flags, *argv], capture_output=True, text=True, timeout=60)


def _dom(tmp: Path, page: Path) -> str:
    done = _chromium(tmp, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _buttons(dom: str) -> list[str]:
    """The buttons in a DOM dump: only the report's inline script makes any
    (their labels are in the script's source too, so the text alone proves nothing)."""
    return re.findall(r"<button\b[^>]*>([^<]*)</button>", dom)


def test_chromium_renders_the_report(reports):
    dom = _dom(reports["tmp"], reports["pages"]["runs"])
    for name in CHOSEN[:2]:
        assert name in dom
    assert "aten.add.Tensor" in dom and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    # The inline script ran (the CSP allows its hash): it added the two buttons.
    assert _buttons(dom) == ["expand all diffs", "collapse all diffs"]
    # Nothing injected became a script.
    assert len(re.findall(r"<script\b", dom)) == 1 and "<img" not in dom


@pytest.mark.parametrize("policy", ["script-src 'none'", "script-src 'sha256-" + "A" * 43 + "='"], ids=["none", "other-hash"])
def test_a_blocked_script_fails_the_same_check(reports, policy):
    """The button check can fail: the same page under a policy that blocks its
    script (none allowed, or another script's hash) has the labels in its source
    and no buttons."""
    text = reports["pages"]["runs"].read_text(encoding="utf-8")
    allowed = re.findall(r"script-src '[^']+'", text)
    assert len(allowed) == 1
    blocked = reports["tmp"] / "blocked.html"
    blocked.write_text(text.replace(allowed[0], policy), encoding="utf-8")
    dom = _dom(reports["tmp"], blocked)
    assert "expand all diffs" in dom and "aten.add.Tensor" in dom
    assert _buttons(dom) == []


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


def test_chromium_screenshot_is_not_blank(reports):
    shot = reports["tmp"] / "shot.png"
    done = _chromium(reports["tmp"], f"--screenshot={shot}", "--window-size=1280,2000", reports["pages"]["runs"].as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    # Text, badges and grid colours: a blank page would be a handful of byte values.
    assert shot.stat().st_size > 40_000 and len(set(pixels)) > 100


def test_a_fresh_capture_side_is_shown_as_one(reports):
    page = reports["tmp"] / "capture.html"
    selection = [a for n in CHOSEN for a in ("--case", n)]
    python = str(REPO / ".venv" / "bin" / "python")
    code, _, err = run(
        "drift",
        "--db",
        reports["db"],
        "--from",
        str(reports["ids"][1]),
        "--python",
        python,
        "--cases-dir",
        str(CASES),
        *selection,
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    assert "fresh capture (not stored)" in text and '<div class="name">goldens</div>' not in text
    grid = _grid(page)
    assert grid.columns[-1] == "C"
    # Same torch, same code: the capture's colours match run 2's on every row.
    assert all(cells["C"] == cells[str(reports["ids"][1])] for cells in grid.rows.values())
