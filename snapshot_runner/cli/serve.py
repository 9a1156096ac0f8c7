"""``snapshot-runner serve``: the history as a read-only web service."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from snapshot_runner.cli.common import CliError, Exit, Handler, add_db, add_debug, add_snapshots_dir, number_in


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p = sub.add_parser("serve", help="browse the history database in a web browser (read-only): runs, grid, cases, compare, JSON API")
    add_debug(p)
    add_db(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=number_in(int, 1, 65535), default=8000, help="port (default: 8000)")
    p.add_argument("--root-path", default="", metavar="PATH", help="the URL prefix a reverse proxy serves it under, e.g. /snapshots")
    add_snapshots_dir(p)
    return {"serve": cmd_serve}


def _root_path(text: str) -> str:
    if text and (not text.startswith("/") or any(c in text for c in "?#\\ ")):
        raise CliError(f"--root-path {text!r}: expected a URL path such as /snapshots")
    return text.rstrip("/")


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        from snapshot_runner.serve.app import ServePlan, serve
    except ImportError as exc:
        raise CliError(f"serve needs its extra: pip install 'torch-snapshot-runner[serve]' ({exc})") from None
    from snapshot_runner.history.store import StoreError

    snapshots = Path(args.snapshots_dir)
    plan = ServePlan(args.db, args.host, args.port, _root_path(args.root_path), snapshots if snapshots.is_dir() else None)
    try:
        serve(plan, err)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    return Exit.OK
