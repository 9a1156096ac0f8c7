"""Links between the pages: under the server's ``--root-path`` (a reverse
proxy's prefix), path segments quoted, empty parameters left out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request


def url(request: Request, path: str, /, **query: Any) -> str:
    """``url(request, "/case/" + name, page=2)``; ``from`` is a keyword too: pass ``**{"from": ref}``."""
    root = request.scope.get("root_path", "").rstrip("/")
    given = {k: v for k, v in query.items() if v is not None and v != ""}
    return root + quote(path, safe="/:") + (f"?{urlencode(given)}" if given else "")


def page_link(request: Request, number: int) -> str:
    """This page with another ``page``: relative, so it works under any prefix."""
    query = dict(request.query_params) | {"page": str(number)}
    return "?" + urlencode(query)
