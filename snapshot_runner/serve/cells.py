"""The grid's cells as HTML: thousands a page, so written by a loop here (a
fraction of the template language's time), every text escaped."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request

from snapshot_runner.serve.links import url


def grid_cells(request: Request, row: dict[str, Any]) -> Markup:
    """One ``<td>`` per run: hatched where not recorded; a link to the diff
    where a new version appears, marked with the change's level."""
    parts = []
    for cell in row["cells"]:
        number = cell.get("version")
        if number is None:
            parts.append(f'<td class="c m" title="not recorded in run {cell["run"]}"></td>')
        elif "previous_run" in cell:
            level = escape(cell["classification"])
            href = url(request, "/compare", case=row["case"], artifact=row["key"], **{"from": cell["previous_run"], "to": cell["run"]}) + "#diff-0-0"
            parts.append(
                f'<td class="c k{number} lv lv-{level}" title="v{number} · {level} change from run {cell["previous_run"]} to run {cell["run"]}">'
                f'<a class="cell" href="{escape(href)}">v{number}</a></td>'
            )
        else:
            parts.append(f'<td class="c k{number}" title="v{number}"></td>')
    return Markup("".join(parts))
