"""Progress on the terminal: a transient spinner with the latest line on a tty, log lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console

from repomind.log import get_logger


@contextlib.contextmanager
def status(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Yield a ``log(line)`` callable that shows progress under ``title`` on stderr."""
    if sys.stderr.isatty():
        console = Console(stderr=True)
        with console.status(title) as live:

            def update(line: str) -> None:
                if line.strip():
                    live.update(f"{title} [dim]{line.strip()[:100]}[/dim]")

            yield update
        return
    logger: Any = get_logger("repomind.progress")

    def emit(line: str) -> None:
        if line.strip() and not quiet:
            logger.info(line.strip(), task=title)
        elif line.strip():
            logger.debug(line.strip(), task=title)

    yield emit


@contextlib.contextmanager
def bar(title: str) -> Iterator[Callable[[int, int, str], None]]:
    """Yield ``update(done, total, label)``: a progress bar on a tty, one log line per step otherwise."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (
            TextColumn(title),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
            task = progress.add_task("", total=None)

            def show(done: int, total: int, label: str) -> None:
                progress.update(task, completed=done, total=total, description=label)

            yield show
        return
    logger: Any = get_logger("repomind.progress")

    def emit(done: int, total: int, label: str) -> None:
        if label:
            logger.info(f"{title} {done + 1}/{total}", item=label)

    yield emit
