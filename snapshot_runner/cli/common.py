"""What every command group shares: exit codes, the one-line error, shared
options, and the glue from parsed options to the library (a capture target, a
capture behind a progress bar, the history database)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from snapshot_runner.terminal import printable

if TYPE_CHECKING:
    from snapshot_runner.capture.results import CaptureReport, CaseResult
    from snapshot_runner.capture.worker import OnResult, OnStart
    from snapshot_runner.envs.supervisor import Order
    from snapshot_runner.envs.target import Target
    from snapshot_runner.envs.torch_spec import TorchSpec
    from snapshot_runner.history.store import Store

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1  # a case failed, or drift under --fail-on-drift
    USAGE = 2  # bad input: one line on stderr


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: one line, exit 128 + the signal's number.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    on the way up swallows it."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signum, detail)
        self.signum, self.detail = signum, detail


def raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


ENVS_DIR_HELP = "the cache of --torch environments (default: $SNAPSHOT_RUNNER_ENVS or ~/.cache/snapshot-runner/envs)"
DB_HELP = "SQLAlchemy URL (default: $SNAPSHOT_RUNNER_DB, else `db` in [tool.snapshot-runner], else sqlite:///db/history.sqlite)"
CASES_DIR_HELP = "directory of case modules (default: `cases-dir` in [tool.snapshot-runner], else cases)"
SNAPSHOTS_DIR_HELP = "directory of the goldens (default: `snapshots-dir` in [tool.snapshot-runner], else snapshots)"


def add_debug(p: argparse.ArgumentParser) -> None:
    # Accepted after the subcommand too; SUPPRESS keeps the top-level value.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


# --cases-dir, --snapshots-dir and --db default to None: apply_project_config fills them.
def add_cases_dir(p: argparse.ArgumentParser, help_text: str = CASES_DIR_HELP) -> None:
    p.add_argument("--cases-dir", default=None, help=help_text)


def add_snapshots_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshots-dir", default=None, help=SNAPSHOTS_DIR_HELP)


def add_db(p: argparse.ArgumentParser, help_text: str = DB_HELP) -> None:
    p.add_argument("--db", default=None, metavar="URL", help=help_text)


def add_selection(p: argparse.ArgumentParser) -> None:
    add_debug(p)
    add_cases_dir(p)
    p.add_argument("--case", action="append", default=[], metavar="NAME", help="only this case (repeatable)")
    p.add_argument("-k", dest="substring", default=None, metavar="SUBSTRING", help="only cases whose name contains it")


def add_installer_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--index-url", default=None, metavar="URL", help="with --torch: the installer's index")
    group.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="with --torch (repeatable)")
    group.add_argument("--find-links", action="append", default=[], metavar="PATH|URL", help="with --torch (repeatable)")
    group.add_argument("--envs-dir", default=None, metavar="DIR", help=ENVS_DIR_HELP)
    group.add_argument("--pre", action="store_true", help="newest: a pre-release or nightly may be the newest")
    group.add_argument(
        "--installer",
        choices=["uv", "pip"],
        default=None,
        help="what makes a --torch environment (default: $SNAPSHOT_RUNNER_INSTALLER, else uv: a shared, hardlinked cache; pip copies torch each time)",
    )


def add_target_options(p: argparse.ArgumentParser) -> None:
    """``--python`` / ``--torch`` and the installer options: which torch runs the capture."""
    group = p.add_argument_group("torch under test (default: this interpreter's)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--python", default=None, metavar="PATH", help="capture in this interpreter (it needs torch)")
    which.add_argument(
        "--torch", default=None, metavar="SPEC", help="capture in a cached env with exactly this torch: 2.14.1, torch==2.10.0.dev20251015, newest (the index's)"
    )
    add_installer_options(group)
    group.add_argument(
        "--with",
        dest="with_",
        action="append",
        default=None,
        metavar="REQ",
        help="with --torch: also install this after torch, never replacing it (repeatable; replaces the config's `with`): a requirement, a path or '-e PATH'",
    )


def apply_project_config(args: argparse.Namespace) -> None:
    """Fill the options not given with ``[tool.snapshot-runner]`` (found from the
    working directory), else the defaults; flags always win. The config is kept
    as ``args.project`` for the options only made environments use."""
    from snapshot_runner.config import ConfigError, find_config

    try:
        config = find_config()
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    args.project = config
    if getattr(args, "cases_dir", "") is None:
        args.cases_dir = config.cases_dir or Path("cases")
    if getattr(args, "snapshots_dir", "") is None:
        args.snapshots_dir = config.snapshots_dir or Path("snapshots")
    # $SNAPSHOT_RUNNER_DB is this shell's choice: it wins over the project's file.
    if getattr(args, "db", "") is None:
        # Imported only here: `capture` runs without SQLAlchemy (a torch-only environment).
        from snapshot_runner.history.store import URL_VARIABLE

        if not os.environ.get(URL_VARIABLE):
            args.db = config.db


@dataclasses.dataclass(frozen=True)
class EnvOptions:
    """How the tool makes environments: the installer options and ``--with``
    entries, each from the command line, else from the project config."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    with_: tuple[str, ...]


def env_options(args: argparse.Namespace) -> EnvOptions:
    from snapshot_runner.config import ProjectConfig
    from snapshot_runner.envs.with_packages import resolve_entry

    config: ProjectConfig = getattr(args, "project", None) or ProjectConfig()
    try:
        # Paths on the command line are the working directory's; the config's were resolved against its file.
        with_ = tuple(resolve_entry(entry, Path.cwd()) for entry in args.with_) if args.with_ is not None else config.with_
    except ValueError as exc:
        raise CliError(f"--{exc}") from None
    return EnvOptions(
        args.index_url or config.index_url,
        tuple(args.extra_index_url or config.extra_index_url),
        tuple(args.find_links or config.find_links),
        with_,
    )


def number_in(kind: type[int] | type[float], low: float, high: float, *, auto: int | None = None) -> Callable[[str], int | float]:
    """An argparse type: a ``kind`` number from ``low`` to ``high``; ``auto`` stands for the word ``auto``."""

    def parse(text: str) -> int | float:
        if auto is not None and text == "auto":
            return auto
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'a whole number' if kind is int else 'a number'}: {text!r}") from None
        if not low <= value <= high:
            shown = (f"{kind(bound):g}" if kind is float else str(kind(bound)) for bound in (low, high))
            raise argparse.ArgumentTypeError(f"{text} is out of range: {' to '.join(shown)}")
        return value

    return parse


def add_run_options(p: argparse.ArgumentParser) -> None:
    """``--jobs``, ``--timeout`` and ``--no-fork``: how the supervised workers run the cases."""
    from snapshot_runner.envs.supervisor import DEFAULT_TIMEOUT

    p.add_argument(
        "-j",
        "--jobs",
        type=number_in(int, 1, 1024, auto=os.cpu_count() or 1),
        default=1,
        metavar="N|auto",
        help="capture in N worker processes (auto: one per core; default: 1)",
    )
    p.add_argument(
        "--timeout",
        type=number_in(float, 0.1, 7 * 24 * 3600),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop a case running longer and report it as an error (default: {DEFAULT_TIMEOUT:g}; a case's own timeout= wins)",
    )
    p.add_argument(
        "--no-fork",
        dest="fork",
        action="store_false",
        help="start every worker as a new interpreter instead of forking it from a warmed-up template (slower; for debugging)",
    )


def read_versions_file(path: str) -> list[str]:
    """The versions in a ``--versions-file``: one a line, blank lines and ``#`` comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"--versions-file: {exc.strerror}: {path}") from None
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def torch_spec(args: argparse.Namespace, version: str) -> TorchSpec:
    """``version`` with the ``env_options`` of ``add_target_options``."""
    from snapshot_runner.envs.torch_spec import SpecError, TorchSpec

    options = env_options(args)
    try:
        return TorchSpec.parse(version, options.index_url, options.extra_index_urls, options.find_links, options.with_)
    except SpecError as exc:
        raise CliError(str(exc)) from None


def index_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The installer options as pip arguments, for asking the package index."""
    return tuple(torch_spec(args, "0").installer_args())


def resolve_torch(args: argparse.Namespace, text: str, log: TextIO | None, what: str = "--torch") -> str:
    """``newest`` -> the newest torch on the package index (said on ``log``); other text as it is."""
    from snapshot_runner.envs.index import NEWEST, PackageIndexError, newest

    if text != NEWEST:
        return text
    try:
        version = newest(index_args(args), pre=args.pre)
    except PackageIndexError as exc:
        raise CliError(f"{what} newest: {exc}") from None
    if log:
        print(f"{what} newest: torch {version} is the newest{' (pre-releases included)' if args.pre else ''} on the package index", file=log)
    return version


def target(args: argparse.Namespace, log: TextIO | None = None) -> Target:
    """The capture target that ``add_target_options`` chose (``newest`` resolved, said on ``log``)."""
    from snapshot_runner.envs.installer import Installer
    from snapshot_runner.envs.target import Target

    envs_dir = Path(args.envs_dir) if args.envs_dir else None
    if args.torch:
        installer = Installer(args.installer) if args.installer else None
        return Target(torch=torch_spec(args, resolve_torch(args, args.torch, log)), envs_dir=envs_dir, installer=installer)
    if args.index_url or args.extra_index_url or args.find_links or args.pre or args.with_:
        raise CliError("--index-url, --extra-index-url, --find-links, --pre and --with go with --torch")
    if args.installer:
        raise CliError("--installer goes with --torch: it makes --torch environments")
    return Target(python=Path(args.python) if args.python else None, envs_dir=envs_dir)


def capture_report(
    args: argparse.Namespace,
    err: TextIO,
    names: Sequence[str],
    substring: str | None,
    level: str = "canonical",
    *,
    under: Target | None = None,
    on_start: OnStart | None = None,
    on_result: OnResult | None = None,
    order: Order | None = None,
    perturbation: int = 0,
) -> CaptureReport:
    """Capture under ``under`` (default: the options' target), with the
    ``add_run_options`` where the command has them and the project's
    normalization rules, the cases in ``order`` (e.g. the history's longest
    first), behind a progress bar; failures to start or finish become
    ``CliError``. ``perturbation``: ``check-stable``'s run number."""
    from snapshot_runner.capture.worker import CaptureRequest
    from snapshot_runner.cli.progress import progress_bar
    from snapshot_runner.envs import target as targets
    from snapshot_runner.envs.installer import InstallError
    from snapshot_runner.envs.supervisor import DEFAULT_TIMEOUT, RequestError, WorkerError
    from snapshot_runner.envs.torch_spec import SpecError

    chosen = under if under is not None else target(args, err)
    with contextlib.ExitStack() as stack:
        started, finished = progress_bar(stack, err, on_start, on_result)
        try:
            request = CaptureRequest(
                str(args.cases_dir),
                tuple(names),
                substring,
                level,
                args.debug,
                track=args.project.track,
                user_rules=args.project.normalize,
                perturbation=perturbation,
            )
            return targets.capture(
                chosen,
                request,
                jobs=getattr(args, "jobs", 1),
                timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
                fork=getattr(args, "fork", True),
                order=order,
                on_start=started,
                on_result=finished,
                log=err,
            )
        except (SpecError, InstallError, RequestError, WorkerError) as exc:
            raise CliError(str(exc)) from None


@contextlib.contextmanager
def open_store(url: str | None, *, create: bool = False) -> Iterator[Store]:
    """The history database for a command; only commands that write may create it."""
    # Imported here: `capture` on a GPU box runs this CLI without SQLAlchemy.
    from sqlalchemy.exc import SQLAlchemyError

    from snapshot_runner.history.store import Store, StoreError, database_url
    from snapshot_runner.redact import scrub

    try:
        store = Store.open(url, create=create)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        yield store
    except SQLAlchemyError as exc:  # a database that fails after it opened: locked, gone, refused
        message = scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], database_url(url))
        raise CliError(f"{store.url}: {type(exc).__name__}: {message}") from None
    except StoreError as exc:  # e.g. the file deleted while in use
        raise CliError(str(exc)) from None
    finally:
        store.close()


# Of a failing case's kept output, the lines shown under its error.
SHOWN_OUTPUT_LINES = 5


def report_failures(results: Sequence[CaseResult], debug: bool, err: TextIO) -> None:
    for result in results:
        if result.status.failed:
            print(f"{result.status}: {result.name}: {printable(str(result.error))}", file=err)
            for line in result.output[-SHOWN_OUTPUT_LINES:]:
                print(f"    | {printable(line)}", file=err)
            if debug and result.debug_traceback:
                print("\n".join(printable(line) for line in result.debug_traceback.splitlines()), file=err)


def report_load_errors(report: CaptureReport, err: TextIO) -> None:
    for line in report.load_errors:
        print(f"error: {printable(line)}", file=err)
