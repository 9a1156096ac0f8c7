"""The service's pages and their JSON API: each endpoint checks its parameters,
reads through ``queries`` (or ``drift.compare`` for a comparison) and renders
one template, or the same data as JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from snapshot_runner import __version__
from snapshot_runner.drift.compare import Change, DriftError, DriftReport, Side, compare, resolve, version_matrix
from snapshot_runner.drift.renderers import html
from snapshot_runner.drift.semantic import Level
from snapshot_runner.history.models import RunKind
from snapshot_runner.history.store import Store
from snapshot_runner.serve import params
from snapshot_runner.serve.cells import grid_cells
from snapshot_runner.serve.links import page_link, url
from snapshot_runner.serve.queries import Levels, Page, RunFilters, case_timeline, grid, runs_page

TEMPLATES = Path(__file__).resolve().parent / "templates"
RUNS_PER_PAGE, MAX_RUNS_PER_PAGE = 50, 200
GRID_RUNS, MAX_GRID_RUNS = 20, 60
GRID_CASES, MAX_GRID_CASES = 25, 100
# A comparison shows this many cases a page: two runs of a big suite that all
# changed would otherwise be a page of hundreds of megabytes.
COMPARE_CASES, MAX_COMPARE_CASES = 100, 500
MAX_PAGE = 1_000_000


class Site:
    """The endpoints over one read-only history (and, when known, the goldens)."""

    def __init__(self, store: Store, snapshots_dir: Path | None) -> None:
        self.store = store
        self.snapshots_dir = snapshots_dir
        self.levels = Levels(store)
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.globals.update(
            url=url, page_link=page_link, grid_cells=grid_cells, colour=html.version_colour, version=__version__, database=store.url
        )

    def page(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    # --- runs -------------------------------------------------------------------------

    def _runs(self, request: Request) -> dict[str, Any]:
        filters = RunFilters(
            label=params.text(request, "label"),
            kind=params.choice(request, "kind", RunKind),
            torch=params.text(request, "torch"),
            device=params.text(request, "device"),
        )
        page = Page(params.integer(request, "page", 1, 1, MAX_PAGE), params.integer(request, "per_page", RUNS_PER_PAGE, 1, MAX_RUNS_PER_PAGE))
        return runs_page(self.store, filters, page)

    def runs(self, request: Request) -> Response:
        return self.page(request, "runs.html", self._runs(request))

    def run_rows(self, request: Request) -> Response:
        """The runs table's rows alone: what the runs page's script polls."""
        return self.page(request, "run_rows.html", self._runs(request))

    def api_runs(self, request: Request) -> Response:
        return JSONResponse(self._runs(request))

    # --- grid -------------------------------------------------------------------------

    def _grid(self, request: Request) -> dict[str, Any]:
        page = Page(params.integer(request, "page", 1, 1, MAX_PAGE), params.integer(request, "per_page", GRID_CASES, 1, MAX_GRID_CASES))
        last = params.integer(request, "runs", GRID_RUNS, 1, MAX_GRID_RUNS)
        data = grid(self.store, last=last, page=page, substring=params.text(request, "k"), device=params.text(request, "device"), levels=self.levels)
        return data | {"k": params.text(request, "k"), "device": params.text(request, "device"), "last": last}

    def grid(self, request: Request) -> Response:
        return self.page(request, "grid.html", self._grid(request))

    def api_grid(self, request: Request) -> Response:
        return JSONResponse(self._grid(request))

    # --- case -------------------------------------------------------------------------

    def _case(self, request: Request) -> dict[str, Any]:
        name = request.path_params["name"]
        if len(name) > params.MAX_TEXT:
            raise HTTPException(400, f"case name longer than {params.MAX_TEXT} characters")
        data = case_timeline(self.store, name, self.levels)
        if data is None:
            raise HTTPException(404, f"no case {name!r} in {self.store.url}")
        return data

    def case(self, request: Request) -> Response:
        return self.page(request, "case.html", self._case(request))

    def api_case(self, request: Request) -> Response:
        return JSONResponse(self._case(request))

    # --- compare ----------------------------------------------------------------------

    def _side(self, ref: str, include_incomplete: bool) -> Side:
        if ref == "golden" and self.snapshots_dir is None:
            raise HTTPException(404, "golden: this server knows no snapshots directory (start it with --snapshots-dir)")
        try:
            return resolve(self.store, ref, snapshots_dir=self.snapshots_dir or Path("snapshots"), include_incomplete=include_incomplete)
        except DriftError as exc:
            raise HTTPException(404, str(exc)) from None

    def _compare(self, request: Request, *, with_matrix: bool) -> tuple[DriftReport, dict[str, Any]]:
        refs = params.required(request, "from"), params.required(request, "to")
        case, artifact, substring = params.text(request, "case"), params.text(request, "artifact"), params.text(request, "k")
        fail_on = params.choice(request, "fail_on", Level)
        page = Page(params.integer(request, "page", 1, 1, MAX_PAGE), params.integer(request, "per_page", COMPARE_CASES, 1, MAX_COMPARE_CASES))
        include_incomplete = request.query_params.get("include_incomplete") == "1"
        sides = [self._side(ref, include_incomplete).selected([case] if case else [], substring) for ref in refs]
        names, pages = page.of(sorted(set(sides[0].results) | set(sides[1].results)))
        sides = [_only(side, set(names), artifact) for side in sides]
        report = compare(*sides)
        if with_matrix:  # of the changed cases: the grid page has the others
            changed = [c.name for c in report.cases if c.status != Change.UNCHANGED]
            report.matrix = version_matrix(self.store, changed, also=tuple(s.run_id for s in sides))
        if fail_on is not None:
            report = report.at_fail_on(fail_on)
        query = {"from": refs[0], "to": refs[1], "case": case, "artifact": artifact, "k": substring, "fail_on": fail_on, "per_page": page.size}
        query |= {"include_incomplete": "1"} if include_incomplete else {}
        return report, {"query": query, "page": page.number, "pages": pages, "levels": list(Level), "golden": self.snapshots_dir is not None}

    def compare(self, request: Request) -> Response:
        report, context = self._compare(request, with_matrix=True)
        return self.page(request, "compare.html", context | {"report": report, "body": html.body(report)})

    def api_compare(self, request: Request) -> Response:
        report, context = self._compare(request, with_matrix=False)
        return JSONResponse(report.to_json() | {"page": context["page"], "pages": context["pages"]})

    # --- the report's own stylesheet and script, as files ------------------------------

    def report_css(self, _request: Request) -> Response:
        return Response(html.CSS, media_type="text/css")

    def report_js(self, _request: Request) -> Response:
        return Response(html.SCRIPT, media_type="text/javascript")

    def routes(self) -> list[tuple[str, Callable[[Request], Response]]]:
        return [
            ("/", self.runs),
            ("/runs/rows", self.run_rows),
            ("/grid", self.grid),
            ("/case/{name:path}", self.case),
            ("/compare", self.compare),
            ("/api/runs", self.api_runs),
            ("/api/grid", self.api_grid),
            ("/api/case/{name:path}", self.api_case),
            ("/api/compare", self.api_compare),
            ("/static/report.css", self.report_css),
            ("/static/report.js", self.report_js),
        ]


def _only(side: Side, names: set[str], artifact: str | None) -> Side:
    """``side`` narrowed to the cases of this page and, if given, one artifact."""
    results = {
        name: dataclasses.replace(result, artifacts={k: v for k, v in result.artifacts.items() if k == artifact}) if artifact else result
        for name, result in side.results.items()
        if name in names
    }
    return dataclasses.replace(side, results=results)
