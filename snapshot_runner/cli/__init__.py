"""The ``snapshot-runner`` command line: parsing, and one module per command group.

Each group module registers its subcommands (``register``) and turns options
into library calls; none holds library logic. Bad input gives one clear line
and exit status 2; ``--debug`` adds tracebacks.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from snapshot_runner.cli import bisect, capture, envs, history, init, nightly, serve
from snapshot_runner.cli.common import CliError, Exit, Handler, Interrupted, apply_project_config, raise_interrupted
from snapshot_runner.redact import redact
from snapshot_runner.terminal import printable

# The command groups in the order `--help` lists them.
GROUPS = (init, capture, history, bisect, envs, nightly, serve)


def parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    """The parser of every command, and the handler of each subcommand."""
    root = argparse.ArgumentParser(prog="snapshot-runner", description="Golden-graph snapshots for torch.compile.")
    root.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = root.add_subparsers(dest="command", required=True)
    handlers: dict[str, Handler] = {}
    for group in GROUPS:
        handlers.update(group.register(sub))
    return root, handlers


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    root, handlers = parser()
    args = root.parse_args(argv)
    # Off the main thread (a library caller's thread) signals cannot be handled here.
    handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {signum: signal.signal(signum, raise_interrupted) for signum in handled}
    try:
        apply_project_config(args)
        return handlers[args.command](args, out, err)
    except Interrupted as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        print(f"snapshot-runner: interrupted by {signal.Signals(exc.signum).name}{detail}", file=err)
        return 128 + exc.signum
    except CliError as exc:
        # Every error line is redacted (no message may show a password) and made printable here, whatever raised it.
        print(f"snapshot-runner: error: {printable(redact(str(exc)))}", file=err)
        return Exit.USAGE
    except Exception as exc:  # never a bare traceback unless asked
        if args.debug:
            raise
        print(f"snapshot-runner: error: {type(exc).__name__}: {printable(redact(str(exc)))} (run with --debug for the traceback)", file=err)
        return Exit.USAGE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
