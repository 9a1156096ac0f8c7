"""``nightly``: record a run, write the drift reports from the previous night, bisect what a new torch changed."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TextIO

from snapshot_runner.cli.common import (
    CliError,
    Exit,
    Handler,
    add_db,
    add_run_options,
    add_selection,
    add_snapshots_dir,
    add_target_options,
    index_args,
    open_store,
    read_versions_file,
    report_failures,
    report_load_errors,
    target,
    torch_spec,
)
from snapshot_runner.cli.envs import add_envs_bound, prune_to_bound


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p = sub.add_parser(
        "nightly",
        help="record a nightly run and write reports/drift-<date>.md/.html/.json (and bisect reports)",
        description="Record a run labelled nightly-<date>T<time>, compare it with the previous nightly on the same device "
        "(the goldens on the first night) and write the drift reports; with --bisect, bisect every case a new torch changed "
        "(over the versions on the package index between the two nights, or --versions-file). Without --torch or --python "
        "(or with --torch newest) the night runs the newest torch on the index (--pre: nightlies too) and records nothing "
        "when the last nightly on this device ran that very build.",
    )
    add_selection(p)
    add_db(p)
    p.add_argument("--reports", default="reports", metavar="DIR", help="where the reports go (default: reports)")
    add_snapshots_dir(p)
    p.add_argument("--bisect", action="store_true", help="bisect every case whose graphs changed under a new torch")
    p.add_argument("--versions-file", default=None, metavar="FILE", help="candidate versions for --bisect, one per line (default: the package index's)")
    add_run_options(p)
    p.add_argument(
        "--report-run",
        default=None,
        metavar="KEY",
        help="record nothing: report on the run that `record --shard K/N --run-key KEY` recorded (it must be complete)",
    )
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when anything changed since the previous nightly")
    add_target_options(p)
    add_envs_bound(p)
    return {"nightly": cmd_nightly}


def _versions(path: str | None) -> tuple[str, ...]:
    from snapshot_runner.torch_version import VersionError, order_versions

    if not path:
        return ()
    given = read_versions_file(path)
    try:
        return tuple(order_versions(given))
    except VersionError as exc:
        raise CliError(f"--versions-file: {exc}") from None


def cmd_nightly(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.capture.environment import device_name
    from snapshot_runner.cli.progress import progress_bar
    from snapshot_runner.envs.index import NEWEST, offered_between
    from snapshot_runner.history.recording import RecordError
    from snapshot_runner.nightly import NightlyError, Plan, already_recorded, report_night, run_night, sharded_run, summary

    if args.report_run and (args.torch or args.python):
        # The run was recorded already, under whatever torch its shards had.
        raise CliError("--report-run records nothing: --torch and --python do not apply to it")
    # A night that records follows the index unless told which torch; --report-run records nothing.
    following = not args.report_run and (not (args.torch or args.python) or args.torch == NEWEST)
    if following:
        args.torch = NEWEST  # the night follows the index: the newest torch it offers
    chosen = target(args, err)
    plan = Plan(
        cases_dir=Path(args.cases_dir),
        target=chosen,
        reports_dir=Path(args.reports),
        snapshots_dir=Path(args.snapshots_dir),
        names=tuple(args.case),
        substring=args.substring,
        bisect=args.bisect,
        versions=_versions(args.versions_file),
        offered=offered_between(index_args(args)),
        spec_of=lambda version: torch_spec(args, version),
        debug=args.debug,
        track=args.project.track,
        user_rules=args.project.normalize,
        jobs=args.jobs,
        timeout=args.timeout,
        fork=args.fork,
    )
    with open_store(args.db, create=not args.report_run) as store, contextlib.ExitStack() as stack:
        if following and chosen.torch is not None:
            device = device_name()
            last = already_recorded(store, chosen.torch.version, device)
            if last is not None:
                print(f"nightly: torch {chosen.torch.version} is what the last nightly on {device} recorded (run {last.id}): nothing new to record", file=err)
                return Exit.OK
        try:
            if args.report_run:
                night = report_night(store, plan, sharded_run(store, args.report_run), err)
            else:
                on_start, on_result = progress_bar(stack, err)
                night = run_night(store, plan, err, on_start=on_start, on_result=on_result)
        except (NightlyError, RecordError) as exc:
            raise CliError(str(exc)) from None
    if night.capture:
        report_load_errors(night.capture, err)
        report_failures(night.capture.cases, args.debug, err)
    for line in summary(night):
        print(line, file=err)
    prune_to_bound(args, err)
    print(night.run.id, file=out)
    drifted = args.fail_on_drift and night.report.has_changes
    if drifted:
        print("nightly: failing: graphs drifted and --fail-on-drift is set", file=err)
    return Exit.FAILED if night.failed or drifted else Exit.OK
