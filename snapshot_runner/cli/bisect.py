"""``snapshot-runner bisect``: the first torch version that changed a case's artifact."""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
from pathlib import Path
from typing import TextIO

from snapshot_runner.capture.names import module_path, split_case_name
from snapshot_runner.capture.results import CaptureReport
from snapshot_runner.cli.common import (
    CliError,
    Exit,
    Handler,
    add_cases_dir,
    add_db,
    add_debug,
    add_target_options,
    capture_report,
    env_options,
    index_args,
    open_store,
    read_versions_file,
    resolve_torch,
    torch_spec,
)
from snapshot_runner.cli.envs import add_envs_bound, prune_to_bound
from snapshot_runner.redact import redact_url


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p = sub.add_parser("bisect", help="find the torch version that changed a case's artifact")
    add_debug(p)
    p.add_argument("target", metavar="NAME[/ARTIFACT]", help="a case, or one artifact of it (e.g. subclasses.two_tensor::twotensor_view/aot_forward)")
    p.add_argument(
        "--good",
        required=True,
        metavar="REF",
        help="a torch version, run id or run label with the old artifact; a date (2026-11-01): that day's nightly; newest",
    )
    p.add_argument("--bad", required=True, metavar="REF", help="... with the new one")
    p.add_argument(
        "--versions",
        default="",
        metavar="V1,V2,...",
        help="candidate versions besides those in the history (default: every version on the package index between the ends)",
    )
    p.add_argument("--versions-file", default=None, metavar="FILE", help="candidate versions, one per line (as --versions)")
    p.add_argument("--all", dest="every_change", action="store_true", help="judge every candidate and report every change point")
    p.add_argument(
        "--prefetch",
        action="store_true",
        help="while a version is captured, make the environments of the two versions that may come next (uses a free core; may install one version the search then does not need)",
    )
    p.add_argument("--format", choices=("text", "md", "json"), default="text")
    add_db(p, "the history database (see `record`)")
    add_cases_dir(p)
    add_target_options(p)
    add_envs_bound(p)
    return {"bisect": cmd_bisect}


def _versions(args: argparse.Namespace) -> list[str]:
    from snapshot_runner.torch_version import VersionError, order_versions

    given = [v.strip() for v in args.versions.split(",") if v.strip()]
    if args.versions_file:
        given += read_versions_file(args.versions_file)
    try:
        return order_versions(given)
    except VersionError as exc:
        raise CliError(str(exc)) from None


def _command_line(args: argparse.Namespace, versions: list[str], db_url: str) -> str:
    parts = ["snapshot-runner", "bisect", args.target, "--good", args.good, "--bad", args.bad, "--db", db_url]
    if versions:
        parts += ["--versions", ",".join(versions)]
    if args.every_change:
        parts.append("--all")
    if args.prefetch:
        parts.append("--prefetch")
    # Index options (the config's too) with their credentials masked: this line goes into issue comments.
    options = env_options(args)
    index = [("--index-url", options.index_url)] if options.index_url else []
    index += [("--extra-index-url", url) for url in options.extra_index_urls] + [("--find-links", link) for link in options.find_links]
    index += [("--with", entry) for entry in options.with_]
    for flag, value in index:
        parts += [flag, redact_url(value)]
    if args.envs_dir:
        parts += ["--envs-dir", args.envs_dir]
    if str(args.cases_dir) != "cases" and Path(args.cases_dir) != args.project.cases_dir:
        parts += ["--cases-dir", str(args.cases_dir)]
    return shlex.join(parts)


def _check_case_source(case: str, cases_dir: Path) -> None:
    """Catch a mistyped case name before any torch is installed for it.

    Read as text: the host need not import torch (nor the cases) to bisect.
    """
    module, function = split_case_name(case)
    path = module_path(cases_dir, module)
    if not function or not path.is_file():
        raise CliError(f"unknown case {case!r}: no case module {path} (names are <module>::<function>, see `snapshot-runner list`)")
    if not re.search(rf"^def {re.escape(function)}\(", path.read_text(encoding="utf-8"), re.MULTILINE):
        raise CliError(f"unknown case {case!r}: {path} defines no function {function}")


def _end(args: argparse.Namespace, ref: str, which: str, err: TextIO) -> str:
    """A date is that day's nightly on the package index, ``newest`` the newest build there."""
    from snapshot_runner.envs.index import PackageIndexError, is_date, list_versions, nightly_of

    if not is_date(ref):
        return resolve_torch(args, ref, err, f"--{which}")
    try:
        version = nightly_of(ref, list_versions(index_args(args), pre=True))
    except PackageIndexError as exc:
        raise CliError(f"--{which} {ref}: {exc}") from None
    print(f"--{which} {ref}: the nightly of that day is torch {version}", file=err)
    return version


def cmd_bisect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.bisect.bisector import BisectError, Bisector, CaptureFailed, Subject
    from snapshot_runner.bisect.report import renderer
    from snapshot_runner.envs.cache import EnvCache
    from snapshot_runner.envs.index import PackageIndexError, offered_between
    from snapshot_runner.envs.installer import Installer
    from snapshot_runner.envs.prefetch import prefetcher
    from snapshot_runner.envs.target import Target

    if args.python or args.torch:
        raise CliError("bisect picks the torch of each version itself; --python and --torch do not apply")
    case, _, key = args.target.partition("/")
    versions = _versions(args)
    args.good, args.bad = _end(args, args.good, "good", err), _end(args, args.bad, "bad", err)
    cache_target = Target(envs_dir=Path(args.envs_dir) if args.envs_dir else None, installer=Installer(args.installer) if args.installer else None)

    def capture_at(version: str) -> CaptureReport:
        print(f"capturing {case} with torch {version} ...", file=err)
        try:
            return capture_report(args, err, [case], None, under=cache_target.with_torch(torch_spec(args, version)))
        except CliError as exc:
            raise CaptureFailed(str(exc)) from None

    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(args.db, create=True))
        prefetch = None
        if args.prefetch:
            prefetch = stack.enter_context(prefetcher(EnvCache(cache_target.envs_dir), lambda v: torch_spec(args, v), err, cache_target.installer))
        if case not in store.case_names():
            _check_case_source(case, Path(args.cases_dir))
            print(f"note: {case} is not in {store.url}; every version will be captured", file=err)
        offered = offered_between(index_args(args))
        bisector = Bisector(store, Subject(case, key or None), capture_at, prefetch=prefetch, offered=offered, log=err)
        try:
            report = bisector.run(args.good, args.bad, versions, every_change=args.every_change, command=_command_line(args, versions, store.url))
        except BisectError as exc:
            raise CliError(str(exc)) from None
        except PackageIndexError as exc:
            raise CliError(f"{exc} (or give the candidates: --versions, --versions-file)") from None
    prune_to_bound(args, err)
    if report is None:
        # Equal ends are an answer, not a failure.
        print(f"nothing to bisect: {args.target} is the same at --good {args.good} and --bad {args.bad}", file=err)
        return Exit.OK
    out.write(renderer(args.format)(report))
    return Exit.OK
