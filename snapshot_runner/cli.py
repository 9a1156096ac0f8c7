"""The ``snapshot-runner`` command line: list, capture, show.

Bad input (a missing cases directory, an unknown case, a case that fails)
gives one clear line and a non-zero exit; ``--debug`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

EXIT_OK = 0
EXIT_CASE_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snapshot-runner", description="Golden-graph snapshots for torch.compile.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def debug(p: argparse.ArgumentParser) -> None:
        # Accepted after the subcommand too; SUPPRESS keeps the top-level value.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    def selection(p: argparse.ArgumentParser) -> None:
        debug(p)
        p.add_argument("--cases-dir", default="cases", help="directory of case modules (default: cases)")
        p.add_argument("--case", action="append", default=[], metavar="NAME", help="only this case (repeatable)")
        p.add_argument("-k", dest="substring", default=None, metavar="SUBSTRING", help="only cases whose name contains it")

    p_list = sub.add_parser("list", help="print one case name per line")
    selection(p_list)

    p_capture = sub.add_parser("capture", help="capture the artifacts of the selected cases")
    selection(p_capture)
    p_capture.add_argument("--normalize", choices=("native", "canonical"), default="canonical")
    p_capture.add_argument("--json", dest="json_path", default=None, metavar="PATH|-", help="write the JSON report")

    p_show = sub.add_parser("show", help="capture one case and print its artifacts")
    p_show.add_argument("name")
    p_show.add_argument("artifact", nargs="?")
    p_show.add_argument("--cases-dir", default="cases")
    debug(p_show)
    p_show.add_argument("--normalize", choices=("native", "canonical"), default="canonical")
    from .cli_history import add_commands

    COMMANDS.update(add_commands(sub, selection, debug))
    return parser


def _discover(cases_dir: str, debug: bool, err: TextIO):  # type: ignore[no-untyped-def]
    from .discovery import discover

    try:
        found = discover(cases_dir)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    for error in found.errors:
        print(f"error: {error.one_line()}", file=err)
        if debug:
            print(error.traceback, file=err)
    return found


def _select(found, names: Sequence[str], substring: str | None):  # type: ignore[no-untyped-def]
    from .discovery import CaseSelectionError, select

    try:
        return select(found.cases, names, substring)
    except CaseSelectionError as exc:
        raise CliError(str(exc)) from None


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = _discover(args.cases_dir, args.debug, err)
    for case in _select(found, args.case, args.substring):
        print(case.name, file=out)
    return EXIT_CASE_FAILED if found.errors else EXIT_OK


def _capture(cases, cases_dir: Path, level: str, err: TextIO, on_result=None):  # type: ignore[no-untyped-def]
    """Capture in this process; ``on_result(case, result)`` sees each case as it finishes."""
    from .capture import capture_cases
    from .normalize import Context
    from .progress import progress_reporter

    with progress_reporter(len(cases), err) as advance:

        def progress(case, result):  # type: ignore[no-untyped-def]
            if on_result:
                on_result(case, result)
            advance(case, result)

        return capture_cases(cases, level=level, ctx=Context.current(cases_dir), progress=progress)


def _report_failures(results, debug: bool, err: TextIO) -> None:  # type: ignore[no-untyped-def]
    for result in results:
        if result.status in ("error", "mismatch"):
            print(f"{result.status}: {result.name}: {result.error}", file=err)
            if debug and result.debug_traceback:
                print(result.debug_traceback, file=err)


def cmd_capture(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import environment
    from .results import CaptureReport

    found = _discover(args.cases_dir, args.debug, err)
    cases = _select(found, args.case, args.substring)
    results = _capture(cases, found.cases_dir, args.normalize, err)
    report = CaptureReport(environment=environment.describe(), cases=results, normalize=args.normalize)
    if args.json_path == "-":
        out.write(report.dumps())
    elif args.json_path:
        Path(args.json_path).write_text(report.dumps(), encoding="utf-8")
    _report_failures(results, args.debug, err)
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "mismatch", "error")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"{len(results)} cases: {summary or 'none'}", file=err)
    failed = bool(report.failed) or bool(found.errors)
    return EXIT_CASE_FAILED if failed else EXIT_OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = _discover(args.cases_dir, args.debug, err)
    cases = _select(found, [args.name], None)
    (result,) = _capture(cases, found.cases_dir, args.normalize, err)
    if result.status in ("error", "skipped"):
        _report_failures([result], args.debug, err)
        if result.status == "skipped":
            print(f"skipped: {result.name}: {result.error}", file=err)
        return EXIT_CASE_FAILED if result.status == "error" else EXIT_OK
    if args.artifact:
        if args.artifact not in result.artifacts:
            raise CliError(f"case {result.name} has no artifact {args.artifact!r}; it has: {', '.join(result.artifacts)}")
        out.write(result.artifacts[args.artifact])
    else:
        for key, text in result.artifacts.items():
            out.write(f"===== {key}\n{text}")
    _report_failures([result], args.debug, err)
    return EXIT_CASE_FAILED if result.status == "mismatch" else EXIT_OK


COMMANDS = {"list": cmd_list, "capture": cmd_capture, "show": cmd_show}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, out, err)
    except CliError as exc:
        print(f"snapshot-runner: error: {exc}", file=err)
        return EXIT_USAGE
    except Exception as exc:  # never a bare traceback unless asked
        if args.debug:
            raise
        print(f"snapshot-runner: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=err)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
