"""A progress bar on a terminal, nothing when output is piped."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from snapshot_runner.capture.results import CaseResult
    from snapshot_runner.capture.worker import CaptureStart, OnResult, OnStart


@contextlib.contextmanager
def progress_reporter(total: int, stream: TextIO) -> Iterator[Callable[[Any], None]]:
    if not stream.isatty():
        yield lambda _result: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as progress:
        task = progress.add_task("capturing", total=total)

        def advance(result: Any) -> None:
            progress.update(task, advance=1, description=result.name)

        yield advance


def progress_bar(
    stack: contextlib.ExitStack[Any], stream: TextIO, on_start: OnStart | None = None, on_result: OnResult | None = None
) -> tuple[OnStart, OnResult]:
    """A capture's ``on_start`` and ``on_result`` with a progress bar: it opens
    (in ``stack``) when the capture says how many cases it runs and advances on
    each result; ``on_start`` and ``on_result`` are called too."""
    advance: list[Callable[[CaseResult], None]] = []

    def started(start: CaptureStart) -> None:
        advance.append(stack.enter_context(progress_reporter(len(start.cases), stream)))
        if on_start:
            on_start(start)

    def finished(result: CaseResult) -> None:
        if on_result:
            on_result(result)
        advance[0](result)

    return started, finished
