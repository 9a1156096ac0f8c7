"""``snapshot-runner envs list|prune``: the cached torch environments of ``--torch``."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from snapshot_runner.cli.common import ENVS_DIR_HELP, CliError, Exit, Handler, add_debug

if TYPE_CHECKING:
    from snapshot_runner.envs.cache import EnvCache


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p_envs = sub.add_parser("envs", help="list or prune the cached torch environments of --torch")
    actions = p_envs.add_subparsers(dest="envs_action", required=True)
    for name, help_text in (("list", "one line per environment"), ("prune", "remove half-made and least recently used environments")):
        action = actions.add_parser(name, help=help_text)
        add_debug(action)
        action.add_argument("--envs-dir", default=None, metavar="DIR", help=ENVS_DIR_HELP)
        if name == "prune":
            action.add_argument("--keep", type=int, default=0, metavar="N", help="keep the N most recently used (default: 0)")
    return {"envs": cmd_envs}


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def cmd_envs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.envs.cache import EnvCache

    cache = EnvCache(Path(args.envs_dir) if args.envs_dir else None)
    if args.envs_action == "list":
        return _list(cache, out, err)
    if args.keep < 0:
        raise CliError(f"--keep wants a number of environments >= 0, got {args.keep}")
    removed, busy = cache.prune(args.keep)
    for env, size in removed:
        print(f"removed {env.key} ({human_size(size)})", file=out)
    for env in busy:
        print(f"kept {env.key}: in use by another snapshot-runner", file=err)
    freed = sum(size for _env, size in removed)
    print(f"{len(removed)} removed, {human_size(freed)} freed, {len(cache.envs())} left in {cache.root}", file=err)
    return Exit.OK


def _list(cache: EnvCache, out: TextIO, err: TextIO) -> int:
    envs = cache.envs()
    if not envs:
        print(f"no environments in {cache.root}", file=err)
        return Exit.OK
    rows = [("KEY", "TORCH", "PYTHON", "SIZE", "LAST USED", "SPEC")]
    for env in envs:
        info = env.info or {}
        torch = info.get("torch_version", "(half-made)")
        rows.append((env.key, torch, info.get("python", "-"), human_size(env.size()), _when(env.last_used), info.get("spec", "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1], file=out)
    print(f"{len(envs)} environments in {cache.root}", file=err)
    return Exit.OK
