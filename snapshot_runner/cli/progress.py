"""A progress bar on a terminal, nothing when output is piped."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TextIO


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
