"""``list``, ``capture``, ``show``, ``check-stable``: the cases and their artifacts, nothing stored."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from snapshot_runner.capture.results import CaseStatus, status_summary
from snapshot_runner.stability import DEFAULT_REPEAT

if TYPE_CHECKING:
    from snapshot_runner.capture.results import CaptureReport
from snapshot_runner.cli.common import (
    CliError,
    Exit,
    Handler,
    add_cases_dir,
    add_debug,
    add_run_options,
    add_selection,
    add_target_options,
    capture_report,
    number_in,
    report_failures,
    report_load_errors,
    target,
)
from snapshot_runner.terminal import printable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Handler]:
    p_list = sub.add_parser("list", help="print one case name per line")
    add_selection(p_list)

    p_capture = sub.add_parser("capture", help="capture the artifacts of the selected cases")
    add_selection(p_capture)
    p_capture.add_argument("--normalize", choices=("native", "canonical"), default="canonical")
    p_capture.add_argument("--json", dest="json_path", default=None, metavar="PATH|-", help="write the JSON report")
    add_run_options(p_capture)
    add_target_options(p_capture)

    p_show = sub.add_parser("show", help="capture one case and print its artifacts")
    p_show.add_argument("name")
    p_show.add_argument("artifact", nargs="?")
    add_cases_dir(p_show)
    add_debug(p_show)
    p_show.add_argument("--normalize", choices=("native", "canonical"), default="canonical")
    add_target_options(p_show)

    p_stable = sub.add_parser(
        "check-stable",
        help="capture the selected cases in N fresh workers that differ in hash seed, addresses, order and directory; exit 1 if any artifact differs",
    )
    add_selection(p_stable)
    p_stable.add_argument(
        "--repeat", type=number_in(int, 2, 100), default=DEFAULT_REPEAT, metavar="N", help=f"runs to compare (at least 2; default {DEFAULT_REPEAT})"
    )
    add_run_options(p_stable)
    add_target_options(p_stable)
    return {"list": cmd_list, "capture": cmd_capture, "show": cmd_show, "check-stable": cmd_check_stable}


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner.capture.discovery import CaseSelectionError, discover, select

    try:
        found = discover(args.cases_dir)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    for error in found.errors:
        print(f"error: {printable(error.one_line())}", file=err)
        if args.debug:
            print(error.traceback, file=err)
    try:
        selected = select(found.cases, args.case, args.substring)
    except CaseSelectionError as exc:
        raise CliError(str(exc)) from None
    for case in selected:
        print(case.name, file=out)
    return Exit.FAILED if found.errors else Exit.OK


def cmd_capture(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = capture_report(args, err, args.case, args.substring, args.normalize)
    results = report.cases
    report_load_errors(report, err)
    if args.json_path == "-":
        out.write(report.dumps())
    elif args.json_path:
        Path(args.json_path).write_text(report.dumps(), encoding="utf-8")
    report_failures(results, args.debug, err)
    print(f"{len(results)} cases: {status_summary(results) or 'none'}", file=err)
    if args.torch:  # capture stores nothing: say how to see these against the goldens
        selection = [*(arg for name in args.case for arg in ("--case", name)), *(["-k", args.substring] if args.substring else [])]
        command = shlex.join(["snapshot-runner", "drift", "--from", "golden", "--torch", args.torch, *selection])
        print(f"compared with the goldens by: {command}", file=err)
    failed = bool(report.failed) or bool(report.load_errors)
    return Exit.FAILED if failed else Exit.OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = capture_report(args, err, [args.name], None, args.normalize)
    report_load_errors(report, err)
    (result,) = report.cases
    if result.status in (CaseStatus.ERROR, CaseStatus.SKIPPED):
        report_failures([result], args.debug, err)
        if result.status == CaseStatus.SKIPPED:
            print(f"skipped: {result.name}: {printable(str(result.error))}", file=err)
        return Exit.FAILED if result.status == CaseStatus.ERROR else Exit.OK
    if args.artifact:
        if args.artifact not in result.artifacts:
            raise CliError(f"case {result.name} has no artifact {args.artifact!r}; it has: {', '.join(result.artifacts)}")
        out.write(result.artifacts[args.artifact])
    else:
        for key, text in result.artifacts.items():
            out.write(f"===== {key}\n{text}")
    report_failures([result], args.debug, err)
    return Exit.FAILED if result.status == CaseStatus.MISMATCH else Exit.OK


def cmd_check_stable(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from snapshot_runner import stability

    chosen = target(args, err)  # resolved once: every run captures under the same torch

    def run(number: int) -> CaptureReport:
        print(f"run {number} of {args.repeat}", file=err)
        report = capture_report(args, err, args.case, args.substring, under=chosen, perturbation=number)
        report_load_errors(report, err)
        return report

    result = stability.check(run, args.repeat)
    for unstable in result.unstable:
        print(f"unstable: {printable(unstable.case)}: {printable(unstable.artifact)}", file=out)
        for line in unstable.diff:
            print(f"    {printable(line)}", file=out)
    report_failures(list(result.failed), args.debug, err)
    verdict = "all stable" if result.stable else f"{len(result.unstable)} unstable artifact(s), {len(result.failed)} failed case(s)"
    print(f"{len(result.cases)} cases, {result.repeat} runs: {verdict}", file=err)
    return Exit.OK if result.stable else Exit.FAILED
