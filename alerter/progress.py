"""A progress bar for long command-line work (polling, imports, digests, reclassifying), drawn
only on a terminal: piped into a file or a log, the command stays quiet."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import typer

Progress = Callable[[int, int], None]  # (done, total)


@contextmanager
def progress_bar(label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """A `progress(done, total)` callback that draws a bar on `stream` (standard error) when it
    is a terminal, and does nothing otherwise. The bar appears at the first call."""
    out = stream or sys.stderr
    if not out.isatty():
        yield lambda done, total: None
        return
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            bar = typer.progressbar(length=total, label=label, file=out).__enter__()
        bar.update(done - shown)
        shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
