"""``snapshot-runner envs list|prune``: the cached torch environments of ``--torch``."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from snapshot_runner.cli.common import ENVS_DIR_HELP, CliError, Exit, Handler, add_debug

if TYPE_CHECKING:
    from snapshot_runner.envs.cache import EnvCache


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p_envs = sub.add_parser("envs", help="list or prune the cached torch environments of --torch")
    actions = p_envs.add_subparsers(dest="envs_action", required=True)
    for name, help_text in (("list", "one line per environment"), ("prune", "remove named, half-made and least recently used environments")):
        action = actions.add_parser(name, help=help_text)
        add_debug(action)
        action.add_argument("--envs-dir", default=None, metavar="DIR", help=ENVS_DIR_HELP)
        if name == "prune":
            action.add_argument("keys", nargs="*", metavar="KEY", help="remove these environments (the KEY column of `envs list`)")
            action.add_argument("--keep", type=int, default=None, metavar="N", help="keep the N most recently used (0 when no other bound is given)")
            action.add_argument("--max-size", default=None, metavar="SIZE", help="remove least recently used until all left take at most SIZE (500M, 20G)")
            action.add_argument("--older-than", type=float, default=None, metavar="DAYS", help="remove those not used for DAYS days")
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
    if args.keep is not None and args.keep < 0:
        raise CliError(f"--keep wants a number of environments >= 0, got {args.keep}")
    # `not >= 0` rather than `< 0`: NaN compares false with everything.
    if args.older_than is not None and not (math.isfinite(args.older_than) and args.older_than >= 0):
        raise CliError(f"--older-than wants a number of days >= 0, got {args.older_than:g}")
    # No key and no bound: all of them; keys alone: just those.
    keep = 0 if not args.keys and args.keep is None and args.max_size is None and args.older_than is None else args.keep
    older_than = args.older_than * 86400 if args.older_than is not None else None
    prune(cache, out, err, keep=keep, max_size=size_option("--max-size", args.max_size), older_than=older_than, keys=args.keys)
    return Exit.OK


def size_option(flag: str, text: str | None) -> int | None:
    from snapshot_runner.envs.disk import parse_size

    try:
        return parse_size(text) if text is not None else None
    except ValueError as exc:
        raise CliError(f"{flag}: {exc}") from None


def prune(
    cache: EnvCache,
    out: TextIO,
    err: TextIO,
    *,
    keep: int | None = None,
    max_size: int | None = None,
    older_than: float | None = None,
    keys: Sequence[str] = (),
) -> None:
    """Prune the cache (see ``EnvCache.prune``) and say what went: one line each on ``out``, the sum on ``err``."""
    try:
        pruned = cache.prune(keep, max_size, older_than, keys)
    except KeyError as exc:
        raise CliError(f"no environment {exc.args[0]} in {cache.root} (see `snapshot-runner envs list`)") from None
    for env, size in pruned.removed:
        print(f"removed {env.key} ({human_size(size)})", file=out)
    for env in pruned.busy:
        print(f"kept {env.key}: in use by another snapshot-runner", file=err)
    print(f"{len(pruned.removed)} removed, {human_size(pruned.freed)} freed; {size_line(cache)}", file=err)


MAX_SIZE_VAR = "SNAPSHOT_RUNNER_ENVS_MAX_SIZE"


def add_envs_bound(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--envs-max-size",
        default=os.environ.get(MAX_SIZE_VAR),
        metavar="SIZE",
        help=f"when done, prune the --torch environments (least recently used first) to SIZE, e.g. 30G (default: ${MAX_SIZE_VAR}; unset: no pruning)",
    )


def prune_to_bound(args: argparse.Namespace, err: TextIO) -> None:
    """After a bisect or a night: keep the env cache within ``--envs-max-size``."""
    bound = size_option("--envs-max-size", args.envs_max_size)
    if bound is not None:
        from snapshot_runner.envs.cache import EnvCache

        prune(EnvCache(Path(args.envs_dir) if args.envs_dir else None), err, err, max_size=bound)


def size_line(cache: EnvCache) -> str:
    """The cache's disk use, and uv's package cache's (the environments link their files from it)."""
    from snapshot_runner.envs.disk import scan, usage
    from snapshot_runner.envs.installer import uv_cache_dir

    envs, used = cache.envs(), cache.usage()
    shared = f", {human_size(used.shared)} of it shared with uv's package cache" if used.shared else ""
    line = f"{len(envs)} environments in {cache.root}: {human_size(used.on_disk)} on disk (hardlinked files once{shared})"
    uv_cache = uv_cache_dir()
    if uv_cache is None or not uv_cache.is_dir():
        return line
    both = usage([scan(env.path) for env in envs] + [scan(uv_cache)])
    return f"{line}; with uv's package cache {uv_cache}: {human_size(both.on_disk)} in all (`uv cache clean` empties it)"


def _list(cache: EnvCache, out: TextIO, err: TextIO) -> int:
    envs = cache.envs()
    if not envs:
        print(f"no environments in {cache.root}", file=err)
        return Exit.OK
    rows = [("KEY", "TORCH", "PYTHON", "SIZE", "LAST USED", "SPEC")]
    for env in envs:
        info = env.info or {}
        torch = info.get("torch_version", "(half-made)")
        # The --with entries are in the spec; their installed versions follow it.
        packages = ", ".join(f"{name} {version}" for name, version in (info.get("packages") or {}).items())
        spec = info.get("spec", "-") + (f" ({packages})" if packages else "")
        rows.append((env.key, torch, info.get("python", "-"), human_size(env.size()), _when(env.last_used), spec))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1], file=out)
    print(size_line(cache), file=err)
    return Exit.OK
