"""The ASGI application, and running it: ``snapshot-runner serve``.

Read-only: the history is opened with ``read_only`` (no file made, no
migration, a read-only session on the server), so the service can watch a
database that recorders are writing. Every response carries a
Content-Security-Policy that lets only this server's own stylesheets and
scripts load; errors are a page (or JSON under ``/api/``) with one line,
never a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TextIO

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapshot_runner.history.store import Store
from snapshot_runner.redact import redact
from snapshot_runner.serve.pages import Site

STATIC = Path(__file__).resolve().parent / "static"
# Styles may be inline (the report's grid colours its versions with a <style>); scripts never.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
log = logging.getLogger("snapshot_runner.serve")


@dataclasses.dataclass(frozen=True)
class ServePlan:
    db: str | None
    host: str
    port: int
    root_path: str
    snapshots_dir: Path | None


class SecurityHeaders:
    """Adds the CSP (and no sniffing, no framing) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def create_app(store: Store, snapshots_dir: Path | None = None) -> Starlette:
    site = Site(store, snapshots_dir)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = redact(str(exc.detail))  # as every error line the command prints: no password, even one the request sent
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": exc.status_code}, status_code=exc.status_code)
        return site.page(request, "error.html", {"status": exc.status_code, "message": message}, status=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        # The traceback goes to the server's log; the page says only what failed.
        log.exception("error serving %s", request.url.path)
        message = f"the server failed to answer this request ({type(exc).__name__}); its log has the details"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": 500}, status_code=500)
        return site.page(request, "error.html", {"status": 500, "message": message}, status=500)

    routes: list[Route | Mount] = [Route(path, endpoint) for path, endpoint in site.routes()]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})
    app.add_middleware(SecurityHeaders)
    return app


def serve(plan: ServePlan, log_to: TextIO) -> None:
    """Open the history read-only and serve it until interrupted (a ``StoreError`` if it cannot be opened)."""
    import uvicorn

    store = Store.open(plan.db, create=False, read_only=True)
    try:
        app = create_app(store, plan.snapshots_dir)
        shown = "localhost" if plan.host in ("127.0.0.1", "::1") else plan.host
        print(f"serving {store.url} (read-only) at http://{shown}:{plan.port}{plan.root_path or '/'}", file=log_to, flush=True)
        uvicorn.run(app, host=plan.host, port=plan.port, root_path=plan.root_path, log_level="warning", proxy_headers=True)
    finally:
        store.close()
