"""``record``, ``runs``, ``drift``, ``history``: the history database.

They open the database (``--db URL``, ``$SNAPSHOT_RUNNER_DB`` or
``db/history.sqlite``) and turn its problems into one-line errors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from pathlib import Path
from typing import TextIO

from snapshot_runner.capture.results import CaptureReport, status_summary
from snapshot_runner.cli.common import (
    CASES_DIR_HELP,
    CliError,
    Exit,
    Handler,
    Interrupted,
    add_cases_dir,
    add_db,
    add_debug,
    add_run_options,
    add_selection,
    add_snapshots_dir,
    add_target_options,
    capture_report,
    number_in,
    open_store,
    report_failures,
    report_load_errors,
    resolve_torch,
)
from snapshot_runner.drift.semantic import Level
from snapshot_runner.terminal import printable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p_record = sub.add_parser("record", help="capture the selected cases and store them as one run")
    add_selection(p_record)
    add_db(p_record)
    p_record.add_argument("--label", default=None, help="a name for the run (e.g. nightly-2026-11-27)")
    p_record.add_argument("--from-json", default=None, metavar="PATH", help="store a `capture --json` report made elsewhere instead of capturing")
    add_run_options(p_record)
    sharding = p_record.add_argument_group("shards: one run recorded by N processes on any machines (both options together)")
    sharding.add_argument("--shard", default=None, metavar="K/N", help="record only shard K of N of the selected cases")
    sharding.add_argument("--run-key", default=None, metavar="KEY", help="the run the shards share, e.g. <CI run id>-<torch>-<device>")
    add_target_options(p_record)

    p_runs = sub.add_parser("runs", help="list recorded runs, newest first")
    add_debug(p_runs)
    add_db(p_runs)

    p_drift = sub.add_parser("drift", help="what changed between two runs, or a run and the goldens")
    add_debug(p_drift)
    add_db(p_drift)
    p_drift.add_argument(
        "--from",
        dest="ref_from",
        required=True,
        metavar="REF",
        help="run id, label, torch version, latest, previous, golden, or newest (the newest torch on the package index)",
    )
    p_drift.add_argument(
        "--to", dest="ref_to", default=None, metavar="REF", help="as --from; leave it out with --python/--torch to compare with a fresh capture"
    )
    p_drift.add_argument(
        "--format",
        choices=("md", "html", "json", "junit"),
        default="md",
        help="md (an issue comment), html, json, or junit (JUnit XML: a test per case × artifact)",
    )
    p_drift.add_argument("--out", default=None, metavar="PATH", help="write the report here (default: stdout)")
    add_snapshots_dir(p_drift)
    p_drift.add_argument("--include-incomplete", action="store_true", help="let REFs name incomplete runs")
    p_drift.add_argument("--fail-on-drift", action="store_true", help="exit 1 when anything changed (as --fail-on text)")
    p_drift.add_argument(
        "--fail-on",
        type=_level,
        default=None,
        metavar="LEVEL",
        help=f"exit 1 when an artifact changed at LEVEL or above ({', '.join(Level)}; least first); cases added, removed or failing always count",
    )
    p_drift.add_argument("--raw-diff", action="store_true", help="md: show raw text diffs instead of semantic ones (JSON and HTML have both)")
    p_drift.add_argument(
        "--matrix-runs",
        type=number_in(int, 1, 10_000),
        default=20,
        metavar="N",
        help="HTML: the cases × runs grid shows the last N complete runs (default: 20)",
    )
    p_drift.add_argument("-k", dest="substring", default=None, metavar="SUBSTRING", help="only cases whose name contains it")
    p_drift.add_argument("--case", action="append", default=[], metavar="NAME", help="only this case (repeatable; with --python/--torch, the cases captured)")
    add_cases_dir(p_drift, "with --python/--torch: " + CASES_DIR_HELP)
    add_target_options(p_drift)

    p_history = sub.add_parser("history", help="the distinct versions of one case's artifact over time")
    add_debug(p_history)
    add_db(p_history)
    p_history.add_argument("name", help="case name")
    p_history.add_argument("artifact", nargs="?", help="artifact key (default: every key of the case)")
    p_history.add_argument("--include-incomplete", action="store_true")
    p_history.add_argument("--show", type=number_in(int, 1, 1_000_000_000), default=None, metavar="N", help="print the text of version N (vN) of ARTIFACT")
    return {"record": cmd_record, "runs": cmd_runs, "drift": cmd_drift, "history": cmd_history}


def cmd_record(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.history.recording import RecordError, RunRecorder, check_label, load_report
    from snapshot_runner.history.shards import longest_first

    if args.shard is not None or args.run_key is not None:
        return _record_shard(args, out, err)
    try:
        # Checked completely before the database is even opened.
        check_label(args.label)
        given = load_report(args.from_json) if args.from_json else None
    except RecordError as exc:
        raise CliError(str(exc)) from None
    with open_store(args.db, create=True) as store:
        try:
            recorder = RunRecorder(store, args.label, on_begin=lambda run_id: print(f"recording run {run_id} into {store.url}", file=err))
        except RecordError as exc:
            raise CliError(str(exc)) from None
        try:
            report = given or capture_report(
                args, err, args.case, args.substring, on_start=recorder.started, on_result=recorder.add, order=longest_first(store)
            )
            run_id = recorder.finish(report)
        except Interrupted as exc:
            raise Interrupted(exc.signum, recorder.left_incomplete()) from None
        except RecordError as exc:
            raise CliError(str(exc)) from None
    return _recorded(run_id, report, args, out, err)


def _record_shard(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.history.recording import RecordError
    from snapshot_runner.history.shard_recording import record_shard, select_cases
    from snapshot_runner.history.shards import Shard, ShardError, check_run_key, describe, longest_first

    if args.shard is None or args.run_key is None:
        raise CliError("--shard K/N and --run-key KEY go together")
    if args.from_json:
        raise CliError("--shard records what it captures: it does not take --from-json")
    try:
        shard, key = Shard.parse(args.shard), check_run_key(args.run_key)
        selection = select_cases(Path(args.cases_dir), args.case, args.substring)
        with open_store(args.db, create=True) as store:
            outcome = record_shard(
                store,
                key,
                shard,
                selection,
                lambda names, on_start, on_result: capture_report(args, err, names, None, on_start=on_start, on_result=on_result, order=longest_first(store)),
                label=args.label,
                on_begin=lambda run_id: print(f"recording shard {shard} of {key} into run {run_id} ({store.url})", file=err),
            )
    except (RecordError, ShardError) as exc:
        raise CliError(str(exc)) from None
    for line in selection.load_errors:
        print(f"error: {printable(line)}", file=err)
    report_failures(outcome.results, args.debug, err)
    print(
        f"shard {shard} of {key} complete: {len(outcome.part)} of {len(selection.names)} cases; {status_summary(outcome.results) or 'nothing to capture'}",
        file=err,
    )
    run = f"run {outcome.run_id} {outcome.run_status}" if outcome.run_id is not None else "run not begun yet"
    print(f"{run}: shards {describe(outcome.parts)}", file=err)
    if outcome.run_id is not None:
        print(outcome.run_id, file=out)
    failed = bool(selection.load_errors) or any(r.status.failed for r in outcome.results)
    return Exit.FAILED if failed else Exit.OK


def _recorded(run_id: int, report: CaptureReport, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report_load_errors(report, err)
    report_failures(report.cases, args.debug, err)
    summary = status_summary(report.cases) or "no cases"
    if report.load_errors:
        # Never a clean run: the cases of those modules are missing from it.
        modules = len(report.load_errors)
        print(f"run {run_id} recorded with load errors: {summary}; {modules} case module{'s' if modules != 1 else ''} failed to import", file=err)
    else:
        print(f"run {run_id} complete: {summary}", file=err)
    print(run_id, file=out)
    failed = bool(report.load_errors) or any(r.status.failed for r in report.cases)
    return Exit.FAILED if failed else Exit.OK


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def cmd_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.history.shards import describe, progress

    with open_store(args.db) as store:
        runs = store.runs()
        parts = progress(store, [r.run_key for r in runs if r.run_key])
    if not runs:
        print(f"no runs in {store.url}", file=err)
        return Exit.OK
    header = ("id", "label", "torch", "packages", "device", "kind", "status", "started (UTC)", "cases", "shards")
    rows = [
        (
            str(r.id),
            printable(r.label or "-"),
            printable(str(r.environment["torch_version"])),
            printable(", ".join(f"{name} {version}" for name, version in r.environment["packages"].items()) or "-"),
            printable(str(r.environment["device"])),
            r.kind,
            r.status,
            _when(r.started_at),
            f"{r.cases_stored}/{r.cases_expected} " + " ".join(f"{s}={n}" for s, n in sorted(r.counts.items())),
            f"{describe(parts[r.run_key])} ({r.run_key})" if r.run_key in parts else "-",
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return Exit.OK


def cmd_drift(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.drift.compare import DriftError, captured_side, compare, resolve, version_matrix
    from snapshot_runner.drift.renderers import renderer

    capturing = bool(args.python or args.torch)
    if capturing == bool(args.ref_to):
        raise CliError("drift compares --from with --to, or with a fresh capture under --python/--torch: give exactly one of them")
    refs = [resolve_torch(args, args.ref_from, err, "--from")]
    if not capturing:
        refs.append(resolve_torch(args, args.ref_to, err, "--to"))
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(open_store(args.db)) if any(ref != "golden" for ref in refs) else None
        try:
            sides = [resolve(store, ref, snapshots_dir=Path(args.snapshots_dir), include_incomplete=args.include_incomplete) for ref in refs]
        except DriftError as exc:
            raise CliError(str(exc)) from None
        if capturing:
            sides.append(captured_side(capture_report(args, err, args.case, args.substring)))
        report = compare(*(side.selected(args.case, args.substring) for side in sides))
        # Only the HTML report draws the history grid; the others skip the query.
        if args.format == "html" and store is not None:
            report.matrix = version_matrix(store, [c.name for c in report.cases], last=args.matrix_runs, also=tuple(s.run_id for s in sides))
    text = renderer(args.format)(report, raw_diff=args.raw_diff)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        out.write(text)
    counts = report.counts()
    print(f"drift {report.before.title} → {report.after.title}: " + ", ".join(f"{n} {s}" for s, n in counts.items()), file=err)
    if note := report.build_difference():
        print(note, file=err)
    classes = report.classification_counts()
    if classes:
        print("changed artifacts: " + ", ".join(f"{n} {level}" for level, n in classes.items()), file=err)
    fail_on = Level.TEXT if args.fail_on_drift else args.fail_on
    if fail_on is None:
        return Exit.OK
    failing = report.failing(fail_on)
    if failing:
        print(f"{len(failing)} change(s) at --fail-on {fail_on} or above, e.g. {failing[0]}", file=err)
    return Exit.FAILED if failing else Exit.OK


def _level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"unknown level {value!r}; choose from {', '.join(Level)}") from None


def cmd_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.show is not None and not args.artifact:
        raise CliError("--show N needs an ARTIFACT: history NAME ARTIFACT --show N")
    with open_store(args.db) as store:
        names = store.case_names()
        if args.name not in names:
            close = [n for n in names if n.endswith(f"::{args.name}") or args.name in n][:3]
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise CliError(f"no case {args.name!r} in {store.url}{hint}")
        keys = [args.artifact] if args.artifact else store.keys_of(args.name)
        for key in keys:
            versions = store.history(args.name, key, include_incomplete=args.include_incomplete)
            if not versions:
                raise CliError(f"case {args.name} has no artifact {key!r} in {store.url}")
            if args.show is not None:
                if not 1 <= args.show <= len(versions):
                    raise CliError(f"{args.name} {key} has versions v1..v{len(versions)}, not v{args.show}")
                digest = versions[args.show - 1].sha256
                out.write(store.texts([digest])[digest])
                return Exit.OK
            print(f"{args.name} {key}: {len(versions)} version{'s' if len(versions) != 1 else ''}", file=out)
            for number, v in enumerate(versions, 1):
                first, last = v.first, v.last
                print(
                    f"  v{number} {v.sha256[:12]}  first: run {first.id} (torch {first.environment['torch_version']}, {_when(first.started_at)})"
                    f"  last: run {last.id} (torch {last.environment['torch_version']}, {_when(last.started_at)})  runs: {v.runs}",
                    file=out,
                )
    return Exit.OK
