"""The ``snapshot-runner`` command line: list, capture, show.

Bad input (a missing cases directory, an unknown case, a case that fails)
gives one clear line and a non-zero exit; ``--debug`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .results import CaptureReport
    from .supervisor import OnResult, OnStart
    from .torch_spec import TorchSpec

EXIT_OK = 0
EXIT_CASE_FAILED = 1
EXIT_USAGE = 2
ENVS_DIR_HELP = "the cache of --torch environments (default: $SNAPSHOT_RUNNER_ENVS or ~/.cache/snapshot-runner/envs)"


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: one line, exit 128 + the signal's number.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    on the way up swallows it."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signum, detail)
        self.signum, self.detail = signum, detail


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def positive_number(kind: type[int] | type[float], *, most: float, auto: int | None = None):  # type: ignore[no-untyped-def]
    """An argparse type: a number in 1..most (``kind`` int) or (0, most] (float); ``auto`` stands for ``auto``."""

    def parse(text: str) -> int | float:
        if auto is not None and text == "auto":
            return auto
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        low_ok = value >= 1 if kind is int else value > 0
        if not (low_ok and value <= most):
            low = "1" if kind is int else "more than 0"
            raise argparse.ArgumentTypeError(f"{text} is out of range: {low} to {most:g}")
        return value

    return parse


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``--jobs`` and ``--timeout``: how the supervised workers run the cases."""
    import os

    from .supervisor import DEFAULT_TIMEOUT

    p.add_argument("-j", "--jobs", type=positive_number(int, most=1024, auto=os.cpu_count() or 1), default=1, metavar="N|auto", help="capture in N worker processes (auto: one per core; default: 1)")
    p.add_argument("--timeout", type=positive_number(float, most=7 * 24 * 3600), default=DEFAULT_TIMEOUT, metavar="SECONDS", help=f"a case running longer is stopped and reported as an error (default: {DEFAULT_TIMEOUT:g}; a case's own timeout= wins)")


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
    add_run_options(p_capture)
    add_target_options(p_capture)

    p_show = sub.add_parser("show", help="capture one case and print its artifacts")
    p_show.add_argument("name")
    p_show.add_argument("artifact", nargs="?")
    p_show.add_argument("--cases-dir", default="cases")
    debug(p_show)
    p_show.add_argument("--normalize", choices=("native", "canonical"), default="canonical")
    add_target_options(p_show)
    from .cli_history import add_commands

    COMMANDS.update(add_commands(sub, selection, debug))
    from .cli_bisect import add_bisect_command

    COMMANDS.update(add_bisect_command(sub, debug))
    from .cli_envs import add_envs_command

    COMMANDS.update(add_envs_command(sub, debug))
    return parser


def add_target_options(p: argparse.ArgumentParser) -> None:
    """``--python`` / ``--torch`` and the installer options: which torch runs the capture."""
    group = p.add_argument_group("torch under test (default: this interpreter's)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--python", default=None, metavar="PATH", help="capture in this interpreter (it needs torch)")
    which.add_argument("--torch", default=None, metavar="SPEC", help="capture in a cached env with exactly this torch: 2.14.1, torch==2.10.0.dev20251015")
    group.add_argument("--index-url", default=None, metavar="URL", help="with --torch: the installer's index")
    group.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="with --torch (repeatable)")
    group.add_argument("--find-links", action="append", default=[], metavar="PATH|URL", help="with --torch (repeatable)")
    group.add_argument("--envs-dir", default=None, metavar="DIR", help=ENVS_DIR_HELP)


def torch_spec(args: argparse.Namespace, version: str) -> TorchSpec:
    """``version`` with the installer options ``add_target_options`` parsed (raises ``SpecError``)."""
    from .torch_spec import TorchSpec

    return TorchSpec.parse(version, args.index_url, tuple(args.extra_index_url), tuple(args.find_links))


@contextlib.contextmanager
def _target_python(args: argparse.Namespace, err: TextIO) -> Iterator[Path | None]:
    """The interpreter ``add_target_options`` chose (None: this process), its env held for the block."""
    if not args.torch:
        if args.index_url or args.extra_index_url or args.find_links:
            raise CliError("--index-url, --extra-index-url and --find-links go with --torch")
        yield Path(args.python) if args.python else None
        return
    from .envs import EnvCache
    from .installer import InstallError
    from .torch_spec import SpecError, TorchSpec

    with contextlib.ExitStack() as stack:
        try:
            spec = torch_spec(args, args.torch)
            cache = EnvCache(Path(args.envs_dir) if args.envs_dir else None)
            python = stack.enter_context(cache.use(spec, log=err, verbose=args.debug))
        except (SpecError, InstallError) as exc:
            raise CliError(str(exc)) from None
        yield python


def capture_report(
    args: argparse.Namespace,
    err: TextIO,
    names: Sequence[str],
    substring: str | None,
    level: str = "canonical",
    *,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
) -> CaptureReport:
    """Capture with the torch that ``add_target_options`` chose, with the
    ``add_run_options`` (where the command has them), behind a progress bar.

    For every command that captures: failures to start or finish become ``CliError``.
    """
    from .progress import progress_reporter
    from .supervisor import DEFAULT_TIMEOUT, RequestError, WorkerError, run_capture

    with contextlib.ExitStack() as stack:
        advance = []

        def started(start):  # type: ignore[no-untyped-def]
            advance.append(stack.enter_context(progress_reporter(len(start.cases), err)))
            if on_start:
                on_start(start)

        def finished(result):  # type: ignore[no-untyped-def]
            if on_result:
                on_result(result)
            advance[0](result, result)  # the bar shows the first argument's .name

        python = stack.enter_context(_target_python(args, err))
        try:
            return run_capture(
                python, args.cases_dir, names, substring, level,
                jobs=getattr(args, "jobs", 1), timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                debug=args.debug, on_start=started, on_result=finished, log=err,
            )
        except (RequestError, WorkerError) as exc:
            raise CliError(str(exc)) from None


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


# Of a failing case's kept output, the lines shown under its error.
SHOWN_OUTPUT_LINES = 5


def _report_failures(results, debug: bool, err: TextIO) -> None:  # type: ignore[no-untyped-def]
    for result in results:
        if result.status in ("error", "mismatch"):
            print(f"{result.status}: {result.name}: {result.error}", file=err)
            for line in result.output[-SHOWN_OUTPUT_LINES:]:
                print(f"    | {line}", file=err)
            if debug and result.debug_traceback:
                print(result.debug_traceback, file=err)


def _report_load_errors(report: CaptureReport, err: TextIO) -> None:
    for line in report.load_errors:
        print(f"error: {line}", file=err)


def cmd_capture(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .results import status_summary

    report = capture_report(args, err, args.case, args.substring, args.normalize)
    results = report.cases
    _report_load_errors(report, err)
    if args.json_path == "-":
        out.write(report.dumps())
    elif args.json_path:
        Path(args.json_path).write_text(report.dumps(), encoding="utf-8")
    _report_failures(results, args.debug, err)
    print(f"{len(results)} cases: {status_summary(results) or 'none'}", file=err)
    failed = bool(report.failed) or bool(report.load_errors)
    return EXIT_CASE_FAILED if failed else EXIT_OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = capture_report(args, err, [args.name], None, args.normalize)
    _report_load_errors(report, err)
    (result,) = report.cases
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
    # Off the main thread (a library caller's thread) signals cannot be handled here.
    handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in handled}
    try:
        return COMMANDS[args.command](args, out, err)
    except Interrupted as exc:
        name = signal.Signals(exc.signum).name
        print(f"snapshot-runner: interrupted by {name}{': ' + exc.detail if exc.detail else ''}", file=err)
        return 128 + exc.signum
    except CliError as exc:
        print(f"snapshot-runner: error: {exc}", file=err)
        return EXIT_USAGE
    except Exception as exc:  # never a bare traceback unless asked
        if args.debug:
            raise
        print(f"snapshot-runner: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=err)
        return EXIT_USAGE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":  # pragma: no cover
    # `python -m snapshot_runner.cli` runs a second copy of this module as
    # __main__; the package's copy is the one whose CliError the commands in
    # cli_history and cli_envs raise.
    from snapshot_runner.cli import main as package_main

    sys.exit(package_main())
